import { readFileSync } from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { parseCheckHostArgs, parseTarget, UsageError, type CliEnvironment } from "../../provider/cli/check-host.js";
import { parseProbe, parseSections } from "../../provider/host-info/probe.js";
import { formatReport, readinessReport, type Check, type OverSsh } from "../../provider/host-info/readiness.js";
import { versionAtLeast } from "../../provider/libvirt/version.js";

// What the probe script printed on the Debian 12 test host (libvirt 9.0, QEMU 7.2, OVMF 2022.11).
const DEBIAN12 = readFileSync(path.join(__dirname, "golden/host-probe-debian12.out"), "latin1");

const FEDORA_OS = 'NAME="Fedora Linux"\nVERSION="41 (Server Edition)"\nID=fedora\nVERSION_ID=41\nPRETTY_NAME="Fedora Linux 41 (Server Edition)"';
const UBUNTU_OS = 'PRETTY_NAME="Ubuntu 22.04.4 LTS"\nNAME="Ubuntu"\nID=ubuntu\nID_LIKE=debian';
const ROCKY_OS = 'NAME="Rocky Linux"\nID="rocky"\nID_LIKE="rhel centos fedora"\nPRETTY_NAME="Rocky Linux 9.4 (Blue Onyx)"';

/** The golden output with some sections replaced, as the script would print them. */
function probeWith(changes: Record<string, { code: number; text: string }>): string {
  const sections = parseSections(DEBIAN12);
  for (const [name, s] of Object.entries(changes)) sections.set(name, s);
  const names = [...sections.keys()].filter((n) => n !== "descriptors");
  return names.map((n) => `@@pulumi-ovmf ${n} ${sections.get(n)!.code}\n${sections.get(n)!.text}\n`).join("") + `@@pulumi-ovmf descriptors 0\n${sections.get("descriptors")!.text}`;
}

const allGood: OverSsh = { streamlocal: { ok: true }, kvm: { probed: true, type: "kvm" } };
const byName = (checks: Check[], name: string) => checks.find((c) => c.name === name)!;
const NOT_FOUND = (tool: string) => ({ code: 127, text: `sh: 1: ${tool}: not found` });

describe("the host probe's output", () => {
  it("reads the Debian 12 host's facts", () => {
    const f = parseProbe(DEBIAN12);
    expect(f.os).toEqual({ id: "debian", idLike: [], prettyName: "Debian GNU/Linux 12 (bookworm)" });
    expect(f.libvirt).toEqual({ ok: true, versions: { libvirt: "9.0.0", hypervisor: "QEMU", hypervisorVersion: "7.2.22" } });
    expect(f.qemu).toEqual({ ok: true, version: "7.2.22" });
    expect(f.machine).toBe("pc-q35-7.2");
    expect(f.firmware.ok && f.firmware.found.codePath).toBe("/usr/share/OVMF/OVMF_CODE_4M.ms.fd");
    expect(f.firmware.ok && f.firmware.found.varsTemplatePath).toBe("/usr/share/OVMF/OVMF_VARS_4M.ms.fd");
    // swtpm_setup --version prints its version and exits 1: the version line decides.
    expect(f.swtpmSetup).toEqual({ ok: true, version: "0.7.1" });
    expect(f.virtSshHelper).toBe("/usr/bin/virt-ssh-helper");
    expect(f.kvmDevice).toMatch(/\/dev\/kvm$/);
    expect(f.libvirtFree.ok && f.libvirtFree.kib).toBeGreaterThan(0);
  });

  it("makes an all-ok report for it, and says it is ready", () => {
    const r = readinessReport(parseProbe(DEBIAN12), allGood);
    expect(r.ok).toBe(true);
    expect(r.checks.filter((c) => c.status !== "ok")).toEqual([]);
    expect(r.checks.map((c) => c.name)).toEqual(["libvirt", "qemu", "ovmf", "swtpm", "keep-tpm", "kvm", "qemu-img", "streamlocal-forwarding", "virt-ssh-helper", "disk-space", "apparmor-selinux"]);
    expect(formatReport("root@kvm1:22", "Debian GNU/Linux 12 (bookworm)", r)).toMatch(/^root@kvm1:22: Debian GNU\/Linux 12 \(bookworm\)\nok +libvirt +libvirt 9\.0\.0;[^]*\nReady: nothing blocking is missing\.\n$/);
  });
});

