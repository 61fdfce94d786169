import { createHmac } from "node:crypto";
import { sha256Fingerprint } from "./fingerprint.js";

/** One usable line of a known_hosts file. */
interface KnownHostEntry {
  marker: "" | "@revoked" | "@cert-authority";
  patterns: string;
  keyType: string;
  key: Buffer;
}

function parseLine(line: string): KnownHostEntry | undefined {
  const words = line.trim().split(/\s+/);
  if (words.length === 0 || words[0] === "" || words[0]?.startsWith("#")) return undefined;
  const marker = words[0] === "@revoked" || words[0] === "@cert-authority" ? words.shift() : "";
  const [patterns, keyType, key] = words;
  if (patterns === undefined || keyType === undefined || key === undefined) return undefined;
  return { marker: marker as KnownHostEntry["marker"], patterns, keyType, key: Buffer.from(key, "base64") };
}

/** The name known_hosts uses for a host: `host` on port 22, `[host]:port` otherwise. */
export function knownHostsName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

function globToRegExp(glob: string): RegExp {
  const body = glob.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".");
  return new RegExp(`^${body}$`, "i");
}

/** Whether a host-pattern field (comma list, `*`/`?` globs, `!` negation, or `|1|salt|hash`) names `name`. */
export function patternsMatch(patterns: string, name: string): boolean {
  if (patterns.startsWith("|1|")) {
    const [, , salt, hash] = patterns.split("|");
    if (salt === undefined || hash === undefined) return false;
    return createHmac("sha1", Buffer.from(salt, "base64")).update(name).digest("base64") === hash;
  }
  let matched = false;
  for (const raw of patterns.split(",")) {
    const negated = raw.startsWith("!");
    const pattern = negated ? raw.slice(1) : raw;
    if (globToRegExp(pattern).test(name)) {
      if (negated) return false;
      matched = true;
    }
  }
  return matched;
}

/** What known_hosts says of a presented host key. */
export type KnownHostsVerdict =
  | { ok: true }
  | { ok: false; reason: "unknown-host" }
  | { ok: false; reason: "revoked" }
  | { ok: false; reason: "mismatch"; expected: string[] };

/**
 * Checks a presented host key (raw blob) against known_hosts text for host:port, as OpenSSH does:
 * a revoked key is refused, a key listed for the host is accepted, other keys listed for the host
 * make it a mismatch, and a host with no entries is unknown. @cert-authority lines are not used.
 */
export function verifyKnownHosts(text: string, host: string, port: number, presented: Buffer): KnownHostsVerdict {
  const name = knownHostsName(host, port);
  const entries = text
    .split("\n")
    .map(parseLine)
    .filter((e): e is KnownHostEntry => e !== undefined && e.marker !== "@cert-authority" && patternsMatch(e.patterns, name));
  if (entries.some((e) => e.marker === "@revoked" && e.key.equals(presented))) return { ok: false, reason: "revoked" };
  const plain = entries.filter((e) => e.marker === "");
  if (plain.some((e) => e.key.equals(presented))) return { ok: true };
  if (plain.length === 0) return { ok: false, reason: "unknown-host" };
  return { ok: false, reason: "mismatch", expected: plain.map((e) => `${sha256Fingerprint(e.key)} (${e.keyType})`) };
}
