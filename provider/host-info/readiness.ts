/**
 * The host readiness report: what a host has and lacks for pulumi-ovmf, one check per piece, with
 * one fix line for the host's distribution when something is missing. Pure: built from the facts
 * of ./probe.ts and from what was tried over SSH itself (./check-host.ts).
 */
import { versionAtLeast } from "../libvirt/version.js";
import type { HostFacts, OsRelease, Tool } from "./probe.js";

export type CheckStatus = "ok" | "missing" | "warning";

/** One line of the report. `missing` blocks (`pulumi up` would fail); `warning` degrades or limits. */
export interface Check {
  name: string;
  status: CheckStatus;
  detail: string;
  /** One command (or config change) that fixes it on this host's distribution. */
  fix?: string;
}

export interface Readiness {
  /** True when no check is `missing`. */
  ok: boolean;
  checks: Check[];
}

/** What was tried over the SSH connection itself, beside the probe script. */
export interface OverSsh {
  /** With sudo: whether `sudo -n` ran the probe; `loginUser` ran it without sudo otherwise. */
  sudo?: { ok: true } | { ok: false; message: string; loginUser: string; installed: boolean };
  /** Whether sshd listened on a UNIX socket for us (what a live move asks of the old host's sshd). */
  streamlocal: { ok: true } | { ok: false; message: string };
  /** domainType "auto"'s verdict for the Secure Boot firmware (SMM on), or why it was not probed. */
  kvm: { probed: false; why: string } | { probed: true; type: "kvm" | "qemu"; why?: string };
}

export interface ReportOptions {
  /** Live moves are planned: the pieces only they need block instead of warn. */
  liveMoves?: boolean;
}

/** /var/lib/libvirt with less free space than this: a warning (disk images often live there too). */
export const LOW_SPACE_KIB = 1024 * 1024;
/** ... and with less than this, missing: not even a few NVRAM files (540 KiB each) and TPM states fit. */
export const NO_SPACE_KIB = 64 * 1024;

type Family = "debian" | "fedora" | undefined;

/** Debian and Ubuntu (and their derivatives), Fedora and RHEL (and theirs); others get a generic fix. */
export function distroFamily(os: OsRelease): Family {
  const ids = [os.id, ...os.idLike];
  if (ids.some((i) => i === "debian" || i === "ubuntu")) return "debian";
  if (ids.some((i) => i === "fedora" || i === "rhel" || i === "centos")) return "fedora";
  return undefined;
}

type Piece = "libvirt" | "qemu" | "ovmf" | "swtpm" | "qemu-img";
const PACKAGES: Record<Piece, { debian: string; fedora: string }> = {
  libvirt: { debian: "libvirt-daemon-system libvirt-clients", fedora: "libvirt-daemon-kvm libvirt-client" },
  qemu: { debian: "qemu-system-x86", fedora: "qemu-kvm" },
  ovmf: { debian: "ovmf", fedora: "edk2-ovmf" },
  swtpm: { debian: "swtpm swtpm-tools", fedora: "swtpm swtpm-tools" },
  "qemu-img": { debian: "qemu-utils", fedora: "qemu-img" },
};

function install(family: Family, piece: Piece, reinstall = false): string {
  const p = PACKAGES[piece];
  if (family === "debian") return `apt-get install ${reinstall ? "--reinstall " : ""}${p.debian}`;
  if (family === "fedora") return `dnf ${reinstall ? "reinstall" : "install"} ${p.fedora}`;
  return `install ${piece} with the distribution's package manager (Debian/Ubuntu: ${p.debian}; Fedora/RHEL: ${p.fedora})`;
}

/** A tool that exists but does not run (a broken install) is reinstalled; one that is not found, installed. */
const notFound = (t: Tool) => !t.ok && t.code === 127 && !/Permission denied/i.test(t.message);

function toolFix(family: Family, piece: Piece, tools: Tool[]): string {
  return install(family, piece, tools.every((t) => t.ok || !notFound(t)));
}

