import { describe, expect, it } from "vitest";
import { hasNoUuid, parseDefineBatch } from "../../provider/libvirt/define-new.js";

// What `virsh -c URI "define /dev/stdin; echo N-D; [autostart -- d; echo N-A;] dumpxml --inactive -- d;
// echo N-X; domstate -- d; echo N-E"` prints on stdout (virsh 9, not quiet): a batch goes on after a
// failed step, so a failed step shows as a section without its result.
const n = "pulumi-ovmf-0123456789abcdef01234567";
const xml = "<domain type='qemu'>\n  <name>d</name>\n</domain>";
const ok = (autostart: boolean) =>
  `Domain 'd' defined from /dev/stdin\n\n${n}-D\n` + (autostart ? `Domain 'd' marked as autostarted\n\n${n}-A\n` : "") + `${xml}\n\n${n}-X\nshut off\n\n${n}-E\n`;

describe("parseDefineBatch", () => {
  it("reads the XML (as dumpxml prints it alone) and the state, with and without autostart", () => {
    expect(parseDefineBatch(ok(false), n, false)).toEqual({ xml: `${xml}\n`, state: "shut off" });
    expect(parseDefineBatch(ok(true), n, true)).toEqual({ xml: `${xml}\n`, state: "shut off" });
  });

  it("names the first step that failed", () => {
    expect(parseDefineBatch(`\n${n}-D\n\n${n}-X\n\n${n}-E\n`, n, false).failed).toBe("define");
    expect(parseDefineBatch(`Domain 'd' defined from /dev/stdin\n\n${n}-D\n\n${n}-A\n${xml}\n\n${n}-X\nshut off\n\n${n}-E\n`, n, true).failed).toBe("autostart");
    expect(parseDefineBatch(`Domain 'd' defined from /dev/stdin\n\n${n}-D\n\n${n}-X\nshut off\n\n${n}-E\n`, n, false).failed).toBe("dumpxml");
    expect(parseDefineBatch(`Domain 'd' defined from /dev/stdin\n\n${n}-D\n${xml}\n\n${n}-X\n\n${n}-E\n`, n, false).failed).toBe("domstate");
  });

  it("takes output cut short (virsh could not connect, or died) as a failed define, and never trusts another nonce", () => {
    expect(parseDefineBatch("", n, false).failed).toBe("define");
    expect(parseDefineBatch(ok(false).replaceAll(n, "pulumi-ovmf-other"), n, false).failed).toBe("define");
    expect(parseDefineBatch(ok(false).slice(0, ok(false).indexOf(`${n}-X`)), n, false).failed).toBe("dumpxml");
  });
});

describe("hasNoUuid", () => {
  it("tells a domain XML without a <uuid> (libvirt gives it a new one) from one with it", () => {
    expect(hasNoUuid("<domain type='qemu'><name>web</name><memory>1</memory></domain>")).toBe(true);
    expect(hasNoUuid("<domain type='qemu'><name>web</name><uuid>0b8f5b5e-6a1e-4d53-9d77-2f3c9f0e4a11</uuid></domain>")).toBe(false);
    // Text that only looks like the element is not one.
    expect(hasNoUuid("<domain type='qemu'><name>web</name><description>&lt;uuid&gt;x&lt;/uuid&gt;</description></domain>")).toBe(true);
    expect(hasNoUuid("<not-a-domain/>")).toBe(false);
  });
});
