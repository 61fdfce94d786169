import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { sha256, stat } from "../../provider/host/files.js";
import { Host } from "../../provider/host/host.js";
import * as virsh from "../../provider/libvirt/virsh.js";
import { stackLifecycle, TestStack } from "../support/stack.js";
import { rejection } from "../support/rejection.js";
import { waitForSerial } from "../support/serial.js";
import { hostConnection, REPO_ROOT, testHostFile } from "../support/testhost.js";

const run = promisify(execFile);

// The example the demo deploys, driven as `npm run demo` drives it: plain pulumi in its directory.
const PROJECT = path.join(REPO_ROOT, "examples/secure-boot-vm");
const s = new TestStack(PROJECT, "e2e-secure-boot-vm");
// Not the demo's "sb-demo": `npm run demo` and then `npm test` must both work, and the demo's VM stays.
const VM = "e2e-sb-vm";
const cfg = (memoryMiB: number) => [`memoryMiB=${memoryMiB}`, `vmName=${VM}`];
const a = new Host(hostConnection("a"));
let outs: Record<string, unknown>;
let codeSha: string;

describe("examples/secure-boot-vm: the SecureBootVm lifecycle with the real Pulumi CLI", () => {
  stackLifecycle(s, PROJECT);

  it("up creates the three resources under the component and the VM boots with Secure Boot enforced", async () => {
    outs = (await s.up(cfg(512))).outputs;
    expect(outs).toMatchObject({ domainName: VM, secureBoot: true, firmware: "/usr/share/OVMF/OVMF_CODE_4M.ms.fd", nvramPath: `/var/lib/libvirt/qemu/nvram/${VM}_VARS.fd` });
    // secureBootKeys: { microsoft: "both" } on Debian's template: its PK, Microsoft's 2011 and 2023 CAs.
    expect(outs["microsoftCertificates"]).toEqual(["kek2011", "kek2023", "windowsPca2011", "uefiCa2011", "windowsUefiCa2023", "uefiCa2023", "optionRomUefiCa2023"]);
    codeSha = await sha256(a, String(outs["firmware"]));
    const types = s.stored().map((r) => r.type);
    expect(types).toEqual(expect.arrayContaining(["pulumi-ovmf:index:SecureBootVm", "pulumi-nodejs:dynamic/ovmf:FirmwareImage", "pulumi-nodejs:dynamic/ovmf:Nvram", "pulumi-nodejs:dynamic/ovmf:Q35Domain"]));
    for (const r of s.stored().filter((x) => x.type.startsWith("pulumi-nodejs:dynamic"))) {
      expect(String(r.inputs["__provider"]).length).toBeLessThan(2048);
    }
    const log = await waitForSerial(a, String(outs["serialLogPath"]), /Security Violation|Shell>/, 240_000);
    expect(log).toMatch(/failed to start Boot0001 "EFI Internal Shell".*: Security Violation/);
  });

  it("the demo's proof tool reads the same verdict", async () => {
    const { stdout } = await run(process.execPath, [path.join(REPO_ROOT, "scripts/serial-proof.mts"), testHostFile(), VM, String(outs["serialLogPath"]), "60"]);
    expect(stdout).toContain("Secure Boot is enforced: OVMF refused to start the unsigned EFI shell");
  });

  it("preview and refresh afterwards show no changes", async () => {
    await s.preview({ expectNoChanges: true, config: cfg(512) });
    await s.refresh({ expectNoChanges: true });
    await s.preview({ expectNoChanges: true });
  });

  it("an update (more memory) restarts the VM in place: same UUID, same NVRAM file, still Secure Boot", async () => {
    // What a reviewer reads in `pulumi preview --diff` first: an update of the one input that changed.
    const p = await s.preview({ diff: true, config: cfg(768) });
    expect(p.stdout, p.stdout).toMatch(/~ pulumi-nodejs:dynamic\/ovmf:Q35Domain: \(update\)/);
    expect(p.stdout, p.stdout).toMatch(/~ memoryMiB\s*: 512 => 768/);
    expect(p.stdout).not.toMatch(/\(replace\)/);
    const { summary, outputs: updated } = await s.up();
    expect(summary).toMatchObject({ update: 1 });
    expect(summary).not.toHaveProperty("replace");
    expect(updated["uuid"]).toBe(outs["uuid"]);
    expect(updated["nvramPath"]).toBe(outs["nvramPath"]);
    expect(await virsh.domstate(a, VM)).toBe("running");
    const xml = await virsh.dumpxml(a, VM, true);
    expect(xml).toMatch(/<memory unit='KiB'>786432<\/memory>/);
    expect(xml).toMatch(/<loader readonly='yes' secure='yes' type='pflash'>/);
    await s.preview({ expectNoChanges: true });
  });

  it("the proof tool refuses a stopped VM's serial log (it is from an earlier boot), and up --refresh starts the VM again", async () => {
    await virsh.destroy(a, VM);
    const proof = await rejection(run(process.execPath, [path.join(REPO_ROOT, "scripts/serial-proof.mts"), testHostFile(), VM, String(outs["serialLogPath"]), "5"]));
    expect((proof as Error & { code?: number; stdout?: string }).code).toBe(3);
    expect((proof as Error & { stdout?: string }).stdout).toContain(`domain "${VM}" on root@127.0.0.1:`);
    expect((proof as Error & { stdout?: string }).stdout).toContain("is not running (virsh domstate --reason: \"shut off (destroyed)\"): its serial log is from an earlier boot");
    const up = await s.up([], { refresh: true });
    expect(up.summary).toMatchObject({ update: 1 });
    expect(await virsh.domstate(a, VM)).toBe("running");
  });

  it("destroy leaves no domain and no NVRAM, and the distribution firmware as it was", async () => {
    await s.destroy({ remove: true });
    expect(await virsh.exists(a, VM)).toBe(false);
    expect(await stat(a, String(outs["nvramPath"]))).toBeUndefined();
    expect(await sha256(a, String(outs["firmware"]))).toBe(codeSha);
  });
});
