/** Bounded concurrency for I/O-bound work (LLM calls): at most `limit` tasks in flight. */

/**
 * A limit that changes while the pool runs (the AIMD window of a rate limiter): `limit()` is read
 * before each start; `subscribe(wake)` is told when it may have grown, so waiting items start
 * without waiting for a task to finish.
 */
export interface AdaptiveLimit {
  limit: () => number;
  subscribe: (wake: () => void) => () => void;
}

/**
 * Runs `task(item)` for every item, at most `limit` at once (a number, or an adaptive limit read
 * before each start), in item order. The first error stops new tasks from starting; the tasks in
 * flight finish (so the caller can clean up a quiet folder) before it is rethrown.
 */
export async function runPool<T>(
  items: readonly T[],
  limit: number | AdaptiveLimit,
  task: (item: T) => Promise<void>,
  /** When aborted, no new task starts (the ones in flight finish); no error is thrown for it. */
  signal?: AbortSignal,
): Promise<void> {
  if (typeof limit !== 'number') return runAdaptive(items, limit, task, signal);
  let next = 0;
  let failure: { error: unknown } | null = null;
  const worker = async () => {
    while (failure === null && signal?.aborted !== true && next < items.length) {
      const item = items[next++] as T;
      try {
        await task(item);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  if (failure !== null) throw (failure as { error: unknown }).error;
}

async function runAdaptive<T>(items: readonly T[], adaptive: AdaptiveLimit, task: (item: T) => Promise<void>, signal?: AbortSignal): Promise<void> {
  let next = 0;
  let inFlight = 0;
  let failure: { error: unknown } | null = null;
  let finished = false;
  await new Promise<void>((resolve) => {
    let unsubscribe = (): void => {};
    const pump = (): void => {
      if (finished) return;
      while (failure === null && signal?.aborted !== true && next < items.length && inFlight < Math.max(1, adaptive.limit())) {
        const item = items[next++] as T;
        inFlight++;
        Promise.resolve()
          .then(() => task(item))
          .catch((error: unknown) => {
            failure ??= { error };
          })
          .finally(() => {
            inFlight--;
            pump();
          });
      }
      if (inFlight === 0 && (failure !== null || signal?.aborted === true || next >= items.length)) {
        finished = true;
        unsubscribe();
        resolve();
      }
    };
    unsubscribe = adaptive.subscribe(pump);
    pump();
  });
  if (failure !== null) throw (failure as { error: unknown }).error;
}
