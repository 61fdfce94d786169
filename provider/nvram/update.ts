import { OvmfError } from "../errors.js";
import { copyFileKeeping, sizeAndSha256, stat } from "../host/files.js";
import { mintOwnerId } from "../owner.js";
import { requireOwned, writeMark } from "./ownership.js";
import { Host } from "../host/host.js";
import { hasUnknowns } from "../inputs.js";
import { domainsUsingNvram, type NvramUser } from "../libvirt/nvram-users.js";
import * as virsh from "../libvirt/virsh.js";
import { identity } from "../ssh/connection.js";
import { enrollInPlace, NVRAM_MODE, NVRAM_OWNER, placeContent, removeNvram, stopManagedOrRefuse, type Placement } from "./placement.js";
import { describeNvram, requireTemplate, templateOf, type NvramInputs, type NvramOutputs } from "./model.js";

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
const moved = (olds: NvramInputs, news: NvramInputs) => identity(olds.connection) !== identity(news.connection) || olds.path !== news.path;

/**
 * Never a replacement: an NVRAM file holds a VM's boot entries and enrolled keys, so every change
 * (another host, another path, a reset) is an update that carries or re-creates the content on
 * purpose. Compares with the stack state only (no SSH, so an unchanged preview touches no host):
 * a file lost from the host shows once a refresh has recorded it (sha256 ""), and `pulumi up
 * --refresh` restores it.
 */
export function diffNvram(olds: NvramOutputs, news: NvramInputs) {
  const none = { replaces: [] as string[], deleteBeforeReplace: false };
  if (hasUnknowns(news)) return { changes: true, ...none };
  const asked =
    moved(olds, news) ||
    !same(olds.resetTrigger, news.resetTrigger) ||
    !same(templateOf(olds), templateOf(news)) ||
    !same(olds.firmware, news.firmware) ||
    !same(olds.backup ?? false, news.backup ?? false) ||
    !same(olds.secureBootKeys, news.secureBootKeys) ||
    !same(olds.connection, news.connection) ||
    // The owner mark is written (a state from before owner marks, a resource renamed with aliases).
    (news.owner !== undefined && (olds.ownerId === undefined || !same(olds.owner, news.owner)));
  return { changes: asked || olds.sha256 === "", ...none };
}

/** What to restore a lost file from: the backup in the state if there is one, else the template. */
function restoreSource(olds: NvramOutputs, news: NvramInputs): Placement {
  return olds.backupData !== undefined ? { kind: "backup", data: olds.backupData } : { kind: "template", path: requireTemplate(news) };
}

/**
 * Applies the change, then writes the owner mark where the file now is when it moved, the owner
 * changed (a resource renamed with aliases) or the state is from before owner marks.
 */
export async function updateNvram(olds: NvramOutputs, news: NvramInputs): Promise<NvramOutputs> {
  const owner = news.owner === undefined ? undefined : { ...news.owner, id: olds.ownerId ?? mintOwnerId() };
  const outs = await updateContent(olds, news);
  if (owner === undefined) return outs;
  if (olds.ownerId === undefined || !same(olds.owner, news.owner) || moved(olds, news)) await writeMark(new Host(news.connection), news.path, owner);
  return { ...outs, ownerId: owner.id };
}

