import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { silentServer, type SilentServer } from "../support/silent-server.js";
import { installProject, requirePulumiCli, TestStack } from "../support/stack.js";
import { REPO_ROOT } from "../support/testhost.js";

// `pulumi up` against a host that accepts TCP connections and never speaks SSH (a hung machine, a
// firewall that swallows packets): one clear error within the connection's time limit. It took
// 113 s and printed five raw ssh2 stack traces (one per attempt) before the error.
const PROJECT = path.join(REPO_ROOT, "examples/host-info");
const s = new TestStack(PROJECT, "e2e-silent-host");
/** What the CLI and the language host take around the operation itself, on a busy 2-core machine. */
const ENGINE_OVERHEAD_S = 20;
let silent: SilentServer;

/** `pulumi up`, which must fail: its output, and how long it took. */
async function failingUp(): Promise<{ output: string; seconds: number }> {
  const started = performance.now();
  const err = await s.cli(["up", "--yes", "--skip-preview"]).then(
    () => undefined,
    (e: unknown) => e as Error,
  );
  const seconds = (performance.now() - started) / 1000;
  expect(err, "pulumi up against a silent host succeeded").toBeDefined();
  return { output: err!.message, seconds };
}

function expectOneClearError(output: string, limit: number): void {
  const error =
    `error: ssh root@127.0.0.1:${silent.port}: the host accepted the TCP connection but sent no SSH greeting within ${limit}s: ` +
    `the machine may be hung, or what listens on port ${silent.port} is not sshd; connection.timeoutSeconds sets how long to wait (default 30s)`;
  // What the CLI lists under "Diagnostics:": the resource's one error and the engine's "update failed".
  // (in either order: the engine reports the two as their events arrive).
  const diagnostics = output.slice(output.indexOf("\nDiagnostics:\n"), output.indexOf("\nResources:\n"));
  const lines = diagnostics.split("\n").map((l) => l.trim()).filter((l) => l !== "");
  const pairs = lines.slice(1).flatMap((l, i, all) => (i % 2 === 0 ? [`${l} ${all[i + 1] ?? ""}`] : [])).sort();
  expect(lines[0], output).toBe("Diagnostics:");
  expect(pairs, output).toEqual([`pulumi-nodejs:dynamic/ovmf:HostInfo (host): ${error}`, "pulumi:pulumi:Stack (host-info-e2e-silent-host): error: update failed"]);
  // The progress lines above repeat that error as the CLI does; nothing else goes wrong there.
  const errors = new Set([...output.matchAll(/error: .*$/gm)].map((m) => m[0]));
  expect(errors).toEqual(new Set([error, "error: update failed"]));
  expect(output).not.toMatch(/at makeError|Connection lost before handshake|Timed out while waiting for handshake/);
  expect(output, "no stack frames").not.toMatch(/^.*\s+at .+:\d+:\d+\)?$/m);
}

describe("pulumi up against a host that accepts TCP and never speaks SSH", () => {
  beforeAll(async () => {
    await requirePulumiCli();
    await installProject(PROJECT);
    await s.destroyIfPresent();
    silent = await silentServer({ lifetimeMs: 300_000 });
    await s.config(["host=127.0.0.1", `port=${silent.port}`]);
  });
  afterAll(async () => {
    await silent?.close();
    await s.destroyIfPresent();
  });

  it("fails within the default 30 s with one error naming the host, and no stack traces", async () => {
    const { output, seconds } = await failingUp();
    console.info(`silent host, default limit: pulumi up failed after ${seconds.toFixed(1)} s`);
    expectOneClearError(output, 30);
    expect(seconds).toBeGreaterThan(29);
    expect(seconds).toBeLessThan(30 + ENGINE_OVERHEAD_S);
    // Waited once: a silent host is not dialed again.
    expect(silent.accepted()).toBe(1);
  });

  it("waits as long as connection.timeoutSeconds says", async () => {
    await s.config(["timeoutSeconds=3"]);
    const { output, seconds } = await failingUp();
    console.info(`silent host, timeoutSeconds 3: pulumi up failed after ${seconds.toFixed(1)} s`);
    expectOneClearError(output, 3);
    expect(seconds).toBeLessThan(3 + ENGINE_OVERHEAD_S);
  });
});
