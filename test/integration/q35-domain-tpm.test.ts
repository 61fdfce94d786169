import { randomUUID } from "node:crypto";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { Host } from "../../provider/host/host.js";
import { TpmSetupError } from "../../provider/libvirt/errors.js";
import * as virsh from "../../provider/libvirt/virsh.js";
import { q35DomainProvider } from "../../provider/q35-domain/provider.js";
import type { DomainInputs } from "../../provider/q35-domain/spec.js";
import { closeAll } from "../../provider/ssh/pool.js";
import { nvramPathOf, plainDomain, removeTestDomain } from "../support/domain.js";
import { hostConnection } from "../support/testhost.js";

const conn = hostConnection("a");
const a = new Host(conn);
const name = `ovmf-tpm-${randomUUID().slice(0, 8)}`;
const nvramPath = nvramPathOf(name);
const swtpmLog = `/var/log/swtpm/libvirt/qemu/${name}-swtpm.log`;
const LOCK = "/var/lib/swtpm-localca/.lock.swtpm-localca";
const inputs: DomainInputs = plainDomain(conn, name, { tpm: true, usb: true, cdroms: [{}], shutdownTimeoutSeconds: 1 });

// Each test starts from no domain: a failure in one never makes the next meet "already exists".
afterEach(async () => {
  if (await virsh.exists(a, name)) {
    await virsh.destroy(a, name);
    await virsh.undefine(a, name, "keep");
  }
});
afterAll(async () => {
  await removeTestDomain(a, name);
  closeAll();
});

describe("Q35Domain devices that need host support", () => {
  it("runs with an emulated TPM 2.0 (swtpm), a USB tablet and an empty SATA tray", async () => {
    await a.check(["cp", "/usr/share/OVMF/OVMF_VARS_4M.fd", nvramPath], "nvram");
    const { outs } = await q35DomainProvider.create(inputs);
    expect(outs.state).toBe("running");
    const live = await virsh.dumpxml(a, name);
    expect(live).toMatch(/<tpm model='tpm-crb'>/);
    expect(live).toMatch(/<backend type='emulator' version='2.0'/);
    expect(live).toMatch(/<input type='tablet' bus='usb'>/);
    expect(live).toMatch(/<target dev='sda' bus='sata'\/>/);
    // The TPM was manufactured as libvirt's swtpm user, as on a Debian host (the next test relies on it).
    expect((await a.check(["head", "-n", "1", "--", swtpmLog], "swtpm log")).stdout).toMatch(/^Starting vTPM manufacturing as tss:tss/);
    await q35DomainProvider.delete("", outs);
    expect(await virsh.exists(a, name)).toBe(false);
  });

  it("says why the TPM could not be set up and how to fix it, and leaves nothing defined", async () => {
    // Fault: the local CA's lock file belongs to root (what a libvirtd that ran swtpm as root leaves).
    await a.check(["cp", "/usr/share/OVMF/OVMF_VARS_4M.fd", nvramPath], "nvram");
    const before = (await a.check(["stat", "-c", "%u:%g %a", "--", LOCK], "stat")).stdout.trim().split(" ");
    await a.check(["chown", "root:root", "--", LOCK], "chown");
    await a.check(["chmod", "644", "--", LOCK], "chmod");
    try {
      const err = await q35DomainProvider.create(inputs).then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(TpmSetupError);
      const message = (err as Error).message;
      expect(message).toContain(`swtpm: Need read/write rights on ${LOCK} for user tss`);
      expect(message).toContain("on the host run `chown -R tss /var/lib/swtpm-localca`, or set tpm: false");
    } finally {
      await a.check(["chown", before[0] ?? "tss:root", "--", LOCK], "chown back");
      await a.check(["chmod", before[1] ?? "644", "--", LOCK], "chmod back");
    }
    expect(await virsh.exists(a, name)).toBe(false);
    expect((await a.run(["test", "-f", nvramPath])).code).toBe(0);
  });
});