function libvirtCheck(f: HostFacts, family: Family): Check {
  if (f.libvirt.ok) return { name: "libvirt", status: "ok", detail: `libvirt ${f.libvirt.versions.libvirt}; libvirtd answers on qemu:///system (virsh as ${f.user})` };
  const { code, message } = f.libvirt;
  const said = message.replace(/^error:\s*/gm, "").replace(/\s*\n\s*/g, "; ");
  const missing = (detail: string, fix: string): Check => ({ name: "libvirt", status: "missing", detail, fix });
  if (code === 127) return missing("virsh is not installed", install(family, "libvirt"));
  if (code === 124) return missing("virsh version --daemon did not answer within 30 s: libvirtd hangs", restart(family, /virtqemud/.test(message)));
  if (/Permission denied|authentication (failed|unavailable)|not authorized|access denied/i.test(message)) {
    return missing(`virsh as ${f.user} may not manage qemu:///system: ${said}`, `usermod -aG libvirt ${f.user} (then log in again), or connect as root, or with passwordless sudo (--sudo, connection.sudo)`);
  }
  return missing(`libvirtd does not answer on qemu:///system: ${said}`, restart(family, /virtqemud/.test(message)));
}

function restart(family: Family, modular: boolean): string {
  if (modular) return "systemctl enable --now virtqemud.socket";
  return family === "fedora" ? "systemctl enable --now libvirtd.socket" : "systemctl enable --now libvirtd";
}

function qemuCheck(f: HostFacts, family: Family): Check {
  if (!f.qemu.ok) return { name: "qemu", status: "missing", detail: `no x86_64 QEMU runs: ${f.qemu.message}`, fix: toolFix(family, "qemu", [f.qemu]) };
  return { name: "qemu", status: "ok", detail: `QEMU ${f.qemu.version}; q35 is ${f.machine ?? "(no q35 machine type!)"}` };
}

function ovmfCheck(f: HostFacts, family: Family): Check {
  if (f.firmware.ok) {
    const fw = f.firmware.found;
    return { name: "ovmf", status: "ok", detail: `Secure Boot firmware with enrolled keys: ${fw.codePath} + ${fw.varsTemplatePath} (${fw.descriptor})` };
  }
  if (f.machine === undefined) return { name: "ovmf", status: "warning", detail: f.firmware.message };
  return { name: "ovmf", status: "missing", detail: f.firmware.message, fix: install(family, "ovmf") };
}

function swtpmCheck(f: HostFacts, family: Family): Check {
  const tools: Array<[string, Tool]> = [["swtpm", f.swtpm], ["swtpm_setup", f.swtpmSetup], ["swtpm_ioctl", f.swtpmIoctl]];
  const broken = tools.filter(([, t]) => !t.ok);
  if (broken.length === 0) return { name: "swtpm", status: "ok", detail: tools.map(([n, t]) => `${n} ${t.ok ? t.version : ""}`).join(", ") };
  const why = broken.map(([n, t]) => `${n} ${notFound(t) ? "is not installed" : `does not run (${t.ok ? "" : t.message})`}`).join("; ");
  return { name: "swtpm", status: "missing", detail: `${why}: libvirt runs swtpm for a VM's TPM (tpm: true, TpmState)`, fix: toolFix(family, "swtpm", broken.map(([, t]) => t)) };
}

function keepTpmCheck(f: HostFacts): Check {
  if (!f.libvirt.ok) return { name: "keep-tpm", status: "warning", detail: "not checked: libvirt did not answer" };
  const v = f.libvirt.versions.libvirt;
  if (versionAtLeast(v, "8.9")) return { name: "keep-tpm", status: "ok", detail: `virsh undefine --keep-tpm (libvirt ${v}; 8.9 or later)` };
  return {
    name: "keep-tpm",
    status: "warning",
    detail: `libvirt ${v} has no undefine --keep-tpm (8.9): a domain with a TPM cannot be replaced or deleted without losing its TPM state, which the provider refuses`,
    fix: "upgrade libvirt to 8.9 or later (Debian 12, Ubuntu 23.04, Fedora 38 and RHEL 9.2 ship 9.0)",
  };
}

