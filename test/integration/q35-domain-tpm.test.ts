import { createHash, randomUUID } from "node:crypto";
import { afterAll, describe, expect, it } from "vitest";
import { stat } from "../../provider/host/files.js";
import { Host } from "../../provider/host/host.js";
import * as virsh from "../../provider/libvirt/virsh.js";
import { q35DomainProvider, type DomainOutputs } from "../../provider/q35-domain/provider.js";
import type { DomainInputs } from "../../provider/q35-domain/spec.js";
import { closeAll } from "../../provider/ssh/pool.js";
import type { TpmStateInputs, TpmStateOutputs } from "../../provider/tpm-state/model.js";
import { tpmStateProvider } from "../../provider/tpm-state/provider.js";
import { manufactureCount, readPermall } from "../../provider/tpm-state/remote.js";
import { nvramPathOf, plainDomain, removeTestDomain } from "../support/domain.js";
import { rejection } from "../support/rejection.js";
import { hostConnection } from "../support/testhost.js";

// The TPM as part of the VM, with the real swtpm on two test hosts: a TpmState owns the state
// (/var/lib/libvirt/swtpm/<uuid>), the domain takes its UUID, and no undefine deletes it.
const connA = hostConnection("a");
const connB = hostConnection("b");
const a = new Host(connA);
const b = new Host(connB);
const tag = randomUUID().slice(0, 8);
const name = `ovmf-tpm-${tag}`;
const renamed = `ovmf-tpm2-${tag}`;
const LOCK = "/var/lib/swtpm-localca/.lock.swtpm-localca";
const uuids: string[] = [];

const domainInputs = (n: string, tpm: TpmStateOutputs, extra: Partial<DomainInputs> = {}) =>
  plainDomain(tpm.connection, n, { tpm: true, tpmState: { uuid: tpm.uuid }, usb: true, cdroms: [{}], shutdownTimeoutSeconds: 1, ...extra });
const sha = (b: Buffer | undefined) => (b === undefined ? "(none)" : createHash("sha256").update(b).digest("hex"));
const template = (host: Host, n: string) => host.check(["cp", "/usr/share/OVMF/OVMF_VARS_4M.fd", nvramPathOf(n)], "nvram");
const ls = async (host: Host, path: string) => (await host.check(["stat", "-c", "%U:%G %a", "--", path], "stat")).stdout.trim();

async function newTpm(inputs: Partial<TpmStateInputs> = {}): Promise<TpmStateOutputs> {
  const { outs } = await tpmStateProvider.create({ connection: connA, vmName: name, backup: true, ...inputs });
  uuids.push(outs.uuid);
  return outs;
}

afterAll(async () => {
  for (const [host, n] of [[a, name], [a, renamed], [b, renamed]] as const) await removeTestDomain(host, n);
  for (const u of uuids) for (const host of [a, b]) await host.run(["rm", "-rf", "--", `/var/lib/libvirt/swtpm/${u}`]);
  await a.run(["rm", "-f", "--", ...[name, renamed, `${name}-byhand`].map((n) => `/var/log/swtpm/libvirt/qemu/${n}-swtpm.log`)]);
  closeAll();
});

