import { randomUUID } from "node:crypto";
import { XMLBuilder } from "fast-xml-parser";
import { warn } from "../engine-log.js";
import type { Host } from "../host/host.js";
import { identity } from "../ssh/connection.js";

// Probe results per host and per SMM need, for the life of the provider process.
const KEY = Symbol.for("pulumi-ovmf.kvm-probe");
function cache(): Map<string, Promise<"kvm" | "qemu">> {
  const g = globalThis as { [KEY]?: Map<string, Promise<"kvm" | "qemu">> };
  return (g[KEY] ??= new Map());
}

/**
 * `auto` → kvm when QEMU, started by libvirt, really runs a KVM guest on this host (with SMM when
 * Secure Boot needs it: nested KVM often has none), else qemu (TCG, slower but complete). Probed
 * once per host with a tiny transient domain.
 */
export function resolveDomainType(host: Host, requested: "auto" | "kvm" | "qemu" | undefined, needsSmm: boolean, cpuMode = "host-passthrough"): Promise<"kvm" | "qemu"> {
  if (requested === "kvm" || requested === "qemu") return Promise.resolve(requested);
  const key = `${identity(host.spec)}#smm=${needsSmm}#cpu=${cpuMode}`;
  let probe = cache().get(key);
  if (probe === undefined) {
    probe = probeKvm(host, needsSmm, cpuMode);
    cache().set(key, probe);
  }
  return probe;
}

// The probe uses the CPU mode the domain will use: nested hosts may run a default-CPU KVM guest
// but not a host-passthrough one.
async function probeKvm(host: Host, needsSmm: boolean, cpuMode: string): Promise<"kvm" | "qemu"> {
  const name = `pulumi-ovmf-kvm-probe-${randomUUID().slice(0, 8)}`;
  const xml = new XMLBuilder({ ignoreAttributes: false, attributeNamePrefix: "@_", suppressEmptyNode: true }).build({
    domain: {
      "@_type": "kvm",
      name,
      memory: { "@_unit": "MiB", "#text": 32 },
      os: { type: { "@_arch": "x86_64", "@_machine": "q35", "#text": "hvm" } },
      features: needsSmm ? { smm: { "@_state": "on" } } : "",
      cpu: { "@_mode": cpuMode },
    },
  }) as string;
  const r = await host.run(["virsh", "-q", "-c", "qemu:///system", "create", "/dev/stdin"], { stdin: xml });
  if (r.code !== 0) {
    const why = (r.stderr.replace(/^error:\s*/gm, "").trim().split("\n").pop() ?? "").replace(/\.$/, "");
    await warn(
      `domainType "auto" uses qemu (TCG: software emulation, much slower than KVM) on ${host.target}, because KVM cannot run ` +
        `a ${cpuMode} guest${needsSmm ? " with SMM (Secure Boot needs it)" : ""} there: ${why}. Set domainType: "qemu" to choose this on purpose.`,
    );
    return "qemu";
  }
  await host.run(["virsh", "-q", "-c", "qemu:///system", "destroy", name]);
  return "kvm";
}
