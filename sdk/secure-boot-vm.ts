import * as pulumi from "@pulumi/pulumi";
import type { ConnectionArgs } from "./connection.js";
import { FirmwareImage } from "./firmware-image.js";
import { defaultNvramPath, Nvram, type SecureBootKeys } from "./nvram.js";
import { Q35Domain, type CdromSpec, type DiskSpec, type GraphicsSpec, type HostdevSpec, type NetworkSpec, type Q35DomainArgs } from "./q35-domain.js";
import { TpmState } from "./tpm-state.js";

/** `o` without its undefined entries: the optional inputs a child gets only when they are given. Pure. */
function given<T extends Record<string, unknown>>(o: T): { [K in keyof T]?: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as { [K in keyof T]?: Exclude<T[K], undefined> };
}

/** Inputs of {@link SecureBootVm}. */
export interface SecureBootVmArgs {
  /** The libvirt host. Changing it moves the VM: its NVRAM and TPM state go with it. */
  connection: pulumi.Input<ConnectionArgs>;
  /**
   * The libvirt domain name. Default: the component's name. Changing it renames the VM: the domain
   * is replaced (shut down, undefined, defined under the new name), its NVRAM file is moved to the
   * new name's default path with its content (unless `nvramPath` is given), its TPM is kept, and
   * with `tpm` so is its UUID (without one, libvirt gives the new domain a new UUID). The component's
   * own (resource) name is what the stack knows the VM by: keep it fixed and change this instead;
   * to change the resource name itself, use `aliases` (see README, "Renaming a VM").
   */
  name?: pulumi.Input<string>;
  /** Guest memory in MiB. */
  memoryMiB: pulumi.Input<number>;
  /** Virtual CPUs. */
  vcpus: pulumi.Input<number>;
  /** Disk images (virtio by default). */
  disks?: pulumi.Input<pulumi.Input<DiskSpec>[]>;
  /** CD-ROM drives (SATA). */
  cdroms?: pulumi.Input<pulumi.Input<CdromSpec>[]>;
  /** Network interfaces. */
  networks?: pulumi.Input<pulumi.Input<NetworkSpec>[]>;
  /** Display (see {@link Q35Domain}). Default VNC on 127.0.0.1. */
  graphics?: pulumi.Input<GraphicsSpec>;
  /** VFIO PCI passthrough devices, e.g. a GPU (see {@link Q35Domain} and README, "Q35 domains"). */
  hostdevs?: pulumi.Input<pulumi.Input<HostdevSpec>[]>;
  /** Raw XML elements appended inside `<devices>`, for what these inputs do not cover. */
  devicesXml?: pulumi.Input<string>;
  /**
   * `auto` (default): kvm when KVM on the host really runs this firmware, else qemu with a warning
   * that says why; `kvm`; or `qemu` (TCG, software emulation: for hosts whose KVM cannot run OVMF,
   * as the warnings and errors of a failed start suggest). See {@link Q35Domain}.
   */
  domainType?: pulumi.Input<"auto" | "kvm" | "qemu">;
  /** CPU mode. Default: host-passthrough under kvm, QEMU's default under qemu. "custom" needs `cpuModel`. */
  cpuMode?: Q35DomainArgs["cpuMode"];
  /** The CPU model of cpuMode "custom", e.g. "Skylake-Client" (see {@link Q35Domain}). */
  cpuModel?: pulumi.Input<string>;
  /** Start with the host. Default false. Applied without a restart. */
  autostart?: pulumi.Input<boolean>;
  /**
   * Take over an existing domain of this name (redefined to these inputs, its UUID kept), the NVRAM
   * file at `nvramPath` (its variables kept) and, with `tpm` and `tpmUuid`, the TPM state of that
   * UUID, instead of failing: the `adopt` of the Q35Domain, Nvram and TpmState.
   */
  adopt?: pulumi.Input<boolean>;
  /**
   * The host's firmware, to share one FirmwareImage between the VMs of a host. Default: a new
   * FirmwareImage with Secure Boot and enrolled keys from the host's descriptors.
   */
  firmware?: FirmwareImage;
  /** Keep a backup of the NVRAM in the stack state (see {@link Nvram}). Default false. */
  backupNvram?: pulumi.Input<boolean>;
  /**
   * Path of the NVRAM file on the host. Default: `/var/lib/libvirt/qemu/nvram/<name>_VARS.fd`,
   * after the domain name (so two stacks' VMs of one component name do not share a file); a rename
   * moves it there. Changing it moves the file with its content.
   */
  nvramPath?: pulumi.Input<string>;
  /** Any value; changing it re-creates the NVRAM from the template on purpose, losing the UEFI variables (the Nvram's `resetTrigger`). */
  nvramResetTrigger?: pulumi.Input<unknown>;
  /**
   * The Secure Boot keys the VM trusts (see {@link Nvram}): e.g. `{ microsoft: "both" }` to trust
   * Microsoft's 2011 and 2023 CAs, or your own platformKey, keyExchangeKeys and signatureDatabase.
   * Default: the keys of the firmware's vars template (on Debian: Microsoft's 2011 CAs).
   */
  secureBootKeys?: pulumi.Input<SecureBootKeys>;
  /**
   * An emulated TPM 2.0 whose state a {@link TpmState} owns (kept across renames, moved with the VM,
   * never deleted before the VM is). Default false.
   */
  tpm?: boolean;
  /** Keep a backup of the TPM state in the stack state (see {@link TpmState}). Default false. */
  backupTpm?: pulumi.Input<boolean>;
  /**
   * With `tpm`: the VM's UUID, which names its TPM state (the TpmState's `uuid`). Default: minted
   * at create. Give an existing domain's UUID (with `adopt: true`) to take it over with its TPM. It cannot change.
   */
  tpmUuid?: pulumi.Input<string>;
  /** Whether the VM runs. Default true. */
  running?: pulumi.Input<boolean>;
  /** How long a graceful shutdown may take before power-off. Default 60. */
  shutdownTimeoutSeconds?: pulumi.Input<number>;
  /**
   * How a change of `connection` moves the VM. "cold" (default): stopped, NVRAM and TPM state
   * moved, started on the new host. "live": migrated while it runs, no reboot; its NVRAM and TPM
   * state go with it, and leave the old host once it runs on the new one (see README, "Host moves").
   */
  hostMove?: pulumi.Input<"cold" | "live">;
  /** With hostMove "live": the address at which the old host reaches the new one for the migration data (see Q35Domain's migrationAddress). */
  migrationAddress?: pulumi.Input<string>;
}

