import { OvmfError } from "../errors.js";
import { isUnknown, stripProvider } from "../dynamic.js";
import { variantMismatchReason } from "../firmware/variant.js";
import { copyNew, stat, statShared } from "../host/files.js";
import { Host } from "../host/host.js";
import { checkAbsolutePath, checkBoolean, checkHostMove, hasUnknowns } from "../inputs.js";
import { identity, validateConnection, type Failure } from "../ssh/connection.js";
import { describeNvram, requireTemplate, templateOf, type NvramInputs, type NvramOutputs } from "./model.js";
import { deleteUnlessUsed, enrollInPlace, NVRAM_MODE, NVRAM_OWNER, placeContent, type Placement } from "./placement.js";
import { diffNvram, updateNvram } from "./update.js";
import { checkSecureBootKeys } from "./keys-check.js";
import { warn } from "../engine-log.js";
import { peerFailures } from "../peers.js";
import { ownerFor, parseMarkFile, type OwnerMark } from "../owner.js";
import { lookAt, markFile, requireFileTakeover, takenPathFailures, writeMark } from "./ownership.js";

/**
 * Changing PK, KEK, db or dbx changes what the firmware measures into TPM PCR 7: said in the
 * preview, with what to do first, whenever declared keys of an existing Nvram change.
 */
async function warnAboutMeasuredBoot(olds: Partial<NvramInputs>, news: NvramInputs): Promise<void> {
  if (olds.connection === undefined || news.secureBootKeys === undefined || hasUnknowns(news.secureBootKeys)) return;
  if (JSON.stringify(olds.secureBootKeys) === JSON.stringify(news.secureBootKeys)) return;
  await warn(
    `Nvram ${news.path}: changing secureBootKeys changes PK/KEK/db/dbx, which the firmware measures into TPM PCR 7. ` +
      `A guest whose disk key is sealed to PCR 7 asks for its recovery key at the next boot unless sealing is suspended first: ` +
      `on Windows run "manage-bde -protectors -disable C: -RebootCount 2" (or Suspend-BitLocker -MountPoint C: -RebootCount 2) before pulumi up; ` +
      `on Linux (systemd-cryptenroll --tpm2-pcrs=7, Clevis) have the passphrase or recovery key at hand and re-enroll the TPM after the change. ` +
      `The VM using this file is stopped for the change and started again.`,
  );
}

async function check(olds: Record<string, unknown>, news: Record<string, unknown>): Promise<{ inputs: Record<string, unknown>; failures: Failure[] }> {
  const inputs = stripProvider(news) as unknown as NvramInputs;
  const failures = validateConnection(inputs.connection, "connection", isUnknown);
  if (failures.length === 0) failures.push(...peerFailures("Nvram", inputs.connection, inputs.peers));
  const variant = isUnknown(inputs.firmware) ? undefined : inputs.firmware?.variant;
  failures.push(...checkSecureBootKeys(inputs.secureBootKeys, variant, isUnknown));
  if (failures.length === 0) await warnAboutMeasuredBoot(olds as Partial<NvramInputs>, inputs);
  checkAbsolutePath(failures, "path", inputs.path, "/var/lib/libvirt/qemu/nvram/web_VARS.fd");
  checkAbsolutePath(failures, "templatePath", inputs.templatePath, "/usr/share/OVMF/OVMF_VARS_4M.ms.fd");
  checkBoolean(failures, "backup", inputs.backup, "false");
  checkHostMove(failures, inputs.hostMove);
  checkBoolean(failures, "adopt", inputs.adopt, "false");
  if (inputs.firmware === undefined && inputs.templatePath === undefined && inputs.source === undefined) {
    failures.push({ property: "firmware", reason: "give firmware (a FirmwareImage), templatePath (a vars template on the host) or source (an Nvram to clone)" });
  }
  if (inputs.source !== undefined && !isUnknown(inputs.source)) {
    failures.push(...validateConnection(inputs.source.connection, "source.connection", isUnknown));
    checkAbsolutePath(failures, "source.path", inputs.source.path, "/var/lib/libvirt/qemu/nvram/golden_VARS.fd");
  }
  // With the firmware known, a vars template of the wrong size fails the preview (one read-only stat,
  // shared by the Nvrams of one plan that use the same template on the same host).
  const template = templateOf(inputs);
  // Checked once: an unchanged host, firmware and template need no second look at every preview.
  const prior = olds as Partial<NvramInputs>;
  const checkedBefore = prior.connection !== undefined && JSON.stringify([prior.connection, prior.firmware, templateOf(prior as NvramInputs)]) === JSON.stringify([inputs.connection, inputs.firmware, template]);
  if (failures.length === 0 && !checkedBefore && inputs.firmware !== undefined && template !== undefined && !hasUnknowns([inputs.connection, inputs.firmware, template])) {
    const found = await statShared(new Host(inputs.connection), template);
    if (found === undefined) {
      failures.push({ property: inputs.templatePath === undefined ? "firmware" : "templatePath", reason: `the vars template ${template} does not exist on ${identity(inputs.connection)}` });
    } else if (found.size + inputs.firmware.codeSize !== (inputs.firmware.variant === "2M" ? 2 : 4) * 1024 * 1024) {
      failures.push({ property: inputs.templatePath === undefined ? "firmware" : "templatePath", reason: variantMismatchReason(inputs.firmware.codePath, inputs.firmware.codeSize, template, found.size) });
    }
  }
  if (failures.length === 0) failures.push(...(await takenPathFailures(prior, inputs)));
  return { inputs: inputs as unknown as Record<string, unknown>, failures };
}

