/**
 * The host readiness probe: one read-only script run over SSH, and the pure parsing of what it
 * prints into {@link HostFacts}. The report built from them is in ./readiness.ts; the I/O that
 * runs the script (and the checks that must go over SSH itself) in ./check-host.ts.
 */
import { DEFAULT_SEARCH_PATH, selectFirmware, type ResolvedFirmware } from "../libvirt/firmware-descriptors.js";
import { LIST_DESCRIPTORS, parseDescriptorListing, parseQ35Machine, RUN_QEMU } from "../libvirt/host-firmware.js";
import { parseVirshVersion, type LibvirtVersions } from "../libvirt/version.js";
import { LIBVIRT_URI } from "../libvirt/virsh.js";

/**
 * Prints one `@@pulumi-ovmf NAME EXIT-CODE` line per fact, then what the command printed (stdout
 * and stderr). The descriptor listing comes last: it holds NUL bytes, which a shell's command
 * substitution would drop. Arguments: the libvirt URI, a socket of the streamlocal check to remove
 * (sshd leaves the file behind when a forwarding stops; "" for none), the descriptor listing script,
 * the QEMU runner script, then the descriptor search directories.
 */
export const PROBE_SCRIPT = `set -u
uri=$1 sock=$2 list=$3 qemu=$4; shift 4
if [ -n "$sock" ] && [ -S "$sock" ]; then rm -f -- "$sock"; fi
section() { name=$1; shift; out=$("$@" 2>&1); rc=$?; printf '@@pulumi-ovmf %s %s\\n%s\\n' "$name" "$rc" "$out"; }
selinux() {
  if command -v getenforce >/dev/null 2>&1; then getenforce
  elif [ -r /sys/fs/selinux/enforce ]; then sed 's/^1$/Enforcing/; s/^0$/Permissive/' /sys/fs/selinux/enforce
  else return 127; fi
}
section user id -un
section os cat /etc/os-release
section virsh timeout 30 env LC_ALL=C virsh -c "$uri" version --daemon
section qemu sh -c "$qemu" sh --version
section machines sh -c "$qemu" sh -machine help
section swtpm swtpm --version
section swtpm_setup swtpm_setup --version
section swtpm_ioctl swtpm_ioctl --version
section qemu-img qemu-img --version
section virt-ssh-helper command -v virt-ssh-helper
section kvm ls -lL /dev/kvm
section cpu grep -m1 -o -w -E 'vmx|svm' /proc/cpuinfo
section df df -Pk /var/lib/libvirt
section apparmor cat /sys/module/apparmor/parameters/enabled
section selinux selinux
printf '@@pulumi-ovmf descriptors 0\\n'
sh -c "$list" sh "$@"`;

/** The probe's argv (for `sh -c`), with the streamlocal check's socket to remove, if any. */
export function probeArgv(socketToRemove = ""): string[] {
  return ["sh", "-c", PROBE_SCRIPT, "sh", LIBVIRT_URI, socketToRemove, LIST_DESCRIPTORS, RUN_QEMU, ...DEFAULT_SEARCH_PATH];
}

/** What one command of the probe printed, and its exit code. */
export interface Section {
  code: number;
  text: string;
}

/** A program the probe ran: its version line, or why it did not run (127: not installed). */
export type Tool = { ok: true; version: string } | { ok: false; code: number; message: string };

/** /etc/os-release: which distribution, for the fix lines. */
export interface OsRelease {
  id: string;
  idLike: string[];
  prettyName: string;
}

/** Everything the probe found out. Pure data. */
export interface HostFacts {
  /** Who the commands ran as (root with sudo). */
  user: string;
  os: OsRelease;
  libvirt: { ok: true; versions: LibvirtVersions } | { ok: false; code: number; message: string };
  qemu: Tool;
  /** The versioned machine q35 stands for, e.g. pc-q35-7.2 (undefined without QEMU). */
  machine?: string;
  /** The Secure Boot firmware with enrolled keys the descriptors offer, or why there is none. */
  firmware: { ok: true; found: ResolvedFirmware } | { ok: false; message: string };
  swtpm: Tool;
  swtpmSetup: Tool;
  swtpmIoctl: Tool;
  qemuImg: Tool;
  /** Where virt-ssh-helper is, if anywhere on PATH. */
  virtSshHelper?: string;
  /** `ls -lL /dev/kvm`, or undefined when there is none. */
  kvmDevice?: string;
  /** vmx (Intel) or svm (AMD) when the CPU offers hardware virtualization. */
  cpuVirtualization?: string;
  /** Free KiB on the filesystem of /var/lib/libvirt, or why df could not tell. */
  libvirtFree: { ok: true; kib: number; mount: string } | { ok: false; message: string };
  appArmor: boolean;
  /** Enforcing, Permissive or Disabled; undefined when the host has no SELinux. */
  selinux?: string;
}

