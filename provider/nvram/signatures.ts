/**
 * EFI_SIGNATURE_LISTs: what PK, KEK, db and dbx hold. Builds them from certificates and hashes, and
 * reads them back for the audit outputs. Pure.
 */
import { createHash, X509Certificate } from "node:crypto";
import { guidAt, guidBytes } from "./varstore-write.js";

export const EFI_CERT_X509 = "a5c059a1-94e4-4aa7-87b5-ab155c2bf072";
export const EFI_CERT_SHA256 = "c1c41626-504c-4092-aca9-41f936934328";

/** One entry of a signature list: its owner GUID and its data (a DER certificate or a hash). */
export interface SignatureEntry {
  type: string;
  owner: string;
  data: Buffer;
}

/** A certificate or hash as the audit outputs describe it. */
export interface SignatureSummary {
  /** `x509` or `sha256` (or the type GUID of anything else). */
  type: string;
  owner: string;
  /** For certificates: subject, issuer, serial (hex), notAfter; the sha256 of the DER or the hash itself. */
  subject?: string;
  issuer?: string;
  serial?: string;
  notAfter?: string;
  sha256: string;
}

/** One EFI_SIGNATURE_LIST holding one X.509 certificate (DER). */
export function x509List(owner: string, der: Buffer): Buffer {
  const header = Buffer.alloc(28);
  guidBytes(EFI_CERT_X509).copy(header, 0);
  header.writeUInt32LE(28 + 16 + der.length, 16);
  header.writeUInt32LE(0, 20);
  header.writeUInt32LE(16 + der.length, 24);
  return Buffer.concat([header, guidBytes(owner), der]);
}

/** One EFI_SIGNATURE_LIST holding SHA-256 hashes (32 bytes each). */
export function sha256List(owner: string, hashes: readonly Buffer[]): Buffer {
  const header = Buffer.alloc(28);
  guidBytes(EFI_CERT_SHA256).copy(header, 0);
  header.writeUInt32LE(28 + hashes.length * 48, 16);
  header.writeUInt32LE(0, 20);
  header.writeUInt32LE(48, 24);
  return Buffer.concat([header, ...hashes.flatMap((h) => [guidBytes(owner), h])]);
}

/** The entries of a variable's EFI_SIGNATURE_LISTs; throws on a malformed list. */
export function readSignatureLists(data: Buffer): SignatureEntry[] {
  const entries: SignatureEntry[] = [];
  for (let at = 0; at < data.length; ) {
    if (at + 28 > data.length) throw new Error(`truncated signature list at byte ${at}`);
    const type = guidAt(data, at);
    const listSize = data.readUInt32LE(at + 16);
    const headerSize = data.readUInt32LE(at + 20);
    const signatureSize = data.readUInt32LE(at + 24);
    if (listSize < 28 + headerSize || at + listSize > data.length || signatureSize < 16 || (listSize - 28 - headerSize) % signatureSize !== 0) {
      throw new Error(`malformed signature list at byte ${at}`);
    }
    for (let e = at + 28 + headerSize; e < at + listSize; e += signatureSize) {
      entries.push({ type, owner: guidAt(data, e), data: Buffer.from(data.subarray(e + 16, e + signatureSize)) });
    }
    at += listSize;
  }
  return entries;
}

/** What an entry is: a certificate's subject, issuer, serial, expiry and fingerprint, or a hash. */
export function summarizeEntry(e: SignatureEntry): SignatureSummary {
  if (e.type === EFI_CERT_X509) {
    try {
      const c = new X509Certificate(e.data);
      return { type: "x509", owner: e.owner, subject: c.subject, issuer: c.issuer, serial: c.serialNumber.toLowerCase(), notAfter: new Date(c.validTo).toISOString(), sha256: createHash("sha256").update(e.data).digest("hex") };
    } catch {
      return { type: "x509", owner: e.owner, sha256: createHash("sha256").update(e.data).digest("hex") };
    }
  }
  if (e.type === EFI_CERT_SHA256) return { type: "sha256", owner: e.owner, sha256: e.data.toString("hex") };
  return { type: e.type, owner: e.owner, sha256: createHash("sha256").update(e.data).digest("hex") };
}
