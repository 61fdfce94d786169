import { readFileSync } from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { emulatorOf } from "../../provider/libvirt/domain-xml.js";
import { describeState, parseStateWithReason } from "../../provider/libvirt/domain-state.js";
import { DomainNotRunningError } from "../../provider/libvirt/errors.js";
import { isKvmFailure, notRunningFix, qemuFailureLines, qemuLogPath } from "../../provider/libvirt/qemu-log.js";
import { probeDomainXml } from "../../provider/libvirt/kvm-probe.js";

// The QEMU log of an OVMF guest under nested KVM that cannot run it, as libvirt 9.0 wrote it on such a
// machine: QEMU's command line, then KVM's internal error with a register dump.
const NESTED_KVM_LOG = readFileSync(path.join(__dirname, "golden/qemu-kvm-emulation-failure.log"), "utf8");

describe("virsh domstate --reason", () => {
  it("splits the state from libvirt's reason", () => {
    expect(parseStateWithReason("paused (unknown)\n\n")).toEqual({ state: "paused", reason: "unknown" });
    expect(parseStateWithReason("shut off (crashed)")).toEqual({ state: "shut off", reason: "crashed" });
    expect(parseStateWithReason("running (booted)")).toEqual({ state: "running", reason: "booted" });
    expect(parseStateWithReason("running")).toEqual({ state: "running", reason: "" });
    expect(describeState({ state: "crashed", reason: "panicked" })).toBe("crashed (panicked)");
    expect(describeState({ state: "running", reason: "" })).toBe("running");
  });
});

describe("the QEMU log", () => {
  it("keeps what QEMU said after its command line, without the register dump", () => {
    expect(qemuFailureLines(NESTED_KVM_LOG)).toEqual(["KVM internal error. Suberror: 1", "emulation failure"]);
    expect(isKvmFailure(qemuFailureLines(NESTED_KVM_LOG))).toBe(true);
  });

  it("reads only the last start, and keeps QEMU's own errors and libvirt's crash line", () => {
    const log = [
      NESTED_KVM_LOG,
      "2026-11-26 19:40:00.000+0000: starting up libvirt version: 9.0.0, qemu version: 7.2.22",
      "LC_ALL=C \\",
      "/usr/bin/qemu-system-x86_64 \\",
      "-name guest=web,debug-threads=on \\",
      "-msg timestamp=on",
      "char device redirected to /dev/pts/3 (label charserial0)",
      "2026-11-26T19:40:01.123456Z qemu-system-x86_64: cannot set up guest memory 'pc.ram': Cannot allocate memory",
      "2026-11-26 19:40:01.500+0000: shutting down, reason=crashed",
    ].join("\n");
    const lines = qemuFailureLines(log);
    expect(lines).toEqual(["qemu-system-x86_64: cannot set up guest memory 'pc.ram': Cannot allocate memory", "shutting down, reason=crashed"]);
    expect(isKvmFailure(lines)).toBe(false);
  });

  it("says nothing for a start QEMU had nothing to say about, and a routine destroy is not a reason", () => {
    const log = "2026-11-26 19:40:00.000+0000: starting up libvirt\nLC_ALL=C \\\n-msg timestamp=on\n2026-11-26T19:41:00.000000Z qemu-system-x86_64: terminating on signal 15 from pid 99 (libvirtd)\n2026-11-26 19:41:00.100+0000: shutting down, reason=destroyed\n";
    expect(qemuFailureLines(log)).toEqual([]);
  });

  it("lives beside the other libvirt QEMU logs", () => {
    expect(qemuLogPath("web")).toBe("/var/log/libvirt/qemu/web.log");
  });
});

