import { afterAll, describe, expect, it } from "vitest";
import { Host } from "../../provider/host/host.js";
import * as virsh from "../../provider/libvirt/virsh.js";
import { q35DomainProvider } from "../../provider/q35-domain/provider.js";
import type { DomainInputs } from "../../provider/q35-domain/spec.js";
import { closeAll } from "../../provider/ssh/pool.js";
import { hostConnection } from "../support/testhost.js";

// PCI passthrough is checked against the host's sysfs at preview (check), read-only.
const conn = hostConnection("a");
const a = new Host(conn);
const base: DomainInputs = {
  connection: conn,
  name: "ovmf-hostdev-check",
  memoryMiB: 128,
  vcpus: 1,
  firmware: { codePath: "/usr/share/OVMF/OVMF_CODE_4M.fd", varsTemplatePath: "/usr/share/OVMF/OVMF_VARS_4M.fd", features: [], variant: "4M" },
  nvram: { path: "/var/lib/libvirt/qemu/nvram/ovmf-hostdev-check_VARS.fd", variant: "4M" },
};
const check = async (inputs: DomainInputs) => (await q35DomainProvider.check(undefined, inputs as unknown as Record<string, unknown>)).failures;
const lines = async (argv: string[]) => (await a.check(argv, argv.join(" "))).stdout.split("\n").filter((l) => l !== "");

afterAll(() => closeAll());

describe("Q35Domain hostdevs checked on the host at preview", () => {
  it("names a device the host does not have, and what stops a device it has from being passed through", async () => {
    // A real device of this host that is not a bridge, and whether the host's IOMMU is on.
    const devices = await lines(["sh", "-c", 'for d in /sys/bus/pci/devices/*; do case $(cat "$d/class") in 0x0604*|0x0600*) ;; *) basename "$d";; esac; done']);
    const device = devices[0];
    expect(device).toMatch(/^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/);
    const groups = await lines(["ls", "/sys/kernel/iommu_groups"]);
    const before = await virsh.list(a);

    const failures = await check({ ...base, hostdevs: [{ address: "0000:7f:1f.7" }, { address: device ?? "" }] });
    expect(failures[0]).toEqual({ property: "hostdevs[0].address", reason: `there is no PCI device 0000:7f:1f.7 on ${a.target}: \`lspci -D\` on the host lists its devices` });
    if (groups.length === 0) {
      expect(failures[1]?.property).toBe("hostdevs[1].address");
      expect(failures[1]?.reason).toContain(`${device ?? ""} on ${a.target} is in no IOMMU group, so the host's IOMMU is off`);
      expect(failures).toHaveLength(2);
    } else {
      // With the IOMMU on, the only possible complaint about a real device is its group.
      for (const x of failures.slice(1)) expect(x.reason).toMatch(/^IOMMU group \d+ of /);
    }
    // Read-only: nothing was defined, and no file appeared.
    expect(await virsh.list(a)).toEqual(before);
    expect((await a.run(["test", "-e", base.nvram.path])).code).not.toBe(0);
  });

  it("takes the 01:00.0 form and a managed: false device, and passes a domain without hostdevs untouched", async () => {
    const failures = await check({ ...base, hostdevs: [{ address: "7f:1f.7", managed: false }] });
    expect(failures.map((x) => x.property)).toEqual(["hostdevs[0].address"]);
    expect(await check(base)).toEqual([]);
  });

  it("an unreachable host is not a preview failure (the operation itself will say why)", async () => {
    const closed = { ...conn, port: 1 };
    expect(await check({ ...base, connection: closed, hostdevs: [{ address: "0000:7f:1f.7" }] })).toEqual([]);
  });
});
