import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import Ajv2020 from 'ajv/dist/2020';
import { describe, expect, it } from 'vitest';
import { checkCalibration, loadCalibration, validateCalibration, DEFAULT_CALIBRATION_PATH } from '../../src/index';
import { thrown as codeOf } from './errors';

const schema = JSON.parse(fs.readFileSync(path.join(__dirname, '../../schemas/calibration.schema.json'), 'utf8'));
const ajv = new Ajv2020({ allErrors: true, strict: true });
const schemaValid = ajv.compile(schema);

function shipped(): Record<string, unknown> {
  return JSON.parse(fs.readFileSync(DEFAULT_CALIBRATION_PATH, 'utf8'));
}

describe('calibration', () => {
  it('ships complete with zero nulls and validates against core and JSON Schema', () => {
    const text = fs.readFileSync(DEFAULT_CALIBRATION_PATH, 'utf8');
    expect(text).not.toMatch(/\bnull\b/);
    const cal = loadCalibration();
    expect(cal.SEED).toBe(42);
    expect(cal.PASS_RATIO_MIN).toBe(0.75);
    expect(Object.keys(cal.chaos_profiles).sort()).toEqual(['heavy', 'hellfire', 'light', 'medium']);
    expect(checkCalibration(cal)).toEqual([]);
    expect(schemaValid(cal), JSON.stringify(schemaValid.errors)).toBe(true);
  });

  it('reports every problem at once, each with its JSON path', () => {
    const cal = shipped() as any;
    cal.SEED = null;
    cal.CHAOS_RATE = 1.5;
    cal.budget.max_per_run_usd = -3;
    cal.LOCK_TIMEOUT = 5;
    const err = codeOf(() => validateCalibration(cal));
    expect(err.code).toBe('ERR_OMEGA_CALIBRATION');
    expect(err.message).toContain('4 problem(s)');
    for (const p of ['$.SEED: is null', '$.CHAOS_RATE', '$.budget.max_per_run_usd', '$.LOCK_TIMEOUT: unknown key']) {
      expect(err.message).toContain(p);
    }
    expect(checkCalibration(cal).map((p) => p.path).sort()).toEqual(
      ['$.SEED', '$.CHAOS_RATE', '$.budget.max_per_run_usd', '$.LOCK_TIMEOUT'].sort(),
    );
    expect(schemaValid(cal)).toBe(false);
  });

  it.each([
    ['a null', (c: any) => (c.retry.max_attempts = null), '$.retry.max_attempts'],
    ['a missing key', (c: any) => delete c.PASS_RATIO_MIN, '$.PASS_RATIO_MIN'],
    ['a typo', (c: any) => ((c.budget.max_per_cal_usd = 1), delete c.budget.max_per_call_usd), '$.budget.max_per_cal_usd'],
    ['a wrong type', (c: any) => (c.STRESS_COUNT = '100'), '$.STRESS_COUNT'],
    ['a rate outside [0,1]', (c: any) => (c.chaos_profiles.light.rate = -0.1), '$.chaos_profiles.light.rate'],
    ['a per-million price', (c: any) => (c.budget.models['gpt-4o'].input_cost_per_token = 2.5), "$.budget.models.gpt-4o.input_cost_per_token"],
    ['an unknown failure type', (c: any) => c.chaos_profiles.heavy.failure_types.push('gremlins'), '$.chaos_profiles.heavy.failure_types[9]'],
    ['an unknown envelope statistic', (c: any) => (c.VARIANCE_ENVELOPES.hard_score.statistic = 'var'), '$.VARIANCE_ENVELOPES.hard_score.statistic'],
  ])('rejects %s in core and in the JSON Schema', (_label, mutate, pathText) => {
    const cal = shipped();
    mutate(cal);
    const err = codeOf(() => validateCalibration(cal));
    expect(err.code).toBe('ERR_OMEGA_CALIBRATION');
    expect(err.message).toContain(pathText);
    expect(schemaValid(cal)).toBe(false);
  });

  it('loadCalibration names the file on invalid JSON and on a missing file', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'omega-cal-'));
    const bad = path.join(dir, 'broken-calibration.json');
    fs.writeFileSync(bad, '{ "SEED": 42,');
    const err = codeOf(() => loadCalibration(bad));
    expect(err.code).toBe('ERR_OMEGA_CALIBRATION');
    expect(err.message).toContain('broken-calibration.json');
    expect(err.message).not.toContain(dir);
    const missing = codeOf(() => loadCalibration(path.join(dir, 'nope.json')));
    expect(missing.code).toBe('ERR_OMEGA_IO');
    expect(missing.message).toContain('nope.json');
  });
});
