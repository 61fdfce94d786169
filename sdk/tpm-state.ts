import * as pulumi from "@pulumi/pulumi";
import { ownerOf } from "./owner.js";
import { recordHost } from "./placement.js";
import tpmStateProvider from "../provider/shims/tpm-state.js";
import { secretConnection, type ConnectionArgs } from "./connection.js";
import type { TpmCertificate } from "../provider/tpm-state/certificates.js";

export type { TpmCertificate };

/** Inputs of {@link TpmState}. */
export interface TpmStateArgs {
  /** The libvirt host. Changing it to another host moves the state (owner, modes and sha256 verified). */
  connection: pulumi.Input<ConnectionArgs>;
  /**
   * The VM's UUID, which names the state directory (/var/lib/libvirt/swtpm/<uuid>) and becomes the
   * domain's UUID. Default: minted at create and kept for the VM's life. Give an existing domain's
   * UUID to adopt its TPM. It cannot change.
   */
  uuid?: pulumi.Input<string>;
  /** The VM's name, for the EK certificate's subject (`CN=<vmName>:<uuid>`) and the swtpm log. Default: the resource name. */
  vmName?: pulumi.Input<string>;
  /**
   * Keep a compressed copy of the state in the stack state (a Pulumi secret), refreshed by
   * `pulumi refresh`. When the state is found missing, `pulumi up` restores this copy. Default false:
   * a lost state is then an error, never silently a new TPM.
   */
  backup?: pulumi.Input<boolean>;
  /** Another TpmState whose state this one starts as. Used at create only, and only with `allowIdentityClone`. */
  source?: TpmState;
  /**
   * A copied TPM has the same identity (endorsement key, certificates, sealed secrets) as its
   * source. Set true to copy anyway (a restored VM, a template that never boots). Default false.
   */
  allowIdentityClone?: pulumi.Input<boolean>;
  /**
   * How a change of `connection` treats a VM running with this TPM: "cold" (default) stops it, then
   * moves the state; "live" leaves it running and puts a copy on the new host, which the VM's live
   * migration fills with the TPM's state; libvirt removes the old state once the VM runs there.
   */
  hostMove?: pulumi.Input<"cold" | "live">;
  /**
   * With `uuid`: take over a state that another stack's (or resource's) TpmState owns; that stack
   * then leaves it in place on destroy. Default false: such a state fails `pulumi preview`, naming
   * its owner. (A state no TpmState marked, e.g. a VM's made by libvirt, is taken over with `uuid` alone.)
   */
  adopt?: pulumi.Input<boolean>;
}

/**
 * A VM's emulated TPM 2.0 state (swtpm): manufactured at create as libvirt would at first start
 * (EK, EK and platform certificates), owned here rather than by the domain, so that renames,
 * replacements and deletes of the domain keep it, a host change moves it, and `backup` keeps a copy.
 * Pass it to a {@link Q35Domain} as `tpm`; its `uuid` becomes the domain's.
 */
export class TpmState extends pulumi.dynamic.Resource {
  /** The VM's UUID (the domain's, and the state directory's name). */
  declare public readonly uuid: pulumi.Output<string>;
  /** The state directory on the host, /var/lib/libvirt/swtpm/<uuid>. */
  declare public readonly path: pulumi.Output<string>;
  /** Whether the state exists on the host (refresh sets false when it was lost). */
  declare public readonly manufactured: pulumi.Output<boolean>;
  /** sha256 of tpm2/tpm2-00.permall as last seen ("" when missing): the guest writing its TPM changes it. */
  declare public readonly sha256: pulumi.Output<string>;
  /** The certificates in the TPM's NV indices: the EK certificates (`kind: "ek"`, RSA and ECC) and the platform certificate. */
  declare public readonly certificates: pulumi.Output<TpmCertificate[]>;
  /** The compressed state when `backup` is on (secret). */
  declare public readonly backupData: pulumi.Output<string | undefined>;
  /** The connection, for resources on the same host. */
  declare public readonly connection: pulumi.Output<ConnectionArgs>;

  constructor(name: string, args: TpmStateArgs, opts?: pulumi.CustomResourceOptions) {
    const props = {
      connection: secretConnection(args.connection),
      uuid: args.uuid,
      vmName: args.vmName ?? name,
      backup: args.backup,
      source: args.source === undefined ? undefined : { connection: args.source.connection, uuid: args.source.uuid },
      allowIdentityClone: args.allowIdentityClone,
      hostMove: args.hostMove,
      adopt: args.adopt,
      owner: ownerOf(name, "TpmState", opts),
      ownerId: undefined,
      path: undefined,
      manufactured: undefined,
      sha256: undefined,
      certificates: undefined,
      backupData: undefined,
    };
    const secret = { additionalSecretOutputs: ["backupData"] };
    super(tpmStateProvider, name, props, pulumi.mergeOptions(opts, secret), "ovmf", "TpmState");
    recordHost(this, args.connection);
  }
}
