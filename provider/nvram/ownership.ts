import { warn } from "../engine-log.js";
import { OvmfError } from "../errors.js";
import { writeFileAtomic } from "../host/files.js";
import { Host } from "../host/host.js";
import { hasUnknowns } from "../inputs.js";
import { describeOwner, judge, ownedByAnother, parseMarkFile, renderMarkFile, type OwnerMark } from "../owner.js";
import type { Failure } from "../ssh/connection.js";
import type { NvramInputs, NvramOutputs } from "./model.js";

/** The owner mark of an NVRAM file lies beside it (libvirt ignores other files in its nvram directory). */
export const MARK_SUFFIX = ".pulumi-ovmf-owner";
export const markPathOf = (path: string): string => `${path}${MARK_SUFFIX}`;
export const MARK_MODE = "600";

/** The mark a create writes (or finds, for its own leftover), as a companion file of the copy. */
export function markFile(path: string, mark: OwnerMark): { path: string; content: string } {
  return { path: markPathOf(path), content: renderMarkFile(mark) };
}

// Whether the file exists, and its mark if it has one, in one command.
const LOOK = `if [ -e "$1" ]; then echo exists; if [ -f "$2" ]; then cat -- "$2"; fi; fi`;

/** Whether an NVRAM file exists on the host, and its owner mark. */
export async function lookAt(host: Host, path: string): Promise<{ exists: boolean; mark?: OwnerMark }> {
  const r = await host.check(["sh", "-c", LOOK, "sh", path, markPathOf(path)], `look at ${path}`);
  if (!r.stdout.startsWith("exists")) return { exists: false };
  const mark = parseMarkFile(r.stdout.slice("exists\n".length));
  return { exists: true, ...(mark === undefined ? {} : { mark }) };
}

/** Writes (or rewrites) the owner mark beside the file. */
export async function writeMark(host: Host, path: string, mark: OwnerMark): Promise<void> {
  await writeFileAtomic(host, markPathOf(path), Buffer.from(renderMarkFile(mark)), { mode: MARK_MODE, mkdir: true });
}

/**
 * Why a create must not take over the file already at its path, or undefined when it may: its own
 * leftover (an earlier create of this resource), or adopt. Pure.
 */
export function fileTakeoverRefusal(found: OwnerMark | undefined, inputs: NvramInputs, target: string): string | undefined {
  const finding = judge(found, inputs.owner);
  if (finding === "leftover" || inputs.adopt === true) return undefined;
  const where = `the NVRAM file ${inputs.path} on ${target}`;
  if (finding === "foreign" && found !== undefined) {
    return `${where} belongs to ${describeOwner(found)}. Give this Nvram another path (SecureBootVm: nvramPath, or another name), or set adopt: true to take the file over on purpose (that stack still lists it; its pulumi destroy then leaves it in place)`;
  }
  return (
    `${where} already exists and no Nvram marked it as its own (made by hand, by another tool, or by a pulumi-ovmf before owner marks): ` +
    `it may be another VM's UEFI variables. Set adopt: true to take it over as it is (its variables kept), or give this Nvram another path (SecureBootVm: nvramPath, or another name)`
  );
}

/** At create: refuses the file, or warns that it is taken over from another resource. */
export async function requireFileTakeover(host: Host, found: OwnerMark | undefined, inputs: NvramInputs): Promise<void> {
  const refusal = fileTakeoverRefusal(found, inputs, host.target);
  if (refusal !== undefined) throw new OvmfError(`${refusal}. Nothing was changed.`);
  if (found !== undefined && judge(found, inputs.owner) === "foreign") {
    await warn(`Nvram ${inputs.path}: taking over the file on ${host.target} from ${describeOwner(found)} (adopt: true). That stack still lists it; its pulumi destroy will leave it in place.`);
  }
}

/**
 * At preview, a create whose file another resource owns (or nobody marked) fails there, when
 * the host answers; the create checks again. An unchanged preview opens no connection.
 */
export async function takenPathFailures(olds: Partial<NvramInputs>, inputs: NvramInputs): Promise<Failure[]> {
  // A new path or host of an existing Nvram is a move, which refuses a file already there itself.
  if (olds.connection !== undefined || hasUnknowns([inputs.connection, inputs.path, inputs.owner, inputs.adopt])) return [];
  const host = new Host(inputs.connection);
  const found = await lookAt(host, inputs.path).catch(() => ({ exists: false }) as { exists: boolean; mark?: OwnerMark });
  if (!found.exists) return [];
  const refusal = fileTakeoverRefusal(found.mark, inputs, host.target);
  return refusal === undefined ? [] : [{ property: "path", reason: refusal }];
}

/** A move, reset or key change of a file another resource took over is refused. */
export async function requireOwned(host: Host, olds: NvramOutputs, operation: string): Promise<void> {
  const found = await lookAt(host, olds.path);
  if (found.exists && ownedByAnother(found.mark, olds.ownerId) && found.mark !== undefined) {
    throw new OvmfError(`cannot ${operation} NVRAM ${olds.path} on ${host.target}: it now belongs to ${describeOwner(found.mark)} (taken over with adopt). Remove this Nvram from the stack (pulumi state delete), or take it back with adopt on a new Nvram.`);
  }
}
