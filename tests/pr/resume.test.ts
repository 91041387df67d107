/**
 * The run journal and resume (issue 13 item 1), end to end with the REAL bin: a stress run killed
 * with SIGKILL mid-run (or stopped with SIGINT) and resumed with `--resume` writes the same
 * `PR_REPORT.json`, `run-cost.json` and `chaos-log.json`, byte for byte, as the run that was never
 * interrupted — and no finished run is executed (or paid for) twice. A resume with another seed or
 * an edited calibration is refused (`ERR_OMEGA_RESUME`, exit 2); a torn last journal line is
 * dropped. Library level: `derive` does not depend on the order of the journal's lines, and the
 * shards' journals concatenated derive the whole run's documents.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadCalibration } from '../../src/index';
import { StressAbortedError, runStress } from '../../src/stress/api';
import { derive } from '../../src/stress/derive';
import { parseJournal, splitJournals, type JournalLine } from '../../src/stress/journal';
import { BIN, FIX, ROOT, binEnv, interruptWhen, runBin, type Run } from './helpers/bin';
import { tempDirs } from './helpers/tmp';

const ENV = binEnv({ OMEGA_INTERRUPT_GRACE_MS: '8000' });
const DOCS = ['PR_REPORT.json', 'run-cost.json', 'chaos-log.json'];

const tmp = tempDirs('omega-resume-');

function omega(cwd: string, args: string[], env: Record<string, string> = {}): Run {
  return runBin(cwd, args, { ...ENV, ...env });
}

const runsDir = (cwd: string) => path.join(cwd, 'metrics', 'pr', 'PR_RUNS');

/** The staging folder of a running (or killed) stress run: `<name>.cache.partial-<pid>`. */
function stagingOf(cwd: string): string | null {
  if (!fs.existsSync(runsDir(cwd))) return null;
  const d = fs.readdirSync(runsDir(cwd)).find((n) => /\.cache\.partial-\d+$/.test(n));
  return d === undefined ? null : path.join(runsDir(cwd), d);
}

function runLines(file: string): JournalLine[] {
  const j = parseJournal(fs.readFileSync(file, 'utf8'));
  return j.lines.filter((l): l is JournalLine => l.type === 'run');
}

/** Starts a stress run; SIGKILLs it once its journal holds `after` finished runs; resolves with the staging folder left. */
function killAfter(cwd: string, args: string[], after: number, env: Record<string, string> = {}): Promise<{ staging: string; signal: NodeJS.Signals | null; journaled: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd, env: { ...ENV, ...env }, stdio: 'ignore' });
    let journaled = 0;
    const poll = setInterval(() => {
      const s = stagingOf(cwd);
      if (s === null || !fs.existsSync(path.join(s, 'journal.jsonl'))) return;
      const text = fs.readFileSync(path.join(s, 'journal.jsonl'), 'utf8');
      journaled = (text.match(/^\{"type":"run"/gm) ?? []).length;
      if (journaled >= after) {
        clearInterval(poll);
        child.kill('SIGKILL');
      }
    }, 5);
    const guard = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', (_code, signal) => {
      clearInterval(poll);
      clearTimeout(guard);
      const s = stagingOf(cwd);
      if (s === null) reject(new Error('no staging folder left'));
      else resolve({ staging: s, signal, journaled });
    });
  });
}

/** The committed run folder a command reported (`Report: …/PR_REPORT.json`). */
function reportDir(cwd: string, r: Run): string {
  const m = /Report: (.*)\/PR_REPORT\.json/.exec(r.stdout);
  expect(m, r.stdout + r.stderr).not.toBeNull();
  return path.resolve(cwd, (m as RegExpExecArray)[1] as string);
}

function expectSameDocs(a: string, b: string): void {
  expect(fs.existsSync(path.join(a, 'PR_REPORT.json'))).toBe(true);
  for (const f of DOCS) {
    // No chaos profile, no chaos-log.json: on both sides.
    expect(fs.existsSync(path.join(b, f)), f).toBe(fs.existsSync(path.join(a, f)));
    if (!fs.existsSync(path.join(a, f))) continue;
    const x = fs.readFileSync(path.join(a, f), 'utf8');
    const y = fs.readFileSync(path.join(b, f), 'utf8');
    expect(y, `${f}: the resumed run differs from the uninterrupted one`).toBe(x);
  }
}

