import { describe, expect, it } from "vitest";
import { describeTarget, validateConnection } from "../../provider/ssh/connection.js";
import { isUnknown, UNKNOWN } from "../../provider/dynamic.js";

const FP = "SHA256:zhqhy7Maeo1geoyYva65h0vFSvYN6eiO/k50Q7TsyII";

describe("validateConnection", () => {
  it("accepts a minimal pinned connection", () => {
    expect(validateConnection({ host: "kvm1.example.com", hostKey: FP })).toEqual([]);
  });
  it("requires host key verification and says how to get the fingerprint", () => {
    const failures = validateConnection({ host: "kvm1" });
    expect(failures).toHaveLength(1);
    expect(failures[0]!.property).toBe("connection.hostKey");
    expect(failures[0]!.reason).toContain("ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub");
  });
  it("names each bad field", () => {
    const failures = validateConnection({ host: "bad host!", port: 70000, user: "x y", hostKey: "MD5:aa", sudo: "yes" });
    expect(failures.map((f) => f.property).sort()).toEqual([
      "connection.host",
      "connection.hostKey",
      "connection.port",
      "connection.sudo",
      "connection.user",
    ]);
  });
  it("validates the jump host with its own path", () => {
    const failures = validateConnection({ host: "kvm1", hostKey: FP, jumpHost: { host: "bastion" } });
    expect(failures.map((f) => f.property)).toEqual(["connection.jumpHost.hostKey"]);
  });
  it("accepts unknown values during preview", () => {
    expect(validateConnection({ host: UNKNOWN, port: UNKNOWN, hostKey: UNKNOWN }, "connection", isUnknown)).toEqual([]);
    expect(validateConnection(UNKNOWN, "connection", isUnknown)).toEqual([]);
  });
  it("checks timeoutSeconds: seconds from 1 to 3600", () => {
    expect(validateConnection({ host: "kvm1", hostKey: FP, timeoutSeconds: 5 })).toEqual([]);
    expect(validateConnection({ host: "kvm1", hostKey: FP, timeoutSeconds: UNKNOWN }, "connection", isUnknown)).toEqual([]);
    for (const bad of [0, -1, 3601, "30", Number.NaN]) {
      expect(validateConnection({ host: "kvm1", hostKey: FP, timeoutSeconds: bad })).toEqual([
        { property: "connection.timeoutSeconds", reason: `timeoutSeconds must be a number of seconds from 1 to 3600 (default 30), got ${JSON.stringify(bad)}` },
      ]);
    }
    expect(validateConnection({ host: "kvm1", hostKey: FP, jumpHost: { host: "bastion", hostKey: FP, timeoutSeconds: 0 } }).map((f) => f.property)).toEqual([
      "connection.jumpHost.timeoutSeconds",
    ]);
  });
  it("reports a missing connection", () => {
    expect(validateConnection(undefined)[0]!.property).toBe("connection");
  });
});

describe("describeTarget", () => {
  it("applies the defaults and names the jump host", () => {
    expect(describeTarget({ host: "kvm1" })).toBe("root@kvm1:22");
    expect(describeTarget({ host: "kvm1", user: "ops", port: 2222, jumpHost: { host: "bastion" } })).toBe(
      "ops@kvm1:2222 via root@bastion:22",
    );
  });
});