describe("a missing piece blocks, with one fix line for the host's distribution", () => {
  const gone = { swtpm: NOT_FOUND("swtpm"), swtpm_setup: NOT_FOUND("swtpm_setup"), swtpm_ioctl: NOT_FOUND("swtpm_ioctl"), "qemu-img": NOT_FOUND("qemu-img"), descriptors: { code: 0, text: "" } };
  const cases: Array<[string, string, Record<string, string>]> = [
    ["Debian", "", { swtpm: "apt-get install swtpm swtpm-tools", "qemu-img": "apt-get install qemu-utils", ovmf: "apt-get install ovmf" }],
    ["Ubuntu", UBUNTU_OS, { swtpm: "apt-get install swtpm swtpm-tools", "qemu-img": "apt-get install qemu-utils", ovmf: "apt-get install ovmf" }],
    ["Fedora", FEDORA_OS, { swtpm: "dnf install swtpm swtpm-tools", "qemu-img": "dnf install qemu-img", ovmf: "dnf install edk2-ovmf" }],
    ["Rocky (RHEL)", ROCKY_OS, { swtpm: "dnf install swtpm swtpm-tools", "qemu-img": "dnf install qemu-img", ovmf: "dnf install edk2-ovmf" }],
  ];
  for (const [distro, os, fixes] of cases) {
    it(distro, () => {
      const r = readinessReport(parseProbe(probeWith({ ...gone, ...(os === "" ? {} : { os: { code: 0, text: os } }) })), allGood);
      expect(r.ok).toBe(false);
      for (const [name, fix] of Object.entries(fixes)) {
        expect(byName(r.checks, name)).toMatchObject({ status: "missing", fix });
      }
      expect(byName(r.checks, "swtpm").detail).toMatch(/^swtpm is not installed; swtpm_setup is not installed; swtpm_ioctl is not installed/);
      expect(byName(r.checks, "ovmf").detail).toMatch(/no QEMU firmware descriptor matches/);
    });
  }

  it("a program that is there but does not run is reinstalled", () => {
    const r = readinessReport(parseProbe(probeWith({ swtpm_setup: { code: 127, text: "sh: 1: swtpm_setup: Permission denied" } })), allGood);
    expect(byName(r.checks, "swtpm")).toMatchObject({ status: "missing", detail: expect.stringMatching(/^swtpm_setup does not run \(sh: 1: swtpm_setup: Permission denied\)/), fix: "apt-get install --reinstall swtpm swtpm-tools" });
    expect(formatReport("root@kvm1:22", "Debian", r)).toMatch(/\nmissing {2}swtpm .*\n {9,}fix: apt-get install --reinstall swtpm swtpm-tools\n[^]*Not ready: missing swtpm\.\n$/);
  });

  it("an unknown distribution gets both families' package names", () => {
    const r = readinessReport(parseProbe(probeWith({ os: { code: 0, text: "ID=gentoo\nPRETTY_NAME=Gentoo" }, "qemu-img": NOT_FOUND("qemu-img") })), allGood);
    expect(byName(r.checks, "qemu-img").fix).toBe("install qemu-img with the distribution's package manager (Debian/Ubuntu: qemu-utils; Fedora/RHEL: qemu-img)");
  });

  it("libvirtd not running, or not for this user", () => {
    const down = readinessReport(parseProbe(probeWith({ virsh: { code: 1, text: "error: failed to connect to the hypervisor\nerror: Failed to connect socket to '/var/run/libvirt/virtqemud-sock': No such file or directory" } })), allGood);
    expect(byName(down.checks, "libvirt")).toMatchObject({ status: "missing", fix: "systemctl enable --now virtqemud.socket" });
    expect(byName(down.checks, "keep-tpm").status).toBe("warning");
    const denied = readinessReport(parseProbe(probeWith({ user: { code: 0, text: "deploy" }, virsh: { code: 1, text: "error: authentication unavailable: no polkit agent available" } })), allGood);
    expect(byName(denied.checks, "libvirt").fix).toMatch(/^usermod -aG libvirt deploy/);
    const absent = readinessReport(parseProbe(probeWith({ virsh: { code: 127, text: "env: 'virsh': No such file or directory" }, os: { code: 0, text: FEDORA_OS } })), allGood);
    expect(byName(absent.checks, "libvirt").fix).toBe("dnf install libvirt-daemon-kvm libvirt-client");
  });

  it("sudo that wants a password", () => {
    const r = readinessReport(parseProbe(DEBIAN12), { ...allGood, sudo: { ok: false, message: "sudo -n wants a password", loginUser: "deploy", installed: true } });
    expect(r.ok).toBe(false);
    expect(r.checks[0]).toEqual({
      name: "sudo",
      status: "missing",
      detail: "sudo -n wants a password; the other checks ran as deploy without sudo",
      fix: "echo 'deploy ALL=(root) NOPASSWD: ALL' > /etc/sudoers.d/pulumi-ovmf && chmod 440 /etc/sudoers.d/pulumi-ovmf",
    });
  });
});