// Simulated provider, slowed down (time scale 0.02: 10–60 ms a call), medium chaos: failures,
// retries, budget settles and chaos decisions all go through the journal.
const SIM = ['stress', '--count', '30', '--concurrency', '3', '--chaos', 'medium', '--seed', '7', '--time-scale', '0.02'];

describe('stress --resume after kill -9', () => {
  it('SIGKILL mid-run, resumed from the staging folder it left → byte-identical documents; finished runs not run again', async () => {
    const base = tmp();
    const full = omega(base, SIM);
    expect(full.code, full.stderr).not.toBe(2);
    const fullDir = reportDir(base, full);
    // The journal is in the run folder (it goes into the proofpack): one line per run.
    expect(runLines(path.join(fullDir, 'journal.jsonl'))).toHaveLength(30);

    const dir = tmp();
    const killed = await killAfter(dir, SIM, 6);
    expect(killed.signal).toBe('SIGKILL');
    const before = runLines(path.join(killed.staging, 'journal.jsonl'));
    expect(before.length).toBeGreaterThanOrEqual(6);
    expect(before.length).toBeLessThan(30);
    const r = omega(dir, [...SIM, '--resume', path.relative(dir, killed.staging)]);
    expect(r.code, r.stderr).toBe(full.code);
    expect(r.stdout).toContain('resuming');
    const resumedDir = reportDir(dir, r);
    expectSameDocs(fullDir, resumedDir);
    // Every run once; the runs finished before the kill kept their lines (not run again).
    const after = runLines(path.join(resumedDir, 'journal.jsonl'));
    expect(after.map((l) => (l as { run_index: number }).run_index).sort((a, b) => a - b)).toEqual(Array.from({ length: 30 }, (_, i) => i));
    expect(after.slice(0, before.length)).toEqual(before);
    // The leftover staging folder is gone once the run it belonged to is complete.
    expect(fs.existsSync(killed.staging)).toBe(false);
  }, 120_000);

  it('a real-shaped provider: calls of finished runs are not made again (call log), documents byte-identical; a torn last line is dropped', async () => {
    const args = ['stress', '--count', '24', '--concurrency', '2', '--provider', path.join(FIX, 'resume-provider.mjs'), '--input', path.join(FIX, 'cases-five.json')];
    const base = tmp();
    const full = omega(base, args);
    expect(full.code, full.stderr).not.toBe(2);
    const fullDir = reportDir(base, full);

    const dir = tmp();
    const log = path.join(dir, 'calls.log');
    const killed = await killAfter(dir, args, 5, { OMEGA_TEST_CALL_LOG: log });
    const journal = path.join(killed.staging, 'journal.jsonl');
    const before = new Set(runLines(journal).map((l) => (l as { run_index: number }).run_index));
    // A crash mid-append: half a line at the end.
    fs.appendFileSync(journal, '{"type":"run","run_index":23,"rec');
    const callsBefore = fs.readFileSync(log, 'utf8').trim().split('\n').length;
    const r = omega(dir, [...args, '--resume', killed.staging], { OMEGA_TEST_CALL_LOG: log });
    expect(r.code, r.stderr).toBe(full.code);
    expectSameDocs(fullDir, reportDir(dir, r));
    const calls = fs.readFileSync(log, 'utf8').trim().split('\n').map(Number);
    const resumedCalls = calls.slice(callsBefore);
    // 5 cases a run: run r makes calls 5r..5r+4. No finished run is called again.
    const again = resumedCalls.filter((c) => before.has(Math.floor(c / 5)));
    expect(again).toEqual([]);
    const perRun = new Map<number, number>();
    for (const c of calls) perRun.set(Math.floor(c / 5), (perRun.get(Math.floor(c / 5)) ?? 0) + 1);
    // Only the runs in flight at the kill (≤ concurrency) were made twice.
    const twice = [...perRun.entries()].filter(([, n]) => n > 5).map(([run]) => run);
    expect(twice.length).toBeLessThanOrEqual(2);
    for (const run of twice) expect(before.has(run)).toBe(false);
  }, 120_000);
});

