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
  /** The same cost in integer µUSD, as the core computed it (sums are made on these). */
  costMicroUsd: number;
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

/** A request of an engine through `ctx.llm.generate`. */
export interface EngineRequest {
  /** The prompt text (for a conversation, the messages rendered as text). */
  prompt: string;
  /** The conversation, passed on to the provider as `request.messages`. */
  messages?: { role: 'system' | 'user' | 'assistant'; content: string }[];
  /** Model (default: the stress run's model). */
  model?: string;
  /** The case the call is for: its latency and cost are then the case's. */
  caseId?: string;
  /** Completion cap (budget reservations assume it). */
  maxOutputTokens?: number;
}

/** The answer `ctx.llm.generate` gives an engine. */
export interface EngineResponse {
  text: string;
  usage: import('../../native').TokenUsage;
  model?: string;
  /** The call's index in the stress run (keys chaos, retries, the logs). */
  callIndex: number;
  /** Attempts made (1 when no retry). */
  attempts: number;
  /** Latency, ms. */
  latencyMs: number;
  /** Cost, USD. */
  costUsd: number;
}

/** One of the engine's own checks, returned from `run(ctx)`. */
export interface EngineCheck {
  /** Name (reported when it fails). */
  name: string;
  /** Whether it passed. */
  pass: boolean;
  /** The case it judges; absent: every case. */
  case?: string;
  /** `hard` (default) or `soft`. */
  level?: 'hard' | 'soft';
  /** Weight (default 1). */
  weight?: number;
  /** Why it failed. */
  message?: string;
}

/** What `run(ctx)` returns. */
export interface EngineOutputs {
  /** Answers by case id (or an array aligned with the cases). */
  outputs?: Record<string, string | { text: string }> | (string | { text: string })[];
  /** The engine's own checks (its parser, validators, …). */
  checks?: EngineCheck[];
}

/** What an engine's `run` is given, once per run. */
export interface EngineContext {
  /** Index of the run (0-based). */
  runIndex: number;
  /** Seed of the stress run. */
  seed: number;
  /** The cases (normalized: prompts rendered with their vars). */
  cases: import('../../report-types').CaseDocument[];
  /** The user's provider behind omega-pr's stack (cache → retry → chaos → budget). */
  llm: { generate(request: EngineRequest): Promise<EngineResponse> };
  /** A key/value cache shared by the runs (the atomic cache), or null with `--no-cache`. */
  cache: { get(key: string): unknown; set(key: string, value: unknown): Promise<void> } | null;
  /** Aborted when the run times out, ends, or the stress run is interrupted. */
  signal: AbortSignal;
  /** Log a line (kept out of the reports). */
  log(message: string): void;
}

/** An engine module: `run(ctx)` once per run. */
export interface EngineModule {
  /** Name recorded in reports (default: the module's file name). */
  name?: string;
  /** One run of the engine on the cases. */
  run(ctx: EngineContext): EngineOutputs | string | Promise<EngineOutputs | string>;
}
