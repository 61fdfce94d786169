import { OvmfError } from "../errors.js";
import { createHash } from "node:crypto";
import { readFile, sha256 } from "../host/files.js";
import type { Host } from "../host/host.js";
import type { ConnectionSpec } from "../ssh/connection.js";
import type { OwnerInput } from "../owner.js";
import type { Peers } from "../peers.js";
import { encodeBackup } from "./backup.js";
import type { SecureBootKeys } from "./enroll.js";
import { describeVarStore, type VarStoreSummary } from "./varstore.js";

/** The parts of a FirmwareImage an Nvram needs. */
export interface NvramFirmware {
  codePath: string;
  codeSize: number;
  varsTemplatePath: string;
  variant: string;
}

export interface NvramInputs {
  connection: ConnectionSpec;
  firmware?: NvramFirmware;
  /** An explicit vars template instead of the firmware's. */
  templatePath?: string;
  path: string;
  /** Another Nvram to clone at creation. */
  source?: { connection: ConnectionSpec; path: string };
  backup?: boolean;
  resetTrigger?: unknown;
  /** The Secure Boot keys written into the file at creation and whenever they change. */
  secureBootKeys?: SecureBootKeys;
  /**
   * How a move to another host treats a VM running on the file: "cold" (default) stops it first;
   * "live" leaves it running and puts a copy on the new host, which the VM's live migration (its
   * Q35Domain with hostMove "live") fills with the guest's current variables; the old file goes
   * after the VM runs on the new host.
   */
  hostMove?: "cold" | "live";
  /** Take over a file already at `path` that this resource did not make (its content kept). */
  adopt?: boolean;
  /** The stack and resource creating the file, set by the SDK, for its owner mark (see provider/owner.ts). */
  owner?: OwnerInput;
  /** Where its FirmwareImage lives (set by the SDK): checked, never compared. */
  peers?: Peers;
}

export interface NvramOutputs extends NvramInputs {
  /** The id of the owner mark beside the file, minted at create. */
  ownerId?: string;
  sizeBytes: number;
  /** sha256 of the file as last seen; "" when it was found missing. */
  sha256: string;
  resolvedTemplatePath: string;
  templateSha256: string;
  variant: string;
  /** gzip+base64 of the content when backup is on (a Pulumi secret). */
  backupData?: string;
  /** What the content says about Secure Boot; absent when it is not an edk2 variable store. */
  varStore?: VarStoreSummary;
}

/** The vars template an Nvram is made from; an error names the missing input. */
export function requireTemplate(i: NvramInputs): string {
  const t = templateOf(i);
  if (t === undefined) throw new OvmfError("no vars template: give firmware (a FirmwareImage) or templatePath");
  return t;
}

export const templateOf = (i: NvramInputs): string | undefined => i.templatePath ?? i.firmware?.varsTemplatePath;

/**
 * Measures the file (which must exist) and fills the outputs; `written` is what this operation just
 * wrote there (then nothing is read back).
 */
export async function describeNvram(inputs: NvramInputs, host: Host, written?: { content: Buffer; templateSha256?: string }): Promise<NvramOutputs> {
  const template = templateOf(inputs) ?? "";
  // One read of the content (a few hundred KiB) gives its sha256, its Secure Boot state and the
  // backup, consistent with each other even while a guest writes the file.
  const [content, templateSum] = await Promise.all([
    written?.content ?? readFile(host, inputs.path),
    written?.templateSha256 ?? (template === "" ? Promise.resolve("") : sha256(host, template)),
  ]);
  const { varStore: _stale, backupData: _old, ...rest } = inputs as NvramOutputs;
  const outs: NvramOutputs = {
    ...rest,
    sizeBytes: content.length,
    sha256: createHash("sha256").update(content).digest("hex"),
    resolvedTemplatePath: template,
    templateSha256: templateSum,
    variant: inputs.firmware?.variant ?? "",
  };
  const varStore = describeVarStore(content);
  if (varStore !== undefined) outs.varStore = varStore;
  if (inputs.backup === true) outs.backupData = encodeBackup(content);
  return outs;
}

