import { randomUUID } from "node:crypto";
import { afterAll, describe, expect, it } from "vitest";
import { setWarningSink } from "../../provider/engine-log.js";
import { stat } from "../../provider/host/files.js";
import { Host } from "../../provider/host/host.js";
import { managedMetadata } from "../../provider/libvirt/nvram-users.js";
import { parseDomain } from "../../provider/libvirt/domain-xml.js";
import * as virsh from "../../provider/libvirt/virsh.js";
import { markPathOf } from "../../provider/nvram/ownership.js";
import { nvramProvider } from "../../provider/nvram/provider.js";
import type { NvramInputs } from "../../provider/nvram/model.js";
import { q35DomainProvider } from "../../provider/q35-domain/provider.js";
import { tpmStateProvider } from "../../provider/tpm-state/provider.js";
import { readPermall, readStateMark, removeState } from "../../provider/tpm-state/remote.js";
import { closeAll } from "../../provider/ssh/pool.js";
import { nvramPathOf, plainDomain, removeTestDomain, unmanagedUefiDomain } from "../support/domain.js";
import { rejection } from "../support/rejection.js";
import { hostConnection, loadTestHost } from "../support/testhost.js";

// Two stacks (dev and staging, two colleagues, a copied program) deploy the same VM name to one
// host: the second must neither take over nor delete the first one's domain and NVRAM file.
const conn = hostConnection("a");
const a = new Host(conn);
const th = loadTestHost();
const name = `ovmf-own-${randomUUID().slice(0, 8)}`;
const urn = (stack: string, kind: string) => ({ stack: `organization/app/${stack}`, resource: `urn:pulumi:${stack}::app::pulumi-nodejs:dynamic/ovmf:${kind}::${name}` });
const firmware = { codePath: "/usr/share/OVMF/OVMF_CODE_4M.fd", codeSize: 3_653_632, varsTemplatePath: "/usr/share/OVMF/OVMF_VARS_4M.fd", variant: "4M" };
const nvram = (stack: string, extra: Partial<NvramInputs> = {}): NvramInputs => ({ connection: conn, firmware, path: nvramPathOf(name), owner: urn(stack, "Nvram"), ...extra });
const domain = (stack: string, extra = {}) => plainDomain(conn, name, { running: false, domainType: th.domainType, owner: urn(stack, "Q35Domain"), ...extra });
const warnings: string[] = [];
const tpmUuid = randomUUID();

afterAll(async () => {
  setWarningSink(undefined);
  await removeTestDomain(a, name);
  await removeTestDomain(a, `${name}-hand`);
  await a.run(["rm", "-f", "--", markPathOf(nvramPathOf(name)), nvramPathOf(`${name}-hand`)]);
  await removeState(a, tpmUuid);
  closeAll();
});

