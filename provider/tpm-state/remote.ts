import { createHash } from "node:crypto";
import { OvmfError, RemoteCommandError } from "../errors.js";
import { stat, writeFileAtomic } from "../host/files.js";
import { parseMarkFile, renderMarkFile, type OwnerMark } from "../owner.js";
import type { Host } from "../host/host.js";
import { swtpmFailureReason, swtpmFix } from "../libvirt/swtpm.js";
import { permallPath, statePath, STATE_MARK, SWTPM_DIR, SWTPM_USER, swtpmLogPath, UUID } from "./model.js";

// A TPM state is a directory (/var/lib/libvirt/swtpm/<uuid>: root 0711, tpm2/ owned by the swtpm
// user 0700, tpm2-00.permall 0600). It moves as a gzip'd tar that keeps owners (by name) and modes,
// extracted beside the target and renamed into place: readers see the whole state or none.
// Every path argument reaches the scripts as a positional parameter, never spliced in.

function requireUuid(uuid: string): string {
  // The uuid names a directory that delete removes recursively: never anything but a UUID.
  if (!UUID.test(uuid)) throw new OvmfError(`not a UUID: ${JSON.stringify(uuid)}`);
  return uuid;
}

const MANUFACTURE = `set -eu
base=$1 uuid=$2 vmid=$3 log=$4 user=$5 mark=\${6:-}
command -v swtpm_setup >/dev/null || { echo "swtpm_setup is not installed on this host (Debian: apt-get install swtpm swtpm-tools)" >&2; exit 5; }
getent passwd "$user" >/dev/null || { echo "there is no user $user to run swtpm as (it comes with the swtpm package)" >&2; exit 5; }
[ -d "$base" ] || install -d -m 0711 -- "$base"
[ ! -e "$base/$uuid" ] || { echo "$base/$uuid already exists; left unchanged" >&2; exit 4; }
logdir=$(dirname -- "$log")
[ -d "$logdir" ] || install -d -o "$user" -g "$user" -m 0730 -- "$logdir"
# swtpm_setup, once it runs as the swtpm user, only appends to a log file that already exists.
[ -e "$log" ] || install -o "$user" -g "$user" -m 0644 /dev/null "$log"
tmp=$(mktemp -d -- "$base/.$uuid.XXXXXX")
trap 'rm -rf -- "$tmp"' EXIT; trap 'exit 129' HUP INT TERM PIPE
chmod 0711 -- "$tmp"
install -d -o "$user" -g "$user" -m 0700 -- "$tmp/tpm2"
swtpm_setup --tpm2 --tpm-state "$tmp/tpm2" --vmid "$vmid" --logfile "$log" --createek --create-ek-cert --create-platform-cert --lock-nvram --not-overwrite --runas "$user" >&2 || exit 6
rm -f -- "$tmp/tpm2/.lock"
# The owner mark moves into place with the state: never a state without its mark.
if [ -n "$mark" ]; then printf '%s' "$mark" > "$tmp/${STATE_MARK}"; chmod 0600 -- "$tmp/${STATE_MARK}"; fi
sync -f "$tmp/tpm2/tpm2-00.permall" 2>/dev/null || sync
mv -T -- "$tmp" "$base/$uuid"
trap - EXIT`;

/**
 * Manufactures a new TPM 2.0 into /var/lib/libvirt/swtpm/<uuid> exactly as libvirt does at a
 * domain's first start (swtpm_setup as the swtpm user: EK, EK and platform certificates from the
 * host's swtpm_localca, locked NV, logged to the domain's swtpm log), so that libvirt finds it and
 * never manufactures another.
 */
export async function manufacture(host: Host, uuid: string, vmName: string, mark?: OwnerMark): Promise<void> {
  const argv = ["sh", "-c", MANUFACTURE, "sh", SWTPM_DIR, requireUuid(uuid), `${vmName}:${uuid}`, swtpmLogPath(vmName), SWTPM_USER, ...(mark === undefined ? [] : [renderMarkFile(mark)])];
  const r = await host.run(argv);
  if (r.code === 6) {
    // swtpm_setup's reason is in its log, as when libvirt runs it.
    const log = await host.run(["tail", "-n", "60", "--", swtpmLogPath(vmName)]);
    const reason = (log.code === 0 ? swtpmFailureReason(log.stdout) : undefined) ?? swtpmFailureReason(r.stderr);
    throw new OvmfError(
      `swtpm_setup could not manufacture the TPM ${statePath(uuid)} for "${vmName}" on ${host.target}` +
        `${reason === undefined ? "" : `: swtpm: ${reason.replace(/\.$/, "")}`}. ${swtpmFix(reason, swtpmLogPath(vmName))}. Nothing was created.`,
    );
  }
  if (r.code !== 0) throw new RemoteCommandError(host.target, `manufacture the TPM ${statePath(uuid)}`, r.code, r.stderr);
}

