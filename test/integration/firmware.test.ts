import { copyFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { firmwareProvider, type FirmwareInputs } from "../../provider/firmware/provider.js";
import { UPLOAD_ROOT } from "../../provider/firmware/upload.js";
import { sha256, stat, writeFileAtomic } from "../../provider/host/files.js";
import { Host } from "../../provider/host/host.js";
import { closeAll } from "../../provider/ssh/pool.js";
import { rejection } from "../support/rejection.js";
import { hostConnection } from "../support/testhost.js";

// Host "a" has Debian's descriptors as installed; host "b" has a private /etc/qemu where these
// tests put crafted descriptors (QEMU's override directory), leaving "a" alone.
const connA = hostConnection("a");
const connB = hostConnection("b");
const b = new Host(connB);
const ETC = "/etc/qemu/firmware";

function descriptor(code: string, vars: string, features: string[]): string {
  return JSON.stringify({
    "interface-types": ["uefi"],
    mapping: { device: "flash", executable: { filename: code, format: "raw" }, "nvram-template": { filename: vars, format: "raw" } },
    targets: [{ architecture: "x86_64", machines: ["pc-q35-*"] }],
    features,
  });
}
async function put(name: string, text: string) {
  await writeFileAtomic(b, `${ETC}/${name}`, Buffer.from(text), { mode: "644" });
}
const create = (inputs: FirmwareInputs) => firmwareProvider.create(inputs);

beforeAll(async () => {
  await b.check(["sh", "-c", `rm -rf ${ETC} && mkdir -p ${ETC}`], "reset /etc/qemu/firmware");
});
afterAll(async () => {
  await b.check(["rm", "-rf", "--", ETC], "clean /etc/qemu/firmware");
  closeAll();
});

describe("firmware descriptors on real hosts", () => {
  it("resolves Debian's installed descriptors: the enrolled Secure Boot 4M build", async () => {
    const { outs } = await create({ connection: connA });
    expect(outs).toMatchObject({
      descriptor: "/usr/share/qemu/firmware/40-edk2-x86_64-secure-enrolled.json",
      code: { path: "/usr/share/OVMF/OVMF_CODE_4M.ms.fd", size: 3_653_632 },
      varsTemplate: { path: "/usr/share/OVMF/OVMF_VARS_4M.ms.fd", size: 540_672 },
      variant: "4M",
      requiresSmm: true,
      uploaded: false,
    });
    expect(outs.features).toEqual(expect.arrayContaining(["secure-boot", "enrolled-keys"]));
    expect((await create({ connection: connA, secureBoot: false })).outs.code.path).toBe("/usr/share/OVMF/OVMF_CODE_4M.fd");
  });

  it("an empty file in /etc/qemu/firmware hides the distribution descriptor of that name", async () => {
    await put("40-edk2-x86_64-secure-enrolled.json", "");
    const { outs } = await create({ connection: connB });
    expect(outs.descriptor).toBe("/usr/share/qemu/firmware/50-edk2-x86_64-secure.json");
    expect(outs.features).not.toContain("enrolled-keys");
  });

  it("a same-named file in /etc/qemu/firmware overrides, and lower names sort first", async () => {
    await put("40-edk2-x86_64-secure-enrolled.json", descriptor("/usr/share/OVMF/OVMF_CODE.secboot.fd", "/usr/share/OVMF/OVMF_VARS.ms.fd", ["secure-boot", "enrolled-keys", "requires-smm"]));
    let { outs } = await create({ connection: connB });
    expect(outs).toMatchObject({ descriptor: `${ETC}/40-edk2-x86_64-secure-enrolled.json`, variant: "2M", code: { size: 1_966_080 }, varsTemplate: { size: 131_072 } });
    await put("10-local.json", descriptor("/usr/share/OVMF/OVMF_CODE_4M.fd", "/usr/share/OVMF/OVMF_VARS_4M.fd", []));
    ({ outs } = await create({ connection: connB }));
    expect(outs.descriptor).toBe(`${ETC}/10-local.json`);
    ({ outs } = await create({ connection: connB, secureBoot: true }));
    expect(outs.descriptor).toBe(`${ETC}/40-edk2-x86_64-secure-enrolled.json`);
  });

  it("no match: the error lists every descriptor it saw and why it did not fit", async () => {
    const dir = `/tmp/ovmf-descriptors-${process.pid}`;
    await b.check(["mkdir", "-p", dir], "mkdir");
    await writeFileAtomic(b, `${dir}/10-plain.json`, Buffer.from(descriptor("/usr/share/OVMF/OVMF_CODE_4M.fd", "/usr/share/OVMF/OVMF_VARS_4M.fd", [])), { mode: "644" });
    const err = await rejection(create({ connection: connB, searchPath: [dir], secureBoot: true }));
    expect(err.message).toContain(`Found: ${dir}/10-plain.json: no secure-boot.`);
    expect(err.message).toContain("give codePath and varsTemplatePath");
  });

  it("refresh re-hashes: a changed CODE file shows in the outputs", async () => {
    const dir = `/tmp/ovmf-explicit-${process.pid}`;
    await b.check(["sh", "-c", 'mkdir -p "$1" && cp /usr/share/OVMF/OVMF_CODE_4M.fd /usr/share/OVMF/OVMF_VARS_4M.fd "$1"/', "sh", dir], "copy firmware");
    const created = await create({ connection: connB, codePath: `${dir}/OVMF_CODE_4M.fd`, varsTemplatePath: `${dir}/OVMF_VARS_4M.fd` });
    await b.check(["sh", "-c", 'printf upgrade | dd of="$1" bs=1 seek=4096 conv=notrunc status=none', "sh", `${dir}/OVMF_CODE_4M.fd`], "modify");
    const read = await firmwareProvider.read(created.id, created.outs);
    expect(read.props.code.sha256).not.toBe(created.outs.code.sha256);
    expect(read.props.code.sha256).toBe(await sha256(b, `${dir}/OVMF_CODE_4M.fd`));
  });
});

describe("uploaded firmware", () => {
  const local = mkdtempSync(path.join(tmpdir(), "ovmf-upload-"));
  copyFileSync("/usr/share/OVMF/OVMF_CODE_4M.secboot.fd", path.join(local, "CODE.fd"));
  copyFileSync("/usr/share/OVMF/OVMF_VARS_4M.ms.fd", path.join(local, "VARS.fd"));
  const upload = { code: path.join(local, "CODE.fd"), varsTemplate: path.join(local, "VARS.fd") };

  it("is stored once per content, verified, and removed with its last user", async () => {
    const first = await create({ connection: connB, upload });
    const second = await create({ connection: connB, upload });
    expect(first.outs.code.path).toBe(`${UPLOAD_ROOT}/${first.outs.code.sha256}/CODE.fd`);
    expect(second.outs.code.path).toBe(first.outs.code.path);
    expect(first.outs).toMatchObject({ uploaded: true, variant: "4M", code: { size: 3_653_632 } });
    expect(first.outs.code.sha256).toBe(await sha256(b, "/usr/share/OVMF/OVMF_CODE_4M.secboot.fd"));
    await firmwareProvider.delete(first.id, first.outs);
    expect(await stat(b, first.outs.code.path)).toBeDefined();
    await firmwareProvider.delete(second.id, second.outs);
    expect(await stat(b, first.outs.code.path)).toBeUndefined();
    expect(await stat(b, path.posix.dirname(first.outs.varsTemplate.path))).toBeUndefined();
    expect(await stat(b, "/usr/share/OVMF/OVMF_CODE_4M.secboot.fd")).toBeDefined();
  });

  it("a check with a mismatched explicit pair fails before anything is created", async () => {
    const { failures } = await firmwareProvider.check({}, {
      connection: connA,
      codePath: "/usr/share/OVMF/OVMF_CODE_4M.secboot.fd",
      varsTemplatePath: "/usr/share/OVMF/OVMF_VARS.ms.fd",
    });
    expect(failures).toEqual([{ property: "varsTemplatePath", reason: expect.stringContaining("OVMF_VARS.ms.fd (131,072 bytes) does not match") }]);
  });
});
