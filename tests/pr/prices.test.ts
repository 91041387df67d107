/**
 * Issue 12, item 6: LiteLLM's price map as the price source, through the REAL CLI and addon,
 * with the real LiteLLM 1.110.2 file's chat entries (tests/fixtures/litellm, source noted there).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { BudgetTracker, callCost, importPrices, loadCalibration, resolveModel } from '../../src/index';

import { ROOT, binEnv, runBin } from './helpers/bin';
import { tempDirs } from './helpers/tmp';

const REAL = path.join(ROOT, 'tests', 'fixtures', 'litellm', 'model_prices_chat.json');
const tmp = tempDirs('omega-prices-');
function omega(cwd: string, args: string[]) {
  return runBin(cwd, args, binEnv({ SOURCE_DATE_EPOCH: '1796169600' }));
}

/** A calibration next to a pruned price file, naming it relatively. */
function calibrationWithPrices(dir: string): string {
  const cal = JSON.parse(fs.readFileSync(path.join(ROOT, 'budgets', 'calibration.json'), 'utf8'));
  delete cal.$schema;
  cal.budget.prices_file = 'prices/litellm.json';
  cal.budget.aliases = { 'house-writer': 'claude-haiku-5-5' };
  fs.mkdirSync(path.join(dir, 'cal', 'prices'), { recursive: true });
  const r = omega(dir, ['prices', 'import', REAL, '--out', path.join('cal', 'prices', 'litellm.json')]);
  expect(r.code).toBe(0);
  const file = path.join(dir, 'cal', 'calibration.json');
  fs.writeFileSync(file, JSON.stringify(cal, null, 2));
  return file;
}

