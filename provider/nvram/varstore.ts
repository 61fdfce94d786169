/**
 * Reads an edk2 (OVMF) variable store, the content of an NVRAM/VARS file: a firmware volume header,
 * a variable store header, then one header + UTF-16 name + data per variable. Pure; used to say
 * from the file itself whether OVMF will enforce Secure Boot with it.
 */

export interface EfiVariable {
  name: string;
  /** Vendor GUID, lower case, e.g. 8be4df61-93ca-11d2-aa0d-00e098032b8c */
  guid: string;
  attributes: number;
  data: Buffer;
}

/** What an NVRAM file says about Secure Boot. */
export interface VarStoreSummary {
  /** OVMF enforces Secure Boot with this store: a Platform Key (PK) is enrolled and SecureBootEnable is not off. */
  secureBootEnforced: boolean;
  /** Signatures (certificates or hashes) enrolled in PK, KEK, db and dbx. */
  keys: { PK: number; KEK: number; db: number; dbx: number };
  /** Valid variables in the store. */
  variables: number;
}

const GLOBAL = "8be4df61-93ca-11d2-aa0d-00e098032b8c";
const IMAGE_SECURITY_DATABASE = "d719b2cb-3d3a-4596-a3bc-dad00e67656f";
const SECURE_BOOT_ENABLE = "f0a30bc7-af08-4556-99c4-001009c93a44";
const AUTHENTICATED_STORE = "aaf32c78-947b-439a-a180-2e144ec37792";
const PLAIN_STORE = "ddcf3616-3275-4164-98b6-fe85707ffe7d";
const START_ID = 0x55aa;
const VAR_ADDED = 0x3f;
/** VAR_ADDED & VAR_IN_DELETED_TRANSITION: being replaced; valid while no VAR_ADDED copy exists. */
const VAR_ADDED_IN_TRANSITION = 0x3e;

/** A GUID as text; its first three fields are little-endian. */
export function guidAt(b: Buffer, at: number): string {
  const le = (offset: number, length: number) => Buffer.from(b.subarray(at + offset, at + offset + length)).reverse().toString("hex");
  const be = (offset: number, length: number) => b.subarray(at + offset, at + offset + length).toString("hex");
  return `${le(0, 4)}-${le(4, 2)}-${le(6, 2)}-${be(8, 2)}-${be(10, 6)}`;
}

const align4 = (n: number) => (n + 3) & ~3;

/** The valid variables of an edk2 variable store; throws when `b` is not one. */
export function parseVarStore(b: Buffer): EfiVariable[] {
  if (b.length < 0x48 || b.toString("latin1", 0x28, 0x2c) !== "_FVH") throw new Error("not an edk2 firmware volume (no _FVH signature)");
  const start = b.readUInt16LE(0x30);
  if (start + 28 > b.length) throw new Error("truncated variable store header");
  const kind = guidAt(b, start);
  if (kind !== AUTHENTICATED_STORE && kind !== PLAIN_STORE) throw new Error(`unknown variable store format ${kind}`);
  const authenticated = kind === AUTHENTICATED_STORE;
  const end = Math.min(b.length, start + b.readUInt32LE(start + 16));
  const header = authenticated ? 60 : 32;
  const found: Array<EfiVariable & { state: number }> = [];
  for (let at = start + 28; at + header <= end; ) {
    if (b.readUInt16LE(at) !== START_ID) break;
    const state = b[at + 2] ?? 0;
    const attributes = b.readUInt32LE(at + 4);
    const [nameSize, dataSize, guidOffset] = authenticated ? [b.readUInt32LE(at + 36), b.readUInt32LE(at + 40), at + 44] : [b.readUInt32LE(at + 8), b.readUInt32LE(at + 12), at + 16];
    const nameAt = at + header;
    if (nameAt + nameSize + dataSize > end) throw new Error(`variable at offset ${at} runs past the end of the store`);
    const name = b.toString("utf16le", nameAt, nameAt + nameSize).replace(/\0+$/, "");
    found.push({ name, guid: guidAt(b, guidOffset), attributes, data: Buffer.from(b.subarray(nameAt + nameSize, nameAt + nameSize + dataSize)), state });
    at = align4(nameAt + nameSize + dataSize);
  }
  const key = (v: EfiVariable) => `${v.guid}/${v.name}`;
  const added = new Set(found.filter((v) => v.state === VAR_ADDED).map(key));
  return found
    .filter((v) => v.state === VAR_ADDED || (v.state === VAR_ADDED_IN_TRANSITION && !added.has(key(v))))
    .map(({ state: _state, ...v }) => v);
}

/** How many signatures the EFI_SIGNATURE_LISTs in `data` hold. */
export function signatureCount(data: Buffer): number {
  let count = 0;
  for (let at = 0; at + 28 <= data.length; ) {
    const listSize = data.readUInt32LE(at + 16);
    const headerSize = data.readUInt32LE(at + 20);
    const signatureSize = data.readUInt32LE(at + 24);
    if (listSize < 28 || signatureSize === 0) break;
    count += Math.floor((listSize - 28 - headerSize) / signatureSize);
    at += listSize;
  }
  return count;
}

/** What a store says about Secure Boot. */
export function summarizeVarStore(vars: readonly EfiVariable[]): VarStoreSummary {
  const find = (guid: string, name: string) => vars.find((v) => v.guid === guid && v.name === name);
  const count = (guid: string, name: string) => {
    const v = find(guid, name);
    return v === undefined ? 0 : signatureCount(v.data);
  };
  const keys = { PK: count(GLOBAL, "PK"), KEK: count(GLOBAL, "KEK"), db: count(IMAGE_SECURITY_DATABASE, "db"), dbx: count(IMAGE_SECURITY_DATABASE, "dbx") };
  const enable = find(SECURE_BOOT_ENABLE, "SecureBootEnable");
  const enabled = enable === undefined || enable.data[0] !== 0;
  return { secureBootEnforced: keys.PK > 0 && enabled, keys, variables: vars.length };
}

/** The summary of an NVRAM file's content, or undefined when it is not an edk2 variable store. */
export function describeVarStore(content: Buffer): VarStoreSummary | undefined {
  try {
    return summarizeVarStore(parseVarStore(content));
  } catch {
    return undefined;
  }
}
