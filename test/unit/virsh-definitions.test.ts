import { describe, expect, it } from "vitest";
import { parseDefinitions } from "../../provider/libvirt/definitions.js";

const N = "pulumi-ovmf-0123456789abcdef01234567";

describe("parseDefinitions (every domain's state and XML from one remote command)", () => {
  it("splits the quoted records and fields, keeps the XML whole, and reads an empty host as none", () => {
    const xml = "<domain type='kvm'>\n  <name>web 1</name>\n</domain>";
    const out = `web 1\u001erunning\u001e${xml}\u001dother\u001eshut off\u001e<domain/>\u001d\u001c`;
    expect(parseDefinitions(out, N)).toEqual([
      { domain: "web 1", state: "running", xml },
      { domain: "other", state: "shut off", xml: "<domain/>" },
    ]);
    expect(parseDefinitions("", N)).toEqual([]);
    expect(parseDefinitions("\u001c", N)).toEqual([]);
  });

  it("reads virsh's batch by its nonce, as virsh prints it (echo without a newline), and leaves out a domain removed meanwhile", () => {
    const a = "<domain type='qemu'>\n  <name>vm-a</name>\n  <description>pulumi-ovmf-ffff-E</description>\n</domain>\n";
    const b = "<domain type='kvm'>\n  <name>vm.b</name>\n</domain>\n";
    const out =
      `odd name\u001eshut off\u001e<domain/>\u001d\u001c` +
      `${N}-S vm-a ${N}-Nshut off\n\n${N}-X${a}${N}-E` +
      `${N}-S gone ${N}-N${N}-X${N}-E` +
      `${N}-S vm.b ${N}-Nrunning\n\n${N}-X${b}${N}-E`;
    expect(parseDefinitions(out, N)).toEqual([
      { domain: "odd name", state: "shut off", xml: "<domain/>" },
      { domain: "vm-a", state: "shut off", xml: a },
      { domain: "vm.b", state: "running", xml: b },
    ]);
  });
});