describe('stress --resume after Ctrl-C', () => {
  it('SIGINT → the interrupted folder keeps the journal and prints the resume command; running it → byte-identical', async () => {
    const base = tmp();
    const full = omega(base, SIM);
    const fullDir = reportDir(base, full);
    const dir = tmp();
    const r = await interruptWhen(dir, SIM, (out) => /Run 3\/30/.test(out) || /Run \d+\/30/.test(out), { env: ENV });
    expect(r.code, r.stdout + r.stderr).toBe(130);
    const m = /Resume: omega-pr (.*) --resume (\S+)/.exec(r.stdout);
    expect(m, r.stdout).not.toBeNull();
    const [, args, folder] = m as RegExpExecArray;
    expect(fs.existsSync(path.join(dir, folder as string, 'journal.jsonl'))).toBe(true);
    const rep = JSON.parse(fs.readFileSync(path.join(dir, folder as string, 'interrupted-report.json'), 'utf8'));
    expect(rep.resume_command).toContain('--resume');
    const resumed = omega(dir, [...(args as string).split(' '), '--resume', folder as string]);
    expect(resumed.code, resumed.stderr).toBe(full.code);
    expectSameDocs(fullDir, reportDir(dir, resumed));
  }, 120_000);
});

describe('stress --resume refuses other inputs', () => {
  it('another seed, an edited calibration → exit 2 ERR_OMEGA_RESUME naming what differs; nothing run', async () => {
    const dir = tmp();
    const killed = await killAfter(dir, SIM, 3);
    const otherSeed = SIM.map((a, i) => (SIM[i - 1] === '--seed' ? '8' : a));
    const r = omega(dir, [...otherSeed, '--resume', killed.staging]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain('ERR_OMEGA_RESUME');
    expect(r.stderr).toContain('seed: journal 7, now 8');
    const cal = JSON.parse(fs.readFileSync(path.join(ROOT, 'budgets', 'calibration.json'), 'utf8'));
    cal.PASS_RATIO_MIN = 0.5;
    fs.writeFileSync(path.join(dir, 'edited.json'), JSON.stringify(cal));
    const r2 = omega(dir, [...SIM, '--calibration', 'edited.json', '--resume', killed.staging]);
    expect(r2.code, r2.stderr).toBe(2);
    expect(r2.stderr).toMatch(/ERR_OMEGA_RESUME: .*calibration document digest/);
    const r3 = omega(dir, [...SIM, '--resume', 'nowhere']);
    expect(r3.code).toBe(2);
    expect(r3.stderr).toContain('ERR_OMEGA_RESUME');
    // The refused resumes ran nothing: the journal is as the kill left it.
    expect(fs.existsSync(path.join(killed.staging, 'journal.jsonl'))).toBe(true);
    expect(fs.readdirSync(runsDir(dir)).filter((n) => /^stress30_\d{8}_\d{6}(-\d+)?$/.test(n))).toEqual([]);
  }, 120_000);
});

describe('derive', () => {
  const calibration = loadCalibration();
  const clock = () => '2023-11-14T22:13:20.000Z';
  const common = { calibration, count: 12, chaos: 'medium', seed: 11, concurrency: 4, clock, timeScale: 0 };

  it('live documents = derive(journal) = derive(shuffled lines) = derive(shard journals concatenated)', async () => {
    const whole = await runStress(common);
    // The live tracker and the journal agree (the documents are derived, never taken from the tracker).
    expect(whole.runCost).toEqual(whole.outcome.runCost);
    expect(whole.report.calls).toEqual(whole.outcome.calls);
    const docs = (d: ReturnType<typeof derive>) => JSON.stringify([d.report, d.runCost, d.chaosLog]);
    const expected = JSON.stringify([whole.report, whole.runCost, whole.chaosLog]);
    expect(docs(derive(calibration, [whole.journal], clock()))).toBe(expected);
    // Any order of the lines: a seeded shuffle, several times.
    let s = 12345;
    const rand = () => ((s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (let k = 0; k < 5; k++) {
      const lines = [...whole.journal.lines];
      for (let i = lines.length - 1; i > 0; i--) {
        const j = Math.floor(rand() * (i + 1));
        [lines[i], lines[j]] = [lines[j] as JournalLine, lines[i] as JournalLine];
      }
      expect(docs(derive(calibration, [{ header: whole.journal.header, lines }], clock()))).toBe(expected);
    }
    // Three shards, their journals as text, concatenated in any order: the whole run.
    const texts: string[] = [];
    for (let i = 1; i <= 3; i++) {
      const part = await runStress({ ...common, shard: { index: i, total: 3 } });
      texts.push([part.journal.header, ...part.journal.lines].map((l) => JSON.stringify(l)).join('\n') + '\n');
    }
    for (const order of [[0, 1, 2], [2, 0, 1]]) {
      const cat = order.map((i) => texts[i]).join('');
      const merged = derive(calibration, splitJournals(parseJournal(cat)), clock());
      // The whole run's meta says shard: null, concurrency 4, like the merged shards.
      expect(docs(merged)).toBe(expected);
    }
    // A run counted twice is refused, not summed.
    expect(() => derive(calibration, splitJournals(parseJournal(texts.join('') + texts[0])), clock())).toThrow(/ERR_OMEGA_MERGE|shard|twice/);
  }, 60_000);

  it('library: an engine run aborted after a few runs, resumed with runStress({ journal, resume: true }) → the uninterrupted documents', async () => {
    const engine = {
      name: 'two-calls',
      async run(ctx: { llm: { generate(r: { prompt: string; caseId?: string }): Promise<{ text: string }> } }) {
        const a = await ctx.llm.generate({ prompt: 'first', caseId: 'run' });
        const b = await ctx.llm.generate({ prompt: 'second', caseId: 'run' });
        return { outputs: { run: `${a.text}\n${b.text}` }, checks: [{ name: 'long enough', pass: a.text.length + b.text.length > 40 }] };
      },
    };
    const opts = { ...common, engine: engine as never, count: 10, concurrency: 2 };
    const whole = await runStress(opts);
    const dir = tmp();
    const journal = path.join(dir, 'journal.jsonl');
    const controller = new AbortController();
    const first = await runStress({ ...opts, journal, signal: controller.signal, onProgress: (done) => done >= 3 && controller.abort() }).catch((e: unknown) => e);
    expect(first).toBeInstanceOf(StressAbortedError);
    const written = parseJournal(fs.readFileSync(journal, 'utf8'));
    const kept = written.lines.filter((l) => l.type === 'run').length;
    // The interrupted outcome is what its journal holds, derived like a whole run's documents.
    const partial = derive(calibration, [{ header: written.header, lines: written.lines as JournalLine[] }], clock());
    const outcome = (first as StressAbortedError).outcome;
    expect(outcome.runs).toHaveLength(kept);
    expect(JSON.stringify([outcome.runs, outcome.calls, outcome.runCost, outcome.chaosLog])).toBe(JSON.stringify([partial.report.runs, partial.report.calls, partial.runCost, partial.chaosLog]));
    expect(kept).toBeGreaterThanOrEqual(3);
    expect(kept).toBeLessThan(10);
    let ran = 0;
    const resumed = await runStress({ ...opts, journal, resume: true, onProgress: () => ran++ });
    expect(ran).toBe(10 - kept);
    expect(JSON.stringify([resumed.report, resumed.runCost, resumed.chaosLog])).toBe(JSON.stringify([whole.report, whole.runCost, whole.chaosLog]));
    // Resuming a complete journal runs nothing and derives the same documents.
    let again = 0;
    const done = await runStress({ ...opts, journal, resume: true, onProgress: () => again++ });
    expect(again).toBe(0);
    expect(JSON.stringify(done.report)).toBe(JSON.stringify(whole.report));
    // Another seed: refused, naming it.
    await expect(runStress({ ...opts, seed: 12, journal, resume: true })).rejects.toThrow(/ERR_OMEGA_RESUME|seed: journal 11, now 12/);
  }, 60_000);
});
