import { createHash } from "node:crypto";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stat } from "../../provider/host/files.js";
import { Host } from "../../provider/host/host.js";
import * as virsh from "../../provider/libvirt/virsh.js";
import { closeAll } from "../../provider/ssh/pool.js";
import { manufactureCount, readPermall } from "../../provider/tpm-state/remote.js";
import { serialLogPath } from "../../provider/q35-domain/spec.js";
import { waitForSerial } from "../support/serial.js";
import { installProject, requirePulumiCli, TestStack } from "../support/stack.js";
import { hostConnection, REPO_ROOT } from "../support/testhost.js";

// A Secure Boot VM with a TPM (SecureBootVm tpm: true, backupTpm: true), with plain pulumi: its TPM
// is the same TPM across a rename, a delete-and-recreate of its domain and a host move, a lost state
// comes back from the backup, and destroy removes it.
const PROJECT = path.join(REPO_ROOT, "test/e2e/projects/tpm");
const s = new TestStack(PROJECT, "e2e-tpm");
const a = new Host(hostConnection("a"));
const b = new Host(hostConnection("b"));
const DEFAULTS = ["host=a", "domainName=e2e-tpm", "running=true"];
const cfg = (...overrides: string[]) => {
  const merged = new Map(DEFAULTS.map((kv) => [kv.split("=")[0]!, kv]));
  for (const kv of overrides) merged.set(kv.split("=")[0]!, kv);
  return [...merged.values()];
};
const up = async (...o: string[]) => (await s.up(cfg(...o))).outputs as { domainName: string; uuid: string; nvramPath: string; tpmPath: string; tpmSha256: string; ekSha256: string[] };
const sha = async (host: Host, uuid: string) => {
  const permall = await readPermall(host, uuid);
  return permall === undefined ? "(none)" : createHash("sha256").update(permall).digest("hex");
};

let first: Awaited<ReturnType<typeof up>>;
// swtpm logs outlive their domains: count the manufacturing lines this run adds.
const made: Record<string, number> = {};
const newlyMade = async (host: Host, vm: string) => (await manufactureCount(host, vm)) - (made[vm] ?? 0);

