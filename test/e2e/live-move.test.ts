import { createHash } from "node:crypto";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { readFile, sha256, stat } from "../../provider/host/files.js";
import { Host } from "../../provider/host/host.js";
import * as virsh from "../../provider/libvirt/virsh.js";
import { serialLogPath } from "../../provider/q35-domain/spec.js";
import { readPermall } from "../../provider/tpm-state/remote.js";
import { rejection } from "../support/rejection.js";
import { waitForSerial } from "../support/serial.js";
import { stackLifecycle, TestStack } from "../support/stack.js";
import { hostConnection, REPO_ROOT } from "../support/testhost.js";

// A running Secure Boot VM with a TPM moves from host a to host b with hostMove: "live", with plain
// pulumi: a failing migration first (an address b cannot be reached at) leaves it running on a,
// untouched, and setting the host back removes what the attempt put on b; then the move: the guest keeps running (no second boot), its NVRAM and TPM state on
// b are the guest's, nothing is left on a, and the next preview shows no changes.
const PROJECT = path.join(REPO_ROOT, "test/e2e/projects/tpm");
const s = new TestStack(PROJECT, "e2e-live");
const a = new Host(hostConnection("a"));
const b = new Host(hostConnection("b"));
const VM = "e2e-live";
const cfg = (...o: string[]) => ["host=a", `domainName=${VM}`, "running=true", "hostMove=live", "migrationAddress=", ...o];
const permallSha = async (host: Host, uuid: string) => {
  const p = await readPermall(host, uuid);
  return p === undefined ? undefined : createHash("sha256").update(p).digest("hex");
};
const reason = async (host: Host) => (await host.check(["env", "LC_ALL=C", "virsh", "-c", virsh.LIBVIRT_URI, "domstate", "--reason", "--", VM], "domstate --reason")).stdout.trim();

