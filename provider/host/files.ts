import { createHash } from "node:crypto";
import { PassThrough, Transform, type Readable } from "node:stream";
import { OvmfError, RemoteCommandError } from "../errors.js";
import type { Host } from "./host.js";

// File operations run as commands (stat, cat, sha256sum, a small sh script) rather than over SFTP:
// the sftp-server runs as the login user and cannot use sudo, and these behave the same for root and
// for a sudo user. Paths and values reach the scripts as positional parameters, never spliced in.

export interface RemoteStat {
  size: number;
  /** Permission bits in octal, e.g. "600". */
  mode: string;
  owner: string;
  group: string;
  mtimeMs: number;
}

/** stat(1) of a path, or undefined when it does not exist. */
export async function stat(host: Host, path: string): Promise<RemoteStat | undefined> {
  const r = await host.run(["stat", "-L", "-c", "%s %a %U %G %Y", "--", path]);
  if (r.code !== 0) {
    if (/No such file or directory/.test(r.stderr)) return undefined;
    throw new RemoteCommandError(host.target, `stat ${path}`, r.code, r.stderr);
  }
  const [size, mode, owner, group, mtime] = r.stdout.trim().split(" ");
  return { size: Number(size), mode: mode ?? "", owner: owner ?? "", group: group ?? "", mtimeMs: Number(mtime) * 1000 };
}

// Recent stats of shared read-only files (templates, firmware): N resources of one plan checking the
// same template on the same host share one command. Kept briefly, per provider process.
const RECENT_MS = 30_000;
const recent = new Map<string, { at: number; stat: Promise<RemoteStat | undefined> }>();

/**
 * {@link stat} of a file many resources check at once (a vars template): a stat of the same path on
 * the same host from the last 30 s is reused. For checks only; writes always stat afresh.
 */
export function statShared(host: Host, path: string, now = Date.now()): Promise<RemoteStat | undefined> {
  const key = `${host.target}\0${path}`;
  const kept = recent.get(key);
  if (kept !== undefined && now - kept.at < RECENT_MS) return kept.stat;
  const fresh = stat(host, path);
  recent.set(key, { at: now, stat: fresh });
  // A failed stat is not kept: the next check asks again.
  fresh.catch(() => recent.delete(key));
  return fresh;
}

/** A file's whole content. */
export async function readFile(host: Host, path: string): Promise<Buffer> {
  const r = await host.runRaw(["cat", "--", path]);
  if (r.code !== 0) throw new RemoteCommandError(host.target, `read ${path}`, r.code, r.stderr);
  return r.stdout;
}

/** sha256 of a file, computed on the host (hex). */
export async function sha256(host: Host, path: string): Promise<string> {
  const r = await host.check(["sha256sum", "--", path], `sha256sum ${path}`);
  const hex = r.stdout.slice(0, 64);
  if (!/^[0-9a-f]{64}$/.test(hex)) throw new OvmfError(`sha256sum ${path} on ${host.target} printed ${JSON.stringify(r.stdout.slice(0, 80))}`);
  return hex;
}

/** Size and sha256 of a file in one round trip, or undefined when it does not exist. */
export async function sizeAndSha256(host: Host, path: string): Promise<{ size: number; sha256: string } | undefined> {
  const r = await host.run(["sh", "-c", 'stat -L -c %s -- "$1" && sha256sum -- "$1"', "sh", path]);
  if (r.code !== 0) {
    if (/No such file or directory/.test(r.stderr)) return undefined;
    throw new RemoteCommandError(host.target, `stat and sha256sum ${path}`, r.code, r.stderr);
  }
  const [size, sum] = r.stdout.split("\n");
  const hex = (sum ?? "").slice(0, 64);
  if (!/^\d+$/.test(size ?? "") || !/^[0-9a-f]{64}$/.test(hex)) throw new OvmfError(`stat/sha256sum ${path} on ${host.target} printed ${JSON.stringify(r.stdout.slice(0, 120))}`);
  return { size: Number(size), sha256: hex };
}

/** Removes a file; a missing file is not an error. */
export async function removeFile(host: Host, path: string): Promise<void> {
  await host.check(["rm", "-f", "--", path], `remove ${path}`);
}

export interface WriteOptions {
  /** Permission bits in octal. Default "600". */
  mode?: string;
  /** `user` or `user:group` to chown to. Default: the writing user. */
  owner?: string;
  /** Create the file's directory first when it is missing (in the same remote command). */
  mkdir?: boolean;
}

