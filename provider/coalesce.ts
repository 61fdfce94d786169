/**
 * Wraps `run` so that calls with the same key arriving while one runs share the next run, which
 * starts once that one settles: every caller gets the result of a run that started after its own
 * call (as fresh as calling `run` itself), and N callers at once cost two runs, not N. For reads
 * of host state many resources need at once (the domain listing behind every Nvram delete).
 */
export function coalesceAfter<A, T>(keyOf: (arg: A) => string, run: (arg: A) => Promise<T>): (arg: A) => Promise<T> {
  const running = new Map<string, Promise<T>>();
  const queued = new Map<string, Promise<T>>();
  const start = (key: string, arg: A): Promise<T> => {
    const p = run(arg);
    running.set(key, p);
    const done = () => {
      if (running.get(key) === p) running.delete(key);
    };
    p.then(done, done);
    return p;
  };
  return (arg) => {
    const key = keyOf(arg);
    const next = queued.get(key);
    if (next !== undefined) return next;
    const current = running.get(key);
    if (current === undefined) return start(key, arg);
    const after = current.then(
      () => undefined,
      () => undefined,
    ).then(() => {
      queued.delete(key);
      return start(key, arg);
    });
    queued.set(key, after);
    return after;
  };
}

/**
 * For the batches of one deployment's host work: once the engine hands out steps one by one (every
 * 40-60 ms on a busy machine), a call waits this long for the next ones, so that a batch holds a few
 * of them instead of one. A call more than burstMs after the one before it runs at once.
 */
export const FLEET_BURST = { gatherMs: 50, burstMs: 250 } as const;

/**
 * Gathers calls with the same key into batches: a call arriving while a batch of its key runs
 * joins the next one, which starts once that one settles, with every call queued meanwhile. Each
 * caller gets its own item of `many`'s result (same order as the arguments); when `many` throws,
 * every caller of that batch gets the error. An idle key starts a batch of one at once, so a lone
 * call waits for nothing; with `gatherMs`, a call to an idle key that comes within `burstMs` of the
 * one before it (the engine handing out a fleet's steps one by one) waits `gatherMs` for others to
 * join it. For host work many resources ask for at once (the domain undefines of a `pulumi destroy`).
 */
export function batchWhileBusy<A, R>(
  keyOf: (arg: A) => string,
  many: (args: A[]) => Promise<R[]>,
  options: { gatherMs?: number; burstMs?: number } = {},
): (arg: A) => Promise<R> {
  type Item = { arg: A; ok: (r: R) => void; fail: (e: unknown) => void };
  const busy = new Set<string>();
  const waiting = new Map<string, Item[]>();
  const lastCall = new Map<string, number>();
  const runBatch = async (key: string, items: Item[]): Promise<void> => {
    busy.add(key);
    try {
      const results = await many(items.map((i) => i.arg));
      items.forEach((item, i) => item.ok(results[i] as R));
    } catch (err) {
      for (const item of items) item.fail(err);
    } finally {
      runWaiting(key);
    }
  };
  // The calls gathered for the key become its next batch; with none, the key is idle.
  const runWaiting = (key: string): void => {
    const next = waiting.get(key);
    waiting.delete(key);
    if (next === undefined) busy.delete(key);
    else void runBatch(key, next);
  };
  const { gatherMs = 0, burstMs = 0 } = options;
  return (arg) =>
    new Promise<R>((ok, fail) => {
      const key = keyOf(arg);
      const item = { arg, ok, fail };
      const now = Date.now();
      const previous = lastCall.get(key);
      lastCall.set(key, now);
      if (!busy.has(key)) {
        if (gatherMs <= 0 || previous === undefined || now - previous > burstMs) {
          void runBatch(key, [item]);
          return;
        }
        // In a burst: this call opens a batch that the calls of the next gatherMs join.
        busy.add(key);
        waiting.set(key, [item]);
        setTimeout(() => runWaiting(key), gatherMs);
        return;
      }
      const queue = waiting.get(key);
      if (queue === undefined) waiting.set(key, [item]);
      else queue.push(item);
    });
}
