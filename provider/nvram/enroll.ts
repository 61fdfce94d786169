/**
 * Declared Secure Boot keys written into a variable store: PK, KEK, db and dbx become exactly what
 * is declared (the named Microsoft set added), every other variable (boot entries, counters) stays.
 * Pure: the caller reads and writes the file.
 */
import { createHash, X509Certificate } from "node:crypto";
import { MICROSOFT_CERTIFICATES, MICROSOFT_OWNER, MICROSOFT_SETS } from "./microsoft-certs.js";
import { EFI_CERT_X509, readSignatureLists, sha256List, x509List } from "./signatures.js";
import { readStoredVariables, writeVarStore, type StoredVariable } from "./varstore-write.js";

export const EFI_GLOBAL = "8be4df61-93ca-11d2-aa0d-00e098032b8c";
export const IMAGE_SECURITY_DATABASE = "d719b2cb-3d3a-4596-a3bc-dad00e67656f";
export const SECURE_BOOT_ENABLE_GUID = "f0a30bc7-af08-4556-99c4-001009c93a44";
export const CUSTOM_MODE_GUID = "c076ec0c-7028-4399-a072-71ee5c448b9f";
/** NV | BS | RT | TIME_BASED_AUTHENTICATED_WRITE_ACCESS: how PK, KEK, db and dbx are stored. */
export const AUTH_VARIABLE = 0x27;
/** NV | BS: SecureBootEnable and CustomMode. */
const NV_BS = 0x03;

/** The keys a VM's variable store holds, as declared. Certificates are PEM (or DER in base64). */
export interface SecureBootKeys {
  /**
   * The Platform Key's certificate. With a PK, OVMF enforces Secure Boot. Omitted: the store's PK is
   * kept (Debian's `.ms` templates have one; the plain template has none, so Secure Boot stays off).
   */
  platformKey?: string;
  /** Your Key Exchange Keys (before Microsoft's). */
  keyExchangeKeys?: string[];
  /** Your db certificates: what may boot (before Microsoft's). */
  signatureDatabase?: string[];
  /**
   * dbx: certificates and SHA-256 hashes (hex; for an EFI binary, its Authenticode hash) that may
   * never boot. Added to what dbx holds: a revocation already in the store (the template's, or one the
   * guest applied) is never removed.
   */
  forbidden?: { certificates?: string[]; sha256?: string[] };
  /** Microsoft's KEK and db certificates to add: "2011", "2023", "both" or "none" (default). */
  microsoft?: "2011" | "2023" | "both" | "none";
  /** Owner GUID of your entries. Default: pulumi-ovmf's. */
  owner?: string;
}

/** The owner GUID of declared entries unless `owner` says otherwise. */
export const DEFAULT_OWNER = "b5e7d4a6-3f1c-4c8e-9a2d-6f0e1b7c3a58";

/** DER bytes of a certificate given as PEM or base64 DER; throws naming what is wrong. */
export function certificateDer(text: string): Buffer {
  const pem = /-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/.exec(text);
  const der = Buffer.from((pem?.[1] ?? text).replace(/\s+/g, ""), "base64");
  try {
    new X509Certificate(der);
  } catch {
    throw new Error("is not an X.509 certificate (PEM, or DER in base64)");
  }
  return der;
}

/** EFI_TIME (16 bytes) of a moment, UTC. */
export function efiTime(now: Date): Buffer {
  const t = Buffer.alloc(16);
  t.writeUInt16LE(now.getUTCFullYear(), 0);
  t[2] = now.getUTCMonth() + 1;
  t[3] = now.getUTCDate();
  t[4] = now.getUTCHours();
  t[5] = now.getUTCMinutes();
  t[6] = now.getUTCSeconds();
  return t;
}

/** The signature-list data of PK, KEK, db and dbx for the declared keys. */
export function keyVariables(keys: SecureBootKeys): { PK?: Buffer; KEK: Buffer; db: Buffer; dbx: Buffer } {
  const owner = keys.owner ?? DEFAULT_OWNER;
  const ms = MICROSOFT_SETS[keys.microsoft ?? "none"].map((n) => MICROSOFT_CERTIFICATES[n]);
  const msFor = (variable: "KEK" | "db") => ms.filter((c) => c.variable === variable).map((c) => x509List(MICROSOFT_OWNER, Buffer.from(c.der, "base64")));
  const own = (pems: string[] | undefined) => (pems ?? []).map((p) => x509List(owner, certificateDer(p)));
  const hashes = (keys.forbidden?.sha256 ?? []).map((h) => Buffer.from(h, "hex"));
  return {
    ...(keys.platformKey === undefined ? {} : { PK: x509List(owner, certificateDer(keys.platformKey)) }),
    KEK: Buffer.concat([...own(keys.keyExchangeKeys), ...msFor("KEK")]),
    db: Buffer.concat([...own(keys.signatureDatabase), ...msFor("db")]),
    dbx: Buffer.concat([...own(keys.forbidden?.certificates), ...(hashes.length > 0 ? [sha256List(owner, hashes)] : [])]),
  };
}

