import { XMLBuilder } from "fast-xml-parser";
import type { Host } from "../../provider/host/host.js";
import * as virsh from "../../provider/libvirt/virsh.js";
import type { ConnectionSpec } from "../../provider/ssh/connection.js";
import { serialLogPath, type DomainInputs } from "../../provider/q35-domain/spec.js";

/** Inputs of a domain for the pure rules (unit tests): nothing here reaches a host. */
export const RULES_CONNECTION = { host: "kvm1", hostKey: "SHA256:zhqhy7Maeo1geoyYva65h0vFSvYN6eiO/k50Q7TsyII" };
export const RULES_DOMAIN: DomainInputs = {
  connection: RULES_CONNECTION,
  name: "web",
  memoryMiB: 1024,
  vcpus: 1,
  firmware: { codePath: "/c.fd", varsTemplatePath: "/v.fd", features: ["secure-boot"], variant: "4M" },
  nvram: { path: "/n.fd", variant: "4M" },
};

/** A Secure Boot domain with every kind of device (the golden files domain-full-qemu*.xml), on any base inputs. */
export function fullDomain(base: DomainInputs): DomainInputs {
  return {
    ...base,
    name: "win11",
    disks: [
      { path: "/var/lib/libvirt/images/win11.qcow2", format: "qcow2", bootOrder: 1 },
      { path: "/var/lib/libvirt/images/data.raw", bus: "scsi" },
    ],
    cdroms: [{ path: "/isos/Win11.iso", bootOrder: 2 }, { path: "/isos/virtio-win.iso" }, {}],
    networks: [{ network: "default", mac: "52:54:00:AA:BB:CC" }, { bridge: "br0", model: "e1000e" }],
    graphics: { type: "spice" },
    serial: { type: "pty" },
    pcieRootPorts: 2,
    hostdevs: [{ address: "0000:01:00.0", primaryGpu: true, romFile: "/usr/share/vgabios/gpu.rom" }, { address: "01:00.1", managed: false }, { address: "0000:02:00.0" }],
    tpm: true,
    devicesXml: "<watchdog model='i6300esb' action='reset'/>",
  };
}

/** libvirt's NVRAM path for a test domain. */
export const nvramPathOf = (name: string) => `/var/lib/libvirt/qemu/nvram/${name}_VARS.fd`;

/**
 * The inputs of a small test domain on Debian's plain 4M OVMF (no Secure Boot), no display, its
 * NVRAM at {@link nvramPathOf}; `extra` overrides or adds inputs.
 */
export function plainDomain(connection: ConnectionSpec, name: string, extra: Partial<DomainInputs> = {}): DomainInputs {
  return {
    connection,
    name,
    memoryMiB: 128,
    vcpus: 1,
    firmware: { codePath: "/usr/share/OVMF/OVMF_CODE_4M.fd", varsTemplatePath: "/usr/share/OVMF/OVMF_VARS_4M.fd", features: [], variant: "4M" },
    nvram: { path: nvramPathOf(name), variant: "4M" },
    graphics: { type: "none" },
    ...extra,
  };
}

/**
 * Removes a test domain and its files from a host, whatever state a failed test left them in: for
 * `afterEach`/`afterAll`, so that one failure never cascades into the next test.
 */
export async function removeTestDomain(host: Host, name: string): Promise<void> {
  if (await virsh.exists(host, name)) {
    await virsh.destroy(host, name);
    await virsh.undefine(host, name, "keep");
  }
  await host.run(["rm", "-f", "--", nvramPathOf(name), serialLogPath(name)]);
}

/**
 * The XML of a diskless UEFI q35 domain on an NVRAM file, defined outside any Q35Domain (as a
 * user's hand-made domain would be); `secure` adds SMM and the secure loader.
 */
export function unmanagedUefiDomain(o: { name: string; domainType: string; codePath: string; nvramPath: string; secure?: boolean }): string {
  return new XMLBuilder({ ignoreAttributes: false }).build({
    domain: {
      "@_type": o.domainType,
      name: o.name,
      memory: { "@_unit": "MiB", "#text": 128 },
      features: o.secure === true ? { acpi: "", smm: { "@_state": "on" } } : { acpi: "" },
      os: {
        type: { "@_arch": "x86_64", "@_machine": "q35", "#text": "hvm" },
        loader: { "@_readonly": "yes", ...(o.secure === true ? { "@_secure": "yes" } : {}), "@_type": "pflash", "#text": o.codePath },
        nvram: o.nvramPath,
      },
    },
  }) as string;
}
