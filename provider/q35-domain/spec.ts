import type { ConnectionSpec } from "../ssh/connection.js";
import { serialLogPath } from "../libvirt/qemu-log.js";
import type { OwnerInput } from "../owner.js";
import type { Peers } from "../peers.js";

/** A disk image attached to the domain. */
export interface DiskSpec {
  path: string;
  /** virtio (default), sata or scsi. q35 has no IDE. */
  bus?: "virtio" | "sata" | "scsi";
  /**
   * raw or qcow2. Default: the file's real format, read on the host with `qemu-img info` (at
   * preview and before each define) and recorded in the stack, so it is not read again while the
   * disk stays. A declared format that is not the file's fails the preview.
   */
  format?: "raw" | "qcow2";
  readonly?: boolean;
  bootOrder?: number;
}

/** A CD-ROM drive: an ISO, or an empty tray when `path` is absent. SATA by default. */
export interface CdromSpec {
  path?: string;
  bus?: "sata" | "scsi";
  bootOrder?: number;
}

/** A network interface on a libvirt network or a host bridge. */
export interface NetworkSpec {
  network?: string;
  bridge?: string;
  /** virtio (default), e1000e, ... */
  model?: string;
  mac?: string;
}

export interface GraphicsSpec {
  type: "vnc" | "spice" | "none";
  /** Default 127.0.0.1: never on all interfaces unless asked. */
  listen?: string;
}

export interface SerialSpec {
  /** `file` (default, at /var/log/libvirt/qemu/<name>-serial.log) or `pty`. */
  type: "file" | "pty";
  path?: string;
}

/** A PCI device passed through with VFIO. */
export interface HostdevSpec {
  /** PCI address, `0000:01:00.0` or `01:00.0`. */
  address: string;
  /** Let libvirt detach the device from its host driver. Default true. */
  managed?: boolean;
  romFile?: string;
  multifunction?: boolean;
  /** The guest's primary GPU: no emulated VGA is added. */
  primaryGpu?: boolean;
}

/** What a Q35Domain needs of its FirmwareImage. */
export interface DomainFirmware {
  codePath: string;
  varsTemplatePath: string;
  features: string[];
  variant: string;
}

/** What a Q35Domain needs of its Nvram. */
export interface DomainNvram {
  path: string;
  variant: string;
}

export interface DomainInputs {
  connection: ConnectionSpec;
  name: string;
  memoryMiB: number;
  vcpus: number;
  firmware: DomainFirmware;
  nvram: DomainNvram;
  secureBoot?: boolean;
  domainType?: "auto" | "kvm" | "qemu";
  cpuMode?: "host-passthrough" | "host-model" | "maximum" | "custom";
  /** The named CPU model of cpuMode "custom" (e.g. "Skylake-Client"): libvirt's `<model>`, exactly, never a fallback. */
  cpuModel?: string;
  disks?: DiskSpec[];
  cdroms?: CdromSpec[];
  networks?: NetworkSpec[];
  graphics?: GraphicsSpec;
  serial?: SerialSpec;
  usb?: boolean;
  pcieRootPorts?: number;
  hostdevs?: HostdevSpec[];
  tpm?: boolean;
  /**
   * The TpmState that owns the emulated TPM's state: its UUID is the domain's, so a rename, a
   * replacement or a host move finds the same TPM. Required with `tpm: true`.
   */
  tpmState?: { uuid: string };
  running?: boolean;
  autostart?: boolean;
  shutdownTimeoutSeconds?: number;
  /** Raw XML elements appended inside <devices> (escape hatch), e.g. `<watchdog model='itco'/>`. */
  devicesXml?: string;
  /** Take over an existing domain of this name instead of failing. */
  adopt?: boolean;
  /**
   * The stack and resource (URN) creating the domain, set by the SDK: written into the domain's
   * metadata as its owner mark with the `ownerId` minted at create (see provider/owner.ts).
   */
  owner?: OwnerInput;
  /** Where its FirmwareImage, Nvram and TpmState live (set by the SDK): checked, never compared. */
  peers?: Peers;
  /**
   * How a change of `connection` to another host happens. "cold" (default): the domain is
   * replaced: stopped, undefined, its NVRAM and TPM state moved, defined and started on the new
   * host. "live": it is migrated while it runs (no reboot); one that is shut off moves cold.
   */
  hostMove?: "cold" | "live";
  /**
   * With hostMove "live": the address (host name or IP) at which the source host's QEMU reaches
   * the destination for the migration data. Default: the host of the destination's connection.
   */
  migrationAddress?: string;
}

/** Everything resolved: defaults applied and the domain type chosen. */
export interface ResolvedDomain extends Required<Omit<DomainInputs, "connection" | "adopt" | "owner" | "peers" | "devicesXml" | "domainType" | "cpuMode" | "cpuModel" | "tpmState" | "hostMove" | "migrationAddress">> {
  domainType: "kvm" | "qemu";
  cpuMode?: DomainInputs["cpuMode"];
  cpuModel?: string;
  devicesXml?: string;
  serial: SerialSpec & { path: string };
}

export const DEFAULTS = {
  usb: true,
  pcieRootPorts: 4,
  running: true,
  autostart: false,
  shutdownTimeoutSeconds: 60,
  graphics: { type: "vnc", listen: "127.0.0.1" } as GraphicsSpec,
};

export { serialLogPath };

/** Applies the documented defaults. Secure Boot defaults to what the firmware supports. */
export function resolve(i: DomainInputs, domainType: "kvm" | "qemu"): ResolvedDomain {
  const serial = i.serial ?? { type: "file" };
  return {
    name: i.name,
    memoryMiB: i.memoryMiB,
    vcpus: i.vcpus,
    firmware: i.firmware,
    nvram: i.nvram,
    secureBoot: i.secureBoot ?? i.firmware.features.includes("secure-boot"),
    domainType,
    ...(i.cpuMode === undefined ? {} : { cpuMode: i.cpuMode }),
    ...(i.cpuModel === undefined ? {} : { cpuModel: i.cpuModel }),
    disks: i.disks ?? [],
    cdroms: i.cdroms ?? [],
    networks: i.networks ?? [],
    graphics: { ...DEFAULTS.graphics, ...i.graphics },
    serial: { ...serial, path: serial.path ?? serialLogPath(i.name) },
    usb: i.usb ?? DEFAULTS.usb,
    pcieRootPorts: i.pcieRootPorts ?? DEFAULTS.pcieRootPorts,
    hostdevs: i.hostdevs ?? [],
    tpm: i.tpm ?? i.tpmState !== undefined,
    running: i.running ?? DEFAULTS.running,
    autostart: i.autostart ?? DEFAULTS.autostart,
    shutdownTimeoutSeconds: i.shutdownTimeoutSeconds ?? DEFAULTS.shutdownTimeoutSeconds,
    ...(i.devicesXml === undefined ? {} : { devicesXml: i.devicesXml }),
  };
}
