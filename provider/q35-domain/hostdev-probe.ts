import type { Host } from "../host/host.js";
import { fullPciAddress, parsePciProbe, type PciReport } from "./hostdevs.js";

/**
 * Reads sysfs for each address (arguments, never spliced into the script): whether it exists, its
 * IOMMU group, and the class and driver of every device in that group. Read-only.
 */
const PROBE = `for a in "$@"; do
  d=/sys/bus/pci/devices/$a
  if [ ! -e "$d" ]; then echo "$a missing"; continue; fi
  drv() { if [ -e "/sys/bus/pci/devices/$1/driver" ]; then basename "$(readlink "/sys/bus/pci/devices/$1/driver")"; else echo -; fi; }
  if [ ! -e "$d/iommu_group" ]; then echo "$a nogroup $(cat "$d/class") $(drv "$a")"; continue; fi
  g=$(basename "$(readlink "$d/iommu_group")")
  for m in "$d"/iommu_group/devices/*; do
    m=$(basename "$m")
    echo "$a member $g $m $(cat "/sys/bus/pci/devices/$m/class") $(drv "$m")"
  done
done`;

/** What the host's sysfs says about these PCI addresses. */
export async function probePciDevices(host: Host, addresses: readonly string[]): Promise<Map<string, PciReport>> {
  const unique = [...new Set(addresses.map(fullPciAddress))];
  const r = await host.check(["sh", "-c", PROBE, "sh", ...unique], "reading PCI devices from /sys");
  return parsePciProbe(r.stdout);
}
