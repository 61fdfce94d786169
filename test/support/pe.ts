/**
 * PE/COFF (EFI binary) helpers for the Secure Boot boot proofs: the Authenticode SHA-256 that dbx
 * entries name, and a copy of a multi-signed binary that keeps one of its signatures. Pure.
 */
import { createHash } from "node:crypto";

interface PeLayout {
  checksumAt: number;
  securityEntryAt: number;
  sizeOfHeaders: number;
  certTableAt: number;
  certTableSize: number;
  sections: Array<{ at: number; size: number }>;
}

function layout(pe: Buffer): PeLayout {
  if (pe.readUInt16LE(0) !== 0x5a4d) throw new Error("not a PE file (no MZ)");
  const nt = pe.readUInt32LE(0x3c);
  if (pe.readUInt32LE(nt) !== 0x4550) throw new Error("not a PE file (no PE signature)");
  const sectionCount = pe.readUInt16LE(nt + 6);
  const optionalSize = pe.readUInt16LE(nt + 20);
  const optional = nt + 24;
  const plus = pe.readUInt16LE(optional) === 0x20b;
  const directories = optional + (plus ? 112 : 96);
  const securityEntryAt = directories + 4 * 8;
  const sections = [];
  for (let i = 0; i < sectionCount; i++) {
    const s = optional + optionalSize + i * 40;
    sections.push({ at: pe.readUInt32LE(s + 20), size: pe.readUInt32LE(s + 16) });
  }
  return {
    checksumAt: optional + 64,
    securityEntryAt,
    sizeOfHeaders: pe.readUInt32LE(optional + 60),
    certTableAt: pe.readUInt32LE(securityEntryAt),
    certTableSize: pe.readUInt32LE(securityEntryAt + 4),
    sections: sections.filter((s) => s.size > 0).sort((x, y) => x.at - y.at),
  };
}

/** The Authenticode SHA-256 of a PE image, computed as edk2's image verification does (hex). */
export function authenticodeSha256(pe: Buffer): string {
  const l = layout(pe);
  const h = createHash("sha256");
  h.update(pe.subarray(0, l.checksumAt));
  h.update(pe.subarray(l.checksumAt + 4, l.securityEntryAt));
  h.update(pe.subarray(l.securityEntryAt + 8, l.sizeOfHeaders));
  let hashed = l.sizeOfHeaders;
  for (const s of l.sections) {
    h.update(pe.subarray(s.at, s.at + s.size));
    hashed += s.size;
  }
  if (pe.length > hashed + l.certTableSize) h.update(pe.subarray(hashed, pe.length - l.certTableSize));
  return h.digest("hex");
}

/** How many WIN_CERTIFICATE entries (signatures) the binary carries. */
export function signatureCount(pe: Buffer): number {
  return certificates(pe).length;
}

function certificates(pe: Buffer): Buffer[] {
  const l = layout(pe);
  const out: Buffer[] = [];
  for (let at = l.certTableAt; l.certTableSize > 0 && at < l.certTableAt + l.certTableSize; ) {
    const length = pe.readUInt32LE(at);
    if (length < 8) break;
    out.push(pe.subarray(at, at + length));
    at += (length + 7) & ~7;
  }
  return out;
}

/**
 * The binary with only its `index`-th signature (0-based), as if it had been signed once: the
 * certificate table is rewritten, the signed content is unchanged.
 */
export function keepSignature(pe: Buffer, index: number): Buffer {
  const l = layout(pe);
  const certs = certificates(pe);
  const cert = certs[index];
  if (cert === undefined) throw new Error(`the binary has ${certs.length} signatures, no signature ${index}`);
  const padded = Buffer.alloc((cert.length + 7) & ~7);
  cert.copy(padded);
  const out = Buffer.concat([pe.subarray(0, l.certTableAt), padded, pe.subarray(l.certTableAt + l.certTableSize)]);
  out.writeUInt32LE(padded.length, l.securityEntryAt + 4);
  return out;
}
