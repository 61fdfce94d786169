import { readFileSync } from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { UNKNOWN } from "../../provider/dynamic.js";
import { renderDomain } from "../../provider/libvirt/domain-xml.js";
import { CHANGE_TABLE, classify, replacesWithUnknowns } from "../../provider/q35-domain/classify.js";
import { resolve, type DomainInputs } from "../../provider/q35-domain/spec.js";
import { validateDomain } from "../../provider/q35-domain/validate.js";
import { findCertificates } from "../../provider/tpm-state/certificates.js";
import { permallPath, statePath, swtpmLogPath } from "../../provider/tpm-state/model.js";
import { CLONE_REFUSED, tpmStateProvider } from "../../provider/tpm-state/provider.js";

// A TPM manufactured by Debian 12's swtpm_setup 0.7.1 (`--vmid testvm:11111111-...`, EK and platform
// certificates from swtpm_localca), as libvirt does at a domain's first start.
const PERMALL = readFileSync(path.join(__dirname, "golden/swtpm-0.7-tpm2-00.permall"));
const conn = { host: "kvm1", hostKey: "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", privateKey: "k" };
const UUID = "6a268b8c-8fe3-447d-bd35-9188ec787d55";

describe("findCertificates (the EK certificates in a TPM's state)", () => {
  it("reads the RSA and ECC EK certificates and the platform certificate from swtpm's state", () => {
    const certs = findCertificates(PERMALL);
    expect(certs.map((c) => [c.kind, c.keyType])).toEqual([
      ["ek", "rsa"],
      ["platform", "rsa"],
      ["ek", "ec"],
    ]);
    expect(certs[0]).toMatchObject({ subject: "CN=testvm:11111111-2222-3333-4444-555555555555", issuer: "CN=swtpm-localca", serial: "17" });
    expect(certs[0]!.sha256).toBe("4bff9b9b4e271c071ad3025c733234c7fff623106e35edf30f1df78eb3333f6b");
  });

  it("finds nothing in what is not a TPM state, and survives truncation", () => {
    expect(findCertificates(Buffer.alloc(4096, 0x30))).toEqual([]);
    expect(findCertificates(PERMALL.subarray(0, 3000))).toEqual([]);
    expect(findCertificates(PERMALL.subarray(0, 4700)).map((c) => c.kind)).toEqual(["ek", "platform"]);
  });
});

describe("where a TPM's state lives", () => {
  it("is named by the VM's UUID, as libvirt names it", () => {
    expect(statePath(UUID)).toBe(`/var/lib/libvirt/swtpm/${UUID}`);
    expect(permallPath(UUID)).toBe(`/var/lib/libvirt/swtpm/${UUID}/tpm2/tpm2-00.permall`);
    expect(swtpmLogPath("web")).toBe("/var/log/swtpm/libvirt/qemu/web-swtpm.log");
  });
});

describe("TpmState check (preview)", () => {
  const check = (inputs: Record<string, unknown>) => tpmStateProvider.check(undefined, { connection: conn, vmName: "web", ...inputs });

  it("accepts a new TPM, with or without a given UUID", async () => {
    expect((await check({})).failures).toEqual([]);
    expect((await check({ uuid: UUID, backup: true })).failures).toEqual([]);
    expect((await check({ uuid: UNKNOWN })).failures).toEqual([]);
  });

  it("refuses a malformed UUID or VM name, naming the property", async () => {
    expect((await check({ uuid: "6A268B8C" })).failures.map((f) => f.property)).toEqual(["uuid"]);
    expect((await check({ vmName: "../etc" })).failures.map((f) => f.property)).toEqual(["vmName"]);
    expect((await check({ backup: "yes" })).failures.map((f) => f.property)).toEqual(["backup"]);
  });

  it("refuses to clone a TPM's identity unless asked explicitly, and says why", async () => {
    const source = { connection: conn, uuid: UUID };
    const refused = await check({ source });
    expect(refused.failures).toEqual([{ property: "source", reason: CLONE_REFUSED }]);
    expect(CLONE_REFUSED).toContain("endorsement key");
    expect(CLONE_REFUSED).toContain("allowIdentityClone: true");
    expect((await check({ source, allowIdentityClone: true })).failures).toEqual([]);
  });
});

describe("a Q35Domain's TPM", () => {
  const firmware = { codePath: "/c.fd", varsTemplatePath: "/v.fd", features: ["secure-boot"], variant: "4M" };
  const base: DomainInputs = { connection: conn, name: "web", memoryMiB: 1024, vcpus: 1, firmware, nvram: { path: "/n.fd", variant: "4M" } };
  const withTpm: DomainInputs = { ...base, tpm: true, tpmState: { uuid: UUID } };

  it("needs a TpmState: tpm: true alone fails at preview with the fix", () => {
    const f = validateDomain({ ...base, tpm: true });
    expect(f.map((x) => x.property)).toEqual(["tpm"]);
    expect(f[0]!.reason).toContain("pass tpm: a TpmState");
    expect(validateDomain(withTpm)).toEqual([]);
    expect(validateDomain({ ...withTpm, tpmState: { uuid: "nope" } }).map((x) => x.property)).toEqual(["tpmState"]);
  });

  it("takes the TpmState's UUID, and another TpmState is another VM (replace)", () => {
    expect(renderDomain(resolve(withTpm, "qemu"), UUID)).toContain(`<uuid>${UUID}</uuid>`);
    expect(renderDomain(resolve(withTpm, "qemu"), UUID)).toMatch(/<tpm model="tpm-crb">\s*<backend type="emulator" version="2.0"\/>/);
    expect(CHANGE_TABLE.tpmState).toBe("replace");
    expect(classify(withTpm, { ...withTpm, tpmState: { uuid: "7a268b8c-8fe3-447d-bd35-9188ec787d55" } }).kind).toBe("replace");
    // A rename keeps the TpmState: a replace of the domain under the same UUID (and so the same TPM).
    expect(classify(withTpm, { ...withTpm, name: "web2" }).changed).toEqual([{ property: "name", kind: "replace" }]);
    // While the TpmState moves to another host its outputs are unknown at preview: not a replace by itself.
    expect(replacesWithUnknowns(withTpm, { ...withTpm, tpmState: UNKNOWN as unknown as { uuid: string } })).toEqual([]);
  });
});
