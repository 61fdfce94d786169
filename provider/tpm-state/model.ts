import type { ConnectionSpec } from "../ssh/connection.js";
import type { OwnerInput } from "../owner.js";
import type { TpmCertificate } from "./certificates.js";

/** Where libvirt keeps every emulated TPM's state: one directory per domain UUID. */
export const SWTPM_DIR = "/var/lib/libvirt/swtpm";
/** The TPM 2.0 permanent state inside it: the endorsement seed, NV indices (EK certificates), sealed objects. */
export const PERMALL = "tpm2/tpm2-00.permall";
/** Where libvirt's swtpm logs go, one file per domain name. */
export const SWTPM_LOG_DIR = "/var/log/swtpm/libvirt/qemu";
/** The user libvirt runs swtpm as (qemu.conf swtpm_user, Debian's and Fedora's default). */
export const SWTPM_USER = "tss";

/** The owner mark's file in the state directory (libvirt and swtpm use only its tpm2/). */
export const STATE_MARK = "pulumi-ovmf-owner";

export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export interface TpmStateInputs {
  connection: ConnectionSpec;
  /** The VM's UUID, which names the state directory. Minted at create when not given. */
  uuid?: string;
  /** The VM's name: in the EK certificate's subject (`CN=<vmName>:<uuid>`) and the swtpm log's name. */
  vmName: string;
  /** Keep a compressed copy of the state in the stack state (a Pulumi secret). */
  backup?: boolean;
  /** Another TpmState whose state is copied at create (only with allowIdentityClone). */
  source?: { connection: ConnectionSpec; uuid: string };
  /** Copying a TPM duplicates its identity: say so explicitly to use `source`. */
  allowIdentityClone?: boolean;
  /**
   * How a move to another host treats a VM running with this TPM: "cold" (default) stops it
   * first; "live" leaves it running and puts a copy on the new host, which the VM's live migration
   * fills with the TPM's current state; libvirt removes the old state once the VM runs there.
   */
  hostMove?: "cold" | "live";
  /**
   * Take over, with `uuid`, a state another resource owns (its owner mark names another stack or
   * resource). An unmarked state is taken over with `uuid` alone: giving the UUID is the adoption.
   */
  adopt?: boolean;
  /** The stack and resource creating the state, set by the SDK, for its owner mark (see provider/owner.ts). */
  owner?: OwnerInput;
}

export interface TpmStateOutputs extends TpmStateInputs {
  /** The id of the owner mark in the state directory, minted at create. */
  ownerId?: string;
  uuid: string;
  /** The state directory on the host: /var/lib/libvirt/swtpm/<uuid>. */
  path: string;
  /** Whether the state exists: a TPM has been manufactured (endorsement key, certificates). */
  manufactured: boolean;
  /** sha256 of tpm2/tpm2-00.permall as last seen; "" when it was found missing. */
  sha256: string;
  /** The X.509 certificates in the TPM's NV indices: the EK certificates (RSA, ECC) and the platform certificate. */
  certificates: TpmCertificate[];
  /** gzip'd tar of the state directory, base64 (a Pulumi secret), when backup is on. */
  backupData?: string;
}

export const statePath = (uuid: string): string => `${SWTPM_DIR}/${uuid}`;
export const permallPath = (uuid: string): string => `${statePath(uuid)}/${PERMALL}`;
export const swtpmLogPath = (vmName: string): string => `${SWTPM_LOG_DIR}/${vmName}-swtpm.log`;
