import { randomBytes } from "node:crypto";
import type { Duplex } from "node:stream";
import { OvmfError } from "../errors.js";
import type { Host } from "../host/host.js";
import { LIBVIRT_URI } from "./virsh.js";

// A live migration run by virsh on the source host. virsh reaches the destination's libvirt through
// a UNIX socket that the source's sshd listens on for the provider; each connection to it is carried
// over the provider's own SSH connections to virt-ssh-helper on the destination (what qemu+ssh runs
// there). So the hosts need no SSH trust between them; only the migration data goes straight from
// the source's QEMU to the destination's (TCP, libvirt's migration ports 49152-49215, at `address`;
// without it libvirt would use the destination's host name).
const MIGRATE = `set -u
uri=$1 name=$2 dest=$3 addr=$4 xml=$5
set -- --live --persistent --undefinesource
if [ -n "$xml" ]; then
  t=$(mktemp /tmp/pulumi-ovmf-migrate-XXXXXX) || exit 1
  trap 'rm -f -- "$t"' EXIT; trap 'exit 129' HUP INT TERM PIPE
  cat > "$t"
  set -- "$@" --xml "$t" --persistent-xml "$t"
fi
[ -z "$addr" ] || set -- "$@" --migrateuri "tcp://$addr"
virsh -q -c "$uri" migrate "$@" -- "$name" "$dest"`;

export interface MigrationStats {
  /** How long the guest was paused for the switch-over, as the destination's QEMU measured it. */
  downtimeMs?: number;
  /** The whole migration. */
  elapsedMs?: number;
}

/** The figures of `virsh domjobinfo --completed` (on the destination after a migration). Pure. */
export function parseJobInfo(out: string): MigrationStats {
  const ms = (label: string) => {
    const m = new RegExp(`^${label}:\\s+(\\d+)\\s+ms`, "m").exec(out);
    return m === null ? undefined : Number(m[1]);
  };
  const downtimeMs = ms("Total downtime");
  const elapsedMs = ms("Time elapsed");
  return { ...(downtimeMs === undefined ? {} : { downtimeMs }), ...(elapsedMs === undefined ? {} : { elapsedMs }) };
}

export class MigrationError extends OvmfError {
  override name = "MigrationError";
}

/** What to look at when a live migration fails, after libvirt's own message. */
export const MIGRATION_CHECKS =
  "Check that the source host reaches the destination's QEMU on TCP ports 49152-49215 (at migrationAddress if set, else at the " +
  "host of the destination's connection); that the firmware and NVRAM paths of the new inputs exist on the " +
  "destination (its FirmwareImage); that the CPUs are compatible (cpuMode host-passthrough migrates only between hosts with the same " +
  "CPU: use host-model or custom); and that disks are on storage both hosts see at the same path";

/**
 * Migrates the running domain `name` from `source` to `destination` while it runs, persistent
 * there (defined by `xml` when given: the same guest with the destination's paths), and undefined
 * on the source once it runs on the destination. On failure
 * libvirt keeps it running on the source; the error carries libvirt's message and what to check.
 */
export async function migrateLive(source: Host, destination: Host, name: string, xml: string | undefined, address?: string): Promise<MigrationStats> {
  const socket = `/tmp/pulumi-ovmf-migrate-${randomBytes(8).toString("hex")}.sock`;
  const streams = new Set<Duplex>();
  const stop = await source.listenUnix(socket, (stream) => {
    streams.add(stream);
    stream.on("close", () => streams.delete(stream));
    destination.openStream(["virt-ssh-helper", LIBVIRT_URI]).then(
      (channel) => {
        stream.pipe(channel).on("error", () => stream.destroy());
        channel.pipe(stream).on("error", () => channel.close());
        channel.on("close", () => stream.destroy());
        stream.on("close", () => channel.close());
      },
      () => stream.destroy(),
    );
  });
  try {
    const r = await source.run(["env", "LC_ALL=C", "sh", "-c", MIGRATE, "sh", LIBVIRT_URI, name, `qemu+unix:///system?socket=${socket}`, address ?? "", xml === undefined ? "" : "yes"], { ...(xml === undefined ? {} : { stdin: xml }), timeoutMs: 60 * 60_000 });
    if (r.code !== 0) {
      const why = r.stderr.trim().replace(/^error:\s*/gm, "").replace(/\s*\n\s*/g, "; ");
      throw new MigrationError(`live migration of domain "${name}" from ${source.target} to ${destination.target} failed: ${why || `exit ${r.code ?? "signal"}`}. ${MIGRATION_CHECKS}.`);
    }
  } finally {
    for (const s of streams) s.destroy();
    await stop().catch(() => undefined);
    await source.run(["rm", "-f", "--", socket]).catch(() => undefined);
  }
  const info = await destination.run(["env", "LC_ALL=C", "virsh", "-c", LIBVIRT_URI, "domjobinfo", "--completed", "--", name]).catch(() => undefined);
  return info === undefined || info.code !== 0 ? {} : parseJobInfo(info.stdout);
}
