import { createHash, X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { certificateDer, DEFAULT_OWNER, efiTime, enrollKeys } from "../../provider/nvram/enroll.js";
import { MICROSOFT_CERTIFICATES, MICROSOFT_OWNER, MICROSOFT_SETS } from "../../provider/nvram/microsoft-certs.js";
import { readSignatureLists, summarizeEntry } from "../../provider/nvram/signatures.js";
import { summarizeVarStore, parseVarStore } from "../../provider/nvram/varstore.js";
import { readStoredVariables, writeVarStore } from "../../provider/nvram/varstore-write.js";
import { emptyStore } from "../support/efi-store.js";
import { withKeys } from "../../provider/nvram/placement.js";

// Any real certificate will do as "our own key": the RSA EK certificate in the golden swtpm state.
const permall = readFileSync(path.join(__dirname, "golden/swtpm-0.7-tpm2-00.permall"));
const OWN = Buffer.from(permall.subarray(2538, 2538 + 1052)).toString("base64");
const OWN_PEM = `-----BEGIN CERTIFICATE-----\n${OWN.replace(/(.{64})/g, "$1\n")}\n-----END CERTIFICATE-----\n`;
const NOW = new Date("2026-11-26T12:34:56Z");

/** A store holding one boot entry, as a VM's NVRAM would. */
function vmStore(room = 64 * 1024): Buffer {
  const boot = { name: "BootOrder", guid: "8be4df61-93ca-11d2-aa0d-00e098032b8c", attributes: 7, data: Buffer.from([1, 0, 2, 0]), timestamp: Buffer.alloc(16), monotonicCount: 0n, pubKeyIndex: 0 };
  return writeVarStore(emptyStore(room), [boot]);
}

const entries = (store: Buffer, name: string) => readSignatureLists(parseVarStore(store).find((v) => v.name === name)?.data ?? Buffer.alloc(0)).map(summarizeEntry);

describe("the Microsoft certificates shipped as data", () => {
  it("are the certificates their names and fingerprints say", () => {
    for (const [key, c] of Object.entries(MICROSOFT_CERTIFICATES)) {
      const der = Buffer.from(c.der, "base64");
      expect(createHash("sha256").update(der).digest("hex"), key).toBe(c.sha256);
      expect(new X509Certificate(der).subject, key).toContain(`CN=${c.name}`);
    }
    expect(MICROSOFT_CERTIFICATES.kek2011.sha256).toBe("a1117f516a32cefcba3f2d1ace10a87972fd6bbe8fe0d0b996e09e65d802a503");
    expect(new Set(MICROSOFT_SETS.both)).toEqual(new Set([...MICROSOFT_SETS["2011"], ...MICROSOFT_SETS["2023"]]));
  });

  it("the 2011 set expired in 2026, the 2023 set did not", () => {
    for (const n of MICROSOFT_SETS["2011"]) expect(new Date(new X509Certificate(Buffer.from(MICROSOFT_CERTIFICATES[n].der, "base64")).validTo).getUTCFullYear(), n).toBe(2026);
    for (const n of MICROSOFT_SETS["2023"]) expect(new Date(new X509Certificate(Buffer.from(MICROSOFT_CERTIFICATES[n].der, "base64")).validTo).getUTCFullYear(), n).toBeGreaterThanOrEqual(2035);
  });
});

describe("enrollKeys", () => {
  it("enrolls own PK, KEK and db with Microsoft's 2023 set: enforced, and the boot entries stay", () => {
    const before = vmStore();
    const after = enrollKeys(before, { platformKey: OWN_PEM, keyExchangeKeys: [OWN_PEM], signatureDatabase: [OWN], microsoft: "2023" }, NOW);
    expect(summarizeVarStore(parseVarStore(after))).toMatchObject({ secureBootEnforced: true, keys: { PK: 1, KEK: 2, db: 4, dbx: 1 }, variables: 7, microsoftCertificates: ["kek2023", "windowsUefiCa2023", "uefiCa2023", "optionRomUefiCa2023"] });
    expect(parseVarStore(after).find((v) => v.name === "BootOrder")?.data).toEqual(Buffer.from([1, 0, 2, 0]));
    expect(entries(after, "PK").map((e) => [e.owner, e.subject])).toEqual([[DEFAULT_OWNER, "CN=testvm:11111111-2222-3333-4444-555555555555"]]);
    expect(entries(after, "KEK").map((e) => e.owner)).toEqual([DEFAULT_OWNER, MICROSOFT_OWNER]);
    expect(entries(after, "db").map((e) => e.subject?.split("\n").pop())).toEqual(["CN=testvm:11111111-2222-3333-4444-555555555555", "CN=Windows UEFI CA 2023", "CN=Microsoft UEFI CA 2023", "CN=Microsoft Option ROM UEFI CA 2023"]);
    const pk = readStoredVariables(after).find((v) => v.name === "PK")!;
    expect(pk.attributes).toBe(0x27);
    expect(pk.timestamp).toEqual(efiTime(NOW));
  });

  it("rotation replaces the keys, never adds to old ones: 2011 then both", () => {
    const first = enrollKeys(vmStore(), { platformKey: OWN, microsoft: "2011" }, NOW);
    const second = enrollKeys(first, { platformKey: OWN, microsoft: "both" }, NOW);
    expect(summarizeVarStore(parseVarStore(second)).keys).toEqual({ PK: 1, KEK: 2, db: 5, dbx: 1 });
    expect(parseVarStore(second).filter((v) => v.name === "PK")).toHaveLength(1);
  });

  it("without a PK, Secure Boot is off; dbx keeps the templates' placeholder unless hashes are declared", () => {
    const off = enrollKeys(vmStore(), { microsoft: "2023" }, NOW);
    expect(summarizeVarStore(parseVarStore(off)).secureBootEnforced).toBe(false);
    expect(parseVarStore(off).find((v) => v.name === "SecureBootEnable")?.data).toEqual(Buffer.from([0]));
    expect(entries(off, "dbx")).toEqual([{ type: "sha256", owner: DEFAULT_OWNER, sha256: createHash("sha256").digest("hex") }]);
    const revoked = enrollKeys(vmStore(), { platformKey: OWN, forbidden: { sha256: ["aa".repeat(32), "bb".repeat(32)], certificates: [OWN] } }, NOW);
    expect(entries(revoked, "dbx").map((e) => e.type)).toEqual(["x509", "sha256", "sha256"]);
  });

  it("without a declared PK the store's own PK stays, byte for byte with its timestamp", () => {
    const first = enrollKeys(vmStore(), { platformKey: OWN, microsoft: "2011" }, NOW);
    const second = enrollKeys(first, { microsoft: "both" }, new Date(Date.UTC(2027, 0, 1)));
    const pk = (b: Buffer) => readStoredVariables(b).find((v) => v.name === "PK");
    expect(pk(second)).toEqual(pk(first));
    expect(summarizeVarStore(parseVarStore(second))).toMatchObject({ secureBootEnforced: true, keys: { PK: 1, KEK: 2, db: 5 } });
  });

  it("dbx only grows: a revocation in the store is kept when the declaration drops it, and none is added twice", () => {
    const revoked = enrollKeys(vmStore(), { platformKey: OWN, forbidden: { sha256: ["aa".repeat(32)] } }, NOW);
    const again = enrollKeys(revoked, { platformKey: OWN, forbidden: { sha256: ["aa".repeat(32), "bb".repeat(32)] } }, NOW);
    expect(entries(again, "dbx").map((e) => e.sha256)).toEqual(["aa".repeat(32), "bb".repeat(32)]);
    const dropped = enrollKeys(again, { platformKey: OWN }, NOW);
    expect(entries(dropped, "dbx").map((e) => e.sha256)).toEqual(["aa".repeat(32), "bb".repeat(32)]);
  });

  it("refuses what is not a certificate, and keys that do not fit the store", () => {
    expect(() => certificateDer("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----")).toThrow(/is not an X.509 certificate/);
    expect(() => enrollKeys(vmStore(4096), { platformKey: OWN, microsoft: "both" }, NOW)).toThrow(/bytes too many/);
  });
});

describe("withKeys (the keys written into a file's content)", () => {
  it("names secureBootKeys and the file, with a fix that fits the cause", () => {
    expect(() => withKeys(vmStore(4096), { platformKey: OWN, microsoft: "both" }, "/nv/x_VARS.fd")).toThrow(
      /^secureBootKeys: cannot write the keys into \/nv\/x_VARS\.fd: the variables need \d+ bytes but the variable store holds \d+: \d+ bytes too many\. Declare fewer certificates or hashes, or use a 4M firmware build/,
    );
    expect(() => withKeys(Buffer.alloc(540_672), { microsoft: "2023" }, "/nv/x_VARS.fd")).toThrow(/^secureBootKeys: cannot write the keys into \/nv\/x_VARS\.fd: .*It is not an edk2 variable store \(an OVMF VARS file\) or it is damaged/);
  });
});
