/**
 * `secureBootKeys` checked at preview: every field by name, with the fix. Pure (no host is read):
 * the exact room in the store is checked again when the file is written.
 */
import { hasUnknowns } from "../inputs.js";
import type { Failure } from "../ssh/connection.js";
import { certificateDer, keyVariables, type SecureBootKeys } from "./enroll.js";
import { storedSize } from "./varstore-write.js";

const SETS = ["2011", "2023", "both", "none"];
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const SHA256 = /^[0-9a-fA-F]{64}$/;
const FIELDS = new Set(["platformKey", "keyExchangeKeys", "signatureDatabase", "forbidden", "microsoft", "owner"]);

/** Room for variables in the VARS of a 2M and a 4M build (the store less its header). */
export const STORE_CAPACITY: Record<string, number> = { "2M": 57_244, "4M": 262_044 };
/** The most one authenticated variable (header, name and data) may take: OvmfPkg's PcdMaxAuthVariableSize. */
export const MAX_AUTH_VARIABLE: Record<string, number> = { "2M": 0x2800, "4M": 0x8400 };
/** What Debian's templates hold besides the keys (boot entries and the like come later). */
const OTHER_VARIABLES = 2048;

type Unknown = (v: unknown) => boolean;

function checkCertificate(failures: Failure[], property: string, value: unknown, isUnknown: Unknown): void {
  if (isUnknown(value)) return;
  if (typeof value !== "string") {
    failures.push({ property, reason: "must be a certificate: PEM text (-----BEGIN CERTIFICATE-----), for example fs.readFileSync(\"db.crt\", \"utf8\")" });
    return;
  }
  try {
    certificateDer(value);
  } catch (e) {
    failures.push({ property, reason: `${(e as Error).message}; give the certificate's PEM text (openssl x509 -in db.crt -outform PEM), not a key or a CSR` });
  }
}

function checkList(failures: Failure[], property: string, value: unknown, isUnknown: Unknown, each: (p: string, v: unknown) => void): void {
  if (value === undefined || isUnknown(value)) return;
  if (!Array.isArray(value)) {
    failures.push({ property, reason: "must be a list, e.g. [pem]" });
    return;
  }
  value.forEach((v, i) => each(`${property}[${i}]`, v));
}

/** Failures of a `secureBootKeys` input; `variant` (2M or 4M) when known, for the size check. */
export function checkSecureBootKeys(value: unknown, variant: string | undefined, isUnknown: Unknown, prefix = "secureBootKeys"): Failure[] {
  const failures: Failure[] = [];
  if (value === undefined || isUnknown(value)) return failures;
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return [{ property: prefix, reason: `must be an object such as { microsoft: "both" } or { platformKey: pem, keyExchangeKeys: [pem], signatureDatabase: [pem] }` }];
  }
  const keys = value as Record<string, unknown>;
  for (const k of Object.keys(keys)) {
    if (!FIELDS.has(k)) failures.push({ property: `${prefix}.${k}`, reason: `is not a field of secureBootKeys; the fields are ${[...FIELDS].join(", ")}` });
  }
  if (keys["platformKey"] !== undefined) checkCertificate(failures, `${prefix}.platformKey`, keys["platformKey"], isUnknown);
  checkList(failures, `${prefix}.keyExchangeKeys`, keys["keyExchangeKeys"], isUnknown, (p, v) => checkCertificate(failures, p, v, isUnknown));
  checkList(failures, `${prefix}.signatureDatabase`, keys["signatureDatabase"], isUnknown, (p, v) => checkCertificate(failures, p, v, isUnknown));
  const forbidden = keys["forbidden"];
  if (forbidden !== undefined && !isUnknown(forbidden)) {
    if (typeof forbidden !== "object" || forbidden === null || Array.isArray(forbidden)) {
      failures.push({ property: `${prefix}.forbidden`, reason: "must be an object: { certificates?: [pem], sha256?: [hex] }" });
    } else {
      const f = forbidden as Record<string, unknown>;
      for (const k of Object.keys(f)) {
        if (k !== "certificates" && k !== "sha256") failures.push({ property: `${prefix}.forbidden.${k}`, reason: "is not a field of forbidden; the fields are certificates and sha256" });
      }
      checkList(failures, `${prefix}.forbidden.certificates`, f["certificates"], isUnknown, (p, v) => checkCertificate(failures, p, v, isUnknown));
      checkList(failures, `${prefix}.forbidden.sha256`, f["sha256"], isUnknown, (p, v) => {
        if (!isUnknown(v) && (typeof v !== "string" || !SHA256.test(v))) {
          failures.push({ property: p, reason: "must be a SHA-256 hash: 64 hex digits (for an EFI binary, its Authenticode hash, e.g. pesign --hash --in file.efi)" });
        }
      });
    }
  }
  const ms = keys["microsoft"];
  if (ms !== undefined && !isUnknown(ms) && (typeof ms !== "string" || !SETS.includes(ms))) {
    failures.push({ property: `${prefix}.microsoft`, reason: `must be one of "2011", "2023", "both" or "none" (Microsoft's KEK and db certificates of that generation)` });
  }
  const owner = keys["owner"];
  if (owner !== undefined && !isUnknown(owner) && (typeof owner !== "string" || !GUID.test(owner))) {
    failures.push({ property: `${prefix}.owner`, reason: "must be a GUID in lower case, e.g. the output of uuidgen" });
  }
  const capacity = variant === undefined ? undefined : STORE_CAPACITY[variant];
  if (failures.length === 0 && capacity !== undefined && !hasUnknowns(value)) {
    const lists = keyVariables(keys as SecureBootKeys);
    const limit = MAX_AUTH_VARIABLE[variant ?? ""] ?? Infinity;
    for (const [name, field] of [["PK", "platformKey"], ["KEK", "keyExchangeKeys"], ["db", "signatureDatabase"], ["dbx", "forbidden"]] as const) {
      const data = lists[name];
      const size = data === undefined ? 0 : 60 + (name.length + 1) * 2 + data.length;
      if (size > limit) {
        failures.push({
          property: `${prefix}.${field}`,
          reason: `${name} would take ${size} bytes, more than the ${limit} a ${variant} OVMF build accepts for one authenticated variable (PcdMaxAuthVariableSize): declare fewer certificates or hashes there, or use a 4M firmware build`,
        });
      }
    }
    const needed = [lists.PK, lists.KEK, lists.db, lists.dbx].reduce((n, d) => n + (d === undefined ? 0 : storedSize({ name: "dbx", data: d })), 0);
    if (needed + OTHER_VARIABLES > capacity) {
      failures.push({
        property: prefix,
        reason: `the keys need ${needed} bytes but the ${variant} firmware's variable store holds ${capacity} (and the VM needs room for its boot entries): declare fewer certificates or hashes, or use a 4M firmware build`,
      });
    }
  }
  return failures;
}