describe('LiteLLM price map', () => {
  it('prices import: counts what the real file prices, writes a pruned file that re-imports identically', () => {
    const dir = tmp();
    const r = omega(dir, ['prices', 'import', REAL, '--out', 'pruned.json']);
    expect(r.code).toBe(0);
    const imp = importPrices(fs.readFileSync(REAL, 'utf8'), 'model_prices_chat.json');
    // 3,471 chat entries: 3,331 with per-token prices; 140 price per second/character/session only.
    expect(imp.imported).toBe(3331);
    expect(imp.skipped).toEqual({ doc: 1, no_token_price: 140 });
    expect(r.stdout).toContain('model_prices_chat.json: 3331 of 3560 entries priced, 88 aliases');
    const pruned = fs.readFileSync(path.join(dir, 'pruned.json'), 'utf8');
    expect(pruned).not.toMatch(/max_input_tokens|output_cost_per_image/);
    const again = importPrices(pruned, 'pruned.json');
    expect(again.imported).toBe(3331);
    expect(again.prunedJson).toBe(pruned);
    const bad = path.join(dir, 'bad.json');
    fs.writeFileSync(bad, JSON.stringify({ m: { mode: 'chat', input_cost_per_token: 3, output_cost_per_token: 1e-6 } }));
    const b = omega(dir, ['prices', 'import', bad]);
    expect(b.code).toBe(2);
    expect(b.stderr).toContain('ERR_OMEGA_PRICE_FILE');
    expect(b.stderr).toContain('`m`.input_cost_per_token');
  });

  it('budget.prices_file: every priced chat entry costs tokens × price per field (µUSD, rounded up); the >200k tier switches at 200,001; dated names and aliases resolve', () => {
    const dir = tmp();
    const cal = loadCalibration(calibrationWithPrices(dir));
    const raw = JSON.parse(fs.readFileSync(REAL, 'utf8')) as Record<string, Record<string, unknown>>;
    const usage = { inputTokens: 12_000, cachedInputTokens: 3_000, cacheWriteTokens: 2_000, cacheWrite1hTokens: 500, outputTokens: 900, reasoningTokens: 300 };
    const t = new BudgetTracker(cal);
    let n = 0;
    for (const [name, e] of Object.entries(raw)) {
      if (e.mode !== 'chat' || typeof e.input_cost_per_token !== 'number' || typeof e.output_cost_per_token !== 'number') continue;
      const num = (k: string, d: number) => (typeof e[k] === 'number' ? (e[k] as number) : d);
      const input = e.input_cost_per_token;
      const write = num('cache_creation_input_token_cost', input);
      const reasoning = e.output_cost_per_reasoning_token as number | undefined;
      // Calibration's own models win over the file's (same names: the shipped hand prices).
      const overridden = name in JSON.parse(fs.readFileSync(path.join(ROOT, 'budgets', 'calibration.json'), 'utf8')).budget.models;
      if (overridden) continue;
      const usd =
        7_000 * input +
        3_000 * num('cache_read_input_token_cost', input) +
        1_500 * write +
        500 * num('cache_creation_input_token_cost_above_1hr', write) +
        (reasoning === undefined ? 900 * e.output_cost_per_token : 600 * e.output_cost_per_token + 300 * reasoning);
      const micro = t.cost(name, usage).costMicroUsd;
      expect(micro, name).toBeGreaterThanOrEqual(usd * 1e6 - 1e-6);
      expect(micro, name).toBeLessThan(usd * 1e6 + 1);
      n++;
    }
    expect(n).toBeGreaterThan(3300);
    // A model with a >200k tier (and no lower tier): base rates at 200,000 input tokens, the tier's on all tokens at 200,001.
    const tiered = Object.entries(raw).find(([, e]) => e.mode === 'chat' && typeof e.input_cost_per_token_above_200k_tokens === 'number' && !Object.keys(e).some((k) => /_above_(32|100|128)k/.test(k)));
    expect(tiered).toBeDefined();
    const [tname, te] = tiered as [string, Record<string, number>];
    expect(t.cost(tname, { inputTokens: 200_000, outputTokens: 0 }).costMicroUsd).toBeCloseTo(200_000 * te.input_cost_per_token * 1e6, 0);
    expect(t.cost(tname, { inputTokens: 200_001, outputTokens: 0 }).costMicroUsd).toBeCloseTo(200_001 * te.input_cost_per_token_above_200k_tokens * 1e6, 0);
    expect(resolveModel('gpt-4o-2099-01-01', cal)).toMatchObject({ matched: 'gpt-4o', rule: 'dated_snapshot' });
    expect(resolveModel('anthropic/claude-opus-5-5', cal)).toMatchObject({ matched: 'claude-opus-5-5', rule: 'provider_prefix' });
    expect(resolveModel('house-writer', cal)).toMatchObject({ matched: 'claude-haiku-5-5', rule: 'alias' });
    expect(callCost('claude-sonnet-5-5-20261001', { inputTokens: 1_000_000, outputTokens: 0 }, cal).costUsd).toBe(2);
  });

  it('stress: an unknown model fails before any call (exit 2); a deprecated one warns', () => {
    const dir = tmp();
    const file = calibrationWithPrices(dir);
    const echo = path.join(ROOT, 'tests', 'pr', 'fixtures', 'cli-echo-provider.mjs');
    const u = omega(dir, ['stress', '--count', '1', '--calibration', file, '--provider', echo, '--model', 'no-such-model-9']);
    expect(u.code).toBe(2);
    expect(u.stderr).toContain('ERR_OMEGA_UNKNOWN_MODEL');
    expect(fs.existsSync(path.join(dir, 'metrics'))).toBe(false);
    // SOURCE_DATE_EPOCH 1796169600 = 2026-12-02: claude-sonnet-4-5 retired on 2026-11-30.
    const d = omega(dir, ['stress', '--count', '1', '--scenes', '1', '--calibration', file, '--provider', echo, '--model', 'claude-sonnet-4-5']);
    expect(d.stderr).toContain('warning: model `claude-sonnet-4-5` is deprecated since 2026-11-30');
    const ok = omega(dir, ['stress', '--count', '1', '--scenes', '1', '--calibration', file, '--provider', echo]);
    expect(ok.stderr).not.toContain('deprecated');
  });
});
