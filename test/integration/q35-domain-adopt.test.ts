import { randomUUID } from "node:crypto";
import { XMLBuilder } from "fast-xml-parser";
import { afterAll, describe, expect, it } from "vitest";
import { Host } from "../../provider/host/host.js";
import { parseDomain } from "../../provider/libvirt/domain-xml.js";
import * as virsh from "../../provider/libvirt/virsh.js";
import { q35DomainProvider } from "../../provider/q35-domain/provider.js";
import type { DomainInputs } from "../../provider/q35-domain/spec.js";
import { closeAll } from "../../provider/ssh/pool.js";
import { nvramPathOf, plainDomain } from "../support/domain.js";
import { rejection } from "../support/rejection.js";
import { hostConnection } from "../support/testhost.js";

const conn = hostConnection("a");
const a = new Host(conn);
const name = `ovmf-adopt-${randomUUID().slice(0, 8)}`;
const nvramPath = nvramPathOf(name);
const inputs: DomainInputs = plainDomain(conn, name, { running: false });

afterAll(async () => {
  if (await virsh.exists(a, name)) await virsh.undefine(a, name, "keep");
  await a.run(["rm", "-f", "--", nvramPath]);
  closeAll();
});

describe("Q35Domain adopt (pulumi import does not work for dynamic resources)", () => {
  it("refuses a name that exists, then takes the domain over with adopt: true, keeping its UUID", async () => {
    await a.check(["cp", "/usr/share/OVMF/OVMF_VARS_4M.fd", nvramPath], "nvram");
    const existing = new XMLBuilder({ ignoreAttributes: false }).build({
      domain: { "@_type": "qemu", name, memory: { "@_unit": "MiB", "#text": 64 }, os: { type: { "@_arch": "x86_64", "@_machine": "q35", "#text": "hvm" } } },
    }) as string;
    await virsh.define(a, name, existing);
    const uuid = parseDomain(await virsh.dumpxml(a, name, true)).uuid;

    const err = await rejection(q35DomainProvider.create(inputs));
    expect(err.message).toBe(
      `domain "${name}" on ${a.target} already exists and no pulumi-ovmf resource made it: set adopt: true to take it over (it is redefined to these inputs; its UUID, NVRAM file and TPM state are kept), or choose another name`,
    );
    expect(parseDomain(await virsh.dumpxml(a, name, true)).memoryMiB).toBe(64);

    const { outs } = await q35DomainProvider.create({ ...inputs, adopt: true });
    expect(outs.uuid).toBe(uuid);
    const now = parseDomain(await virsh.dumpxml(a, name, true));
    expect(now).toMatchObject({ memoryMiB: 128, nvramPath, codePath: inputs.firmware.codePath });
  });
});
