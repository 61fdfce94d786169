import { readFileSync } from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { observeDevices } from "../../provider/libvirt/domain-devices.js";
import { deviceDrift } from "../../provider/q35-domain/drift.js";
import type { DomainInputs } from "../../provider/q35-domain/spec.js";
import { fullDomain, RULES_DOMAIN } from "../support/domain.js";

// The domain of domain-xml.test.ts's "every device kind", as libvirt 9.0 holds it after `virsh define`
// of the provider's XML (generated MACs, addresses, controllers, <listen> elements added).
const dumped = readFileSync(path.join(__dirname, "golden/domain-full-qemu.dumpxml.xml"), "utf8");
const full: DomainInputs = fullDomain(RULES_DOMAIN);

describe("refresh drift of a domain's devices", () => {
  it("what libvirt adds (MACs, addresses, controllers, listen elements, a raw format) is not drift", () => {
    expect(deviceDrift(full, observeDevices(dumped))).toEqual({});
  });

  it("a NIC removed, a disk's bus changed, a CD-ROM ejected, the display opened up, a device passed through by hand: each shows as what the host has", () => {
    const drifted = dumped
      .replace(/<interface type='bridge'>[\s\S]*?<\/interface>/, "")
      .replace("<target dev='sda' bus='scsi'/>", "<target dev='sda' bus='sata'/>")
      .replace("<source file='/isos/virtio-win.iso'/>", "")
      .replace(/listen='127.0.0.1'>\s*<listen type='address' address='127.0.0.1'\/>/, "listen='0.0.0.0'><listen type='address' address='0.0.0.0'/>");
    const drift = deviceDrift(full, observeDevices(drifted));
    expect(drift.networks).toEqual([{ network: "default", model: "virtio", mac: "52:54:00:aa:bb:cc" }]);
    expect(drift.disks?.[1]).toEqual({ path: "/var/lib/libvirt/images/data.raw", bus: "sata", format: "raw" });
    expect(drift.cdroms?.[1]).toEqual({ bus: "sata" });
    expect(drift.graphics).toEqual({ type: "spice", listen: "0.0.0.0" });
    expect(drift.hostdevs).toBeUndefined();
    expect(deviceDrift({ ...full, hostdevs: (full.hostdevs ?? []).slice(1) }, observeDevices(dumped)).hostdevs).toHaveLength(3);
  });

  it("a kind that devicesXml adds elements of is not compared", () => {
    expect(deviceDrift({ ...full, networks: [], devicesXml: "<interface type='network'><source network='default'/></interface>" }, observeDevices(dumped))).toEqual({});
  });
});