function kvmCheck(f: HostFacts, ssh: OverSsh): Check {
  const tcg = "domainType \"auto\" runs domains under TCG (software emulation, much slower)";
  if (f.kvmDevice === undefined) {
    const cpu = f.cpuVirtualization === undefined ? "the CPU shows no vmx/svm (a VM without nested virtualization?)" : `the CPU has ${f.cpuVirtualization}`;
    return { name: "kvm", status: "warning", detail: `no /dev/kvm (${cpu}): ${tcg}`, fix: "enable VT-x/AMD-V (or nested virtualization) and load kvm_intel or kvm_amd (modprobe kvm_intel)" };
  }
  if (!ssh.kvm.probed) return { name: "kvm", status: "ok", detail: `/dev/kvm present; not probed (${ssh.kvm.why})` };
  if (ssh.kvm.type === "kvm") return { name: "kvm", status: "ok", detail: "KVM runs OVMF with SMM (a throwaway domain reached the boot manager)" };
  return { name: "kvm", status: "warning", detail: `/dev/kvm present, but KVM cannot run OVMF with SMM here: ${ssh.kvm.why ?? "?"}; ${tcg}` };
}

function sudoCheck(ssh: OverSsh, family: Family): Check | undefined {
  if (ssh.sudo === undefined) return undefined;
  if (ssh.sudo.ok) return { name: "sudo", status: "ok", detail: "sudo -n runs the provider's commands (virsh too) as root" };
  const u = ssh.sudo.loginUser;
  const rule = `echo '${u} ALL=(root) NOPASSWD: ALL' > /etc/sudoers.d/pulumi-ovmf && chmod 440 /etc/sudoers.d/pulumi-ovmf`;
  const get = family === "fedora" ? "dnf install sudo && " : family === "debian" ? "apt-get install sudo && " : "install sudo, then ";
  return { name: "sudo", status: "missing", detail: `${ssh.sudo.message}; the other checks ran as ${u} without sudo`, fix: ssh.sudo.installed ? rule : get + rule };
}

function qemuImgCheck(f: HostFacts, family: Family): Check {
  if (f.qemuImg.ok) return { name: "qemu-img", status: "ok", detail: `qemu-img ${f.qemuImg.version} (reads disk formats)` };
  return { name: "qemu-img", status: "missing", detail: `qemu-img does not run (${f.qemuImg.message}): a domain's disk formats are read with it`, fix: toolFix(family, "qemu-img", [f.qemuImg]) };
}

function streamlocalCheck(ssh: OverSsh, family: Family, o: ReportOptions): Check {
  if (ssh.streamlocal.ok) return { name: "streamlocal-forwarding", status: "ok", detail: "sshd listens on a UNIX socket for the provider (live moves from this host)" };
  return {
    name: "streamlocal-forwarding",
    status: o.liveMoves === true ? "missing" : "warning",
    detail: `sshd refuses streamlocal forwarding (${ssh.streamlocal.message}): live moves (hostMove: "live") from this host need it`,
    fix: `set AllowStreamLocalForwarding yes (and no DisableForwarding yes) in /etc/ssh/sshd_config, then systemctl reload ${family === "debian" ? "ssh" : "sshd"}`,
  };
}

function virtSshHelperCheck(f: HostFacts, family: Family, o: ReportOptions): Check {
  if (f.virtSshHelper !== undefined) return { name: "virt-ssh-helper", status: "ok", detail: `${f.virtSshHelper} (live moves to this host)` };
  const old = f.libvirt.ok && !versionAtLeast(f.libvirt.versions.libvirt, "6.8");
  return {
    name: "virt-ssh-helper",
    status: o.liveMoves === true ? "missing" : "warning",
    detail: `no virt-ssh-helper on PATH: live moves (hostMove: "live") to this host need it`,
    fix: old ? "upgrade libvirt to 6.8 or later (virt-ssh-helper came in 6.8)" : family === "fedora" ? "dnf install libvirt-daemon-kvm" : family === "debian" ? "apt-get install libvirt-daemon-system" : "install libvirt's daemon package (6.8 or later)",
  };
}

