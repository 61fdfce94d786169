import { randomUUID } from "node:crypto";
import { Socket } from "node:net";
import { afterAll, beforeEach, describe, expect, it, vi } from "vitest";
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

  it("turns Nagle's algorithm off on the socket before it connects, so the login's small packets are not held back", async () => {
    // With Nagle on until the login is done, each of the handshake's and authentication's round
    // trips waited for the host's delayed ACK: a login took ~0.3 s on loopback instead of ~0.07 s.
    const ours = new WeakSet<Socket>();
    const events: string[] = [];
    const connect = Socket.prototype.connect;
    const setNoDelay = Socket.prototype.setNoDelay;
    const spies = [
      vi.spyOn(Socket.prototype, "connect").mockImplementation(function (this: Socket, ...args: unknown[]) {
        const options = args[0] as { port?: number } | undefined;
        if (typeof options === "object" && Number(options.port) === th.port) {
          ours.add(this);
          this.once("connect", () => events.push("connected"));
        }
        return (connect as (...a: unknown[]) => Socket).apply(this, args);
      }),
      vi.spyOn(Socket.prototype, "setNoDelay").mockImplementation(function (this: Socket, enable?: boolean) {
        events.push(`noDelay ${String(enable)}${ours.has(this) ? "" : " (before connect was called)"}`);
        return setNoDelay.call(this, enable);
      }),
    ];
    try {
      await new Host(testConnection(th)).run(["true"]);
    } finally {
      for (const spy of spies) spy.mockRestore();
    }
    expect(events.indexOf("connected")).toBeGreaterThan(0);
    expect(events.slice(0, events.indexOf("connected"))).toContain("noDelay true");
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
