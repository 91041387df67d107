/**
 * Output for people (src/cli/table.ts): gate and summary tables are aligned boxes at most 100
 * columns wide, without console.table's `(index)` column or quotes; a non-TTY progress prints
 * the runbook's `Run i/N...` line every 10 %, not once per run.
 */
import { describe, expect, it } from 'vitest';
import { gateStatus, renderGateTable, sprintVerdict, type GateRow } from '../../src/cli/commands/sprint';
import { fitWidths, progressMilestone, renderObjects, renderTable } from '../../src/cli/table';

const cols = (line: string): number => [...line].length;

describe('renderTable', () => {
  const long = 'metrics/pr/PR_RUNS/stress100_20260212_143000/PR_REPORT.json, metrics/pr/PR_RUNS/chaos_20260212_143000/run-cost.json';
  const rows = [
    ['PR-G0', 'Pre-flight: baseline tests', 'PASS', '232/232 tests', 'metrics/pr/PR_PREFLIGHT.json'],
    ['PR-G2', 'Budget: over budget is FAIL', 'FAIL', 'within caps (stress $0.71, chaos $0.12)', long],
  ];
  const out = renderTable(['gate', 'phase', 'verdict', 'key figure', 'report'], rows);
  const lines = out.split('\n');

  it('fits 100 columns, every line the same width (aligned)', () => {
    for (const l of lines) expect(cols(l)).toBeLessThanOrEqual(100);
    expect(new Set(lines.map(cols)).size).toBe(1);
  });

  it('has no (index) column, no quotes, no colour codes, and keeps every word', () => {
    expect(out).not.toContain('(index)');
    expect(out).not.toContain("'");
    expect(out).not.toContain('\u001b[');
    expect(lines[1]).toMatch(/^│ gate +│ phase +│ verdict +│ key figure +│ report +│$/);
    expect(out).toMatch(/^│ PR-G2 +│[^│\n]*│ FAIL +│/m);
    expect(out.replace(/[│\s]/g, '')).toContain('232/232tests');
    // Long paths wrap inside their column: nothing is cut off.
    const reportColumn = lines
      .filter((l) => l.startsWith('│'))
      .slice(1)
      .map((l) => (l.split('│')[5] ?? '').trim())
      .join('');
    expect(reportColumn).toContain(long.replace(/ /g, ''));
    expect(out).not.toContain('…');
  });

  it('a narrow table keeps its natural widths; a wide one is shrunk to fit', () => {
    expect(fitWidths(['a', 'b'], [['x', 'yy']])).toEqual([3, 4]);
    const w = fitWidths(['a', 'b'], [['x'.repeat(200), 'y'.repeat(10)]]);
    expect(w.reduce((s, n) => s + n, 0) + 3).toBeLessThanOrEqual(100);
    expect(w[1]).toBe(12);
  });

  it('renders objects with their keys as columns (the benchmark summary)', () => {
    const text = renderObjects([{ benchmark: 'reserve+settle', 'omega-pr': '1.2M', ratio: '3.10×' }]);
    expect(text.split('\n')[1]).toMatch(/^│ benchmark +│ omega-pr +│ ratio +│$/);
  });
});

describe('the sprint gate table: never PASS for what was not checked', () => {
  const row = (gate: string, verdict: GateRow['verdict'], notes?: GateRow['notes']): GateRow => ({ gate, phase: 'phase', verdict, figure: 'figure', report: 'metrics/pr/x.json', ...(notes ? { notes } : {}) });
  const rows = [
    row('PR-G0', 'PASS'),
    row('PR-G2', 'PASS', ['SIMULATED']),
    row('PR-G3', 'FAIL', ['SIMULATED']),
    row('PR-G4', 'FAIL', ['SIMULATED', 'PARTIAL']),
    row('PR-G5', 'PASS', ['UNSIGNED']),
    row('PR-G1', 'SKIPPED', ['SIMULATED']),
  ];

  it('status = verdict + what it did not check (simulated provider, unsigned pack, partial run)', () => {
    expect(rows.map(gateStatus)).toEqual(['PASS', 'PASS (SIMULATED)', 'FAIL (SIMULATED)', 'FAIL (SIMULATED, PARTIAL)', 'PASS (UNSIGNED)', 'SKIPPED']);
  });

  it('the headline says no more than the gates: FAIL, or PASS with every qualifier of its gates', () => {
    expect(sprintVerdict(rows)).toBe('FAIL');
    const passing = rows.filter((r) => r.verdict === 'PASS');
    expect(sprintVerdict(passing)).toBe('PASS (SIMULATED, UNSIGNED)');
    expect(sprintVerdict([row('PR-G0', 'PASS'), row('PR-G5', 'PASS')])).toBe('PASS');
  });

  it('the table shows the status in its verdict column and fits 100 columns', () => {
    const out = renderGateTable(rows);
    for (const l of out.split('\n')) expect(cols(l)).toBeLessThanOrEqual(100);
    expect(out).toMatch(/^│ PR-G0 +│[^│\n]*│ PASS +│/m);
    expect(out).toMatch(/^│ PR-G2 +│[^│\n]*│ PASS \(SIMULATED\) +│/m);
    expect(out).toMatch(/^│ PR-G4 +│[^│\n]*│ FAIL \(SIMULATED, PARTIAL\) +│/m);
    expect(out).toMatch(/^│ PR-G5 +│[^│\n]*│ PASS \(UNSIGNED\) +│/m);
    expect(out).not.toMatch(/^│ PR-G[235] +│[^│\n]*│ PASS +│/m);
  });
});

describe('progressMilestone (non-TTY progress)', () => {
  const printed = (total: number): number[] => {
    const out: number[] = [];
    for (let done = 1; done <= total; done++) if (progressMilestone(done, total, 0)) out.push(done);
    return out;
  };

  it('prints the first run, every 10 % and the last: 11 lines for 100 or 200 runs', () => {
    expect(printed(100)).toEqual([1, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100]);
    expect(printed(200)).toHaveLength(11);
    expect(printed(3)).toEqual([1, 2, 3]);
  });

  it('also prints when the last line is older than the interval', () => {
    expect(progressMilestone(15, 100, 9_999)).toBe(false);
    expect(progressMilestone(15, 100, 10_000)).toBe(true);
  });
});