describe("a Secure Boot VM's TPM with the real Pulumi CLI on two test hosts", () => {
  beforeAll(async () => {
    await requirePulumiCli();
    await installProject(PROJECT);
    await s.destroyIfPresent();
    for (const vm of ["e2e-tpm", "e2e-tpm-renamed"]) made[vm] = await manufactureCount(a, vm);
  });
  afterAll(async () => {
    await s.destroyIfPresent();
    closeAll();
  });

  it("up: the TPM is manufactured once, before the domain, which takes its UUID and runs", async () => {
    first = await up();
    expect(first.uuid).toMatch(/^[0-9a-f-]{36}$/);
    expect(first.tpmPath).toBe(`/var/lib/libvirt/swtpm/${first.uuid}`);
    expect(first.ekSha256).toHaveLength(2); // RSA and ECC endorsement key certificates
    expect(await virsh.domstate(a, "e2e-tpm")).toBe("running");
    expect(await virsh.domainByUuid(a, first.uuid)).toBe("e2e-tpm");
    expect(await newlyMade(a, "e2e-tpm")).toBe(1);
    // The backup of the TPM (its endorsement key, what the guest sealed) is a secret in the state.
    const stored = s.stored().find((r) => r.type === "pulumi-nodejs:dynamic/ovmf:TpmState");
    expect(JSON.stringify(stored?.outputs["backupData"])).toContain("ciphertext");
  });

  it("a rename keeps the UUID and the TPM: identical state, no second manufacturing", async () => {
    await up("running=false");
    const before = await sha(a, first.uuid);
    const p = await s.preview({ diff: true, config: cfg("running=false", "domainName=e2e-tpm-renamed") });
    expect(p.stdout, p.stdout).toMatch(/\+-pulumi-nodejs:dynamic\/ovmf:Q35Domain: \(replace\)/);
    expect(p.stdout).not.toMatch(/TpmState: \(replace\)/);
    const renamed = await up("running=false", "domainName=e2e-tpm-renamed");
    expect(renamed.uuid).toBe(first.uuid);
    expect(await virsh.exists(a, "e2e-tpm")).toBe(false);
    expect(await virsh.domainByUuid(a, first.uuid)).toBe("e2e-tpm-renamed");
    expect(await sha(a, first.uuid)).toBe(before);
    await up("domainName=e2e-tpm-renamed");
    expect(await virsh.domstate(a, "e2e-tpm-renamed")).toBe("running");
    expect(await newlyMade(a, "e2e-tpm-renamed")).toBe(0);
    expect((await s.refresh()).stdout).not.toContain("error");
    expect((await s.outputs())["ekSha256"]).toEqual(first.ekSha256);
  });

  it("a domain deleted outside Pulumi comes back with up --refresh, with the same UUID and TPM", async () => {
    await up("domainName=e2e-tpm-renamed", "running=false");
    const before = await sha(a, first.uuid);
    await a.check(["virsh", "-q", "undefine", "--keep-nvram", "--keep-tpm", "e2e-tpm-renamed"], "undefine by hand");
    const again = (await s.up(cfg("domainName=e2e-tpm-renamed", "running=false"), { refresh: true })).outputs;
    expect(again["uuid"]).toBe(first.uuid);
    expect(await virsh.domainByUuid(a, first.uuid)).toBe("e2e-tpm-renamed");
    expect(await sha(a, first.uuid)).toBe(before);
    expect(await newlyMade(a, "e2e-tpm-renamed")).toBe(0);
  });

  it("moves the running VM from host a to host b: the state identical on b, gone from a, the VM running on b", async () => {
    await up("domainName=e2e-tpm-renamed");
    await waitForSerial(a, serialLogPath("e2e-tpm-renamed"), /BdsDxe/, 240_000); // OVMF has used its TPM
    const before = await sha(a, first.uuid);
    const p = await s.preview({ diff: true, config: cfg("domainName=e2e-tpm-renamed", "host=b") });
    expect(p.stdout, p.stdout).toMatch(/~ pulumi-nodejs:dynamic\/ovmf:TpmState: \(update\)/);
    const moved = await up("domainName=e2e-tpm-renamed", "host=b");
    expect(moved.uuid).toBe(first.uuid);
    expect(await stat(a, first.tpmPath)).toBeUndefined();
    expect(await virsh.exists(a, "e2e-tpm-renamed")).toBe(false);
    expect(await virsh.domstate(b, "e2e-tpm-renamed")).toBe("running");
    expect(await virsh.domainByUuid(b, first.uuid)).toBe("e2e-tpm-renamed");
    // The TpmState's sha256 was taken on b right after the verified copy, before the domain started there.
    expect(moved.tpmSha256).toBe(before);
    expect(moved.ekSha256).toEqual(first.ekSha256);
    expect(await newlyMade(b, "e2e-tpm-renamed")).toBe(0);
  });

  it("a state deleted on the host shows in preview after a refresh, and up restores it from the backup, byte for byte", async () => {
    await up("domainName=e2e-tpm-renamed", "host=b", "running=false");
    await s.refresh(); // the backup is this state
    const before = await sha(b, first.uuid);
    await b.check(["rm", "-rf", "--", first.tpmPath], "lose the TPM state");
    await s.refresh();
    const p = await s.preview({ diff: true });
    expect(p.stdout, p.stdout).toMatch(/~ pulumi-nodejs:dynamic\/ovmf:TpmState: \(update\)/);
    await up("domainName=e2e-tpm-renamed", "host=b", "running=false");
    expect(await sha(b, first.uuid)).toBe(before);
    await s.preview({ expectNoChanges: true });
  });

  it("destroy removes the domain, the NVRAM and the TPM state", async () => {
    await s.destroy({ remove: true });
    for (const host of [a, b]) {
      expect(await virsh.domainByUuid(host, first.uuid)).toBeUndefined();
      expect(await stat(host, first.tpmPath)).toBeUndefined();
      expect(await stat(host, first.nvramPath)).toBeUndefined();
    }
  });
});
