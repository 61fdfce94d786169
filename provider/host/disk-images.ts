import { RemoteCommandError } from "../errors.js";
import type { Host } from "./host.js";
import { parseDiskImages, type DiskImagesReading } from "./qemu-img.js";

// Every path in one remote command (paths are arguments, never spliced into the script). -U
// (--force-share) reads the disk of a running VM without its write lock; --backing-chain opens
// every backing file too, so a missing one shows now rather than when the guest starts. Only when
// that fails is the image read alone, to tell a broken chain from an unreadable image; stderr is
// read on that rare path only (a second run), so the JSON never mixes with warnings.
const READ = `command -v qemu-img >/dev/null 2>&1 || { echo no-qemu-img; exit 0; }
info() { qemu-img info --output=json -U "$@"; }
for p in "$@"; do
  if [ ! -e "$p" ]; then printf 'missing\\035'
  elif out=$(info --backing-chain -- "$p" 2>/dev/null); then printf 'chain\\036%s\\035' "$out"
  elif out=$(info -- "$p" 2>/dev/null); then
    err=$(info --backing-chain -- "$p" 2>&1 >/dev/null | tr -d '\\035\\036')
    printf 'broken\\036%s\\036%s\\035' "$out" "$err"
  else printf 'error\\036%s\\035' "$(info -- "$p" 2>&1 >/dev/null | tr -d '\\035\\036')"
  fi
done`;

/**
 * The real format and backing chain of each disk image, read on the host with `qemu-img info` in
 * one remote command. Read-only. Reports come in the order of `paths`.
 */
export async function readDiskImages(host: Host, paths: readonly string[]): Promise<DiskImagesReading> {
  if (paths.length === 0) return { qemuImg: true, reports: [] };
  const r = await host.run(["env", "LC_ALL=C", "sh", "-c", READ, "sh", ...paths]);
  if (r.code !== 0) throw new RemoteCommandError(host.target, "reading disk formats with qemu-img info", r.code, r.stderr);
  return parseDiskImages(r.stdout, paths.length);
}
