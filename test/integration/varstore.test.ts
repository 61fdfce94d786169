import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { accessSync, constants, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { readFile, writeFileAtomic } from "../../provider/host/files.js";
import { Host } from "../../provider/host/host.js";
import * as virsh from "../../provider/libvirt/virsh.js";
import { describeNvram } from "../../provider/nvram/model.js";
import { parseVarStore, summarizeVarStore } from "../../provider/nvram/varstore.js";
import { enrollKeys } from "../../provider/nvram/enroll.js";
import { MICROSOFT_CERTIFICATES, MICROSOFT_OWNER, MICROSOFT_SETS } from "../../provider/nvram/microsoft-certs.js";
import { readStoredVariables, writeVarStore } from "../../provider/nvram/varstore-write.js";
import { q35DomainProvider } from "../../provider/q35-domain/provider.js";
import { closeAll } from "../../provider/ssh/pool.js";
import { nvramPathOf, plainDomain } from "../support/domain.js";
import { waitForSerial } from "../support/serial.js";
import { hostConnection } from "../support/testhost.js";

// Our reader of NVRAM files against an independent one: virt-fw-vars (virt-firmware, from PyPI),
// installed by scripts/test.sh (ensure_virt_firmware), on Debian's templates and on a store OVMF wrote.
const run = promisify(execFile);
const conn = hostConnection("a");
const a = new Host(conn);
const work = mkdtempSync(path.join(tmpdir(), "ovmf-varstore-"));
const name = `ovmf-vars-${randomUUID().slice(0, 8)}`;
const nvramPath = nvramPathOf(name);

function virtFwVars(): string {
  const bin = process.env["PULUMI_OVMF_VIRT_FW_VARS"] ?? path.join(homedir(), ".cache/pulumi-ovmf/virt-firmware-26.10/bin/virt-fw-vars");
  try {
    accessSync(bin, constants.X_OK);
  } catch {
    throw new Error(`virt-fw-vars not found at ${bin}: run the tests with npm test, or: source scripts/lib.sh && ensure_virt_firmware`);
  }
  return bin;
}

interface OracleVariable {
  name: string;
  guid: string;
  attr: number;
  data: string;
}

/** Both readers' variables of one file's content, in a comparable form. */
async function bothReaders(content: Buffer) {
  const file = path.join(work, `${randomUUID()}.fd`);
  writeFileSync(file, content);
  await run(virtFwVars(), ["-i", file, "--output-json", `${file}.json`]);
  const oracle = (JSON.parse(readFileSync(`${file}.json`, "utf8")) as { variables: OracleVariable[] }).variables.map((v) => `${v.guid}/${v.name}/${v.attr}/${v.data}`);
  const ours = parseVarStore(content).map((v) => `${v.guid}/${v.name}/${v.attributes}/${v.data.toString("hex")}`);
  return { oracle: oracle.sort(), ours: ours.sort() };
}

afterAll(async () => {
  if (await virsh.exists(a, name)) {
    await virsh.destroy(a, name);
    await virsh.undefine(a, name, "keep");
  }
  await a.run(["rm", "-f", "--", nvramPath]);
  rmSync(work, { recursive: true, force: true });
  closeAll();
});

describe("NVRAM variable stores, read by us and by virt-fw-vars", () => {
  it("Debian's vars templates: the same variables, names, GUIDs, attributes and data", async () => {
    const templates = ["/usr/share/OVMF/OVMF_VARS_4M.ms.fd", "/usr/share/OVMF/OVMF_VARS_4M.fd", "/usr/share/OVMF/OVMF_VARS.ms.fd", "/usr/share/OVMF/OVMF_VARS.fd"];
    for (const t of templates) {
      const { oracle, ours } = await bothReaders(await readFile(a, t));
      expect(ours, t).toEqual(oracle);
    }
    const enrolled = await describeNvram({ connection: conn, path: "/usr/share/OVMF/OVMF_VARS_4M.ms.fd" }, a);
    expect(enrolled.varStore).toMatchObject({ secureBootEnforced: true, keys: { PK: 1 }, microsoftCertificates: ["kek2011", "windowsPca2011", "uefiCa2011"] });
    // The audit lists what the template trusts, as virt-fw-vars --print does: Microsoft's 2011 CAs.
    expect(enrolled.varStore?.signatures.db.map((c) => c.subject?.split("\n").pop())).toEqual(["CN=Microsoft Windows Production PCA 2011", "CN=Microsoft Corporation UEFI CA 2011"]);
    expect(enrolled.varStore?.signatures.db[0]).toMatchObject({ type: "x509", owner: MICROSOFT_OWNER, serial: "61077656000000000008", notAfter: "2026-10-19T18:51:42.000Z", sha256: MICROSOFT_CERTIFICATES.windowsPca2011.sha256 });
    expect(enrolled.varStore?.keys.KEK).toBeGreaterThan(0);
    expect(enrolled.varStore?.keys.db).toBeGreaterThan(0);
    const empty = await describeNvram({ connection: conn, path: "/usr/share/OVMF/OVMF_VARS_4M.fd" }, a);
    expect(empty.varStore).toEqual({ secureBootEnforced: false, keys: { PK: 0, KEK: 0, db: 0, dbx: 0 }, variables: 0, signatures: { PK: [], KEK: [], db: [], dbx: [] }, microsoftCertificates: [] });
  });

  it("a store our writer rewrote (compacted, deleted entries dropped): virt-fw-vars reads the same variables as from the original", async () => {
    for (const t of ["/usr/share/OVMF/OVMF_VARS_4M.ms.fd", "/usr/share/OVMF/OVMF_VARS.ms.fd", "/usr/share/OVMF/OVMF_VARS_4M.fd"]) {
      const original = await readFile(a, t);
      const rewritten = writeVarStore(original, readStoredVariables(original));
      expect(rewritten.equals(original), t).toBe(t.endsWith("OVMF_VARS_4M.fd")); // the enrolled templates carry deleted entries
      const before = await bothReaders(original);
      const after = await bothReaders(rewritten);
      expect(after.oracle, t).toEqual(before.oracle);
      expect(after.ours, t).toEqual(before.ours);
    }
  });

  it("declared keys: our enrollment and virt-fw-vars' (--set-pk, --add-kek, --add-db, --add-dbx-hash) give the same variables", async () => {
    const own = Buffer.from(readFileSync(path.join(__dirname, "../unit/golden/swtpm-0.7-tpm2-00.permall")).subarray(2538, 2538 + 1052));
    const ownFile = path.join(work, "own.der");
    writeFileSync(ownFile, own);
    const owner = "b5e7d4a6-3f1c-4c8e-9a2d-6f0e1b7c3a58";
    const hash = "aa".repeat(32);
    const msArgs: string[] = [];
    for (const n of MICROSOFT_SETS["2023"]) {
      const c = MICROSOFT_CERTIFICATES[n];
      const file = path.join(work, `${n}.der`);
      writeFileSync(file, Buffer.from(c.der, "base64"));
      msArgs.push(c.variable === "KEK" ? "--add-kek" : "--add-db", MICROSOFT_OWNER, file);
    }
    const template = await readFile(a, "/usr/share/OVMF/OVMF_VARS_4M.fd");
    const templateFile = path.join(work, "plain.fd");
    writeFileSync(templateFile, template);
    const theirs = path.join(work, "theirs.fd");
    await run(virtFwVars(), ["-i", templateFile, "--set-pk", owner, ownFile, "--add-kek", owner, ownFile, "--add-db", owner, ownFile, ...msArgs, "--add-dbx-hash", owner, hash, "--sb", "-o", theirs]);
    const ours = enrollKeys(template, { platformKey: own.toString("base64"), keyExchangeKeys: [own.toString("base64")], signatureDatabase: [own.toString("base64")], forbidden: { sha256: [hash] }, microsoft: "2023", owner }, new Date());
    const oracleOf = async (content: Buffer) => (await bothReaders(content)).oracle;
    expect(await oracleOf(ours)).toEqual(await oracleOf(readFileSync(theirs)));
    expect(summarizeVarStore(parseVarStore(ours))).toMatchObject({ secureBootEnforced: true, keys: { PK: 1, KEK: 2, db: 4, dbx: 1 }, variables: 6, microsoftCertificates: ["kek2023", "windowsUefiCa2023", "uefiCa2023", "optionRomUefiCa2023"] });
  });

  it("a store OVMF has written to (boot entries, counters): the same again, and still enforcing", async () => {
    await a.check(["cp", "/usr/share/OVMF/OVMF_VARS_4M.ms.fd", nvramPath], "nvram");
    const { outs } = await q35DomainProvider.create(
      plainDomain(conn, name, {
        memoryMiB: 256,
        firmware: { codePath: "/usr/share/OVMF/OVMF_CODE_4M.ms.fd", varsTemplatePath: "/usr/share/OVMF/OVMF_VARS_4M.ms.fd", features: ["secure-boot", "enrolled-keys", "requires-smm"], variant: "4M" },
        secureBoot: true,
        shutdownTimeoutSeconds: 1,
      }),
    );
    await waitForSerial(a, outs.serialLogPath, /Security Violation/, 240_000);
    await virsh.destroy(a, name);
    const content = await readFile(a, nvramPath);
    const template = await readFile(a, "/usr/share/OVMF/OVMF_VARS_4M.ms.fd");
    expect(content.equals(template)).toBe(false);
    const { oracle, ours } = await bothReaders(content);
    expect(ours).toEqual(oracle);
    const described = await describeNvram({ connection: conn, path: nvramPath }, a);
    expect(described.varStore?.secureBootEnforced).toBe(true);
    await q35DomainProvider.delete("", outs);
  });

  it("OVMF enforces Secure Boot with keys we wrote into the plain template, and keeps the store valid", async () => {
    const own = Buffer.from(readFileSync(path.join(__dirname, "../unit/golden/swtpm-0.7-tpm2-00.permall")).subarray(2538, 2538 + 1052)).toString("base64");
    const plain = await readFile(a, "/usr/share/OVMF/OVMF_VARS_4M.fd");
    await writeFileAtomic(a, nvramPath, enrollKeys(plain, { platformKey: own, keyExchangeKeys: [own], microsoft: "2011" }, new Date()));
    const { outs } = await q35DomainProvider.create(
      plainDomain(conn, name, {
        memoryMiB: 256,
        firmware: { codePath: "/usr/share/OVMF/OVMF_CODE_4M.secboot.fd", varsTemplatePath: "/usr/share/OVMF/OVMF_VARS_4M.fd", features: ["secure-boot", "requires-smm"], variant: "4M" },
        secureBoot: true,
        shutdownTimeoutSeconds: 1,
      }),
    );
    const log = await waitForSerial(a, outs.serialLogPath, /Security Violation|Shell>/, 240_000);
    expect(log).toMatch(/failed to start Boot\d+ "EFI Internal Shell".*: Security Violation/);
    await virsh.destroy(a, name);
    const { oracle, ours } = await bothReaders(await readFile(a, nvramPath));
    expect(ours).toEqual(oracle);
    expect(ours.some((v) => v.includes("/PK/39/"))).toBe(true);
    await q35DomainProvider.delete("", outs);
  });
});
