import { describe, expect, it } from "vitest";
import { coalesceAfter } from "../../provider/coalesce.js";

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