describe("live host move of a running Secure Boot VM with a TPM (real Pulumi CLI, hosts a and b)", () => {
  let uuid = "";
  let nvramPath = "";
  stackLifecycle(s, PROJECT);

  it("runs on a, and its guest has written its NVRAM", async () => {
    const outs = (await s.up(cfg())).outputs as Record<string, string>;
    uuid = outs["uuid"]!;
    nvramPath = outs["nvramPath"]!;
    expect(await virsh.domstate(a, VM)).toBe("running");
    // OVMF writes its boot variables before its boot manager prints.
    await waitForSerial(a, serialLogPath(VM), /BdsDxe/, 240_000);
    expect(await sha256(a, nvramPath)).not.toBe(await sha256(a, "/usr/share/OVMF/OVMF_VARS_4M.ms.fd"));
  });

  it("a migration that fails leaves the VM running on a with its NVRAM and TPM state untouched, and says why", async () => {
    const nvramBefore = await sha256(a, nvramPath);
    const tpmBefore = await permallSha(a, uuid);
    const err = await rejection(s.up(cfg("host=b", "migrationAddress=10.255.255.1")));
    expect(err.message).toMatch(/live migration of domain "e2e-live" from root@127\.0\.0\.1:\d+ to root@127\.0\.0\.1:\d+ failed: .*10\.255\.255\.1/);
    expect(err.message).toContain("Check that the source host reaches the destination's QEMU on TCP ports 49152-49215");
    expect(await virsh.domstate(a, VM)).toBe("running");
    expect(await virsh.exists(b, VM)).toBe(false);
    expect(await sha256(a, nvramPath)).toBe(nvramBefore);
    expect(await permallSha(a, uuid)).toBe(tpmBefore);
    // The copies the Nvram and TpmState put on b for the migration are there for the retry.
    expect(await stat(b, nvramPath)).toBeDefined();
    expect(await permallSha(b, uuid)).toBe(tpmBefore);
  });

  it("set back to a after the failure: the copies on b go, the VM and its files on a stay as they are", async () => {
    const nvramBefore = await sha256(a, nvramPath);
    const tpmBefore = await permallSha(a, uuid);
    await s.up(cfg("host=a"));
    expect(await virsh.domstate(a, VM)).toBe("running");
    expect(await reason(a)).toBe("running (booted)");
    expect(await stat(b, nvramPath)).toBeUndefined();
    expect(await permallSha(b, uuid)).toBeUndefined();
    expect(await sha256(a, nvramPath)).toBe(nvramBefore);
    expect(await permallSha(a, uuid)).toBe(tpmBefore);
    await s.preview({ expectNoChanges: true });
  });

  it("moves live to b: no reboot, the guest's NVRAM and TPM state on b, nothing left on a, then no changes", async () => {
    const p = await s.preview({ diff: true, config: cfg("host=b") });
    expect(p.stdout, p.stdout).toMatch(/~ pulumi-nodejs:dynamic\/ovmf:Q35Domain: \(update\)/);
    expect(p.stdout).not.toMatch(/Q35Domain: \(replace\)/);
    // The preview says so (on stderr during a preview, under Diagnostics in an up).
    expect(`${p.stderr ?? ""}${p.stdout}`).toMatch(/Q35Domain "e2e-live" moves live from 127\.0\.0\.1:\d+ to 127\.0\.0\.1:\d+: migrated while it runs, no reboot/);
    // The guest is idle at its boot manager: what is on a now is what it holds.
    const nvramBefore = await sha256(a, nvramPath);
    const tpmBefore = await permallSha(a, uuid);
    const moved = await s.up(cfg("host=b"));
    expect(moved.stdout).toMatch(/moved live from root@127\.0\.0\.1:\d+ to root@127\.0\.0\.1:\d+: paused \d+ ms for the switch-over/);
    console.info(moved.stdout.match(/paused \d+ ms[^\n]*/)?.[0]);
    // The QEMU process on b got the guest by migration; it did not boot it.
    expect(await reason(b)).toBe("running (migrated)");
    expect(await virsh.exists(a, VM)).toBe(false);
    expect(await stat(a, nvramPath)).toBeUndefined();
    expect(await stat(a, `/var/lib/libvirt/swtpm/${uuid}`)).toBeUndefined();
    expect(await sha256(b, nvramPath)).toBe(nvramBefore);
    expect(await permallSha(b, uuid)).toBe(tpmBefore);
    // No second boot: OVMF prints its boot manager lines again at every boot.
    await new Promise((r) => setTimeout(r, 10_000));
    const log = (await stat(b, serialLogPath(VM))) === undefined ? "" : (await readFile(b, serialLogPath(VM))).toString("latin1");
    expect(log).not.toMatch(/BdsDxe/);
    expect(await virsh.domstate(b, VM)).toBe("running");
    await s.preview({ expectNoChanges: true });
  });

  it("shut off, it moves cold even with hostMove live: an update that takes its files along", async () => {
    await s.up(cfg("host=b", "running=false"));
    const nvramBefore = await sha256(b, nvramPath);
    const tpmBefore = await permallSha(b, uuid);
    const p = await s.preview({ diff: true, config: cfg("host=a", "running=false") });
    expect(p.stdout, p.stdout).toMatch(/~ pulumi-nodejs:dynamic\/ovmf:Q35Domain: \(update\)/);
    await s.up(cfg("host=a", "running=false"));
    expect(await virsh.domstate(a, VM)).toBe("shut off");
    expect(await virsh.exists(b, VM)).toBe(false);
    expect(await stat(b, nvramPath)).toBeUndefined();
    expect(await permallSha(b, uuid)).toBeUndefined();
    expect(await sha256(a, nvramPath)).toBe(nvramBefore);
    expect(await permallSha(a, uuid)).toBe(tpmBefore);
    expect(await virsh.domainByUuid(a, uuid)).toBe(VM);
    await s.preview({ expectNoChanges: true });
  });

  it("destroy removes it", async () => {
    await s.destroy({ remove: true });
    expect(await virsh.exists(a, VM)).toBe(false);
    expect(await stat(a, nvramPath)).toBeUndefined();
    expect(await permallSha(a, uuid)).toBeUndefined();
  });
});
