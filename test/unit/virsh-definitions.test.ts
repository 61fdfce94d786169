import { describe, expect, it } from "vitest";
import { parseDefinitions } from "../../provider/libvirt/virsh.js";

describe("parseDefinitions (every domain's state and XML from one remote command)", () => {
  it("splits records and fields, keeps the XML whole, and reads an empty host as none", () => {
    const xml = "<domain type='kvm'>\n  <name>web 1</name>\n</domain>";
    const out = `web 1\u001erunning\u001e${xml}\u001dother\u001eshut off\u001e<domain/>\u001d`;
    expect(parseDefinitions(out)).toEqual([
      { domain: "web 1", state: "running", xml },
      { domain: "other", state: "shut off", xml: "<domain/>" },
    ]);
    expect(parseDefinitions("")).toEqual([]);
  });
});
