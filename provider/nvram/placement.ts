import { OvmfError } from "../errors.js";
import { createHash } from "node:crypto";
import { copyFileKeeping, readFile, removeFile, writeFileAtomic } from "../host/files.js";
import type { Host } from "../host/host.js";
import { batchWhileBusy, FLEET_BURST } from "../coalesce.js";
import { domainsUsingNvram, nvramUsersOn, type NvramUser } from "../libvirt/nvram-users.js";
import * as virsh from "../libvirt/virsh.js";
import { decodeBackup } from "./backup.js";
import { warn } from "../engine-log.js";
import { describeOwner, ownedByAnother } from "../owner.js";
import { lookAt, MARK_SUFFIX, markPathOf } from "./ownership.js";
import { enrollKeys, keysDiffer, type SecureBootKeys } from "./enroll.js";

/** Where an NVRAM file's content comes from. */
export type Placement =
  | { kind: "template"; path: string }
  | { kind: "clone"; from: Host; path: string }
  | { kind: "backup"; data: string };

export const NVRAM_MODE = "600";
export const NVRAM_OWNER = "root:root";

/** What was written: the content, and the template's sha256 when the content started from it. */
export interface Placed {
  content: Buffer;
  templateSha256?: string;
}

/**
 * Writes an NVRAM file atomically with the owner and mode libvirt gives the files it creates
 * (root, 0600; libvirt hands it to the qemu user while the domain runs), its directory created in
 * the same remote command. Returns what it wrote, so that nothing needs reading back.
 */
export async function placeContent(host: Host, path: string, from: Placement, keys?: SecureBootKeys): Promise<Placed> {
  const options = { mode: NVRAM_MODE, owner: NVRAM_OWNER, mkdir: true };
  if (keys !== undefined) {
    // The declared keys are written into the starting content before the file first appears.
    const source = from.kind === "backup" ? decodeBackup(from.data) : await readFile(from.kind === "clone" ? from.from : host, from.path);
    const content = withKeys(source, keys, path);
    await writeFileAtomic(host, path, content, options);
    return { content, ...(from.kind === "template" ? { templateSha256: createHash("sha256").update(source).digest("hex") } : {}) };
  }
  if (from.kind === "backup") {
    const content = decodeBackup(from.data);
    await writeFileAtomic(host, path, content, options);
    return { content };
  }
  const copied = await copyFileKeeping(from.kind === "clone" ? from.from : host, from.path, host, path, options);
  return { content: copied.content, ...(from.kind === "template" ? { templateSha256: copied.sha256 } : {}) };
}

/** Removes an NVRAM file and the owner mark beside it (a missing one is not an error). */
export async function removeNvram(host: Host, path: string): Promise<void> {
  await host.check(["rm", "-f", "--", path, markPathOf(path)], `remove ${path}`);
}

/** `content` with the declared keys enrolled; an error names secureBootKeys and the file. */
export function withKeys(content: Buffer, keys: SecureBootKeys, path: string): Buffer {
  try {
    return enrollKeys(content, keys, new Date());
  } catch (e) {
    const why = (e as Error).message;
    const fix = /bytes too many/.test(why)
      ? "Declare fewer certificates or hashes, or use a 4M firmware build (its store holds 256 KiB)."
      : "It is not an edk2 variable store (an OVMF VARS file) or it is damaged: restore it (backup: true keeps a copy; SecureBootVm: backupNvram), or set resetTrigger (SecureBootVm: nvramResetTrigger) to start again from the template. Nothing was written.";
    throw new OvmfError(`secureBootKeys: cannot write the keys into ${path}: ${why}. ${fix}`);
  }
}

/**
 * Writes the declared keys into an existing file, keeping every other variable; a domain a
 * Q35Domain manages that runs on it is stopped first (gracefully, then forced) and started again
 * after. Nothing is written when the file already holds exactly these keys.
 */
export async function enrollInPlace(host: Host, path: string, keys: SecureBootKeys): Promise<void> {
  const stopped = await stopManagedOrRefuse(host, path, "change the Secure Boot keys of");
  try {
    const content = await readFile(host, path);
    if (keysDiffer(content, keys)) await writeFileAtomic(host, path, withKeys(content, keys, path), { mode: NVRAM_MODE, owner: NVRAM_OWNER });
  } finally {
    for (const domain of stopped) await virsh.start(host, domain);
  }
}

/**
 * For operations that must not read a file QEMU may be writing (a move, a reset, new keys): a
 * running domain that a Q35Domain manages is stopped (gracefully, then forced after its
 * shutdownTimeoutSeconds) so that the file is quiet; one no Q35Domain manages is refused. Returns
 * the domains it stopped (on a move the Q35Domain is replaced on the new host next; on a reset the
 * caller starts them again on the fresh variables). A delete refuses any user: {@link deleteUnlessUsed}.
 */
