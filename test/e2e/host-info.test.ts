import * as path from "node:path";
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Host } from "../../provider/host/host.js";
import * as virsh from "../../provider/libvirt/virsh.js";
import { closeAll } from "../../provider/ssh/pool.js";
import { installProject, requirePulumiCli, TestStack } from "../support/stack.js";
import { REPO_ROOT, testConnection } from "../support/testhost.js";

const PROJECT = path.join(REPO_ROOT, "examples/host-info");
const s = new TestStack(PROJECT, "e2e-host-info");

async function liveVersions() {
  try {
    return await virsh.version(new Host(testConnection()));
  } finally {
    closeAll();
  }
}

describe("examples/host-info with plain pulumi commands in its directory, against the test host", () => {
  beforeAll(async () => {
    await requirePulumiCli();
    await installProject(PROJECT);
    await s.destroyIfPresent();
  });
  afterAll(() => s.destroyIfPresent());

  it("preview --diff shows what up will create", async () => {
    const { stdout, summary } = await s.preview({ diff: true });
    expect(stdout).toMatch(/\+ pulumi-nodejs:dynamic\/ovmf:HostInfo: \(create\)/);
    expect(summary).toEqual({ create: 2 });
  });

  it("up reports the live libvirt and QEMU versions", async () => {
    const { outputs, stdout } = await s.up();
    expect(stdout).toMatch(/Resources:\n\s+\+ 2 created/);
    const live = await liveVersions();
    expect(outputs).toEqual({
      libvirtVersion: live.libvirt,
      hypervisor: `${live.hypervisor} ${live.hypervisorVersion}`,
    });
  });

  it("stores a small provider reference, no provider code and no plaintext key", async () => {
    const hostInfo = s.stored().find((r) => r.type === "pulumi-nodejs:dynamic/ovmf:HostInfo");
    expect(hostInfo).toBeDefined();
    const provider = String(hostInfo!.inputs["__provider"]);
    expect(provider.length).toBeLessThan(2048);
    expect(provider).toContain('require("pulumi-ovmf/shims/host-info")');
    for (const code of ["virsh", "hostVerifier", "parseVirshVersion", "impl()", "providers["]) {
      expect(provider).not.toContain(code);
    }
    const keyLine = testConnection().privateKey.split("\n")[1]!;
    expect(JSON.stringify(hostInfo)).not.toContain(keyLine);
    expect(JSON.stringify(hostInfo!.inputs["connection"])).toContain("ciphertext");
    expect(JSON.stringify(hostInfo!.outputs["connection"])).toContain("ciphertext");
    // `pulumi config set --secret` keeps only ciphertext in the stack's config file.
    const config = readFileSync(path.join(PROJECT, "Pulumi.e2e-host-info.yaml"), "utf8");
    expect(config).toMatch(/privateKey:\n\s+secure: \S+/);
    expect(config).not.toContain(keyLine);
  });

  it("preview and refresh after up show no changes", async () => {
    expect((await s.preview({ expectNoChanges: true })).summary).toEqual({ same: 2 });
    expect((await s.refresh({ expectNoChanges: true })).summary).toEqual({ same: 2 });
  });

  it("destroy leaves an empty stack", async () => {
    expect((await s.destroy()).summary).toEqual({ delete: 2 });
    expect(s.stored()).toEqual([]);
    await s.destroy({ remove: true });
  });
});
