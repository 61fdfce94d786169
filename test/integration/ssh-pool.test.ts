import { randomUUID } from "node:crypto";
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import { SshConnectionError } from "../../provider/errors.js";
import { Host } from "../../provider/host/host.js";
import { closeAll, handshakeCount } from "../../provider/ssh/pool.js";
import { acceptedLogins, killSshSessionOf, waitForProcess } from "../support/sshd.js";
import { loadTestHost, testConnection } from "../support/testhost.js";

const th = loadTestHost();
beforeEach(() => closeAll());
afterAll(() => closeAll());

describe("connection pool", () => {
  it("runs 50 concurrent commands over one SSH handshake, though sshd allows 10 sessions", async () => {
    const host = new Host(testConnection(th));
    const loginsBefore = acceptedLogins(th.sshdLog, "root");
    const handshakesBefore = handshakeCount();
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) => host.run(["sh", "-c", 'sleep 0.2; echo "$1"', "sh", String(i)])),
    );
    expect(results.map((r) => r.code)).toEqual(Array(50).fill(0));
    expect(results.map((r) => r.stdout.trim())).toEqual(Array.from({ length: 50 }, (_, i) => String(i)));
    expect(handshakeCount() - handshakesBefore).toBe(1);
    expect(acceptedLogins(th.sshdLog, "root") - loginsBefore).toBe(1);
  });

  it("shares one connection between Host objects with the same connection", async () => {
    const handshakesBefore = handshakeCount();
    await Promise.all([new Host(testConnection(th)).run(["true"]), new Host(testConnection(th)).run(["true"])]);
    expect(handshakeCount() - handshakesBefore).toBe(1);
  });

  it("a dropped connection fails the running operation; the next operation re-dials", async () => {
    const host = new Host(testConnection(th));
    const marker = `ovmf-drop-${randomUUID()}`;
    const running = host.run(["sh", "-c", "sleep 30", marker]);
    const outcome = running.then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    killSshSessionOf(await waitForProcess(marker));
    const err = await outcome;
    expect(err).toBeInstanceOf(SshConnectionError);
    expect(err?.message).toMatch(/connection lost while running sh/);
    const handshakesBefore = handshakeCount();
    expect((await host.run(["echo", "back"])).stdout).toBe("back\n");
    expect(handshakeCount() - handshakesBefore).toBe(1);
  });

  it("times out a command that runs too long", async () => {
    const started = Date.now();
    const err = await new Host(testConnection(th)).run(["sleep", "20"], { timeoutMs: 500 }).catch((e: unknown) => e as Error);
    expect(err).toBeInstanceOf(SshConnectionError);
    expect((err as Error).message).toMatch(/did not finish within 0.5s/);
    expect(Date.now() - started).toBeLessThan(5000);
  });
});
