/**
 * Re-scoring a journaled run from its recorded outputs (`proofpack replay` of a run made with a
 * real provider, an engine or a scorer module): nothing is called again. The cases' built-in
 * checks run again in the core (`CaseSuite.evaluate`); the results of checks that ran in
 * JavaScript (`js`, `json-schema`), the engine's own checks and a scorer module's scores are
 * taken as recorded. The run's figures (latency, cost, attempts, failed calls) are summed again
 * from its recorded calls. The record that comes out replaces the journal's before `derive`.
 */
import { CaseSuite, simulateScore } from '../../native';
import type { CaseResult } from '../../report-types';
import { caseRunRecords, runRecordOf, type OutcomeFaultRecord, type RunRecord } from './engine';
import type { JournalHeader, JournalRunLine } from './journal';
import type { RunScore, SceneResult, Scorer } from './types';

/** The suite the runs were scored with: the packed cases file, or the one case of an engine run without one. */
export function suiteFor(header: JournalHeader, casesText: string | null): CaseSuite | null {
  if (casesText !== null) return CaseSuite.fromJson(casesText, header.meta.cases_file ?? 'cases.json');
  // An engine without a cases file ran on one case, `run` (resolveStress).
  if (header.mode === 'engine') return CaseSuite.fromJson(JSON.stringify({ cases: [{ id: 'run', prompt: '(engine run)' }] }), 'inline');
  return null;
}

/** What a re-scoring took as recorded rather than computed again (for the replay's notes). */
export interface RescoreNotes {
  externalChecks: number;
  engineChecks: number;
  recordedScores: number;
  /** Runs scored again by the simulated scorer (a pure function of seed, run and failed calls). */
  simulatedScores: number;
  /** Runs scored again by the scorer module the auditor gave (its digest checked). */
  rerunScores: number;
}

/** The run's recorded calls as the scorer saw them (`ScorerInput.scenes`). */
function scenesOf(line: JournalRunLine): SceneResult[] {
  return line.calls.map((c) => {
    const s: SceneResult = { sceneId: c.scene_id, callIndex: c.call_index, ok: c.ok, attempts: c.attempts, latencyMs: c.latency_ms, costUsd: c.cost_micro_usd / 1e6, costMicroUsd: c.cost_micro_usd };
    if (c.text !== undefined) s.text = c.text;
    if (c.error_code !== undefined) s.errorCode = c.error_code;
    if (c.error_message !== undefined) s.errorMessage = c.error_message;
    return s;
  });
}

function validScore(x: unknown): x is RunScore {
  const s = x as RunScore;
  const unit = (v: unknown) => typeof v === 'number' && Number.isFinite(v) && v >= 0 && v <= 1;
  return s !== null && typeof s === 'object' && unit(s.hardScore) && unit(s.softScore) && typeof s.hardPass === 'boolean' && typeof s.softPass === 'boolean';
}

const ZERO: RunScore = { hardScore: 0, softScore: 0, hardPass: false, softPass: false };

/**
 * The run of `line`, re-scored from its recorded outputs (see the module comment). With `scorer`
 * (the user's scorer module, given by the auditor and checked against the recorded digest), a run
 * the user's scorer judged is scored again on its recorded calls.
 */
export async function rescoreRun(header: JournalHeader, line: JournalRunLine, suite: CaseSuite | null, notes: RescoreNotes, scorer?: Scorer): Promise<RunRecord> {
  const rec = line.record;
  const calls = line.calls;
  const runError = line.outputs.run_error ?? null;
  let error: string | null = runError ?? rec.error ?? null;
  const results: CaseResult[] = [];
  if (suite !== null && header.mode !== 'scenes') {
    for (const [i, c] of (line.outputs.cases ?? []).entries()) {
      notes.externalChecks += c.external.length;
      notes.engineChecks += c.engine_checks.length;
      results.push(
        suite.evaluate(
          i,
          { text: c.text ?? undefined, error: c.error ?? undefined, latencyMs: c.latency_ms, costUsd: c.cost_usd },
          c.external,
          c.engine_checks,
        ),
      );
    }
  }
  let score: RunScore;
  if (error !== null) score = ZERO;
  else if (header.mode === 'scenes' && !header.user_scorer) {
    // The simulated scorer: scored again from the seed and the run's failed calls.
    notes.simulatedScores++;
    score = simulateScore(header.meta.seed, line.run_index, calls.filter((c) => !c.ok).length, calls.length);
  } else if (header.user_scorer && scorer !== undefined) {
    notes.rerunScores++;
    try {
      const raw: unknown = await scorer.score({ runIndex: line.run_index, seed: header.meta.seed, scenes: scenesOf(line) });
      if (!validScore(raw)) throw new Error(`scorer returned an invalid score for run ${line.run_index}`);
      score = raw;
    } catch (err) {
      const e = err as { code?: unknown; message?: unknown };
      const msg = typeof e?.message === 'string' ? e.message : String(err);
      error = `scorer threw: ${typeof e?.code === 'string' && e.code !== '' ? `${e.code}: ${msg}` : msg}`;
      score = ZERO;
    }
  } else if (header.user_scorer || header.mode === 'scenes') {
    notes.recordedScores++;
    score = line.outputs.score ?? ZERO;
    if (line.outputs.score === undefined) error = rec.error ?? null;
  } else {
    const s = (suite as CaseSuite).scoreRun(results);
    score = { hardScore: s.hard_score, softScore: s.soft_score, hardPass: s.hard_pass, softPass: s.soft_pass };
  }
  const out: RunRecord = runRecordOf(line.run_index, score, scenesOf(line));
  if (error !== null) out.error = error;
  if (header.mode !== 'scenes') out.cases = caseRunRecords(results, error);
  if (rec.outcome_faults !== undefined) {
    // Who caught a delivered fault follows from the calls, except "the case failed": re-judged.
    const sceneOf = new Map(calls.map((c) => [c.call_index, c.scene_id]));
    out.outcome_faults = rec.outcome_faults.map((f): OutcomeFaultRecord => {
      if (f.caught !== null && f.caught !== 'case_failed') return f;
      const failed = results.find((r) => r.id === sceneOf.get(f.call_index))?.hard_pass === false;
      return { ...f, caught: failed ? 'case_failed' : null };
    });
  }
  return out;
}