/**
 * A Secure Boot VM without knowing the details: the host's Secure Boot firmware with Microsoft's
 * keys enrolled, an NVRAM file of its own, and a Q35 domain with SMM and the secure loader.
 *
 * Names: the children take the component's (resource) name, which the stack knows them by: the
 * Nvram, TpmState and Q35Domain are `<name>`, the FirmwareImage `<name>-firmware`. What is on the
 * host is named after the `name` input instead: the domain, and the NVRAM file by default. So a
 * rename is a change of `name` with the resource name kept: the domain is replaced, the NVRAM file
 * moved with its content, the TPM state (named by its UUID) kept; nothing is deleted. A change of
 * the resource name is, for Pulumi, another VM: give `aliases: [{ name: "old" }]`, which the children
 * inherit (their names start with the component's), and `name: "old"` when the domain keeps its name.
 */
export class SecureBootVm extends pulumi.ComponentResource {
  /** The firmware the VM boots (shared when passed in). */
  public readonly firmware: FirmwareImage;
  /** The VM's UEFI variable store. */
  public readonly nvram: Nvram;
  /** The libvirt domain. */
  public readonly domain: Q35Domain;
  /** The VM's TPM state, with `tpm: true`. */
  public readonly tpm: TpmState | undefined;
  /** The libvirt domain name (`name`, by default the component's name). */
  public readonly domainName: pulumi.Output<string>;
  /** The domain's UUID (with a TPM: the TpmState's, the same for the VM's life). */
  public readonly uuid: pulumi.Output<string>;
  /** Path of the NVRAM file on the host. */
  public readonly nvramPath: pulumi.Output<string>;
  /** Path of the firmware CODE image on the host. */
  public readonly codePath: pulumi.Output<string>;
  /** Path of the vars template the NVRAM started from. */
  public readonly varsTemplatePath: pulumi.Output<string>;
  /**
   * Whether Secure Boot is enforced: the loader is secure (with SMM) and the NVRAM file has a Platform
   * Key enrolled with SecureBootEnable on (read from the file, see {@link Nvram.varStore}).
   */
  public readonly secureBoot: pulumi.Output<boolean>;
  /** The serial console log on the host, where OVMF reports what it boots. */
  public readonly serialLogPath: pulumi.Output<string>;

