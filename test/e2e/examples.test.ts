import { execFile } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { promisify } from "node:util";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sha256, stat } from "../../provider/host/files.js";
import { Host } from "../../provider/host/host.js";
import * as virsh from "../../provider/libvirt/virsh.js";
import { closeAll } from "../../provider/ssh/pool.js";
import { serialLogPath } from "../../provider/q35-domain/spec.js";
import { rejection } from "../support/rejection.js";
import { waitForSerial } from "../support/serial.js";
import { installProject, requirePulumiCli, TestStack } from "../support/stack.js";
import { hostConnection, REPO_ROOT } from "../support/testhost.js";

// Every example previews against the test host with plain `pulumi` commands in its own directory;
// those that can run here also go up, preview with no changes and destroy. (secure-boot-vm and
// host-info have end-to-end files of their own.)
const EXAMPLES = readdirSync(path.join(REPO_ROOT, "examples"), { withFileTypes: true })
  .filter((d) => d.isDirectory() && d.name !== "ci")
  .map((d) => d.name)
  .sort();
const STACK = "e2e-examples";
const run = promisify(execFile);
const dir = (name: string) => path.join(REPO_ROOT, "examples", name);
const stack = (name: string) => new TestStack(dir(name), STACK);
const a = new Host(hostConnection("a"));
const b = new Host(hostConnection("b"));
// The examples' disk images, made on the test host: a disk's format is read from its file at
// preview, so a preview with no file there fails (disks[0].path).
const DISKS: Record<string, string> = {
  "gpu-passthrough": "/var/lib/libvirt/images/e2e-examples-gaming.qcow2",
  "windows-install": "/var/lib/libvirt/images/e2e-examples-win11.qcow2",
};
const configOf = (name: string) => (DISKS[name] === undefined ? [] : [`disk=${DISKS[name]}`]);

