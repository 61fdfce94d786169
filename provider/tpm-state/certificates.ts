import { createHash, X509Certificate } from "node:crypto";

/** A certificate stored in a TPM's NV indices, as the TpmState outputs describe it. */
export interface TpmCertificate {
  /** `ek` (TCG EK certificate, EKU 2.23.133.8.1), `platform` (2.23.133.8.2), or `other`. */
  kind: "ek" | "platform" | "other";
  /** `rsa` or `ec`: the key the certificate is for. */
  keyType: string;
  subject: string;
  issuer: string;
  /** Serial number in hex, as OpenSSL prints it. */
  serial: string;
  notAfter: string;
  /** sha256 of the DER encoding: the certificate's fingerprint. */
  sha256: string;
}

const EKU_EK = "2.23.133.8.1";
const EKU_PLATFORM = "2.23.133.8.2";

/**
 * Finds the X.509 certificates in a TPM state blob (swtpm's `tpm2-00.permall`): swtpm_setup writes
 * the EK and platform certificates into NV indices, which libtpms keeps as plain DER inside the
 * state. Each `SEQUENCE { SEQUENCE ...` with a 2-byte length that parses as a certificate counts.
 * Pure; an encrypted or foreign blob gives none.
 */
export function findCertificates(blob: Buffer): TpmCertificate[] {
  const found: TpmCertificate[] = [];
  for (let i = 0; i + 8 <= blob.length; i++) {
    if (blob[i] !== 0x30 || blob[i + 1] !== 0x82 || blob[i + 4] !== 0x30 || blob[i + 5] !== 0x82) continue;
    const end = i + 4 + blob.readUInt16BE(i + 2);
    if (end > blob.length) continue;
    const der = blob.subarray(i, end);
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(der);
    } catch {
      continue;
    }
    const eku = cert.keyUsage ?? [];
    found.push({
      kind: eku.includes(EKU_EK) ? "ek" : eku.includes(EKU_PLATFORM) ? "platform" : "other",
      keyType: cert.publicKey.asymmetricKeyType ?? "unknown",
      subject: cert.subject,
      issuer: cert.issuer,
      serial: cert.serialNumber,
      notAfter: cert.validTo,
      sha256: createHash("sha256").update(der).digest("hex"),
    });
    i = end - 1;
  }
  return found;
}