  constructor(name: string, args: SecureBootVmArgs, opts?: pulumi.ComponentResourceOptions) {
    super("pulumi-ovmf:index:SecureBootVm", name, {}, opts);
    const child = { parent: this };
    this.firmware = args.firmware ?? new FirmwareImage(`${name}-firmware`, { connection: args.connection, secureBoot: true, enrolledKeys: true }, child);
    const vmName = args.name ?? name;
    // The children keep the component's name, which the stack knows them by; the domain and the
    // NVRAM file are named after `name`, the TPM state after its UUID (README, "Renaming a VM").
    this.nvram = new Nvram(
      name,
      {
        connection: args.connection,
        firmware: this.firmware,
        path: args.nvramPath ?? (typeof vmName === "string" ? defaultNvramPath(vmName) : pulumi.output(vmName).apply(defaultNvramPath)),
        ...given({ backup: args.backupNvram, resetTrigger: args.nvramResetTrigger, secureBootKeys: args.secureBootKeys, hostMove: args.hostMove, adopt: args.adopt }),
      },
      child,
    );
    this.tpm =
      args.tpm === true
        ? new TpmState(name, { connection: args.connection, vmName, ...given({ uuid: args.tpmUuid, backup: args.backupTpm, hostMove: args.hostMove, adopt: args.adopt }) }, child)
        : undefined;
    this.domain = new Q35Domain(
      name,
      {
        connection: args.connection,
        name: vmName,
        ...(this.tpm === undefined ? {} : { tpm: this.tpm }),
        memoryMiB: args.memoryMiB,
        vcpus: args.vcpus,
        firmware: this.firmware,
        nvram: this.nvram,
        secureBoot: true,
        ...given({
          disks: args.disks,
          cdroms: args.cdroms,
          networks: args.networks,
          graphics: args.graphics,
          hostdevs: args.hostdevs,
          devicesXml: args.devicesXml,
          domainType: args.domainType,
          cpuMode: args.cpuMode,
          cpuModel: args.cpuModel,
          running: args.running,
          autostart: args.autostart,
          adopt: args.adopt,
          shutdownTimeoutSeconds: args.shutdownTimeoutSeconds,
          hostMove: args.hostMove,
          migrationAddress: args.migrationAddress,
        }),
      },
      child,
    );
    this.domainName = this.domain.name;
    this.uuid = this.domain.uuid;
    this.nvramPath = this.nvram.path;
    this.codePath = this.firmware.codePath;
    this.varsTemplatePath = this.firmware.varsTemplatePath;
    this.secureBoot = pulumi.all([this.domain.xml, this.nvram.varStore]).apply(([x, store]) => /secure=['"]yes['"]/.test(x) && store?.secureBootEnforced === true);
    this.serialLogPath = this.domain.serialLogPath;
    this.registerOutputs({ domainName: this.domainName, uuid: this.uuid, nvramPath: this.nvramPath, codePath: this.codePath, secureBoot: this.secureBoot });
  }
}
