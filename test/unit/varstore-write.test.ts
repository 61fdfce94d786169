import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { EFI_CERT_SHA256, EFI_CERT_X509, readSignatureLists, sha256List, summarizeEntry, x509List } from "../../provider/nvram/signatures.js";
import { parseVarStore } from "../../provider/nvram/varstore.js";
import { readStoredVariables, storeCapacity, writeVarStore, type StoredVariable } from "../../provider/nvram/varstore-write.js";
import { emptyStore } from "../support/efi-store.js";
import { guidAt } from "../../provider/nvram/varstore.js";

const GLOBAL = "8be4df61-93ca-11d2-aa0d-00e098032b8c";
const OWNER = "77fa9abd-0359-4d32-bd60-28f4e78f784b";

const variable = (name: string, data: Buffer, extra: Partial<StoredVariable> = {}): StoredVariable => ({
  name,
  guid: GLOBAL,
  attributes: 0x27,
  data,
  timestamp: Buffer.alloc(16),
  monotonicCount: 0n,
  pubKeyIndex: 0,
  ...extra,
});

describe("writeVarStore", () => {
  it("round-trips through the reader, keeping authentication fields and what follows the store", () => {
    const time = Buffer.from("e907030a023527000000000000000000", "hex");
    const vars = [variable("PK", Buffer.from("pk-data")), variable("BootOrder", Buffer.from([1, 0]), { attributes: 7 }), variable("db", Buffer.alloc(1000, 7), { timestamp: time, monotonicCount: 5n, pubKeyIndex: 2 })];
    const original = emptyStore(4096, 32);
    const written = writeVarStore(original, vars);
    expect(written.length).toBe(original.length);
    expect(readStoredVariables(written)).toEqual(vars);
    expect(parseVarStore(written).map((v) => v.name)).toEqual(["PK", "BootOrder", "db"]);
    expect(written.subarray(written.length - 32)).toEqual(Buffer.alloc(32, 0x5a));
    // Written again from its own reading, the store is the same bytes.
    expect(writeVarStore(written, readStoredVariables(written))).toEqual(written);
  });

  it("refuses variables that do not fit, and says by how much", () => {
    const store = emptyStore(1024);
    expect(storeCapacity(store)).toBe(1024);
    expect(() => writeVarStore(store, [variable("db", Buffer.alloc(2000))])).toThrow(/need 2068 bytes but the variable store holds 1024: 1044 bytes too many/);
  });

  it("refuses what is not a variable store", () => {
    expect(() => writeVarStore(Buffer.alloc(4096), [])).toThrow(/not an edk2 firmware volume/);
  });
});

describe("signature lists", () => {
  // A real DER certificate: the RSA EK certificate in the golden swtpm state (see tpm-state.test.ts).
  const permall = readFileSync(path.join(__dirname, "golden/swtpm-0.7-tpm2-00.permall"));
  const cert = Buffer.from(permall.subarray(2538, 2538 + 1052));

  it("build an X.509 list and a SHA-256 list that read back entry for entry", () => {
    const hashes = [createHash("sha256").update("a").digest(), createHash("sha256").update("b").digest()];
    const data = Buffer.concat([x509List(OWNER, cert), sha256List(OWNER, hashes)]);
    expect(readSignatureLists(data)).toEqual([
      { type: EFI_CERT_X509, owner: OWNER, data: cert },
      { type: EFI_CERT_SHA256, owner: OWNER, data: hashes[0] },
      { type: EFI_CERT_SHA256, owner: OWNER, data: hashes[1] },
    ]);
    expect(guidAt(x509List(OWNER, cert), 0)).toBe(EFI_CERT_X509);
    expect(summarizeEntry({ type: EFI_CERT_SHA256, owner: OWNER, data: hashes[0]! })).toEqual({ type: "sha256", owner: OWNER, sha256: hashes[0]!.toString("hex") });
  });

  it("describe a certificate by subject, issuer, serial, expiry and fingerprint", () => {
    expect(summarizeEntry({ type: EFI_CERT_X509, owner: OWNER, data: cert })).toEqual({
      type: "x509",
      owner: OWNER,
      subject: "CN=testvm:11111111-2222-3333-4444-555555555555",
      issuer: "CN=swtpm-localca",
      serial: "17",
      notAfter: "9999-12-31T23:59:59.000Z",
      sha256: "4bff9b9b4e271c071ad3025c733234c7fff623106e35edf30f1df78eb3333f6b",
    });
  });

  it("refuse a malformed list", () => {
    const bad = x509List(OWNER, Buffer.alloc(10));
    bad.writeUInt32LE(9999, 16);
    expect(() => readSignatureLists(bad)).toThrow(/malformed signature list at byte 0/);
    expect(() => readSignatureLists(Buffer.alloc(10))).toThrow(/truncated/);
  });
});