const MARK = /^@@pulumi-ovmf (\S+) (\d+)\n/gm;

/** The probe's output, by section name. Pure. */
export function parseSections(out: string): Map<string, Section> {
  const marks = [...out.matchAll(MARK)];
  const sections = new Map<string, Section>();
  marks.forEach((m, i) => {
    const start = (m.index ?? 0) + m[0].length;
    const end = marks[i + 1]?.index ?? out.length;
    const raw = out.slice(start, end);
    // Each section but the last (the descriptor listing, kept byte for byte) ends with the newline printf adds.
    const text = i + 1 < marks.length ? raw.replace(/\n$/, "") : raw;
    sections.set(m[1] ?? "", { code: Number(m[2]), text });
  });
  return sections;
}

/** Parses /etc/os-release's KEY=value lines (values quoted or not). Pure. */
export function parseOsRelease(text: string): OsRelease {
  const field = (key: string) => {
    const v = new RegExp(`^${key}=(.*)$`, "m").exec(text)?.[1]?.trim() ?? "";
    return v.replace(/^(["'])(.*)\1$/, "$2");
  };
  const id = field("ID").toLowerCase();
  return { id, idLike: field("ID_LIKE").toLowerCase().split(/\s+/).filter(Boolean), prettyName: field("PRETTY_NAME") || field("NAME") || id || "unknown" };
}

function firstLine(text: string): string {
  return text.split("\n").map((l) => l.trim()).find((l) => l !== "") ?? "";
}

/**
 * A tool's section: its version or its failure. Pure. The version line decides, not the exit code:
 * `swtpm_setup --version` prints its version and exits 1.
 */
function tool(s: Section | undefined): Tool {
  if (s === undefined) return { ok: false, code: -1, message: "not probed" };
  const version = /\bversion\s+(\d+(?:\.\d+)+)/i.exec(s.text)?.[1];
  if (version !== undefined) return { ok: true, version };
  return { ok: false, code: s.code, message: firstLine(s.text) || `exit ${s.code}` };
}

/** The facts in the probe's output. Pure. */
export function parseProbe(out: string): HostFacts {
  const s = parseSections(out);
  const ok = (name: string) => s.get(name)?.code === 0;
  const text = (name: string) => s.get(name)?.text ?? "";

  let libvirt: HostFacts["libvirt"];
  try {
    libvirt = ok("virsh") ? { ok: true, versions: parseVirshVersion(text("virsh")) } : { ok: false, code: s.get("virsh")?.code ?? -1, message: text("virsh").trim() };
  } catch (err) {
    libvirt = { ok: false, code: 0, message: (err as Error).message };
  }

  const machine = ok("machines") ? parseQ35Machine(text("machines")) : undefined;
  let firmware: HostFacts["firmware"];
  if (machine === undefined) {
    firmware = { ok: false, message: "not checked: the descriptors are matched against QEMU's q35 machine type, and QEMU did not say it" };
  } else {
    try {
      firmware = { ok: true, found: selectFirmware(parseDescriptorListing(text("descriptors")), DEFAULT_SEARCH_PATH, machine, { secureBoot: true, enrolledKeys: true }) };
    } catch (err) {
      firmware = { ok: false, message: (err as Error).message };
    }
  }

  const df = /^\S+\s+\d+\s+\d+\s+(\d+)\s+\S+\s+(.+)$/m.exec(text("df").split("\n").slice(1).join("\n"));
  const selinux = ok("selinux") ? firstLine(text("selinux")) : undefined;
  return {
    user: firstLine(text("user")) || "?",
    os: parseOsRelease(text("os")),
    libvirt,
    qemu: tool(s.get("qemu")),
    ...(machine === undefined ? {} : { machine }),
    firmware,
    swtpm: tool(s.get("swtpm")),
    swtpmSetup: tool(s.get("swtpm_setup")),
    swtpmIoctl: tool(s.get("swtpm_ioctl")),
    qemuImg: tool(s.get("qemu-img")),
    ...(ok("virt-ssh-helper") ? { virtSshHelper: firstLine(text("virt-ssh-helper")) } : {}),
    ...(ok("kvm") ? { kvmDevice: firstLine(text("kvm")) } : {}),
    ...(ok("cpu") ? { cpuVirtualization: firstLine(text("cpu")) } : {}),
    libvirtFree: ok("df") && df?.[1] !== undefined ? { ok: true, kib: Number(df[1]), mount: df[2]?.trim() ?? "?" } : { ok: false, message: firstLine(text("df")) || "df printed nothing" },
    appArmor: ok("apparmor") && /^Y/.test(text("apparmor").trim()),
    ...(selinux === undefined || selinux === "" ? {} : { selinux }),
  };
}
