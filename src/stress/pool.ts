/** Bounded concurrency for I/O-bound work (LLM calls): at most `limit` tasks in flight. */

/**
 * Runs `task(item)` for every item, at most `limit` at once, in item order. The first error stops
 * new tasks from starting; the tasks in flight finish (so the caller can clean up a quiet folder)
 * before it is rethrown.
 */
export async function runPool<T>(
  items: readonly T[],
  limit: number,
  task: (item: T) => Promise<void>,
  /** When aborted, no new task starts (the ones in flight finish); no error is thrown for it. */
  signal?: AbortSignal,
): Promise<void> {
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
