import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stat } from "../../provider/host/files.js";
import { Host } from "../../provider/host/host.js";
import { parseDomain } from "../../provider/libvirt/domain-xml.js";
import * as virsh from "../../provider/libvirt/virsh.js";
import { readPermall } from "../../provider/tpm-state/remote.js";
import { rejection } from "../support/rejection.js";
import { stackLifecycle, TestStack } from "../support/stack.js";
import { hostConnection, REPO_ROOT } from "../support/testhost.js";

// The same program in two stacks on one host (dev and staging, two colleagues, a copied program):
// the second is refused before anything changes, naming the first, and its destroy leaves the
// first's VM, NVRAM file and TPM state as they were.
const project = path.join(REPO_ROOT, "examples/secure-boot-vm");
const first = new TestStack(project, "e2e-first");
const second = new TestStack(project, "e2e-second");
const a = new Host(hostConnection("a"));
const vm = "e2e-twin";
const config = [`vmName=${vm}`, "tpm=true"];

describe("two stacks of the secure-boot-vm example on one host", () => {
  stackLifecycle(first, project);
  beforeAll(() => second.destroyIfPresent());
  afterAll(() => second.destroyIfPresent());

  it("the second stack's preview and up are refused, naming the first stack's resources; its destroy leaves them", async () => {
    const up = await first.up(config);
    expect(up.summary.create).toBeGreaterThan(0);
    const nvramPath = String(up.outputs["nvramPath"]);
    const uuid = String(up.outputs["uuid"]);
    const before = { nvram: await stat(a, nvramPath), tpm: await readPermall(a, uuid) };

    await second.config(config);
    // The first resource the preview reaches, the Nvram, stops it (the domain after it would say the same).
    const preview = await rejection(second.preview({ diff: true }));
    expect(preview.message).toContain(
      `property path value {${nvramPath}} has a problem: the NVRAM file ${nvramPath} on ${a.target} belongs to urn:pulumi:e2e-first::secure-boot-vm::pulumi-ovmf:index:SecureBootVm$pulumi-nodejs:dynamic/ovmf:Nvram::sb-demo of stack organization/secure-boot-vm/e2e-first`,
    );
    expect(preview.message).toContain("or set adopt: true to take the file over on purpose");
    const upAgain = await rejection(second.up(config));
    expect(upAgain.message).toContain("belongs to urn:pulumi:e2e-first::");
    await second.destroy({ remove: true });

    const xml = await virsh.dumpxml(a, vm, true);
    expect(parseDomain(xml).uuid).toBe(uuid);
    expect(await virsh.domstate(a, vm)).toBe("running");
    expect((await stat(a, nvramPath))?.size).toBe(before.nvram?.size);
    // (The running guest's firmware and TPM may write their files; they are there, of the same size.)
    expect((await readPermall(a, uuid))?.length).toBe(before.tpm?.length);
    // The first stack still sees everything as it left it.
    await first.preview({ expectNoChanges: true });
  });
});
