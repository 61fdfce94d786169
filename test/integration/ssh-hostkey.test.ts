import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { HostKeyMismatchError, SshConnectionError } from "../../provider/errors.js";
import { dial } from "../../provider/ssh/dial.js";
import { execOnChannel } from "../../provider/ssh/exec.js";
import { loadTestHost, testConnection } from "../support/testhost.js";

const OTHER_FP = "SHA256:zhqhy7Maeo1geoyYva65h0vFSvYN6eiO/k50Q7TsyII";

describe("ssh host key verification against the test host", () => {
  it("connects when the pin matches and runs virsh", async () => {
    const { client, close } = await dial(testConnection());
    try {
      const r = await execOnChannel(client, "test host", ["virsh", "-c", "qemu:///system", "version", "--daemon"]);
      expect(r.code).toBe(0);
      expect(r.stdout.toString()).toMatch(/Running hypervisor: QEMU \d+\.\d+/);
    } finally {
      close();
    }
  });

  it("accepts the host's public key line as the pin", async () => {
    const host = loadTestHost();
    const pubLine = readFileSync(host.privateKeyPath.replace(/client_ed25519$/, "ssh_host_ed25519_key.pub"), "utf8");
    const { close } = await dial({ ...testConnection(host), hostKey: pubLine });
    close();
  });

  it("refuses a wrong pin with both fingerprints and sends no credentials", async () => {
    const host = loadTestHost();
    const err = await dial({ ...testConnection(host), hostKey: OTHER_FP }, { attempts: 1 }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(HostKeyMismatchError);
    const message = (err as Error).message;
    expect(message).toContain(`expected ${OTHER_FP}`);
    expect(message).toContain(`presented ${host.hostKey}`);
    expect(message).toContain(`root@127.0.0.1:${host.port}`);
    expect(message).not.toContain("PRIVATE KEY");
  });

  it("retries a refused connection with backoff, then wraps the last cause", async () => {
    const { createServer } = await import("node:net");
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as { port: number }).port;
    await new Promise<void>((r) => server.close(() => r()));
    const started = Date.now();
    const err = await dial({ ...testConnection(), port }, { attempts: 3, baseDelayMs: 100 }).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(err).toBeInstanceOf(SshConnectionError);
    expect(err?.message).toBe(`ssh root@127.0.0.1:${port}: could not connect after 3 attempts: connection refused: is sshd running and is the port right?`);
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
  });
});
