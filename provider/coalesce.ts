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
