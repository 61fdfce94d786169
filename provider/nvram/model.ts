import { OvmfError } from "../errors.js";
import { readFile, sha256, stat } from "../host/files.js";
import type { Host } from "../host/host.js";
import type { ConnectionSpec } from "../ssh/connection.js";
import { encodeBackup } from "./backup.js";

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
}

export interface NvramOutputs extends NvramInputs {
  sizeBytes: number;
  /** sha256 of the file as last seen; "" when it was found missing. */
  sha256: string;
  resolvedTemplatePath: string;
  templateSha256: string;
  variant: string;
  /** gzip+base64 of the content when backup is on (a Pulumi secret). */
  backupData?: string;
}

/** The vars template an Nvram is made from; an error names the missing input. */
export function requireTemplate(i: NvramInputs): string {
  const t = templateOf(i);
  if (t === undefined) throw new OvmfError("no vars template: give firmware (a FirmwareImage) or templatePath");
  return t;
}

export const templateOf = (i: NvramInputs): string | undefined => i.templatePath ?? i.firmware?.varsTemplatePath;

/** Measures the file (which must exist) and fills the outputs. */
export async function describeNvram(inputs: NvramInputs, host: Host): Promise<NvramOutputs> {
  const template = templateOf(inputs) ?? "";
  const [info, sum, templateSum] = await Promise.all([
    stat(host, inputs.path),
    sha256(host, inputs.path),
    template === "" ? Promise.resolve("") : sha256(host, template),
  ]);
  const outs: NvramOutputs = {
    ...inputs,
    sizeBytes: info?.size ?? 0,
    sha256: sum,
    resolvedTemplatePath: template,
    templateSha256: templateSum,
    variant: inputs.firmware?.variant ?? "",
  };
  if (inputs.backup === true) outs.backupData = encodeBackup(await readFile(host, inputs.path));
  return outs;
}

