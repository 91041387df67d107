/**
 * `--shard i/n` and `--shard auto --shards N`: which part of a stress run this process owns.
 *
 * `auto` reads the 0-based shard index from the environment of the engine that started the
 * process, so one spec (a workflow file, a Job manifest) starts N identical processes:
 *
 * - `OMEGA_SHARD_INDEX` — omega-pr's own variable; in a GitHub Actions matrix set it from
 *   `${{ strategy.job-index }}` (0-based; `${{ strategy.job-total }}` is N), or from
 *   `${{ matrix.shard }}` with `shard: [0, 1, …, N-1]`.
 * - `JOB_COMPLETION_INDEX` — set by Kubernetes in every pod of an Indexed Job (0-based,
 *   `completions: N`).
 *
 * When both are set they must agree. Shard `k` (0-based) is `--shard k+1/N`: it owns the runs
 * `r` with `r % N == k`.
 */
import { UsageError } from './util';

/** The environment variables `--shard auto` reads, in order. */
export const SHARD_INDEX_VARIABLES = ['OMEGA_SHARD_INDEX', 'JOB_COMPLETION_INDEX'] as const;

/** A resolved shard: 1-based index and the shard count. */
export interface ShardSpec {
  index: number;
  total: number;
}

const WHOLE = /^\d+$/;

/**
 * Parses `--shard` (`i/n`, 1-based, or `auto`) and `--shards N`. `auto` takes its 0-based index
 * from `env` ({@link SHARD_INDEX_VARIABLES}). Every misuse is a `UsageError` (exit 2) naming the
 * flag or variable: no index in the environment, an index out of `0..N-1`, `auto` without
 * `--shards`, `--shards` without `auto`.
 */
export function resolveShard(shard: string | undefined, shards: string | undefined, env: NodeJS.ProcessEnv = process.env): ShardSpec | null {
  if (shard === undefined) {
    if (shards !== undefined) throw new UsageError(`--shards ${shards} needs --shard auto (or give --shard i/n alone)`);
    return null;
  }
  if (shard !== 'auto') {
    if (shards !== undefined) throw new UsageError(`--shards goes with --shard auto only (--shard ${shard} already names the shard count)`);
    const m = /^(\d+)\/(\d+)$/.exec(shard);
    const index = Number(m?.[1]);
    const total = Number(m?.[2]);
    if (!m || total < 1 || index < 1 || index > total) throw new UsageError(`--shard must be i/n with 1 ≤ i ≤ n, or auto, got "${shard}"`);
    return { index, total };
  }
  if (shards === undefined) {
    throw new UsageError('--shard auto needs --shards N (the shard count: the matrix size, the Indexed Job\'s completions)');
  }
  if (!WHOLE.test(shards) || Number(shards) < 1 || !Number.isSafeInteger(Number(shards))) {
    throw new UsageError(`--shards must be a whole number ≥ 1, got "${shards}"`);
  }
  const total = Number(shards);
  const found: { name: string; value: string }[] = [];
  for (const name of SHARD_INDEX_VARIABLES) {
    const value = env[name];
    if (value !== undefined && value.trim() !== '') found.push({ name, value: value.trim() });
  }
  const first = found[0];
  if (first === undefined) {
    throw new UsageError(
      '--shard auto: no shard index in the environment: set OMEGA_SHARD_INDEX (0-based; in GitHub Actions `${{ strategy.job-index }}`) ' +
        'or run as a Kubernetes Indexed Job (JOB_COMPLETION_INDEX), or give --shard i/n',
    );
  }
  for (const f of found) {
    if (!WHOLE.test(f.value) || !Number.isSafeInteger(Number(f.value))) {
      throw new UsageError(`--shard auto: ${f.name}="${f.value}" is not a whole number (a 0-based shard index)`);
    }
    if (Number(f.value) >= total) {
      throw new UsageError(`--shard auto: ${f.name}=${f.value} is out of range for --shards ${total} (0-based: 0..${total - 1})`);
    }
  }
  const disagree = found.find((f) => Number(f.value) !== Number(first.value));
  if (disagree !== undefined) {
    throw new UsageError(`--shard auto: ${first.name}=${first.value} and ${disagree.name}=${disagree.value} disagree: unset one`);
  }
  return { index: Number(first.value) + 1, total };
}
