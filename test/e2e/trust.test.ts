import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readFile } from "../../provider/host/files.js";
import { Host } from "../../provider/host/host.js";
import * as virsh from "../../provider/libvirt/virsh.js";
import { MICROSOFT_SETS } from "../../provider/nvram/microsoft-certs.js";
import { parseVarStore, type VarStoreSummary } from "../../provider/nvram/varstore.js";
import { closeAll } from "../../provider/ssh/pool.js";
import { BOOTED, buildBootMedia, REFUSED, type BootMedia } from "../support/efi-media.js";
import { waitForSerial } from "../support/serial.js";
import { installProject, requirePulumiCli, TestStack } from "../support/stack.js";
import { hostConnection, REPO_ROOT } from "../support/testhost.js";

// Secure Boot keys proven by booting, with plain pulumi on the test host: real EFI binaries from
// Debian's packages (systemd-boot signed with the stack's own key; Microsoft's shim with one of its
// two signatures) on SecureBootVms whose NVRAMs declare the keys, and OVMF's boot manager saying in
// the serial log whether it started the binary or refused it (Security Violation).
const PROJECT = path.join(REPO_ROOT, "test/e2e/projects/trust");
const s = new TestStack(PROJECT, "e2e-trust");
const a = new Host(hostConnection("a"));
const MEDIA_DIR = "/var/lib/libvirt/images/ovmf-e2e-trust";
const keysDir = mkdtempSync(path.join(tmpdir(), "ovmf-trust-keys-"));
const run = promisify(execFile);

interface Outputs {
  uuids: Record<string, string>;
  nvramPaths: Record<string, string>;
  serialLogs: Record<string, string>;
  secureBoot: Record<string, boolean>;
  varStores: Record<string, VarStoreSummary>;
}
let media: BootMedia;
let first: Outputs;

const vms = (changes: Record<string, object> = {}) => {
  const list = [
    { name: "trust-own", disk: media.own, trust: "own" },
    { name: "trust-own-on-debian", disk: media.own, trust: "template" },
    { name: "trust-shim-on-2011", disk: media.shim2011, trust: "2011" },
    { name: "trust-shim-on-2023", disk: media.shim2011, trust: "2023" },
    { name: "trust-shim23-on-debian", disk: media.shim2023, trust: "template" },
  ];
  return [`vms=${JSON.stringify(list.map((vm) => ({ ...vm, ...changes[vm.name] })))}`, `keysDir=${keysDir}`];
};
/** Waits for OVMF's verdict in a VM's serial log, and prints the boot manager's lines as the proof. */
async function serial(o: Outputs, vm: string, text: RegExp): Promise<string> {
  const log = await waitForSerial(a, o.serialLogs[vm]!, text, 300_000);
  console.info(`${vm}:\n${log.split(/\r?\n/).filter((l) => /BdsDxe: (starting|failed to load) Boot\d+ "UEFI/.test(l)).map((l) => `  ${l.replace(/^.*BdsDxe/, "BdsDxe")}`).join("\n")}`);
  return log;
}
/** Every variable but the keys (and MTC, the counter OVMF bumps at each boot), by name and content. */
const otherVariables = async (file: string) =>
  parseVarStore(await readFile(a, file))
    .filter((v) => !["PK", "KEK", "db", "dbx", "SecureBootEnable", "CustomMode", "MTC"].includes(v.name))
    .map((v) => `${v.guid}/${v.name}/${v.attributes}/${v.data.toString("hex")}`)
    .sort();

