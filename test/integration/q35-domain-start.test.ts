import { randomUUID } from "node:crypto";
import { XMLBuilder } from "fast-xml-parser";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { setWarningSink } from "../../provider/engine-log.js";
import { sha256, stat } from "../../provider/host/files.js";
import { Host } from "../../provider/host/host.js";
import { DomainNotRunningError } from "../../provider/libvirt/errors.js";
import * as virsh from "../../provider/libvirt/virsh.js";
import { PROBE_CACHE_DIR, probeKvm, resolveDomainType } from "../../provider/libvirt/kvm-probe.js";
import { q35DomainProvider } from "../../provider/q35-domain/provider.js";
import { closeAll } from "../../provider/ssh/pool.js";
import { nvramPathOf, plainDomain, removeTestDomain } from "../support/domain.js";
import { rejection } from "../support/rejection.js";
import { hostConnection, loadTestHost } from "../support/testhost.js";

// A VM that does not run is never reported as created. The failing QEMUs (scripts/testhost.sh)
// behave on any machine as nested KVM does with OVMF: the guest starts, then QEMU prints a KVM
// internal error and stops it ("paused (unknown)"); or QEMU dies ("shut off (crashed)").
const th = loadTestHost();
const conn = hostConnection("a");
const a = new Host(conn);
const names: string[] = [];
const fresh = (what: string) => {
  const name = `ovmf-start-${what}-${randomUUID().slice(0, 8)}`;
  names.push(name);
  return name;
};
const emulator = (path: string) => ({ devicesXml: `<emulator>${path}</emulator>` });
const PLAIN = { codePath: "/usr/share/OVMF/OVMF_CODE_4M.fd", varsTemplatePath: "/usr/share/OVMF/OVMF_VARS_4M.fd", secureBoot: false, needsSmm: false, cpuMode: "host-passthrough" };
const warnings: string[] = [];

afterEach(async () => {
  setWarningSink(undefined);
  warnings.length = 0;
  for (const name of names.splice(0)) await removeTestDomain(a, name);
});
afterAll(() => closeAll());

async function withNvram(name: string): Promise<string> {
  await a.check(["cp", "/usr/share/OVMF/OVMF_VARS_4M.fd", nvramPathOf(name)], "nvram");
  return sha256(a, nvramPathOf(name));
}

describe("a started domain must keep running", () => {
  it("create fails when the guest pauses with a KVM internal error: says why, removes the definition, keeps the NVRAM", async () => {
    const name = fresh("pause");
    const before = await withNvram(name);
    const err = await rejection(q35DomainProvider.create(plainDomain(conn, name, { domainType: "qemu", ...emulator(th.failingEmulators.kvmFails) })));
    expect(err).toBeInstanceOf(DomainNotRunningError);
    expect(err.message).toBe(
      `domain "${name}" on ${a.target} did not keep running after it started: virsh domstate --reason says "paused (unknown)", ` +
        `and its QEMU log (/var/log/libvirt/qemu/${name}.log) says: KVM internal error. Suberror: 1; emulation failure. ` +
        `KVM on this host starts the guest but cannot run its firmware, as is common under nested virtualization: set domainType: "qemu" to run it with software emulation (slower), or run it on a host whose KVM runs OVMF. ` +
        `It was powered off and its definition removed; its NVRAM file is kept. Nothing was created.`,
    );
    expect(await virsh.exists(a, name)).toBe(false);
    expect(await sha256(a, nvramPathOf(name))).toBe(before);
  });

  it("create fails when QEMU crashes right after the start, quoting QEMU", async () => {
    const name = fresh("crash");
    await withNvram(name);
    const err = await rejection(q35DomainProvider.create(plainDomain(conn, name, { domainType: "qemu", ...emulator(th.failingEmulators.crashes) })));
    expect(err).toBeInstanceOf(DomainNotRunningError);
    expect(err.message).toContain(`virsh domstate --reason says "shut off (crashed)", and its QEMU log (/var/log/libvirt/qemu/${name}.log) says: qemu-system-x86_64: simulated crash: the emulator died; shutting down, reason=crashed. QEMU exited;`);
    expect(await virsh.exists(a, name)).toBe(false);
  });

  it("an update whose restart fails leaves the domain defined and shut off, with the definition the stack still records, and says so", async () => {
    const name = fresh("update");
    await withNvram(name);
    const inputs = plainDomain(conn, name, { domainType: "qemu", shutdownTimeoutSeconds: 1 });
    const { outs } = await q35DomainProvider.create(inputs);
    expect(outs.state).toBe("running");
    const failing = { ...inputs, ...emulator(th.failingEmulators.kvmFails) };
    const err = await rejection(q35DomainProvider.update("", outs, failing));
    expect(err).toBeInstanceOf(DomainNotRunningError);
    expect(err.message).toMatch(/says "paused \(unknown\)".*emulation failure\. KVM on this host starts the guest but cannot run its firmware.* It is left defined and shut off, with its previous definition put back \(the stack keeps the old inputs\); fix the cause and run pulumi up again, or, to keep the old settings, revert the change and run pulumi up --refresh to start it\.$/);
    expect(await virsh.domstate(a, name)).toBe("shut off");
    expect(await virsh.dumpxml(a, name, true)).not.toContain(th.failingEmulators.kvmFails);
    // Reverted: refresh sees it off, and up (still the old inputs) starts it with the same UUID.
    const { props } = await q35DomainProvider.read("", outs);
    expect(props).toMatchObject({ state: "shut off", running: false });
    const again = await q35DomainProvider.update("", props as typeof outs, inputs);
    expect(again.outs.state).toBe("running");
    expect(again.outs.uuid).toBe(outs.uuid);
    // A power-on alone that fails leaves it off too, and says so.
    const off = await q35DomainProvider.update("", again.outs, { ...inputs, running: false });
    await a.check(["virsh", "-q", "define", "/dev/stdin"], "define", { stdin: off.outs.xml.replace(/<emulator>[^<]*<\/emulator>/, `<emulator>${th.failingEmulators.kvmFails}</emulator>`) });
    const on = await rejection(q35DomainProvider.update("", off.outs, inputs));
    expect(on.message).toMatch(/It is left defined and shut off; fix the cause and run pulumi up again\.$/);
  });

  it("the same check holds for an explicit domainType kvm", async () => {
    const name = fresh("kvm");
    await withNvram(name);
    const err = await rejection(q35DomainProvider.create(plainDomain(conn, name, { domainType: "kvm", ...emulator(th.failingEmulators.kvmFails) })));
    // Without usable KVM libvirt refuses the start; with KVM the guest pauses: neither is "created".
    expect(err.message).toMatch(new RegExp(`(did not keep running after it started|virsh start of domain "${name}")`));
    expect(await virsh.exists(a, name)).toBe(false);
  });
});

