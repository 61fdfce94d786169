import { createHash, randomUUID } from "node:crypto";
import { OvmfError } from "../errors.js";
import { isUnknown, stripProvider } from "../dynamic.js";
import { Host } from "../host/host.js";
import { checkBoolean, checkHostMove } from "../inputs.js";
import { managedMetadata } from "../libvirt/nvram-users.js";
import * as virsh from "../libvirt/virsh.js";
import { identity, validateConnection, type Failure } from "../ssh/connection.js";
import { findCertificates } from "./certificates.js";
import { statePath, UUID, type TpmStateInputs, type TpmStateOutputs } from "./model.js";
import { copyStateOver, manufacture, placeArchive, readArchive, readPermall, readStateMark, removeState, writeStateMark } from "./remote.js";
import { leftToOthers, requireStateTakeover, takenStateFailures } from "./ownership.js";
import { mintOwnerId, ownerFor } from "../owner.js";

const VM_NAME = /^[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}$/;
const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
const moved = (olds: TpmStateOutputs, news: TpmStateInputs) => identity(olds.connection) !== identity(news.connection);

export const CLONE_REFUSED =
  "copying a TPM's state duplicates its identity: the endorsement key and its certificate, and every secret sealed to it " +
  "(BitLocker or LUKS keys, attestation credentials), would then exist in two VMs. Leave out source for a new TPM, " +
  "or set allowIdentityClone: true if the copy is meant to replace the original (a restored VM, a template that never boots)";

async function check(olds: Record<string, unknown> | undefined, news: Record<string, unknown>): Promise<{ inputs: Record<string, unknown>; failures: Failure[] }> {
  const inputs = stripProvider(news) as unknown as TpmStateInputs;
  const failures = validateConnection(inputs.connection, "connection", isUnknown);
  if (inputs.uuid !== undefined && !isUnknown(inputs.uuid) && !UUID.test(inputs.uuid)) {
    failures.push({ property: "uuid", reason: `${JSON.stringify(inputs.uuid)} is not a lower-case UUID (like 6a268b8c-8fe3-447d-bd35-9188ec787d55); leave it out to have one minted` });
  }
  if (!isUnknown(inputs.vmName) && (typeof inputs.vmName !== "string" || !VM_NAME.test(inputs.vmName))) {
    failures.push({ property: "vmName", reason: `${JSON.stringify(inputs.vmName)} is not a domain name: letters, digits, _ . + -, starting with a letter or digit, at most 64 characters` });
  }
  checkBoolean(failures, "backup", inputs.backup, "false");
  checkBoolean(failures, "allowIdentityClone", inputs.allowIdentityClone, "false");
  checkHostMove(failures, inputs.hostMove);
  checkBoolean(failures, "adopt", inputs.adopt, "false");
  if (inputs.source !== undefined && inputs.allowIdentityClone !== true) failures.push({ property: "source", reason: CLONE_REFUSED });
  if (failures.length === 0) failures.push(...(await takenStateFailures((olds ?? {}) as Partial<TpmStateInputs>, inputs)));
  return { inputs: inputs as unknown as Record<string, unknown>, failures };
}

/** Reads the state on the host and fills the outputs. */
export async function describeTpmState(inputs: TpmStateInputs, uuid: string, host: Host, keepBackup?: string): Promise<TpmStateOutputs> {
  const { backupData: _old, ...rest } = inputs as TpmStateOutputs;
  const permall = await readPermall(host, uuid);
  const outs: TpmStateOutputs = {
    ...rest,
    uuid,
    path: statePath(uuid),
    manufactured: permall !== undefined,
    sha256: permall === undefined ? "" : createHash("sha256").update(permall).digest("hex"),
    certificates: permall === undefined ? [] : findCertificates(permall),
  };
  if (inputs.backup === true) {
    const archive = permall === undefined ? undefined : await readArchive(host, uuid);
    const data = archive === undefined ? keepBackup : archive.toString("base64");
    if (data !== undefined) outs.backupData = data;
  }
  return outs;
}

