/**
 * Start errors about a file that QEMU may not open (a disk, a CD-ROM image, the firmware, the
 * NVRAM). QEMU runs as its own user, not as the SSH user, so "Permission denied" there is about the
 * file's owner, mode, directories or AppArmor/SELinux label, never about SSH or sudo. Pure.
 */

/** The file a start error is about, and as whom libvirt tried it when it says. */
export interface DeniedFile {
  path: string;
  /** `uid:gid` of the QEMU process, when libvirt names it. */
  as?: string;
}

const DENIED = "(?:Permission denied|Operation not permitted)";

const PATTERNS: RegExp[] = [
  // libvirt checks each disk as the QEMU user before it starts QEMU.
  new RegExp(`Cannot access storage file '(?<path>[^']+)' \\(as uid:(?<uid>\\d+), gid:(?<gid>\\d+)\\): ${DENIED}`),
  // QEMU itself (-blockdev or -drive): disks, CD-ROMs, the loader and the NVRAM file.
  new RegExp(`Could not open '(?<path>[^']+)': ${DENIED}`),
  // libvirt hands the file to the QEMU user first (root-squashed NFS, a read-only mount refuse it).
  new RegExp(`unable to set user and group to '(?<uid>\\d+):(?<gid>\\d+)' on '(?<path>[^']+)': ${DENIED}`),
];

/** The file a libvirt/QEMU error says QEMU may not open, or undefined when it says something else. */
export function deniedFile(stderr: string): DeniedFile | undefined {
  for (const pattern of PATTERNS) {
    const g = pattern.exec(stderr)?.groups;
    if (g?.["path"] === undefined) continue;
    return g["uid"] === undefined ? { path: g["path"] } : { path: g["path"], as: `${g["uid"]}:${g["gid"] ?? "?"}` };
  }
  return undefined;
}

/**
 * The stderr without what only repeats QEMU's command line (the `-blockdev {...}` JSON before
 * QEMU's message) and its timestamp, so the message reads "qemu-system-x86_64: Could not open ...".
 */
export function withoutQemuArguments(stderr: string): string {
  return stderr
    .replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z /g, "")
    .replace(/ -(?:blockdev|drive) (?:\{.*?\}|\S+): (?=Could not open)/g, " ");
}

/** What to do, for the message: who QEMU is, what to check, and what `namei -l` showed if it ran. */
export function fileAccessHint(denied: DeniedFile, namei?: readonly string[]): string {
  const who =
    denied.as === undefined
      ? "QEMU runs as its own user (`user` in /etc/libvirt/qemu.conf: libvirt-qemu on Debian and Ubuntu, qemu on Fedora and RHEL)"
      : `QEMU runs as its own user (uid:gid ${denied.as} here, \`user\` in /etc/libvirt/qemu.conf)`;
  const seen = namei === undefined || namei.length === 0 ? `\`namei -l ${denied.path}\` on the host shows the owner and mode of each directory` : `On the host, namei -l says: ${namei.join("; ")}`;
  return (
    `${who}, not as the SSH user, and may not open ${denied.path}: this is not an SSH or sudo problem, and connection.sudo does not change it. ` +
    `Give that user read access to the file (and write access, unless it is a read-only CD-ROM) and search (x) access to every directory above it` +
    `${denied.path.startsWith("/var/lib/libvirt/") ? "" : ", or keep the file under /var/lib/libvirt/images"}; when owner and modes allow it, AppArmor or SELinux refuses it (\`journalctl -k | grep -i denied\` on the host). ${seen}`
  );
}

/** `namei -l PATH` output as one entry per path component (`drwx------ root root root`). */
export function parseNamei(output: string): string[] {
  return output
    .split("\n")
    .map((l) => l.trim().replace(/\s+/g, " "))
    .filter((l) => l !== "" && !l.startsWith("f:"));
}
