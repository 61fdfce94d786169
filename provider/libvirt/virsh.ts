import type { Host } from "../host/host.js";
import type { ExecOptions } from "../ssh/exec.js";
import { parseStateWithReason, type DomainState, type StateWithReason } from "./domain-state.js";
import { OvmfError } from "../errors.js";
import { classifyVirshError, DomainNotFoundError, DomainNotRunningError, QemuFileAccessError, TpmSetupError, VirshError } from "./errors.js";
import { parseNamei } from "./file-access.js";
import { STEP_HELPERS, stepError } from "./steps.js";
import { qemuFailureLines, qemuLogPath } from "./qemu-log.js";
import { swtpmFailureReason, swtpmFix, swtpmLogPath } from "./swtpm.js";
import { parseVirshVersion, type LibvirtVersions } from "./version.js";
import { runInShell } from "./virsh-shell.js";
import { METADATA_NS } from "./domain-xml.js";

/** The libvirt connection URI virsh uses on the host: the system QEMU driver. */
export const LIBVIRT_URI = "qemu:///system";

// Commands that only read and return at once go through the host's virsh shell when it has one.
const SHELL_OPERATIONS = new Set(["domstate", "dumpxml", "list", "domname", "version", "capabilities", "domcapabilities"]);

async function virsh(host: Host, operation: string, args: readonly string[], domain?: string, options: ExecOptions = {}): Promise<string> {
  const inShell = SHELL_OPERATIONS.has(operation) && Object.keys(options).length === 0 ? await runInShell(host, LIBVIRT_URI, [operation, ...args]) : undefined;
  const r = inShell ?? (await host.run(["env", "LC_ALL=C", "virsh", "-q", "-c", LIBVIRT_URI, operation, ...args], options));
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

/**
 * Replaces pulumi-ovmf's metadata element (see domain-xml.ts renderMetadata) in the persistent
 * definition, without redefining the domain or touching the running guest.
 */
export async function setMetadata(host: Host, domain: string, element: string): Promise<void> {
  await virsh(host, "metadata", ["--config", "--uri", METADATA_NS, "--key", "ovmf", "--set", element, "--", domain], domain);
}

/**
 * How long a started domain must keep running before a start counts: nested KVM stops an OVMF guest
 * within a second or two, a crashing QEMU sooner.
 */
export const START_SETTLE_MS = 5000;

/**
 * Starts a defined domain and confirms that it keeps running for `settleMs`. Every start the provider
 * performs goes through here. A domain that pauses, crashes or goes off instead is powered off and
 * {@link DomainNotRunningError} says why (libvirt's state, QEMU's own lines) and what to do.
 */
export async function start(host: Host, domain: string, settleMs = START_SETTLE_MS): Promise<void> {
  await startOnly(host, domain);
  const watched = await watchStart(host, domain, { settleMs });
  if (watched.running) return;
  await destroy(host, domain).catch(() => undefined);
  throw new DomainNotRunningError({ target: host.target, domain, observed: watched.observed, logPath: qemuLogPath(domain), qemuSays: watched.qemuSays });
}

async function startOnly(host: Host, domain: string): Promise<void> {
  try {
    await virsh(host, "start", ["--", domain], domain);
  } catch (err) {
    if (err instanceof QemuFileAccessError) {
      // The owner and mode of the file and of each directory above it say which one is in the way.
      const namei = await host.run(["namei", "-l", "--", err.denied.path]).catch(() => undefined);
      throw namei?.code === 0 ? new QemuFileAccessError(err.failure, err.denied, parseNamei(namei.stdout)) : err;
    }
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
  // Two resources may stop the same domain at once (its Nvram and its TpmState both moving):
  // one that finds it already off has what it wanted.
  await virsh(host, "destroy", ["--", domain], domain).catch((err: unknown) => {
    if (!/domain is not running/i.test(String(err))) throw err;
  });
}

export type { DomainState } from "./domain-state.js";

export async function domstate(host: Host, domain: string): Promise<DomainState> {
  return (await virsh(host, "domstate", ["--", domain], domain)).trim() as DomainState;
}

/** The state and libvirt's reason for it, e.g. `paused (unknown)`. */
export async function domstateReason(host: Host, domain: string): Promise<StateWithReason> {
  return parseStateWithReason(await virsh(host, "domstate", ["--reason", "--", domain], domain));
}

/** What QEMU printed during the domain's last start, from its log on the host (empty when unreadable). */
export async function qemuSays(host: Host, domain: string): Promise<string[]> {
  const r = await host.run(["tail", "-n", "400", "--", qemuLogPath(domain)]);
  return r.code === 0 ? qemuFailureLines(r.stdout) : [];
}

/** How a domain fared in the moments after it started. */
export type StartWatch = { running: true; proven: boolean } | { running: false; observed: StateWithReason; qemuSays: string[] };

/**
 * Watches a domain that was just started. Ends as soon as it is no longer running (with libvirt's
 * reason and QEMU's lines), when `proof` holds (checked at every poll), or after `settleMs` of running.
 */
export async function watchStart(host: Host, domain: string, options: { settleMs: number; proof?: () => Promise<boolean>; pollMs?: number }): Promise<StartWatch> {
  const deadline = Date.now() + options.settleMs;
  for (;;) {
    const observed = await domstateReason(host, domain);
    if (observed.state !== "running") return { running: false, observed, qemuSays: await qemuSays(host, domain) };
    if (options.proof !== undefined && (await options.proof())) return { running: true, proven: true };
    if (Date.now() >= deadline) return { running: true, proven: false };
    await new Promise((r) => setTimeout(r, options.pollMs ?? 500));
  }
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
 * Undefines a domain. `keep` keeps its NVRAM file and its emulated TPM's state
 * (/var/lib/libvirt/swtpm/<uuid>, `--keep-tpm`, libvirt 8.9 and later): both belong to their own
 * resources and go only with them. A libvirt too old for `--keep-tpm` would delete the TPM state,
 * so a domain with an emulated TPM is then refused rather than undefined.
 */
export async function undefine(host: Host, domain: string, nvram: "keep" | "delete"): Promise<void> {
  if (nvram === "delete") {
    await virsh(host, "undefine", ["--nvram", "--", domain], domain);
    return;
  }
  try {
    await virsh(host, "undefine", ["--keep-nvram", "--keep-tpm", "--", domain], domain);
  } catch (err) {
    if (!(err instanceof VirshError) || !/--keep-tpm/.test(err.failure.stderr)) throw err;
    if (/<backend type=['"]emulator['"]/.test(await dumpxml(host, domain, true))) {
      throw new OvmfError(
        `cannot undefine domain "${domain}" on ${host.target} without deleting its TPM state: this libvirt has no undefine --keep-tpm (it came in 8.9). ` +
          `Upgrade libvirt on the host, or copy /var/lib/libvirt/swtpm/<uuid> aside and undefine it by hand.`,
      );
    }
    await virsh(host, "undefine", ["--keep-nvram", "--", domain], domain);
  }
}

/** The domain's XML: the live definition, or with `inactive` the persistent one. */
export function dumpxml(host: Host, domain: string, inactive = false): Promise<string> {
  return virsh(host, "dumpxml", [...(inactive ? ["--inactive"] : []), "--", domain], domain);
}

// Undefines a domain that is off, keeping its NVRAM and TPM state, in one remote command: "gone"
// (no such domain), "undefined", "state<RS>STATE" (not off: nothing done), or "old" (this libvirt has
// no --keep-tpm: nothing done, the caller decides).
const UNDEFINE_IF_OFF = `uri=$1 name=$2
${STEP_HELPERS}
state_of || { printf gone; exit 0; }
[ "$s" = "shut off" ] || { printf 'state\\036%s' "$s"; exit 0; }
if e=$(virsh -q -c "$uri" undefine --keep-nvram --keep-tpm -- "$name" 2>&1 >/dev/null); then printf undefined; exit 0; fi
case $e in *--keep-tpm*) printf old; exit 0;; esac
printf '%s\\n' "$e" >&2; false || at undefine`;

/**
 * Undefines `domain` (keeping NVRAM and TPM state) when it is off, in one round trip. Returns
 * what it found: no domain, undefined, or the state of a domain that is not off (nothing done).
 */
export async function undefineIfOff(host: Host, domain: string): Promise<"gone" | "undefined" | { state: DomainState } | "old libvirt"> {
  return (await undefineIfOffInShell(host, domain)) ?? undefineIfOffByProcess(host, domain);
}

/** {@link undefineIfOff} in one remote command of its own (a host without a virsh shell). */
export async function undefineIfOffByProcess(host: Host, domain: string): Promise<Awaited<ReturnType<typeof undefineIfOff>>> {
  const r = await host.run(["env", "LC_ALL=C", "sh", "-c", UNDEFINE_IF_OFF, "sh", LIBVIRT_URI, domain]);
  if (r.code !== 0) throw stepError(host, r, domain, "domstate");
  const out = r.stdout.trim();
  if (out === "gone" || out === "undefined") return out;
  if (out === "old") return "old libvirt";
  return { state: out.split("\u001e")[1]?.trim() as DomainState };
}

/**
 * {@link undefineIfOff} in the host's virsh shell; undefined when the shell could not answer (the
 * one-process way then looks again: a domain the shell did undefine is "gone" there).
 */
export async function undefineIfOffInShell(host: Host, domain: string): Promise<Awaited<ReturnType<typeof undefineIfOff>> | undefined> {
  const failed = (operation: string, stderr: string) => classifyVirshError({ target: host.target, operation, code: 1, stderr, domain });
  const s = await runInShell(host, LIBVIRT_URI, ["domstate", "--", domain]);
  if (s === undefined) return undefined;
  if (s.code !== 0) {
    const err = failed("domstate", s.stderr);
    if (err instanceof DomainNotFoundError) return "gone";
    throw err;
  }
  const state = s.stdout.trim() as DomainState;
  if (state !== "shut off") return { state };
  const u = await runInShell(host, LIBVIRT_URI, ["undefine", "--keep-nvram", "--keep-tpm", "--", domain]);
  if (u === undefined) return undefined;
  if (u.code === 0) return "undefined";
  if (/--keep-tpm/.test(u.stderr)) return "old libvirt";
  throw failed("undefine", u.stderr);
}

/**
 * A domain's persistent XML (as virsh prints it) and state in the host's virsh shell, or which
 * read failed and how; undefined when the shell could not answer.
 */
export async function describeInShell(host: Host, domain: string): Promise<{ xml: string; state: DomainState } | { failed: { operation: string; stderr: string } } | undefined> {
  const [x, s] = await Promise.all([runInShell(host, LIBVIRT_URI, ["dumpxml", "--inactive", "--", domain]), runInShell(host, LIBVIRT_URI, ["domstate", "--", domain])]);
  if (x === undefined || s === undefined) return undefined;
  if (x.code !== 0) return { failed: { operation: "dumpxml", stderr: x.stderr } };
  if (s.code !== 0) return { failed: { operation: "domstate", stderr: s.stderr } };
  return { state: s.stdout.trim() as DomainState, xml: x.stdout };
}

const DESCRIBE = `uri=$1 name=$2
${STEP_HELPERS}
x=$(virsh -q -c "$uri" dumpxml --inactive -- "$name") || at dumpxml
s=$(virsh -q -c "$uri" domstate -- "$name") || at state
printf '%s\\036%s\\n' "$s" "$x"`;

/** The persistent XML and the state of a domain, in one round trip. */
export async function describe(host: Host, domain: string): Promise<{ xml: string; state: DomainState }> {
  const inShell = await describeInShell(host, domain);
  if (inShell !== undefined && "failed" in inShell) throw classifyVirshError({ target: host.target, code: 1, domain, ...inShell.failed });
  if (inShell !== undefined) return { state: inShell.state, xml: `${inShell.xml.replace(/\n+$/, "")}\n` };
  const r = await host.run(["env", "LC_ALL=C", "sh", "-c", DESCRIBE, "sh", LIBVIRT_URI, domain]);
  if (r.code !== 0) throw stepError(host, r, domain, "dumpxml");
  const [state = "", xml = ""] = r.stdout.split("\u001e");
  return { state: state.trim() as DomainState, xml };
}

/** Names of all domains (running and defined). */
export async function list(host: Host): Promise<string[]> {
  const out = await virsh(host, "list", ["--all", "--name"]);
  return out.split("\n").map((l) => l.trim()).filter((l) => l !== "");
}

/** Whether a domain of that name exists on the host. */
export async function exists(host: Host, domain: string): Promise<boolean> {
  return (await stateIfExists(host, domain)) !== undefined;
}

/** The domain's state, or undefined when there is no such domain (one round trip for both). */
export async function stateIfExists(host: Host, domain: string): Promise<DomainState | undefined> {
  try {
    return await domstate(host, domain);
  } catch (err) {
    if (err instanceof DomainNotFoundError) return undefined;
    throw err;
  }
}

/** The name of the domain with this UUID on the host, or undefined when there is none. */
export async function domainByUuid(host: Host, uuid: string): Promise<string | undefined> {
  try {
    return (await virsh(host, "domname", ["--", uuid])).trim() || undefined;
  } catch (err) {
    if (err instanceof DomainNotFoundError) return undefined;
    throw err;
  }
}
