import { readFileSync } from "node:fs";
import * as path from "node:path";

/** The connection `scripts/testhost.sh start` printed: the only source of ports and keys in tests. */
export interface TestHost {
  host: string;
  port: number;
  user: string;
  privateKeyPath: string;
  hostKey: string;
  domainType: "kvm" | "qemu";
  /** QEMUs (use with <emulator>) whose guest pauses with a KVM internal error, or that crash, right after start. */
  failingEmulators: { kvmFails: string; crashes: string };
  /** sshd's log (LogLevel VERBOSE): one "Accepted ..." line per authenticated connection. */
  sshdLog: string;
  encryptedKey: { privateKeyPath: string; passphrasePath: string };
  users: { sudo: string; noSudo: string; password: { user: string; passwordPath: string } };
  /** Every libvirt test host: "a" is this machine's libvirt, "b"... are isolated ones. */
  hosts: Array<{ name: string; host: string; port: number; user: string; privateKeyPath: string; hostKey: string }>;
  /** A second sshd on the same machine, to use as a jump host. */
  jumpHost: { host: string; port: number; user: string; privateKeyPath: string; hostKey: string };
}

export const REPO_ROOT = path.resolve(__dirname, "../..");

export function testHostFile(): string {
  return process.env["PULUMI_OVMF_TESTHOST"] ?? path.join(REPO_ROOT, ".testhost", "testhost.json");
}

export function loadTestHost(): TestHost {
  const file = testHostFile();
  try {
    return JSON.parse(readFileSync(file, "utf8")) as TestHost;
  } catch (err) {
    throw new Error(`no test host at ${file}: run \`npm test\` (or \`npm run testhost -- start\`) first`, { cause: err });
  }
}

/** The test host as a provider ConnectionSpec (private key read from its file). */
export function testConnection(host: TestHost = loadTestHost()) {
  return { host: host.host, port: host.port, user: host.user, privateKey: readFileSync(host.privateKeyPath, "utf8"), hostKey: host.hostKey };
}

/** The jump host (bastion) as a ConnectionSpec. */
export function jumpConnection(host: TestHost = loadTestHost()) {
  const j = host.jumpHost;
  return { host: j.host, port: j.port, user: j.user, privateKey: readFileSync(j.privateKeyPath, "utf8"), hostKey: j.hostKey };
}

export function readSecret(file: string): string {
  return readFileSync(file, "utf8").trim();
}

/** A test host by name ("a", "b", ...) as a ConnectionSpec. */
export function hostConnection(name: string, host: TestHost = loadTestHost()) {
  const h = host.hosts.find((x) => x.name === name);
  if (h === undefined) throw new Error(`no test host "${name}": start them with scripts/testhost.sh start --hosts 2`);
  return { host: h.host, port: h.port, user: h.user, privateKey: readFileSync(h.privateKeyPath, "utf8"), hostKey: h.hostKey };
}
