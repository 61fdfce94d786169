import { createHash } from "node:crypto";

/** The SHA256 fingerprint of a raw SSH public key blob, in the form `ssh-keygen -lf` prints. */
export function sha256Fingerprint(keyBlob: Buffer): string {
  return "SHA256:" + createHash("sha256").update(keyBlob).digest("base64").replace(/=+$/, "");
}

const FINGERPRINT = /^SHA256:[A-Za-z0-9+/]{43}$/;
const KEY_LINE = /^(?:ssh-(?:ed25519|rsa|dss)|ecdsa-sha2-nistp(?:256|384|521)|sk-[a-z0-9@.-]+)\s+([A-Za-z0-9+/]+={0,3})(?:\s.*)?$/;

/**
 * Turns a host key pin into the fingerprint to compare against: either a `SHA256:...` fingerprint
 * (as `ssh-keygen -lf` prints it; a leading key size and trailing comment are tolerated) or a public
 * key line (`ssh-ed25519 AAAA... comment`). Returns undefined when the text is neither.
 */
export function parseHostKeyPin(pin: string): string | undefined {
  const text = pin.trim();
  const fp = text.split(/\s+/).find((word) => word.startsWith("SHA256:"));
  if (fp !== undefined) return FINGERPRINT.test(fp) ? fp : undefined;
  const line = KEY_LINE.exec(text);
  if (line?.[1] === undefined) return undefined;
  return sha256Fingerprint(Buffer.from(line[1], "base64"));
}
