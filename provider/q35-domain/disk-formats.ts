/**
 * Disk formats are read from the files, never guessed: a qcow2 image attached as raw shows the guest
 * the qcow2 container, and the guest's writes destroy the image. Pure rules over what qemu-img read
 * on the host (`../host/disk-images.ts`); `disk-check.ts` runs them at preview and before a define.
 *
 * A format, once known, is recorded in the stack (check returns the inputs with it filled in, the
 * operations their outputs) and sticks to its path: it is not read again while the disk stays, so
 * an unchanged preview needs no SSH, and a guest that writes a qcow2 header into its raw disk cannot
 * make the next definition qcow2 (the classic format-probing hole).
 */
import type { DiskImagesReading, DiskImageReport, ImageInfo } from "../host/qemu-img.js";
import type { Failure } from "../ssh/connection.js";
import type { DiskSpec } from "./spec.js";

type Format = NonNullable<DiskSpec["format"]>;
const ATTACHABLE: readonly string[] = ["raw", "qcow2"] satisfies Format[];

/**
 * `news` with each undeclared format taken from the old disk at the same path. `undeclaredOld`:
 * what an old disk without a format stands for: nothing (old inputs whose format was never read),
 * or "raw" (old outputs: before formats were read, every disk was defined raw). Pure.
 */
export function withRecordedFormats(olds: readonly DiskSpec[] | undefined, news: readonly DiskSpec[], undeclaredOld?: "raw"): DiskSpec[] {
  return news.map((d) => {
    if (d.format !== undefined) return d;
    const old = olds?.find((o) => o.path === d.path);
    const format = old === undefined ? undefined : (old.format ?? undeclaredOld);
    return format === undefined ? d : { ...d, format };
  });
}

/** Indexes of the disks to read on the host: all but those an old disk at the same path already had so. Pure. */
export function disksToRead(olds: readonly DiskSpec[] | undefined, news: readonly DiskSpec[]): number[] {
  return news.flatMap((d, i) => (olds?.some((o) => o.path === d.path && o.format === d.format) === true ? [] : [i]));
}

const canonical = (d: DiskSpec) => JSON.stringify(Object.entries(d).sort(([a], [b]) => a.localeCompare(b)));

/**
 * Whether old outputs and new inputs describe the same disks, for the diff: an undeclared new
 * format is the recorded one, an old disk without one was defined raw. Pure.
 */
export function sameDisks(olds: readonly DiskSpec[] | undefined, news: readonly DiskSpec[] | undefined): boolean {
  const o = (olds ?? []).map((d) => canonical({ ...d, format: d.format ?? "raw" }));
  const n = withRecordedFormats(olds, news ?? [], "raw").map((d) => canonical({ ...d, format: d.format ?? "raw" }));
  return JSON.stringify(o) === JSON.stringify(n);
}

export const NO_QEMU_IMG =
  "is where the provider reads each disk's format (qemu-img info), and it has no qemu-img: install it there " +
  "(Debian/Ubuntu: apt-get install qemu-utils; Fedora/RHEL: dnf install qemu-img)";

/** The failures of one image's backing chain: each file in it must record its backing file's format. */
function chainFailures(property: string, path: string, target: string, chain: readonly ImageInfo[]): Failure[] {
  return chain.flatMap((img, k) => {
    if (img.backing === undefined || img.backing.format !== undefined) return [];
    const backingFormat = chain[k + 1]?.format ?? "<its format>";
    const whose = k === 0 ? `${path}` : `${img.filename} (in the backing chain of ${path})`;
    return [
      {
        property,
        reason:
          `${whose} on ${target} is an overlay of ${img.backing.full} that records no backing format, so libvirt would guess it by probing ` +
          `(and refuses to start the domain when the backing file is an overlay itself): record it with qemu-img rebase -u -F ${backingFormat} -b ${img.backing.recorded} ${img.filename}`,
      },
    ];
  });
}

