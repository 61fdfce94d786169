import { randomUUID } from "node:crypto";
import { XMLBuilder } from "fast-xml-parser";
import { warn } from "../engine-log.js";
import type { Host } from "../host/host.js";
import { describeState } from "../libvirt/domain-state.js";
import { qemuLogPath } from "../libvirt/qemu-log.js";
import * as virsh from "../libvirt/virsh.js";
import { serialLogPath } from "./spec.js";
import { identity } from "../ssh/connection.js";

/** What the probe runs: the domain's own firmware, SMM need, CPU mode and emulator. */
export interface ProbeGuest {
  codePath: string;
  varsTemplatePath: string;
  /** `loader secure='yes'` (needs SMM). */
  secureBoot: boolean;
  needsSmm: boolean;
  cpuMode: string;
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
 * boots the same CODE image (with SMM when needed, the same CPU mode and emulator) until OVMF's boot
 * manager prints on the serial console; else qemu (TCG, slower but complete), with a warning that
 * says why. Nested KVM often starts a guest and then stops it on its first unusual instruction, so
 * "it starts" proves nothing. Probed once per host and guest kind per provider process.
 */
export function resolveDomainType(host: Host, requested: "auto" | "kvm" | "qemu" | undefined, guest: ProbeGuest): Promise<"kvm" | "qemu"> {
  if (requested === "kvm" || requested === "qemu") return Promise.resolve(requested);
  const key = `${identity(host.spec)}#${JSON.stringify(guest)}`;
  let probe = cache().get(key);
  if (probe === undefined) {
    probe = probeKvm(host, guest);
    cache().set(key, probe);
  }
  return probe;
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
      cpu: { "@_mode": guest.cpuMode },
      devices: {
        ...(guest.emulator === undefined ? {} : { emulator: guest.emulator }),
        serial: { "@_type": "file", source: { "@_path": serialPath }, target: { "@_port": 0 } },
        video: { model: { "@_type": "none" } },
      },
    },
  }) as string;
}

/** One probe, uncached; `name` names its throwaway domain. @internal (tests) */
export async function probeKvm(host: Host, guest: ProbeGuest, name = `pulumi-ovmf-kvm-probe-${randomUUID().slice(0, 8)}`): Promise<"kvm" | "qemu"> {
  const nvramPath = `/var/lib/libvirt/qemu/nvram/${name}_VARS.fd`;
  const serialPath = serialLogPath(name);
  const what = `OVMF (${guest.codePath}) in a ${guest.cpuMode} guest${guest.needsSmm ? " with SMM (Secure Boot needs it)" : ""}`;
  const fallBack = async (why: string) => {
    await warn(
      `domainType "auto" uses qemu (TCG: software emulation, much slower than KVM) on ${host.target}, because KVM cannot run ${what} there: ${why}. ` +
        `Set domainType: "qemu" to choose this on purpose.`,
    );
    return "qemu" as const;
  };
  try {
    const r = await host.run(["virsh", "-q", "-c", virsh.LIBVIRT_URI, "create", "/dev/stdin"], { stdin: probeDomainXml(name, guest, nvramPath, serialPath) });
    if (r.code !== 0) return await fallBack((r.stderr.replace(/^error:\s*/gm, "").trim().split("\n").pop() ?? "").replace(/\.$/, ""));
    const reachedBootManager = async () => (await host.run(["grep", "-q", "-a", "-F", "BdsDxe", "--", serialPath])).code === 0;
    const watched = await virsh.watchStart(host, name, { settleMs: PROBE_LIMIT_MS, proof: reachedBootManager });
    if (!watched.running) {
      const said = watched.qemuSays.length > 0 ? `, and QEMU said: ${watched.qemuSays.join("; ")}` : "";
      return fallBack(`its firmware stopped right after it started (virsh domstate --reason: "${describeState(watched.observed)}"${said})`);
    }
    if (!watched.proven) return fallBack(`its firmware did not reach its boot manager within ${PROBE_LIMIT_MS / 1000} s`);
    return "kvm";
  } finally {
    // Also after a refused start: libvirt made the NVRAM file and the log before QEMU gave up.
    await host.run(["virsh", "-q", "-c", virsh.LIBVIRT_URI, "destroy", "--", name]);
    await host.run(["rm", "-f", "--", nvramPath, serialPath, qemuLogPath(name)]);
  }
}
