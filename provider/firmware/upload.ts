import { createHash } from "node:crypto";
import { createReadStream, readFileSync, statSync } from "node:fs";
import * as path from "node:path";
import { stat, writeFileFromStream } from "../host/files.js";
import type { Host } from "../host/host.js";

/** Where uploaded firmware lives on a host: one directory per content sha256. */
export const UPLOAD_ROOT = "/var/lib/libvirt/pulumi-ovmf/firmware";

export interface LocalFile {
  file: string;
  size: number;
  sha256: string;
}

/** Size and sha256 of a local file (the program's machine), for check-time change detection. */
export function localFacts(file: string): LocalFile {
  const abs = path.resolve(file);
  return { file: abs, size: statSync(abs).size, sha256: createHash("sha256").update(readFileSync(abs)).digest("hex") };
}

/** The content-addressed path a local file is stored at on the host. */
export function uploadPath(local: LocalFile): string {
  return `${UPLOAD_ROOT}/${local.sha256}/${path.basename(local.file)}`;
}

/**
 * Stores a local file on the host once per content: skipped when the content-addressed copy is
 * already there, otherwise streamed and verified (size and sha256). Records `ref` as a user.
 */
export async function uploadOnce(host: Host, local: LocalFile, ref: string): Promise<string> {
  const target = uploadPath(local);
  const dir = path.posix.dirname(target);
  await host.check(["mkdir", "-p", "-m", "755", "--", `${dir}/.refs`], `mkdir ${dir}`);
  const existing = await stat(host, target);
  if (existing?.size !== local.size) {
    await writeFileFromStream(host, target, createReadStream(local.file), local.size, local.sha256, { mode: "644", owner: "root:root" });
  }
  await host.check(["touch", "--", `${dir}/.refs/${ref}`], `record firmware user in ${dir}`);
  return target;
}

// Drops one user's reference and removes the directory when nobody uses it any more.
const RELEASE = `set -eu
dir=$1 ref=$2
rm -f -- "$dir/.refs/$ref"
if [ -d "$dir/.refs" ] && [ -z "$(ls -A -- "$dir/.refs")" ]; then rm -rf -- "$dir"; fi`;

/** Releases an upload: the files go when the last FirmwareImage using them is deleted. */
export async function releaseUpload(host: Host, target: string, ref: string): Promise<void> {
  const dir = path.posix.dirname(target);
  if (!dir.startsWith(`${UPLOAD_ROOT}/`)) return; // never touch anything we did not upload
  await host.check(["sh", "-c", RELEASE, "sh", dir, ref], `release uploaded firmware ${dir}`);
}
