import { OvmfError } from "../errors.js";
import { readDiskImages } from "../host/disk-images.js";
import { Host } from "../host/host.js";
import { hasUnknowns } from "../inputs.js";
import { identity, type Failure } from "../ssh/connection.js";
import { disksToRead, judgeDisks, withRecordedFormats } from "./disk-formats.js";
import type { DiskSpec, DomainInputs } from "./spec.js";

const sameHost = (olds: Partial<DomainInputs> | undefined, news: DomainInputs) => olds?.connection !== undefined && identity(olds.connection) === identity(news.connection);

/**
 * At preview (check): each disk's real format, read on the host only for disks that are new or
 * changed since the old inputs (or all, on create or another host), so that an unchanged preview
 * opens no SSH connection. Returns the disks with their formats filled in (the stack records them)
 * and the failures. Skipped while the connection or the disks are unknown, and when the host cannot
 * be reached: the operation reads them again before it defines anything.
 */
export async function checkDiskFormats(olds: Partial<DomainInputs> | undefined, news: DomainInputs): Promise<{ disks?: DiskSpec[]; failures: Failure[] }> {
  const disks = news.disks;
  if (disks === undefined || disks.length === 0 || hasUnknowns([news.connection, disks])) return { failures: [] };
  const previous = sameHost(olds, news) ? olds?.disks : undefined;
  const filled = withRecordedFormats(previous, disks);
  const indexes = disksToRead(previous, filled);
  if (indexes.length === 0) return { disks: filled, failures: [] };
  const host = new Host(news.connection);
  const reading = await readDiskImages(host, filled.filter((_, i) => indexes.includes(i)).map((d) => d.path)).catch((err: unknown) => {
    if (err instanceof OvmfError) return undefined;
    throw err;
  });
  return reading === undefined ? { disks: filled, failures: [] } : judgeDisks(filled, indexes, reading, host.target);
}

/**
 * Before create or update defines anything: the real format of every disk that is new or changed
 * (all of them on create or another host), read on the host (one remote command). An undeclared
 * format is the one recorded for that path in `olds` (the outputs, on the same host), else the
 * file's; any problem throws, naming each disk's property and the fix. A disk the domain already
 * has, unchanged, is not read again: what its guest wrote into it (a raw disk may hold anything,
 * a qcow2 header too) must not block an update of something else.
 */
export async function withDiskFormats(inputs: DomainInputs, olds?: DomainInputs): Promise<DomainInputs> {
  const given = inputs.disks ?? [];
  if (given.length === 0) return inputs;
  const previous = sameHost(olds, inputs) ? olds?.disks : undefined;
  const disks = withRecordedFormats(previous, given, "raw");
  // Also read: a disk a stack from before format reading recorded without one (defined as raw).
  const unrecorded = withRecordedFormats(previous, given).flatMap((d, i) => (d.format === undefined ? [i] : []));
  const indexes = olds === undefined ? disks.map((_, i) => i) : [...new Set([...disksToRead(previous, disks), ...unrecorded])].sort((x, y) => x - y);
  if (indexes.length === 0) return { ...inputs, disks };
  const host = new Host(inputs.connection);
  const recorded = new Set(disks.flatMap((d, i) => (d.format !== undefined && given[i]?.format === undefined ? [i] : [])));
  const reading = await readDiskImages(host, disks.filter((_, i) => indexes.includes(i)).map((d) => d.path));
  const judged = judgeDisks(disks, indexes, reading, host.target, recorded);
  if (judged.failures.length > 0) {
    throw new OvmfError(`domain "${inputs.name}" cannot use its disks on ${host.target}, so nothing was changed: ${judged.failures.map((f) => `${f.property}: ${f.reason}`).join("; ")}`);
  }
  return { ...inputs, disks: judged.disks };
}
