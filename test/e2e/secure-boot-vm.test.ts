import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { sha256, stat } from "../../provider/host/files.js";
import { Host } from "../../provider/host/host.js";
import * as virsh from "../../provider/libvirt/virsh.js";
import { closeAll } from "../../provider/ssh/pool.js";
import { destroyIfPresent, installProject, pulumiStack, requirePulumiCli, storedResources } from "../support/stack.js";
import { waitForSerial } from "../support/serial.js";
import { hostConnection, REPO_ROOT, testHostFile } from "../support/testhost.js";

const run = promisify(execFile);

// The example the demo deploys, driven exactly as `npm run demo` drives it.
const PROJECT = path.join(REPO_ROOT, "examples/secure-boot-vm");
const STACK = "e2e-secure-boot-vm";
// Not the demo's "sb-demo": `npm run demo` and then `npm test` must both work, and the demo's VM stays.
const VM = "e2e-sb-vm";
const cfg = (memoryMiB: number) => ["--config", `memoryMiB=${memoryMiB}`, "--config", `vmName=${VM}`];
const a = new Host(hostConnection("a"));
let outs: Record<string, unknown>;
let codeSha: string;

describe("examples/secure-boot-vm: the SecureBootVm lifecycle with the real Pulumi CLI", () => {
  beforeAll(async () => {
    await requirePulumiCli();
    await installProject(PROJECT);
    await pulumiStack(PROJECT, "destroy", STACK, "--remove").catch(() => undefined);
  });
  afterAll(async () => {
    await destroyIfPresent(PROJECT, STACK);
    closeAll();
  });

  it("up creates the three resources under the component and the VM boots with Secure Boot enforced", async () => {
    outs = (await pulumiStack(PROJECT, "up", STACK, ...cfg(512))).result["outputs"] as Record<string, unknown>;
    expect(outs).toMatchObject({ domainName: VM, secureBoot: true, firmware: "/usr/share/OVMF/OVMF_CODE_4M.ms.fd", nvramPath: `/var/lib/libvirt/qemu/nvram/${VM}_VARS.fd` });
    codeSha = await sha256(a, String(outs["firmware"]));
    const types = storedResources(PROJECT, STACK).map((r) => r.type);
    expect(types).toEqual(expect.arrayContaining(["pulumi-ovmf:index:SecureBootVm", "pulumi-nodejs:dynamic/ovmf:FirmwareImage", "pulumi-nodejs:dynamic/ovmf:Nvram", "pulumi-nodejs:dynamic/ovmf:Q35Domain"]));
    for (const r of storedResources(PROJECT, STACK).filter((x) => x.type.startsWith("pulumi-nodejs:dynamic"))) {
      expect(String(r.inputs["__provider"]).length).toBeLessThan(2048);
    }
    const log = await waitForSerial(a, String(outs["serialLogPath"]), /Security Violation|Shell>/, 240_000);
    expect(log).toMatch(/failed to start Boot0001 "EFI Internal Shell".*: Security Violation/);
  });

  it("the demo's proof tool reads the same verdict", async () => {
    const { stdout } = await run(process.execPath, [path.join(REPO_ROOT, "scripts/serial-proof.mts"), testHostFile(), String(outs["serialLogPath"]), "60"]);
    expect(stdout).toContain("Secure Boot is enforced: OVMF refused to start the unsigned EFI shell");
  });

  it("preview and refresh afterwards show no changes", async () => {
    await pulumiStack(PROJECT, "preview", STACK, "--expect-no-changes", ...cfg(512));
    await pulumiStack(PROJECT, "refresh", STACK, "--expect-no-changes");
    await pulumiStack(PROJECT, "preview", STACK, "--expect-no-changes", ...cfg(512));
  });

  it("an update (more memory) restarts the VM in place: same UUID, same NVRAM file, still Secure Boot", async () => {
    const { result } = await pulumiStack(PROJECT, "up", STACK, ...cfg(768));
    expect(result["summary"]).toMatchObject({ update: 1 });
    expect(result["summary"]).not.toHaveProperty("replace");
    const updated = result["outputs"] as Record<string, unknown>;
    expect(updated["uuid"]).toBe(outs["uuid"]);
    expect(updated["nvramPath"]).toBe(outs["nvramPath"]);
    expect(await virsh.domstate(a, VM)).toBe("running");
    const xml = await virsh.dumpxml(a, VM, true);
    expect(xml).toMatch(/<memory unit='KiB'>786432<\/memory>/);
    expect(xml).toMatch(/<loader readonly='yes' secure='yes' type='pflash'>/);
    await pulumiStack(PROJECT, "preview", STACK, "--expect-no-changes", ...cfg(768));
  });

  it("destroy leaves no domain and no NVRAM, and the distribution firmware as it was", async () => {
    await pulumiStack(PROJECT, "destroy", STACK, "--remove");
    expect(await virsh.exists(a, VM)).toBe(false);
    expect(await stat(a, String(outs["nvramPath"]))).toBeUndefined();
    expect(await sha256(a, String(outs["firmware"]))).toBe(codeSha);
  });
});
