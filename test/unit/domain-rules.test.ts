import { describe, expect, it } from "vitest";
import { UNKNOWN } from "../../provider/dynamic.js";
import { CHANGE_TABLE, classify, replacesWithUnknowns } from "../../provider/q35-domain/classify.js";
import type { DomainInputs } from "../../provider/q35-domain/spec.js";
import { validateDomain } from "../../provider/q35-domain/validate.js";
import { RULES_CONNECTION, RULES_DOMAIN } from "../support/domain.js";

const conn = RULES_CONNECTION;
const base = RULES_DOMAIN;
const props = (f: ReturnType<typeof validateDomain>) => f.map((x) => x.property);

describe("validateDomain", () => {
  it("accepts a minimal domain", () => expect(validateDomain(base)).toEqual([]));
  it("rejects IDE on q35 with the fix", () => {
    const f = validateDomain({ ...base, cdroms: [{ bus: "ide" as "sata" }], disks: [{ path: "/d.img", bus: "ide" as "sata" }] });
    expect(props(f)).toEqual(["disks[0].bus", "cdroms[0].bus"]);
    expect(f[1]!.reason).toContain('a CD-ROM goes on bus "sata"');
  });
  it("rejects Secure Boot on firmware without it, naming the firmware", () => {
    const f = validateDomain({ ...base, secureBoot: true, firmware: { ...base.firmware, features: [] } });
    expect(f).toEqual([{ property: "secureBoot", reason: expect.stringContaining("the firmware /c.fd does not support Secure Boot") }]);
  });
  it("rejects a 2M NVRAM with 4M firmware", () => {
    expect(props(validateDomain({ ...base, nvram: { path: "/n.fd", variant: "2M" } }))).toEqual(["nvram"]);
  });
  it("rejects bad names, relative paths, multicast or malformed MACs, bad PCI addresses", () => {
    const f = validateDomain({
      ...base,
      name: "bad name",
      disks: [{ path: "images/web.qcow2" }],
      networks: [{ mac: "01:00:5e:00:00:01" }, { mac: "52:54:00:zz:00:01" }],
      hostdevs: [{ address: "1:0.0" }],
      graphics: { type: "vnc", listen: "everywhere" },
    });
    expect(props(f)).toEqual(["name", "disks[0].path", "networks[0].mac", "networks[1].mac", "graphics.listen", "hostdevs[0].address"]);
  });
  it("a custom CPU mode needs its model, and a model goes only with the custom mode", () => {
    expect(validateDomain({ ...base, cpuMode: "custom", cpuModel: "Skylake-Client" })).toEqual([]);
    expect(validateDomain({ ...base, cpuMode: "custom" })).toEqual([{ property: "cpuModel", reason: expect.stringContaining('cpuMode "custom" needs a model: set cpuModel, e.g. "Skylake-Client"') }]);
    expect(validateDomain({ ...base, cpuModel: "EPYC-Rome" })).toEqual([{ property: "cpuModel", reason: expect.stringContaining('cpuMode is not set: set cpuMode: "custom", or remove cpuModel') }]);
    expect(props(validateDomain({ ...base, cpuMode: "host-model", cpuModel: "EPYC-Rome" }))).toEqual(["cpuModel"]);
    // The name goes into the XML as text: anything but a model name's characters is refused.
    for (const bad of ["", "Sky lake", "<model>", "-x", "a".repeat(65)]) expect(props(validateDomain({ ...base, cpuMode: "custom", cpuModel: bad }))).toEqual(["cpuModel"]);
    expect(props(validateDomain({ ...base, cpuMode: "passthrough" as "custom", cpuModel: "qemu64" }))).toEqual(["cpuMode", "cpuModel"]);
    expect(validateDomain({ ...base, cpuMode: UNKNOWN as "custom", cpuModel: "qemu64" })).toEqual([]);
    expect(validateDomain({ ...base, cpuMode: "custom", cpuModel: UNKNOWN })).toEqual([]);
  });
  it("passes unknown values during preview", () => {
    expect(validateDomain({ ...base, name: UNKNOWN, memoryMiB: UNKNOWN as unknown as number, firmware: UNKNOWN as unknown as DomainInputs["firmware"] })).toEqual([]);
  });
});

describe("classify (the README's update vs replace table)", () => {
  it("memory, vcpus and devices restart; running and autostart apply live; name and host replace", () => {
    expect(classify(base, { ...base, memoryMiB: 2048 }).kind).toBe("restart");
    expect(classify(base, { ...base, disks: [{ path: "/d.img" }] }).kind).toBe("restart");
    expect(classify(base, { ...base, running: false }).kind).toBe("live");
    expect(classify(base, { ...base, autostart: true }).kind).toBe("live");
    expect(classify({ ...base, cpuMode: "custom", cpuModel: "Skylake-Client" }, { ...base, cpuMode: "custom", cpuModel: "Icelake-Server" }).kind).toBe("restart");
    expect(classify(base, { ...base, name: "web2" }).kind).toBe("replace");
    expect(classify(base, { ...base, connection: { ...conn, host: "kvm2" } }).kind).toBe("replace");
    expect(classify(base, { ...base, connection: { ...conn, user: "ops", sudo: true } }).kind).toBe("none");
    expect(classify(base, { ...base, shutdownTimeoutSeconds: 5 }).kind).toBe("none");
    expect(classify(base, base)).toEqual({ kind: "none", changed: [] });
  });
  it("with inputs not known yet (the firmware being replaced), a new host or name still replaces", () => {
    const pending = { ...base, firmware: UNKNOWN as unknown as DomainInputs["firmware"] };
    expect(replacesWithUnknowns(base, pending)).toEqual([]);
    expect(replacesWithUnknowns(base, { ...pending, connection: { ...conn, port: 2222 } })).toEqual(["connection"]);
    expect(replacesWithUnknowns(base, { ...pending, connection: { ...conn, host: UNKNOWN } })).toEqual(["connection"]);
    expect(replacesWithUnknowns(base, { ...pending, name: "web2" })).toEqual(["name"]);
    expect(replacesWithUnknowns(base, { ...pending, name: UNKNOWN })).toEqual(["name"]);
  });
  it("covers every input", () => {
    const inputs = ["name", "memoryMiB", "vcpus", "firmware", "nvram", "secureBoot", "domainType", "cpuMode", "cpuModel", "disks", "cdroms", "networks", "graphics", "serial", "usb", "pcieRootPorts", "hostdevs", "tpm", "tpmState", "devicesXml", "running", "autostart", "shutdownTimeoutSeconds", "adopt", "hostMove", "migrationAddress"];
    expect(Object.keys(CHANGE_TABLE).sort()).toEqual(inputs.sort());
  });
});
