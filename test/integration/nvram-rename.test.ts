import { randomUUID } from "node:crypto";
import { afterAll, describe, expect, it } from "vitest";
import { sha256, stat } from "../../provider/host/files.js";
import { Host } from "../../provider/host/host.js";
import * as virsh from "../../provider/libvirt/virsh.js";
import { markPathOf } from "../../provider/nvram/ownership.js";
import { nvramProvider } from "../../provider/nvram/provider.js";
import { q35DomainProvider } from "../../provider/q35-domain/provider.js";
import { closeAll } from "../../provider/ssh/pool.js";
import { nvramPathOf, plainDomain, removeTestDomain } from "../support/domain.js";
import { hostConnection } from "../support/testhost.js";

// A SecureBootVm renamed moves its NVRAM file to the new name's path on the same host, before its
// domain is replaced. With hostMove "live" (for host changes) that must still be a cold copy: no
// migration follows that would carry the guest's last variables into the copy.
const conn = hostConnection("a");
const a = new Host(conn);
const name = `ovmf-nvram-rename-${randomUUID().slice(0, 8)}`;
const renamed = `${name}-b`;
const firmware = { codePath: "/usr/share/OVMF/OVMF_CODE_4M.fd", codeSize: 3_653_632, varsTemplatePath: "/usr/share/OVMF/OVMF_VARS_4M.fd", variant: "4M" };
const owner = { stack: "organization/ovmf-it/nvram-rename", resource: `urn:pulumi:nvram-rename::ovmf-it::pulumi-nodejs:dynamic/ovmf:Nvram::${name}` };

afterAll(async () => {
  await removeTestDomain(a, name);
  await a.run(["rm", "-f", "--", nvramPathOf(renamed), markPathOf(nvramPathOf(name)), markPathOf(nvramPathOf(renamed))]);
  closeAll();
});

describe("an Nvram moved to another path on the same host", () => {
  it("with hostMove live, stops the VM running on it first and moves the file (nothing left at the old path)", async () => {
    const inputs = { connection: conn, firmware, path: nvramPathOf(name), owner, hostMove: "live" as const };
    const { outs } = await nvramProvider.create(inputs);
    await q35DomainProvider.create(plainDomain(conn, name, { domainType: "qemu", shutdownTimeoutSeconds: 2 }));
    expect(await virsh.domstate(a, name)).toBe("running");
    const moved = (await nvramProvider.update("x", outs, { ...inputs, path: nvramPathOf(renamed) })).outs;
    expect(await virsh.domstate(a, name)).toBe("shut off");
    expect(await stat(a, nvramPathOf(name))).toBeUndefined();
    expect(moved.sha256).toBe(await sha256(a, nvramPathOf(renamed)));
  });
});
