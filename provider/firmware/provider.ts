import { randomUUID } from "node:crypto";
import { isUnknown, stripProvider } from "../dynamic.js";
import { Host } from "../host/host.js";
import { checkAbsolutePath, checkBoolean, hasUnknowns } from "../inputs.js";
import { identity, validateConnection, type ConnectionSpec, type Failure } from "../ssh/connection.js";
import { DEFAULT_SEARCH_PATH, selectFirmware } from "../libvirt/firmware-descriptors.js";
import { fileFacts, q35Machine, readDescriptorFiles } from "../libvirt/host-firmware.js";
import { localFacts, releaseUpload, uploadOnce, type LocalFile } from "./upload.js";
import { firmwareVariant, variantMismatchReason } from "./variant.js";

export interface FirmwareInputs {
  connection: ConnectionSpec;
  /** Require (true) or exclude (false) Secure Boot; default: either. */
  secureBoot?: boolean;
  /** Require (true) or exclude (false) pre-enrolled keys; default: either. */
  enrolledKeys?: boolean;
  /** Descriptor directories, highest priority first. */
  searchPath?: string[];
  codePath?: string;
  varsTemplatePath?: string;
  /** Local files to store on the host; check() adds their size and sha256. */
  upload?: { code: string; varsTemplate: string; codeFile?: LocalFile; varsTemplateFile?: LocalFile };
}

/** A firmware file on the host. */
export interface FirmwareFile {
  path: string;
  sha256: string;
  size: number;
}

export interface FirmwareOutputs extends FirmwareInputs {
  /** The CODE image (read-only flash). */
  code: FirmwareFile;
  /** The vars template each VM's NVRAM starts from. */
  varsTemplate: FirmwareFile;
  variant: "2M" | "4M";
  features: string[];
  requiresSmm: boolean;
  /** The descriptor file used, or "" for explicit paths and uploads. */
  descriptor: string;
  /** True when the files were uploaded by this resource (and are removed with it). */
  uploaded: boolean;
}

function sourceKind(i: FirmwareInputs): "upload" | "explicit" | "descriptor" {
  if (i.upload !== undefined) return "upload";
  return i.codePath !== undefined || i.varsTemplatePath !== undefined ? "explicit" : "descriptor";
}

async function check(olds: Record<string, unknown>, news: Record<string, unknown>): Promise<{ inputs: Record<string, unknown>; failures: Failure[] }> {
  const inputs = stripProvider(news) as unknown as FirmwareInputs & Record<string, unknown>;
  const failures = validateConnection(inputs.connection, "connection", isUnknown);
  checkBoolean(failures, "secureBoot", inputs.secureBoot, "either");
  checkBoolean(failures, "enrolledKeys", inputs.enrolledKeys, "either");
  checkAbsolutePath(failures, "codePath", inputs.codePath, "/usr/share/OVMF/OVMF_CODE_4M.secboot.fd");
  checkAbsolutePath(failures, "varsTemplatePath", inputs.varsTemplatePath, "/usr/share/OVMF/OVMF_VARS_4M.ms.fd");
  for (const [i, dir] of (inputs.searchPath ?? []).entries()) checkAbsolutePath(failures, `searchPath[${i}]`, dir, "/usr/share/qemu/firmware");
  if ((inputs.codePath === undefined) !== (inputs.varsTemplatePath === undefined)) {
    failures.push({ property: inputs.codePath === undefined ? "codePath" : "varsTemplatePath", reason: "give codePath and varsTemplatePath together (a CODE image and the vars template of the same build), or neither to use the host's firmware descriptors" });
  }
  if (inputs.upload !== undefined && !isUnknown(inputs.upload)) {
    if (inputs.codePath !== undefined) failures.push({ property: "upload", reason: "upload and codePath/varsTemplatePath exclude each other: upload stores local files on the host, codePath names files already there" });
    for (const key of ["code", "varsTemplate"] as const) {
      const file = inputs.upload[key];
      if (file === undefined || isUnknown(file)) continue;
      try {
        inputs.upload[`${key}File`] = localFacts(file);
      } catch (err) {
        failures.push({ property: `upload.${key}`, reason: `cannot read local file ${file}: ${(err as Error).message}` });
      }
    }
  }
  // An explicit CODE/VARS pair is checked against the host now, so a mismatch fails the preview and
  // nothing is created (a read-only stat of two files). Checked once: an unchanged pair on an
  // unchanged host is not looked at again at every preview.
  const { codePath, varsTemplatePath } = inputs;
  const prior = olds as Partial<FirmwareInputs>;
  const checkedBefore = prior.connection !== undefined && JSON.stringify([prior.connection, prior.codePath, prior.varsTemplatePath]) === JSON.stringify([inputs.connection, codePath, varsTemplatePath]);
  if (failures.length === 0 && !checkedBefore && inputs.upload === undefined && codePath !== undefined && varsTemplatePath !== undefined && !hasUnknowns([inputs.connection, codePath, varsTemplatePath])) {
    const host = new Host(inputs.connection);
    try {
      const [code, vars] = await Promise.all([fileFacts(host, codePath, "codePath"), fileFacts(host, varsTemplatePath, "varsTemplatePath")]);
      if (firmwareVariant(code.size, vars.size) === undefined) {
        failures.push({ property: "varsTemplatePath", reason: variantMismatchReason(codePath, code.size, varsTemplatePath, vars.size) });
      }
    } catch (err) {
      failures.push({ property: "codePath", reason: (err as Error).message });
    }
  }
  return { inputs, failures };
}