describe("a domain that did not keep running", () => {
  const kvm = { target: "root@kvm1:22", domain: "web", observed: { state: "paused" as const, reason: "unknown" }, logPath: "/var/log/libvirt/qemu/web.log", qemuSays: ["KVM internal error. Suberror: 1", "emulation failure"] };

  it("names host, domain, libvirt's state, QEMU's words and the fix, then what was left behind", () => {
    const err = new DomainNotRunningError(kvm).withOutcome("It was powered off and its definition removed; its NVRAM file is kept. Nothing was created.");
    expect(err).toBeInstanceOf(DomainNotRunningError);
    expect(err.name).toBe("DomainNotRunningError");
    expect(err.message).toBe(
      `domain "web" on root@kvm1:22 did not keep running after it started: virsh domstate --reason says "paused (unknown)", and its QEMU log (/var/log/libvirt/qemu/web.log) says: KVM internal error. Suberror: 1; emulation failure. ` +
        `KVM on this host starts the guest but cannot run its firmware, as is common under nested virtualization: set domainType: "qemu" to run it with software emulation (slower), or run it on a host whose KVM runs OVMF. ` +
        `It was powered off and its definition removed; its NVRAM file is kept. Nothing was created.`,
    );
  });

  it("has a fix for each way of stopping", () => {
    const log = "/var/log/libvirt/qemu/web.log";
    expect(notRunningFix({ state: "crashed", reason: "panicked" }, [], log)).toBe("the guest crashed (panicked): its serial console log says why");
    expect(notRunningFix({ state: "paused", reason: "ioerror" }, [], log)).toMatch(/I\/O error, often a full filesystem on the host/);
    expect(notRunningFix({ state: "shut off", reason: "crashed" }, ["qemu-system-x86_64: simulated crash"], log)).toBe(`QEMU exited; the lines from its log above say why (the whole log is ${log} on the host)`);
    expect(notRunningFix({ state: "paused", reason: "user" }, [], log)).toBe(`see ${log} on the host for what QEMU did`);
    const quiet = new DomainNotRunningError({ ...kvm, observed: { state: "shut off", reason: "crashed" }, qemuSays: [] });
    expect(quiet.message).toContain(`says "shut off (crashed)". QEMU exited;`);
    expect(quiet.message).toMatch(/It was powered off\.$/);
  });
});

describe("the KVM probe's domain", () => {
  const guest = { codePath: "/usr/share/OVMF/OVMF_CODE_4M.ms.fd", varsTemplatePath: "/usr/share/OVMF/OVMF_VARS_4M.ms.fd", secureBoot: true, needsSmm: true, cpuMode: "host-model" };

  it("boots the domain's own firmware with SMM, CPU mode, a fresh NVRAM from the template and a serial log", () => {
    const xml = probeDomainXml("pulumi-ovmf-kvm-probe-1", guest, "/nv/p_VARS.fd", "/log/p-serial.log");
    expect(xml).toContain(`<domain type="kvm"><name>pulumi-ovmf-kvm-probe-1</name>`);
    expect(xml).toContain(`<loader readonly="yes" secure="yes" type="pflash">/usr/share/OVMF/OVMF_CODE_4M.ms.fd</loader>`);
    expect(xml).toContain(`<nvram template="/usr/share/OVMF/OVMF_VARS_4M.ms.fd">/nv/p_VARS.fd</nvram>`);
    expect(xml).toContain(`<smm state="on"/>`);
    expect(xml).toContain(`<cpu mode="host-model"/>`);
    expect(xml).toContain(`<serial type="file"><source path="/log/p-serial.log"/>`);
    expect(xml).not.toContain("<emulator>");
  });

  it("uses the emulator the domain sets in devicesXml", () => {
    expect(emulatorOf(`<watchdog model='itco'/><emulator>/opt/qemu/bin/qemu</emulator>`)).toBe("/opt/qemu/bin/qemu");
    expect(emulatorOf(`<watchdog model='itco'/>`)).toBeUndefined();
    expect(emulatorOf(undefined)).toBeUndefined();
    const xml = probeDomainXml("p", { ...guest, secureBoot: false, needsSmm: false, emulator: "/opt/qemu/bin/qemu" }, "/nv", "/log");
    expect(xml).toContain("<emulator>/opt/qemu/bin/qemu</emulator>");
    expect(xml).not.toContain("smm");
    expect(xml).toContain(`secure="no"`);
  });

  it("runs a custom CPU model exactly as the domain will (KVM on a host without its features cannot)", () => {
    const xml = probeDomainXml("p", { ...guest, cpuMode: "custom", cpuModel: "Skylake-Client" }, "/nv", "/log");
    expect(xml).toContain(`<cpu mode="custom" match="exact"><model fallback="forbid">Skylake-Client</model></cpu>`);
  });
});