describe("Secure Boot keys proven by booting real EFI binaries, with the real Pulumi CLI", () => {
  beforeAll(async () => {
    await requirePulumiCli();
    await installProject(PROJECT);
    await s.destroyIfPresent();
    media = await buildBootMedia(a, MEDIA_DIR);
    writeFileSync(path.join(keysDir, "db.crt"), media.ownCertificate);
  });
  afterAll(async () => {
    await s.destroyIfPresent();
    await a.run(["rm", "-rf", "--", MEDIA_DIR]);
    rmSync(keysDir, { recursive: true, force: true });
    closeAll();
  });

  it("up: own key boots under own keys and is refused under Debian's template; a 2011-signed shim boots with the 2011 set, not with only 2023; a 2023-signed one not under Debian's template", async () => {
    first = (await s.up(vms())).outputs as unknown as Outputs;
    const own = await serial(first, "trust-own", BOOTED);
    expect(own).not.toMatch(REFUSED);
    await serial(first, "trust-own", /Reboot Into Firmware Interface/); // systemd-boot's own menu: it runs
    await serial(first, "trust-own-on-debian", REFUSED);
    expect(await serial(first, "trust-shim-on-2011", BOOTED)).not.toMatch(REFUSED);
    await serial(first, "trust-shim-on-2023", REFUSED);
    await serial(first, "trust-shim23-on-debian", REFUSED);
    for (const vm of Object.keys(first.uuids)) expect(first.secureBoot[vm], vm).toBe(true);

    // The audit: what each VM trusts, by certificate, read from its NVRAM.
    const own0 = first.varStores["trust-own"]!;
    expect(own0.signatures.PK.map((c) => c.subject)).toEqual(["CN=pulumi-ovmf e2e db"]);
    expect(own0.signatures.db.map((c) => c.subject)).toEqual(["CN=pulumi-ovmf e2e db"]);
    expect(own0.microsoftCertificates).toEqual([]);
    expect(first.varStores["trust-own-on-debian"]!.microsoftCertificates).toEqual([...MICROSOFT_SETS["2011"]]);
    expect(first.varStores["trust-shim-on-2023"]!.microsoftCertificates).toEqual([...MICROSOFT_SETS["2023"]]);
    expect(first.varStores["trust-shim-on-2011"]!.signatures.KEK.map((c) => c.notAfter)).toEqual(["2026-06-24T20:51:29.000Z"]);

    // virt-fw-vars reads the file we wrote as declared: our certificate as PK, KEK and db.
    const file = path.join(keysDir, "own.fd");
    writeFileSync(file, await readFile(a, first.nvramPaths["trust-own"]!));
    const bin = process.env["PULUMI_OVMF_VIRT_FW_VARS"] ?? path.join(homedir(), ".cache/pulumi-ovmf/virt-firmware-26.10/bin/virt-fw-vars");
    const printed = (await run(bin, ["-i", file, "--print", "--verbose"])).stdout;
    for (const variable of ["PK", "KEK", "db"]) expect(printed).toMatch(new RegExp(`name=${variable}\\b[\\s\\S]*?CN=pulumi-ovmf e2e db`));
    expect(printed).toMatch(/name=SecureBootEnable[\s\S]*?bool: ON/);
  });

  it("preview of a key change shows an Nvram update (no replacement) and warns about PCR 7", async () => {
    const changes = { "trust-shim-on-2023": { trust: "both" }, "trust-own": { revoke: [media.ownSha256] }, "trust-shim23-on-debian": { trust: "both" } };
    const preview = await s.preview({ diff: true, config: vms(changes) });
    expect(preview.stdout, preview.stdout).toMatch(/~ pulumi-nodejs:dynamic\/ovmf:Nvram: \(update\)[\s\S]*?secureBootKeys/);
    // A non-interactive preview writes the warning to stderr (the CI workflow keeps both).
    expect(preview.stderr).toMatch(/warning: Nvram \/var\/lib\/libvirt\/qemu\/nvram\/trust-own_VARS\.fd: changing secureBootKeys changes PK\/KEK\/db\/dbx, which the firmware measures into TPM PCR 7/);
    expect(preview.stderr).toMatch(/manage-bde -protectors -disable C: -RebootCount 2/);
    expect(preview.summary).toMatchObject({ update: 3 });
    expect(preview.summary).not.toHaveProperty("replace");
  });

  it("up rotates running VMs: each is stopped, its keys rewritten with every other variable kept, and started again", async () => {
    const rotated = ["trust-shim-on-2023", "trust-own", "trust-shim23-on-debian"];
    const before = Object.fromEntries(await Promise.all(rotated.map(async (vm) => [vm, await otherVariables(first.nvramPaths[vm]!)] as const)));
    const changes = { "trust-shim-on-2023": { trust: "both" }, "trust-own": { revoke: [media.ownSha256] }, "trust-shim23-on-debian": { trust: "both" } };
    const after = (await s.up(vms(changes))).outputs as unknown as Outputs;
    expect(after.uuids).toEqual(first.uuids); // the same domains: started again, not replaced

    // The 2011-signed shim now boots on the VM that only had the 2023 set, the 2023-signed one on
    // the VM that had Debian's template; the own binary, revoked through dbx, no longer boots.
    expect(await serial(after, "trust-shim-on-2023", BOOTED)).not.toMatch(REFUSED);
    expect(await serial(after, "trust-shim23-on-debian", BOOTED)).not.toMatch(REFUSED);
    await serial(after, "trust-own", REFUSED);
    expect(after.varStores["trust-shim-on-2023"]!.microsoftCertificates).toEqual([...MICROSOFT_SETS.both]);
    expect(after.varStores["trust-own"]!.signatures.dbx.map((e) => e.sha256)).toContain(media.ownSha256);
    for (const vm of rotated) {
      expect(await virsh.domstate(a, vm), vm).toBe("running");
      // Every variable is still there as it was; the only new one is what shim writes when it runs
      // (SbatLevel, its revocation level), on the VMs that now boot it.
      const now = await otherVariables(after.nvramPaths[vm]!);
      expect(before[vm]!.filter((v) => !now.includes(v)), vm).toEqual([]);
      const added = now.filter((v) => !before[vm]!.includes(v)).map((v) => v.split("/")[1]);
      expect(added, vm).toEqual(vm === "trust-own" ? [] : ["SbatLevel"]);
    }
  });

  it("an unchanged preview shows no changes", async () => {
    await s.preview({ expectNoChanges: true });
  });
});