/** Resolves, uploads if asked, and measures the firmware on the host. */
async function realize(inputs: FirmwareInputs, ref: string): Promise<FirmwareOutputs> {
  const host = new Host(inputs.connection);
  let codePath: string;
  let varsTemplatePath: string;
  let features: string[] = [];
  let descriptor = "";
  const kind = sourceKind(inputs);
  if (kind === "upload" && inputs.upload !== undefined) {
    const up = inputs.upload;
    codePath = await uploadOnce(host, up.codeFile ?? localFacts(up.code), ref);
    varsTemplatePath = await uploadOnce(host, up.varsTemplateFile ?? localFacts(up.varsTemplate), ref);
  } else if (kind === "explicit" && inputs.codePath !== undefined && inputs.varsTemplatePath !== undefined) {
    codePath = inputs.codePath;
    varsTemplatePath = inputs.varsTemplatePath;
  } else {
    const searchPath = inputs.searchPath ?? DEFAULT_SEARCH_PATH;
    const [files, machine] = await Promise.all([readDescriptorFiles(host, searchPath), q35Machine(host)]);
    const want = { ...(inputs.secureBoot === undefined ? {} : { secureBoot: inputs.secureBoot }), ...(inputs.enrolledKeys === undefined ? {} : { enrolledKeys: inputs.enrolledKeys }) };
    ({ codePath, varsTemplatePath, features, descriptor } = selectFirmware(files, searchPath, machine, want));
  }
  const [code, vars] = await Promise.all([fileFacts(host, codePath, "firmware CODE"), fileFacts(host, varsTemplatePath, "vars template")]);
  const variant = firmwareVariant(code.size, vars.size);
  if (variant === undefined) throw new Error(variantMismatchReason(codePath, code.size, varsTemplatePath, vars.size));
  if (kind !== "descriptor" && inputs.secureBoot === true) features = ["secure-boot"];
  return {
    ...inputs,
    code: { path: codePath, ...code },
    varsTemplate: { path: varsTemplatePath, ...vars },
    variant,
    features,
    requiresSmm: features.includes("requires-smm"),
    descriptor,
    uploaded: kind === "upload",
  };
}

/** The inputs that choose the firmware: a change of any is another firmware (replace). */
const DEFINING = ["secureBoot", "enrolledKeys", "searchPath", "codePath", "varsTemplatePath", "upload"] as const;

function definingValue(i: FirmwareInputs, key: (typeof DEFINING)[number]): string {
  const up = i.upload;
  if (key === "upload") return JSON.stringify(up === undefined ? undefined : [up.codeFile?.sha256 ?? up.code, up.varsTemplateFile?.sha256 ?? up.varsTemplate]);
  return JSON.stringify(i[key]);
}

export const firmwareProvider = {
  check,

  async diff(_id: string, olds: FirmwareOutputs, news: FirmwareInputs) {
    const replaces: string[] = DEFINING.filter((k) => hasUnknowns(news[k]) || definingValue(olds, k) !== definingValue(news, k));
    if (hasUnknowns([news.connection.host, news.connection.port]) || identity(olds.connection) !== identity(news.connection)) replaces.unshift("connection");
    const changed = replaces.length > 0 || JSON.stringify(olds.connection) !== JSON.stringify(news.connection);
    return { changes: changed, replaces, deleteBeforeReplace: false };
  },

  async create(inputs: FirmwareInputs) {
    const clean = stripProvider(inputs) as unknown as FirmwareInputs;
    const id = randomUUID();
    return { id, outs: await realize(clean, id) };
  },

  /** Re-hashes the files: a package upgrade that changed them shows up in the refresh. */
  async read(id: string, props: FirmwareOutputs) {
    const clean = stripProvider(props) as unknown as FirmwareOutputs;
    const host = new Host(clean.connection);
    const [code, vars] = await Promise.all([fileFacts(host, clean.code.path, "firmware CODE"), fileFacts(host, clean.varsTemplate.path, "vars template")]);
    return { id, props: { ...clean, code: { path: clean.code.path, ...code }, varsTemplate: { path: clean.varsTemplate.path, ...vars } } };
  },

  /** Only credentials changed (anything else replaces): keep what is there. */
  async update(_id: string, olds: FirmwareOutputs, news: FirmwareInputs) {
    return { outs: { ...olds, ...stripProvider(news) } };
  },

  /** Removes only what this resource uploaded, and only when no other FirmwareImage uses it. */
  async delete(id: string, props: FirmwareOutputs) {
    if (!props.uploaded) return;
    const host = new Host(props.connection);
    await releaseUpload(host, props.code.path, id);
    await releaseUpload(host, props.varsTemplate.path, id);
  },
};
