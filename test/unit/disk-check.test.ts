import { beforeEach, describe, expect, it, vi } from "vitest";
import { readDiskImages } from "../../provider/host/disk-images.js";
import type { DiskImageReport } from "../../provider/host/qemu-img.js";
import { SshConnectionError } from "../../provider/errors.js";
import { checkDiskFormats, withDiskFormats } from "../../provider/q35-domain/disk-check.js";
import type { DomainInputs } from "../../provider/q35-domain/spec.js";

// The host's answers, without a host: what matters here is when the provider asks at all.
vi.mock("../../provider/host/disk-images.js", () => ({ readDiskImages: vi.fn() }));
const read = vi.mocked(readDiskImages);
const image = (filename: string, format: string): DiskImageReport => ({ status: "image", chain: [{ filename, format }] });

const connection = { host: "kvm1.example.com", hostKey: "SHA256:x", privateKey: "k" };
const inputs = (disks: DomainInputs["disks"], host = "kvm1.example.com") => ({ connection: { ...connection, host }, name: "web", disks }) as unknown as DomainInputs;

describe("Q35Domain check reads disk formats only when the disks changed", () => {
  beforeEach(() => read.mockReset());

  it("on create: every disk is read, and the formats come back filled in for the stack to record", async () => {
    read.mockResolvedValue({ qemuImg: true, reports: [image("/i/web.qcow2", "qcow2")] });
    expect(await checkDiskFormats(undefined, inputs([{ path: "/i/web.qcow2" }]))).toEqual({ disks: [{ path: "/i/web.qcow2", format: "qcow2" }], failures: [] });
    expect(read).toHaveBeenCalledTimes(1);
  });

  it("an unchanged preview asks the host nothing (no SSH), and keeps the recorded formats", async () => {
    const olds = inputs([{ path: "/i/web.qcow2", format: "qcow2" }]);
    expect(await checkDiskFormats(olds, inputs([{ path: "/i/web.qcow2" }]))).toEqual({ disks: [{ path: "/i/web.qcow2", format: "qcow2" }], failures: [] });
    expect(read).not.toHaveBeenCalled();
  });

  it("a disk added is read alone, in one command; another host reads them all", async () => {
    read.mockResolvedValue({ qemuImg: true, reports: [{ status: "missing" }] });
    const olds = inputs([{ path: "/i/web.qcow2", format: "qcow2" }]);
    const r = await checkDiskFormats(olds, inputs([{ path: "/i/web.qcow2" }, { path: "/i/data.img" }]));
    expect(read.mock.calls.map((c) => c[1])).toEqual([["/i/data.img"]]);
    expect(r.failures.map((f) => f.property)).toEqual(["disks[1].path"]);
    read.mockResolvedValue({ qemuImg: true, reports: [image("/i/web.qcow2", "qcow2")] });
    await checkDiskFormats(olds, inputs([{ path: "/i/web.qcow2" }], "kvm2.example.com"));
    expect(read.mock.calls[1]?.[1]).toEqual(["/i/web.qcow2"]);
  });

  it("an unreachable host skips the check at preview; unknown disks are not read", async () => {
    read.mockRejectedValue(new SshConnectionError("root@kvm1:22", "connect ECONNREFUSED"));
    expect(await checkDiskFormats(undefined, inputs([{ path: "/i/web.qcow2" }]))).toEqual({ disks: [{ path: "/i/web.qcow2" }], failures: [] });
    read.mockReset();
    await checkDiskFormats(undefined, inputs([{ path: "04da6b54-80e4-46f7-96ec-b56ff0331ba9" }]));
    expect(read).not.toHaveBeenCalled();
  });
});

describe("create and update read every disk before anything is defined", () => {
  beforeEach(() => read.mockReset());

  it("fills undeclared formats from the files, keeps the ones recorded for a path, and refuses what does not match", async () => {
    read.mockResolvedValue({ qemuImg: true, reports: [image("/i/web.qcow2", "qcow2"), image("/i/old.img", "qcow2")] });
    // An old disk without a recorded format was defined raw: it stays raw, and a file that now
    // reads as qcow2 (a guest can write a qcow2 header into its raw disk) is refused, not followed.
    const olds = inputs([{ path: "/i/old.img" }]);
    await expect(withDiskFormats(inputs([{ path: "/i/web.qcow2" }, { path: "/i/old.img" }]), olds)).rejects.toThrow(
      /^domain "web" cannot use its disks on .*, so nothing was changed: disks\[1\]\.format: disks\[1\] is attached as "raw" \(the format recorded for it\), but \/i\/old\.img on .* is a qcow2 image: .* If the file really is qcow2 now, set format: "qcow2"/,
    );
    read.mockResolvedValue({ qemuImg: true, reports: [image("/i/web.qcow2", "qcow2")] });
    expect((await withDiskFormats(inputs([{ path: "/i/web.qcow2" }]))).disks).toEqual([{ path: "/i/web.qcow2", format: "qcow2" }]);
    read.mockResolvedValue({ qemuImg: false });
    await expect(withDiskFormats(inputs([{ path: "/i/web.qcow2" }]))).rejects.toThrow(/disks\[0\]\.format: .* has no qemu-img: install it there \(Debian\/Ubuntu: apt-get install qemu-utils; .*\), or declare disks\[0\]\.format/);
    // A format the program declares is used as it is: nothing is guessed.
    expect((await withDiskFormats(inputs([{ path: "/i/web.qcow2", format: "qcow2" }]))).disks).toEqual([{ path: "/i/web.qcow2", format: "qcow2" }]);
  });
});