/**
 * Stops the domain that runs with this TPM state on the host, when a Q35Domain manages it
 * (gracefully, then forced after its shutdownTimeoutSeconds); refuses when another domain runs with it.
 */
async function quiesce(host: Host, uuid: string, operation: string): Promise<void> {
  const running = await runningWith(host, uuid);
  if (running === undefined) return;
  const { domain, state, managed } = running;
  if (managed !== undefined) {
    await virsh.shutdown(host, domain, managed.shutdownTimeoutSeconds);
    return;
  }
  throw new OvmfError(
    `cannot ${operation} the TPM state ${statePath(uuid)} on ${host.target}: domain "${domain}" (${state}) runs with it, and no Q35Domain manages it. ` +
      `Shut it down first (virsh shutdown ${domain}); a state swtpm may still be writing is never copied.`,
  );
}

/** Puts a lost state back from the backup; without one, a TPM that existed cannot come back. */
async function restore(host: Host, olds: TpmStateOutputs, uuid: string): Promise<void> {
  if (olds.backupData !== undefined) {
    await placeArchive(host, uuid, Buffer.from(olds.backupData, "base64"));
    return;
  }
  if (!olds.manufactured) {
    await manufacture(host, uuid, olds.vmName);
    return;
  }
  throw new OvmfError(
    `the TPM state ${statePath(uuid)} is gone from ${host.target} and this TpmState keeps no backup: a new TPM would be another identity ` +
      `(guests would see a new endorsement key; BitLocker or LUKS keys sealed to the old one are lost). Put the directory back, ` +
      `or remove this TpmState from the stack (pulumi state delete) and create a new one. Set backup: true (SecureBootVm: backupTpm: true) to keep a copy in the stack state.`,
  );
}

async function create(raw: TpmStateInputs) {
  const inputs = stripProvider(raw) as unknown as TpmStateInputs;
  const uuid = inputs.uuid ?? randomUUID();
  const host = new Host(inputs.connection);
  let owner = ownerFor(inputs.owner, undefined);
  // A state already there (kept when its domain was undefined, or a VM's TPM being adopted) is
  // taken over as it is: never a second manufacturing, which would be a new identity. Not one
  // another resource owns, unless adopt says so.
  if ((await readPermall(host, uuid)) !== undefined) {
    const found = await readStateMark(host, uuid);
    await requireStateTakeover(host, found, inputs, uuid);
    owner = ownerFor(inputs.owner, found);
    if (owner !== undefined && owner.id !== found?.id) await writeStateMark(host, uuid, owner);
  } else {
    if (inputs.source !== undefined) {
      if (inputs.allowIdentityClone !== true) throw new OvmfError(CLONE_REFUSED);
      const from = new Host(inputs.source.connection);
      await quiesce(from, inputs.source.uuid, "copy");
      const archive = await readArchive(from, inputs.source.uuid);
      if (archive === undefined) throw new OvmfError(`the source TPM state ${statePath(inputs.source.uuid)} does not exist on ${from.target}`);
      await placeArchive(host, uuid, archive);
      // The copy is this resource's, not its source's.
      if (owner !== undefined) await writeStateMark(host, uuid, owner);
    } else {
      await manufacture(host, uuid, inputs.vmName, owner);
    }
  }
  const outs = await describeTpmState(inputs, uuid, host);
  return { id: `${identity(inputs.connection)}:${statePath(uuid)}`, outs: owner === undefined ? outs : { ...outs, ownerId: owner.id } };
}

/**
 * Never a replacement: the state is a VM's TPM identity. A new host moves it. Compares with the
 * stack state only (no SSH at preview): a manufactured state that a refresh found gone (sha256 "")
 * is an update, which restores it from the backup or says it cannot.
 */
