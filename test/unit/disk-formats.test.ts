import { readFileSync } from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { parseDiskImages, qemuImgMessage, type ImageInfo } from "../../provider/host/qemu-img.js";
import { classify } from "../../provider/q35-domain/classify.js";
import { disksToRead, judgeDisks, sameDisks, withRecordedFormats } from "../../provider/q35-domain/disk-formats.js";
import type { DiskSpec, DomainInputs } from "../../provider/q35-domain/spec.js";

const T = "root@kvm1:22";
const D = "/var/tmp/ovmf-qi";
// What provider/host/disk-images.ts printed on the test host (qemu-img 7.2, Debian 12) for these
// files, made with `qemu-img create`: a raw image, a qcow2 image, an overlay of it with its backing
// format, an overlay whose backing file is gone, an overlay that records no backing format (the
// format's header extension overwritten, as qemu-img before 6.1 wrote them), and no file at all.
const NAMES = ["base.raw", "disk.qcow2", "over.qcow2", "over-missing.qcow2", "over-nofmt.qcow2", "nothere.img"];
const RECORDS = readFileSync(path.join(__dirname, "golden/qemu-img-info.records"), "utf8");
const reading = parseDiskImages(RECORDS, NAMES.length);
const disks: DiskSpec[] = NAMES.map((n) => ({ path: `${D}/${n}` }));
const all = NAMES.map((_, i) => i);

describe("qemu-img info, as read on the host", () => {
  it("parses each image's real format and backing chain", () => {
    if (!reading.qemuImg) throw new Error("expected qemu-img");
    const [raw, qcow2, over, missingBacking, noFormat, missing] = reading.reports;
    expect(raw).toEqual({ status: "image", chain: [{ filename: `${D}/base.raw`, format: "raw" }] });
    expect(qcow2).toEqual({ status: "image", chain: [{ filename: `${D}/disk.qcow2`, format: "qcow2" }] });
    expect(over).toEqual({
      status: "image",
      chain: [
        { filename: `${D}/over.qcow2`, format: "qcow2", backing: { recorded: `${D}/disk.qcow2`, full: `${D}/disk.qcow2`, format: "qcow2" } },
        { filename: `${D}/disk.qcow2`, format: "qcow2" },
      ],
    });
    expect(missingBacking).toEqual({
      status: "broken-chain",
      image: { filename: `${D}/over-missing.qcow2`, format: "qcow2", backing: { recorded: `${D}/gone.qcow2`, full: `${D}/gone.qcow2`, format: "qcow2" } },
      error: `Could not open '${D}/gone.qcow2': No such file or directory`,
    });
    expect(noFormat?.status === "image" && noFormat.chain[0]?.backing).toEqual({ recorded: `${D}/disk.qcow2`, full: `${D}/disk.qcow2` });
    expect(missing).toEqual({ status: "missing" });
  });

  it("knows a host without qemu-img, and refuses output that lost records", () => {
    expect(parseDiskImages("no-qemu-img\n", 2)).toEqual({ qemuImg: false });
    expect(() => parseDiskImages(RECORDS, NAMES.length + 1)).toThrow(/printed 6 records/);
    expect(qemuImgMessage("qemu-img: Could not open '/x': 'file' driver requires '/x' to be a regular file\n")).toBe("Could not open '/x': 'file' driver requires '/x' to be a regular file");
  });
});

