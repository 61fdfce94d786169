import { readdirSync } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sha256, stat } from "../../provider/host/files.js";
import { Host } from "../../provider/host/host.js";
import * as virsh from "../../provider/libvirt/virsh.js";
import { closeAll } from "../../provider/ssh/pool.js";
import { rejection } from "../support/rejection.js";
import { destroyIfPresent, installProject, pulumiStack, requirePulumiCli } from "../support/stack.js";
import { hostConnection, REPO_ROOT } from "../support/testhost.js";

// Every example previews against the test host; those that can run here also go up, preview with
// no changes and destroy. (secure-boot-vm and host-info have end-to-end files of their own.)
const EXAMPLES = readdirSync(path.join(REPO_ROOT, "examples"), { withFileTypes: true })
  .filter((d) => d.isDirectory() && d.name !== "ci")
  .map((d) => d.name)
  .sort();
const STACK = "e2e-examples";
const dir = (name: string) => path.join(REPO_ROOT, "examples", name);
const a = new Host(hostConnection("a"));
const b = new Host(hostConnection("b"));

describe("examples", () => {
  beforeAll(async () => {
    await requirePulumiCli();
    for (const e of EXAMPLES) await installProject(dir(e));
  });
  afterAll(async () => {
    for (const e of EXAMPLES) await destroyIfPresent(dir(e), STACK);
    closeAll();
  });

  it("are all here", () => {
    expect(EXAMPLES).toEqual(["gpu-passthrough", "host-info", "host-move", "secure-boot-vm", "shared-firmware", "windows-install"]);
  });

  it.each(EXAMPLES)("%s passes pulumi preview on a fresh stack", async (name) => {
    await pulumiStack(dir(name), "destroy", STACK, "--remove").catch(() => undefined);
    const { result } = await pulumiStack(dir(name), "preview", STACK);
    expect((result["changeSummary"] as Record<string, number>)["create"]).toBeGreaterThan(0);
    await pulumiStack(dir(name), "destroy", STACK, "--remove");
  });

  it("gpu-passthrough: preview passes and warns, from the host, about the GPU it lacks; up refuses and creates no domain", async () => {
    const project = dir("gpu-passthrough");
    const before = await virsh.list(a);
    // This test host has no device at 0000:01:00.0/.1 (or no IOMMU): a warning per device.
    const { result, stdout } = await pulumiStack(project, "preview", STACK);
    expect((result["changeSummary"] as Record<string, number>)["create"]).toBeGreaterThan(0);
    expect(stdout).toMatch(/warning: Q35Domain "gaming": hostdevs\[0\]\.address: (there is no PCI device 0000:01:00\.0 on root@127\.0\.0\.1:\d+|0000:01:00\.0 on root@127\.0\.0\.1:\d+ is in no IOMMU group)/);
    expect(stdout).toContain('Q35Domain "gaming": hostdevs[1].address');
    const err = await rejection(pulumiStack(project, "up", STACK));
    expect(err.message).toContain('domain "gaming" cannot get its PCI devices on root@127.0.0.1');
    expect(await virsh.list(a)).toEqual(before);
    await pulumiStack(project, "destroy", STACK, "--remove");
  });

  it("shared-firmware: three VMs, one CODE image, and the storage arithmetic", async () => {
    const { result } = await pulumiStack(dir("shared-firmware"), "up", STACK);
    const outs = result["outputs"] as { domains: string[]; nvramFiles: string[]; hostBytes: number; embeddedBytes: number };
    expect(outs.domains).toEqual(["shared-0", "shared-1", "shared-2"]);
    expect(outs.hostBytes).toBe(3_653_632 + 3 * 540_672);
    expect(outs.embeddedBytes).toBe(3 * 4 * 1024 * 1024);
    for (const f of outs.nvramFiles) expect((await stat(a, f))?.size).toBe(540_672);
    await pulumiStack(dir("shared-firmware"), "preview", STACK, "--expect-no-changes");
    await pulumiStack(dir("shared-firmware"), "destroy", STACK, "--remove");
    for (const d of outs.domains) expect(await virsh.exists(a, d)).toBe(false);
  });

  it("host-move: changing one line moves the VM and its NVRAM from host a to host b", async () => {
    const project = dir("host-move");
    const first = (await pulumiStack(project, "up", STACK, "--config", "on=a")).result["outputs"] as Record<string, string>;
    expect(await virsh.domstate(a, "mover")).toBe("running");
    const second = (await pulumiStack(project, "up", STACK, "--config", "on=b")).result["outputs"] as Record<string, string>;
    expect(second["host"]).toBe("b");
    expect(await virsh.exists(a, "mover")).toBe(false);
    expect(await stat(a, first["nvramPath"]!)).toBeUndefined();
    expect(await virsh.domstate(b, "mover")).toBe("running");
    expect(second["nvramSha256"]).not.toBe(await sha256(b, "/usr/share/OVMF/OVMF_VARS_4M.ms.fd"));
    await pulumiStack(project, "preview", STACK, "--expect-no-changes", "--config", "on=b");
    await pulumiStack(project, "destroy", STACK, "--remove");
    expect(await virsh.exists(b, "mover")).toBe(false);
  });
});
