import { existsSync, readFileSync, rmSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { sha256, stat } from "../../provider/host/files.js";
import { Host } from "../../provider/host/host.js";
import { parseDomain } from "../../provider/libvirt/domain-xml.js";
import * as virsh from "../../provider/libvirt/virsh.js";
import { rejection } from "../support/rejection.js";
import { waitForSerial } from "../support/serial.js";
import { stackLifecycle, TestStack } from "../support/stack.js";
import { hostConnection, REPO_ROOT } from "../support/testhost.js";

const PROJECT = path.join(REPO_ROOT, "test/e2e/projects/domain");
const s = new TestStack(PROJECT, "e2e-domain");
const a = new Host(hostConnection("a"));
const b = new Host(hostConnection("b"));
const DEFAULTS = ["host=a", "secureBoot=true", "domainName=e2e-vm", "memoryMiB=256", "running=true", "domain=true", "bad=", "nvramReset=", "diskPath=", "diskFormat=", "network="];

const cfg = (...overrides: string[]) => {
  const merged = new Map(DEFAULTS.map((kv) => [kv.split("=")[0]!, kv]));
  for (const kv of overrides) merged.set(kv.split("=")[0]!, kv);
  return [...merged.values()];
};
const up = async (...o: string[]) => (await s.up(cfg(...o))).outputs as Record<string, string>;
const preview = (...o: string[]) => s.preview({ diff: true, config: cfg(...o) });

const serialShows = (file: string, text: RegExp, timeoutMs = 180_000, host = a) => waitForSerial(host, file, text, timeoutMs);

let outs: Record<string, string>;

describe("Q35Domain with the real Pulumi CLI", () => {
  stackLifecycle(s, PROJECT);

  it("boots with Secure Boot enforced: OVMF refuses the unsigned EFI shell", async () => {
    const run = await s.up(cfg());
    outs = run.outputs as Record<string, string>;
    expect(outs["machine"]).toMatch(/^pc-q35-/);
    // domainType auto says so when it settles for software emulation, and why.
    if (outs["domainType"] === "qemu") expect(run.stdout).toMatch(/warning: domainType "auto" uses qemu \(TCG: software emulation, much slower than KVM\) on root@127\.0\.0\.1:\d+, because KVM cannot run OVMF \(\/usr\/share\/OVMF\/\S+\) in a host-passthrough guest with SMM \(Secure Boot needs it\) there: \S.*\. Set domainType: "qemu"/);
    else expect(run.stdout).not.toContain('domainType "auto" uses qemu');
    const log = await serialShows(outs["serialLogPath"]!, /Security Violation/);
    expect(log).toMatch(/failed to start Boot0001 "EFI Internal Shell".*Security Violation/);
    const xml = await virsh.dumpxml(a, "e2e-vm", true);
    expect(xml).toContain("secure='yes'");
    expect(xml).toMatch(/<smm state='on'\/>/);
  });

  it("preview right after up, and after refresh, shows no changes", async () => {
    await s.preview({ expectNoChanges: true, config: cfg() });
    await s.refresh({ expectNoChanges: true });
    await s.preview({ expectNoChanges: true });
  });

  it("an out-of-band memory change shows after refresh, and up puts it back", async () => {
    await a.check(["virsh", "-q", "setmaxmem", "e2e-vm", "300M", "--config"], "setmaxmem");
    const refresh = await s.refresh();
    expect(refresh.summary).toMatchObject({ update: 1 });
    const p = await preview();
    expect(p.summary).toMatchObject({ update: 1 });
    expect(p.stdout, p.stdout).toMatch(/memoryMiB\s*:\s*300 => 256/);
    await up();
    expect(parseDomain(await virsh.dumpxml(a, "e2e-vm", true)).memoryMiB).toBe(256);
  });

  it("a memory change is an update that keeps the guest-written NVRAM", async () => {
    await up("running=false");
    const nvram = outs["nvramPath"]!;
    const written = await sha256(a, nvram);
    expect(written).not.toBe(outs["templateSha256"]); // OVMF wrote its variables while booting
    const p = await preview("running=false", "memoryMiB=320");
    expect(p.summary).toMatchObject({ update: 1 });
    expect(p.summary).not.toHaveProperty("replace");
    // What a reviewer reads in `pulumi preview --diff`: an update, and the one input that changed.
    expect(p.stdout, p.stdout).toMatch(/~ pulumi-nodejs:dynamic\/ovmf:Q35Domain: \(update\)/);
    expect(p.stdout, p.stdout).toMatch(/~ memoryMiB\s*: 256 => 320/);
    expect(p.stdout).not.toMatch(/\(replace\)/);
    await up("running=false", "memoryMiB=320");
    expect(parseDomain(await virsh.dumpxml(a, "e2e-vm", true)).memoryMiB).toBe(320);
    expect(await sha256(a, nvram)).toBe(written);
    await up("memoryMiB=320");
    expect(await virsh.domstate(a, "e2e-vm")).toBe("running");
  });

  it("a rename replaces the domain and leaves the NVRAM file untouched", async () => {
    await up("memoryMiB=320", "running=false");
    const before = await sha256(a, outs["nvramPath"]!);
    const p = await preview("memoryMiB=320", "running=false", "domainName=e2e-vm2");
    expect(p.summary).toMatchObject({ replace: 1 });
    expect(p.stdout, p.stdout).toMatch(/\+-pulumi-nodejs:dynamic\/ovmf:Q35Domain: \(replace\)/);
    expect(p.stdout, p.stdout).toMatch(/~ name\s*: "e2e-vm" => "e2e-vm2"/);
    await up("memoryMiB=320", "running=false", "domainName=e2e-vm2");
    expect(await virsh.exists(a, "e2e-vm")).toBe(false);
    expect(await virsh.exists(a, "e2e-vm2")).toBe(true);
    expect(await sha256(a, outs["nvramPath"]!)).toBe(before);
  });

  it("deleting the domain keeps its NVRAM until the Nvram resource goes", async () => {
    const before = await sha256(a, outs["nvramPath"]!);
    await up("domain=false");
    expect(await virsh.exists(a, "e2e-vm2")).toBe(false);
    expect(await sha256(a, outs["nvramPath"]!)).toBe(before);
  });

  it("the kept NVRAM still enforces Secure Boot under plain firmware; re-created from the plain template, the shell starts", async () => {
    // Secure Boot lives in the variable store (enrolled keys), not only in the CODE build.
    // libvirt empties the serial log at every start: what it holds is from this boot.
    outs = await up("secureBoot=false");
    expect(outs["secureBootEnforced"]).toBe(true); // read from the NVRAM file: its PK is still there
    await serialShows(outs["serialLogPath"]!, /Security Violation/);
    outs = await up("secureBoot=false", "nvramReset=plain");
    expect(outs["secureBootEnforced"]).toBe(false);
    const log = await serialShows(outs["serialLogPath"]!, /Shell>|UEFI Interactive Shell/);
    expect(log).not.toMatch(/Security Violation/);
  });

  it("invalid inputs fail at preview, naming the property, and define nothing", async () => {
    const domainsBefore = await virsh.list(a);
    const plain = ["secureBoot=false", "nvramReset=plain", "domainName=e2e-bad"];
    const ide = await rejection(preview(...plain, "bad=ide-cdrom"));
    expect(ide.message).toContain("cdroms[0].bus");
    expect(ide.message).toContain("IDE controllers are unsupported on q35");
    const mac = await rejection(preview(...plain, "bad=bad-mac"));
    expect(mac.message).toContain("networks[0].mac");
    const sb = await rejection(preview(...plain, "bad=secure-boot-on-plain"));
    expect(sb.message).toContain("does not support Secure Boot");
    expect(await virsh.list(a)).toEqual(domainsBefore);
  });

  it("a qcow2 disk without a declared format is attached as qcow2 (read from the file); a wrong format or a missing file fails the preview", async () => {
    const disk = "/var/lib/libvirt/images/e2e-diskfmt.qcow2";
    const plain = ["secureBoot=false", "nvramReset=plain", "running=false"];
    const trace = path.join(os.tmpdir(), `e2e-diskfmt-trace-${process.pid}.jsonl`);
    await a.check(["qemu-img", "create", "-q", "-f", "qcow2", "--", disk, "64M"], "qemu-img create");
    try {
      await up(...plain, `diskPath=${disk}`);
      const xml = await virsh.dumpxml(a, "e2e-vm", true);
      expect(xml).toMatch(/<driver name='qemu' type='qcow2'\/>\s*<source file='\/var\/lib\/libvirt\/images\/e2e-diskfmt\.qcow2'\/>/);
      // The format read is recorded: the next preview shows no change and runs no remote command.
      process.env["PULUMI_OVMF_TRACE"] = trace;
      try {
        await s.preview({ expectNoChanges: true, config: cfg(...plain, `diskPath=${disk}`) });
      } finally {
        delete process.env["PULUMI_OVMF_TRACE"];
      }
      const traced = existsSync(trace) ? readFileSync(trace, "utf8").trim().split("\n").map((l) => JSON.parse(l) as { operation?: string; command?: string }) : [];
      expect(traced.some((t) => t.operation === "Q35Domain.check")).toBe(true);
      expect(traced.filter((t) => t.command !== undefined)).toEqual([]);

      const wrong = await rejection(preview(...plain, `diskPath=${disk}`, "diskFormat=raw"));
      expect(wrong.message).toMatch(/property disks\[0\]\.format .*has a problem: disks\[0\]\.format is "raw", but \/var\/lib\/libvirt\/images\/e2e-diskfmt\.qcow2 on root@127\.0\.0\.1:\d+ is a qcow2 image/);
      const missing = await rejection(preview(...plain, "diskPath=/var/lib/libvirt/images/e2e-diskfmt-missing.qcow2"));
      expect(missing.message).toMatch(/property disks\[0\]\.path .*has a problem: no file at \/var\/lib\/libvirt\/images\/e2e-diskfmt-missing\.qcow2 on root@127\.0\.0\.1:\d+/);
      // pulumi up refuses it too, before anything is defined: no new domain, and the old one keeps its qcow2 disk.
      const refused = await rejection(up(...plain, `diskPath=${disk}`, "diskFormat=raw", "domainName=e2e-diskfmt"));
      expect(refused.message).toMatch(/property disks\[0\]\.format .*is a qcow2 image/);
      expect(await virsh.exists(a, "e2e-diskfmt")).toBe(false);
      expect(await virsh.dumpxml(a, "e2e-vm", true)).toBe(xml);
    } finally {
      rmSync(trace, { force: true });
      await a.run(["rm", "-f", "--", disk]);
    }
  });

  it("a NIC removed with virsh shows after refresh as a change of networks, and up puts it back", async () => {
    const plain = ["secureBoot=false", "nvramReset=plain", "running=false", "network=default"];
    await up(...plain);
    const nics = async () => (await virsh.dumpxml(a, "e2e-vm", true)).match(/<interface type='network'>/g)?.length ?? 0;
    expect(await nics()).toBe(1);
    await a.check(["virsh", "-q", "-c", "qemu:///system", "detach-interface", "e2e-vm", "network", "--config"], "detach-interface");
    expect(await nics()).toBe(0);
    expect((await s.refresh()).summary).toMatchObject({ update: 1 });
    const p = await s.preview({ diff: true, config: cfg(...plain) });
    expect(p.summary).toMatchObject({ update: 1 });
    expect(p.stdout, p.stdout).toMatch(/~ networks\s*: \[/);
    await up(...plain);
    expect(await nics()).toBe(1);
    await s.preview({ expectNoChanges: true, config: cfg(...plain) });
  });

  it("moves a running Secure Boot VM from host a to host b: stopped first, NVRAM carried, running on b", async () => {
    outs = await up("nvramReset=secure-again");
    await serialShows(outs["serialLogPath"]!, /Security Violation/);
    const template = outs["templateSha256"]!;
    outs = await up("nvramReset=secure-again", "host=b");
    expect(await virsh.exists(a, "e2e-vm")).toBe(false);
    expect(await stat(a, outs["nvramPath"]!)).toBeUndefined();
    expect(await virsh.domstate(b, "e2e-vm")).toBe("running");
    // The Nvram's sha256 was taken on b right after the verified copy, before the domain started
    // there: it is the content OVMF left on a (its boot variables), not a fresh template.
    const nvramSha = (await s.resourceOutputs("Nvram::e2e-vm"))["sha256"];
    expect(nvramSha).not.toBe(template);
    await serialShows(outs["serialLogPath"]!, /Security Violation/, 180_000, b);
    await s.preview({ expectNoChanges: true, config: cfg("nvramReset=secure-again", "host=b") });
  });

  it("destroy removes the domain and the NVRAM", async () => {
    expect((await s.destroy()).summary).toEqual({ delete: 4 });
    for (const host of [a, b]) {
      expect(await virsh.exists(host, "e2e-vm")).toBe(false);
      expect(await stat(host, outs["nvramPath"]!)).toBeUndefined();
    }
    await s.destroy({ remove: true });
  });
});
