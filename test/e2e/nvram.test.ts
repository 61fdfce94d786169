import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sha256, stat } from "../../provider/host/files.js";
import { Host } from "../../provider/host/host.js";
import { closeAll } from "../../provider/ssh/pool.js";
import { installProject, requirePulumiCli, TestStack } from "../support/stack.js";
import { hostConnection, REPO_ROOT } from "../support/testhost.js";

const PROJECT = path.join(REPO_ROOT, "test/e2e/projects/nvram");
const s = new TestStack(PROJECT, "e2e-nvram");
const a = new Host(hostConnection("a"));
const b = new Host(hostConnection("b"));
const DISTRIBUTION = ["/usr/share/OVMF/OVMF_CODE_4M.secboot.fd", "/usr/share/OVMF/OVMF_VARS_4M.ms.fd", "/usr/share/OVMF/OVMF_VARS.ms.fd"];
const distributionBefore: Record<string, string> = {};

interface Outputs {
  firmwareCode: Array<{ path: string; size: number; sha256: string }>;
  firmwareVariant: string[];
  nvramPaths: string[];
  nvramSha256: string[];
  nvramSizes: number[];
  templateSha256: string[];
  clonePath?: string;
  cloneSha256?: string;
}

async function up(...config: string[]): Promise<Outputs> {
  return (await s.up(config)).outputs as unknown as Outputs;
}

/** Overwrites 16 bytes inside the variable store, as a guest writing a UEFI variable would. */
async function guestWrite(host: Host, file: string): Promise<string> {
  await host.check(["sh", "-c", 'printf "pulumi-ovmf-var!" | dd of="$1" bs=1 seek=8192 conv=notrunc status=none', "sh", file], "guest write");
  return sha256(host, file);
}

const base = ["backup=true", "clone=true", "mismatch=false"];
let outs: Outputs;

describe("FirmwareImage and Nvram with the real Pulumi CLI on two test hosts", () => {
  beforeAll(async () => {
    await requirePulumiCli();
    await installProject(PROJECT);
    await s.destroyIfPresent();
    for (const f of DISTRIBUTION) distributionBefore[f] = await sha256(a, f);
  });
  afterAll(async () => {
    await s.destroyIfPresent();
    closeAll();
  });

  it("three Nvram files from one FirmwareImage: one CODE image + 3 × VARS on the host", async () => {
    outs = await up(`nvramHosts=["a","a","a"]`, ...base);
    expect(outs.firmwareCode).toHaveLength(1);
    expect(outs.firmwareVariant).toEqual(["4M"]);
    const code = outs.firmwareCode[0]!;
    expect(code.path).toBe("/usr/share/OVMF/OVMF_CODE_4M.ms.fd");
    const sizes = await Promise.all(outs.nvramPaths.map(async (p) => (await stat(a, p))?.size ?? -1));
    expect(sizes).toEqual([540_672, 540_672, 540_672]);
    const bytesOnHost = (await stat(a, code.path))!.size + sizes.reduce((x, y) => x + y, 0);
    expect(bytesOnHost).toBe(3_653_632 + 3 * 540_672);
    expect(outs.nvramSha256).toEqual(outs.templateSha256);
    expect(outs.nvramPaths[0]).toBe("/var/lib/libvirt/qemu/nvram/e2e-nv0_VARS.fd");
    expect(await stat(a, outs.nvramPaths[0]!)).toMatchObject({ mode: "600", owner: "root" });
    const vm0 = s.stored().find((r) => r.urn.endsWith("::e2e-nv0"));
    expect(JSON.stringify(vm0?.outputs["backupData"])).toContain("ciphertext");
  });

  it("clones an Nvram's content", async () => {
    expect(outs.cloneSha256).toBe(outs.nvramSha256[0]);
    expect(await sha256(a, outs.clonePath!)).toBe(outs.nvramSha256[0]);
  });

  it("a guest rewriting its variables is not drift: refresh records it, preview shows no changes", async () => {
    const written = await guestWrite(a, outs.nvramPaths[0]!);
    await s.refresh();
    await s.preview({ expectNoChanges: true });
    expect((await s.resourceOutputs("::e2e-nv0"))["sha256"]).toBe(written);
  });

  it("with backup, a file deleted on the host shows after a refresh and is restored by up with the same content", async () => {
    const file = outs.nvramPaths[0]!;
    const before = await sha256(a, file);
    expect(before).not.toBe(outs.templateSha256[0]);
    await a.check(["rm", "-f", "--", file], "rm");
    // A preview compares with the stack state only (no SSH): the loss shows after a refresh.
    await s.preview({ expectNoChanges: true });
    await s.refresh();
    const preview = await s.preview({ diff: true });
    expect(preview.summary).toMatchObject({ update: 1 });
    await up(`nvramHosts=["a","a","a"]`, ...base);
    expect(await sha256(a, file)).toBe(before);
  });

  it("moves an Nvram from host a to host b with its content, then removes it from a", async () => {
    const file = outs.nvramPaths[1]!;
    const written = await guestWrite(a, file);
    const moved = await up(`nvramHosts=["a","b","a"]`, ...base);
    expect(moved.nvramPaths[1]).toBe(file);
    expect(await sha256(b, file)).toBe(written);
    expect(moved.nvramSha256[1]).toBe(written);
    expect(await stat(a, file)).toBeUndefined();
    await s.preview({ expectNoChanges: true });
  });

  it("rejects a 4M CODE with a 2M vars template at preview, naming both, and creates nothing", async () => {
    const err = await s.preview({ config: ["mismatch=true"] }).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(err?.message).toContain("/usr/share/OVMF/OVMF_VARS.ms.fd (131,072 bytes) does not match the firmware /usr/share/OVMF/OVMF_CODE_4M.secboot.fd (3,653,632 bytes");
    expect(err?.message).toContain("varsTemplatePath");
    await s.preview({ config: ["mismatch=false"], expectNoChanges: true });
  });

  it("destroy removes the NVRAM files and leaves the distribution's firmware alone", async () => {
    const paths = [...outs.nvramPaths, outs.clonePath!];
    await s.destroy();
    for (const p of paths) {
      expect(await stat(a, p)).toBeUndefined();
      expect(await stat(b, p)).toBeUndefined();
    }
    for (const f of DISTRIBUTION) expect(await sha256(a, f)).toBe(distributionBefore[f]);
    await s.destroy({ remove: true });
  });
});
