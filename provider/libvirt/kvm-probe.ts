import { randomUUID } from "node:crypto";
import { XMLBuilder } from "fast-xml-parser";
import { warn } from "../engine-log.js";
import { writeFileAtomic } from "../host/files.js";
import type { Host } from "../host/host.js";
import { describeState } from "./domain-state.js";
import { qemuLogPath, serialLogPath } from "./qemu-log.js";
import * as virsh from "./virsh.js";
import { cpuElement } from "./domain-xml.js";
import { identity } from "../ssh/connection.js";

/** What the probe runs: the domain's own firmware, SMM need, CPU mode and emulator. */
export interface ProbeGuest {
  codePath: string;
  varsTemplatePath: string;
  /** `loader secure='yes'` (needs SMM). */
  secureBoot: boolean;
  needsSmm: boolean;
  cpuMode: string;
  /** The named model of cpuMode "custom": KVM must run exactly this model (a host CPU without its features cannot). */
  cpuModel?: string;
  /** An `<emulator>` the domain sets in devicesXml, else libvirt's default. */
  emulator?: string;
}

/** How long the firmware gets to reach its boot manager under KVM (it takes about a second). */
export const PROBE_LIMIT_MS = 30_000;

// Probe results per host and per guest, for the life of the provider process.
const KEY = Symbol.for("pulumi-ovmf.kvm-probe");
function cache(): Map<string, Promise<"kvm" | "qemu">> {
  const g = globalThis as { [KEY]?: Map<string, Promise<"kvm" | "qemu">> };
  return (g[KEY] ??= new Map());
}

/**
 * `auto` → kvm when KVM on this host really runs the domain's firmware: a throwaway transient domain
 * boots the same CODE image (with SMM when needed, the same CPU mode and model, and emulator) until OVMF's boot
 * manager prints on the serial console; else qemu (TCG, slower but complete), with a warning that
 * says why. Nested KVM often starts a guest and then stops it on its first unusual instruction, so
 * "it starts" proves nothing. Probed once per host and guest kind per provider process, and the
 * verdict kept on the host (see {@link PROBE_CACHE_DIR}) until something it depends on changes.
 */
export function resolveDomainType(host: Host, requested: "auto" | "kvm" | "qemu" | undefined, guest: ProbeGuest): Promise<"kvm" | "qemu"> {
  if (requested === "kvm" || requested === "qemu") return Promise.resolve(requested);
  const key = `${identity(host.spec)}#${JSON.stringify(guest)}`;
  let probe = cache().get(key);
  if (probe === undefined) {
    probe = probeKvmOnce(host, guest);
    cache().set(key, probe);
  }
  return probe;
}

/**
 * Where hosts keep probe verdicts, one small JSON file per verdict. A verdict is named by a digest
 * of everything it depends on, read on the host: its boot (boot_id), /dev/kvm, the KVM modules'
 * nested setting, the emulator binary and the CODE image (size, mtime, inode) and the guest kind.
 * A reboot, a QEMU or firmware upgrade or another module setting names another file, so the probe
 * runs again; a stale file is never read. Without it every `pulumi up` that creates a domain
 * would boot the probe again (1 to 2 s).
 */
export const PROBE_CACHE_DIR = "/var/cache/pulumi-ovmf";

// Prints the verdict's digest on its first line, then the verdict kept under it (if any).
const PROBE_KEY = `set -u
key=$({ cat /proc/sys/kernel/random/boot_id; ls -lL /dev/kvm 2>&1
  cat /sys/module/kvm_intel/parameters/nested /sys/module/kvm_amd/parameters/nested 2>/dev/null
  stat -L -c '%n %s %Y %i' -- "$2" "$3" 2>&1; printf '%s' "$4"; } | sha256sum | cut -c1-32)
echo "$key"
cat -- "$1/kvm-probe-$key.json" 2>/dev/null || true`;

/** A kept verdict: the type, and the reason TCG was chosen (warned again whenever it is used). */
export interface Verdict {
  type: "kvm" | "qemu";
  why?: string;
}

async function probeKvmOnce(host: Host, guest: ProbeGuest): Promise<"kvm" | "qemu"> {
  const verdict = await domainTypeVerdict(host, guest);
  if (verdict.type === "qemu") await fallBackWarning(host, guest, verdict.why ?? "");
  return verdict.type;
}

/**
 * What `auto` decides for `guest` on this host, and why when it is qemu, without warning (the host
 * readiness check reports it): the verdict kept on the host, else a new probe's, which is kept.
 */
export async function domainTypeVerdict(host: Host, guest: ProbeGuest): Promise<Verdict> {
  const emulator = guest.emulator ?? "/usr/bin/qemu-system-x86_64";
  const r = await host.run(["sh", "-c", PROBE_KEY, "sh", PROBE_CACHE_DIR, emulator, guest.codePath, JSON.stringify(guest)]);
  const [digest, kept] = r.code === 0 ? parseKept(r.stdout) : [undefined, undefined];
  if (kept !== undefined) return kept.type === "qemu" ? { type: "qemu", why: kept.why ?? "see the first run's warning" } : kept;
  const file = digest === undefined ? undefined : `${PROBE_CACHE_DIR}/kvm-probe-${digest}.json`;
  const verdict = await probeVerdict(host, guest);
  // Keeping the verdict is an optimisation: a host that refuses the write probes again next time.
  if (file !== undefined) await writeFileAtomic(host, file, Buffer.from(JSON.stringify(verdict)), { mode: "644", mkdir: true }).catch(() => undefined);
  return verdict;
}

