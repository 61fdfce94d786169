import * as path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { Host } from "../../provider/host/host.js";
import * as virsh from "../../provider/libvirt/virsh.js";
import { closeAll } from "../../provider/ssh/pool.js";
import { installProject, pulumiStack, requirePulumiCli, storedResources as stored } from "../support/stack.js";
import { REPO_ROOT, testConnection } from "../support/testhost.js";

const PROJECT = path.join(REPO_ROOT, "examples/host-info");
const STACK = "e2e-host-info";

async function liveVersions() {
  try {
    return await virsh.version(new Host(testConnection()));
  } finally {
    closeAll();
  }
}

describe("HostInfo with the real Pulumi CLI against the test host", () => {
  beforeAll(async () => {
    await requirePulumiCli();
    await installProject(PROJECT);
    await pulumiStack(PROJECT, "destroy", STACK, "--remove").catch(() => undefined);
  });

  it("up reports the live libvirt and QEMU versions", async () => {
    const { result } = await pulumiStack(PROJECT, "up", STACK);
    const live = await liveVersions();
    expect(result["outputs"]).toEqual({
      libvirtVersion: live.libvirt,
      hypervisor: `${live.hypervisor} ${live.hypervisorVersion}`,
    });
  });

  it("stores a small provider reference, no provider code and no plaintext key", async () => {
    const hostInfo = stored(PROJECT, STACK).find((r) => r.type === "pulumi-nodejs:dynamic/ovmf:HostInfo");
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
  });

  it("preview after up shows no changes", async () => {
    const { result } = await pulumiStack(PROJECT, "preview", STACK, "--expect-no-changes");
    expect(result["changeSummary"]).toEqual({ same: 2 });
  });

  it("destroy leaves an empty stack", async () => {
    await pulumiStack(PROJECT, "destroy", STACK);
    expect(stored(PROJECT, STACK)).toEqual([]);
    await pulumiStack(PROJECT, "destroy", STACK, "--remove");
  });
});
