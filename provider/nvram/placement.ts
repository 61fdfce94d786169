import { OvmfError } from "../errors.js";
import { createHash } from "node:crypto";
import { copyFileKeeping, readFile, removeFile, writeFileAtomic } from "../host/files.js";
import type { Host } from "../host/host.js";
import { batchWhileBusy, FLEET_BURST } from "../coalesce.js";
import { domainsUsingNvram, nvramUsersOn, type NvramUser } from "../libvirt/nvram-users.js";
import * as virsh from "../libvirt/virsh.js";
import { decodeBackup } from "./backup.js";
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

/** `content` with the declared keys enrolled; an error names secureBootKeys and the file. */
export function withKeys(content: Buffer, keys: SecureBootKeys, path: string): Buffer {
  try {
    return enrollKeys(content, keys, new Date());
  } catch (e) {
    const why = (e as Error).message;
    const fix = /bytes too many/.test(why)
      ? "Declare fewer certificates or hashes, or use a 4M firmware build (its store holds 256 KiB)."
      : "It is not an edk2 variable store (an OVMF VARS file) or it is damaged: restore it (backup: true keeps a copy), or set resetTrigger to start again from the template. Nothing was written.";
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
      ? `Stop the domain first (set running: false on its Q35Domain and run pulumi up, or virsh shutdown on the host), then ${operation} the NVRAM; a file QEMU may still be writing is never copied.`
      : `Undefine that domain first (virsh undefine --keep-nvram NAME) or point it at another NVRAM file, then retry.`;
  return new OvmfError(`cannot ${operation} NVRAM ${path} on ${host.target}: domain ${list} uses it. ${fix}`);
}

// The Nvram deletes that reach a host while one runs go as a batch: ONE listing of the host's
// domains (started after every one of them asked, as a delete alone does), then ONE `rm` of every
// file no domain uses. A file a domain uses is refused exactly as a delete alone refuses it; when
// the shared `rm` fails, each file is removed on its own so that its error is its own.
async function deleteMany(items: Array<{ host: Host; path: string }>): Promise<Array<Error | undefined>> {
  const host = items[0]?.host;
  if (host === undefined) return [];
  const usersOf = await nvramUsersOn(host);
  const results: Array<Error | undefined> = items.map((i) => {
    const users = usersOf(i.path);
    return users.length === 0 ? undefined : refusal(host, i.path, "delete", "any", users);
  });
  const free = [...new Set(items.filter((_, k) => results[k] === undefined).map((i) => i.path))];
  if (free.length > 0 && (await host.run(["rm", "-f", "--", ...free])).code !== 0) {
    const alone = new Map(free.map((p) => [p, removeFile(host, p).then(() => undefined, (e: unknown) => e as Error)]));
    return Promise.all(results.map((r, k) => r ?? alone.get(items[k]?.path ?? "")));
  }
  return results;
}

const deleteBatched = batchWhileBusy((i: { host: Host; path: string }) => i.host.key, deleteMany, FLEET_BURST);

/**
 * Removes the NVRAM file unless a domain on the host (running or defined) uses it, sharing the
 * listing and the `rm` with the other deletes that reach the same host while one runs.
 */
export async function deleteUnlessUsed(host: Host, path: string): Promise<void> {
  const failed = await deleteBatched({ host, path });
  if (failed !== undefined) throw failed;
}
