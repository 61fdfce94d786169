import { describe, expect, it } from "vitest";
import { fullPciAddress, hostdevFailures, parsePciProbe } from "../../provider/q35-domain/hostdevs.js";
import { validateDomain } from "../../provider/q35-domain/validate.js";
import type { DomainInputs } from "../../provider/q35-domain/spec.js";

const T = "root@kvm1:22";

// A typical desktop GPU: VGA + HDMI audio in group 14 behind a root port; a NIC alone in group 9.
const PROBE = [
  "0000:01:00.0 member 14 0000:00:01.0 0x060400 pcieport",
  "0000:01:00.0 member 14 0000:01:00.0 0x030000 nvidia",
  "0000:01:00.0 member 14 0000:01:00.1 0x040300 snd_hda_intel",
  "0000:03:00.0 member 9 0000:03:00.0 0x020000 vfio-pci",
  "0000:05:00.0 missing",
  "0000:00:02.0 nogroup 0x018000 virtio-pci",
  "",
].join("\n");

describe("PCI passthrough checks", () => {
  const reports = parsePciProbe(PROBE);

  it("parses the probe into one report per requested address", () => {
    expect(reports.get("0000:01:00.0")).toEqual({
      address: "0000:01:00.0",
      status: "grouped",
      group: "14",
      device: { address: "0000:01:00.0", pciClass: "0x030000", driver: "nvidia" },
      members: [
        { address: "0000:00:01.0", pciClass: "0x060400", driver: "pcieport" },
        { address: "0000:01:00.0", pciClass: "0x030000", driver: "nvidia" },
        { address: "0000:01:00.1", pciClass: "0x040300", driver: "snd_hda_intel" },
      ],
    });
    expect(reports.get("0000:05:00.0")).toEqual({ address: "0000:05:00.0", status: "missing" });
    expect(reports.get("0000:00:02.0")).toEqual({ address: "0000:00:02.0", status: "no-iommu", device: { address: "0000:00:02.0", pciClass: "0x018000", driver: "virtio-pci" } });
    expect(fullPciAddress("01:00.0")).toBe("0000:01:00.0");
  });

  it("a GPU without its audio function: the group is not viable, and the fix is named", () => {
    expect(hostdevFailures([{ address: "01:00.0" }], reports, T)).toEqual([
      {
        property: "hostdevs[0].address",
        reason:
          "IOMMU group 14 of 0000:01:00.0 on root@kvm1:22 also holds 0000:01:00.1 (class 0x040300, driver snd_hda_intel), which stays with the host; a group goes to a guest only whole: add 0000:01:00.1 to hostdevs, or bind it to vfio-pci on the host",
      },
    ]);
  });

  it("the GPU with its audio function passes (the root port is a bridge)", () => {
    expect(hostdevFailures([{ address: "0000:01:00.0" }, { address: "0000:01:00.1" }], reports, T)).toEqual([]);
  });

  it("a device that is not there, and a host whose IOMMU is off", () => {
    expect(hostdevFailures([{ address: "0000:05:00.0" }, { address: "0000:00:02.0" }], reports, T)).toEqual([
      { property: "hostdevs[0].address", reason: "there is no PCI device 0000:05:00.0 on root@kvm1:22: `lspci -D` on the host lists its devices" },
      {
        property: "hostdevs[1].address",
        reason: "0000:00:02.0 on root@kvm1:22 is in no IOMMU group, so the host's IOMMU is off: enable VT-d/AMD-Vi in its firmware settings and boot it with intel_iommu=on (or amd_iommu=on) iommu=pt",
      },
    ]);
  });

  it("managed: false needs the device already on vfio-pci", () => {
    expect(hostdevFailures([{ address: "0000:03:00.0", managed: false }], reports, T)).toEqual([]);
    const failures = hostdevFailures([{ address: "0000:01:00.0", managed: false }, { address: "0000:01:00.1" }], reports, T);
    expect(failures.map((x) => x.property)).toEqual(["hostdevs[0].managed"]);
    expect(failures[0]?.reason).toContain("not bound to vfio-pci: bind it there on the host, or set managed: true");
  });

  it("members already released (vfio-pci, pci-stub or no driver) do not block the group", () => {
    const r = parsePciProbe(["0000:01:00.0 member 3 0000:01:00.0 0x030000 amdgpu", "0000:01:00.0 member 3 0000:01:00.1 0x040300 vfio-pci", "0000:01:00.0 member 3 0000:01:00.2 0x0c0330 -", "0000:01:00.0 member 3 0000:01:00.3 0x0c8000 pci-stub"].join("\n"));
    expect(hostdevFailures([{ address: "0000:01:00.0" }], r, T)).toEqual([]);
  });

  it("the same device twice is refused before the host is asked", () => {
    const inputs = { connection: { host: "kvm1" }, name: "vm", memoryMiB: 1024, vcpus: 1, hostdevs: [{ address: "01:00.0" }, { address: "0000:01:00.0" }] } as unknown as DomainInputs;
    expect(validateDomain(inputs).filter((x) => x.property.startsWith("hostdevs"))).toEqual([
      { property: "hostdevs[1].address", reason: "0000:01:00.0 is already hostdevs[0]: a device can be passed through once" },
    ]);
  });
});
