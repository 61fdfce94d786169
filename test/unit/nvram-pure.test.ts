import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { firmwareVariant, variantMismatchReason } from "../../provider/firmware/variant.js";
import { nvramPathOf } from "../../provider/libvirt/nvram-users.js";
import { decodeBackup, encodeBackup } from "../../provider/nvram/backup.js";

describe("firmwareVariant", () => {
  it("recognises Debian's 2M and 4M pairs", () => {
    expect(firmwareVariant(1_966_080, 131_072)).toBe("2M");
    expect(firmwareVariant(3_653_632, 540_672)).toBe("4M");
  });
  it("rejects mixed pairs", () => {
    expect(firmwareVariant(3_653_632, 131_072)).toBeUndefined();
    expect(firmwareVariant(1_966_080, 540_672)).toBeUndefined();
  });
  it("explains a mismatch with both files, both sizes and the size that would fit", () => {
    expect(variantMismatchReason("/c4.fd", 3_653_632, "/v2.fd", 131_072)).toMatch(
      /^\/v2.fd \(131,072 bytes\) does not match the firmware \/c4.fd \(3,653,632 bytes, a 4M build that needs a 540,672-byte vars template\)/,
    );
  });
});

describe("NVRAM backup encoding", () => {
  it("round-trips and compresses a mostly-empty variable store", () => {
    const store = Buffer.alloc(540_672, 0xff);
    randomBytes(4096).copy(store, 1024);
    const text = encodeBackup(store);
    expect(decodeBackup(text).equals(store)).toBe(true);
    expect(text.length).toBeLessThan(16_000);
  });
});

describe("nvramPathOf", () => {
  it("reads <os><nvram> with or without attributes", () => {
    expect(nvramPathOf("<domain><os><type>hvm</type><nvram>/var/lib/libvirt/qemu/nvram/web_VARS.fd</nvram></os></domain>")).toBe("/var/lib/libvirt/qemu/nvram/web_VARS.fd");
    expect(nvramPathOf("<domain><os><nvram template='/usr/share/OVMF/OVMF_VARS_4M.ms.fd'>/n/web.fd</nvram></os></domain>")).toBe("/n/web.fd");
    expect(nvramPathOf("<domain><os><type>hvm</type></os></domain>")).toBeUndefined();
  });
});
