import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { sha256, stat } from "../../provider/host/files.js";
import { Host } from "../../provider/host/host.js";
import * as virsh from "../../provider/libvirt/virsh.js";
import { statePath } from "../../provider/tpm-state/model.js";
import { waitForSerial } from "../support/serial.js";
import { stackLifecycle, TestStack } from "../support/stack.js";
import { hostConnection, REPO_ROOT } from "../support/testhost.js";

// The rename examples/secure-boot-vm's own comment offers (`pulumi config set vmName web`), followed
// word for word with plain pulumi on a stack of that example: the VM's UEFI variables and its TPM
// must survive it. Not the demo's stack or VM: names with the suite's prefix, which the sweep knows.
const PROJECT = path.join(REPO_ROOT, "examples/secure-boot-vm");
const s = new TestStack(PROJECT, "e2e-rename");
const OLD = "e2e-rename-old";
const NEW = "e2e-rename-new";
const a = new Host(hostConnection("a"));

interface Certificate {
  kind: string;
  sha256: string;
}
const ekCertificates = async () => ((await s.resourceOutputs("ovmf:TpmState::sb-demo"))["certificates"] as Certificate[]).filter((c) => c.kind === "ek").map((c) => c.sha256);

describe("examples/secure-boot-vm: `pulumi config set vmName` renames the VM and keeps its NVRAM and TPM", () => {
  stackLifecycle(s, PROJECT);
  let first: Record<string, unknown>;
  let nvramSha: string;
  let ek: string[];

  it("up with a TPM: the VM runs and boots (its firmware has written its variables)", async () => {
    first = (await s.up([`vmName=${OLD}`, "tpm=true"])).outputs;
    expect(first).toMatchObject({ domainName: OLD, nvramPath: `/var/lib/libvirt/qemu/nvram/${OLD}_VARS.fd`, secureBoot: true });
    // OVMF has finished with its variables once it has refused the unsigned shell and sits there.
    await waitForSerial(a, String(first["serialLogPath"]), /Security Violation/, 240_000);
    nvramSha = await sha256(a, String(first["nvramPath"]));
    ek = await ekCertificates();
    expect(ek).toHaveLength(2); // RSA and ECC endorsement key certificates
  });

  it("preview --diff after `pulumi config set vmName`: the domain replaced, the Nvram and TpmState updated, nothing deleted or created", async () => {
    await s.cli(["config", "set", "vmName", NEW]);
    const p = await s.preview({ diff: true });
    expect(p.stdout, p.stdout).toMatch(/\+-pulumi-nodejs:dynamic\/ovmf:Q35Domain: \(replace\)/);
    expect(p.stdout, p.stdout).toMatch(/~ pulumi-nodejs:dynamic\/ovmf:Nvram: \(update\)/);
    expect(p.stdout, p.stdout).toMatch(/~ pulumi-nodejs:dynamic\/ovmf:TpmState: \(update\)/);
    expect(p.stdout, p.stdout).not.toMatch(/(Nvram|TpmState|FirmwareImage): \((delete|create|replace)\)/);
    expect(p.summary).toEqual({ update: 2, replace: 1 });
  });

  it("up: the domain has the new name and the same UUID, the NVRAM the same bytes at the new name's path, the TPM the same EK certificates", async () => {
    const { summary, outputs } = await s.up();
    expect(summary).toMatchObject({ update: 2, replace: 1 });
    expect(summary).not.toHaveProperty("delete");
    expect(summary).not.toHaveProperty("create");
    expect(outputs).toMatchObject({ domainName: NEW, uuid: first["uuid"], nvramPath: `/var/lib/libvirt/qemu/nvram/${NEW}_VARS.fd`, secureBoot: true });
    expect(await virsh.exists(a, OLD)).toBe(false);
    expect(await virsh.domainByUuid(a, String(first["uuid"]))).toBe(NEW);
    expect(await virsh.domstate(a, NEW)).toBe("running");
    // The Nvram's sha256 was taken right after the verified move, before the renamed VM started.
    expect((await s.resourceOutputs("ovmf:Nvram::sb-demo"))["sha256"]).toBe(nvramSha);
    expect(await stat(a, String(first["nvramPath"]))).toBeUndefined();
    expect(await ekCertificates()).toEqual(ek);
    await waitForSerial(a, String(outputs["serialLogPath"]), /Security Violation/, 240_000);
    await s.preview({ expectNoChanges: true });
  });

  it("destroy removes the domain, the NVRAM file and the TPM state", async () => {
    const uuid = String(first["uuid"]);
    await s.destroy({ remove: true });
    expect(await virsh.domainByUuid(a, uuid)).toBeUndefined();
    expect(await stat(a, `/var/lib/libvirt/qemu/nvram/${NEW}_VARS.fd`)).toBeUndefined();
    expect(await stat(a, statePath(uuid))).toBeUndefined();
  });
});