/** Whether KVM here runs Debian's OVMF: an independent look, with a raw transient domain (looked at once). */
let oracle: Promise<"no kvm" | "stops" | "runs"> | undefined;
const kvmRunsOvmfHere = () => (oracle ??= lookAtKvm());
async function lookAtKvm(): Promise<"no kvm" | "stops" | "runs"> {
  const name = fresh("oracle");
  const serial = `/var/log/libvirt/qemu/${name}-serial.log`;
  const xml = new XMLBuilder({ ignoreAttributes: false }).build({
    domain: {
      "@_type": "kvm", name, memory: { "@_unit": "MiB", "#text": 256 },
      os: { type: { "@_arch": "x86_64", "@_machine": "q35", "#text": "hvm" }, loader: { "@_readonly": "yes", "@_type": "pflash", "#text": PLAIN.codePath }, nvram: { "@_template": PLAIN.varsTemplatePath, "#text": nvramPathOf(name) } },
      features: { acpi: "" },
      cpu: { "@_mode": "host-passthrough" },
      devices: { serial: { "@_type": "file", source: { "@_path": serial } } },
    },
  }) as string;
  const created = await a.run(["virsh", "-q", "create", "/dev/stdin"], { stdin: xml });
  if (created.code !== 0) {
    if (/kvm/i.test(created.stderr)) return "no kvm";
    throw new Error(`the oracle domain was refused: ${created.stderr}`);
  }
  await new Promise((r) => setTimeout(r, 10_000));
  const state = await virsh.domstate(a, name);
  const shell = (await a.run(["grep", "-c", "-a", "BdsDxe", serial])).stdout.trim() !== "0";
  await virsh.destroy(a, name);
  return state === "running" && shell ? "runs" : "stops";
}

