import { readFileSync } from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { stat } from "../../provider/host/files.js";
import { Host } from "../../provider/host/host.js";
import * as virsh from "../../provider/libvirt/virsh.js";
import { markPathOf } from "../../provider/nvram/ownership.js";
import { stackLifecycle, TestStack } from "../support/stack.js";
import { hostConnection, loadTestHost, REPO_ROOT } from "../support/testhost.js";

// A user's own host is usually reached as a sudo user, not as root: the README's sudoers rule,
// exactly as documented, is what the test host's sudo user has.
const project = path.join(REPO_ROOT, "examples/secure-boot-vm");
const s = new TestStack(project, "e2e-sudo");
const a = new Host(hostConnection("a"));
const vm = "e2e-sudo-vm";

describe("the secure-boot-vm example as a non-root sudo user", () => {
  stackLifecycle(s, project);

  it("the README's sudoers rule is the test host's", () => {
    const readme = readFileSync(path.join(REPO_ROOT, "README.md"), "utf8");
    const rule = /^deploy (ALL=\(root\) NOPASSWD: .+)$/m.exec(readme)?.[1];
    expect(rule, "a sudoers line for the user deploy in the README").toBeDefined();
    const th = loadTestHost();
    expect(readFileSync("/etc/sudoers.d/pulumi-ovmf-testhost", "utf8").trim()).toBe(`${th.users.sudo} ${rule}`);
  });

  it("up, an unchanged preview and destroy work through sudo -n, with root's files on the host", async () => {
    const th = loadTestHost();
    const up = await s.up([`user=${th.users.sudo}`, "sudo=true", `vmName=${vm}`]);
    expect(up.outputs["secureBoot"]).toBe(true);
    const nvramPath = String(up.outputs["nvramPath"]);
    // (libvirt hands the NVRAM file to the qemu user while the VM runs; the mark stays root's.)
    expect(await stat(a, nvramPath)).toMatchObject({ mode: "600" });
    expect(await stat(a, markPathOf(nvramPath))).toMatchObject({ owner: "root", mode: "600" });
    expect(await virsh.domstate(a, vm)).toBe("running");
    await s.preview({ expectNoChanges: true });
    await s.destroy();
    expect(await virsh.exists(a, vm)).toBe(false);
    expect(await stat(a, nvramPath)).toBeUndefined();
  });
});
