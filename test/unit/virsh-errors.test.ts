import { describe, expect, it } from "vitest";
import {
  classifyVirshError,
  DomainExistsError,
  DomainNotFoundError,
  InvalidDomainXmlError,
  KvmUnavailableError,
  LibvirtConnectionError,
  LibvirtPermissionError,
  QemuFileAccessError,
  VirshError,
} from "../../provider/libvirt/errors.js";
import { parseNamei } from "../../provider/libvirt/file-access.js";

const at = { target: "root@kvm1:22", code: 1 };

describe("classifyVirshError", () => {
  it("domain not found, naming host, domain and operation, with the fix", () => {
    const err = classifyVirshError({ ...at, operation: "domstate", domain: "web", stderr: "error: failed to get domain 'web'\n" });
    expect(err).toBeInstanceOf(DomainNotFoundError);
    expect(err.message).toBe(`virsh domstate of domain "web" on root@kvm1:22 failed: failed to get domain 'web'. It may have been removed outside Pulumi: run \`pulumi refresh\``);
  });
  it("already exists", () => {
    const stderr = "error: Failed to define domain from /dev/stdin\nerror: operation failed: domain 'web' already exists with uuid 1234\n";
    expect(classifyVirshError({ ...at, operation: "define", domain: "web", stderr })).toBeInstanceOf(DomainExistsError);
  });
  it("invalid XML and unsupported configuration", () => {
    for (const stderr of [
      "error: Failed to define domain from /dev/stdin\nerror: (domain_definition):3: Opening and ending tag mismatch: memory line 3 and domain\nXML error",
      "error: unsupported configuration: IDE controllers are unsupported for this QEMU binary or machine type",
    ]) {
      expect(classifyVirshError({ ...at, operation: "define", stderr })).toBeInstanceOf(InvalidDomainXmlError);
    }
  });
  it("permission (polkit)", () => {
    const stderr = "error: failed to connect to the hypervisor\nerror: authentication unavailable: no polkit agent available to authenticate action 'org.libvirt.unix.manage'";
    const err = classifyVirshError({ ...at, operation: "version", stderr });
    expect(err).toBeInstanceOf(LibvirtPermissionError);
    expect(err.message).toContain("connection.sudo: true");
  });
  it("KVM unusable is not mistaken for an SSH permission problem", () => {
    const stderr =
      "error: Failed to start domain 'web'\nerror: internal error: qemu unexpectedly closed the monitor: Could not access KVM kernel module: Permission denied";
    const err = classifyVirshError({ ...at, operation: "start", domain: "web", stderr });
    expect(err).toBeInstanceOf(KvmUnavailableError);
    expect(err.message).toContain('domainType "qemu"');
  });
  it("a disk QEMU may not open is QEMU's file problem, not SSH's: path, who QEMU is, the fix (libvirt's own check)", () => {
    // libvirt 9.0, a qcow2 under /root (mode 0700) on Debian 12.
    const stderr = "error: Failed to start domain 'web'\nerror: Cannot access storage file '/root/disk.qcow2' (as uid:64055, gid:64055): Permission denied\n";
    const err = classifyVirshError({ ...at, operation: "start", domain: "web", stderr });
    expect(err).toBeInstanceOf(QemuFileAccessError);
    expect(err.message).toBe(
      `virsh start of domain "web" on root@kvm1:22 failed: Failed to start domain 'web'; Cannot access storage file '/root/disk.qcow2' (as uid:64055, gid:64055): Permission denied. ` +
        "QEMU runs as its own user (uid:gid 64055:64055 here, `user` in /etc/libvirt/qemu.conf), not as the SSH user, and may not open /root/disk.qcow2: " +
        "this is not an SSH or sudo problem, and connection.sudo does not change it. Give that user read access to the file (and write access, unless it is a read-only CD-ROM) " +
        "and search (x) access to every directory above it, or keep the file under /var/lib/libvirt/images; when owner and modes allow it, AppArmor or SELinux refuses it " +
        "(`journalctl -k | grep -i denied` on the host). `namei -l /root/disk.qcow2` on the host shows the owner and mode of each directory",
    );
  });
  it("QEMU's own \"Could not open ...: Permission denied\" names the file, without QEMU's command line", () => {
    // libvirt 9.0 + QEMU 7.2, a qcow2 of mode 0000 under /var/lib/libvirt/images.
    const stderr =
      "error: Failed to start domain 'web'\nerror: internal error: qemu unexpectedly closed the monitor: 2026-12-07T23:34:53.191906Z qemu-system-x86_64: " +
      '-blockdev {"driver":"file","filename":"/var/lib/libvirt/images/web.qcow2","node-name":"libvirt-1-storage","auto-read-only":true,"discard":"unmap"}: ' +
      "Could not open '/var/lib/libvirt/images/web.qcow2': Permission denied\n";
    const err = classifyVirshError({ ...at, operation: "start", domain: "web", stderr });
    expect(err).toBeInstanceOf(QemuFileAccessError);
    expect(err.message).toMatch(
      /^virsh start of domain "web" on root@kvm1:22 failed: Failed to start domain 'web'; internal error: qemu unexpectedly closed the monitor: qemu-system-x86_64: Could not open '\/var\/lib\/libvirt\/images\/web\.qcow2': Permission denied\. QEMU runs as its own user \(`user` in \/etc\/libvirt\/qemu\.conf: libvirt-qemu on Debian and Ubuntu, qemu on Fedora and RHEL\), not as the SSH user, and may not open \/var\/lib\/libvirt\/images\/web\.qcow2: this is not an SSH or sudo problem/,
    );
    expect(err.message).not.toContain("connect as root");
    expect(err.message, "it is there already").not.toContain("keep the file under /var/lib/libvirt/images");
    // The NVRAM file and a chown that NFS refuses are the same kind of problem.
    for (const [text, path] of [
      ["error: internal error: process exited while connecting to monitor: qemu-system-x86_64: -drive file=/srv/vars.fd,if=pflash,format=raw,unit=1: Could not open '/srv/vars.fd': Permission denied", "/srv/vars.fd"],
      ["error: unable to set user and group to '64055:64055' on '/mnt/nfs/web.qcow2': Operation not permitted", "/mnt/nfs/web.qcow2"],
    ] as const) {
      const e = classifyVirshError({ ...at, operation: "start", domain: "web", stderr: text });
      expect(e).toBeInstanceOf(QemuFileAccessError);
      expect(e.message).toContain(`may not open ${path}: this is not an SSH or sudo problem`);
    }
  });
  it("with what namei -l showed on the host", () => {
    const namei = parseNamei("f: /root/disk.qcow2\n drwxr-xr-x root root /\n drwx------ root root root\n -rw-r--r-- root root disk.qcow2\n");
    expect(namei).toEqual(["drwxr-xr-x root root /", "drwx------ root root root", "-rw-r--r-- root root disk.qcow2"]);
    const stderr = "error: Cannot access storage file '/root/disk.qcow2' (as uid:64055, gid:64055): Permission denied";
    const err = new QemuFileAccessError({ ...at, operation: "start", domain: "web", stderr }, { path: "/root/disk.qcow2", as: "64055:64055" }, namei);
    expect(err.message).toMatch(/ On the host, namei -l says: drwxr-xr-x root root \/; drwx------ root root root; -rw-r--r-- root root disk\.qcow2$/);
  });
  it("a libvirt socket the SSH user may not use stays a permission problem of the SSH user", () => {
    const stderr = "error: failed to connect to the hypervisor\nerror: Failed to connect socket to '/var/run/libvirt/libvirt-sock': Permission denied";
    const err = classifyVirshError({ ...at, operation: "list", stderr });
    expect(err).toBeInstanceOf(LibvirtPermissionError);
    expect(err.message).toContain("connection.sudo: true");
  });
  it("libvirtd not reachable", () => {
    const stderr = "error: failed to connect to the hypervisor\nerror: Failed to connect socket to '/var/run/libvirt/libvirt-sock': No such file or directory";
    expect(classifyVirshError({ ...at, operation: "list", stderr })).toBeInstanceOf(LibvirtConnectionError);
  });
  it("anything else stays a plain VirshError with the stderr", () => {
    const err = classifyVirshError({ ...at, operation: "start", domain: "web", stderr: "error: something new" });
    expect(err.constructor).toBe(VirshError);
    expect(err.message).toContain("something new");
  });
});
