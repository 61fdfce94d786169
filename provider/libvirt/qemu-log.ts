import type { StateWithReason } from "./domain-state.js";

/**
 * libvirt keeps a log per domain of its QEMU process on the host: a "starting up" line, QEMU's
 * command line, then whatever QEMU printed (its errors, and after a KVM internal error a register
 * dump). These pure helpers pick out what says why a guest stopped.
 */

/** Where a domain's file serial console goes by default: its serial log on the host. */
export function serialLogPath(name: string): string {
  return `/var/log/libvirt/qemu/${name}-serial.log`;
}

/** The QEMU log of a domain on its host. */
export function qemuLogPath(domain: string): string {
  return `/var/log/libvirt/qemu/${domain}.log`;
}

const LIBVIRT_LINE = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+[+-]\d{4}: (.*)$/;
const QEMU_TIMESTAMP = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z /;
// A CPU register dump: "EAX=... EBX=...", "ES =0008 ...", "GDT=  ...", "CR0=...", "Code=...", "extra data[0]: ...".
const REGISTER_DUMP = /^(?:[A-Z][A-Z0-9]{0,5}\s*=|Code=|extra data\[\d+\]:)/;
const NOISE = /^char device redirected to |^warning: host doesn't support requested feature|terminating on signal \d+ from pid \d+ \(libvirtd\)/;

/**
 * What QEMU printed during the last start recorded in `log` (the part after its command line),
 * without register dumps, timestamps or routine lines; at most `max` lines. Pure.
 */
export function qemuFailureLines(log: string, max = 6): string[] {
  const lines = log.split("\n").map((l) => l.trimEnd());
  const start = lines.map((l) => /^\S+ \S+: starting up /.test(l)).lastIndexOf(true);
  let i = start + 1;
  // The command line: every line but its last ends with a backslash.
  if (start >= 0) {
    while (lines[i]?.endsWith("\\") === true) i++;
    i++;
  }
  const out: string[] = [];
  for (const raw of lines.slice(Math.max(i, 0))) {
    const libvirt = LIBVIRT_LINE.exec(raw);
    const line = (libvirt?.[1] ?? raw).replace(QEMU_TIMESTAMP, "").trim();
    if (line === "" || REGISTER_DUMP.test(line) || NOISE.test(line)) continue;
    if (libvirt !== null && /^shutting down, reason=destroyed/.test(line)) continue;
    out.push(line);
  }
  return out.slice(0, max);
}

/** Whether QEMU's lines say that KVM could not run the guest's code (typical of nested KVM). Pure. */
export function isKvmFailure(lines: readonly string[]): boolean {
  return lines.some((l) => /KVM internal error|emulation failure|kvm run failed|KVM: entry failed/i.test(l));
}

/** What to do about a domain that stopped right after it started, from its state and QEMU's lines. Pure. */
export function notRunningFix(state: StateWithReason, qemuSays: readonly string[], logPath: string): string {
  if (isKvmFailure(qemuSays)) {
    return (
      `KVM on this host starts the guest but cannot run its firmware, as is common under nested virtualization: ` +
      `set domainType: "qemu" to run it with software emulation (slower), or run it on a host whose KVM runs OVMF`
    );
  }
  if (state.state === "crashed") return `the guest crashed (${state.reason || "no reason given"}): its serial console log says why`;
  if (state.state === "paused" && state.reason === "ioerror") {
    return `a disk hit an I/O error, often a full filesystem on the host: free space where the disk images live, then run pulumi up again`;
  }
  if (state.state === "shut off" && state.reason === "crashed") return `QEMU exited; the lines from its log above say why (the whole log is ${logPath} on the host)`;
  return `see ${logPath} on the host for what QEMU did`;
}
