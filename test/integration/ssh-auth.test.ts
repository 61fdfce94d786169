import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { HostKeyMismatchError, SshConnectionError, SudoError } from "../../provider/errors.js";
import { Host } from "../../provider/host/host.js";
import * as virsh from "../../provider/libvirt/virsh.js";
import { LibvirtPermissionError } from "../../provider/libvirt/errors.js";
import { closeAll } from "../../provider/ssh/pool.js";
import { rejection } from "../support/rejection.js";
import { jumpConnection, loadTestHost, readSecret, testConnection } from "../support/testhost.js";

const th = loadTestHost();
const base = testConnection(th);
const key = base.privateKey;
afterAll(() => closeAll());

async function whoami(spec: ConstructorParameters<typeof Host>[0]): Promise<string> {
  return (await new Host(spec).check(["id", "-un"], "id")).stdout.trim();
}


describe("authentication", () => {
  it("by private key", async () => {
    expect(await whoami(base)).toBe("root");
  });

  it("by encrypted private key and passphrase", async () => {
    const spec = { ...base, privateKey: readFileSync(th.encryptedKey.privateKeyPath, "utf8"), passphrase: readSecret(th.encryptedKey.passphrasePath) };
    expect(await whoami(spec)).toBe("root");
  });

  it("refuses an encrypted key with a wrong passphrase, without echoing it", async () => {
    const spec = { ...base, privateKey: readFileSync(th.encryptedKey.privateKeyPath, "utf8"), passphrase: "not-the-passphrase" };
    const err = await rejection(whoami(spec));
    expect(err).toBeInstanceOf(SshConnectionError);
    expect(err.message).toMatch(/privateKey/);
    expect(err.message).not.toContain("not-the-passphrase");
  });

  it("by password", async () => {
    const { user, passwordPath } = th.users.password;
    const spec = { host: th.host, port: th.port, user, password: readSecret(passwordPath), hostKey: th.hostKey, agent: "" };
    expect(await whoami(spec)).toBe(user);
  });

  it("a wrong password fails once, with no retries and no password in the message", async () => {
    const spec = { host: th.host, port: th.port, user: th.users.password.user, password: "wrong-pw-123", hostKey: th.hostKey, agent: "" };
    const started = Date.now();
    const err = await rejection(whoami(spec));
    expect(err.message).toMatch(/authentication failed/);
    expect(err.message).not.toContain("wrong-pw-123");
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it("through an ssh-agent", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "ovmf-agent-"));
    const sock = path.join(dir, "agent.sock");
    const agent = spawn("ssh-agent", ["-D", "-a", sock], { stdio: "ignore" });
    try {
      for (let i = 0; i < 50 && !existsSock(sock); i++) await new Promise((r) => setTimeout(r, 100));
      execFileSync("ssh-add", [th.privateKeyPath], { env: { ...process.env, SSH_AUTH_SOCK: sock }, stdio: "ignore" });
      expect(await whoami({ host: th.host, port: th.port, hostKey: th.hostKey, agent: sock })).toBe("root");
    } finally {
      closeAll();
      agent.kill();
    }
  });
});

function existsSock(p: string): boolean {
  try {
    readFileSync(p);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code !== "ENOENT";
  }
}

describe("host keys", () => {
  const knownHostsLine = (hostPattern: string, pubFile: string) => `${hostPattern} ${readFileSync(pubFile, "utf8").trim()}`;
  const mainPub = th.privateKeyPath.replace(/client_ed25519$/, "ssh_host_ed25519_key.pub");
  const bastionPub = th.privateKeyPath.replace(/client_ed25519$/, "bastion_host_ed25519_key.pub");

  it("accepts a hashed known_hosts entry for [host]:port", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "ovmf-kh-"));
    const file = path.join(dir, "known_hosts");
    execFileSync("sh", ["-c", `printf '%s\\n' "$1" > "$2"`, "sh", knownHostsLine(`[${th.host}]:${th.port}`, mainPub), file]);
    execFileSync("ssh-keygen", ["-H", "-f", file], { stdio: "ignore" });
    const hashed = readFileSync(file, "utf8");
    expect(hashed).toMatch(/^\|1\|/);
    const { hostKey: _pin, ...unpinned } = base;
    expect(await whoami({ ...unpinned, knownHosts: `# a comment\n${hashed}` })).toBe("root");
  });

  it("refuses a changed host key (known_hosts holds another key for the host), naming both", async () => {
    const knownHosts = knownHostsLine(`[${th.host}]:${th.port}`, bastionPub);
    const spec = { host: th.host, port: th.port, privateKey: key, knownHosts };
    const err = await rejection(whoami(spec));
    expect(err).toBeInstanceOf(HostKeyMismatchError);
    expect(err.message).toContain(th.jumpHost.hostKey);
    expect(err.message).toContain(th.hostKey);
  });

  it("refuses a host that known_hosts does not list", async () => {
    const knownHosts = knownHostsLine("[otherhost]:22", mainPub);
    const err = await rejection(whoami({ host: th.host, port: th.port, privateKey: key, knownHosts }));
    expect(err).toBeInstanceOf(HostKeyMismatchError);
    expect(err.message).toContain(`[${th.host}]:${th.port}`);
  });
});

describe("jump host", () => {
  it("reaches the host through a bastion, verifying both host keys", async () => {
    expect(await whoami({ ...base, jumpHost: jumpConnection(th) })).toBe("root");
  });

  it("refuses a bastion whose key does not match its pin", async () => {
    const err = await rejection(whoami({ ...base, jumpHost: { ...jumpConnection(th), hostKey: th.hostKey } }));
    expect(err).toBeInstanceOf(HostKeyMismatchError);
    expect(err.message).toContain(`:${th.jumpHost.port}`);
  });
});

describe("sudo", () => {
  it("a non-root user with passwordless sudo runs virsh", async () => {
    const spec = { ...base, user: th.users.sudo, sudo: true };
    expect((await virsh.version(new Host(spec))).hypervisor).toBe("QEMU");
  });

  it("the same user without sudo gets a libvirt permission error that says what to do", async () => {
    const err = await rejection(virsh.version(new Host({ ...base, user: th.users.sudo })));
    expect(err).toBeInstanceOf(LibvirtPermissionError);
    expect(err.message).toMatch(/sudo: true/);
  });

  it("a user without sudo rights gets a clear sudo error", async () => {
    const err = await rejection(virsh.version(new Host({ ...base, user: th.users.noSudo, sudo: true })));
    expect(err).toBeInstanceOf(SudoError);
    expect(err.message).toContain("wants a password");
    expect(err.message).toContain("NOPASSWD");
  });
});