export async function stopManagedOrRefuse(host: Host, path: string, operation: string): Promise<string[]> {
  const users = (await domainsUsingNvram(host, path)).filter((u) => u.state !== "shut off");
  const stopped: string[] = [];
  for (const u of users.filter((x) => x.managed !== undefined)) {
    await virsh.shutdown(host, u.domain, u.managed?.shutdownTimeoutSeconds ?? 60);
    stopped.push(u.domain);
  }
  const others = users.filter((u) => u.managed === undefined);
  if (others.length === 0) return stopped;
  throw refusal(host, path, operation, "running", others);
}

/** The error that refuses an operation on an NVRAM file these domains use. */
function refusal(host: Host, path: string, operation: string, which: "running" | "any", users: NvramUser[]): OvmfError {
  const list = users.map((u) => `"${u.domain}" (${u.state})`).join(", ");
  const fix =
    which === "running"
      ? `Stop the domain first (set running: false on its Q35Domain or SecureBootVm and run pulumi up, or virsh shutdown on the host), then ${operation} the NVRAM; a file QEMU may still be writing is never copied.`
      : `Undefine that domain first (virsh undefine --keep-nvram NAME) or point it at another NVRAM file, then retry.`;
  return new OvmfError(`cannot ${operation} NVRAM ${path} on ${host.target}: domain ${list} uses it. ${fix}`);
}

// The Nvram deletes that reach a host while one runs go as a batch: ONE listing of the host's
// domains (started after every one of them asked, as a delete alone does), then ONE `rm` of every
// file no domain uses. A file a domain uses is refused exactly as a delete alone refuses it; when
// the shared `rm` fails, each file is removed on its own so that its error is its own.
// Removes each file with its owner mark, in one command, unless the mark's first line is not this
// resource's id (another resource took the file over with adopt): then it prints "kept PATH".
const REMOVE_OWNED = `suffix=$1; shift; n=$(($# / 2)); i=0
while [ "$i" -lt "$n" ]; do
  p=$1 id=$2; shift 2; i=$((i + 1))
  if [ -f "$p$suffix" ]; then
    first=; IFS= read -r first < "$p$suffix" || true
    if [ "$first" != "id=$id" ]; then printf 'kept %s\\n' "$p"; continue; fi
  fi
  set -- "$@" "$p" "$p$suffix"
done
[ "$#" -eq 0 ] || rm -f -- "$@"`;

interface DeleteItem {
  host: Host;
  path: string;
  ownerId: string | undefined;
}

async function deleteMany(items: DeleteItem[]): Promise<Array<Error | undefined>> {
  const host = items[0]?.host;
  if (host === undefined) return [];
  const usersOf = await nvramUsersOn(host);
  // A file in use is refused, unless another resource took it over (adopt): then it is its own.
  const results: Array<Error | "kept" | undefined> = await Promise.all(
    items.map(async (i) => {
      const users = usersOf(i.path);
      if (users.length === 0) return undefined;
      const found = await lookAt(host, i.path);
      if (found.mark !== undefined && ownedByAnother(found.mark, i.ownerId)) {
        await warn(`Nvram ${i.path} on ${host.target} was left in place and only removed from this stack: it now belongs to ${describeOwner(found.mark)}.`);
        return "kept";
      }
      return refusal(host, i.path, "delete", "any", users);
    }),
  );
  const free = [...new Map(items.filter((_, k) => results[k] === undefined).map((i) => [i.path, i.ownerId ?? ""])).entries()];
  if (free.length === 0) return results.map((r) => (r === "kept" ? undefined : r));
  const r = await host.run(["sh", "-c", REMOVE_OWNED, "sh", MARK_SUFFIX, ...free.flat()]);
  if (r.code !== 0) {
    const alone = new Map(free.map(([p]) => [p, removeFile(host, p).then(() => removeFile(host, markPathOf(p))).then(() => undefined, (e: unknown) => e as Error)]));
    return Promise.all(results.map((res, k) => (res === "kept" ? undefined : (res ?? alone.get(items[k]?.path ?? "")))));
  }
  for (const kept of r.stdout.split("\n").filter((l) => l.startsWith("kept ")).map((l) => l.slice(5))) {
    await warn(`Nvram ${kept} on ${host.target} was left in place and only removed from this stack: another resource took it over (its owner mark is ${markPathOf(kept)}).`);
  }
  return results.map((r) => (r === "kept" ? undefined : r));
}

const deleteBatched = batchWhileBusy((i: DeleteItem) => i.host.key, deleteMany, FLEET_BURST);

/**
 * Removes the NVRAM file and its owner mark unless a domain on the host (running or defined) uses
 * it, sharing the listing and the `rm` with the other deletes that reach the same host while one
 * runs. A file whose mark another resource's id (adopt) is left in place, with a warning.
 */
export async function deleteUnlessUsed(host: Host, path: string, ownerId?: string): Promise<void> {
  const failed = await deleteBatched({ host, path, ownerId });
  if (failed !== undefined) throw failed;
}