describe("disk formats are read, never guessed", () => {
  const judged = judgeDisks(disks, all, reading, T);
  const byProperty = (p: string) => judged.failures.filter((f) => f.property === p).map((f) => f.reason);

  it("an undeclared format is the file's", () => {
    expect(judged.disks.map((d) => d.format)).toEqual(["raw", "qcow2", "qcow2", "qcow2", "qcow2", undefined]);
    expect(judgeDisks([disks[1]!], [0], { qemuImg: true, reports: [reading.qemuImg ? reading.reports[1]! : { status: "missing" }] }, T)).toEqual({ disks: [{ path: `${D}/disk.qcow2`, format: "qcow2" }], failures: [] });
  });

  it("a declared format that is not the file's fails on disks[i].format, naming the real one", () => {
    const wrong = judgeDisks([{ path: `${D}/disk.qcow2`, format: "raw" }, { path: `${D}/base.raw`, format: "qcow2" }], [0, 1], { qemuImg: true, reports: reading.qemuImg ? [reading.reports[1]!, reading.reports[0]!] : [] }, T);
    expect(wrong.failures).toEqual([
      {
        property: "disks[0].format",
        reason: `disks[0].format is "raw", but ${D}/disk.qcow2 on ${T} is a qcow2 image: the guest would see the qcow2 container as its disk, and its writes would destroy the image. Set format: "qcow2", or leave format out to have it read from the file`,
      },
      { property: "disks[1].format", reason: `disks[1].format is "qcow2", but ${D}/base.raw on ${T} is a raw image: QEMU cannot open it as qcow2. Set format: "raw", or leave format out to have it read from the file` },
    ]);
  });

  it("a missing file fails on disks[i].path, naming the host", () => {
    expect(byProperty("disks[5].path")).toEqual([`no file at ${D}/nothere.img on ${T}: create the image first (e.g. qemu-img create -f qcow2 ${D}/nothere.img 20G), or fix the path`]);
  });

  it("an overlay whose backing file is gone names the file and the rebase that fixes it", () => {
    const [reason] = byProperty("disks[3].path");
    expect(reason).toContain(`${D}/over-missing.qcow2 on ${T} is a qcow2 overlay of ${D}/gone.qcow2`);
    expect(reason).toContain(`Could not open '${D}/gone.qcow2': No such file or directory`);
    expect(reason).toContain(`qemu-img rebase -u -F <its format> -b <backing file> ${D}/over-missing.qcow2`);
  });

  it("an overlay that records no backing format gets the exact rebase, with the format qemu-img found", () => {
    expect(byProperty("disks[4].path")).toEqual([
      `${D}/over-nofmt.qcow2 on ${T} is an overlay of ${D}/disk.qcow2 that records no backing format, so libvirt would guess it by probing ` +
        `(and refuses to start the domain when the backing file is an overlay itself): record it with qemu-img rebase -u -F qcow2 -b ${D}/disk.qcow2 ${D}/over-nofmt.qcow2`,
    ]);
    // The good ones pass.
    for (const i of [0, 1, 2]) expect(byProperty(`disks[${i}].path`).concat(byProperty(`disks[${i}].format`))).toEqual([]);
  });

  it("a deeper file of the chain without its backing format is named as that file", () => {
    const chain: [ImageInfo, ...ImageInfo[]] = [
      { filename: "/i/top.qcow2", format: "qcow2", backing: { recorded: "mid.qcow2", full: "/i/mid.qcow2", format: "qcow2" } },
      { filename: "/i/mid.qcow2", format: "qcow2", backing: { recorded: "base.raw", full: "/i/base.raw" } },
      { filename: "/i/base.raw", format: "raw" },
    ];
    const r = judgeDisks([{ path: "/i/top.qcow2" }], [0], { qemuImg: true, reports: [{ status: "image", chain }] }, T);
    expect(r.failures[0]?.reason).toMatch(/^\/i\/mid\.qcow2 \(in the backing chain of \/i\/top\.qcow2\) on .*qemu-img rebase -u -F raw -b base\.raw \/i\/mid\.qcow2$/);
  });

  it("an image of another format is refused with the conversion, and a host without qemu-img names the package", () => {
    const vmdk = judgeDisks([{ path: "/i/disk.vmdk" }], [0], { qemuImg: true, reports: [{ status: "image", chain: [{ filename: "/i/disk.vmdk", format: "vmdk" }] }] }, T);
    expect(vmdk.failures).toEqual([{ property: "disks[0].path", reason: expect.stringContaining("is a vmdk image, and a Q35Domain attaches raw and qcow2 images: convert it (qemu-img convert -O qcow2 /i/disk.vmdk NEW.qcow2)") }]);
    // Without qemu-img each undeclared format fails on its own property; a declared one is used as it is.
    const none = judgeDisks(disks, all, { qemuImg: false }, T);
    expect(none.failures).toHaveLength(disks.length);
    expect(none.failures[0]?.property).toBe("disks[0].format");
    expect(none.failures[0]?.reason).toContain("it has no qemu-img: install it there (Debian/Ubuntu: apt-get install qemu-utils; Fedora/RHEL: dnf install qemu-img), or declare disks[0].format");
    expect(judgeDisks([{ path: `${D}/disk.qcow2`, format: "qcow2" }], [0], { qemuImg: false }, T).failures).toEqual([]);
  });
});

describe("a format read once is recorded, and sticks to its path", () => {
  const recorded: DiskSpec[] = [{ path: "/i/a.qcow2", format: "qcow2" }, { path: "/i/b.img", format: "raw", bus: "sata" }];

  it("an unchanged disk list needs nothing read; a new path, or a declared format not recorded, does", () => {
    const news: DiskSpec[] = [{ path: "/i/a.qcow2" }, { path: "/i/b.img", bus: "sata" }];
    const filled = withRecordedFormats(recorded, news);
    expect(filled).toEqual(recorded);
    expect(disksToRead(recorded, filled)).toEqual([]);
    expect(disksToRead(recorded, withRecordedFormats(recorded, [...news, { path: "/i/c.qcow2" }]))).toEqual([2]);
    expect(disksToRead(recorded, withRecordedFormats(recorded, [{ path: "/i/a.qcow2", format: "raw" }]))).toEqual([0]);
    expect(disksToRead(undefined, news)).toEqual([0, 1]);
    // Old inputs whose format was never read (the host was unreachable at preview) are not a change.
    expect(disksToRead([{ path: "/i/a.qcow2" }], withRecordedFormats([{ path: "/i/a.qcow2" }], [{ path: "/i/a.qcow2" }]))).toEqual([]);
  });

  it("the diff treats an undeclared format as the recorded one, and an old disk without one as raw", () => {
    const base = { connection: { host: "kvm1" }, memoryMiB: 256, disks: recorded } as unknown as DomainInputs;
    const undeclared = { ...base, disks: [{ path: "/i/a.qcow2" }, { bus: "sata", path: "/i/b.img" }] } as DomainInputs;
    expect(classify(base, undeclared).changed).toEqual([]);
    expect(classify(base, { ...base, disks: [{ path: "/i/a.qcow2", format: "raw" }, recorded[1]!] }).changed).toEqual([{ property: "disks", kind: "restart" }]);
    expect(sameDisks([{ path: "/i/old.img" }], [{ path: "/i/old.img", format: "raw" }])).toBe(true);
    expect(sameDisks([{ path: "/i/old.img" }], [{ path: "/i/old.img", format: "qcow2" }])).toBe(false);
    expect(sameDisks(recorded, [{ path: "/i/a.qcow2" }])).toBe(false);
  });
});
