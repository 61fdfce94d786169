import type { Host } from "../host/host.js";
import type { ExecOptions } from "../ssh/exec.js";
import { classifyVirshError, DomainNotFoundError, TpmSetupError, VirshError } from "./errors.js";
import { swtpmFailureReason, swtpmFix, swtpmLogPath } from "./swtpm.js";
import { parseVirshVersion, type LibvirtVersions } from "./version.js";

/** The libvirt connection URI virsh uses on the host: the system QEMU driver. */
export const LIBVIRT_URI = "qemu:///system";

async function virsh(host: Host, operation: string, args: readonly string[], domain?: string, options: ExecOptions = {}): Promise<string> {
  const r = await host.run(["env", "LC_ALL=C", "virsh", "-q", "-c", LIBVIRT_URI, operation, ...args], options);
  if (r.code !== 0) {
    throw classifyVirshError({ target: host.target, operation, code: r.code, stderr: r.stderr, ...(domain === undefined ? {} : { domain }) });
  }
  return r.stdout;
}

export async function version(host: Host): Promise<LibvirtVersions> {
  return parseVirshVersion(await virsh(host, "version", ["--daemon"]));
}

export function capabilities(host: Host): Promise<string> {
  return virsh(host, "capabilities", []);
}

export function domcapabilities(host: Host, virttype: string, machine = "q35", arch = "x86_64"): Promise<string> {
  return virsh(host, "domcapabilities", ["--virttype", virttype, "--machine", machine, "--arch", arch]);
}

/** Defines (or redefines) a persistent domain from XML, passed on stdin. */
export async function define(host: Host, domain: string, xml: string): Promise<void> {
  await virsh(host, "define", ["/dev/stdin"], domain, { stdin: xml });
}

export async function start(host: Host, domain: string): Promise<void> {
  try {
    await virsh(host, "start", ["--", domain], domain);
  } catch (err) {
    const logPath = err instanceof VirshError ? swtpmLogPath(err.failure.stderr) : undefined;
    if (!(err instanceof VirshError) || logPath === undefined) throw err;
    // virsh only points to the TPM emulator's log; the reason is in it.
    const log = await host.run(["tail", "-n", "60", "--", logPath]).catch(() => undefined);
    const reason = log?.code === 0 ? swtpmFailureReason(log.stdout) : undefined;
    const stderr = reason === undefined ? err.failure.stderr : `${err.failure.stderr.trim()}\nswtpm: ${reason.replace(/\.$/, "")}`;
    throw new TpmSetupError({ ...err.failure, stderr }, swtpmFix(reason, logPath));
  }
}

/** Forced power-off. A domain that is already off is not an error. */
export async function destroy(host: Host, domain: string): Promise<void> {
  if ((await domstate(host, domain)) === "shut off") return;
  await virsh(host, "destroy", ["--", domain], domain);
}

export type DomainState = "running" | "paused" | "shut off" | "shutdown" | "crashed" | "pmsuspended" | "idle" | "in shutdown" | "blocked" | "no state";

export async function domstate(host: Host, domain: string): Promise<DomainState> {
  return (await virsh(host, "domstate", ["--", domain], domain)).trim() as DomainState;
}

/**
 * Asks the guest to shut down (ACPI) and waits up to `timeoutSeconds` for it to be off, then powers
 * it off. Returns how it ended.
 */
export async function shutdown(host: Host, domain: string, timeoutSeconds: number, pollMs = 1000): Promise<"shutdown" | "destroyed" | "already off"> {
  if ((await domstate(host, domain)) === "shut off") return "already off";
  await virsh(host, "shutdown", ["--", domain], domain).catch((err: unknown) => {
    if (!/domain is not running/i.test(String(err))) throw err;
  });
  const deadline = Date.now() + timeoutSeconds * 1000;
  while (Date.now() < deadline) {
    if ((await domstate(host, domain)) === "shut off") return "shutdown";
    await new Promise((r) => setTimeout(r, pollMs));
  }
  await destroy(host, domain);
  return "destroyed";
}

/**
 * Undefines a domain with an explicit NVRAM choice: `keep` (the NVRAM file belongs to an Nvram
 * resource, so this is what resources use) or `delete`.
 */
export async function undefine(host: Host, domain: string, nvram: "keep" | "delete"): Promise<void> {
  await virsh(host, "undefine", [nvram === "keep" ? "--keep-nvram" : "--nvram", "--", domain], domain);
}

/** The domain's XML: the live definition, or with `inactive` the persistent one. */
export function dumpxml(host: Host, domain: string, inactive = false): Promise<string> {
  return virsh(host, "dumpxml", [...(inactive ? ["--inactive"] : []), "--", domain], domain);
}

/** Names of all domains (running and defined). */
export async function list(host: Host): Promise<string[]> {
  const out = await virsh(host, "list", ["--all", "--name"]);
  return out.split("\n").map((l) => l.trim()).filter((l) => l !== "");
}

/** Whether a domain of that name exists on the host. */
export async function exists(host: Host, domain: string): Promise<boolean> {
  try {
    await domstate(host, domain);
    return true;
  } catch (err) {
    if (err instanceof DomainNotFoundError) return false;
    throw err;
  }
}
