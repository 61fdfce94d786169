/**
 * Preview-time checks of PCI passthrough against the host: the device exists, the host's IOMMU is on,
 * and every other device in its IOMMU group can leave the host with it (VFIO hands a group to a guest
 * only whole). Pure rules over a snapshot of sysfs; `hostdev-probe.ts` takes the snapshot.
 */
import type { Failure } from "../ssh/connection.js";
import type { HostdevSpec } from "./spec.js";

export interface PciDevice {
  /** `0000:01:00.0` */
  address: string;
  /** PCI class, `0x030000` */
  pciClass: string;
  /** The bound kernel driver, undefined when none is. */
  driver?: string;
}

/** What sysfs says about one requested address. */
export type PciReport =
  | { address: string; status: "missing" }
  | { address: string; status: "no-iommu"; device: PciDevice }
  | { address: string; status: "grouped"; device: PciDevice; group: string; members: PciDevice[] };

/** `01:00.0` → `0000:01:00.0`, lower case. */
export function fullPciAddress(address: string): string {
  const a = address.toLowerCase();
  return /^[0-9a-f]{4}:/.test(a) ? a : `0000:${a}`;
}

/** Drivers a device may be bound to while another device of its group is with a guest. */
const RELEASED = new Set(["vfio-pci", "pci-stub"]);
/** PCI-to-PCI bridges (class 0x0604): VFIO allows them in a group whatever their driver. */
const isBridge = (d: PciDevice) => d.pciClass.toLowerCase().startsWith("0x0604");

/** Parses the probe's lines: `A missing`, `A nogroup CLASS DRIVER`, `A member GROUP M CLASS DRIVER`. */
export function parsePciProbe(out: string): Map<string, PciReport> {
  const reports = new Map<string, PciReport>();
  const device = (address: string, pciClass: string, driver: string): PciDevice => ({ address, pciClass, ...(driver === "-" ? {} : { driver }) });
  for (const line of out.split("\n")) {
    const [a, kind, ...rest] = line.trim().split(/\s+/);
    if (a === undefined || kind === undefined) continue;
    if (kind === "missing") reports.set(a, { address: a, status: "missing" });
    if (kind === "nogroup" && rest.length === 2) reports.set(a, { address: a, status: "no-iommu", device: device(a, rest[0] ?? "", rest[1] ?? "-") });
    if (kind === "member" && rest.length === 4) {
      const [group = "", m = "", pciClass = "", driver = "-"] = rest;
      const r = reports.get(a);
      const members = r?.status === "grouped" ? r.members : [];
      members.push(device(m, pciClass, driver));
      const self = members.find((x) => x.address === a) ?? device(a, "", "-");
      reports.set(a, { address: a, status: "grouped", device: self, group, members });
    }
  }
  return reports;
}

const describe = (d: PciDevice) => `${d.address} (class ${d.pciClass}, driver ${d.driver ?? "none"})`;

/** The failures for `hostdevs` on `target`, given the probe's reports. Pure. */
export function hostdevFailures(hostdevs: readonly HostdevSpec[], reports: ReadonlyMap<string, PciReport>, target: string): Failure[] {
  const f: Failure[] = [];
  const passed = new Map(hostdevs.map((h) => [fullPciAddress(h.address), h]));
  hostdevs.forEach((h, n) => {
    const property = `hostdevs[${n}].address`;
    const address = fullPciAddress(h.address);
    const r = reports.get(address);
    if (r === undefined) return;
    if (r.status === "missing") {
      f.push({ property, reason: `there is no PCI device ${address} on ${target}: \`lspci -D\` on the host lists its devices` });
      return;
    }
    if (r.status === "no-iommu") {
      f.push({ property, reason: `${address} on ${target} is in no IOMMU group, so the host's IOMMU is off: enable VT-d/AMD-Vi in its firmware settings and boot it with intel_iommu=on (or amd_iommu=on) iommu=pt` });
      return;
    }
    if (h.managed === false && r.device.driver !== "vfio-pci") {
      f.push({ property: `hostdevs[${n}].managed`, reason: `managed is false but ${describe(r.device)} on ${target} is not bound to vfio-pci: bind it there on the host, or set managed: true to let libvirt do it` });
    }
    for (const m of r.members) {
      if (m.address === address || isBridge(m)) continue;
      // Passed through as well: its own entry is checked on its own.
      if (passed.has(m.address)) continue;
      if (m.driver === undefined || RELEASED.has(m.driver)) continue;
      f.push({
        property,
        reason: `IOMMU group ${r.group} of ${address} on ${target} also holds ${describe(m)}, which stays with the host; a group goes to a guest only whole: add ${m.address} to hostdevs, or bind it to vfio-pci on the host`,
      });
    }
  });
  return f;
}