/** The failures of disk `i` and its format as the host has it, when it has one a domain can attach. */
function judgeOne(disk: DiskSpec, i: number, report: DiskImageReport, target: string, recorded: boolean): { format?: Format; failures: Failure[] } {
  const pathProperty = `disks[${i}].path`;
  const path = disk.path;
  if (report.status === "missing") {
    return { failures: [{ property: pathProperty, reason: `no file at ${path} on ${target}: create the image first (e.g. qemu-img create -f qcow2 ${path} 20G), or fix the path` }] };
  }
  if (report.status === "unreadable") return { failures: [{ property: pathProperty, reason: `qemu-img cannot read ${path} on ${target} (${report.error}): fix the file or the path` }] };
  const image = report.status === "image" ? report.chain[0] : report.image;
  const real = image.format;
  const failures: Failure[] = [];
  if (disk.format !== undefined && disk.format !== real) {
    const harm = disk.format === "raw" ? `the guest would see the ${real} container as its disk, and its writes would destroy the image` : `QEMU cannot open it as ${disk.format}`;
    const fix = !ATTACHABLE.includes(real)
      ? `Convert it (qemu-img convert -O qcow2 ${path} NEW.qcow2) and attach the copy`
      : recorded
        ? `If the file really is ${real} now, set format: "${real}" (the domain restarts with it)`
        : `Set format: "${real}", or leave format out to have it read from the file`;
    const what = recorded ? `disks[${i}] is attached as "${disk.format}" (the format recorded for it)` : `disks[${i}].format is "${disk.format}"`;
    failures.push({ property: `disks[${i}].format`, reason: `${what}, but ${path} on ${target} is a ${real} image: ${harm}. ${fix}` });
  } else if (!ATTACHABLE.includes(real)) {
    failures.push({ property: pathProperty, reason: `${path} on ${target} is a ${real} image, and a Q35Domain attaches raw and qcow2 images: convert it (qemu-img convert -O qcow2 ${path} NEW.qcow2) and attach the copy` });
  }
  if (report.status === "broken-chain") {
    failures.push({
      property: pathProperty,
      reason:
        `${path} on ${target} is a ${real} overlay of ${image.backing?.full ?? "a backing file"}, and its backing chain does not open (${report.error}): ` +
        `restore the missing file, or point the overlay at the right one with qemu-img rebase -u -F <its format> -b <backing file> ${path}`,
    });
  } else if (report.status === "image") {
    failures.push(...chainFailures(pathProperty, path, target, report.chain));
  }
  return ATTACHABLE.includes(real) ? { format: real as Format, failures } : { failures };
}

/**
 * Judges what the host read for `disks[indexes[k]]` (report k): the failures, each naming the disk's
 * property, the file and the fix, and the disks with their real formats filled in. `recorded`: the
 * disks whose format came from the stack rather than the program. Pure.
 */
export function judgeDisks(
  disks: readonly DiskSpec[],
  indexes: readonly number[],
  reading: DiskImagesReading,
  target: string,
  recorded: ReadonlySet<number> = new Set(),
): { disks: DiskSpec[]; failures: Failure[] } {
  if (!reading.qemuImg) {
    // Without qemu-img only what the program declares is used: a format is never guessed.
    const undeclared = indexes.filter((i) => disks[i] !== undefined && (disks[i]?.format === undefined || recorded.has(i)));
    return {
      disks: [...disks],
      failures: undeclared.map((i) => ({ property: `disks[${i}].format`, reason: `${target} ${NO_QEMU_IMG}, or declare disks[${i}].format ("raw" or "qcow2", what the file really is)` })),
    };
  }
  const out = [...disks];
  const failures: Failure[] = [];
  indexes.forEach((i, k) => {
    const disk = disks[i];
    const report = reading.reports[k];
    if (disk === undefined || report === undefined) return;
    const judged = judgeOne(disk, i, report, target, recorded.has(i));
    failures.push(...judged.failures);
    if (judged.format !== undefined && disk.format === undefined) out[i] = { ...disk, format: judged.format };
  });
  return { disks: out, failures };
}
