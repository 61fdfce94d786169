import { OvmfError } from "../errors.js";
import { sha256, stat } from "../host/files.js";
import type { Host } from "../host/host.js";
import type { DescriptorFile } from "./firmware-descriptors.js";

/**
 * Lists every *.json in the search directories as NUL-separated (dir, name, text) triples, in one
 * round trip. Directories come in as positional parameters. Exported for the host readiness probe,
 * which runs it inside its own script.
 */
export const LIST_DESCRIPTORS = `for d; do
  for f in "$d"/*.json; do
    [ -f "$f" ] || continue
    printf '%s\\0%s\\0' "$d" "\${f##*/}"; cat -- "$f"; printf '\\0'
  done
done`;

/** Reads the firmware descriptors in the search path from the host. */
export async function readDescriptorFiles(host: Host, searchPath: readonly string[]): Promise<DescriptorFile[]> {
  const r = await host.check(["sh", "-c", LIST_DESCRIPTORS, "sh", ...searchPath], "list QEMU firmware descriptors");
  return parseDescriptorListing(r.stdout);
}

/** The descriptor files {@link LIST_DESCRIPTORS} printed. Pure. */
export function parseDescriptorListing(out: string): DescriptorFile[] {
  const parts = out.split("\0");
  const files: DescriptorFile[] = [];
  for (let i = 0; i + 2 < parts.length; i += 3) {
    const [dir = "", name = "", text = ""] = parts.slice(i, i + 3);
    files.push({ dir, name, text });
  }
  return files;
}

/** Parses `qemu-system-x86_64 -machine help` for the versioned machine `q35` stands for. */
export function parseQ35Machine(help: string): string | undefined {
  return /^q35\s.*\(alias of (pc-q35-[\d.]+)\)/m.exec(help)?.[1] ?? /^(pc-q35-[\d.]+)\s/m.exec(help)?.[1];
}

/**
 * Runs the host's x86_64 QEMU (Debian's and Fedora's name, or RHEL's qemu-kvm) with the arguments
 * given as positional parameters. Exported for the host readiness probe.
 */
export const RUN_QEMU = `for q in qemu-system-x86_64 /usr/libexec/qemu-kvm /usr/bin/qemu-kvm; do
  if command -v "$q" >/dev/null 2>&1; then exec "$q" "$@"; fi
done
echo "no qemu-system-x86_64 on this host" >&2; exit 127`;

/** The host's current q35 machine type, e.g. pc-q35-7.2. */
export async function q35Machine(host: Host): Promise<string> {
  const r = await host.check(["sh", "-c", RUN_QEMU, "sh", "-machine", "help"], "qemu -machine help");
  const machine = parseQ35Machine(r.stdout);
  if (machine === undefined) throw new OvmfError(`QEMU on ${host.target} offers no q35 machine type`);
  return machine;
}

export interface FileFacts {
  size: number;
  sha256: string;
}

/** Size and sha256 of a file on the host (following symlinks); a clear error when it is missing. */
export async function fileFacts(host: Host, path: string, role: string): Promise<FileFacts> {
  const info = await stat(host, path);
  if (info === undefined) throw new OvmfError(`${role} ${path} does not exist on ${host.target}`);
  return { size: info.size, sha256: await sha256(host, path) };
}
