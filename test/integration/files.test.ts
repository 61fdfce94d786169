import { createHash, randomBytes, randomUUID } from "node:crypto";
import { readdirSync } from "node:fs";
import { Readable } from "node:stream";
import { afterAll, describe, expect, it } from "vitest";
import { RemoteCommandError } from "../../provider/errors.js";
import { copyFile, copyNew, readFile, removeFile, sha256, stat, writeFileAtomic, writeFileFromStream } from "../../provider/host/files.js";
import { Host } from "../../provider/host/host.js";
import { closeAll } from "../../provider/ssh/pool.js";
import { killSshSessionOf, waitForProcess } from "../support/sshd.js";
import { jumpConnection, loadTestHost, testConnection } from "../support/testhost.js";

const th = loadTestHost();
const host = new Host(testConnection(th));
const dir = `/tmp/ovmf-files-${randomUUID()}`;
const hex = (b: Buffer) => createHash("sha256").update(b).digest("hex");
afterAll(async () => {
  await host.run(["rm", "-rf", "--", dir]);
  closeAll();
});

describe("files on the host", () => {
  it("writes atomically with mode and owner, reads back, hashes on the host, removes", async () => {
    await host.check(["mkdir", "-p", dir], "mkdir");
    const path = `${dir}/vars file.fd`;
    const data = randomBytes(540_672);
    await writeFileAtomic(host, path, data, { mode: "640", owner: "root:kvm" });
    expect(await stat(host, path)).toMatchObject({ size: 540_672, mode: "640", owner: "root", group: "kvm" });
    expect((await readFile(host, path)).equals(data)).toBe(true);
    expect(await sha256(host, path)).toBe(hex(data));
    await removeFile(host, path);
    expect(await stat(host, path)).toBeUndefined();
    await removeFile(host, path); // missing is fine
  });

  it("an interrupted write leaves the old content intact", async () => {
    await host.check(["mkdir", "-p", dir], "mkdir");
    const path = `${dir}/interrupted-${randomUUID()}.fd`;
    const old = randomBytes(1 << 20);
    await writeFileAtomic(host, path, old);
    const replacement = randomBytes(8 << 20);
    // Send the first megabyte, then stall until the connection is cut.
    const stream = new Readable({ read() {} });
    stream.push(replacement.subarray(0, 1 << 20));
    const writing = writeFileFromStream(host, path, stream, replacement.length, hex(replacement)).catch((e: unknown) => e as Error);
    killSshSessionOf(await waitForProcess(path));
    const err = await writing;
    expect(err).toBeInstanceOf(Error);
    stream.destroy();
    expect(await sha256(host, path)).toBe(hex(old));
    expect((await stat(host, path))?.size).toBe(old.length);
  });

  it("refuses a stream shorter than announced and keeps the old file", async () => {
    await host.check(["mkdir", "-p", dir], "mkdir");
    const path = `${dir}/short.fd`;
    const old = randomBytes(4096);
    await writeFileAtomic(host, path, old);
    const err = await writeFileFromStream(host, path, Readable.from([randomBytes(100)]), 4096, hex(randomBytes(4096))).catch((e: unknown) => e as Error);
    expect(err).toBeInstanceOf(RemoteCommandError);
    expect((err as Error).message).toMatch(/incomplete write: 100 of 4096 bytes arrived/);
    expect(await sha256(host, path)).toBe(hex(old));
    expect(readdirSync(dir).filter((f) => f.startsWith(".short.fd."))).toEqual([]);
  });

  it("streams a copy from one connection to another, verified by sha256", async () => {
    await host.check(["mkdir", "-p", dir], "mkdir");
    const data = randomBytes(3 << 20);
    await writeFileAtomic(host, `${dir}/src.fd`, data);
    const other = new Host({ ...testConnection(th), jumpHost: jumpConnection(th) });
    const sum = await copyFile(host, `${dir}/src.fd`, other, `${dir}/dst.fd`, { mode: "600" });
    expect(sum).toBe(hex(data));
    expect(await sha256(other, `${dir}/dst.fd`)).toBe(hex(data));
  });

  it("copyNew copies within the host in one command (mode, owner, bytes back once per source) and never touches an existing target", async () => {
    await host.check(["mkdir", "-p", dir], "mkdir");
    const data = randomBytes(540_672);
    await writeFileAtomic(host, `${dir}/template.fd`, data, { mode: "644" });
    const made = await copyNew(host, `${dir}/template.fd`, `${dir}/new/vm_VARS.fd`, { mode: "600", owner: "root:root" });
    expect(made.created && made.sha256).toBe(hex(data));
    expect(made.created && hex(made.content)).toBe(hex(data));
    expect(await stat(host, `${dir}/new/vm_VARS.fd`)).toMatchObject({ size: data.length, mode: "600", owner: "root" });
    // Only the file itself is left in its directory (no temp file).
    expect((await host.check(["ls", "-A", "--", `${dir}/new`], "ls")).stdout.trim()).toBe("vm_VARS.fd");

    // A second copy of the same source: verified on the host, its bytes not sent back again; a
    // changed source is sent back (what was remembered is not used for other bytes).
    const outputs: number[] = [];
    const counting = new Host(testConnection(th));
    const runRaw = counting.runRaw.bind(counting);
    counting.runRaw = async (argv, options) => {
      const r = await runRaw(argv, options);
      outputs.push(r.stdout.length);
      return r;
    };
    const again = await copyNew(counting, `${dir}/template.fd`, `${dir}/new/vm2_VARS.fd`, { mode: "600", owner: "root:root" });
    expect(again.created && hex(again.content)).toBe(hex(data));
    expect(await sha256(host, `${dir}/new/vm2_VARS.fd`)).toBe(hex(data));
    expect(outputs).toEqual([expect.any(Number)]);
    expect(outputs[0]).toBeLessThan(100);
    const changed = randomBytes(540_672);
    await writeFileAtomic(host, `${dir}/template.fd`, changed, { mode: "644" });
    const third = await copyNew(counting, `${dir}/template.fd`, `${dir}/new/vm3_VARS.fd`);
    expect(third.created && hex(third.content)).toBe(hex(changed));
    expect(outputs[1]).toBeGreaterThan(changed.length);
    expect(await sha256(host, `${dir}/new/vm3_VARS.fd`)).toBe(hex(changed));
    expect((await host.check(["ls", "-A", "--", `${dir}/new`], "ls")).stdout.trim().split("\n")).toEqual(["vm2_VARS.fd", "vm3_VARS.fd", "vm_VARS.fd"]);

    const mine = randomBytes(1000);
    await writeFileAtomic(host, `${dir}/new/vm_VARS.fd`, mine);
    expect(await copyNew(host, `${dir}/template.fd`, `${dir}/new/vm_VARS.fd`)).toEqual({ created: false, size: 1000 });
    expect(await sha256(host, `${dir}/new/vm_VARS.fd`)).toBe(hex(mine));

    const missing = await copyNew(host, `${dir}/nothing.fd`, `${dir}/new/other_VARS.fd`).then(() => undefined, (e: unknown) => e as Error);
    expect(missing).toBeInstanceOf(RemoteCommandError);
    expect(missing?.message).toContain(`${dir}/nothing.fd does not exist`);
    expect(await stat(host, `${dir}/new/other_VARS.fd`)).toBeUndefined();
  });
});
