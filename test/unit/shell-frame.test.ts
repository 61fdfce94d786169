import { describe, expect, it } from "vitest";
import { requestLines, takeReply, virshToken } from "../../provider/libvirt/shell-frame.js";

const N = "pulumi-ovmf-abc";

describe("virshToken", () => {
  it("leaves plain names as they are and quotes the rest as a POSIX shell would", () => {
    expect(virshToken("web-01.example:a+b@c")).toBe("web-01.example:a+b@c");
    expect(virshToken("/var/lib/x_VARS.fd")).toBe("/var/lib/x_VARS.fd");
    expect(virshToken("a b")).toBe("'a b'");
    expect(virshToken("it's;#")).toBe(`'it'\\''s;#'`);
    expect(virshToken("")).toBe("''");
  });

  it("refuses what a line may not carry as it is: a newline, a tab, a byte above 127", () => {
    expect(virshToken("a\nb")).toBeUndefined();
    expect(virshToken("a\tb")).toBeUndefined();
    expect(virshToken("vm-ü")).toBeUndefined();
    expect(requestLines(N, 1, ["domstate", "--", "a\nb"])).toBeUndefined();
  });
});

describe("takeReply", () => {
  const [cmd, outLine, errLine] = requestLines(N, 3, ["domstate", "--", "vm 1"]) ?? ["", "", ""];
  const sent = [`echo --err '${N}'-2-e`, cmd, outLine, errLine];

  it("splits a reply out of what readline echoed, and keeps the next request's bytes", () => {
    expect(cmd).toBe("domstate -- 'vm 1'");
    // The echoed input never holds the mark itself: it is quoted in two parts.
    expect(outLine).not.toContain(`${N}-3-o`);
    const out = `virsh # ${sent[0]}\nvirsh # ${cmd}\nshut off\n\nvirsh # ${outLine}\n${N}-3-ovirsh # ${errLine}\nvirsh # next`;
    const err = `error: ${N}-3-e\nerror: fail`;
    const taken = takeReply(out, err, N, 3, sent);
    expect(taken?.reply).toEqual({ stdout: "shut off\n\n", stderr: "", code: 0 });
    expect(taken?.out).toBe(`virsh # ${errLine}\nvirsh # next`);
    expect(taken?.err).toBe("error: fail");
  });

  it("reads a failure from virsh's error line, and works without readline's echo", () => {
    const out = `virsh # virsh # ${N}-3-o\n`;
    const err = `error: failed to get domain 'vm 1'\n\nerror: ${N}-3-e\n`;
    expect(takeReply(out, err, N, 3, sent)?.reply).toEqual({ stdout: "", stderr: "error: failed to get domain 'vm 1'\n\n", code: 1 });
  });

  it("calls a reply garbled when an echo it does not know is left in front of it (readline scrolled a long line)", () => {
    const out = `virsh # \r<x-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\nshut off\n\nvirsh # ${outLine}\n${N}-3-o`;
    expect(takeReply(out, `error: ${N}-3-e\n`, N, 3, sent)?.reply).toBe("garbled");
  });

  it("waits until both marks are there", () => {
    expect(takeReply(`${N}-3-o`, "", N, 3, sent)).toBeUndefined();
    expect(takeReply("", `error: ${N}-3-e\n`, N, 3, sent)).toBeUndefined();
    // Another request's marks do not end this one.
    expect(takeReply(`${N}-30-o`, `error: ${N}-30-e`, N, 3, sent)).toBeUndefined();
  });
});