async function updateContent(olds: NvramOutputs, news: NvramInputs): Promise<NvramOutputs> {
  const oldHost = new Host(olds.connection);
  const newHost = new Host(news.connection);
  const reset = !same(olds.resetTrigger, news.resetTrigger);
  const keys = news.secureBootKeys;
  // Removing secureBootKeys leaves the keys in the file as they are (they are no longer declared).
  const rekey = keys !== undefined && !same(olds.secureBootKeys, keys);
  const newVariant = news.firmware?.variant;
  if (!reset && olds.variant !== "" && newVariant !== undefined && newVariant !== olds.variant) {
    throw new OvmfError(
      `the firmware changed from a ${olds.variant} to a ${newVariant} build, and the NVRAM ${olds.path} was made for the old one. ` +
        `Change resetTrigger (SecureBootVm: nvramResetTrigger) to re-create it from the new vars template (this discards the VM's UEFI variables: boot entries and enrolled keys), or keep the ${olds.variant} firmware.`,
    );
  }

  // Only what this resource owns is moved, reset or re-keyed: not a file another one took over.
  if (moved(olds, news) || reset || rekey) await requireOwned(oldHost, olds, moved(olds, news) ? "move" : reset ? "reset" : "change the keys of");
  // Only another host hands over live: a new path on the same host (a SecureBootVm renamed) is
  // copied cold, after its domain stopped, since no migration will write the guest's last variables.
  if (identity(olds.connection) !== identity(news.connection) && news.hostMove === "live" && !reset && !rekey) {
    const handedOver = await liveHandover(oldHost, newHost, olds, news);
    if (handedOver) return describeNvram(news, newHost);
  }
  if (moved(olds, news)) {
    // Never copy a file QEMU may still be writing; the copy is verified before the original goes.
    await stopManagedOrRefuse(oldHost, olds.path, "move");
    const [source, target] = await Promise.all([sizeAndSha256(oldHost, olds.path), sizeAndSha256(newHost, news.path)]);
    if (target !== undefined) {
      // A move whose result never reached the stack (the connection dropped) left its copy: the
      // same bytes as the source, or, once the source was removed, as the stack last recorded.
      const resumed = !reset && (source !== undefined ? target.sha256 === source.sha256 : target.sha256 === olds.sha256);
      if (!resumed) throw new OvmfError(`cannot move NVRAM to ${news.path} on ${newHost.target}: a file is already there. Remove it or choose another path (SecureBootVm: nvramPath).`);
      if (source !== undefined) await removeNvram(oldHost, olds.path);
      if (rekey && !reset) await enrollInPlace(newHost, news.path, keys);
      return describeNvram(news, newHost);
    }
    const from: Placement = reset ? { kind: "template", path: requireTemplate(news) } : source !== undefined ? { kind: "clone", from: oldHost, path: olds.path } : restoreSource(olds, news);
    // The content moves as it is, with the declared keys written in when they changed or it starts anew.
    await placeContent(newHost, news.path, from, reset || rekey || from.kind === "template" ? keys : undefined);
    if (source !== undefined) await removeNvram(oldHost, olds.path);
  } else if (reset) {
    const stopped = await stopManagedOrRefuse(newHost, news.path, "reset");
    await placeContent(newHost, news.path, { kind: "template", path: requireTemplate(news) }, keys);
    for (const domain of stopped) await virsh.start(newHost, domain);
  } else if ((await stat(newHost, news.path)) === undefined) {
    const from = restoreSource(olds, news);
    await placeContent(newHost, news.path, from, rekey || from.kind === "template" ? keys : undefined);
  } else if (rekey) {
    await enrollInPlace(newHost, news.path, keys);
  }
  return describeNvram(news, newHost);
}

/** A domain a Q35Domain manages that is not shut off. */
const running = (u: NvramUser) => u.state !== "shut off" && u.managed !== undefined;
const runningUsers = async (host: Host, path: string) => (await domainsUsingNvram(host, path)).filter(running);

/**
 * A move with hostMove "live" while a VM runs on the file: the VM is left running, and the file's
 * current bytes go to the new host as the place the migration writes the guest's variables to; the
 * old file stays until the VM runs on the new host (its Q35Domain removes it then). Moving back to
 * the host where the VM still runs on its file (a migration that failed, reverted) keeps that file
 * and drops the copy. Returns false when no VM runs on either side: an ordinary move.
 */
async function liveHandover(oldHost: Host, newHost: Host, olds: NvramOutputs, news: NvramInputs): Promise<boolean> {
  const [onOld, onNew] = await Promise.all([runningUsers(oldHost, olds.path), domainsUsingNvram(newHost, news.path)]);
  if (onOld.length > 0) {
    // A file there that no domain uses is this move's own copy from an earlier attempt; one that a
    // domain uses belongs to another VM.
    if (onNew.length > 0) {
      throw new OvmfError(`cannot move NVRAM to ${news.path} on ${newHost.target}: domain ${onNew.map((u) => `"${u.domain}"`).join(", ")} there uses that file. Choose another path (SecureBootVm: nvramPath).`);
    }
    await copyFileKeeping(oldHost, olds.path, newHost, news.path, { mode: NVRAM_MODE, owner: NVRAM_OWNER, mkdir: true });
    return true;
  }
  if (onNew.some(running) && (await stat(newHost, news.path)) !== undefined) {
    if ((await domainsUsingNvram(oldHost, olds.path)).length === 0) await removeNvram(oldHost, olds.path);
    return true;
  }
  return false;
}
