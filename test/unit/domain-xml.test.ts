import { readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { parseDomain, renderDomain } from "../../provider/libvirt/domain-xml.js";
import { managedMetadata, nvramPathOf } from "../../provider/libvirt/nvram-users.js";
import { resolve, type DomainInputs } from "../../provider/q35-domain/spec.js";
import { fullDomain } from "../support/domain.js";

const GOLDEN = path.join(__dirname, "golden");
const conn = { host: "kvm1", hostKey: "SHA256:zhqhy7Maeo1geoyYva65h0vFSvYN6eiO/k50Q7TsyII" };
const SB_FIRMWARE = { codePath: "/usr/share/OVMF/OVMF_CODE_4M.ms.fd", varsTemplatePath: "/usr/share/OVMF/OVMF_VARS_4M.ms.fd", features: ["enrolled-keys", "requires-smm", "secure-boot"], variant: "4M" };
const minimal: DomainInputs = { connection: conn, name: "web", memoryMiB: 2048, vcpus: 2, firmware: SB_FIRMWARE, nvram: { path: "/var/lib/libvirt/qemu/nvram/web_VARS.fd", variant: "4M" } };
const full: DomainInputs = fullDomain(minimal);

/** Compares with the golden file; UPDATE_GOLDEN=1 rewrites it (review the diff before committing). */
function golden(name: string, actual: string) {
  const file = path.join(GOLDEN, name);
  if (process.env["UPDATE_GOLDEN"] === "1") writeFileSync(file, actual);
  expect(actual).toBe(readFileSync(file, "utf8"));
}

describe("renderDomain", () => {
  it("a minimal Secure Boot domain: secure loader, SMM, NVRAM path, USB tablet, serial log, VNC on localhost", () => {
    golden("domain-minimal-kvm.xml", renderDomain(resolve(minimal, "kvm")));
  });
  it("every device kind, under TCG, with a kept UUID", () => {
    golden("domain-full-qemu.xml", renderDomain(resolve(full, "qemu"), "5b4c1c9e-34a1-4e1f-9a39-0f3f2a0b7c11"));
  });
  it("a custom CPU model: exactly that model, never a fallback to another one", () => {
    golden("domain-custom-cpu-kvm.xml", renderDomain(resolve({ ...minimal, cpuMode: "custom", cpuModel: "Skylake-Client" }, "kvm")));
  });
  it("writes XML that libvirt's own schema accepts (virt-xml-validate)", async () => {
    const { execFileSync } = await import("node:child_process");
    const { existsSync } = await import("node:fs");
    // libvirt-clients ships virt-xml-validate; the test host script installs it with libxml2-utils.
    if (!existsSync("/usr/bin/virt-xml-validate") || !existsSync("/usr/bin/xmllint")) throw new Error("virt-xml-validate/xmllint missing: run scripts/testhost.sh start");
    for (const f of ["domain-minimal-kvm.xml", "domain-full-qemu.xml", "domain-custom-cpu-kvm.xml"]) {
      // Exits non-zero (and execFileSync throws with the schema error) when the XML is invalid.
      execFileSync("virt-xml-validate", [path.join(GOLDEN, f), "domain"], { stdio: "pipe" });
    }
  });
  it("turns Secure Boot and SMM off for plain firmware", () => {
    const xml = renderDomain(resolve({ ...minimal, firmware: { ...SB_FIRMWARE, features: [] } }, "kvm"));
    expect(xml).toContain("secure=\"no\"");
    expect(xml).not.toContain("<smm");
  });
});

describe("parseDomain reads back what renderDomain wrote", () => {
  it("round-trips the compared fields", () => {
    const o = parseDomain(renderDomain(resolve(full, "qemu"), "5b4c1c9e-34a1-4e1f-9a39-0f3f2a0b7c11"));
    expect(o).toMatchObject({
      name: "win11",
      uuid: "5b4c1c9e-34a1-4e1f-9a39-0f3f2a0b7c11",
      type: "qemu",
      machine: "q35",
      memoryMiB: 2048,
      vcpus: 2,
      secureBoot: true,
      nvramPath: "/var/lib/libvirt/qemu/nvram/web_VARS.fd",
      macs: ["52:54:00:aa:bb:cc"],
    });
    expect(o.disks).toEqual([
      { path: "/var/lib/libvirt/images/win11.qcow2", bus: "virtio" },
      { path: "/var/lib/libvirt/images/data.raw", bus: "scsi" },
    ]);
    expect(o.cdroms).toEqual([{ path: "/isos/Win11.iso", bus: "sata" }, { path: "/isos/virtio-win.iso", bus: "sata" }, { bus: "sata" }]);
  });
  it("reads libvirt's own form: KiB memory, expanded machine, single-quoted attributes", () => {
    const xml = `<domain type='kvm' id='3'><name>web</name><uuid>u-1</uuid><memory unit='KiB'>2097152</memory><vcpu placement='static'>2</vcpu>
      <os><type arch='x86_64' machine='pc-q35-7.2'>hvm</type><loader readonly='yes' secure='yes' type='pflash'>/c.fd</loader><nvram>/n.fd</nvram></os>
      <devices><disk type='file' device='disk'><source file='/d.qcow2'/><target dev='vda' bus='virtio'/></disk></devices></domain>`;
    expect(parseDomain(xml)).toMatchObject({ memoryMiB: 2048, vcpus: 2, machine: "pc-q35-7.2", secureBoot: true, disks: [{ path: "/d.qcow2", bus: "virtio" }] });
    expect(nvramPathOf(xml)).toBe("/n.fd");
  });
  it("recognises the domains pulumi-ovmf manages by their metadata", () => {
    expect(managedMetadata(renderDomain(resolve({ ...minimal, shutdownTimeoutSeconds: 9 }, "kvm")))).toEqual({ shutdownTimeoutSeconds: 9 });
    expect(managedMetadata("<domain><metadata><x:y xmlns:x='urn:other'/></metadata></domain>")).toBeUndefined();
  });
});
