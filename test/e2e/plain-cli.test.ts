import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as virsh from "../../provider/libvirt/virsh.js";
import { Host } from "../../provider/host/host.js";
import { closeAll } from "../../provider/ssh/pool.js";
import { installProject, requirePulumiCli } from "../support/stack.js";
import { loadTestHost, REPO_ROOT, testConnection } from "../support/testhost.js";

// A project run as users run it: plain `pulumi` commands in its own directory, with the CLI's Node.js
// language host (scripts/build-pulumi-cli.sh builds it) compiling the TypeScript program.
const PROJECT = path.join(REPO_ROOT, "examples/host-info");
const STACK = "e2e-plain-cli";
const run = promisify(execFile);
const backend = mkdtempSync(path.join(tmpdir(), "ovmf-plain-cli-"));
const env = { ...process.env, PULUMI_BACKEND_URL: `file://${backend}`, PULUMI_CONFIG_PASSPHRASE: "pulumi-ovmf-local-test-stacks", PULUMI_SKIP_UPDATE_CHECK: "true", PULUMI_DIY_BACKEND_NO_LEGACY_WARNING: "true" };

/** Runs `pulumi ARGS --stack ... [-- VALUE]` in the project; a failure shows the CLI's output, never VALUE. */
async function pulumi(args: string[], value?: string): Promise<string> {
  const argv = [...args, "--stack", STACK, "--non-interactive", "--color", "never", ...(value === undefined ? [] : ["--", value])];
  try {
    const { stdout } = await run("pulumi", argv, { cwd: PROJECT, env, maxBuffer: 16 * 1024 * 1024 });
    return stdout;
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    // No cause: execFile's error repeats the whole command line, secret value included.
    // eslint-disable-next-line preserve-caught-error
    throw new Error(`pulumi ${args.join(" ")} failed:\n${e.stdout ?? ""}\n${e.stderr ?? ""}`);
  }
}

describe("plain pulumi in an example's directory (the CLI's Node.js language host)", () => {
  beforeAll(async () => {
    await requirePulumiCli();
    await installProject(PROJECT);
  });
  afterAll(async () => {
    await pulumi(["destroy", "--yes"]).catch(() => undefined);
    await pulumi(["stack", "rm", "--yes"]).catch(() => undefined);
    rmSync(backend, { recursive: true, force: true });
    rmSync(path.join(PROJECT, `Pulumi.${STACK}.yaml`), { force: true });
    closeAll();
  });

  it("stack init, config set, preview --diff, up, refresh, destroy", async () => {
    const th = loadTestHost();
    await run("pulumi", ["stack", "init", STACK, "--non-interactive"], { cwd: PROJECT, env });
    await pulumi(["config", "set", "host"], th.host);
    await pulumi(["config", "set", "port"], String(th.port));
    await pulumi(["config", "set", "hostKey"], th.hostKey);
    await pulumi(["config", "set", "--secret", "privateKey"], readFileSync(th.privateKeyPath, "utf8"));
    expect(await pulumi(["preview", "--diff"])).toMatch(/\+ pulumi-nodejs:dynamic\/ovmf:HostInfo: \(create\)/);
    const up = await pulumi(["up", "--yes"]);
    const live = await virsh.version(new Host(testConnection(th)));
    expect(up).toContain(`libvirtVersion: "${live.libvirt}"`);
    expect(await pulumi(["refresh", "--yes"])).toMatch(/Resources:\s+2 unchanged/);
    expect(await pulumi(["destroy", "--yes"])).toMatch(/- 2 deleted/);
  });
});