function diff(_id: string, olds: TpmStateOutputs, news: TpmStateInputs) {
  const none = { replaces: [] as string[], deleteBeforeReplace: false };
  if (news.uuid !== undefined && !isUnknown(news.uuid) && news.uuid !== olds.uuid) {
    throw new OvmfError(
      `uuid cannot change from ${olds.uuid} to ${news.uuid}: the TPM state is named by it, and another UUID is another TPM. ` +
        `Create a new TpmState for a new TPM, or put uuid back.`,
    );
  }
  const asked =
    moved(olds, news) ||
    !same(olds.connection, news.connection) ||
    olds.vmName !== news.vmName ||
    (olds.backup ?? false) !== (news.backup ?? false) ||
    (olds.allowIdentityClone ?? false) !== (news.allowIdentityClone ?? false) ||
    !same(olds.source, news.source) ||
    // The owner mark is written (a state from before owner marks, a resource renamed with aliases).
    (news.owner !== undefined && (olds.ownerId === undefined || !same(olds.owner, news.owner)));
  const lost = olds.sha256 === "" && (olds.manufactured || olds.backupData !== undefined);
  return { changes: asked || lost, ...none };
}

/** Applies the change, then writes the owner mark where the state now is. */
async function update(_id: string, olds: TpmStateOutputs, raw: TpmStateInputs) {
  const news = stripProvider(raw) as unknown as TpmStateInputs;
  // Only what this resource owns is moved: not a state another one took over.
  if (moved(olds, news) && (await leftToOthers(new Host(olds.connection), olds.uuid, olds.ownerId, "it is not moved"))) {
    throw new OvmfError(`cannot move the TPM state ${statePath(olds.uuid)}: another resource took it over (adopt). Remove this TpmState from the stack (pulumi state delete).`);
  }
  const { outs } = await updateState(olds, news);
  if (news.owner === undefined) return { outs };
  const owner = { ...news.owner, id: olds.ownerId ?? mintOwnerId() };
  if (olds.ownerId === undefined || !same(olds.owner, news.owner) || moved(olds, news)) {
    if (outs.manufactured) await writeStateMark(new Host(news.connection), olds.uuid, owner);
  }
  return { outs: { ...outs, ownerId: owner.id } };
}

async function updateState(olds: TpmStateOutputs, news: TpmStateInputs): Promise<{ outs: TpmStateOutputs }> {
  const uuid = olds.uuid;
  const oldHost = new Host(olds.connection);
  const newHost = new Host(news.connection);
  if (moved(olds, news) && news.hostMove === "live" && (await liveHandover(oldHost, newHost, uuid))) {
    return { outs: await describeTpmState({ ...news, uuid }, uuid, newHost, olds.backupData) };
  }
  if (moved(olds, news)) {
    // Never copy a state swtpm may still be writing; the copy is verified before the original goes.
    await quiesce(oldHost, uuid, "move");
    const [source, target] = await Promise.all([readPermall(oldHost, uuid), readPermall(newHost, uuid)]);
    if (target !== undefined) {
      // A move whose result never reached the stack (the connection dropped) left its verified
      // copy: the same permall as the source, or, once the source was removed, as last recorded.
      const sum = (b: Buffer) => createHash("sha256").update(b).digest("hex");
      const resumed = source !== undefined ? sum(target) === sum(source) : sum(target) === olds.sha256;
      if (!resumed) {
        throw new OvmfError(`cannot move the TPM state ${statePath(uuid)} to ${newHost.target}: a state with this UUID is already there. Remove it, or keep the TpmState where it is.`);
      }
      if (source !== undefined) await removeState(oldHost, uuid);
      return { outs: await describeTpmState({ ...news, uuid }, uuid, newHost, olds.backupData) };
    }
    if (source !== undefined) {
      const archive = await readArchive(oldHost, uuid);
      if (archive === undefined) throw new OvmfError(`the TPM state ${statePath(uuid)} vanished from ${oldHost.target} while it was being moved`);
      await placeArchive(newHost, uuid, archive);
      const copied = await readPermall(newHost, uuid);
      const want = createHash("sha256").update(source).digest("hex");
      const got = copied === undefined ? "(missing)" : createHash("sha256").update(copied).digest("hex");
      if (got !== want) {
        await removeState(newHost, uuid);
        throw new OvmfError(`the TPM state copied to ${newHost.target} has sha256 ${got}, not ${want}: the copy was removed and the original on ${oldHost.target} kept`);
      }
      await removeState(oldHost, uuid);
    } else {
      await restore(newHost, olds, uuid);
    }
  } else if ((await readPermall(newHost, uuid)) === undefined) {
    await restore(newHost, olds, uuid);
  }
  return { outs: await describeTpmState({ ...news, uuid }, uuid, newHost, olds.backupData) };
}

