import { createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import { knownHostsName, patternsMatch, verifyKnownHosts } from "../../provider/ssh/known-hosts.js";

const KEY_A = "AAAAC3NzaC1lZDI1NTE5AAAAIDAxJLaC4MpmDjbozI1r/VZ/IL+G25KS+l9ykeA31f0d";
const FP_A = "SHA256:zhqhy7Maeo1geoyYva65h0vFSvYN6eiO/k50Q7TsyII";
const KEY_B = "AAAAC3NzaC1lZDI1NTE5AAAAIPIGLDh+ddSbESqYNeY0srpQLjdDKX5I+VNm5vA4PZT3";
const blob = (k: string) => Buffer.from(k, "base64");

function hashed(name: string, salt = Buffer.from("0123456789abcdefghij")): string {
  return `|1|${salt.toString("base64")}|${createHmac("sha1", salt).update(name).digest("base64")}`;
}

describe("knownHostsName", () => {
  it("uses [host]:port except on port 22", () => {
    expect(knownHostsName("kvm1", 22)).toBe("kvm1");
    expect(knownHostsName("127.0.0.1", 2222)).toBe("[127.0.0.1]:2222");
  });
});

describe("patternsMatch", () => {
  it("matches plain names, comma lists and globs, case-insensitively", () => {
    expect(patternsMatch("kvm1,kvm2", "kvm2")).toBe(true);
    expect(patternsMatch("*.example.com", "KVM1.example.com")).toBe(true);
    expect(patternsMatch("kvm?", "kvm7")).toBe(true);
    expect(patternsMatch("kvm?", "kvm10")).toBe(false);
  });
  it("lets a negated pattern veto a match", () => {
    expect(patternsMatch("*.example.com,!bad.example.com", "bad.example.com")).toBe(false);
  });
  it("matches hashed entries (HMAC-SHA1 of the name) including [host]:port", () => {
    expect(patternsMatch(hashed("[127.0.0.1]:2222"), "[127.0.0.1]:2222")).toBe(true);
    expect(patternsMatch(hashed("[127.0.0.1]:2222"), "127.0.0.1")).toBe(false);
  });
  it("does not treat regex characters in patterns as regex", () => {
    expect(patternsMatch("[127.0.0.1]:2222", "[127.0.0.1]:2222")).toBe(true);
    expect(patternsMatch("[127.0.0.1]:2222", "1:2222")).toBe(false);
  });
});

describe("verifyKnownHosts", () => {
  const text = [
    "# comment",
    "",
    `kvm1 ssh-ed25519 ${KEY_A}`,
    `${hashed("[kvm2]:2222")} ssh-ed25519 ${KEY_B}`,
    `@cert-authority *.example.com ssh-ed25519 ${KEY_B}`,
    `@revoked kvm3 ssh-ed25519 ${KEY_A}`,
    `kvm3 ssh-ed25519 ${KEY_A}`,
  ].join("\n");

  it("accepts the listed key", () => {
    expect(verifyKnownHosts(text, "kvm1", 22, blob(KEY_A))).toEqual({ ok: true });
    expect(verifyKnownHosts(text, "kvm2", 2222, blob(KEY_B))).toEqual({ ok: true });
  });
  it("reports a mismatch with the expected fingerprints", () => {
    expect(verifyKnownHosts(text, "kvm1", 22, blob(KEY_B))).toEqual({ ok: false, reason: "mismatch", expected: [`${FP_A} (ssh-ed25519)`] });
  });
  it("reports an unknown host (the port is part of the name)", () => {
    expect(verifyKnownHosts(text, "kvm2", 22, blob(KEY_B))).toEqual({ ok: false, reason: "unknown-host" });
    expect(verifyKnownHosts(text, "x.example.com", 22, blob(KEY_B))).toEqual({ ok: false, reason: "unknown-host" });
  });
  it("refuses a revoked key even when also listed", () => {
    expect(verifyKnownHosts(text, "kvm3", 22, blob(KEY_A))).toEqual({ ok: false, reason: "revoked" });
  });
});
