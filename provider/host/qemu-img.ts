/**
 * What `qemu-img info --output=json` says about disk images: their real format and backing chain.
 * Pure parsing of what `disk-images.ts` reads on the host; nothing here guesses a format.
 */

/** One image of a backing chain, as qemu-img describes it. */
export interface ImageInfo {
  filename: string;
  /** qemu-img's format name: raw, qcow2, vmdk, ... */
  format: string;
  /** The image's backing file: as recorded in it, as qemu-img resolves it, and its recorded format. */
  backing?: { recorded: string; full: string; format?: string };
}

/** What the host says about one disk path. */
export type DiskImageReport =
  | { status: "missing" }
  /** The image and every backing file below it (`chain[0]` is the image itself). */
  | { status: "image"; chain: [ImageInfo, ...ImageInfo[]] }
  /** The image reads, but a file of its backing chain does not; `error` is qemu-img's. */
  | { status: "broken-chain"; image: ImageInfo; error: string }
  | { status: "unreadable"; error: string };

/** The reports for the paths asked, in order; `qemuImg: false` when the host has no qemu-img. */
export type DiskImagesReading = { qemuImg: false } | { qemuImg: true; reports: DiskImageReport[] };

/** The first line of qemu-img's complaint, without its program-name prefix. */
export function qemuImgMessage(stderr: string): string {
  const line = stderr.split("\n").map((l) => l.trim()).find((l) => l !== "") ?? "";
  // qemu-img repeats the open that failed for each layer: "Could not open 'x': Could not open 'x': ...".
  return line.replace(/^qemu-img: /, "").replace(/(Could not open '[^']*': )\1+/g, "$1") || "(no output)";
}

const text = (o: Record<string, unknown>, key: string): string | undefined => (typeof o[key] === "string" ? o[key] : undefined);

/** One image object of `qemu-img info --output=json`. Throws when it is not one. */
export function parseImageInfo(value: unknown): ImageInfo {
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new Error("qemu-img info printed no image object");
  const o = value as Record<string, unknown>;
  const filename = text(o, "filename");
  const format = text(o, "format");
  if (filename === undefined || format === undefined) throw new Error("qemu-img info printed an image without filename or format");
  const recorded = text(o, "backing-filename");
  if (recorded === undefined) return { filename, format };
  const backingFormat = text(o, "backing-filename-format");
  return { filename, format, backing: { recorded, full: text(o, "full-backing-filename") ?? recorded, ...(backingFormat === undefined ? {} : { format: backingFormat }) } };
}

/** `qemu-img info --output=json [--backing-chain]`: one image object, or the chain as an array. */
export function parseImageChain(json: string): [ImageInfo, ...ImageInfo[]] {
  const value: unknown = JSON.parse(json);
  const [top, ...below] = (Array.isArray(value) ? value : [value]).map(parseImageInfo);
  if (top === undefined) throw new Error("qemu-img info printed an empty backing chain");
  return [top, ...below];
}

/**
 * The records `disk-images.ts` prints: `no-qemu-img`, or per path a status and its fields, split by
 * \036 and ended by \035 (qemu-img's JSON escapes control characters; its stderr has them removed).
 */
export function parseDiskImages(out: string, count: number): DiskImagesReading {
  if (out.startsWith("no-qemu-img")) return { qemuImg: false };
  const records = out.split("\u001d").slice(0, -1);
  if (records.length !== count) throw new Error(`reading ${count} disk images printed ${records.length} records`);
  const reports = records.map((rec): DiskImageReport => {
    const [status = "", first = "", second = ""] = rec.split("\u001e");
    switch (status) {
      case "missing":
        return { status: "missing" };
      case "chain":
        return { status: "image", chain: parseImageChain(first) };
      case "broken":
        return { status: "broken-chain", image: parseImageInfo(JSON.parse(first)), error: qemuImgMessage(second) };
      case "error":
        return { status: "unreadable", error: qemuImgMessage(first) };
      default:
        throw new Error(`reading disk images printed an unknown record ${JSON.stringify(status.slice(0, 20))}`);
    }
  });
  return { qemuImg: true, reports };
}
