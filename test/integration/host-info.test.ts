import { afterAll, describe, expect, it } from "vitest";
import { Host } from "../../provider/host/host.js";
import { hostInfoProvider } from "../../provider/host-info/provider.js";
import * as virsh from "../../provider/libvirt/virsh.js";
import { closeAll } from "../../provider/ssh/pool.js";
import { hostConnection, loadTestHost } from "../support/testhost.js";

const th = loadTestHost();
afterAll(() => closeAll());

describe("HostInfo against test host a", () => {
  const connection = hostConnection("a", th);

  it("create returns the versions and the readiness report (the check-host report)", async () => {
    const { id, outs } = await hostInfoProvider.create({ connection });
    const live = await virsh.version(new Host(connection));
    expect(id).toBe(`root@127.0.0.1:${connection.port}`);
    expect(outs).toMatchObject({ libvirtVersion: live.libvirt, hypervisor: live.hypervisor, hypervisorVersion: live.hypervisorVersion });
    expect(outs.distribution).toBe("Debian GNU/Linux 12 (bookworm)");
    expect(outs.readiness.ok).toBe(true);
    const status = Object.fromEntries(outs.readiness.checks.map((c) => [c.name, c.status]));
    expect(status).toMatchObject({ libvirt: "ok", qemu: "ok", ovmf: "ok", swtpm: "ok", "keep-tpm": "ok", "qemu-img": "ok", "streamlocal-forwarding": "ok", "virt-ssh-helper": "ok" });
    // The probe's verdict for a default SecureBootVm's firmware: the one testhost.json records.
    expect(status["kvm"]).toBe(th.domainType === "kvm" ? "ok" : "warning");
    expect(outs.readiness.checks.every((c) => c.detail !== "")).toBe(true);
  });

  it("read (refresh) and update report it again", async () => {
    const { props } = await hostInfoProvider.read("x", { connection } as never);
    expect(props.readiness.checks.find((c) => c.name === "libvirt")).toMatchObject({ status: "ok", detail: expect.stringMatching(/^libvirt \d+\.\d+\.\d+; libvirtd answers on qemu:\/\/\/system/) });
    const { outs } = await hostInfoProvider.update("x", props, { connection });
    expect(outs.readiness.ok).toBe(true);
  });

  it("a user whose sudo wants a password: the report says so (and HostInfo fails as before, libvirt refusing that user)", async () => {
    const spec = { ...connection, user: th.users.noSudo, sudo: true };
    await expect(hostInfoProvider.create({ connection: spec })).rejects.toThrow(/sudo on ovmf-nosudo@127\.0\.0\.1:\d+ wants a password/);
  });
});
