import { describe, expect, it } from "vitest";
import { describeVarStore, guidAt, parseVarStore, signatureCount, summarizeVarStore } from "../../provider/nvram/varstore.js";

const GLOBAL = "8be4df61-93ca-11d2-aa0d-00e098032b8c";
const DB = "d719b2cb-3d3a-4596-a3bc-dad00e67656f";
const SB_ENABLE = "f0a30bc7-af08-4556-99c4-001009c93a44";
const X509 = "a5c059a1-94e4-4aa7-87b5-ab155c2bf072";

function guid(text: string): Buffer {
  const h = text.replace(/-/g, "");
  const le = (s: string) => Buffer.from(s, "hex").reverse();
  return Buffer.concat([le(h.slice(0, 8)), le(h.slice(8, 12)), le(h.slice(12, 16)), Buffer.from(h.slice(16), "hex")]);
}

/** An EFI_SIGNATURE_LIST of `n` signatures of `size` bytes each. */
function signatureList(n: number, size = 48): Buffer {
  const head = Buffer.alloc(28);
  guid(X509).copy(head, 0);
  head.writeUInt32LE(28 + n * size, 16);
  head.writeUInt32LE(0, 20);
  head.writeUInt32LE(size, 24);
  return Buffer.concat([head, Buffer.alloc(n * size, 0xab)]);
}

/** One authenticated variable (60-byte header), padded to 4 bytes. */
function variable(name: string, vendor: string, data: Buffer, state = 0x3f): Buffer {
  const nameBytes = Buffer.from(`${name}\0`, "utf16le");
  const h = Buffer.alloc(60);
  h.writeUInt16LE(0x55aa, 0);
  h[2] = state;
  h.writeUInt32LE(0x27, 4);
  h.writeUInt32LE(nameBytes.length, 36);
  h.writeUInt32LE(data.length, 40);
  guid(vendor).copy(h, 44);
  const v = Buffer.concat([h, nameBytes, data]);
  return Buffer.concat([v, Buffer.alloc((4 - (v.length % 4)) % 4, 0xff)]);
}

/** A firmware volume with an authenticated variable store holding `vars`. */
function store(...vars: Buffer[]): Buffer {
  const fv = Buffer.alloc(0x48);
  fv.write("_FVH", 0x28, "latin1");
  fv.writeUInt16LE(0x48, 0x30);
  const body = Buffer.concat(vars);
  const header = Buffer.alloc(28);
  guid("aaf32c78-947b-439a-a180-2e144ec37792").copy(header, 0);
  header.writeUInt32LE(28 + body.length + 64, 16);
  return Buffer.concat([fv, header, body, Buffer.alloc(64, 0xff)]);
}

describe("edk2 variable store", () => {
  it("reads GUIDs with their little-endian fields", () => {
    expect(guidAt(guid(GLOBAL), 0)).toBe(GLOBAL);
  });

  it("counts the signatures of several signature lists", () => {
    expect(signatureCount(Buffer.concat([signatureList(2), signatureList(3, 16)]))).toBe(5);
    expect(signatureCount(Buffer.alloc(0))).toBe(0);
  });

  it("enrolled PK, KEK, db: Secure Boot enforced; deleted copies do not count, odd name lengths stay aligned", () => {
    const s = store(
      variable("PK", GLOBAL, signatureList(1)),
      variable("KEK", GLOBAL, signatureList(1), 0x3c), // deleted
      variable("KEK", GLOBAL, signatureList(2)),
      variable("db", DB, signatureList(2)),
      variable("Lang", GLOBAL, Buffer.from("eng")), // 3 bytes of data: padding follows
      variable("SecureBootEnable", SB_ENABLE, Buffer.from([1])),
    );
    const vars = parseVarStore(s);
    expect(vars.map((v) => v.name)).toEqual(["PK", "KEK", "db", "Lang", "SecureBootEnable"]);
    expect(vars[3]?.data.toString()).toBe("eng");
    expect(summarizeVarStore(vars)).toMatchObject({ secureBootEnforced: true, keys: { PK: 1, KEK: 2, db: 2, dbx: 0 }, variables: 5 });
  });

  it("a variable being replaced counts until its new copy is added", () => {
    const inTransition = store(variable("PK", GLOBAL, signatureList(1), 0x3e));
    expect(summarizeVarStore(parseVarStore(inTransition)).keys.PK).toBe(1);
    const replaced = store(variable("PK", GLOBAL, signatureList(1), 0x3e), variable("PK", GLOBAL, signatureList(3)));
    expect(summarizeVarStore(parseVarStore(replaced)).keys.PK).toBe(3);
  });

  it("no PK, or SecureBootEnable off: not enforced", () => {
    expect(summarizeVarStore(parseVarStore(store())).secureBootEnforced).toBe(false);
    const off = store(variable("PK", GLOBAL, signatureList(1)), variable("SecureBootEnable", SB_ENABLE, Buffer.from([0])));
    expect(summarizeVarStore(parseVarStore(off))).toMatchObject({ secureBootEnforced: false, keys: { PK: 1 } });
  });

  it("anything else is not a variable store", () => {
    expect(() => parseVarStore(Buffer.alloc(4096))).toThrow(/no _FVH signature/);
    expect(describeVarStore(Buffer.from("hello"))).toBeUndefined();
    const truncated = store(variable("PK", GLOBAL, signatureList(4))).subarray(0, 0x48 + 28 + 80);
    expect(describeVarStore(truncated)).toBeUndefined();
  });
});
