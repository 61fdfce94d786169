import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { setWarningSink } from "../../provider/engine-log.js";
import { Host } from "../../provider/host/host.js";
import * as virsh from "../../provider/libvirt/virsh.js";
import { q35DomainProvider } from "../../provider/q35-domain/provider.js";
import type { DomainInputs } from "../../provider/q35-domain/spec.js";
import { closeAll } from "../../provider/ssh/pool.js";
import { plainDomain } from "../support/domain.js";
import { rejection } from "../support/rejection.js";
import { hostConnection } from "../support/testhost.js";

// PCI passthrough is checked against the host's sysfs (read-only): a warning at preview, a refusal
// before anything changes at up.
const conn = hostConnection("a");
const a = new Host(conn);
const base: DomainInputs = plainDomain(conn, "ovmf-hostdev-check", { domainType: "qemu" });
const check = async (inputs: DomainInputs) => (await q35DomainProvider.check(undefined, inputs as unknown as Record<string, unknown>)).failures;
const lines = async (argv: string[]) => (await a.check(argv, argv.join(" "))).stdout.split("\n").filter((l) => l !== "");
let warnings: string[] = [];

beforeEach(() => {
  warnings = [];
  setWarningSink((m) => warnings.push(m));
});
afterEach(() => setWarningSink(undefined));
afterAll(() => closeAll());

describe("Q35Domain hostdevs checked on the host", () => {
  it("preview warns about a device the host lacks and what keeps a device it has; up refuses and changes nothing", async () => {
    // A real device of this host that is not a bridge, and whether the host's IOMMU is on.
    const devices = await lines(["sh", "-c", 'for d in /sys/bus/pci/devices/*; do case $(cat "$d/class") in 0x0604*|0x0600*) ;; *) basename "$d";; esac; done']);
    const device = devices[0] ?? "";
    expect(device).toMatch(/^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/);
    const iommuOn = (await lines(["ls", "/sys/kernel/iommu_groups"])).length > 0;
    const before = await virsh.list(a);
    const inputs = { ...base, hostdevs: [{ address: "0000:7f:1f.7" }, { address: device }] };

    expect(await check(inputs)).toEqual([]);
    expect(warnings[0]).toBe(
      `Q35Domain "ovmf-hostdev-check": hostdevs[0].address: there is no PCI device 0000:7f:1f.7 on ${a.target}: \`lspci -D\` on the host lists its devices. pulumi up refuses this domain until that is fixed.`,
    );
    if (iommuOn) {
      // With the IOMMU on, the only possible complaint about a real device is its group.
      for (const w of warnings.slice(1)) expect(w).toMatch(/hostdevs\[1\]\.address: IOMMU group \d+ of /);
    } else {
      expect(warnings).toHaveLength(2);
      expect(warnings[1]).toContain(`hostdevs[1].address: ${device} on ${a.target} is in no IOMMU group, so the host's IOMMU is off`);
    }

    const err = await rejection(q35DomainProvider.create(inputs));
    expect(err.message).toMatch(new RegExp(`^domain "ovmf-hostdev-check" cannot get its PCI devices on ${a.target.replace(/\./g, "\\.")}, so nothing was changed: hostdevs\\[0\\]\\.address: there is no PCI device 0000:7f:1f\\.7`));
    expect(await virsh.list(a)).toEqual(before);
    expect((await a.run(["test", "-e", base.nvram.path])).code).not.toBe(0);
  });

  it("takes the 01:00.0 form; a domain without hostdevs gets no warning", async () => {
    expect(await check({ ...base, hostdevs: [{ address: "7f:1f.7", managed: false }] })).toEqual([]);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain("hostdevs[0].address: there is no PCI device 0000:7f:1f.7");
    expect(await check(base)).toEqual([]);
    expect(warnings).toHaveLength(1);
  });

  it("an unreachable host is neither a failure nor a warning at preview (the operation itself will say why)", async () => {
    expect(await check({ ...base, connection: { ...conn, port: 1 }, hostdevs: [{ address: "0000:7f:1f.7" }] })).toEqual([]);
    expect(warnings).toEqual([]);
  });
});
