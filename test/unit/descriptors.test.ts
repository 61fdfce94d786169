import { describe, expect, it } from "vitest";
import { effectiveDescriptors, selectFirmware, type DescriptorFile } from "../../provider/libvirt/firmware-descriptors.js";
import { parseQ35Machine } from "../../provider/libvirt/host-firmware.js";

const ETC = "/etc/qemu/firmware";
const SHARE = "/usr/share/qemu/firmware";
const PATH = [ETC, SHARE];

function descriptor(code: string, vars: string, features: string[], machines = ["pc-q35-*"], extra: object = {}): string {
  return JSON.stringify({
    "interface-types": ["uefi"],
    mapping: { device: "flash", executable: { filename: code, format: "raw" }, "nvram-template": { filename: vars, format: "raw" } },
    targets: [{ architecture: "x86_64", machines }],
    features,
    ...extra,
  });
}

// Debian 12's three descriptors.
const DEBIAN: DescriptorFile[] = [
  { dir: SHARE, name: "40-edk2-x86_64-secure-enrolled.json", text: descriptor("/usr/share/OVMF/OVMF_CODE_4M.ms.fd", "/usr/share/OVMF/OVMF_VARS_4M.ms.fd", ["acpi-s3", "amd-sev", "enrolled-keys", "requires-smm", "secure-boot", "verbose-dynamic"]) },
  { dir: SHARE, name: "50-edk2-x86_64-secure.json", text: descriptor("/usr/share/OVMF/OVMF_CODE_4M.secboot.fd", "/usr/share/OVMF/OVMF_VARS_4M.fd", ["acpi-s3", "amd-sev", "requires-smm", "secure-boot", "verbose-dynamic"]) },
  { dir: SHARE, name: "60-edk2-x86_64.json", text: descriptor("/usr/share/OVMF/OVMF_CODE_4M.fd", "/usr/share/OVMF/OVMF_VARS_4M.fd", ["acpi-s3", "amd-sev", "verbose-dynamic"]) },
];

describe("effectiveDescriptors", () => {
  it("sorts by file name across directories", () => {
    const files = [...DEBIAN, { dir: ETC, name: "10-local.json", text: "{}" }];
    expect(effectiveDescriptors(files, PATH).map((f) => f.name)).toEqual(["10-local.json", ...DEBIAN.map((f) => f.name)]);
  });
  it("lets the same name in a higher-priority directory win", () => {
    const files = [...DEBIAN, { dir: ETC, name: "40-edk2-x86_64-secure-enrolled.json", text: '{"x":1}' }];
    expect(effectiveDescriptors(files, PATH).find((f) => f.name.startsWith("40"))?.dir).toBe(ETC);
  });
  it("hides a name with an empty file", () => {
    const files = [...DEBIAN, { dir: ETC, name: "40-edk2-x86_64-secure-enrolled.json", text: "" }];
    expect(effectiveDescriptors(files, PATH).map((f) => f.name)).toEqual(["50-edk2-x86_64-secure.json", "60-edk2-x86_64.json"]);
  });
});

describe("selectFirmware on Debian's descriptors", () => {
  it("picks the enrolled Secure Boot build first", () => {
    const fw = selectFirmware(DEBIAN, PATH, "pc-q35-7.2", {});
    expect(fw).toMatchObject({ descriptor: `${SHARE}/40-edk2-x86_64-secure-enrolled.json`, codePath: "/usr/share/OVMF/OVMF_CODE_4M.ms.fd", varsTemplatePath: "/usr/share/OVMF/OVMF_VARS_4M.ms.fd" });
    expect(fw.features).toContain("requires-smm");
  });
  it("honours feature requests both ways", () => {
    expect(selectFirmware(DEBIAN, PATH, "pc-q35-7.2", { secureBoot: true, enrolledKeys: false }).descriptor).toMatch(/50-edk2/);
    expect(selectFirmware(DEBIAN, PATH, "pc-q35-7.2", { secureBoot: false }).codePath).toBe("/usr/share/OVMF/OVMF_CODE_4M.fd");
  });
  it("skips descriptors for other machines, memory-mapped or stateless firmware", () => {
    const files: DescriptorFile[] = [
      { dir: SHARE, name: "10-i440fx.json", text: descriptor("/x/code.fd", "/x/vars.fd", [], ["pc-i440fx-*"]) },
      { dir: SHARE, name: "20-memory.json", text: JSON.stringify({ "interface-types": ["uefi"], mapping: { device: "memory", filename: "/x/fw.bin" }, targets: [{ architecture: "x86_64", machines: ["pc-q35-*"] }] }) },
      { dir: SHARE, name: "30-stateless.json", text: descriptor("/x/c.fd", "/x/v.fd", [], ["pc-q35-*"], { mapping: { device: "flash", mode: "stateless", executable: { filename: "/x/c.fd" } } }) },
      ...DEBIAN,
    ];
    expect(selectFirmware(files, PATH, "pc-q35-7.2", {}).descriptor).toMatch(/40-edk2/);
  });
  it("lists every descriptor and why it did not fit when nothing matches", () => {
    expect(() => selectFirmware(DEBIAN.slice(2), PATH, "pc-q35-7.2", { secureBoot: true })).toThrow(
      `no QEMU firmware descriptor matches UEFI, split flash, x86_64 pc-q35-7.2, secureBoot: true. Found: ${SHARE}/60-edk2-x86_64.json: no secure-boot.`,
    );
    expect(() => selectFirmware([], PATH, "pc-q35-7.2", {})).toThrow(`Found: no descriptors in ${ETC}, ${SHARE}`);
  });
});

describe("parseQ35Machine", () => {
  it("reads the alias q35 stands for", () => {
    const help = "Supported machines are:\nq35                  Standard PC (Q35 + ICH9, 2009) (alias of pc-q35-7.2)\npc-q35-7.2           Standard PC (Q35 + ICH9, 2009)\n";
    expect(parseQ35Machine(help)).toBe("pc-q35-7.2");
    expect(parseQ35Machine("pc-q35-9.2 Standard PC\n")).toBe("pc-q35-9.2");
    expect(parseQ35Machine("pc-i440fx-7.2 Standard PC\n")).toBeUndefined();
  });
});
