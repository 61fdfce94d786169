import { createServer } from "node:net";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { SshConnectionError, SshTimeoutError } from "../../provider/errors.js";
import { Host } from "../../provider/host/host.js";
import * as virsh from "../../provider/libvirt/virsh.js";
import type { ConnectionSpec } from "../../provider/ssh/connection.js";
import { closeAll } from "../../provider/ssh/pool.js";
import { rejection } from "../support/rejection.js";
import { silentServer, type SilentServer } from "../support/silent-server.js";

// Hosts that do not answer, played by in-process servers on 127.0.0.1: no test host needed.
const FP = "SHA256:zhqhy7Maeo1geoyYva65h0vFSvYN6eiO/k50Q7TsyII";
const servers: SilentServer[] = [];
const uncaught: unknown[] = [];
const onUncaught = (err: unknown) => uncaught.push(err);

async function serve(opts: Parameters<typeof silentServer>[0] = {}): Promise<SilentServer> {
  const s = await silentServer({ lifetimeMs: 30_000, ...opts });
  servers.push(s);
  return s;
}

/** How an operation against `port` ends, and how long it took. */
async function runAgainst(spec: Partial<ConnectionSpec> & { port: number }): Promise<{ err: Error; seconds: number }> {
  const started = performance.now();
  const err = await rejection(new Host({ host: "127.0.0.1", hostKey: FP, agent: "", ...spec }).run(["true"]));
  const seconds = (performance.now() - started) / 1000;
  // ssh2 reports a failure a second time when it closes the socket: let that happen before counting.
  await new Promise((r) => setTimeout(r, 200));
  return { err, seconds };
}

/** A port nothing listens on (connections to it are refused). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

beforeEach(() => {
  uncaught.length = 0;
  process.on("uncaughtException", onUncaught);
});
afterEach(async () => {
  process.removeListener("uncaughtException", onUncaught);
  closeAll();
  for (const s of servers.splice(0)) await s.close();
});
afterAll(() => closeAll());

describe("a host that does not answer", () => {
  it("fails once, after connection.timeoutSeconds, naming the host and what it did, with no stray errors", async () => {
    const s = await serve();
    const { err, seconds } = await runAgainst({ port: s.port, timeoutSeconds: 2 });
    expect(err).toBeInstanceOf(SshTimeoutError);
    expect(err.message).toBe(
      `ssh root@127.0.0.1:${s.port}: the host accepted the TCP connection but sent no SSH greeting within 2s: ` +
        `the machine may be hung, or what listens on port ${s.port} is not sshd; connection.timeoutSeconds sets how long to wait (default 30s)`,
    );
    expect(seconds).toBeGreaterThan(1.9);
    expect(seconds).toBeLessThan(3);
    // Waiting again would wait as long again for the same silence: one connection only.
    expect(s.accepted()).toBe(1);
    expect(uncaught).toEqual([]);
  });

  it("an operation that falls back to another command, and the next operations, wait for the silent host only once", async () => {
    // virsh version tries the host's virsh shell first, then virsh itself: each used to dial anew.
    const s = await serve();
    const host = new Host({ host: "127.0.0.1", port: s.port, hostKey: FP, agent: "", timeoutSeconds: 1 });
    const started = performance.now();
    const errors = [await rejection(virsh.version(host)), await rejection(host.run(["true"])), ...(await Promise.all([rejection(host.run(["a"])), rejection(host.run(["b"]))]))];
    expect((performance.now() - started) / 1000).toBeLessThan(1.5);
    expect(new Set(errors.map((e) => e.message)).size).toBe(1);
    expect(errors[0]).toBeInstanceOf(SshTimeoutError);
    expect(s.accepted()).toBe(1);
  });

  it("says so when the host sent its greeting but stalled in the key exchange", async () => {
    const s = await serve({ greeting: "SSH-2.0-Stuck_1.0" });
    const { err } = await runAgainst({ port: s.port, timeoutSeconds: 1 });
    expect(err).toBeInstanceOf(SshTimeoutError);
    expect(err.message).toContain(`ssh root@127.0.0.1:${s.port}: the host sent an SSH greeting (Stuck_1.0) but did not finish the key exchange within 1s`);
    expect(uncaught).toEqual([]);
  });

  it("retries a connection closed before the handshake, then waits only for what is left of the limit", async () => {
    const s = await serve({ closeFirst: 1 });
    const { err, seconds } = await runAgainst({ port: s.port, timeoutSeconds: 3 });
    expect(err).toBeInstanceOf(SshTimeoutError);
    expect(err.message).toMatch(/sent no SSH greeting within 2\.\ds/);
    expect(seconds).toBeLessThan(3.5);
    expect(s.accepted()).toBe(2);
    expect(uncaught).toEqual([]);
  });

  it("retries a refused connection with backoff, within the limit", async () => {
    const port = await closedPort();
    const { err, seconds } = await runAgainst({ port, timeoutSeconds: 2 });
    expect(err).toBeInstanceOf(SshConnectionError);
    expect(err).not.toBeInstanceOf(SshTimeoutError);
    // Attempts at 0, 0.5 and 1.5 s; the next one (after 2 s more) would be past the limit.
    expect(err.message).toBe(`ssh root@127.0.0.1:${port}: could not connect after 3 attempts: connection refused: is sshd running and is the port right?`);
    expect(seconds).toBeLessThan(2);
    expect(uncaught).toEqual([]);
  });

  it("a silent jump host fails the same way, naming the jump host", async () => {
    const jump = await serve();
    const { err, seconds } = await runAgainst({ port: 22, timeoutSeconds: 1, jumpHost: { host: "127.0.0.1", port: jump.port, hostKey: FP, agent: "" } });
    expect(err).toBeInstanceOf(SshTimeoutError);
    expect(err.message).toMatch(new RegExp(`^ssh root@127\\.0\\.0\\.1:${jump.port}: the host accepted the TCP connection but sent no SSH greeting within 1s`));
    expect(seconds).toBeLessThan(2);
    expect(jump.accepted()).toBe(1);
    expect(uncaught).toEqual([]);
  });
});
