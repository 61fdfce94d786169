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

/**
 * Whether a dotted version (`9.0.0`, `8.10`, `7.2.22`) is at least `min`, numerically part by part
 * (8.10 is newer than 8.9). Pure.
 */
export function versionAtLeast(version: string, min: string): boolean {
  const parts = (v: string) => v.split(".").map((p) => Number.parseInt(p, 10) || 0);
  const a = parts(version);
  const b = parts(min);
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const x = a[i] ?? 0;
    const y = b[i] ?? 0;
    if (x !== y) return x > y;
  }
  return true;
}
