/** Types of the stress harness and of user scorers (`--scorer ./module.js`). */

/** What became of one scene (one logical provider call) of a run. */
export interface SceneResult {
  /** Scene id, `SCN-01`… */
  sceneId: string;
  /** Index of the call in the whole stress run (keys chaos and jitter). */
  callIndex: number;
  /** The call succeeded with non-empty text. */
  ok: boolean;
  /** Generated text, when ok. */
  text?: string;
  /** Error code, when not ok. */
  errorCode?: string;
  /** Error message, when not ok. */
  errorMessage?: string;
  /** Attempts made (1 when no retry). */
  attempts: number;
  /** Latency: the provider's own figure when it reports one (`latencyMs`), else wall clock, ms. */
  latencyMs: number;
  /** Cost of the successful answer, USD (0 when it failed). */
  costUsd: number;
}

/** What a scorer is given for one run. */
export interface ScorerInput {
  /** Index of the run (0-based). */
  runIndex: number;
  /** Seed of the stress run. */
  seed: number;
  /** Every scene of the run, in order. */
  scenes: SceneResult[];
}

/** A scorer's verdict on one run. */
export interface RunScore {
  /** Hard score in [0, 1]. */
  hardScore: number;
  /** Soft score in [0, 1]. */
  softScore: number;
  /** Whether the run passes the hard gate. */
  hardPass: boolean;
  /** Whether the run passes the soft gate. */
  softPass: boolean;
  /** Extra metrics of the run (checked against `VARIANCE_ENVELOPES` when named there). */
  metrics?: Record<string, number>;
}

/** A scorer: the engine's own judgement of a run. */
export interface Scorer {
  /** Name recorded in reports (default: the module's file name). */
  name?: string;
  /** Hard score at or above which a run passes, when there is one (drawn in the HTML report). */
  hardPassScore?: number;
  /** Scores one run. */
  score(input: ScorerInput): RunScore | Promise<RunScore>;
}