// Writes stdin to a temp file beside the target, checks its size and sha256 against what the
// sender meant to send (a dropped connection ends stdin early, and a short file must never replace
// the old one), sets mode and owner, fsyncs, and renames over the target.
const ATOMIC_WRITE = `set -eu
target=$1 mode=$2 owner=$3 size=$4 sum=$5 mkdir=\${6:-}
dir=$(dirname -- "$target"); base=$(basename -- "$target")
if [ "$mkdir" = yes ]; then mkdir -p -- "$dir"; fi
tmp=$(mktemp -- "$dir/.$base.XXXXXX")
trap 'rm -f -- "$tmp"' EXIT; trap 'exit 129' HUP INT TERM PIPE
cat > "$tmp"
got=$(stat -c %s -- "$tmp")
[ "$got" = "$size" ] || { echo "incomplete write: $got of $size bytes arrived; $target left unchanged" >&2; exit 3; }
[ "$(sha256sum -- "$tmp" | cut -d' ' -f1)" = "$sum" ] || { echo "sha256 mismatch after write; $target left unchanged" >&2; exit 3; }
chmod -- "$mode" "$tmp"
if [ -n "$owner" ]; then chown -- "$owner" "$tmp"; fi
sync -- "$tmp"
mv -f -- "$tmp" "$target"
trap - EXIT
sync -- "$dir" 2>/dev/null || true`;

/** Atomically replaces `path` with `data`: readers see the old content or the new, never a mix. */
export async function writeFileAtomic(host: Host, path: string, data: Buffer, options: WriteOptions = {}): Promise<void> {
  const sum = createHash("sha256").update(data).digest("hex");
  await writeFileFromStream(host, path, data, data.length, sum, options);
}

/**
 * Atomically replaces `path` with what `stdin` streams, which must be exactly `size` bytes with the
 * given sha256; anything else (a dropped connection, a short stream) leaves the old file as it was.
 */
export async function writeFileFromStream(
  host: Host,
  path: string,
  stdin: Buffer | Readable,
  size: number,
  sum: string,
  options: WriteOptions = {},
): Promise<void> {
  const argv = ["sh", "-c", ATOMIC_WRITE, "sh", path, options.mode ?? "600", options.owner ?? "", String(size), sum, options.mkdir === true ? "yes" : ""];
  const r = await host.run(argv, { stdin });
  if (r.code !== 0) throw new RemoteCommandError(host.target, `write ${path}`, r.code, r.stderr);
}

/**
 * Streams a file from one host to another (or within one host) without holding it in memory, and
 * verifies the copy: the destination is replaced atomically only if its sha256 equals the source's.
 * Returns the sha256.
 */
export async function copyFile(from: Host, fromPath: string, to: Host, toPath: string, options: WriteOptions = {}): Promise<string> {
  return (await copy(from, fromPath, to, toPath, options, false)).sha256;
}

/**
 * {@link copyFile} for a small file whose content the caller needs too (an NVRAM file, to describe
 * it): the bytes that went over the wire are kept, so nothing is read back.
 */
export async function copyFileKeeping(from: Host, fromPath: string, to: Host, toPath: string, options: WriteOptions = {}): Promise<{ sha256: string; content: Buffer }> {
  const { sha256, chunks } = await copy(from, fromPath, to, toPath, options, true);
  return { sha256, content: Buffer.concat(chunks) };
}

async function copy(from: Host, fromPath: string, to: Host, toPath: string, options: WriteOptions, keep: boolean): Promise<{ sha256: string; chunks: Buffer[] }> {
  const info = await sizeAndSha256(from, fromPath);
  if (info === undefined) throw new OvmfError(`copy: ${fromPath} does not exist on ${from.target}`);
  const sum = info.sha256;
  const chunks: Buffer[] = [];
  // Kept bytes are recorded as they pass (a Transform, so nothing flows before the writer reads).
  const pipe = keep
    ? new Transform({ transform: (c: Buffer, _e, done) => { chunks.push(c); done(null, c); } })
    : new PassThrough();
  const reading = from.runRaw(["cat", "--", fromPath], { stdout: pipe }).then((r) => {
    pipe.end();
    if (r.code !== 0) throw new RemoteCommandError(from.target, `read ${fromPath}`, r.code, r.stderr);
  }, (err: unknown) => {
    pipe.destroy(err as Error);
    throw err;
  });
  await Promise.all([reading, writeFileFromStream(to, toPath, pipe, info.size, sum, options)]);
  return { sha256: sum, chunks };
}

