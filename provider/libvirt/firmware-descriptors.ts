/**
 * QEMU firmware descriptors (docs/interop/firmware.json): which OVMF build pairs with which vars
 * template, for which machines, with which features. Pure: the host I/O is in ./host-firmware.ts.
 */

/** A descriptor file as read from a host: where it was found and its text (empty = masks). */
export interface DescriptorFile {
  /** Search directory it came from, e.g. /usr/share/qemu/firmware. */
  dir: string;
  /** File name, e.g. 40-edk2-x86_64-secure-enrolled.json. */
  name: string;
  text: string;
}

/** The firmware a descriptor describes, in the shape the resources use. */
export interface ResolvedFirmware {
  /** Path of the descriptor used. */
  descriptor: string;
  description: string;
  codePath: string;
  codeFormat: string;
  varsTemplatePath: string;
  varsTemplateFormat: string;
  features: string[];
}

/** Feature requirements: true = must have, false = must not have, undefined = either. */
export interface FeatureRequest {
  secureBoot?: boolean;
  enrolledKeys?: boolean;
}

/** Search directories, highest priority first (QEMU's order, without the per-user one). */
export const DEFAULT_SEARCH_PATH = ["/etc/qemu/firmware", "/usr/share/qemu/firmware"];

interface Descriptor {
  description?: string;
  "interface-types"?: string[];
  mapping?: {
    device?: string;
    mode?: string;
    executable?: { filename?: string; format?: string };
    "nvram-template"?: { filename?: string; format?: string };
  };
  targets?: Array<{ architecture?: string; machines?: string[] }>;
  features?: string[];
}

/**
 * Applies QEMU's override rules: files are merged by name across the search path (the first
 * directory that has a name wins), an empty file hides that name, and the rest sort by name.
 */
export function effectiveDescriptors(files: readonly DescriptorFile[], searchPath: readonly string[]): DescriptorFile[] {
  const byName = new Map<string, DescriptorFile>();
  for (const dir of searchPath) {
    for (const f of files.filter((x) => x.dir === dir && x.name.endsWith(".json"))) {
      if (!byName.has(f.name)) byName.set(f.name, f);
    }
  }
  return [...byName.values()].filter((f) => f.text.trim() !== "").sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

function globMatch(glob: string, value: string): boolean {
  const re = new RegExp("^" + glob.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".") + "$");
  return re.test(value);
}

/** The firmware a descriptor offers for the request, or why it does not fit. */
function fit(d: Descriptor, path: string, machine: string, want: FeatureRequest): ResolvedFirmware | string {
  if (!(d["interface-types"] ?? []).includes("uefi")) return "not UEFI";
  const m = d.mapping;
  if (m?.device !== "flash") return `device ${m?.device ?? "(none)"}, not flash`;
  if ((m.mode ?? "split") !== "split") return `flash mode ${m.mode}, not split`;
  const code = m.executable?.filename;
  const vars = m["nvram-template"]?.filename;
  if (code === undefined || vars === undefined) return "no executable or nvram-template";
  const targets = (d.targets ?? []).filter((t) => t.architecture === "x86_64");
  if (!targets.some((t) => (t.machines ?? []).some((g) => globMatch(g, machine)))) return `not for x86_64 ${machine}`;
  const has = new Set(d.features ?? []);
  for (const [key, feature] of [["secureBoot", "secure-boot"], ["enrolledKeys", "enrolled-keys"]] as const) {
    if (want[key] === true && !has.has(feature)) return `no ${feature}`;
    if (want[key] === false && has.has(feature)) return `has ${feature}`;
  }
  return {
    descriptor: path,
    description: d.description ?? "",
    codePath: code,
    codeFormat: m.executable?.format ?? "raw",
    varsTemplatePath: vars,
    varsTemplateFormat: m["nvram-template"]?.format ?? "raw",
    features: [...has].sort(),
  };
}

export class NoMatchingFirmwareError extends Error {
  override name = "NoMatchingFirmwareError";
}

/**
 * Picks the first effective descriptor (by file name) for UEFI on `machine` (e.g. pc-q35-7.2),
 * split flash, with the requested features. The error lists every descriptor and why it did not fit.
 */
export function selectFirmware(files: readonly DescriptorFile[], searchPath: readonly string[], machine: string, want: FeatureRequest): ResolvedFirmware {
  const reasons: string[] = [];
  for (const f of effectiveDescriptors(files, searchPath)) {
    const path = `${f.dir}/${f.name}`;
    let d: Descriptor;
    try {
      d = JSON.parse(f.text) as Descriptor;
    } catch {
      reasons.push(`${path}: not valid JSON`);
      continue;
    }
    const result = fit(d, path, machine, want);
    if (typeof result !== "string") return result;
    reasons.push(`${path}: ${result}`);
  }
  const wanted = Object.entries(want).filter(([, v]) => v !== undefined).map(([k, v]) => `${k}: ${String(v)}`).join(", ") || "no feature requirements";
  const found = reasons.length === 0 ? `no descriptors in ${searchPath.join(", ")}` : reasons.join("; ");
  throw new NoMatchingFirmwareError(
    `no QEMU firmware descriptor matches UEFI, split flash, x86_64 ${machine}, ${wanted}. Found: ${found}. ` +
      `Install the distribution's OVMF package (Debian: ovmf), relax the feature request, or give codePath and varsTemplatePath (SecureBootVm: firmware, a FirmwareImage with them).`,
  );
}
