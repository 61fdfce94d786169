import { randomUUID } from "node:crypto";
import { XMLBuilder } from "fast-xml-parser";
import { afterAll, describe, expect, it } from "vitest";
import { Host } from "../../provider/host/host.js";
import { DomainExistsError, DomainNotFoundError, InvalidDomainXmlError } from "../../provider/libvirt/errors.js";
import * as virsh from "../../provider/libvirt/virsh.js";
import { closeAll } from "../../provider/ssh/pool.js";
import { rejection } from "../support/rejection.js";
import { loadTestHost, testConnection } from "../support/testhost.js";

const th = loadTestHost();
const host = new Host(testConnection(th));
const name = `ovmf-it-${randomUUID().slice(0, 8)}`;

/** A tiny diskless q35 domain: enough to define, start and stop. */
function tinyDomain(domainName: string, uuid?: string): string {
  return new XMLBuilder({ ignoreAttributes: false, format: true }).build({
    domain: {
      "@_type": th.domainType,
      name: domainName,
      ...(uuid === undefined ? {} : { uuid }),
      memory: { "@_unit": "MiB", "#text": 64 },
      vcpu: 1,
      os: { type: { "@_arch": "x86_64", "@_machine": "q35", "#text": "hvm" } },
    },
  }) as string;
}

afterAll(async () => {
  if (await virsh.exists(host, name)) {
    await virsh.destroy(host, name);
    await virsh.undefine(host, name, "keep");
  }
  closeAll();
});

describe("virsh on the test host", () => {
  it("defines, lists, starts, shuts down (ACPI ignored → destroy after the timeout) and undefines", async () => {
    await virsh.define(host, name, tinyDomain(name));
    expect(await virsh.list(host)).toContain(name);
    expect(await virsh.domstate(host, name)).toBe("shut off");
    expect(await virsh.dumpxml(host, name, true)).toContain(`<name>${name}</name>`);
    await virsh.start(host, name);
    expect(await virsh.domstate(host, name)).toBe("running");
    expect(await virsh.dumpxml(host, name)).toMatch(/machine='pc-q35-[\d.]+'/);
    // No guest OS answers ACPI, so the graceful shutdown times out and the domain is powered off.
    expect(await virsh.shutdown(host, name, 2, 250)).toBe("destroyed");
    expect(await virsh.domstate(host, name)).toBe("shut off");
    expect(await virsh.shutdown(host, name, 2)).toBe("already off");
    await virsh.undefine(host, name, "keep");
    expect(await virsh.exists(host, name)).toBe(false);
  });

  it("types the failures and names host, domain and operation", async () => {
    const missing = await rejection(virsh.domstate(host, `${name}-missing`));
    expect(missing).toBeInstanceOf(DomainNotFoundError);
    expect(missing.message).toContain(`virsh domstate of domain "${name}-missing" on ${host.target} failed`);

    await virsh.define(host, name, tinyDomain(name));
    const clash = await rejection(virsh.define(host, name, tinyDomain(name, randomUUID())));
    expect(clash).toBeInstanceOf(DomainExistsError);
    await virsh.undefine(host, name, "keep");

    const broken = `${name}-broken`;
    const invalid = await rejection(virsh.define(host, broken, "<domain type='kvm'><name>x</name>"));
    expect(invalid).toBeInstanceOf(InvalidDomainXmlError);
    expect(await virsh.exists(host, broken)).toBe(false);
  });
});
