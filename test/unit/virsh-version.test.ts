import { describe, expect, it } from "vitest";
import { parseVirshVersion } from "../../provider/libvirt/version.js";

describe("parseVirshVersion", () => {
  it("reads Debian 12's virsh version --daemon", () => {
    const out = [
      "Compiled against library: libvirt 9.0.0",
      "Using library: libvirt 9.0.0",
      "Using API: QEMU 9.0.0",
      "Running hypervisor: QEMU 7.2.22",
      "Running against daemon: 9.0.0",
      "",
    ].join("\n");
    expect(parseVirshVersion(out)).toEqual({ libvirt: "9.0.0", hypervisor: "QEMU", hypervisorVersion: "7.2.22" });
  });
  it("falls back to the library version without --daemon", () => {
    const out = "Using library: libvirt 10.10.0\nRunning hypervisor: QEMU 9.2.0\n";
    expect(parseVirshVersion(out).libvirt).toBe("10.10.0");
  });
  it("explains unexpected output", () => {
    expect(() => parseVirshVersion("error: failed to connect to the hypervisor")).toThrow(/unexpected output from virsh version/);
  });
});
