import * as pulumi from "@pulumi/pulumi";
import { TpmState } from "./tpm-state.js";
import q35DomainProvider from "../provider/shims/q35-domain.js";
import type { CdromSpec, DiskSpec, GraphicsSpec, HostdevSpec, NetworkSpec, SerialSpec } from "../provider/q35-domain/spec.js";
import { secretConnection, type ConnectionArgs } from "./connection.js";
import type { FirmwareImage } from "./firmware-image.js";
import { nvramLocation, type Nvram } from "./nvram.js";
import { ownerOf } from "./owner.js";
import { hostOf } from "./placement.js";

export type { CdromSpec, DiskSpec, GraphicsSpec, HostdevSpec, NetworkSpec, SerialSpec };

/** Inputs of {@link Q35Domain}. See the README's table for which changes restart or replace the domain. */
export interface Q35DomainArgs {
  /** The libvirt host. Another host replaces the domain (its Nvram moves first). */
  connection: pulumi.Input<ConnectionArgs>;
  /** Domain name. Default: the resource name. Changing it replaces the domain; the NVRAM is kept. */
  name?: pulumi.Input<string>;
  /** Guest memory in MiB. */
  memoryMiB: pulumi.Input<number>;
  /** Virtual CPUs. */
  vcpus: pulumi.Input<number>;
  /** The firmware (CODE image) to boot. */
  firmware: FirmwareImage;
  /** The VM's UEFI variable store. */
  nvram: Nvram;
  /** Enforce Secure Boot (`loader secure='yes'` and SMM). Default: what the firmware supports. */
  secureBoot?: pulumi.Input<boolean>;
  /**
   * `auto` (default): kvm when KVM on the host really runs this firmware (a throwaway domain boots it
   * to OVMF's boot manager, with SMM and the CPU mode this domain needs), else qemu with a warning
   * that says why; `kvm`; or `qemu` (TCG, software emulation). Whatever the type, a start that does
   * not keep running (paused, crashed) fails the operation with QEMU's reason.
   */
  domainType?: pulumi.Input<"auto" | "kvm" | "qemu">;
  /** CPU mode. Default: host-passthrough under kvm, QEMU's default under qemu. */
  cpuMode?: pulumi.Input<"host-passthrough" | "host-model" | "maximum" | "custom">;
  /**
   * The CPU model of cpuMode "custom" (required there, refused with any other mode), e.g.
   * "Skylake-Client": the guest gets exactly this model or does not start (libvirt's
   * `<model fallback='forbid'>`); `virsh domcapabilities` on the host lists the usable ones.
   * With domainType "auto" the KVM probe runs this model too. Changing it restarts the domain.
   */
  cpuModel?: pulumi.Input<string>;
  /**
   * Disk images. Default bus virtio; q35 has no IDE. A disk's `format` defaults to the file's real
   * one, read on the host (`qemu-img info`, so the host needs qemu-utils / qemu-img) and recorded
   * in the stack: a qcow2 made with `qemu-img create -f qcow2` needs no `format`. A declared format
   * that is not the file's, a missing file or a broken backing chain fails `pulumi preview`.
   */
  disks?: pulumi.Input<pulumi.Input<DiskSpec>[]>;
  /** CD-ROM drives (SATA by default): an ISO, or an empty tray without `path`. */
  cdroms?: pulumi.Input<pulumi.Input<CdromSpec>[]>;
  /** Network interfaces (libvirt network, default "default", or a bridge). */
  networks?: pulumi.Input<pulumi.Input<NetworkSpec>[]>;
  /** Display. Default VNC on 127.0.0.1. */
  graphics?: pulumi.Input<GraphicsSpec>;
  /** Serial console. Default: a log file at /var/log/libvirt/qemu/<name>-serial.log (see `serialLogPath`). */
  serial?: pulumi.Input<SerialSpec>;
  /** A qemu-xhci USB controller with a tablet. Default true (q35 has no USB otherwise). */
  usb?: pulumi.Input<boolean>;
  /** PCIe root ports for hot-plug. Default 4. */
  pcieRootPorts?: pulumi.Input<number>;
  /** VFIO PCI passthrough devices. */
  hostdevs?: pulumi.Input<pulumi.Input<HostdevSpec>[]>;
  /**
   * An emulated TPM 2.0 (swtpm on the host), whose state a {@link TpmState} owns: the domain takes
   * its UUID, so a rename, a replacement or a host move keeps the same TPM. Default: none.
   */
  tpm?: TpmState;
  /** Whether the domain runs. Default true. Applied without a restart. */
  running?: pulumi.Input<boolean>;
  /** Start with the host. Default false. Applied without a restart. */
  autostart?: pulumi.Input<boolean>;
  /** How long a graceful (ACPI) shutdown may take before the domain is powered off. Default 60. */
  shutdownTimeoutSeconds?: pulumi.Input<number>;
  /** Raw XML elements appended inside `<devices>`, for what these inputs do not cover. */
  devicesXml?: pulumi.Input<string>;
  /** Take over an existing domain of this name (redefined to these inputs) instead of failing. */
  adopt?: pulumi.Input<boolean>;
  /**
   * How a change of `connection` to another host happens. "cold" (default): the domain is
   * replaced: stopped, its NVRAM and TPM state moved, defined and started on the new host. "live":
   * it is migrated while it runs, without a reboot (its Nvram and TpmState need hostMove "live"
   * too); a domain that is shut off moves cold. Other changes that need a restart cannot ride along
   * with a live move.
   */
  hostMove?: pulumi.Input<"cold" | "live">;
  /**
   * With hostMove "live": the host name or IP at which the source host's QEMU reaches the
   * destination for the migration data (TCP 49152-49215). Default: the host of the new
   * `connection` (set this when the hosts reach each other at another address, e.g. a migration
   * network).
   */
  migrationAddress?: pulumi.Input<string>;
}