describe("owner marks on a real host", () => {
  it("a second stack's create is refused, at preview and at create, naming the first; nothing of the first changes", async () => {
    const first = { nvram: (await nvramProvider.create(nvram("dev"))).outs, domain: (await q35DomainProvider.create(domain("dev"))).outs };
    expect(managedMetadata(await virsh.dumpxml(a, name, true))?.owner).toEqual({ ...urn("dev", "Q35Domain"), id: first.domain.ownerId });
    const check = await q35DomainProvider.check({}, domain("staging") as unknown as Record<string, unknown>);
    expect(check.failures).toEqual([{ property: "name", reason: expect.stringContaining(`belongs to ${urn("dev", "Q35Domain").resource} of stack organization/app/dev`) as string }]);
    const nvramCheck = await nvramProvider.check({}, nvram("staging") as unknown as Record<string, unknown>);
    expect(nvramCheck.failures).toEqual([{ property: "path", reason: expect.stringContaining(`belongs to ${urn("dev", "Nvram").resource}`) as string }]);
    expect((await rejection(nvramProvider.create(nvram("staging")))).message).toContain("Nothing was changed");
    expect((await rejection(q35DomainProvider.create(domain("staging", { memoryMiB: 256 })))).message).toContain("Give this VM another name, or set adopt: true");
    expect(parseDomain(await virsh.dumpxml(a, name, true)).memoryMiB).toBe(128);
    expect((await stat(a, first.nvram.path))?.size).toBe(540_672);
    // The first stack's own create again (a result lost to a dropped connection) converges.
    const again = await q35DomainProvider.create(domain("dev"));
    expect(again.outs.ownerId).toBe(first.domain.ownerId);
    expect((await nvramProvider.create(nvram("dev"))).outs.ownerId).toBe(first.nvram.ownerId);
  });

  it("adopt takes them over on purpose with a warning; the first stack's destroy then leaves both in place", async () => {
    setWarningSink((m) => warnings.push(m));
    const firstDomain = (await q35DomainProvider.create(domain("dev"))).outs;
    const firstNvram = (await nvramProvider.create(nvram("dev"))).outs;
    const taken = await nvramProvider.create(nvram("staging", { adopt: true }));
    const takenDomain = await q35DomainProvider.create(domain("staging", { adopt: true }));
    expect(warnings.some((w) => w.includes(`from ${urn("dev", "Q35Domain").resource} of stack organization/app/dev (adopt: true)`))).toBe(true);
    expect(takenDomain.outs.uuid).toBe(firstDomain.uuid);
    await q35DomainProvider.delete("x", firstDomain);
    await nvramProvider.delete("x", firstNvram);
    expect(await virsh.exists(a, name)).toBe(true);
    expect(await stat(a, taken.outs.path)).toBeDefined();
    expect(warnings.some((w) => w.includes(`domain "${name}" on ${a.target} was left in place and only removed from this stack: it now belongs to ${urn("staging", "Q35Domain").resource}`))).toBe(true);
    expect(warnings.some((w) => w.includes(`Nvram ${taken.outs.path} on ${a.target} was left in place and only removed from this stack: it now belongs to ${urn("staging", "Nvram").resource}`))).toBe(true);
    // Its new owner deletes them.
    await q35DomainProvider.delete("x", takenDomain.outs);
    await nvramProvider.delete("x", taken.outs);
    expect(await virsh.exists(a, name)).toBe(false);
    expect(await stat(a, taken.outs.path)).toBeUndefined();
    expect(await stat(a, markPathOf(taken.outs.path))).toBeUndefined();
  });

  it("adopting a domain made with plain virsh under another name keeps its NVRAM file: another Nvram path is refused, naming both", async () => {
    const hand = `${name}-hand`;
    await a.check(["cp", firmware.varsTemplatePath, nvramPathOf(hand)], "nvram");
    await virsh.define(a, hand, unmanagedUefiDomain({ name: hand, domainType: th.domainType, codePath: firmware.codePath, nvramPath: nvramPathOf(hand) }));
    const inputs = plainDomain(conn, hand, { running: false, domainType: th.domainType, adopt: true, owner: urn("dev", "Q35Domain"), nvram: { path: nvramPathOf(name), variant: "4M" } });
    const check = await q35DomainProvider.check({}, inputs as unknown as Record<string, unknown>);
    expect(check.failures[0]?.property).toBe("adopt");
    expect(check.failures[0]?.reason).toContain(`uses the NVRAM file ${nvramPathOf(hand)}, but its Nvram is ${nvramPathOf(name)}`);
    const err = await rejection(q35DomainProvider.create(inputs));
    expect(err.message).toContain(`Give the Nvram path: "${nvramPathOf(hand)}"`);
    expect(await virsh.dumpxml(a, hand, true)).toContain(nvramPathOf(hand));
    // With its own file declared it is adopted, the file kept.
    const { outs } = await q35DomainProvider.create({ ...inputs, nvram: { path: nvramPathOf(hand), variant: "4M" } });
    expect(parseDomain(outs.xml).nvramPath).toBe(nvramPathOf(hand));
  });

  it("a TPM state with another stack's mark is refused under its uuid, taken over only with adopt, and left by the first stack's delete", async () => {
    const tpm = (stack: string, extra = {}) => ({ connection: conn, uuid: tpmUuid, vmName: name, owner: urn(stack, "TpmState"), ...extra });
    const first = (await tpmStateProvider.create(tpm("dev"))).outs;
    expect((await readStateMark(a, tpmUuid))?.id).toBe(first.ownerId);
    const check = await tpmStateProvider.check({}, tpm("staging"));
    expect(check.failures).toEqual([{ property: "uuid", reason: expect.stringContaining(`belongs to ${urn("dev", "TpmState").resource} of stack organization/app/dev`) as string }]);
    expect((await rejection(tpmStateProvider.create(tpm("staging")))).message).toContain("Nothing was changed");
    const taken = (await tpmStateProvider.create(tpm("staging", { adopt: true }))).outs;
    expect(taken.sha256).toBe(first.sha256);
    await tpmStateProvider.delete("x", first);
    expect(await readPermall(a, tpmUuid)).toBeDefined();
    await tpmStateProvider.delete("x", taken);
    expect(await readPermall(a, tpmUuid)).toBeUndefined();
  });

  it("a domain from before owner marks gets its mark from the next update, written into its metadata without a restart", async () => {
    const legacy = { ...domain("dev"), running: true };
    delete legacy.owner;
    const { outs } = await q35DomainProvider.create(legacy);
    expect(managedMetadata(await virsh.dumpxml(a, name, true))?.owner).toBeUndefined();
    // A restart would give the running domain another id.
    const domid = async () => (await a.check(["virsh", "-q", "-c", "qemu:///system", "domid", "--", name], "domid")).stdout.trim();
    const before = await domid();
    const diff = await q35DomainProvider.diff("x", outs, { ...legacy, owner: urn("dev", "Q35Domain") });
    expect(diff).toMatchObject({ changes: true, replaces: [] });
    const updated = await q35DomainProvider.update("x", outs, { ...legacy, owner: urn("dev", "Q35Domain") });
    expect(managedMetadata(await virsh.dumpxml(a, name, true))?.owner).toEqual({ ...urn("dev", "Q35Domain"), id: updated.outs.ownerId });
    expect(await domid()).toBe(before);
    expect(parseDomain(updated.outs.xml).uuid).toBe(outs.uuid);
    await removeTestDomain(a, name);
  });
});
