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
 * Gathers calls with the same key into batches: a call arriving while a batch of its key runs
 * joins the next one, which starts once that one settles, with every call queued meanwhile. Each
 * caller gets its own item of `many`'s result (same order as the arguments); when `many` throws,
 * every caller of that batch gets the error. An idle key starts a batch of one at once, so a lone
 * call waits for nothing. For host work many resources ask for at once (the domain undefines of a
 * `pulumi destroy`).
 */
export function batchWhileBusy<A, R>(keyOf: (arg: A) => string, many: (args: A[]) => Promise<R[]>): (arg: A) => Promise<R> {
  type Item = { arg: A; ok: (r: R) => void; fail: (e: unknown) => void };
  const busy = new Set<string>();
  const waiting = new Map<string, Item[]>();
  const runBatch = async (key: string, items: Item[]): Promise<void> => {
    busy.add(key);
    try {
      const results = await many(items.map((i) => i.arg));
      items.forEach((item, i) => item.ok(results[i] as R));
    } catch (err) {
      for (const item of items) item.fail(err);
    } finally {
      const next = waiting.get(key);
      waiting.delete(key);
      if (next === undefined) busy.delete(key);
      else void runBatch(key, next);
    }
  };
  return (arg) =>
    new Promise<R>((ok, fail) => {
      const key = keyOf(arg);
      const item = { arg, ok, fail };
      if (!busy.has(key)) {
        void runBatch(key, [item]);
        return;
      }
      const queue = waiting.get(key);
      if (queue === undefined) waiting.set(key, [item]);
      else queue.push(item);
    });
}