/**
 * A libvirt domain on the Q35 machine, booting UEFI from a {@link FirmwareImage} with its
 * variables in an {@link Nvram}. Updates restart the guest only when they must; every undefine
 * keeps the NVRAM file.
 */
export class Q35Domain extends pulumi.dynamic.Resource {
  /** The libvirt domain name. */
  declare public readonly name: pulumi.Output<string>;
  /** libvirt's UUID of the domain. */
  declare public readonly uuid: pulumi.Output<string>;
  /** `running`, `shut off`, ... as virsh domstate reports it. */
  declare public readonly state: pulumi.Output<string>;
  /** The versioned machine type libvirt chose, e.g. `pc-q35-7.2`. */
  declare public readonly machine: pulumi.Output<string>;
  /** `kvm` or `qemu`, after `auto` was resolved. */
  declare public readonly resolvedDomainType: pulumi.Output<"kvm" | "qemu">;
  /** The persistent domain XML as libvirt holds it. */
  declare public readonly xml: pulumi.Output<string>;
  /** The serial console log on the host (file serial). */
  declare public readonly serialLogPath: pulumi.Output<string>;

  constructor(name: string, args: Q35DomainArgs, opts?: pulumi.CustomResourceOptions) {
    const { firmware, nvram, tpm, ...rest } = args;
    // Plain JavaScript may still pass `tpm: true`: the provider then says what to pass instead.
    const tpmArg = tpm as TpmState | boolean | undefined;
    const props = {
      ...rest,
      tpm: tpmArg === undefined ? undefined : tpmArg instanceof TpmState ? true : tpmArg,
      tpmState: tpmArg instanceof TpmState ? { uuid: tpmArg.uuid } : undefined,
      connection: secretConnection(args.connection),
      name: args.name ?? name,
      firmware: pulumi.all([firmware.codePath, firmware.varsTemplatePath, firmware.features, firmware.variant]).apply(([codePath, varsTemplatePath, features, variant]) => ({
        codePath,
        varsTemplatePath,
        features,
        variant,
      })),
      nvram: nvramLocation(nvram),
      uuid: undefined,
      state: undefined,
      machine: undefined,
      resolvedDomainType: undefined,
      xml: undefined,
      serialLogPath: undefined,
      owner: ownerOf(name, "Q35Domain", opts),
      // Where its FirmwareImage, Nvram and TpmState are: the preview refuses them on another host.
      peers: pulumi.all({ firmware: hostOf(firmware), nvram: hostOf(nvram), ...(tpmArg instanceof TpmState ? { tpmState: hostOf(tpmArg) } : {}) }),
      ownerId: undefined,
    };
    super(q35DomainProvider, name, props, pulumi.mergeOptions(opts, { dependsOn: [nvram] }), "ovmf", "Q35Domain");
  }
}