/**
 * dbx after adding the declared entries to what the store holds: existing lists stay byte for byte,
 * declared entries not yet there are appended; an empty dbx holds the templates' placeholder (the
 * hash of nothing), so guests can append to it.
 */
export function mergeForbidden(existing: Buffer | undefined, declared: Buffer, owner: string): Buffer {
  const have = new Set(existing === undefined ? [] : readSignatureLists(existing).map((e) => `${e.type}/${e.data.toString("hex")}`));
  const added = readSignatureLists(declared).filter((e) => !have.has(`${e.type}/${e.data.toString("hex")}`));
  const lists = added.map((e) => (e.type === EFI_CERT_X509 ? x509List(e.owner, e.data) : sha256List(e.owner, [e.data])));
  const merged = Buffer.concat([existing ?? Buffer.alloc(0), ...lists]);
  return merged.length > 0 ? merged : sha256List(owner, [createHash("sha256").digest()]);
}

const KEY_NAMES = new Set([`${EFI_GLOBAL}/PK`, `${EFI_GLOBAL}/KEK`, `${IMAGE_SECURITY_DATABASE}/db`, `${IMAGE_SECURITY_DATABASE}/dbx`, `${SECURE_BOOT_ENABLE_GUID}/SecureBootEnable`, `${CUSTOM_MODE_GUID}/CustomMode`]);

/**
 * The store with KEK and db set to the declared keys, the declared PK (or the store's own when none
 * is declared), dbx grown by the declared entries (time-based authenticated variables stamped `now`),
 * SecureBootEnable on exactly when there is a PK, CustomMode off, and every other variable as it
 * was. Throws when the result does not fit the store.
 */
export function enrollKeys(store: Buffer, keys: SecureBootKeys, now: Date): Buffer {
  const all = readStoredVariables(store);
  const current = (guid: string, name: string) => all.find((v) => v.guid === guid && v.name === name);
  const declared = keyVariables(keys);
  const oldPk = current(EFI_GLOBAL, "PK");
  const lists = { ...declared, PK: declared.PK ?? oldPk?.data, dbx: mergeForbidden(current(IMAGE_SECURITY_DATABASE, "dbx")?.data, declared.dbx, keys.owner ?? DEFAULT_OWNER) };
  const kept = all.filter((v) => !KEY_NAMES.has(`${v.guid}/${v.name}`));
  const stamp = efiTime(now);
  const auth = (name: string, guid: string, data: Buffer): StoredVariable => ({ name, guid, attributes: AUTH_VARIABLE, data, timestamp: stamp, monotonicCount: 0n, pubKeyIndex: 0 });
  const plain = (name: string, guid: string, value: number): StoredVariable => ({ name, guid, attributes: NV_BS, data: Buffer.from([value]), timestamp: Buffer.alloc(16), monotonicCount: 0n, pubKeyIndex: 0 });
  const vars: StoredVariable[] = [
    ...kept,
    ...(lists.PK === undefined ? [] : [declared.PK === undefined && oldPk !== undefined ? oldPk : auth("PK", EFI_GLOBAL, lists.PK)]),
    ...(lists.KEK.length === 0 ? [] : [auth("KEK", EFI_GLOBAL, lists.KEK)]),
    ...(lists.db.length === 0 ? [] : [auth("db", IMAGE_SECURITY_DATABASE, lists.db)]),
    auth("dbx", IMAGE_SECURITY_DATABASE, lists.dbx),
    plain("SecureBootEnable", SECURE_BOOT_ENABLE_GUID, lists.PK === undefined ? 0 : 1),
    plain("CustomMode", CUSTOM_MODE_GUID, 0),
  ];
  return writeVarStore(store, vars);
}

/** Whether enrolling `keys` would change what PK, KEK, db, dbx or SecureBootEnable hold in `store`. */
export function keysDiffer(store: Buffer, keys: SecureBootKeys): boolean {
  const watched = (b: Buffer) =>
    readStoredVariables(b)
      .filter((v) => KEY_NAMES.has(`${v.guid}/${v.name}`) && v.name !== "CustomMode")
      .map((v) => `${v.guid}/${v.name}/${v.data.toString("hex")}`)
      .sort()
      .join();
  return watched(store) !== watched(enrollKeys(store, keys, new Date(0)));
}
