import { describe, expect, it } from "vitest";
import { shellCommand, shellQuote } from "../../provider/ssh/quote.js";

describe("shellQuote", () => {
  it("leaves plain words alone", () => {
    expect(shellQuote("virsh")).toBe("virsh");
    expect(shellQuote("/var/lib/libvirt/qemu/nvram/vm_VARS.fd")).toBe("/var/lib/libvirt/qemu/nvram/vm_VARS.fd");
    expect(shellQuote("--keep-nvram")).toBe("--keep-nvram");
  });
  it("single-quotes anything a shell would interpret", () => {
    expect(shellQuote("a b")).toBe("'a b'");
    expect(shellQuote("$(reboot)")).toBe("'$(reboot)'");
    expect(shellQuote("a;b|c&d")).toBe("'a;b|c&d'");
    expect(shellQuote("*")).toBe("'*'");
    expect(shellQuote("~root")).toBe("'~root'");
  });
  it("escapes embedded single quotes", () => {
    expect(shellQuote("it's")).toBe("'it'\\''s'");
  });
  it("quotes the empty string so it stays an argument", () => {
    expect(shellQuote("")).toBe("''");
  });
});

describe("shellCommand", () => {
  it("quotes every argument", () => {
    expect(shellCommand(["printf", "%s", "a b"])).toBe("printf %s 'a b'");
  });
  it("refuses an empty argv", () => {
    expect(() => shellCommand([])).toThrow(/empty argv/);
  });
});