/** The state directory as a gzip'd tar (owners by name, modes), or undefined when it does not exist. */
export async function readArchive(host: Host, uuid: string): Promise<Buffer | undefined> {
  const dir = statePath(requireUuid(uuid));
  if ((await stat(host, dir)) === undefined) return undefined;
  const r = await host.runRaw(["tar", "-C", dir, "--exclude", "./tpm2/.lock", "-czf", "-", "."]);
  if (r.code !== 0) throw new RemoteCommandError(host.target, `archive ${dir}`, r.code, r.stderr);
  return r.stdout;
}

const PLACE = `set -eu
base=$1 uuid=$2 size=$3 sum=$4
[ -d "$base" ] || install -d -m 0711 -- "$base"
[ ! -e "$base/$uuid" ] || { echo "$base/$uuid already exists; left unchanged" >&2; exit 4; }
tmp=$(mktemp -d -- "$base/.$uuid.XXXXXX")
trap 'rm -rf -- "$tmp"' EXIT; trap 'exit 129' HUP INT TERM PIPE
cat > "$tmp/archive"
got=$(stat -c %s -- "$tmp/archive")
[ "$got" = "$size" ] || { echo "incomplete transfer: $got of $size bytes arrived; nothing placed" >&2; exit 3; }
[ "$(sha256sum -- "$tmp/archive" | cut -d' ' -f1)" = "$sum" ] || { echo "sha256 mismatch after transfer; nothing placed" >&2; exit 3; }
mkdir -- "$tmp/state"
tar -xzf "$tmp/archive" -C "$tmp/state" --same-owner --same-permissions
sync -f "$tmp/state" 2>/dev/null || sync
mv -T -- "$tmp/state" "$base/$uuid"`;

/** Places a state archive as /var/lib/libvirt/swtpm/<uuid>, which must not exist yet. */
export async function placeArchive(host: Host, uuid: string, archive: Buffer): Promise<void> {
  const sum = createHash("sha256").update(archive).digest("hex");
  const argv = ["sh", "-c", PLACE, "sh", SWTPM_DIR, requireUuid(uuid), String(archive.length), sum];
  const r = await host.run(argv, { stdin: archive });
  if (r.code !== 0) throw new RemoteCommandError(host.target, `place the TPM state ${statePath(uuid)}`, r.code, r.stderr);
}

/**
 * Copies the state from one host to another, replacing whatever state directory of that UUID the
 * target has (a copy an earlier attempt left). False when the source has none.
 */
export async function copyStateOver(from: Host, to: Host, uuid: string): Promise<boolean> {
  const archive = await readArchive(from, uuid);
  if (archive === undefined) return false;
  if ((await stat(to, statePath(requireUuid(uuid)))) !== undefined) await removeState(to, uuid);
  await placeArchive(to, uuid, archive);
  return true;
}

/** The permanent state file's content, or undefined when the TPM has no state on the host. */
export async function readPermall(host: Host, uuid: string): Promise<Buffer | undefined> {
  const r = await host.runRaw(["cat", "--", permallPath(requireUuid(uuid))]);
  if (r.code === 0) return r.stdout;
  if (/No such file or directory/.test(r.stderr)) return undefined;
  throw new RemoteCommandError(host.target, `read ${permallPath(uuid)}`, r.code, r.stderr);
}

/** Removes the state directory; a missing one is not an error. */
export async function removeState(host: Host, uuid: string): Promise<void> {
  await host.check(["rm", "-rf", "--", statePath(requireUuid(uuid))], `remove ${statePath(uuid)}`);
}

/** The owner mark in the state directory, if the state has one. */
export async function readStateMark(host: Host, uuid: string): Promise<OwnerMark | undefined> {
  const r = await host.run(["cat", "--", `${statePath(requireUuid(uuid))}/${STATE_MARK}`]);
  return r.code === 0 ? parseMarkFile(r.stdout) : undefined;
}

/** Writes (or rewrites) the owner mark into the state directory, which must exist. */
export async function writeStateMark(host: Host, uuid: string, mark: OwnerMark): Promise<void> {
  await writeFileAtomic(host, `${statePath(requireUuid(uuid))}/${STATE_MARK}`, Buffer.from(renderMarkFile(mark)), { mode: "600" });
}

/** How many times swtpm_setup manufactured a TPM for this VM name, from its swtpm log (0 when none). */
export async function manufactureCount(host: Host, vmName: string): Promise<number> {
  const r = await host.run(["cat", "--", swtpmLogPath(vmName)]);
  return r.code === 0 ? (r.stdout.match(/^Starting vTPM manufacturing/gm) ?? []).length : 0;
}