/** The domain that runs (is not shut off) with this TPM state on the host, and its Q35Domain settings if one manages it. */
async function runningWith(host: Host, uuid: string): Promise<{ domain: string; state: string; managed: ReturnType<typeof managedMetadata> } | undefined> {
  const domain = await virsh.domainByUuid(host, uuid);
  if (domain === undefined) return undefined;
  const state = await virsh.domstate(host, domain);
  if (state === "shut off") return undefined;
  return { domain, state, managed: managedMetadata(await virsh.dumpxml(host, domain, true)) };
}

/** Whether a domain that a Q35Domain manages runs with this TPM state on the host. */
const runsThere = async (host: Host, uuid: string) => (await runningWith(host, uuid))?.managed !== undefined;

/**
 * A move with hostMove "live" while the VM runs with this TPM: it is left running, and the
 * state's current bytes go to the new host (replacing a copy an earlier attempt left) as the place
 * its live migration writes the TPM's state to; libvirt removes the old state once the VM runs
 * there. Moving back to the host where the VM still runs (a migration that failed, reverted) keeps
 * that state and drops the copy. False when the VM runs on neither side: an ordinary move.
 */
async function liveHandover(oldHost: Host, newHost: Host, uuid: string): Promise<boolean> {
  if (await runsThere(oldHost, uuid)) {
    if ((await virsh.domainByUuid(newHost, uuid)) !== undefined) {
      throw new OvmfError(`cannot move the TPM state ${statePath(uuid)} to ${newHost.target}: a domain with UUID ${uuid} is defined there. Remove it, or keep the TpmState where it is.`);
    }
    if (!(await copyStateOver(oldHost, newHost, uuid))) throw new OvmfError(`the TPM state ${statePath(uuid)} is not on ${oldHost.target}, where its VM runs`);
    return true;
  }
  if ((await readPermall(newHost, uuid)) !== undefined && (await runsThere(newHost, uuid))) {
    if ((await virsh.domainByUuid(oldHost, uuid)) === undefined) await removeState(oldHost, uuid);
    return true;
  }
  return false;
}

/** Whether the TPM was manufactured, its EK certificates and state sha256, as on the host now. */
async function read(id: string, props: TpmStateOutputs) {
  const clean = stripProvider(props) as unknown as TpmStateOutputs;
  const now = await describeTpmState(clean, clean.uuid, new Host(clean.connection), clean.backupData);
  // A manufactured TPM that is gone stays "manufactured" (an identity that existed) with sha256 "":
  // the next diff sees the loss, and up restores the backup or refuses to make another TPM.
  return { id, props: !now.manufactured && clean.manufactured ? { ...clean, sha256: "" } : now };
}

/** Removes the state, unless a domain still uses it (its next start would manufacture a new TPM). */
async function del(_id: string, props: TpmStateOutputs) {
  const host = new Host(props.connection);
  // Never a state another resource took over (adopt): it is left in place, with a warning.
  if (await leftToOthers(host, props.uuid, props.ownerId, "it was left in place and only removed from this stack")) return;
  const domain = await virsh.domainByUuid(host, props.uuid);
  if (domain !== undefined) {
    throw new OvmfError(
      `cannot delete the TPM state ${statePath(props.uuid)} on ${host.target}: domain "${domain}" (UUID ${props.uuid}) still uses it. ` +
        `Delete its Q35Domain first, or undefine it (virsh undefine --keep-nvram --keep-tpm ${domain}) and retry.`,
    );
  }
  await removeState(host, props.uuid);
}

export const tpmStateProvider = { check, create, diff, update, read, delete: del };
