/**
 * Replayable evidence (issue 15): `omega-pr proofpack replay DIR` re-derives PR_REPORT.json,
 * run-cost.json, chaos-log.json and the verdict from what a pack recorded — no LLM call, no
 * network — and compares them byte for byte. The REAL bin in fresh temp dirs:
 * - a simulated stress pack and a sprint's final pack reproduce;
 * - an `--input` cases run through a real-shaped provider (examples/modules/openai-provider.mjs
 *   against a local server speaking OpenAI chat completions) reproduces, with the server stopped;
 * - an edited score / recorded output → `differs`, naming the run, exit 1;
 * - a pack without journal.jsonl → exit 2 "not replayable"; a module copy whose digest differs
 *   from modules.json → refused, named, exit 2;
 * - replay in two fresh temp dirs prints the same bytes;
 * - replay.sh replays through an `omega-pr` of the recorded version on PATH, and says what to
 *   install without one (integrity still stands unless --require-replay).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { WireServer } from './helpers/wire-server';
import { replayProofpack } from '../../src/index';
import { BIN, ROOT, binEnv, runBin, startBin, type Run } from './helpers/bin';
import { tempDirs } from './helpers/tmp';

const VERSION = (JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

const tmp = tempDirs('omega-replay-');

const ENV = binEnv();

function omega(cwd: string, args: string[], env: Record<string, string> = {}): Run {
  const r = runBin(cwd, args, { ...ENV, ...env });
  expect(r.signal, `omega-pr ${args.join(' ')} killed`).toBeNull();
  return r;
}

/** The bin, not blocking this process (a local server in it must answer). */
function omegaAsync(cwd: string, args: string[], env: Record<string, string> = {}): Promise<Run> {
  return startBin(cwd, args, { ...ENV, ...env });
}

/** Edits the `run` line of `runIndex` in a journal. */
function editJournal(file: string, runIndex: number, edit: (line: any) => void): void {
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  let hit = false;
  for (const [i, l] of lines.entries()) {
    if (l === '') continue;
    const o = JSON.parse(l);
    if (o.type === 'run' && o.run_index === runIndex) {
      edit(o);
      lines[i] = JSON.stringify(o);
      hit = true;
    }
  }
  expect(hit).toBe(true);
  fs.writeFileSync(file, lines.join('\n'));
}

/** Runs a stress in a fresh dir and packs its run folder; returns the dir, the run folder and the pack. */
function stressPack(args: string[], env: Record<string, string> = {}): { dir: string; run: string; pack: string; code: number | null; stdout: string } {
  const dir = tmp();
  const s = omega(dir, ['stress', ...args], env);
  expect([0, 1], s.stdout + s.stderr).toContain(s.code);
  const runs = path.join(dir, 'metrics', 'pr', 'PR_RUNS');
  const name = fs.readdirSync(runs).find((n) => n.startsWith('stress') && !n.endsWith('_latest')) as string;
  const verdict = /^VERDICT: (PASS|FAIL)$/m.exec(s.stdout)?.[1] ?? 'FAIL';
  const b = omega(dir, ['proofpack', 'build', '--source', `metrics/pr/PR_RUNS/${name}`, '--output', 'pack', '--type', name.replace(/_.*$/, ''), '--verdict', verdict]);
  expect(b.code, b.stdout + b.stderr).toBe(0);
  return { dir, run: path.join(runs, name), pack: path.join(dir, 'pack'), code: s.code, stdout: s.stdout };
}

/** Rewrites SHA256SUMS.txt and MANIFEST.json after an edit (what anyone can do to an unsigned pack). */
function reseal(pack: string): void {
  const { createHash } = require('node:crypto') as typeof import('node:crypto');
  const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
  const m = JSON.parse(fs.readFileSync(path.join(pack, 'MANIFEST.json'), 'utf8'));
  for (const f of m.files) {
    const bytes = fs.readFileSync(path.join(pack, f.path));
    f.sha256 = sha(bytes);
    f.bytes = bytes.length;
  }
  const sums = m.files.map((f: { sha256: string; path: string }) => `${f.sha256}  ${f.path}\n`).join('');
  fs.writeFileSync(path.join(pack, 'SHA256SUMS.txt'), sums);
  m.sha256sums_sha256 = sha(sums);
  m.manifest_sha256 = '0'.repeat(64);
  m.manifest_sha256 = sha(JSON.stringify(m, null, 2) + '\n');
  fs.writeFileSync(path.join(pack, 'MANIFEST.json'), JSON.stringify(m, null, 2) + '\n');
}