describe("examples", () => {
  beforeAll(async () => {
    await requirePulumiCli();
    for (const e of EXAMPLES) await installProject(dir(e));
    for (const disk of Object.values(DISKS)) await a.check(["qemu-img", "create", "-q", "-f", "qcow2", "--", disk, "64M"], `qemu-img create ${disk}`);
  });
  afterAll(async () => {
    for (const e of EXAMPLES) await stack(e).destroyIfPresent();
    await a.run(["rm", "-f", "--", ...Object.values(DISKS)]);
    closeAll();
  });

  it("are all here", () => {
    expect(EXAMPLES).toEqual(["gpu-passthrough", "host-info", "host-move", "secure-boot-vm", "shared-firmware", "windows-install"]);
  });

  it("the README's way to point an example at the test host: eval scripts/testhost-stack.sh, then plain pulumi", async () => {
    const script = [
      'eval "$(bash scripts/testhost-stack.sh examples/host-info e2e-readme)"',
      "cd examples/host-info",
      "pulumi preview --diff --non-interactive --color never",
      "pulumi stack rm --yes --non-interactive",
    ].join(" && ");
    const { stdout } = await run("bash", ["-c", script], { cwd: REPO_ROOT, env: process.env, maxBuffer: 16 * 1024 * 1024 });
    expect(stdout).toMatch(/\+ pulumi-nodejs:dynamic\/ovmf:HostInfo: \(create\)/);
    expect(stdout).toMatch(/Resources:\n\s+\+ 2 to create/);
    expect(existsSync(path.join(dir("host-info"), "Pulumi.e2e-readme.yaml"))).toBe(false);
  });

  it.each(EXAMPLES)("%s passes pulumi preview on a fresh stack", async (name) => {
    const s = stack(name);
    await s.destroyIfPresent();
    const { summary } = await s.preview({ diff: true, config: configOf(name) });
    expect(summary.create).toBeGreaterThan(0);
    await s.destroy({ remove: true });
  });

  it("gpu-passthrough: preview passes and warns, from the host, about the GPU it lacks; up refuses and creates no domain", async () => {
    const s = stack("gpu-passthrough");
    const before = await virsh.list(a);
    // This test host has no device at 0000:01:00.0/.1 (or no IOMMU): a warning per device.
    const { summary, stdout } = await s.preview({ config: configOf("gpu-passthrough") });
    expect(summary.create).toBeGreaterThan(0);
    expect(stdout).toMatch(/warning: Q35Domain "gaming": hostdevs\[0\]\.address: (there is no PCI device 0000:01:00\.0 on root@127\.0\.0\.1:\d+|0000:01:00\.0 on root@127\.0\.0\.1:\d+ is in no IOMMU group)/);
    expect(stdout).toContain('Q35Domain "gaming": hostdevs[1].address');
    const err = await rejection(s.up());
    expect(err.message).toContain('domain "gaming" cannot get its PCI devices on root@127.0.0.1');
    expect(await virsh.list(a)).toEqual(before);
    await s.destroy({ remove: true });
  });

  it("shared-firmware: three VMs, one CODE image, and the storage arithmetic", async () => {
    const s = stack("shared-firmware");
    const outs = (await s.up()).outputs as unknown as { domains: string[]; nvramFiles: string[]; hostBytes: number; embeddedBytes: number };
    expect(outs.domains).toEqual(["shared-0", "shared-1", "shared-2"]);
    expect(outs.hostBytes).toBe(3_653_632 + 3 * 540_672);
    expect(outs.embeddedBytes).toBe(3 * 4 * 1024 * 1024);
    for (const f of outs.nvramFiles) expect((await stat(a, f))?.size).toBe(540_672);
    await s.preview({ expectNoChanges: true });
    await s.destroy({ remove: true });
    for (const d of outs.domains) expect(await virsh.exists(a, d)).toBe(false);
  });

  it("host-move: changing one line moves the VM and its NVRAM from host a to host b (cold), and back (live)", async () => {
    const s = stack("host-move");
    const first = (await s.up(["on=a"])).outputs as Record<string, string>;
    expect(await virsh.domstate(a, "mover")).toBe("running");
    // OVMF writes its boot variables before its boot manager prints: after that, the NVRAM on a is
    // the VM's own, not the template (under TCG on a busy machine that takes a while).
    await waitForSerial(a, serialLogPath("mover"), /BdsDxe/, 240_000);
    const p = await s.preview({ diff: true, config: ["on=b"] });
    expect(p.stdout, p.stdout).toMatch(/\+-pulumi-nodejs:dynamic\/ovmf:Q35Domain: \(replace\)/);
    const second = (await s.up()).outputs as Record<string, string>;
    expect(second["host"]).toBe("b");
    expect(await virsh.exists(a, "mover")).toBe(false);
    expect(await stat(a, first["nvramPath"]!)).toBeUndefined();
    expect(await virsh.domstate(b, "mover")).toBe("running");
    expect(second["nvramSha256"]).not.toBe(await sha256(b, "/usr/share/OVMF/OVMF_VARS_4M.ms.fd"));
    await s.preview({ expectNoChanges: true });
    // The other way back: live, the VM keeps running (libvirt says it came by migration).
    await waitForSerial(b, serialLogPath("mover"), /BdsDxe/, 240_000);
    const onB = await sha256(b, first["nvramPath"]!);
    const live = await s.preview({ diff: true, config: ["on=a", "hostMove=live"] });
    expect(live.stdout, live.stdout).toMatch(/~ pulumi-nodejs:dynamic\/ovmf:Q35Domain: \(update\)/);
    const third = (await s.up()).outputs as Record<string, string>;
    expect(third["host"]).toBe("a");
    expect((await a.check(["virsh", "-c", virsh.LIBVIRT_URI, "domstate", "--reason", "mover"], "domstate")).stdout.trim()).toBe("running (migrated)");
    expect(await virsh.exists(b, "mover")).toBe(false);
    expect(await stat(b, first["nvramPath"]!)).toBeUndefined();
    expect(await sha256(a, first["nvramPath"]!)).toBe(onB);
    await s.preview({ expectNoChanges: true });
    await s.destroy({ remove: true });
    expect(await virsh.exists(a, "mover")).toBe(false);
  });
});