describe("domainType auto proves that KVM runs the firmware", () => {
  it("on this machine it decides as KVM really behaves with OVMF, and the test host agrees", async () => {
    setWarningSink((m) => warnings.push(m));
    const truth = await kvmRunsOvmfHere();
    const decided = await resolveDomainType(new Host({ ...conn, port: conn.port }), "auto", { ...PLAIN, cpuMode: "host-passthrough" });
    expect(decided).toBe(truth === "runs" ? "kvm" : "qemu");
    expect(th.domainType).toBe(decided);
    if (truth === "stops") expect(warnings.join("\n")).toMatch(/its firmware stopped right after it started \(virsh domstate --reason: "paused \(unknown\)", and QEMU said: KVM internal error\. Suberror: 1; emulation failure\)/);
    if (truth === "no kvm") expect(warnings.join("\n")).toMatch(/because KVM cannot run OVMF \(\/usr\/share\/OVMF\/OVMF_CODE_4M\.fd\) in a host-passthrough guest there: \S/);
    if (truth === "runs") expect(warnings).toEqual([]);
  });

  it("with a QEMU that stops the guest right after it starts, it falls back to qemu and quotes QEMU", async () => {
    setWarningSink((m) => warnings.push(m));
    const truth = await kvmRunsOvmfHere();
    const probe = fresh("probe");
    expect(await probeKvm(a, { ...PLAIN, emulator: th.failingEmulators.kvmFails }, probe)).toBe("qemu");
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(`domainType "auto" uses qemu (TCG: software emulation, much slower than KVM) on ${a.target}, because KVM cannot run OVMF (/usr/share/OVMF/OVMF_CODE_4M.fd) in a host-passthrough guest there: `);
    if (truth !== "no kvm") expect(warnings[0]).toContain(`its firmware stopped right after it started (virsh domstate --reason: "paused (unknown)", and QEMU said: KVM internal error. Suberror: 1; emulation failure)`);
    // The probe leaves nothing behind.
    expect(await virsh.exists(a, probe)).toBe(false);
    for (const f of [nvramPathOf(probe), `/var/log/libvirt/qemu/${probe}-serial.log`, `/var/log/libvirt/qemu/${probe}.log`]) expect(await stat(a, f), f).toBeUndefined();
  });

  it("keeps its verdict on the host: a new provider process reads it instead of probing, a changed emulator probes again", async () => {
    setWarningSink((m) => warnings.push(m));
    // A guest kind of its own (the QEMU that stops every KVM guest), so that no other verdict is touched.
    const guest = { ...PLAIN, cpuMode: "host-model", emulator: th.failingEmulators.kvmFails };
    const forget = () => (globalThis as Record<symbol, Map<string, unknown> | undefined>)[Symbol.for("pulumi-ovmf.kvm-probe")]?.clear();
    const kept = async () => (await a.run(["sh", "-c", 'ls -- "$1" 2>/dev/null || true', "sh", PROBE_CACHE_DIR])).stdout.split("\n").filter((f) => f.endsWith(".json"));
    const before = await kept();
    const made: string[] = [];
    try {
      expect(await resolveDomainType(a, "auto", guest)).toBe("qemu");
      const first = (await kept()).filter((f) => !before.includes(f));
      made.push(...first);
      expect(first).toHaveLength(1);
      const file = `${PROBE_CACHE_DIR}/${first[0]}`;
      expect(JSON.parse((await a.check(["cat", "--", file], "verdict")).stdout)).toMatchObject({ type: "qemu", why: expect.stringMatching(/\S/) as unknown });
      expect(await stat(a, file)).toMatchObject({ mode: "644", owner: "root" });
      // A new process (the in-process verdicts forgotten) believes the host: a forged verdict proves
      // that nothing was probed.
      await a.check(["sh", "-c", 'printf %s \'{"type":"kvm"}\' > "$1"', "sh", file], "forge");
      forget();
      expect(await resolveDomainType(a, "auto", guest)).toBe("kvm");
      // The emulator changes (mtime): another digest, a real probe, its own file.
      await a.check(["touch", "--", th.failingEmulators.kvmFails], "touch");
      forget();
      warnings.length = 0;
      expect(await resolveDomainType(a, "auto", guest)).toBe("qemu");
      expect(warnings[0]).toContain("in a host-model guest there: ");
      const second = (await kept()).filter((f) => !before.includes(f) && !made.includes(f));
      made.push(...second);
      expect(second).toHaveLength(1);
    } finally {
      forget();
      for (const f of made) await a.run(["rm", "-f", "--", `${PROBE_CACHE_DIR}/${f}`]);
    }
  });

  it("leaves nothing behind whatever the outcome, also when libvirt refuses the start (e.g. no SMM under nested KVM)", async () => {
    setWarningSink((m) => warnings.push(m));
    const probe = fresh("probe-sb");
    const secure = { codePath: "/usr/share/OVMF/OVMF_CODE_4M.ms.fd", varsTemplatePath: "/usr/share/OVMF/OVMF_VARS_4M.ms.fd", secureBoot: true, needsSmm: true, cpuMode: "host-passthrough" };
    const decided = await probeKvm(a, secure, probe);
    expect(decided === "kvm" ? warnings : warnings[0]).toEqual(decided === "kvm" ? [] : expect.stringContaining("in a host-passthrough guest with SMM (Secure Boot needs it) there: "));
    expect(await virsh.exists(a, probe)).toBe(false);
    for (const f of [nvramPathOf(probe), `/var/log/libvirt/qemu/${probe}-serial.log`, `/var/log/libvirt/qemu/${probe}.log`]) expect(await stat(a, f), f).toBeUndefined();
  });
});
