/**
 * The built-in simulated provider and scorer: seeded, deterministic stand-ins (drawn by the Rust
 * core) so the sprint runs offline on the shipped defaults. Reports made with them say
 * `"provider": "simulated"`.
 */
import { simulateCall, simulateScore } from '../native';
import { sleep as realSleep } from './providers/errors';
import type { GenerateOptions, GenerateRequest, GenerateResponse, LlmProvider, SleepFn } from './providers/types';
import type { RunScore, Scorer, ScorerInput } from './stress/types';

/** A response of the simulated provider: also says how long the simulated model took. */
export interface SimulatedResponse extends GenerateResponse {
  /** Simulated latency of the model, ms (the real wait is this × `timeScale`). */
  latencyMs: number;
}

/** Options of {@link SimulatedProvider}. */
export interface SimulatedProviderOptions {
  /** Seed (default 42). */
  seed?: number;
  /** Real time waited per simulated ms (default 0.001: a 900 ms answer takes 0.9 ms). */
  timeScale?: number;
  /** Sleep function (default real timers, abortable). */
  sleep?: SleepFn;
}

/** A seeded, deterministic LLM stand-in with realistic token usage and latencies. */
export class SimulatedProvider implements LlmProvider {
  /** Name recorded in reports. */
  readonly name = 'simulated';
  private readonly seed: number;
  private readonly timeScale: number;
  private readonly sleep: SleepFn;
  private next = 0;

  constructor(options: SimulatedProviderOptions = {}) {
    this.seed = options.seed ?? 42;
    this.timeScale = options.timeScale ?? 0.001;
    this.sleep = options.sleep ?? realSleep;
  }

  /**
   * The prompt tokens the simulated model will bill for `request` (it simulates a system prompt
   * and context, so this is not the prompt text's length): what an engine passes as
   * `request.inputTokens` so budget reservations see the real worst case.
   */
  promptTokens(request: GenerateRequest): number {
    const index = request.callIndex ?? this.next;
    return simulateCall(this.seed, index, request.sceneId ?? `CALL-${index}`).inputTokens;
  }

  async generate(request: GenerateRequest, options?: GenerateOptions): Promise<SimulatedResponse> {
    const index = request.callIndex ?? this.next++;
    const c = simulateCall(this.seed, index, request.sceneId ?? `CALL-${index}`);
    if (this.timeScale > 0) await this.sleep(c.latencyMs * this.timeScale, options?.signal);
    return {
      text: c.text,
      usage: { inputTokens: c.inputTokens, cachedInputTokens: c.cachedInputTokens, outputTokens: c.outputTokens },
      model: request.model,
      latencyMs: c.latencyMs,
    };
  }
}

/** The simulated scorer: hard ~ N(0.82, 0.085) passing at ≥ 0.70, soft ~ N(0.86, 0.07) at ≥ 0.75; a failed scene fails the run; a run whose every scene failed scores 0. */
export class SimulatedScorer implements Scorer {
  /** Name recorded in reports. */
  readonly name = 'simulated';
  /** Hard score at or above which a run passes. */
  readonly hardPassScore = 0.7;

  score(input: ScorerInput): RunScore {
    const failed = input.scenes.filter((s) => !s.ok).length;
    // A run whose every scene failed scores 0 (issue 14).
    return simulateScore(input.seed, input.runIndex, failed, input.scenes.length);
  }
}