function spaceCheck(f: HostFacts): Check {
  if (!f.libvirtFree.ok) return { name: "disk-space", status: "warning", detail: `free space of /var/lib/libvirt unknown: ${f.libvirtFree.message}` };
  const { kib, mount } = f.libvirtFree;
  const free = kib >= 1024 * 1024 ? `${(kib / 1024 / 1024).toFixed(1)} GiB` : `${Math.floor(kib / 1024)} MiB`;
  const detail = `${free} free for /var/lib/libvirt (on ${mount}): NVRAM files, TPM state, uploaded firmware`;
  if (kib < NO_SPACE_KIB) return { name: "disk-space", status: "missing", detail, fix: `free space on ${mount}` };
  if (kib < LOW_SPACE_KIB) return { name: "disk-space", status: "warning", detail, fix: `free space on ${mount}` };
  return { name: "disk-space", status: "ok", detail };
}

function confinementCheck(f: HostFacts): Check {
  const nvram = "NVRAM files outside /var/lib/libvirt/qemu/nvram";
  if (f.selinux === "Enforcing") {
    return { name: "apparmor-selinux", status: "warning", detail: `SELinux is enforcing: ${nvram} need a label QEMU may use (else the start fails with Permission denied)`, fix: "keep nvramPath in the default directory, or label yours: semanage fcontext -a -t virt_image_t 'DIR(/.*)?' && restorecon -R DIR" };
  }
  if (f.appArmor) {
    return { name: "apparmor-selinux", status: "warning", detail: `AppArmor is on: libvirt's per-VM profile allows the domain's own NVRAM path, but ${nvram} under a path other rules deny (e.g. /home) fail at start with Permission denied`, fix: "keep nvramPath in the default directory, or allow yours in /etc/apparmor.d/local/abstractions/libvirt-qemu" };
  }
  return { name: "apparmor-selinux", status: "ok", detail: `no AppArmor${f.selinux === undefined ? ", no SELinux" : `, SELinux ${f.selinux}`}: no confinement of NVRAM paths` };
}

/** The report for a host. Pure. */
export function readinessReport(f: HostFacts, ssh: OverSsh, o: ReportOptions = {}): Readiness {
  const family = distroFamily(f.os);
  const checks = [
    sudoCheck(ssh, family),
    libvirtCheck(f, family),
    qemuCheck(f, family),
    ovmfCheck(f, family),
    swtpmCheck(f, family),
    keepTpmCheck(f),
    kvmCheck(f, ssh),
    qemuImgCheck(f, family),
    streamlocalCheck(ssh, family, o),
    virtSshHelperCheck(f, family, o),
    spaceCheck(f),
    confinementCheck(f),
  ].filter((c): c is Check => c !== undefined);
  return { ok: checks.every((c) => c.status !== "missing"), checks };
}

/** The report as the CLI prints it: a heading, one line per check (and its fix), a verdict. Pure. */
export function formatReport(target: string, distribution: string, r: Readiness): string {
  const width = Math.max(...r.checks.map((c) => c.name.length));
  const lines = [`${target}: ${distribution}`];
  for (const c of r.checks) {
    lines.push(`${c.status.padEnd(8)} ${c.name.padEnd(width)}  ${c.detail}`);
    if (c.fix !== undefined) lines.push(`${" ".repeat(8)} ${" ".repeat(width)}  fix: ${c.fix}`);
  }
  const missing = r.checks.filter((c) => c.status === "missing").map((c) => c.name);
  const warnings = r.checks.filter((c) => c.status === "warning").length;
  const w = warnings === 0 ? "" : ` (${warnings} warning${warnings === 1 ? "" : "s"})`;
  lines.push(r.ok ? `Ready: nothing blocking is missing${w}.` : `Not ready: missing ${missing.join(", ")}${w}.`);
  return lines.join("\n") + "\n";
}
