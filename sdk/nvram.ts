import * as pulumi from "@pulumi/pulumi";
import { ownerOf } from "./owner.js";
import { hostOf, recordHost } from "./placement.js";
import nvramProvider from "../provider/shims/nvram.js";
import { secretConnection, type ConnectionArgs } from "./connection.js";
import type { FirmwareImage } from "./firmware-image.js";
import type { SignatureSummary, VarStoreSummary } from "../provider/nvram/varstore.js";
import type { SecureBootKeys } from "../provider/nvram/enroll.js";
import { MICROSOFT_CERTIFICATES } from "../provider/nvram/microsoft-certs.js";

export type { SecureBootKeys, SignatureSummary, VarStoreSummary };

/**
 * Microsoft's Secure Boot certificates shipped with this package (name, KEK or db, sha256 of the
 * DER, the DER in base64), as `secureBootKeys.microsoft` enrolls them and `varStore.microsoftCertificates` names them.
 */
export const microsoftCertificates = MICROSOFT_CERTIFICATES;

/** Where NVRAM files go when no `path` is given: libvirt's own NVRAM directory. */
export const DEFAULT_NVRAM_DIR = "/var/lib/libvirt/qemu/nvram";

/** The file an Nvram named `name` gets without a `path`: `<DEFAULT_NVRAM_DIR>/<name>_VARS.fd`. */
export const defaultNvramPath = (name: string): string => `${DEFAULT_NVRAM_DIR}/${name.replace(/[^A-Za-z0-9_.-]/g, "_")}_VARS.fd`;

const declared = new WeakMap<object, pulumi.Output<{ path: string; variant: string }>>();

/**
 * Where a domain finds this NVRAM, from the Nvram's inputs: known at preview even while the Nvram
 * itself is being updated (its outputs are unknown then), so that a key change or a restored file
 * does not preview as a change of every domain using it. The domain depends on the Nvram itself.
 */
export function nvramLocation(nvram: Nvram): pulumi.Output<{ path: string; variant: string }> {
  return declared.get(nvram) ?? pulumi.all([nvram.path, nvram.variant]).apply(([path, variant]) => ({ path, variant }));
}

/** Inputs of {@link Nvram}. */
export interface NvramArgs {
  /** The libvirt host. Changing it to another host moves the file (content preserved, sha256-verified). */
  connection: pulumi.Input<ConnectionArgs>;
  /** The firmware this NVRAM belongs to; its vars template is the starting content. */
  firmware?: FirmwareImage;
  /** A vars template on the host, instead of the firmware's. */
  templatePath?: pulumi.Input<string>;
  /** Path of the file. Default: `/var/lib/libvirt/qemu/nvram/<name>_VARS.fd`. Changing it moves the file. */
  path?: pulumi.Input<string>;
  /** Another Nvram (same or other host) whose content the new file starts from. Used at creation only. */
  source?: Nvram;
  /**
   * Keep a compressed copy of the content in the stack state (a Pulumi secret), refreshed by
   * `pulumi refresh`. When the file is found missing, `pulumi up` restores this copy instead of
   * starting again from the template. Default: false.
   */
  backup?: pulumi.Input<boolean>;
  /** Any value; changing it re-creates the file from the template on purpose (the UEFI variables are lost). */
  resetTrigger?: pulumi.Input<unknown>;
  /**
   * The Secure Boot keys the VM trusts, written into the file as the authenticated variables OVMF
   * enforces: at creation (into the template's content), and whenever they change (an update: the
   * domain using the file is stopped, the keys rewritten with every other variable kept, the domain
   * started again). KEK and db become exactly what is declared; the PK is the declared one or, when
   * none is declared, the store's own; dbx only grows. Default: the template's keys, untouched.
   * Changing them changes TPM PCR 7 (BitLocker asks for recovery unless suspended first).
   */
  secureBootKeys?: pulumi.Input<SecureBootKeys>;
  /**
   * How a change of `connection` treats a VM running on the file: "cold" (default) stops it, then
   * moves the file; "live" leaves it running and puts a copy on the new host, which the VM's live
   * migration (its Q35Domain with hostMove "live") fills with the guest's variables; the old file
   * is removed once the VM runs on the new host. SecureBootVm sets this with its own hostMove.
   */
  hostMove?: pulumi.Input<"cold" | "live">;
  /**
   * Take over a file already at `path` that this Nvram did not create: one made by hand or by
   * virt-install, by a pulumi-ovmf before owner marks, or owned by another stack's Nvram (that
   * stack then leaves it in place on destroy). Its content is kept. Default false: such a file
   * fails `pulumi preview`, naming its owner.
   */
  adopt?: pulumi.Input<boolean>;
}