describe("what only degrades or limits is a warning", () => {
  it("an old libvirt: no --keep-tpm, no virt-ssh-helper", () => {
    const r = readinessReport(parseProbe(probeWith({ virsh: { code: 0, text: "Using library: libvirt 6.0.0\nRunning hypervisor: QEMU 4.2.1\nRunning against daemon: 6.0.0" }, "virt-ssh-helper": { code: 1, text: "" } })), allGood);
    expect(r.ok).toBe(true);
    expect(byName(r.checks, "keep-tpm")).toMatchObject({ status: "warning", detail: expect.stringMatching(/^libvirt 6\.0\.0 has no undefine --keep-tpm/) });
    expect(byName(r.checks, "virt-ssh-helper")).toMatchObject({ status: "warning", fix: "upgrade libvirt to 6.8 or later (virt-ssh-helper came in 6.8)" });
  });

  it("sshd without streamlocal forwarding: a warning, missing when live moves are planned", () => {
    const refused: OverSsh = { ...allGood, streamlocal: { ok: false, message: "Unable to bind to UNIX socket" } };
    const fedora = parseProbe(probeWith({ os: { code: 0, text: FEDORA_OS } }));
    const warned = readinessReport(fedora, refused);
    expect(warned.ok).toBe(true);
    expect(byName(warned.checks, "streamlocal-forwarding")).toMatchObject({ status: "warning", fix: "set AllowStreamLocalForwarding yes (and no DisableForwarding yes) in /etc/ssh/sshd_config, then systemctl reload sshd" });
    const planned = readinessReport(parseProbe(DEBIAN12), refused, { liveMoves: true });
    expect(planned.ok).toBe(false);
    expect(byName(planned.checks, "streamlocal-forwarding")).toMatchObject({ status: "missing", fix: expect.stringMatching(/systemctl reload ssh$/) });
  });

  it("KVM that cannot run OVMF with SMM, and no /dev/kvm at all", () => {
    const r = readinessReport(parseProbe(DEBIAN12), { ...allGood, kvm: { probed: true, type: "qemu", why: "its firmware stopped right after it started" } });
    expect(r.ok).toBe(true);
    expect(byName(r.checks, "kvm")).toMatchObject({ status: "warning", detail: expect.stringMatching(/KVM cannot run OVMF with SMM here: its firmware stopped right after it started; domainType "auto" runs domains under TCG/) });
    const none = readinessReport(parseProbe(probeWith({ kvm: { code: 2, text: "ls: cannot access '/dev/kvm': No such file or directory" } })), allGood);
    expect(byName(none.checks, "kvm")).toMatchObject({ status: "warning", detail: expect.stringMatching(/^no \/dev\/kvm \(the CPU shows no vmx\/svm/) });
  });

  it("AppArmor or enforcing SELinux: what it means for NVRAM paths", () => {
    const aa = readinessReport(parseProbe(probeWith({ apparmor: { code: 0, text: "Y" } })), allGood);
    expect(byName(aa.checks, "apparmor-selinux")).toMatchObject({ status: "warning", detail: expect.stringMatching(/^AppArmor is on: .*NVRAM files outside \/var\/lib\/libvirt/) });
    const se = readinessReport(parseProbe(probeWith({ selinux: { code: 0, text: "Enforcing" } })), allGood);
    expect(byName(se.checks, "apparmor-selinux")).toMatchObject({ status: "warning", fix: expect.stringMatching(/semanage fcontext -a -t virt_image_t/) });
    const permissive = readinessReport(parseProbe(probeWith({ selinux: { code: 0, text: "Permissive" } })), allGood);
    expect(byName(permissive.checks, "apparmor-selinux").status).toBe("ok");
  });

  it("little free space in /var/lib/libvirt", () => {
    const df = (kib: number) => ({ code: 0, text: `Filesystem     1024-blocks     Used Available Capacity Mounted on\n/dev/vda1 10000000 9000000 ${kib} 99% /var` });
    expect(byName(readinessReport(parseProbe(probeWith({ df: df(500_000) })), allGood).checks, "disk-space")).toMatchObject({ status: "warning", detail: expect.stringMatching(/^488 MiB free for \/var\/lib\/libvirt \(on \/var\)/) });
    expect(byName(readinessReport(parseProbe(probeWith({ df: df(10_000) })), allGood).checks, "disk-space").status).toBe("missing");
  });
});

describe("versionAtLeast", () => {
  it("compares part by part, numerically", () => {
    expect(versionAtLeast("9.0.0", "8.9")).toBe(true);
    expect(versionAtLeast("8.10.0", "8.9")).toBe(true);
    expect(versionAtLeast("8.9", "8.9.0")).toBe(true);
    expect(versionAtLeast("8.8.99", "8.9")).toBe(false);
  });
});

describe("check-host's command line", () => {
  const env = (over: Partial<CliEnvironment> = {}): CliEnvironment => ({
    env: {},
    home: "/home/me",
    readFile: (f) => (f.endsWith("known_hosts") ? "kvm1 ssh-ed25519 AAAA\n" : `KEY OF ${f}`),
    exists: () => true,
    ...over,
  });
  const PIN = "SHA256:nHdNNMbAjT/shMbPt1KA/AE8xBIXE1ykPwni1Ke+e44";
  const usage = (argv: string[], e = env()) => {
    try {
      parseCheckHostArgs(argv, e);
    } catch (err) {
      expect(err).toBeInstanceOf(UsageError);
      return (err as Error).message;
    }
    throw new Error("no usage error");
  };

  it("reads user@host:port, [v6]:port and a bare host", () => {
    expect(parseTarget("deploy@kvm1.example.com:2222")).toEqual({ user: "deploy", host: "kvm1.example.com", port: 2222 });
    expect(parseTarget("[fd00::1]:22")).toEqual({ host: "fd00::1", port: 22 });
    expect(parseTarget("kvm1")).toEqual({ host: "kvm1" });
  });

  it("builds the connection a resource would use, known_hosts by default", () => {
    const a = parseCheckHostArgs(["deploy@kvm1:2222", "--key", "/k", "--sudo", "--no-kvm-probe", "--jump", "bastion", "--jump-host-key", PIN], env());
    expect(a.spec).toEqual({
      user: "deploy", host: "kvm1", port: 2222, privateKey: "KEY OF /k", knownHosts: "kvm1 ssh-ed25519 AAAA\n", sudo: true,
      jumpHost: { host: "bastion", privateKey: "KEY OF /k", hostKey: PIN },
    });
    expect(a).toMatchObject({ kvmProbe: false, liveMoves: false, json: false });
  });

  it("refuses what cannot work, before connecting", () => {
    expect(usage(["kvm1", "--key", "/k"], env({ exists: () => false }))).toMatch(/^no host key to verify against: give --host-key SHA256:\.\.\. .*\/home\/me\/\.ssh\/known_hosts does not exist/);
    expect(usage(["kvm1", "--host-key", PIN])).toMatch(/^no credentials/);
    expect(usage(["kvm1", "--agent", "--host-key", PIN])).toBe("--agent: SSH_AUTH_SOCK is not set (is an ssh-agent running?)");
    expect(usage(["kvm1", "--key", "/k", "--passphrase-env", "NOPE"])).toBe("--passphrase-env NOPE: no such environment variable");
    expect(usage(["kvm1:99999", "--key", "/k"])).toMatch(/^connection\.port: port must be an integer/);
    expect(usage(["--key", "/k"])).toMatch(/^which host\?/);
    expect(usage(["kvm1", "--bogus"])).toMatch(/Unknown option '--bogus'/);
  });

  it("takes the passphrase from the environment, never from the command line", () => {
    const a = parseCheckHostArgs(["kvm1", "--key", "/k", "--passphrase-env", "PASS"], env({ env: { PASS: "s3cret" } }));
    expect(a.spec.passphrase).toBe("s3cret");
  });
});
