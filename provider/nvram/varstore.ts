/**
 * Reads an edk2 (OVMF) variable store, the content of an NVRAM/VARS file: a firmware volume header,
 * a variable store header, then one header + UTF-16 name + data per variable. Pure; used to say
 * from the file itself whether OVMF will enforce Secure Boot with it.
 */
import { EFI_GLOBAL as GLOBAL, IMAGE_SECURITY_DATABASE, SECURE_BOOT_ENABLE_GUID as SECURE_BOOT_ENABLE } from "./enroll.js";
import { MICROSOFT_CERTIFICATES } from "./microsoft-certs.js";
import { readSignatureLists, summarizeEntry, type SignatureSummary } from "./signatures.js";
import { readStoredVariables } from "./varstore-write.js";

export type { SignatureSummary };

export { guidAt } from "./varstore-write.js";

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
  /**
   * Each certificate (subject, issuer, serial, notAfter, sha256 of the DER) and hash in PK, KEK, db
   * and dbx, in store order: what the VM trusts, for audits and policies.
   */
  signatures: { PK: SignatureSummary[]; KEK: SignatureSummary[]; db: SignatureSummary[]; dbx: SignatureSummary[] };
  /**
   * Which of Microsoft's certificates KEK and db hold, by the names `secureBootKeys.microsoft`
   * uses (`kek2011`, `kek2023`, `windowsPca2011`, `uefiCa2011`, `windowsUefiCa2023`, `uefiCa2023`,
   * `optionRomUefiCa2023`), found by fingerprint: a VM without `kek2023` cannot take Microsoft's
   * 2023 db updates, one without `windowsUefiCa2023` does not boot media signed only by it.
   */
  microsoftCertificates: string[];
}


/** The valid variables of an edk2 variable store; throws when `b` is not one. */
export function parseVarStore(b: Buffer): EfiVariable[] {
  return readStoredVariables(b).map(({ name, guid, attributes, data }) => ({ name, guid, attributes, data }));
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
  const listed = (guid: string, name: string): SignatureSummary[] => {
    const v = find(guid, name);
    if (v === undefined) return [];
    try {
      return readSignatureLists(v.data).map(summarizeEntry);
    } catch {
      return [];
    }
  };
  const keys = { PK: count(GLOBAL, "PK"), KEK: count(GLOBAL, "KEK"), db: count(IMAGE_SECURITY_DATABASE, "db"), dbx: count(IMAGE_SECURITY_DATABASE, "dbx") };
  const signatures = { PK: listed(GLOBAL, "PK"), KEK: listed(GLOBAL, "KEK"), db: listed(IMAGE_SECURITY_DATABASE, "db"), dbx: listed(IMAGE_SECURITY_DATABASE, "dbx") };
  const trusted = new Set([...signatures.KEK, ...signatures.db].map((s) => s.sha256));
  const microsoftCertificates = Object.entries(MICROSOFT_CERTIFICATES)
    .filter(([, c]) => trusted.has(c.sha256))
    .map(([n]) => n);
  const enable = find(SECURE_BOOT_ENABLE, "SecureBootEnable");
  const enabled = enable === undefined || enable.data[0] !== 0;
  return { secureBootEnforced: keys.PK > 0 && enabled, keys, variables: vars.length, signatures, microsoftCertificates };
}

/** The summary of an NVRAM file's content, or undefined when it is not an edk2 variable store. */
export function describeVarStore(content: Buffer): VarStoreSummary | undefined {
  try {
    return summarizeVarStore(parseVarStore(content));
  } catch {
    return undefined;
  }
}