/**
 * One VM's UEFI variable store (the VARS file): created from the firmware's template before any
 * domain refers to it, kept when domains are replaced or deleted, moved with its content when the
 * connection changes, and never replaced. The guest writing its variables is not drift.
 */
export class Nvram extends pulumi.dynamic.Resource {
  /** Path of the file on the host. */
  declare public readonly path: pulumi.Output<string>;
  /** Size in bytes. */
  declare public readonly sizeBytes: pulumi.Output<number>;
  /** sha256 of the content when last seen (refresh updates it; "" when the file was found missing). */
  declare public readonly sha256: pulumi.Output<string>;
  /** The vars template used. */
  declare public readonly resolvedTemplatePath: pulumi.Output<string>;
  /** sha256 of the vars template. */
  declare public readonly templateSha256: pulumi.Output<string>;
  /** `2M` or `4M`, from the firmware. */
  declare public readonly variant: pulumi.Output<string>;
  /** The compressed content when `backup` is on (secret). */
  declare public readonly backupData: pulumi.Output<string | undefined>;
  /**
   * What the file's content says about Secure Boot, read from its edk2 variable store on create,
   * update and refresh: `secureBootEnforced` (a Platform Key is enrolled and SecureBootEnable is not
   * off), the number of signatures in PK, KEK, db and dbx, each certificate (subject, issuer, serial,
   * notAfter, sha256) and hash in `signatures`, and which of Microsoft's certificates it holds in
   * `microsoftCertificates`. Undefined when the file is not an edk2 variable store.
   */
  declare public readonly varStore: pulumi.Output<VarStoreSummary | undefined>;
  /** The connection, for resources on the same host. */
  declare public readonly connection: pulumi.Output<ConnectionArgs>;

  constructor(name: string, args: NvramArgs, opts?: pulumi.CustomResourceOptions) {
    const fw = args.firmware;
    const props = {
      connection: secretConnection(args.connection),
      firmware:
        fw === undefined
          ? undefined
          : pulumi.all([fw.code, fw.varsTemplate, fw.variant]).apply(([code, vars, variant]) => ({
              codePath: code.path,
              codeSize: code.size,
              varsTemplatePath: vars.path,
              variant,
            })),
      templatePath: args.templatePath,
      path: args.path ?? defaultNvramPath(name),
      source: args.source === undefined ? undefined : { connection: args.source.connection, path: args.source.path },
      backup: args.backup,
      resetTrigger: args.resetTrigger,
      secureBootKeys: args.secureBootKeys,
      hostMove: args.hostMove,
      adopt: args.adopt,
      owner: ownerOf(name, "Nvram", opts),
      // Where its FirmwareImage is: the preview refuses a template on another host.
      peers: fw === undefined ? undefined : pulumi.all({ firmware: hostOf(fw) }),
      ownerId: undefined,
      sizeBytes: undefined,
      sha256: undefined,
      resolvedTemplatePath: undefined,
      templateSha256: undefined,
      variant: undefined,
      backupData: undefined,
      varStore: undefined,
    };
    const secret = { additionalSecretOutputs: ["backupData"] };
    super(nvramProvider, name, props, pulumi.mergeOptions(opts, secret), "ovmf", "Nvram");
    recordHost(this, args.connection);
    declared.set(this, pulumi.all([props.path, fw === undefined ? "" : fw.variant]).apply(([path, variant]) => ({ path, variant })));
  }
}
