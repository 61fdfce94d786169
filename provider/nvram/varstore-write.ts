/**
 * Writes an edk2 (OVMF) variable store: the same file with a new set of variables, laid out as the
 * firmware's own reclaim would (every variable once, VAR_ADDED, 4-byte aligned, the free space
 * 0xFF), the firmware volume and store headers and everything after the store (the fault-tolerant
 * write areas) kept byte for byte. Pure.
 */

const START_ID = 0x55aa;
const VAR_ADDED = 0x3f;
const VAR_ADDED_IN_TRANSITION = 0x3e;
const AUTHENTICATED_STORE = "aaf32c78-947b-439a-a180-2e144ec37792";
const PLAIN_STORE = "ddcf3616-3275-4164-98b6-fe85707ffe7d";
const AUTH_HEADER = 60;
const PLAIN_HEADER = 32;

/** A variable with the fields an authenticated store keeps beside it. */
export interface StoredVariable {
  name: string;
  /** Vendor GUID, lower case. */
  guid: string;
  attributes: number;
  data: Buffer;
  /** EFI_TIME of the last authenticated write (16 bytes; zeros when none). */
  timestamp: Buffer;
  monotonicCount: bigint;
  pubKeyIndex: number;
}

export interface StoreLayout {
  /** Offset of the variable store header. */
  start: number;
  /** End of the variable store region (start + its size). */
  end: number;
  authenticated: boolean;
}

const align4 = (n: number) => (n + 3) & ~3;

/** A GUID as text; its first three fields are little-endian. */
export function guidAt(b: Buffer, at: number): string {
  const le = (offset: number, length: number) => Buffer.from(b.subarray(at + offset, at + offset + length)).reverse().toString("hex");
  const be = (offset: number, length: number) => b.subarray(at + offset, at + offset + length).toString("hex");
  return `${le(0, 4)}-${le(4, 2)}-${le(6, 2)}-${be(8, 2)}-${be(10, 6)}`;
}

/** Where the variable store is in a VARS file; throws when `b` is not one. */
export function storeLayout(b: Buffer): StoreLayout {
  if (b.length < 0x48 || b.toString("latin1", 0x28, 0x2c) !== "_FVH") throw new Error("not an edk2 firmware volume (no _FVH signature)");
  const start = b.readUInt16LE(0x30);
  if (start + 28 > b.length) throw new Error("truncated variable store header");
  const kind = guidAt(b, start);
  if (kind !== AUTHENTICATED_STORE && kind !== PLAIN_STORE) throw new Error(`unknown variable store format ${kind}`);
  return { start, end: Math.min(b.length, start + b.readUInt32LE(start + 16)), authenticated: kind === AUTHENTICATED_STORE };
}

/** The valid variables with their authentication fields, in store order. */
export function readStoredVariables(b: Buffer): StoredVariable[] {
  const { start, end, authenticated } = storeLayout(b);
  const header = authenticated ? AUTH_HEADER : PLAIN_HEADER;
  const found: Array<StoredVariable & { state: number }> = [];
  for (let at = start + 28; at + header <= end; ) {
    if (b.readUInt16LE(at) !== START_ID) break;
    const state = b[at + 2] ?? 0;
    const attributes = b.readUInt32LE(at + 4);
    const [nameSize, dataSize, guidOffset] = authenticated ? [b.readUInt32LE(at + 36), b.readUInt32LE(at + 40), at + 44] : [b.readUInt32LE(at + 8), b.readUInt32LE(at + 12), at + 16];
    const nameAt = at + header;
    if (nameAt + nameSize + dataSize > end) throw new Error(`variable at offset ${at} runs past the end of the store`);
    found.push({
      name: b.toString("utf16le", nameAt, nameAt + nameSize).replace(/\0+$/, ""),
      guid: guidAt(b, guidOffset),
      attributes,
      data: Buffer.from(b.subarray(nameAt + nameSize, nameAt + nameSize + dataSize)),
      timestamp: authenticated ? Buffer.from(b.subarray(at + 16, at + 32)) : Buffer.alloc(16),
      monotonicCount: authenticated ? b.readBigUInt64LE(at + 8) : 0n,
      pubKeyIndex: authenticated ? b.readUInt32LE(at + 32) : 0,
      state,
    });
    at = align4(nameAt + nameSize + dataSize);
  }
  const key = (v: { guid: string; name: string }) => `${v.guid}/${v.name}`;
  const added = new Set(found.filter((v) => v.state === VAR_ADDED).map(key));
  return found.filter((v) => v.state === VAR_ADDED || (v.state === VAR_ADDED_IN_TRANSITION && !added.has(key(v)))).map(({ state: _s, ...v }) => v);
}

/** A GUID's 16 bytes (first three fields little-endian). */
export function guidBytes(guid: string): Buffer {
  const m = /^([0-9a-f]{8})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{12})$/.exec(guid.toLowerCase());
  const [, a = "", b = "", c = "", d = "", e = ""] = m ?? [];
  if (m === null) throw new Error(`not a GUID: ${guid}`);
  const le = (hex: string) => Buffer.from(hex, "hex").reverse();
  return Buffer.concat([le(a), le(b), le(c), Buffer.from(d + e, "hex")]);
}

/** Bytes one variable takes in the store, header and alignment included. */
export function storedSize(v: Pick<StoredVariable, "name" | "data">, authenticated = true): number {
  return align4((authenticated ? AUTH_HEADER : PLAIN_HEADER) + (v.name.length + 1) * 2 + v.data.length);
}

/** The room for variables in a store. */
export function storeCapacity(b: Buffer): number {
  const { start, end } = storeLayout(b);
  return end - (start + 28);
}

/**
 * `original` with its variables replaced by `vars`. Throws, saying by how many bytes, when they do
 * not fit the store (a 2M build's VARS holds 128 KiB, less than a 4M build's 528 KiB).
 */
export function writeVarStore(original: Buffer, vars: readonly StoredVariable[]): Buffer {
  const { start, end, authenticated } = storeLayout(original);
  const out = Buffer.from(original);
  out.fill(0xff, start + 28, end);
  let at = start + 28;
  for (const v of vars) {
    const name = Buffer.from(`${v.name}\0`, "utf16le");
    const size = storedSize(v, authenticated);
    if (at + size > end) {
      const needed = vars.reduce((n, x) => n + storedSize(x, authenticated), 0);
      throw new Error(`the variables need ${needed} bytes but the variable store holds ${end - start - 28}: ${needed - (end - start - 28)} bytes too many`);
    }
    out.writeUInt16LE(START_ID, at);
    out[at + 2] = VAR_ADDED;
    out[at + 3] = 0;
    out.writeUInt32LE(v.attributes >>> 0, at + 4);
    if (authenticated) {
      out.writeBigUInt64LE(v.monotonicCount, at + 8);
      v.timestamp.copy(out, at + 16, 0, 16);
      out.writeUInt32LE(v.pubKeyIndex >>> 0, at + 32);
      out.writeUInt32LE(name.length, at + 36);
      out.writeUInt32LE(v.data.length, at + 40);
      guidBytes(v.guid).copy(out, at + 44);
    } else {
      out.writeUInt32LE(name.length, at + 8);
      out.writeUInt32LE(v.data.length, at + 12);
      guidBytes(v.guid).copy(out, at + 16);
    }
    const header = authenticated ? AUTH_HEADER : PLAIN_HEADER;
    name.copy(out, at + header);
    v.data.copy(out, at + header + name.length);
    at += size;
  }
  return out;
}
