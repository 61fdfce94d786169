import { OvmfError } from "../errors.js";
import { copyFile, writeFileAtomic } from "../host/files.js";
import type { Host } from "../host/host.js";
import { domainsUsingNvram } from "../libvirt/nvram-users.js";
import * as virsh from "../libvirt/virsh.js";
import { decodeBackup } from "./backup.js";

/** Where an NVRAM file's content comes from. */
export type Placement =
  | { kind: "template"; path: string }
  | { kind: "clone"; from: Host; path: string }
  | { kind: "backup"; data: string };

export const NVRAM_MODE = "600";
export const NVRAM_OWNER = "root:root";

/**
 * Writes an NVRAM file atomically with the owner and mode libvirt gives the files it creates
 * (root, 0600; libvirt hands it to the qemu user while the domain runs).
 */
export async function placeContent(host: Host, path: string, from: Placement): Promise<void> {
  const dir = path.slice(0, path.lastIndexOf("/")) || "/";
  await host.check(["mkdir", "-p", "--", dir], `mkdir ${dir}`);
  const options = { mode: NVRAM_MODE, owner: NVRAM_OWNER };
  if (from.kind === "backup") await writeFileAtomic(host, path, decodeBackup(from.data), options);
  else await copyFile(from.kind === "clone" ? from.from : host, from.path, host, path, options);
}

/**
 * Refuses to go on while a domain on the host uses the file: `running` only for operations that
 * must not read a file QEMU may be writing (a move, a reset), `any` for a delete.
 */
export async function stopManagedOrRefuse(host: Host, path: string, operation: string, which: "running" | "any"): Promise<string[]> {
  let users = (await domainsUsingNvram(host, path)).filter((u) => which === "any" || u.state !== "shut off");
  const stopped: string[] = [];
  if (which === "running") {
    // A running domain that a Q35Domain manages is stopped (gracefully, then forced after its
    // shutdownTimeoutSeconds) so that the file is quiet: on a move its Q35Domain is replaced on the
    // new host next; on a reset the caller starts it again on the fresh variables.
    for (const u of users.filter((x) => x.managed !== undefined)) {
      await virsh.shutdown(host, u.domain, u.managed?.shutdownTimeoutSeconds ?? 60);
      stopped.push(u.domain);
    }
    users = users.filter((u) => u.managed === undefined);
  }
  if (users.length === 0) return stopped;
  const list = users.map((u) => `"${u.domain}" (${u.state})`).join(", ");
  const fix =
    which === "running"
      ? `Stop the domain first (set running: false on its Q35Domain and run pulumi up, or virsh shutdown on the host), then ${operation} the NVRAM; a file QEMU may still be writing is never copied.`
      : `Undefine that domain first (virsh undefine --keep-nvram NAME) or point it at another NVRAM file, then retry.`;
  throw new OvmfError(`cannot ${operation} NVRAM ${path} on ${host.target}: domain ${list} uses it. ${fix}`);
}