// Creates a file as a verified copy of another on the same host, unless the target exists: one
// remote command for what otherwise takes four (stat the target, measure the source, read it,
// write it). The copy is compared with its source by sha256, fsynced, given its mode and owner and
// renamed into place; stdout is "created <sha256>\n" and the bytes, or "same <sha256>\n" without
// them when the copy's sha256 is the one whose bytes the caller already holds ($5: then the copy
// is those bytes, and the source needs no second hash), or "exists <size>\n". Shell expansions
// instead of dirname, basename and cut: a fleet of copies is fewer processes on the host.
const COPY_NEW = `set -eu
src=$1 target=$2 mode=$3 owner=$4 known=$5 markpath=\${6:-} mark=\${7:-}
if [ -e "$target" ]; then
  printf 'exists %s\\n' "$(stat -L -c %s -- "$target")"
  if [ -n "$markpath" ] && [ -f "$markpath" ]; then cat -- "$markpath"; fi
  exit 0
fi
[ -f "$src" ] || { echo "$src does not exist" >&2; exit 2; }
case $target in
*/) echo "$target is not a file path" >&2; exit 2;;
*/*) dir=\${target%/*}; dir=\${dir:-/};;
*) dir=.;;
esac
base=\${target##*/}
[ -d "$dir" ] || mkdir -p -- "$dir"
# The mark goes first: a copy cut off midway leaves a mark without a file, which the next create
# writes again; never a file without its mark.
if [ -n "$markpath" ]; then
  mt=$(mktemp -- "$markpath.XXXXXX")
  printf '%s' "$mark" > "$mt"; chmod -- "$mode" "$mt"
  if [ -n "$owner" ]; then chown -- "$owner" "$mt"; fi
  mv -f -- "$mt" "$markpath"
fi
tmp=$(mktemp -- "$dir/.$base.XXXXXX")
trap 'rm -f -- "$tmp"' EXIT; trap 'exit 129' HUP INT TERM PIPE
cat -- "$src" > "$tmp"
got=$(sha256sum < "$tmp"); got=\${got%% *}
# A copy holding the very bytes the caller has (by sha256) is a true copy of them; else the source
# is hashed too.
if [ "$got" != "$known" ]; then
  want=$(sha256sum < "$src"); want=\${want%% *}
  [ "$want" = "$got" ] || { echo "the copy of $src differs from it (sha256); $target was not created" >&2; exit 3; }
fi
chmod -- "$mode" "$tmp"
if [ -n "$owner" ]; then chown -- "$owner" "$tmp"; fi
sync -- "$tmp"
if [ "$got" = "$known" ]; then printf 'same %s\\n' "$got"; else printf 'created %s\\n' "$got"; cat -- "$tmp"; fi
[ ! -e "$target" ] || { echo "$target appeared during the copy and was left as it is" >&2; exit 4; }
mv -f -- "$tmp" "$target"
trap - EXIT
sync -- "$dir" 2>/dev/null || true`;

/** What {@link copyNew} did. */
export type CopyNew = { created: true; content: Buffer; sha256: string } | { created: false; size: number; mark?: string };

/** A small file written beside a new file (before it), or read when the target exists: an owner mark. */
export interface CompanionFile {
  path: string;
  content: string;
}

// The bytes of the sources copied last (a vars template, for each VM of a fleet) by host and path
// with their sha256: a copy whose sha256 is the same is not read back again. A few entries: a host
// has a template or two.
const sources = new Map<string, { sha256: string; content: Buffer }>();
const rememberSource = (key: string, sha256: string, content: Buffer): void => {
  sources.delete(key);
  sources.set(key, { sha256, content });
  if (sources.size > 8) sources.delete(sources.keys().next().value ?? "");
};

/**
 * Copies `from` to a new file `to` on the same host in one round trip, verified by sha256 on the
 * host and again here on the bytes it returns (not returned again for a source whose bytes were
 * seen with the same sha256); an existing `to` is left untouched and reported. A `companion` is
 * written before the copy, or read (as `mark`) when `to` exists.
 */
export async function copyNew(host: Host, from: string, to: string, options: WriteOptions = {}, companion?: CompanionFile): Promise<CopyNew> {
  const key = `${host.key}\u0000${from}`;
  const known = sources.get(key);
  const mark = companion === undefined ? [] : [companion.path, companion.content];
  const r = await host.runRaw(["sh", "-c", COPY_NEW, "sh", from, to, options.mode ?? "600", options.owner ?? "", known?.sha256 ?? "", ...mark]);
  if (r.code !== 0) throw new RemoteCommandError(host.target, `copy ${from} to ${to}`, r.code, r.stderr);
  const newline = r.stdout.indexOf(10);
  const head = r.stdout.subarray(0, newline).toString("utf8");
  const exists = /^exists (\d+)$/.exec(head);
  if (exists !== null) {
    const found = r.stdout.subarray(newline + 1).toString("utf8");
    return { created: false, size: Number(exists[1]), ...(found === "" ? {} : { mark: found }) };
  }
  const same = /^same ([0-9a-f]{64})$/.exec(head);
  if (same?.[1] !== undefined && known !== undefined && same[1] === known.sha256) return { created: true, content: Buffer.from(known.content), sha256: known.sha256 };
  const created = /^created ([0-9a-f]{64})$/.exec(head);
  const content = r.stdout.subarray(newline + 1);
  if (created?.[1] === undefined || createHash("sha256").update(content).digest("hex") !== created[1]) {
    throw new OvmfError(`copy ${from} to ${to} on ${host.target}: the bytes read back do not match the copy's sha256 (${JSON.stringify(head.slice(0, 80))})`);
  }
  rememberSource(key, created[1], Buffer.from(content));
  return { created: true, content, sha256: created[1] };
}
