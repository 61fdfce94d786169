import { describe, expect, it } from "vitest";
import {
  classifyVirshError,
  DomainExistsError,
  DomainNotFoundError,
  InvalidDomainXmlError,
  KvmUnavailableError,
  LibvirtConnectionError,
  LibvirtPermissionError,
  VirshError,
} from "../../provider/libvirt/errors.js";

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