describe("TpmState: a VM's TPM, kept, moved and backed up", () => {
  let tpm: TpmStateOutputs;
  let domain: DomainOutputs;
  let identity: string;

  it("manufactures the TPM as libvirt would (EK and platform certificates), before any domain exists", async () => {
    tpm = await newTpm();
    expect(tpm.uuid).toMatch(/^[0-9a-f-]{36}$/);
    expect(tpm.manufactured).toBe(true);
    expect(tpm.certificates.map((c) => `${c.kind} ${c.keyType}`)).toEqual(["ek rsa", "platform rsa", "ek ec"]);
    expect(tpm.certificates[0]!.subject).toBe(`CN=${name}:${tpm.uuid}`);
    expect(tpm.sha256).toBe(sha(await readPermall(a, tpm.uuid)));
    expect(tpm.backupData).toBeDefined();
    expect(await ls(a, tpm.path)).toBe("root:root 711");
    expect(await ls(a, `${tpm.path}/tpm2`)).toBe("tss:tss 700");
    expect((await ls(a, `${tpm.path}/tpm2/tpm2-00.permall`)).startsWith("tss:tss")).toBe(true);
    expect(await manufactureCount(a, name)).toBe(1);
    identity = tpm.certificates[0]!.sha256;
  });

  it("the domain takes the TpmState's UUID and runs with that TPM: libvirt manufactures none", async () => {
    await template(a, name);
    domain = (await q35DomainProvider.create(domainInputs(name, tpm))).outs;
    expect(domain.state).toBe("running");
    expect(domain.uuid).toBe(tpm.uuid);
    const live = await virsh.dumpxml(a, name);
    expect(live).toMatch(/<tpm model='tpm-crb'>/);
    expect(live).toMatch(/<input type='tablet' bus='usb'>/);
    expect(live).toMatch(/<target dev='sda' bus='sata'\/>/);
    expect(await manufactureCount(a, name)).toBe(1);
  });

  it("a rename (the domain undefined, another defined under the same UUID) keeps the TPM: same state, no manufacturing", async () => {
    await virsh.shutdown(a, name, 1);
    const before = sha(await readPermall(a, tpm.uuid));
    await q35DomainProvider.delete("", domain);
    expect(await virsh.exists(a, name)).toBe(false);
    expect(sha(await readPermall(a, tpm.uuid))).toBe(before); // undefine --keep-tpm
    await a.check(["mv", "--", nvramPathOf(name), nvramPathOf(renamed)], "rename nvram");
    domain = (await q35DomainProvider.create(domainInputs(renamed, tpm, { running: false }))).outs;
    expect(domain.uuid).toBe(tpm.uuid);
    expect(sha(await readPermall(a, tpm.uuid))).toBe(before);
    await virsh.start(a, renamed);
    expect(await manufactureCount(a, renamed)).toBe(0);
    const read = (await tpmStateProvider.read("", tpm)).props;
    expect(read.certificates[0]!.sha256).toBe(identity);
  });

  it("moves to host b while its domain runs: the domain is stopped first, the copy verified, the original removed after", async () => {
    const before = sha(await readPermall(a, tpm.uuid));
    const moved = (await tpmStateProvider.update("", tpm, { ...tpm, connection: connB })).outs;
    expect(await virsh.domstate(a, renamed)).toBe("shut off");
    expect(sha(await readPermall(a, tpm.uuid))).not.toBe(before); // gone from a: "(none)"
    expect(await stat(a, tpm.path)).toBeUndefined();
    expect(sha(await readPermall(b, tpm.uuid))).toBe(before);
    expect(moved.sha256).toBe(before);
    expect(await ls(b, `${tpm.path}/tpm2`)).toBe("tss:tss 700");
    expect(await ls(b, tpm.path)).toBe("root:root 711");
    // The domain follows (as a replacement on the new host would): same UUID, same TPM on b.
    await q35DomainProvider.delete("", domain);
    await b.check(["cp", "/usr/share/OVMF/OVMF_VARS_4M.fd", nvramPathOf(renamed)], "nvram on b");
    tpm = moved;
    domain = (await q35DomainProvider.create(domainInputs(renamed, tpm))).outs;
    expect(domain.state).toBe("running");
    expect((await tpmStateProvider.read("", tpm)).props.certificates[0]!.sha256).toBe(identity);
  });

  it("a lost state shows as a change, and update restores it from the backup, byte for byte", async () => {
    await virsh.destroy(b, renamed);
    const before = sha(await readPermall(b, tpm.uuid));
    tpm = (await tpmStateProvider.read("", tpm)).props; // refresh: the backup is this state
    await b.check(["rm", "-rf", "--", tpm.path], "lose the state");
    // The diff reads no host: before a refresh the loss is not seen.
    expect((await tpmStateProvider.diff("", tpm, tpm)).changes).toBe(false);
    // refresh records the loss (sha256 ""), still a manufactured identity; the backup stays to restore from.
    const lost = (await tpmStateProvider.read("", tpm)).props;
    expect(lost).toMatchObject({ manufactured: true, sha256: "", certificates: tpm.certificates });
    expect(lost.backupData).toBe(tpm.backupData);
    expect((await tpmStateProvider.diff("", lost, tpm)).changes).toBe(true);
    tpm = (await tpmStateProvider.update("", lost, tpm)).outs;
    expect(sha(await readPermall(b, tpm.uuid))).toBe(before);
    expect(await ls(b, `${tpm.path}/tpm2`)).toBe("tss:tss 700");
    expect((await tpmStateProvider.diff("", tpm, tpm)).changes).toBe(false);
  });

  it("refuses to move while a domain no Q35Domain manages runs with it, and leaves it running", async () => {
    const other = await newTpm({ backup: false });
    const xml = [
      "<domain type='qemu'>",
      `<name>${name}-byhand</name><uuid>${other.uuid}</uuid><memory unit='MiB'>64</memory><vcpu>1</vcpu>`,
      "<os><type arch='x86_64' machine='q35'>hvm</type></os>",
      "<devices><tpm model='tpm-crb'><backend type='emulator' version='2.0'/></tpm></devices>",
      "</domain>",
    ].join("");
    await virsh.define(a, `${name}-byhand`, xml);
    try {
      await virsh.start(a, `${name}-byhand`, 0);
      const err = await rejection(tpmStateProvider.update("", other, { ...other, connection: connB }));
      expect(err.message).toContain(`domain "${name}-byhand" (running) runs with it, and no Q35Domain manages it`);
      expect(await virsh.domstate(a, `${name}-byhand`)).toBe("running");
      expect(await stat(a, other.path)).toBeDefined();
      expect(await stat(b, other.path)).toBeUndefined();
    } finally {
      await removeTestDomain(a, `${name}-byhand`);
    }
  });

  it("is not deleted while a domain uses it; after the domain goes, delete removes it", async () => {
    const err = await rejection(tpmStateProvider.delete("", tpm));
    expect(err.message).toContain(`domain "${renamed}" (UUID ${tpm.uuid}) still uses it`);
    expect(await stat(b, tpm.path)).toBeDefined();
    await q35DomainProvider.delete("", domain);
    await tpmStateProvider.delete("", tpm);
    expect(await stat(b, tpm.path)).toBeUndefined();
  });

  it("without a backup, a lost TPM is an error, never silently a new TPM", async () => {
    const plain = await newTpm({ backup: false });
    await a.check(["rm", "-rf", "--", plain.path], "lose the state");
    const err = await rejection(tpmStateProvider.update("", plain, plain));
    expect(err.message).toContain("keeps no backup: a new TPM would be another identity");
    expect(await stat(a, plain.path)).toBeUndefined();
  });

  it("copies a TPM's identity only when asked explicitly", async () => {
    const original = await newTpm();
    await expect(tpmStateProvider.create({ connection: connA, vmName: name, source: { connection: connA, uuid: original.uuid } })).rejects.toThrow(/duplicates its identity/);
    const copy = await newTpm({ source: { connection: connA, uuid: original.uuid }, allowIdentityClone: true });
    expect(copy.uuid).not.toBe(original.uuid);
    expect(copy.certificates.map((c) => c.sha256)).toEqual(original.certificates.map((c) => c.sha256));
  });

  it("says why swtpm could not manufacture the TPM and how to fix it, and leaves no state", async () => {
    // Fault: the local CA's lock file belongs to root (what a libvirtd that ran swtpm as root leaves).
    const before = (await a.check(["stat", "-c", "%u:%g %a", "--", LOCK], "stat")).stdout.trim().split(" ");
    await a.check(["chown", "root:root", "--", LOCK], "chown");
    await a.check(["chmod", "644", "--", LOCK], "chmod");
    const uuid = randomUUID();
    uuids.push(uuid);
    try {
      const err = await rejection(tpmStateProvider.create({ connection: connA, vmName: name, uuid }));
      expect(err.message).toContain(`swtpm: Need read/write rights on ${LOCK} for user tss`);
      expect(err.message).toContain("on the host run `chown -R tss /var/lib/swtpm-localca`");
      expect(err.message).toContain("Nothing was created.");
    } finally {
      await a.check(["chown", before[0] ?? "tss:root", "--", LOCK], "chown back");
      await a.check(["chmod", before[1] ?? "644", "--", LOCK], "chmod back");
    }
    expect(await stat(a, `/var/lib/libvirt/swtpm/${uuid}`)).toBeUndefined();
    expect((await a.check(["sh", "-c", 'ls -a /var/lib/libvirt/swtpm | grep -c "^\\.$1" || true', "sh", uuid], "temp dirs")).stdout.trim()).toBe("0");
  });
});