async function create(raw: NvramInputs) {
  const inputs = stripProvider(raw) as unknown as NvramInputs;
  const host = new Host(inputs.connection);
  const id = `${identity(inputs.connection)}:${inputs.path}`;
  const template = templateOf(inputs);
  const owner = ownerFor(inputs.owner, undefined);
  const withOwner = (outs: NvramOutputs, mark = owner) => ({ id, outs: mark === undefined ? outs : { ...outs, ownerId: mark.id } });
  // The common case, a new file from the template on its host, is one remote command (which also
  // says the size and owner mark of a file already there, and writes the new file's mark first).
  let existing: { size: number; mark?: OwnerMark } | undefined;
  if (inputs.source === undefined && inputs.secureBootKeys === undefined && template !== undefined) {
    const made = await copyNew(host, template, inputs.path, { mode: NVRAM_MODE, owner: NVRAM_OWNER }, owner === undefined ? undefined : markFile(inputs.path, owner));
    if (made.created) return withOwner(await describeNvram(inputs, host, { content: made.content, templateSha256: made.sha256 }));
    const mark = parseMarkFile(made.mark);
    existing = { size: made.size, ...(mark === undefined ? {} : { mark }) };
  } else {
    const [info, look] = await Promise.all([stat(host, inputs.path), lookAt(host, inputs.path)]);
    existing = info === undefined ? undefined : { size: info.size, ...(look.mark === undefined ? {} : { mark: look.mark }) };
  }
  if (existing !== undefined) {
    // Never overwrite a VM's variables by surprise, nor take over another resource's file: only
    // this resource's own (an earlier create whose result was lost) or, with adopt, a file
    // already there is taken over as it is.
    await requireFileTakeover(host, existing.mark, inputs);
    const templateInfo = template === undefined ? undefined : await stat(host, template);
    if (templateInfo !== undefined && templateInfo.size !== existing.size) {
      throw new OvmfError(
        `${inputs.path} already exists on ${host.target} with ${existing.size} bytes, but the vars template ${template} has ${templateInfo.size}: ` +
          `it belongs to other firmware. Move or remove it, or choose another path (SecureBootVm: nvramPath).`,
      );
    }
    // Declared keys are written into a file taken over (nothing is written when it already holds them).
    if (inputs.secureBootKeys !== undefined) await enrollInPlace(host, inputs.path, inputs.secureBootKeys);
    const mark = ownerFor(inputs.owner, existing.mark);
    if (mark !== undefined && mark.id !== existing.mark?.id) await writeMark(host, inputs.path, mark);
    return withOwner(await describeNvram(inputs, host), mark);
  }
  const placement: Placement = inputs.source !== undefined ? { kind: "clone", from: new Host(inputs.source.connection), path: inputs.source.path } : { kind: "template", path: requireTemplate(inputs) };
  if (owner !== undefined) await writeMark(host, inputs.path, owner);
  const written = await placeContent(host, inputs.path, placement, inputs.secureBootKeys);
  return withOwner(await describeNvram(inputs, host, written));
}

export const nvramProvider = {
  check,
  create,
  diff: (_id: string, olds: NvramOutputs, news: NvramInputs) => diffNvram(olds, news),
  update: async (_id: string, olds: NvramOutputs, news: NvramInputs) => ({ outs: await updateNvram(olds, stripProvider(news) as unknown as NvramInputs) }),

  /** The guest rewriting its variables is not drift: refresh records the new sha256 (and backup). */
  async read(id: string, props: NvramOutputs) {
    const clean = stripProvider(props) as unknown as NvramOutputs;
    const host = new Host(clean.connection);
    if ((await stat(host, clean.path)) === undefined) return { id, props: { ...clean, sha256: "" } };
    return { id, props: await describeNvram(clean, host) };
  },

  /**
   * Removes the file (and its owner mark), unless a domain this resource does not know about still
   * uses it; a file another resource took over (adopt) is left in place.
   */
  async delete(_id: string, props: NvramOutputs) {
    const host = new Host(props.connection);
    await deleteUnlessUsed(host, props.path, props.ownerId);
  },
};
