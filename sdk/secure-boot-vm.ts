import * as pulumi from "@pulumi/pulumi";
import type { ConnectionArgs } from "./connection.js";
import { FirmwareImage } from "./firmware-image.js";
import { Nvram, type SecureBootKeys } from "./nvram.js";
import { Q35Domain, type CdromSpec, type DiskSpec, type NetworkSpec } from "./q35-domain.js";
import { TpmState } from "./tpm-state.js";

/** Inputs of {@link SecureBootVm}. */
export interface SecureBootVmArgs {
  /** The libvirt host. Changing it moves the VM: its NVRAM and TPM state go with it. */
  connection: ConnectionArgs;
  /**
   * The libvirt domain name. Default: the component's name. Changing it renames the VM (the domain
   * is replaced; its UUID, NVRAM and TPM stay).
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
  /**
   * The host's firmware, to share one FirmwareImage between the VMs of a host. Default: a new
   * FirmwareImage with Secure Boot and enrolled keys from the host's descriptors.
   */
  firmware?: FirmwareImage;
  /** Keep a backup of the NVRAM in the stack state (see {@link Nvram}). Default false. */
  backupNvram?: pulumi.Input<boolean>;
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
  /** The libvirt domain name (the component's name). */
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
    this.nvram = new Nvram(
      name,
      {
        connection: args.connection,
        firmware: this.firmware,
        ...(args.backupNvram === undefined ? {} : { backup: args.backupNvram }),
        ...(args.secureBootKeys === undefined ? {} : { secureBootKeys: args.secureBootKeys }),
        ...(args.hostMove === undefined ? {} : { hostMove: args.hostMove }),
      },
      child,
    );
    const vmName = args.name ?? name;
    this.tpm =
      args.tpm === true
        ? new TpmState(
            name,
            { connection: args.connection, vmName, ...(args.backupTpm === undefined ? {} : { backup: args.backupTpm }), ...(args.hostMove === undefined ? {} : { hostMove: args.hostMove }) },
            child,
          )
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
        ...(args.disks === undefined ? {} : { disks: args.disks }),
        ...(args.cdroms === undefined ? {} : { cdroms: args.cdroms }),
        ...(args.networks === undefined ? {} : { networks: args.networks }),
        ...(args.running === undefined ? {} : { running: args.running }),
        ...(args.shutdownTimeoutSeconds === undefined ? {} : { shutdownTimeoutSeconds: args.shutdownTimeoutSeconds }),
        ...(args.hostMove === undefined ? {} : { hostMove: args.hostMove }),
        ...(args.migrationAddress === undefined ? {} : { migrationAddress: args.migrationAddress }),
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
