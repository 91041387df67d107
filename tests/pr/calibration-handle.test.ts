/**
 * The native `Calibration` handle (issue 9): parsed and validated once, taken by every constructor
 * and analysis in place of the document, with the same results as the document.
 */
import * as fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  AtomicCache,
  BudgetTracker,
  Calibration,
  ChaosEngine,
  RetryPolicy,
  analyzeVariance,
  callCost,
  loadCalibration,
  mergeRunCosts,
  resolveModel,
  DEFAULT_CALIBRATION_PATH,
} from '../../src/index';
import { expectCode } from './errors';
import * as os from 'node:os';
import * as path from 'node:path';

describe('Calibration handle', () => {
  const doc = loadCalibration();
  const cal = Calibration.parse(doc);

  it('keeps the validated document', () => {
    expect(cal.document).toEqual(doc);
    expect(Calibration.fromJson(fs.readFileSync(DEFAULT_CALIBRATION_PATH, 'utf8'), 'calibration.json').document).toEqual(doc);
    expect(Calibration.defaults().document).toEqual(doc);
  });

  it('gives every constructor and analysis the same results as the document', () => {
    const usage = { inputTokens: 1234, outputTokens: 321 };
    expect(callCost('claude-sonnet-4-5', usage, cal)).toEqual(callCost('claude-sonnet-4-5', usage, doc));
    expect(resolveModel('anthropic/claude-sonnet-4-5', cal)).toEqual(resolveModel('anthropic/claude-sonnet-4-5', doc));
    const track = (c: Calibration | typeof doc) => {
      const t = new BudgetTracker(c, { shards: 2 });
      const r = t.reserve({ callId: 'call-1', model: 'claude-sonnet-4-5', inputTokens: 100, maxOutputTokens: 50 });
      t.settle(r.id, { inputTokens: 100, outputTokens: 20 });
      return t.finalize();
    };
    expect(track(cal)).toEqual(track(doc));
    expect(mergeRunCosts([track(cal), track(cal)], cal)).toEqual(mergeRunCosts([track(doc), track(doc)], doc));
    const decide = (c: Calibration | typeof doc) => { const e = new ChaosEngine({ profile: 'heavy', seed: 7, calibration: c }); return Array.from({ length: 200 }, (_, i) => e.decide(i)); };
    expect(decide(cal)).toEqual(decide(doc));
    const delays = (c: Calibration | typeof doc) => { const p = new RetryPolicy({ calibration: c, seed: 3 }); return [p.maxAttempts, p.baseDelayMs, p.maxDelayMs, p.backoffCapMs(2)]; };
    expect(delays(cal)).toEqual(delays(doc));
    const runs = Array.from({ length: 20 }, (_, i) => ({ hardScore: 0.7 + (i % 5) * 0.05, softScore: 0.8, hardPass: i % 4 !== 0, softPass: true, metrics: {} }));
    expect(analyzeVariance(runs, cal)).toEqual(analyzeVariance(runs, doc));
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'omega-cal-'));
    try {
      const cache = AtomicCache.open(path.join(dir, 'c.json'), { calibration: cal });
      cache.set('k', { v: 1 });
      expect(cache.get('k')).toEqual({ v: 1 });
      cache.close();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('rejects an invalid document with every problem, and a non-calibration with a code', () => {
    expectCode(() => Calibration.parse({ ...doc, SEED: -1 }), 'ERR_OMEGA_CALIBRATION', '$.SEED');
    expectCode(() => Calibration.fromJson('{"SEED": ', 'mine.json'), 'ERR_OMEGA_CALIBRATION', 'mine.json');
    // Another native object (or a function) is neither a handle nor a document.
    const tracker = new BudgetTracker(cal);
    expectCode(() => new BudgetTracker(tracker as never), 'ERR_OMEGA_INVALID_ARGUMENT', 'calibration');
    expectCode(() => analyzeVariance([{ hardScore: 1, softScore: 1, hardPass: true, softPass: true, metrics: {} }], (() => 1) as never), 'ERR_OMEGA_INVALID_ARGUMENT', 'calibration');
  });
});
