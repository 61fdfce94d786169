import * as pulumi from "@pulumi/pulumi";
import { recordHost } from "./placement.js";
import firmwareImageProvider from "../provider/shims/firmware-image.js";
import { secretConnection, type ConnectionArgs } from "./connection.js";

/** A firmware file on the host. */
export interface FirmwareFile {
  /** Absolute path on the host. */
  path: string;
  /** sha256 of the content (hex), computed on the host. */
  sha256: string;
  /** Size in bytes. */
  size: number;
}

/** Inputs of {@link FirmwareImage}. Give nothing but `connection` to use the host's best UEFI firmware for q35. */
export interface FirmwareImageArgs {
  /** The libvirt host. */
  connection: pulumi.Input<ConnectionArgs>;
  /**
   * Require (`true`) or exclude (`false`) Secure Boot support when choosing from the host's QEMU
   * firmware descriptors. Default: either (on Debian the first match is the Secure Boot build with
   * Microsoft keys enrolled).
   */
  secureBoot?: pulumi.Input<boolean>;
  /** Require (`true`) or exclude (`false`) pre-enrolled Secure Boot keys. Default: either. */
  enrolledKeys?: pulumi.Input<boolean>;
  /** Descriptor directories, highest priority first. Default: `/etc/qemu/firmware`, `/usr/share/qemu/firmware`. */
  searchPath?: pulumi.Input<pulumi.Input<string>[]>;
  /** Use this CODE image on the host instead of a descriptor (with `varsTemplatePath`). */
  codePath?: pulumi.Input<string>;
  /** The vars template of the same build as `codePath`. */
  varsTemplatePath?: pulumi.Input<string>;
  /**
   * Local files (paths on the machine running Pulumi) to store on the host, once per content, under
   * `/var/lib/libvirt/pulumi-ovmf/firmware/<sha256>/`, sha256-verified. Removed with the last
   * FirmwareImage that uses them.
   */
  upload?: pulumi.Input<{ code: pulumi.Input<string>; varsTemplate: pulumi.Input<string> }>;
}

/**
 * The OVMF firmware of one host: a read-only CODE image shared by every VM on the host, and the
 * vars template each VM's {@link Nvram} starts from. Found from the host's QEMU firmware
 * descriptors, named explicitly, or uploaded. Deleting it never touches distribution files.
 */
export class FirmwareImage extends pulumi.dynamic.Resource {
  /** The CODE image. */
  declare public readonly code: pulumi.Output<FirmwareFile>;
  /** The vars template. */
  declare public readonly varsTemplate: pulumi.Output<FirmwareFile>;
  /** `2M` or `4M`: the flash layout CODE and VARS form together. */
  declare public readonly variant: pulumi.Output<"2M" | "4M">;
  /** Descriptor features, e.g. `secure-boot`, `enrolled-keys`, `requires-smm`. */
  declare public readonly features: pulumi.Output<string[]>;
  /** Whether the firmware needs SMM (`<features><smm state='on'/>`): Secure Boot builds do. */
  declare public readonly requiresSmm: pulumi.Output<boolean>;
  /** The descriptor file used, or "" for explicit paths and uploads. */
  declare public readonly descriptor: pulumi.Output<string>;
  /** Whether this resource uploaded the files. */
  declare public readonly uploaded: pulumi.Output<boolean>;
  /** The connection, for resources that go on the same host. */
  declare public readonly connection: pulumi.Output<ConnectionArgs>;
  /** Path of the CODE image on the host. */
  public readonly codePath: pulumi.Output<string>;
  /** Path of the vars template on the host. */
  public readonly varsTemplatePath: pulumi.Output<string>;

  constructor(name: string, args: FirmwareImageArgs, opts?: pulumi.CustomResourceOptions) {
    const props = {
      ...args,
      connection: secretConnection(args.connection),
      code: undefined,
      varsTemplate: undefined,
      variant: undefined,
      features: undefined,
      requiresSmm: undefined,
      descriptor: undefined,
      uploaded: undefined,
    };
    super(firmwareImageProvider, name, props, opts, "ovmf", "FirmwareImage");
    recordHost(this, args.connection);
    this.codePath = this.code.apply((c) => c.path);
    this.varsTemplatePath = this.varsTemplate.apply((v) => v.path);
  }
}
