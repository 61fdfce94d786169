/** Versions reported by `virsh version --daemon`. */
export interface LibvirtVersions {
  /** The libvirt daemon's version, e.g. "9.0.0". */
  libvirt: string;
  /** The hypervisor driver, e.g. "QEMU". */
  hypervisor: string;
  /** The hypervisor's version, e.g. "7.2.22". */
  hypervisorVersion: string;
}

/**
 * Parses the output of `LC_ALL=C virsh version --daemon`:
 *
 *     Compiled against library: libvirt 9.0.0
 *     Using library: libvirt 9.0.0
 *     Using API: QEMU 9.0.0
 *     Running hypervisor: QEMU 7.2.22
 *     Running against daemon: 9.0.0
 */
export function parseVirshVersion(stdout: string): LibvirtVersions {
  const field = (label: string) => new RegExp(`^${label}:\\s*(.+)$`, "m").exec(stdout)?.[1]?.trim();
  const daemon = field("Running against daemon");
  const library = field("Using library")?.replace(/^libvirt\s+/, "");
  const running = field("Running hypervisor");
  const hv = running === undefined ? undefined : /^(\S+)\s+(\S+)$/.exec(running);
  const libvirt = daemon ?? library;
  if (libvirt === undefined || hv?.[1] === undefined || hv[2] === undefined) {
    throw new Error(`unexpected output from virsh version: ${JSON.stringify(stdout.slice(0, 300))}`);
  }
  return { libvirt, hypervisor: hv[1], hypervisorVersion: hv[2] };
}
