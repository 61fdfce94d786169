import { afterEach, describe, expect, it, vi } from "vitest";
import { batchWhileBusy, coalesceAfter } from "../../provider/coalesce.js";
import { parseRemaining, parseStates } from "../../provider/libvirt/undefine-many.js";

/** A run per call that the test finishes by hand; each run returns its own number. */
function manual() {
  const runs: Array<{ key: string; finish: (ok: boolean) => void }> = [];
  const run = (key: string) =>
    new Promise<number>((ok, fail) => {
      const n = runs.length;
      runs.push({ key, finish: (good) => (good ? ok(n) : fail(new Error(`run ${n} failed`))) });
    });
  return { runs, run };
}
const tick = () => new Promise((r) => setTimeout(r, 0));

describe("coalesceAfter", () => {
  it("gives callers that came during a run the next run, started after that one settled", async () => {
    const { runs, run } = manual();
    const list = coalesceAfter((k: string) => k, run);
    const first = list("h1");
    const during = [list("h1"), list("h1"), list("h1")];
    await tick();
    expect(runs).toHaveLength(1); // the callers during run 0 wait: its result may be older than their call
    runs[0]?.finish(true);
    expect(await first).toBe(0);
    await tick();
    expect(runs).toHaveLength(2);
    runs[1]?.finish(true);
    expect(await Promise.all(during)).toEqual([1, 1, 1]);
    // Idle again: a new call starts at once.
    const later = list("h1");
    await tick();
    expect(runs).toHaveLength(3);
    runs[2]?.finish(true);
    expect(await later).toBe(2);
  });

  it("keeps keys apart and passes a failure only to the callers of the failed run", async () => {
    const { runs, run } = manual();
    const list = coalesceAfter((k: string) => k, run);
    const a = list("a");
    const b = list("b");
    const a2 = list("a");
    await tick();
    expect(runs.map((r) => r.key)).toEqual(["a", "b"]);
    runs[0]?.finish(false);
    await expect(a).rejects.toThrow(/run 0 failed/);
    await tick();
    runs[2]?.finish(true);
    runs[1]?.finish(true);
    expect(await a2).toBe(2);
    expect(await b).toBe(1);
  });
});

describe("batchWhileBusy", () => {
  /** Batches the test finishes by hand; each caller gets its argument doubled. */
  function manualBatches() {
    const batches: Array<{ args: number[]; finish: (ok: boolean) => void }> = [];
    const many = (args: number[]) =>
      new Promise<number[]>((ok, fail) => {
        batches.push({ args, finish: (good) => (good ? ok(args.map((a) => a * 2)) : fail(new Error(`batch ${args.join(",")} failed`))) });
      });
    return { batches, many };
  }

  it("runs a lone call at once, and gathers the calls that come while a batch runs into the next one", async () => {
    const { batches, many } = manualBatches();
    const call = batchWhileBusy((_a: number) => "h1", many);
    const first = call(1);
    const during = [call(2), call(3), call(4)];
    await tick();
    expect(batches.map((b) => b.args)).toEqual([[1]]);
    batches[0]?.finish(true);
    expect(await first).toBe(2);
    await tick();
    expect(batches.map((b) => b.args)).toEqual([[1], [2, 3, 4]]);
    batches[1]?.finish(true);
    expect(await Promise.all(during)).toEqual([4, 6, 8]);
    // Idle again: the next call does not wait.
    const later = call(5);
    await tick();
    expect(batches).toHaveLength(3);
    batches[2]?.finish(true);
    expect(await later).toBe(10);
  });

  describe("with gatherMs", () => {
    afterEach(() => vi.useRealTimers());
    it("a call soon after another waits gatherMs for the ones after it; a call after a pause, or the first, does not", async () => {
      vi.useFakeTimers({ toFake: ["setTimeout", "Date"] });
      const { batches, many } = manualBatches();
      const call = batchWhileBusy((_a: number) => "h1", many, { gatherMs: 50, burstMs: 250 });
      const first = call(1);
      await vi.advanceTimersByTimeAsync(0);
      expect(batches.map((b) => b.args)).toEqual([[1]]);
      batches[0]?.finish(true);
      expect(await first).toBe(2);
      // 100 ms after the one before: waits, and the calls of the next 50 ms join it.
      await vi.advanceTimersByTimeAsync(100);
      const burst = [call(2)];
      await vi.advanceTimersByTimeAsync(20);
      burst.push(call(3));
      await vi.advanceTimersByTimeAsync(20);
      burst.push(call(4));
      expect(batches).toHaveLength(1);
      await vi.advanceTimersByTimeAsync(10);
      expect(batches.map((b) => b.args)).toEqual([[1], [2, 3, 4]]);
      // A call while that batch runs joins the next one, started when it settles (no wait).
      const during = call(5);
      batches[1]?.finish(true);
      expect(await Promise.all(burst)).toEqual([4, 6, 8]);
      await vi.advanceTimersByTimeAsync(0);
      expect(batches.map((b) => b.args)).toEqual([[1], [2, 3, 4], [5]]);
      batches[2]?.finish(true);
      expect(await during).toBe(10);
      // After a pause longer than burstMs: at once again.
      await vi.advanceTimersByTimeAsync(300);
      const alone = call(6);
      await vi.advanceTimersByTimeAsync(0);
      expect(batches.map((b) => b.args)).toEqual([[1], [2, 3, 4], [5], [6]]);
      batches[3]?.finish(true);
      expect(await alone).toBe(12);
    });
  });

  it("keeps keys apart and gives a failed batch's error to its callers only", async () => {
    const { batches, many } = manualBatches();
    const call = batchWhileBusy((a: number) => (a < 10 ? "h1" : "h2"), many);
    const a = call(1);
    const b = call(11);
    const c = call(2);
    await tick();
    expect(batches.map((x) => x.args)).toEqual([[1], [11]]);
    batches[0]?.finish(false);
    await expect(a).rejects.toThrow("batch 1 failed");
    await tick();
    batches[2]?.finish(true);
    batches[1]?.finish(true);
    expect(await c).toBe(4);
    expect(await b).toBe(22);
  });
});

describe("the undefine batch's output", () => {
  const n = "pulumi-ovmf-0123abcd";
  it("reads each domain's state; a domain virsh did not find has none", () => {
    // virsh prints a batch's echo without a newline, and the error of a missing domain on stderr.
    const out = `${n}-S web-1 ${n}-Nshut off\n${n}-E${n}-S web-2 ${n}-N${n}-E${n}-S web-3 ${n}-Nrunning\n${n}-E`;
    expect([...parseStates(out, n)]).toEqual([
      ["web-1", "shut off"],
      ["web-3", "running"],
    ]);
    // A domain whose name looks like the mark of another call is not taken for a record.
    expect(parseStates(`${n}-S web-1 other-Nshut off\nother-E`, n).size).toBe(0);
  });

  it("reads the domains left after the undefines, and nothing when the listing did not run", () => {
    expect([...parseRemaining(`error text\n${n}-Lweb-2\nother\n\n`, n)]).toEqual(["web-2", "other"]);
    expect(parseRemaining("", n).size).toBe(0);
  });
});
