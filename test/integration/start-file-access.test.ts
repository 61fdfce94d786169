import { randomUUID } from "node:crypto";
import { XMLBuilder } from "fast-xml-parser";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { Host } from "../../provider/host/host.js";
import { QemuFileAccessError } from "../../provider/libvirt/errors.js";
import * as virsh from "../../provider/libvirt/virsh.js";
import { closeAll } from "../../provider/ssh/pool.js";
import { removeTestDomain } from "../support/domain.js";
import { rejection } from "../support/rejection.js";
import { hostConnection, loadTestHost } from "../support/testhost.js";

// A disk the QEMU user may not open fails the start with QEMU's file problem, never with advice
// about SSH or sudo (which was what "Permission denied" used to get).
const th = loadTestHost();
const a = new Host(hostConnection("a"));
const made: Array<{ name: string; disk: string }> = [];

afterEach(async () => {
  for (const { name, disk } of made.splice(0)) {
    await removeTestDomain(a, name);
    await a.run(["rm", "-f", "--", disk]);
  }
});
afterAll(() => closeAll());

/** Defines a small BIOS domain on host a whose one disk is `disk` (a qcow2 made here, of `mode`). */
async function domainWithDisk(what: string, dir: string, mode: string): Promise<{ name: string; disk: string }> {
  const name = `ovmf-fileaccess-${what}-${randomUUID().slice(0, 8)}`;
  const disk = `${dir}/${name}.qcow2`;
  made.push({ name, disk });
  await a.check(["qemu-img", "create", "-q", "-f", "qcow2", disk, "16M"], "qemu-img");
  await a.check(["chmod", mode, "--", disk], "chmod");
  const xml = new XMLBuilder({ ignoreAttributes: false }).build({
    domain: {
      "@_type": th.domainType,
      name,
      memory: { "@_unit": "MiB", "#text": 64 },
      os: { type: { "@_arch": "x86_64", "@_machine": "q35", "#text": "hvm" } },
      devices: { disk: { "@_type": "file", "@_device": "disk", driver: { "@_name": "qemu", "@_type": "qcow2" }, source: { "@_file": disk }, target: { "@_dev": "vda", "@_bus": "virtio" } } },
    },
  }) as string;
  await virsh.define(a, name, xml);
  return { name, disk };
}

describe("starting a domain whose disk QEMU may not open", () => {
  it("a disk under /root (mode 0700): names the file, QEMU's user, the fix and each directory's mode", async () => {
    const { name, disk } = await domainWithDisk("root", "/root", "600");
    const err = await rejection(virsh.start(a, name, 0));
    expect(err).toBeInstanceOf(QemuFileAccessError);
    expect(err.message).toMatch(new RegExp(`^virsh start of domain "${name}" on ${a.target} failed: .*'${disk}'.*Permission denied\\. QEMU runs as its own user`));
    expect(err.message).toContain(`may not open ${disk}: this is not an SSH or sudo problem`);
    expect(err.message).toMatch(/On the host, namei -l says: dr\S+ root root \/; drwx------ root root root; -rw------- root root ovmf-fileaccess-root-/);
    expect(err.message).not.toMatch(/connect as root|cannot manage libvirt/);
  });

  it("a disk of mode 0000 where QEMU may reach it: QEMU's own message, without its command line", async () => {
    const { name, disk } = await domainWithDisk("mode", "/var/lib/libvirt/images", "000");
    const err = await rejection(virsh.start(a, name, 0));
    expect(err).toBeInstanceOf(QemuFileAccessError);
    expect(err.message).toContain(`Could not open '${disk}': Permission denied. QEMU runs as its own user`);
    expect(err.message).not.toContain("-blockdev");
    expect(err.message).not.toMatch(/connect as root|cannot manage libvirt/);
  });
});
