import { randomUUID } from "node:crypto";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { Host } from "../../provider/host/host.js";
import * as virsh from "../../provider/libvirt/virsh.js";
import { q35DomainProvider } from "../../provider/q35-domain/provider.js";
import { closeAll } from "../../provider/ssh/pool.js";
import { nvramPathOf, plainDomain, removeTestDomain } from "../support/domain.js";
import { rejection } from "../support/rejection.js";
import { hostConnection } from "../support/testhost.js";

// cpuMode "custom" with a cpuModel, on the test host's libvirt and QEMU (TCG, which runs on any machine).
const conn = hostConnection("a");
const a = new Host(conn);
const names: string[] = [];
const fresh = (what: string) => {
  const name = `ovmf-cpu-${what}-${randomUUID().slice(0, 8)}`;
  names.push(name);
  return name;
};

afterEach(async () => {
  for (const name of names.splice(0)) await removeTestDomain(a, name);
});
afterAll(() => closeAll());

describe("a custom CPU model", () => {
  it("runs the guest on exactly that model", async () => {
    const name = fresh("qemu64");
    await a.check(["cp", "/usr/share/OVMF/OVMF_VARS_4M.fd", nvramPathOf(name)], "nvram");
    const { outs } = await q35DomainProvider.create(plainDomain(conn, name, { domainType: "qemu", cpuMode: "custom", cpuModel: "qemu64" }));
    expect(outs.state).toBe("running");
    expect(outs.xml).toMatch(/<cpu mode='custom' match='exact' check='[a-z]+'>\s*<model fallback='forbid'>qemu64<\/model>/);
  });

  it("a model this QEMU does not have fails the create with libvirt's reason and leaves no domain", async () => {
    const name = fresh("unknown");
    await a.check(["cp", "/usr/share/OVMF/OVMF_VARS_4M.fd", nvramPathOf(name)], "nvram");
    const err = await rejection(q35DomainProvider.create(plainDomain(conn, name, { domainType: "qemu", cpuMode: "custom", cpuModel: "NoSuchCpu-v9" })));
    expect(err.message).toMatch(/NoSuchCpu-v9/);
    expect(await virsh.exists(a, name)).toBe(false);
  });
});
