import { describe, expect, it } from "vitest";
import { UNKNOWN } from "../../provider/dynamic.js";
import { parseJobInfo } from "../../provider/libvirt/migrate.js";
import { blockedByLiveMove, classify, replacesWithUnknowns } from "../../provider/q35-domain/classify.js";
import { migrationAddressOf, withFirmwarePaths } from "../../provider/q35-domain/host-move.js";
import { q35DomainProvider } from "../../provider/q35-domain/provider.js";
import { validateDomain } from "../../provider/q35-domain/validate.js";
import { RULES_CONNECTION, RULES_DOMAIN } from "../support/domain.js";

const a = RULES_CONNECTION;
const b = { host: "kvm2", hostKey: "SHA256:zhqhy7Maeo1geoyYva65h0vFSvYN6eiO/k50Q7TsyII" };
const base = RULES_DOMAIN;

describe("host moves: cold (a replacement) or live (an update)", () => {
  it("classifies another host as a replacement by default and as a move with hostMove live", () => {
    expect(classify(base, { ...base, connection: b }).kind).toBe("replace");
    expect(classify(base, { ...base, connection: b, hostMove: "cold" }).kind).toBe("replace");
    const live = classify(base, { ...base, connection: b, hostMove: "live" });
    expect(live).toEqual({ kind: "move", changed: [{ property: "connection", kind: "move" }, { property: "hostMove", kind: "none" }] });
    // Only the choice changed: recorded, nothing on the host.
    expect(classify(base, { ...base, hostMove: "live" }).kind).toBe("none");
  });

  it("never replaces for an unknown host with hostMove live", () => {
    const unknownHost = { ...base, connection: { ...a, host: UNKNOWN as unknown as string }, hostMove: "live" as const };
    expect(replacesWithUnknowns(base, unknownHost)).toEqual([]);
    expect(replacesWithUnknowns(base, { ...unknownHost, hostMove: "cold" })).toEqual(["connection"]);
  });

  it("lets the firmware and NVRAM paths ride along with a live move, nothing else that needs a restart", () => {
    const moved = { ...base, connection: b, hostMove: "live" as const };
    expect(blockedByLiveMove(base, { ...moved, firmware: { ...base.firmware, codePath: "/other/c.fd" }, nvram: { path: "/other/n.fd", variant: "4M" } })).toEqual([]);
    expect(blockedByLiveMove(base, { ...moved, memoryMiB: 2048, running: false })).toEqual(["memoryMiB"]);
    expect(blockedByLiveMove(base, { ...moved, name: "web2" })).toEqual(["name"]);
    // Not a move: nothing to block.
    expect(blockedByLiveMove(base, { ...base, hostMove: "live", memoryMiB: 2048 })).toEqual([]);
  });

  it("validates hostMove and migrationAddress, naming the fix", () => {
    const f = validateDomain({ ...base, hostMove: "hot" as "live", migrationAddress: "tcp://10.0.0.2:49152" });
    expect(f.map((x) => x.property)).toEqual(["hostMove", "migrationAddress"]);
    expect(f[0]!.reason).toContain('"cold"');
    expect(validateDomain({ ...base, hostMove: "live", migrationAddress: "10.0.0.2" })).toEqual([]);
    expect(validateDomain({ ...base, hostMove: "live", migrationAddress: "kvm2.example.net" })).toEqual([]);
    expect(validateDomain({ ...base, hostMove: "live", migrationAddress: "[fd00::2]" })).toEqual([]);
  });
});

describe("Q35Domain check of a live host move", () => {
  it("fails the preview for a change that needs a restart, naming it and the fix; passes the move alone", async () => {
    const olds = base as unknown as Record<string, unknown>;
    const both = await q35DomainProvider.check(olds, { ...base, connection: b, hostMove: "live", memoryMiB: 2048 } as unknown as Record<string, unknown>);
    expect(both.failures).toEqual([{ property: "memoryMiB", reason: expect.stringContaining('make it in a pulumi up before or after the host move, or set hostMove: "cold"') }]);
    expect((await q35DomainProvider.check(olds, { ...base, connection: b, hostMove: "live" } as unknown as Record<string, unknown>)).failures).toEqual([]);
    expect((await q35DomainProvider.check(olds, { ...base, connection: b, memoryMiB: 2048 } as unknown as Record<string, unknown>)).failures).toEqual([]);
  });
});

describe("migrationAddressOf", () => {
  it("sends the migration data to migrationAddress, else to the new connection's host (IPv6 in brackets)", () => {
    expect(migrationAddressOf({ connection: b })).toBe("kvm2");
    expect(migrationAddressOf({ connection: b, migrationAddress: "10.0.9.2" })).toBe("10.0.9.2");
    expect(migrationAddressOf({ connection: { ...b, host: "fd00::2" } })).toBe("[fd00::2]");
  });
});

describe("withFirmwarePaths", () => {
  it("sets the loader and NVRAM paths of the migratable XML and keeps everything else", () => {
    const xml =
      "<domain type='kvm'><name>web</name><uuid>u</uuid><os firmware='efi'><type arch='x86_64' machine='pc-q35-7.2'>hvm</type>" +
      "<loader readonly='yes' secure='yes' type='pflash'>/usr/share/OVMF/OVMF_CODE_4M.ms.fd</loader><nvram>/var/lib/libvirt/qemu/nvram/web_VARS.fd</nvram></os>" +
      "<devices><tpm model='tpm-crb'><backend type='emulator' version='2.0'/></tpm></devices></domain>";
    const out = withFirmwarePaths(xml, "/opt/ovmf/CODE.fd", "/srv/nvram/web_VARS.fd");
    expect(out).toContain(`<loader readonly="yes" secure="yes" type="pflash">/opt/ovmf/CODE.fd</loader>`);
    expect(out).toContain("<nvram>/srv/nvram/web_VARS.fd</nvram>");
    expect(out).toContain(`<type arch="x86_64" machine="pc-q35-7.2">hvm</type>`);
    expect(out).toContain(`<backend type="emulator" version="2.0"/>`);
    expect(out).not.toContain("OVMF_CODE_4M");
  });
});

describe("parseJobInfo", () => {
  it("reads the switch-over pause and the whole time from virsh domjobinfo --completed", () => {
    const out = "Job type:         Completed   \nOperation:        Incoming migration\nTime elapsed:     971          ms\nTotal downtime:   23           ms\nDowntime w/o network: 21           ms\n";
    expect(parseJobInfo(out)).toEqual({ downtimeMs: 23, elapsedMs: 971 });
    expect(parseJobInfo("Job type: None\n")).toEqual({});
  });
});