/** The digest and the kept verdict {@link PROBE_KEY} printed. Pure. @internal (tests) */
export function parseKept(out: string): [string | undefined, Verdict | undefined] {
  const newline = out.indexOf("\n");
  const digest = out.slice(0, newline < 0 ? undefined : newline);
  if (!/^[0-9a-f]{32}$/.test(digest)) return [undefined, undefined];
  try {
    const v = JSON.parse(out.slice(newline + 1)) as Verdict;
    return [digest, v.type === "kvm" || v.type === "qemu" ? v : undefined];
  } catch {
    return [digest, undefined];
  }
}

function describeGuest(guest: ProbeGuest): string {
  const cpu = guest.cpuModel === undefined ? guest.cpuMode : `${guest.cpuMode} (${guest.cpuModel})`;
  return `OVMF (${guest.codePath}) in a ${cpu} guest${guest.needsSmm ? " with SMM (Secure Boot needs it)" : ""}`;
}

async function fallBackWarning(host: Host, guest: ProbeGuest, why: string): Promise<void> {
  await warn(
    `domainType "auto" uses qemu (TCG: software emulation, much slower than KVM) on ${host.target}, because KVM cannot run ${describeGuest(guest)} there: ${why}. ` +
      `Set domainType: "qemu" to choose this on purpose.`,
  );
}

const builder = new XMLBuilder({ ignoreAttributes: false, attributeNamePrefix: "@_", suppressEmptyNode: true });

/** The probe's transient domain. Pure. */
export function probeDomainXml(name: string, guest: ProbeGuest, nvramPath: string, serialPath: string): string {
  return builder.build({
    domain: {
      "@_type": "kvm",
      name,
      memory: { "@_unit": "MiB", "#text": 256 },
      vcpu: 1,
      os: {
        type: { "@_arch": "x86_64", "@_machine": "q35", "#text": "hvm" },
        loader: { "@_readonly": "yes", "@_secure": guest.secureBoot ? "yes" : "no", "@_type": "pflash", "#text": guest.codePath },
        nvram: { "@_template": guest.varsTemplatePath, "#text": nvramPath },
      },
      features: { acpi: "", ...(guest.needsSmm ? { smm: { "@_state": "on" } } : {}) },
      cpu: cpuElement(guest.cpuMode, guest.cpuModel),
      devices: {
        ...(guest.emulator === undefined ? {} : { emulator: guest.emulator }),
        serial: { "@_type": "file", source: { "@_path": serialPath }, target: { "@_port": 0 } },
        video: { model: { "@_type": "none" } },
      },
    },
  }) as string;
}

/** One probe, uncached, warning when it falls back; `name` names its throwaway domain. @internal (tests) */
export async function probeKvm(host: Host, guest: ProbeGuest, name?: string): Promise<"kvm" | "qemu"> {
  const verdict = await probeVerdict(host, guest, name);
  if (verdict.type === "qemu") await fallBackWarning(host, guest, verdict.why ?? "");
  return verdict.type;
}

async function probeVerdict(host: Host, guest: ProbeGuest, name = `pulumi-ovmf-kvm-probe-${randomUUID().slice(0, 8)}`): Promise<Verdict> {
  const nvramPath = `/var/lib/libvirt/qemu/nvram/${name}_VARS.fd`;
  const serialPath = serialLogPath(name);
  const qemu = (why: string): Verdict => ({ type: "qemu", why });
  try {
    const r = await host.run(["virsh", "-q", "-c", virsh.LIBVIRT_URI, "create", "/dev/stdin"], { stdin: probeDomainXml(name, guest, nvramPath, serialPath) });
    if (r.code !== 0) return qemu((r.stderr.replace(/^error:\s*/gm, "").trim().split("\n").pop() ?? "").replace(/\.$/, ""));
    const reachedBootManager = async () => (await host.run(["grep", "-q", "-a", "-F", "BdsDxe", "--", serialPath])).code === 0;
    const watched = await virsh.watchStart(host, name, { settleMs: PROBE_LIMIT_MS, proof: reachedBootManager });
    if (!watched.running) {
      const said = watched.qemuSays.length > 0 ? `, and QEMU said: ${watched.qemuSays.join("; ")}` : "";
      return qemu(`its firmware stopped right after it started (virsh domstate --reason: "${describeState(watched.observed)}"${said})`);
    }
    if (!watched.proven) return qemu(`its firmware did not reach its boot manager within ${PROBE_LIMIT_MS / 1000} s`);
    return { type: "kvm" };
  } finally {
    // Also after a refused start: libvirt made the NVRAM file and the log before QEMU gave up.
    await host.run(["virsh", "-q", "-c", virsh.LIBVIRT_URI, "destroy", "--", name]);
    await host.run(["rm", "-f", "--", nvramPath, serialPath, qemuLogPath(name)]);
  }
}
