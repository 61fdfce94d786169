import { describe, expect, it } from "vitest";
import type { Host } from "../../provider/host/host.js";
import { statShared } from "../../provider/host/files.js";

/** A host that answers stat with a fixed line and counts the commands it ran. */
function countingHost(target: string, answer: { code: number; stdout: string; stderr: string }) {
  const ran: string[][] = [];
  const host = { target, run: async (argv: string[]) => (ran.push(argv), answer) } as unknown as Host;
  return { host, ran };
}

describe("statShared", () => {
  const ok = { code: 0, stdout: "540672 644 root root 1700000000\n", stderr: "" };

  it("runs one stat for many checks of the same template on the same host", async () => {
    const { host, ran } = countingHost("root@h1:22", ok);
    const all = await Promise.all(Array.from({ length: 10 }, () => statShared(host, "/usr/share/OVMF/a.fd", 1_000)));
    expect(ran).toHaveLength(1);
    expect(all.every((s) => s?.size === 540672)).toBe(true);
  });

  it("asks again on another host, for another path, and after 30 s", async () => {
    const one = countingHost("root@h2:22", ok);
    const two = countingHost("root@h3:22", ok);
    await statShared(one.host, "/t.fd", 1_000);
    await statShared(two.host, "/t.fd", 1_000);
    await statShared(one.host, "/u.fd", 1_000);
    await statShared(one.host, "/t.fd", 20_000);
    expect(one.ran).toHaveLength(2);
    await statShared(one.host, "/t.fd", 31_001);
    expect(one.ran).toHaveLength(3);
    expect(two.ran).toHaveLength(1);
  });

  it("does not keep a failure", async () => {
    const { host, ran } = countingHost("root@h4:22", { code: 1, stdout: "", stderr: "stat: Permission denied" });
    await expect(statShared(host, "/t.fd", 1_000)).rejects.toThrow(/Permission denied/);
    await expect(statShared(host, "/t.fd", 1_001)).rejects.toThrow(/Permission denied/);
    expect(ran).toHaveLength(2);
  });

  it("keeps a missing file as missing (the check reports it)", async () => {
    const { host } = countingHost("root@h5:22", { code: 1, stdout: "", stderr: "stat: cannot statx '/t.fd': No such file or directory" });
    expect(await statShared(host, "/t.fd", 1_000)).toBeUndefined();
  });
});