describe('proofpack replay: simulated stress', () => {
  it('a simulated stress pack (with chaos) reproduces byte for byte: exit 0, one line per file', () => {
    const { pack, run } = stressPack(['--count', '12', '--chaos', 'medium', '--seed', '7']);
    // The evidence beside the reports: calibration, modules (none but the built-in ones).
    expect(fs.existsSync(path.join(run, 'calibration.json'))).toBe(true);
    expect(JSON.parse(fs.readFileSync(path.join(run, 'modules.json'), 'utf8'))).toEqual({ schema_version: 'OMEGA-MODULES-1.0', provider: 'simulated', modules: [] });
    const r = omega(path.dirname(pack), ['proofpack', 'replay', 'pack']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain('the whole stress re-run from its seed');
    expect(r.stdout).toMatch(/^✓ PR_REPORT\.json: reproduced$/m);
    expect(r.stdout).toMatch(/^✓ run-cost\.json: reproduced$/m);
    expect(r.stdout).toMatch(/^✓ chaos-log\.json: reproduced$/m);
    expect(r.stdout).toMatch(/^VERDICT: (PASS|FAIL) \(budget (PASS|FAIL)\) — reproduced$/m);
    expect(r.stdout).toMatch(/^✓ journal\.jsonl: its recorded outputs re-score to the same reports$/m);
    // The run folder itself replays too.
    expect(omega(path.dirname(pack), ['proofpack', 'replay', path.relative(path.dirname(pack), run)]).code).toBe(0);
    // A recorded output edited in the journal no longer agrees with the seed: named, exit 1.
    // (Its recorded score would not do: the simulated scorer is run again from the seed.)
    editJournal(path.join(pack, 'journal.jsonl'), 5, (l) => {
      Object.assign(l.calls[0], { ok: false, error_code: 'ERR_OMEGA_SERVER_ERROR', error_message: 'edited' });
    });
    const t = omega(path.dirname(pack), ['proofpack', 'replay', 'pack']);
    expect(t.code, t.stdout + t.stderr).toBe(1);
    expect(t.stdout).toMatch(/^✓ PR_REPORT\.json: reproduced$/m);
    expect(t.stdout).toMatch(/^✗ journal\.jsonl: differs at PR_REPORT\.json \$\.\S+ \(its recorded outputs re-score to other reports than the seed's\)$/m);
    expect(t.stdout).toMatch(/^  run 5: hard_score [0-9.]+ → [0-9.]+, .*failed_scenes 0 → 1/m);
  }, 60_000);

  it('an edited score in one run → differs at its JSON path, names the run, exit 1', () => {
    const { pack } = stressPack(['--count', '10']);
    const file = path.join(pack, 'PR_REPORT.json');
    const report = JSON.parse(fs.readFileSync(file, 'utf8'));
    const before = report.runs[3].hard_score as number;
    report.runs[3].hard_score = 0.2;
    fs.writeFileSync(file, JSON.stringify(report, null, 2) + '\n');
    reseal(pack);
    const r = omega(path.dirname(pack), ['proofpack', 'replay', 'pack']);
    expect(r.code, r.stdout + r.stderr).toBe(1);
    expect(r.stdout).toMatch(/^✗ PR_REPORT\.json: differs at \$\.runs\[3\]\.hard_score$/m);
    expect(r.stdout).toContain(`run 3: hard_score 0.2 → ${before}`);
    expect(r.stdout).toMatch(/^✓ run-cost\.json: reproduced$/m);
    expect(r.stdout).toContain('RESULT: ✗');
  }, 60_000);

  it('over budget (which calls the cap refused depends on call order): re-scored from the journal, the simulated scorer run again; reproduces', () => {
    const dir = tmp();
    const cal = JSON.parse(fs.readFileSync(path.join(ROOT, 'budgets', 'calibration.json'), 'utf8'));
    cal.budget.max_per_run_usd = 0.2;
    cal.budget.max_per_call_usd = 0.1;
    fs.writeFileSync(path.join(dir, 'cal.json'), JSON.stringify(cal, null, 2));
    const s = omega(dir, ['stress', '--count', '12', '--calibration', 'cal.json']);
    expect(s.code, s.stdout + s.stderr).toBe(1);
    const runs = path.join(dir, 'metrics', 'pr', 'PR_RUNS');
    const name = fs.readdirSync(runs).find((n) => /^stress12_\d/.test(n)) as string;
    const r = omega(dir, ['proofpack', 'replay', path.join('metrics', 'pr', 'PR_RUNS', name)]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain('! budget FAIL: which calls the caps refused depends on the order the calls were made');
    expect(r.stdout).toContain('! scorer simulated: scored again from the seed');
    expect(r.stdout).toMatch(/^VERDICT: FAIL \(budget FAIL\) — reproduced$/m);
  }, 60_000);

  it('a sprint\'s final pack (the stress run folder inside) reproduces; replay in two fresh dirs prints the same bytes', () => {
    const outs: string[] = [];
    for (let i = 0; i < 2; i++) {
      const dir = tmp();
      const s = omega(dir, ['sprint', '--test-cmd', "echo '3 passed, 0 failed'", '--count', '10', '--chaos-calls', '40', '--workers', '2', '--updates', '5']);
      expect(s.code, s.stdout + s.stderr).toBe(0);
      const r = omega(dir, ['proofpack', 'replay', 'proofpacks/final']);
      expect(r.code, r.stdout + r.stderr).toBe(0);
      expect(r.stdout).toMatch(/^Replay of PR_RUNS\/stress10_\d{8}_\d{6}: /m);
      outs.push(r.stdout);
    }
    expect(outs[1]).toBe(outs[0]);
  }, 120_000);
});

describe('proofpack replay: a real-shaped provider (OpenAI chat completions on a local server)', () => {
  it('an --input cases run through examples/modules/openai-provider.mjs reproduces with the server gone; an edited recorded output → differs, names the run, exit 1', async () => {
    const server = new WireServer();
    const base = await server.listen();
    // Answers the case named in the prompt ("Say OK for <id>"), with usage the budget prices.
    server.otherwise((req) => {
      const prompt = JSON.stringify(req.body?.messages ?? '');
      const id = /Say OK for (\w+)/.exec(prompt)?.[1] ?? '?';
      return {
        json: {
          id: 'chatcmpl-r',
          object: 'chat.completion',
          created: 1,
          model: 'gpt-4o-2024-08-06',
          choices: [{ index: 0, message: { role: 'assistant', content: id === 'b' ? 'no' : `OK answer for ${id}` }, finish_reason: 'stop' }],
          usage: { prompt_tokens: 120, completion_tokens: 30, total_tokens: 150 },
        },
      };
    });
    const dir = tmp();
    // A built-in check, a `js` check (runs in Node: its result is recorded) and a failing case.
    fs.writeFileSync(path.join(dir, 'check.mjs'), "export default (out) => out.includes('answer');\n");
    fs.writeFileSync(
      path.join(dir, 'cases.json'),
      JSON.stringify({
        cases: [
          { id: 'a', prompt: 'Say OK for a', assert: [{ type: 'contains', value: 'OK' }, { type: 'js', value: './check.mjs' }] },
          { id: 'b', prompt: 'Say OK for b', assert: [{ type: 'contains', value: 'OK' }] },
        ],
      }),
    );
    const provider = path.join(ROOT, 'examples', 'modules', 'openai-provider.mjs');
    let s: Run;
    try {
      s = await omegaAsync(dir, ['stress', '--count', '6', '--input', 'cases.json', '--provider', provider, '--model', 'gpt-4o'], { OPENAI_API_KEY: 'test', OPENAI_BASE_URL: `${base}/v1` });
    } finally {
      await server.close();
    }
    expect([0, 1], s.stdout + s.stderr).toContain(s.code);
    expect(server.requests.length).toBe(12);
    const runs = path.join(dir, 'metrics', 'pr', 'PR_RUNS');
    const name = fs.readdirSync(runs).find((n) => /^stress6_\d/.test(n)) as string;
    const run = path.join(runs, name);
    const modules = JSON.parse(fs.readFileSync(path.join(run, 'modules.json'), 'utf8')).modules as { role: string; name: string; packed: string | null }[];
    expect(modules.map((m) => [m.role, m.name, m.packed])).toEqual([
      ['provider', 'openai-provider.mjs', 'modules/provider/openai-provider.mjs'],
      ['cases', 'cases.json', 'cases.json'],
      ['check', 'check.mjs', 'modules/check/check.mjs'],
    ]);
    const b = omega(dir, ['proofpack', 'build', '--source', `metrics/pr/PR_RUNS/${name}`, '--output', 'pack', '--type', 'stress6', '--verdict', 'FAIL']);
    expect(b.code, b.stdout + b.stderr).toBe(0);
    const r = omega(dir, ['proofpack', 'replay', 'pack']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain('each run re-scored from its recorded outputs, no LLM call, no network');
    expect(r.stdout).toMatch(/^✓ PR_REPORT\.json: reproduced$/m);
    expect(r.stdout).toMatch(/^✓ run-cost\.json: reproduced$/m);
    expect(r.stdout).toContain('! js checks: recorded, not re-run (6 results');
    expect(r.stdout).toMatch(/^VERDICT: FAIL \(budget PASS\) — reproduced$/m);

    // An answer edited in the journal (and the digests recomputed: an unsigned pack).
    for (let i = 0; i < 6; i++) {
      editJournal(path.join(dir, 'pack', 'journal.jsonl'), i, (l) => {
        l.outputs.cases[1].text = 'OK answer for b';
      });
    }
    reseal(path.join(dir, 'pack'));
    const t = omega(dir, ['proofpack', 'replay', 'pack']);
    expect(t.code, t.stdout + t.stderr).toBe(1);
    expect(t.stdout).toMatch(/^✗ PR_REPORT\.json: differs at \$\./m);
    expect(t.stdout).toMatch(/^  run 4: hard_score 0\.5 → 1, hard_pass false → true, .*cases\[b\]\.hard_pass false → true/m);
    expect(t.stdout).toMatch(/^VERDICT: replayed PASS \(budget PASS\) ≠ recorded FAIL \(budget PASS\) — NOT reproduced$/m);
  }, 120_000);
});

describe('replayProofpack (the library function)', () => {
  it('gives the CLI\'s result as an object: every file reproduced, the verdicts, the notes', async () => {
    const { pack } = stressPack(['--count', '5', '--scorer', path.join(ROOT, 'examples', 'modules', 'length-scorer.mjs')]);
    const r = await replayProofpack(pack);
    expect(r.reproduced).toBe(true);
    expect(r.runs).toHaveLength(1);
    expect(r.runs[0]?.mode).toBe('recorded');
    expect(r.runs[0]?.files.map((f) => [f.file, f.status])).toEqual([
      ['PR_REPORT.json', 'reproduced'],
      ['run-cost.json', 'reproduced'],
    ]);
    expect(r.runs[0]?.recorded).toEqual(r.runs[0]?.replayed);
    expect(r.runs[0]?.notes.some((n) => n.startsWith('scorer length-scorer: recorded scores, not re-run'))).toBe(true);
    await expect(replayProofpack(tmp())).rejects.toMatchObject({ code: 'ERR_OMEGA_NOT_REPLAYABLE' });
  }, 60_000);
});

describe('proofpack replay: bad input', () => {
  it('a pack without journal.jsonl → exit 2, not replayable', () => {
    const { pack } = stressPack(['--count', '5']);
    fs.rmSync(path.join(pack, 'journal.jsonl'), { force: true });
    const r = omega(path.dirname(pack), ['proofpack', 'replay', 'pack']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('ERR_OMEGA_NOT_REPLAYABLE: not replayable: no journal.jsonl');
    expect(r.stderr).toContain('carry no recorded outputs');
    const empty = tmp();
    const e = omega(empty, ['proofpack', 'replay', '.']);
    expect(e.code).toBe(2);
    expect(e.stderr).toContain('not replayable: no PR_REPORT.json');
  }, 60_000);

  it('a scorer module: recorded scores, or run again with --scorer when its digest matches; a differing digest (given or packed) → refused, named, exit 2', () => {
    const scorer = path.join(ROOT, 'examples', 'modules', 'length-scorer.mjs');
    const { pack } = stressPack(['--count', '4', '--scorer', scorer]);
    const modules = JSON.parse(fs.readFileSync(path.join(pack, 'modules.json'), 'utf8'));
    const rec = modules.modules.find((m: { role: string }) => m.role === 'scorer');
    expect(rec).toMatchObject({ name: 'length-scorer.mjs', packed: 'modules/scorer/length-scorer.mjs' });
    expect(rec.path).not.toMatch(/^\//);
    // Recorded scores by default; `--scorer FILE` runs the scorer again when its digest is the recorded one.
    const recorded = omega(path.dirname(pack), ['proofpack', 'replay', 'pack']);
    expect(recorded.code, recorded.stdout + recorded.stderr).toBe(0);
    expect(recorded.stdout).toContain('! scorer length-scorer: recorded scores, not re-run (4 run(s)');
    const rerun = omega(path.dirname(pack), ['proofpack', 'replay', 'pack', '--scorer', scorer]);
    expect(rerun.code, rerun.stdout + rerun.stderr).toBe(0);
    expect(rerun.stdout).toContain('! scorer length-scorer: run again from length-scorer.mjs (its sha256 is the recorded one) on 4 run(s)');
    const other = path.join(path.dirname(pack), 'other-scorer.mjs');
    fs.writeFileSync(other, fs.readFileSync(scorer, 'utf8').replace('>= 40', '>= 1'));
    const refused = omega(path.dirname(pack), ['proofpack', 'replay', 'pack', '--scorer', other]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/ERR_OMEGA_MODULE_DIGEST: scorer module `other-scorer\.mjs` refused: its sha256 [0-9a-f]{64} differs from the recorded [0-9a-f]{64} \(length-scorer\.mjs\)/);
    fs.appendFileSync(path.join(pack, rec.packed), '\n// changed\n');
    const r = omega(path.dirname(pack), ['proofpack', 'replay', 'pack']);
    expect(r.code, r.stdout + r.stderr).toBe(2);
    expect(r.stderr).toContain('ERR_OMEGA_MODULE_DIGEST: scorer module `modules/scorer/length-scorer.mjs` refused');
  }, 60_000);
});

describe('replay.sh replays through the recorded omega-pr version', () => {
  it('with omega-pr on PATH: integrity, then the replay (exit 0); without: unavailable, says what to install; --require-replay fails', () => {
    const { pack } = stressPack(['--count', '6']);
    const bin = tmp();
    fs.writeFileSync(path.join(bin, 'omega-pr'), `#!/bin/sh\nexec '${process.execPath}' '${BIN}' "$@"\n`, { mode: 0o755 });
    const sh = (env: Record<string, string>, args: string[] = []) => spawnSync('sh', ['replay.sh', ...args], { cwd: pack, encoding: 'utf8', env: { ...ENV, ...env }, timeout: 120_000 });
    const withBin = sh({ PATH: `${bin}:/usr/bin:/bin` });
    expect(withBin.status, withBin.stdout + withBin.stderr).toBe(0);
    expect(withBin.stdout).toContain('✓ All files verified successfully');
    expect(withBin.stdout).toContain('Replay: omega-pr proofpack replay .');
    expect(withBin.stdout).toMatch(/^✓ PR_REPORT\.json: reproduced$/m);
    const without = sh({ PATH: '/usr/bin:/bin', OMEGA_REPLAY_NPX: '0' });
    expect(without.status, without.stdout).toBe(0);
    expect(without.stdout).toContain(`! Replay unavailable: omega-pr ${VERSION} is not on PATH`);
    expect(without.stdout).toContain(`npm install -g omega-pr@${VERSION}`);
    expect(sh({ PATH: '/usr/bin:/bin', OMEGA_REPLAY_NPX: '0' }, ['--require-replay']).status).toBe(1);
    expect(sh({ PATH: '/usr/bin:/bin' }, ['--no-replay']).stdout).toContain('Replay skipped (--no-replay)');
    expect(sh({ PATH: '/usr/bin:/bin' }, ['--bogus']).status).toBe(2);
    // A replay that differs fails the script.
    const file = path.join(pack, 'run-cost.json');
    const rc = JSON.parse(fs.readFileSync(file, 'utf8'));
    rc.total_cost_usd += 1;
    fs.writeFileSync(file, JSON.stringify(rc, null, 2) + '\n');
    reseal(pack);
    const differs = sh({ PATH: `${bin}:/usr/bin:/bin` });
    expect(differs.status, differs.stdout).toBe(1);
    expect(differs.stdout).toMatch(/^✗ run-cost\.json: differs at \$\.total_cost_usd$/m);
    expect(differs.stdout).toContain('✗ Replay: the recorded verdict does not follow from the recorded outputs');
  }, 90_000);
});
