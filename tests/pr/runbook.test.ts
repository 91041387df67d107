/**
 * The runbook, word for word (issue 16): walks the code blocks of `../shared/RUNBOOK.md` and runs
 * every command an operator copies from them that can run on Linux, in a temp project shaped as
 * the runbook assumes (`packages/scribe-engine/`, `scripts/pr/` = this repository's forwarders,
 * `node_modules/omega-pr` = this repository), checking each exits 0, prints the runbook's
 * "Expected" lines and writes the files the runbook names. A command the test does not know fails
 * the test: a changed runbook must be looked at, not skipped silently.
 *
 * Linux equivalents (PowerShell cannot be installed here): `powershell … concurrency10.ps1` runs
 * `bash concurrency10.sh` (after checking the .ps1 is there); `powershell … verify.ps1` runs
 * `omega-pr proofpack verify .` and `sh replay.sh`. `node X.ts` runs `X.ts` when this Node strips
 * types (>= 23.6), `X.mjs` otherwise. Not run: the operator's engine's own `npx tsc` / `npx vitest`.
 *
 * RUNBOOK.md: `<repo>/../shared/RUNBOOK.md` (CI: shared/ beside the clone), or `OMEGA_RUNBOOK`.
 * Missing: the test fails under CI, is skipped elsewhere.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import Ajv2020 from 'ajv/dist/2020';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(__dirname, '..', '..');
const BIN = path.join(ROOT, 'bin', 'omega-pr.js');
const CANDIDATES = [
  process.env.OMEGA_RUNBOOK,
  path.join(ROOT, '..', 'shared', 'RUNBOOK.md'),
  // A git worktree one level deeper (`<work>/wt/<name>` beside `<work>/shared`).
  path.join(ROOT, '..', '..', 'shared', 'RUNBOOK.md'),
].filter((p): p is string => p !== undefined && p !== '');
const RUNBOOK = CANDIDATES.find((p) => fs.existsSync(p));
/** The runbook's example run folder (phase 6): SOURCE_DATE_EPOCH makes our first stress100 run that name. */
const RUNBOOK_RUN = 'stress100_20260212_143000';
const EPOCH = String(Date.UTC(2026, 1, 12, 14, 30, 0) / 1000);

/** Node >= 23.6 (or 22.6+ with the flag) strips TypeScript types: `node x.ts` works. */
function stripsTypes(version: string): boolean {
  const [maj, min] = version.replace(/^v/, '').split('.').map(Number) as [number, number];
  return maj > 23 || (maj === 23 && min >= 6);
}

interface Block {
  lang: string;
  lines: string[];
}

/** The fenced code blocks of a markdown text. */
export function codeBlocks(md: string): Block[] {
  const out: Block[] = [];
  for (const m of md.matchAll(/^```(\w*)\n([\s\S]*?)^```/gm)) out.push({ lang: m[1] ?? '', lines: (m[2] ?? '').split('\n') });
  return out;
}

interface Step {
  /** The command as the runbook writes it (continuations joined). */
  command: string;
  /** The "Expected" comment lines that follow it. */
  expected: string[];
}

/** The commands of a shell block (continuation lines joined, `a && b` split) and their expected lines. */
export function steps(block: Block): Step[] {
  const out: Step[] = [];
  let pending = '';
  let expecting = false;
  for (const raw of block.lines) {
    const line = raw.trim();
    if (line.startsWith('#')) {
      const text = line.replace(/^#\s?/, '');
      const inline = /^Expected:\s*(\S.*)$/.exec(text);
      if (inline && out.length > 0) out[out.length - 1]?.expected.push(inline[1] as string);
      else if (/^Expected( output)?:\s*$/.test(text)) expecting = true;
      else if (expecting && text !== '' && out.length > 0) out[out.length - 1]?.expected.push(text);
      continue;
    }
    expecting = false;
    if (line === '') continue;
    if (line.endsWith('\\')) {
      pending += `${line.slice(0, -1).trim()} `;
      continue;
    }
    for (const c of `${pending}${line}`.split(' && ')) out.push({ command: c.trim(), expected: [] });
    pending = '';
  }
  return out;
}

/** Whitespace-separated words (the runbook's commands use no quotes). */
const words = (c: string) => c.split(/\s+/).filter((w) => w !== '');

interface Ran {
  command: string;
  ran: string;
  code: number | null;
  stdout: string;
  stderr: string;
}

const NOT_RUN: [RegExp, string][] = [
  [/^npx vitest run( tests\/pr\/\*\.test\.ts)?$/, "the operator's engine's own tests (PR-G0 runs them through `omega-pr preflight --test-cmd`)"],
  [/^npx tsc$/, "the operator's engine's own TypeScript build"],
];

describe.skipIf(RUNBOOK === undefined && !process.env.CI)('the runbook, word for word (../shared/RUNBOOK.md)', () => {
  it('RUNBOOK.md is present (shared/ beside the clone)', () => {
    expect(RUNBOOK, `none of ${CANDIDATES.join(', ')}`).toBeDefined();
  });

  it('every Linux-runnable command of every block runs, prints its expected lines and writes the files the runbook names', () => {
    const md = fs.readFileSync(RUNBOOK as string, 'utf8');
    const proj = fs.mkdtempSync(path.join(os.tmpdir(), 'omega-runbook-'));
    try {
      // The project as the runbook assumes it.
      fs.mkdirSync(path.join(proj, 'packages', 'scribe-engine', 'src', 'cli'), { recursive: true });
      fs.mkdirSync(path.join(proj, 'scripts'), { recursive: true });
      fs.cpSync(path.join(ROOT, 'scripts', 'pr'), path.join(proj, 'scripts', 'pr'), { recursive: true });
      fs.mkdirSync(path.join(proj, 'node_modules'));
      fs.symlinkSync(ROOT, path.join(proj, 'node_modules', 'omega-pr'), 'dir');
      // Phase 4's `--input test-scene.json`: a cases file (schemas/cases.schema.json).
      fs.copyFileSync(path.join(ROOT, 'tests', 'pr', 'fixtures', 'cases-five.json'), path.join(proj, 'packages', 'scribe-engine', 'src', 'cli', 'test-scene.json'));
      // `omega-pr` on PATH, as an installed package puts it: `sh replay.sh` replays each pack through
      // it (the version toolchain.json records), never through npx and the network.
      const bin = path.join(proj, 'node_modules', '.bin');
      fs.mkdirSync(bin);
      fs.writeFileSync(path.join(bin, 'omega-pr'), `#!/bin/sh\nexec '${process.execPath}' '${BIN}' "$@"\n`, { mode: 0o755 });
      const env = { ...process.env, SOURCE_DATE_EPOCH: EPOCH, CI: '', FORCE_COLOR: '0', NO_COLOR: '1', PATH: `${bin}${path.delimiter}${process.env.PATH ?? ''}`, OMEGA_REPLAY_NPX: '0' };
      const git = (args: string[]) => spawnSync('git', args, { cwd: proj, env: { ...env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@t', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@t' } });
      git(['init', '-q', '-b', 'sprint/pr-l5-hardening']);
      git(['commit', '-q', '--allow-empty', '-m', 'baseline']);

      const ran: Ran[] = [];
      const skipped: string[] = [];
      const exec = (cmd: string, cwd: string, argv: string[], command: string): Ran => {
        const [bin, ...args] = argv as [string, ...string[]];
        const r = spawnSync(bin, args, { cwd, env, encoding: 'utf8', timeout: 120_000 });
        const x = { command, ran: cmd, code: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
        ran.push(x);
        return x;
      };
      for (const block of codeBlocks(md).filter((b) => ['powershell', 'bash', 'sh'].includes(b.lang))) {
        // Every block starts at the project root (phase 6's "cd proofpacks/<run>" is from there).
        let cwd = proj;
        for (const step of steps(block)) {
          const w = words(step.command.replace(/<run>/g, RUNBOOK_RUN));
          const results: Ran[] = [];
          if (w[0] === 'cd') {
            const to = path.resolve(cwd, (w[1] as string).replace(/\\/g, '/'));
            expect(fs.existsSync(to), `${step.command}: ${path.relative(proj, to)} exists`).toBe(true);
            cwd = to;
            continue;
          }
          const notRun = NOT_RUN.find(([re]) => re.test(step.command));
          if (notRun) {
            skipped.push(`${step.command} — ${notRun[1]}`);
            continue;
          }
          if (w[0] === 'git') results.push(exec(step.command, cwd, w, step.command));
          else if (w[0] === 'powershell') {
            const script = (w[w.length - 1] as string).replace(/^\.\\/, '');
            expect(fs.existsSync(path.join(cwd, script)), `${step.command}: ${script} exists in ${path.relative(proj, cwd)}`).toBe(true);
            if (script === 'concurrency10.ps1') {
              results.push(exec('bash concurrency10.sh --updates 20', cwd, ['bash', 'concurrency10.sh', '--updates', '20'], step.command));
            } else if (script === 'verify.ps1') {
              results.push(exec('omega-pr proofpack verify .', cwd, [process.execPath, BIN, 'proofpack', 'verify', '.'], step.command));
              const replayed = exec('sh replay.sh', cwd, ['sh', 'replay.sh'], step.command);
              results.push(replayed);
              // Each pack holds a stress run with its journal: replay.sh re-derives its verdict.
              expect(replayed.stdout, replayed.stdout).toContain('RESULT: ✓ the recorded verdict follows from the recorded outputs');
            } else throw new Error(`runbook command not mapped to Linux: ${step.command}`);
          } else if (w[0] === 'node' && w[1] === 'scribe-llm.js') {
            // The runbook's engine CLI with --chaos: `omega-pr chaos` takes the same flags. Its
            // `../../../scripts/pr` from packages/scribe-engine/src/cli is packages/scripts/pr (one
            // `..` short of the project's scripts/pr, which the final test's `cd ../../scripts/pr`
            // uses): the runbook's typo, fixed here.
            const args = w.slice(2).map((a) => a.replace(/^\.\.\/\.\.\/\.\.\/scripts\//, '../../../../scripts/'));
            results.push(exec(`omega-pr chaos ${args.join(' ')}`, cwd, [process.execPath, BIN, 'chaos', ...args], step.command));
          } else if (w[0] === 'node' && /\.ts$/.test(w[1] as string)) {
            const file = w[1] as string;
            expect(fs.existsSync(path.join(cwd, file)), `${file} exists in ${path.relative(proj, cwd)}`).toBe(true);
            const use = stripsTypes(process.version) ? file : file.replace(/\.ts$/, '.mjs');
            const args = w.slice(2);
            results.push(exec(`node ${use} ${args.join(' ')}`, cwd, [process.execPath, use, ...args], step.command));
          } else throw new Error(`runbook command not known to this test: ${step.command}`);

          for (const r of results) {
            expect(r.code, `${r.command} (ran: ${r.ran})\n${r.stdout}\n${r.stderr}`).toBe(0);
            const out = r.stdout.split('\n').map((l) => l.trim());
            for (const e of step.expected) {
              if (/^- |^\.\.\.$|file\d\.json|^\(/.test(e) || e.startsWith('Test Files') || e.startsWith('~')) continue;
              if (r.ran.startsWith('sh replay.sh')) continue; // replay.sh prints its own lines
              const colon = e.indexOf(':');
              if (e === 'VERDICT: PASS' || colon < 0) {
                const re = new RegExp(`^${e.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/\d+/g, '\\d+').replace(/\\\.\\\.\\\.$/, '')}`);
                expect(out.some((l) => re.test(l)), `${r.ran}: a line like "${e}"\n${r.stdout}`).toBe(true);
              } else {
                const prefix = e.slice(0, colon + 1);
                expect(out.some((l) => l.startsWith(prefix)), `${r.ran}: a line "${prefix} …"\n${r.stdout}`).toBe(true);
              }
            }
          }
        }
      }

      // Every phase was exercised.
      const kinds = ran.map((r) => r.ran.split(' ').slice(0, 3).join(' '));
      expect(kinds.some((k) => k.startsWith('git branch'))).toBe(true);
      expect(ran.filter((r) => r.ran.startsWith('bash concurrency10.sh'))).toHaveLength(2);
      expect(ran.some((r) => r.ran.startsWith('omega-pr chaos'))).toBe(true);
      expect(ran.filter((r) => /^node stress100\.(ts|mjs)/.test(r.ran))).toHaveLength(3);
      expect(ran.filter((r) => /^node proofpack-cli\.(ts|mjs)/.test(r.ran))).toHaveLength(2);
      expect(ran.filter((r) => r.ran === 'omega-pr proofpack verify .')).toHaveLength(2);
      expect(skipped.length).toBeGreaterThan(0);

      // The files the runbook names.
      const runs = path.join(proj, 'metrics', 'pr', 'PR_RUNS');
      const names = fs.readdirSync(runs);
      const ts = '\\d{8}_\\d{6}(-\\d+)?';
      const conc = names.filter((n) => new RegExp(`^concurrency10_${ts}$`).test(n));
      expect(conc.length).toBe(2);
      for (const c of conc) expect(fs.existsSync(path.join(runs, c, 'concurrency10-report.json'))).toBe(true);
      expect(names).toContain(RUNBOOK_RUN);
      expect(names).toContain(`${RUNBOOK_RUN}-2`);
      expect(names.some((n) => new RegExp(`^stress50_${ts}$`).test(n))).toBe(true);
      for (const s of names.filter((n) => /^stress\d+_\d/.test(n))) expect(fs.existsSync(path.join(runs, s, 'PR_REPORT.json'))).toBe(true);
      // stress100_latest: the newest complete stress100 run, a relative link.
      expect(fs.readlinkSync(path.join(runs, 'stress100_latest'))).toBe(`${RUNBOOK_RUN}-2`);
      expect(fs.readlinkSync(path.join(runs, 'concurrency10_latest'))).toBe(conc.sort()[1]);
      expect(fs.readlinkSync(path.join(runs, 'stress50_latest'))).toMatch(/^stress50_\d{8}_\d{6}$/);
      // Phase 4: chaos-log.json under --output.
      const chaosOut = path.join(proj, 'packages', 'scribe-engine', 'src', 'cli', 'chaos-test-output', 'PR_RUNS');
      const chaosLog = JSON.parse(fs.readFileSync(path.join(chaosOut, 'chaos_latest', 'chaos-log.json'), 'utf8'));
      expect(chaosLog.profile).toBe('medium');
      expect(chaosLog.entries.length).toBeGreaterThanOrEqual(1000);
      expect(chaosLog.entries.some((e: { injected: boolean }) => e.injected)).toBe(true);
      expect(Object.keys(chaosLog.entries[0])).toEqual(expect.arrayContaining(['call_index', 'scene_id', 'injected', 'timestamp']));
      // Phase 6 and the final test: the packs, with the runbook's files; the final pack holds the
      // run stress100_latest pointed at (never the link itself).
      for (const pack of [RUNBOOK_RUN, 'final']) {
        const dir = path.join(proj, 'proofpacks', pack);
        for (const f of ['MANIFEST.json', 'SHA256SUMS.txt', 'toolchain.json', 'replay.sh', 'verify.ps1', 'PR_REPORT.json']) {
          expect(fs.existsSync(path.join(dir, f)), `proofpacks/${pack}/${f}`).toBe(true);
        }
      }
      const finalReport = fs.readFileSync(path.join(proj, 'proofpacks', 'final', 'PR_REPORT.json'), 'utf8');
      expect(finalReport).toBe(fs.readFileSync(path.join(runs, `${RUNBOOK_RUN}-2`, 'PR_REPORT.json'), 'utf8'));
      expect(fs.readFileSync(path.join(proj, 'metrics', 'pr', 'PR_RUNS', RUNBOOK_RUN, 'PR_REPORT.json'), 'utf8')).toContain('"total_runs": 100');
      // No gate failed: no NCR.
      expect(fs.existsSync(path.join(proj, 'nexus'))).toBe(false);
      console.log(`runbook: ran ${ran.length} commands (${[...new Set(ran.map((r) => r.command))].length} distinct runbook lines); not run: ${skipped.length} (${[...new Set(skipped)].join('; ')})`);
    } finally {
      fs.rmSync(proj, { recursive: true, force: true });
    }
  }, 120_000);
});

describe('runbook files: schema examples, chaos-config, NCRs of gate commands run alone', () => {
  const ajv = new Ajv2020({ allErrors: true, strict: false });
  const schema = (name: string) => ajv.compile(JSON.parse(fs.readFileSync(path.join(ROOT, 'schemas', name), 'utf8')));

  it('metrics/pr/schemas/*.schema.example.json are example documents valid against the real schemas (not the schemas)', () => {
    for (const [s, ex] of [
      ['run-cost.schema.json', 'run-cost.example.json'],
      ['pr-report.schema.json', 'pr-report.example.json'],
    ] as const) {
      const v = schema(s);
      const doc = JSON.parse(fs.readFileSync(path.join(ROOT, 'schemas', 'examples', ex), 'utf8'));
      expect(v(doc), `${ex}: ${ajv.errorsText(v.errors)}`).toBe(true);
      expect(doc.$schema).toBeUndefined();
      // A schema is not a valid example of itself.
      expect(v(JSON.parse(fs.readFileSync(path.join(ROOT, 'schemas', s), 'utf8')))).toBe(false);
    }
  });

  it('scripts/pr/chaos-config.json is valid against schemas/chaos-config.schema.json; a bad field is exit 2 naming it', () => {
    const v = schema('chaos-config.schema.json');
    const doc = JSON.parse(fs.readFileSync(path.join(ROOT, 'scripts', 'pr', 'chaos-config.json'), 'utf8'));
    expect(v(doc), ajv.errorsText(v.errors)).toBe(true);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'omega-chaoscfg-'));
    try {
      fs.writeFileSync(path.join(dir, 'bad.json'), JSON.stringify({ profile: 'medium', calls: 0 }));
      const r = spawnSync(process.execPath, [BIN, 'chaos', '--chaos', 'bad.json'], { cwd: dir, encoding: 'utf8' });
      expect(r.status).toBe(2);
      expect(r.stderr).toContain('ERR_OMEGA_INVALID_ARGUMENT');
      expect(r.stderr).toContain('"calls"');
      expect(fs.existsSync(path.join(dir, 'metrics', 'pr', 'PR_RUNS'))).toBe(false);
      // Flags override the file; the file's calls are used when no flag says otherwise.
      fs.writeFileSync(path.join(dir, 'ok.json'), JSON.stringify({ profile: 'light', calls: 40, seed: 7 }));
      const ok = spawnSync(process.execPath, [BIN, 'chaos', '--chaos', 'ok.json', '--chaos-profile', 'heavy', '--output', 'out'], { cwd: dir, encoding: 'utf8' });
      expect(ok.status, ok.stdout + ok.stderr).toBe(0);
      const summary = JSON.parse(fs.readFileSync(path.join(dir, 'out', 'PR_RUNS', 'chaos_latest', 'chaos-summary.json'), 'utf8'));
      expect(summary).toMatchObject({ profile: 'heavy', calls: 40, seed: 7 });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('each gate command run alone writes the runbook NCR (gate id, error, reproduction) when its gate fails; a usage error writes none; proofpack build packs what a _latest link points to', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'omega-ncr-'));
    try {
      const env = { ...process.env, SOURCE_DATE_EPOCH: EPOCH };
      const run = (args: string[]) => spawnSync(process.execPath, [BIN, ...args], { cwd: dir, env, encoding: 'utf8' });
      const ncrFor = (gate: string): string => {
        const ncrs = fs.existsSync(path.join(dir, 'nexus', 'proof')) ? fs.readdirSync(path.join(dir, 'nexus', 'proof')) : [];
        const f = ncrs.find((n) => n.startsWith(`NCR_PR_${gate}_`));
        expect(f, `an NCR for PR-${gate} in ${ncrs.join(', ')}`).toBeDefined();
        return fs.readFileSync(path.join(dir, 'nexus', 'proof', f as string), 'utf8');
      };
      // PR-G0: a failing baseline.
      const pre = run(['preflight', '--test-cmd', "echo '3 passed, 1 failed'; exit 1"]);
      expect(pre.status).toBe(1);
      expect(pre.stdout).toMatch(/NCR written: nexus\/proof\/NCR_PR_G0_\d{8}_\d{6}\.md/);
      const g0 = ncrFor('G0');
      expect(g0).toContain('PR-G0');
      expect(g0).toContain('## Reproduction');
      expect(g0).toContain('omega-pr preflight --test-cmd');
      // PR-G4: 3 runs cannot pass the variance gate.
      const st = run(['stress', '--count', '3', '--scenes', '1']);
      expect(st.status).toBe(1);
      const g4 = ncrFor('G4');
      expect(g4).toMatch(/gate \| PR-G4/);
      expect(g4).toContain('hard_pass_rate');
      expect(g4).toContain('omega-pr stress --count 3 --scenes 1');
      expect(g4).toMatch(/metrics\/pr\/PR_RUNS\/stress3_\d{8}_\d{6}\/PR_REPORT\.json/);
      // PR-G3: a provider whose every call fails.
      fs.writeFileSync(
        path.join(dir, 'failing.js'),
        `module.exports = () => ({ async generate() { const e = new Error('denied'); e.code = 'ERR_FIXTURE_AUTH'; throw e; } });\n`,
      );
      const ch = run(['chaos', '--calls', '5', '--profile', 'light', '--provider', 'failing.js', '--time-scale', '0.01']);
      expect(ch.status, ch.stdout + ch.stderr).toBe(1);
      const g3 = ncrFor('G3');
      expect(g3).toMatch(/gate \| PR-G3/);
      expect(g3).toContain('no logical call succeeded');
      expect(g3).toContain('omega-pr chaos --calls 5 --profile light --provider failing.js');
      expect(g3).toMatch(/metrics\/pr\/PR_RUNS\/chaos_\d{8}_\d{6}\/chaos-summary\.json/);
      // PR-G5: a tampered pack.
      const src = path.join(dir, 'metrics', 'pr', 'PR_RUNS', 'stress3_latest');
      expect(run(['proofpack', 'build', '--source', 'metrics/pr/PR_RUNS/stress3_latest', '--output', 'packs/p', '--type', 'stress3', '--verdict', 'FAIL']).status).toBe(0);
      expect(fs.existsSync(path.join(dir, 'packs', 'p', 'stress3_latest'))).toBe(false);
      expect(fs.readFileSync(path.join(dir, 'packs', 'p', 'PR_REPORT.json'), 'utf8')).toBe(fs.readFileSync(path.join(src, 'PR_REPORT.json'), 'utf8'));
      fs.appendFileSync(path.join(dir, 'packs', 'p', 'run-cost.json'), ' ');
      const ver = run(['proofpack', 'verify', 'packs/p']);
      expect(ver.status).toBe(1);
      const g5 = ncrFor('G5');
      expect(g5).toContain('run-cost.json');
      expect(g5).toContain('omega-pr proofpack verify packs/p');
      // Where symlinks cannot be made, a `<kind>_latest.txt` pointer file: build resolves it too.
      fs.writeFileSync(path.join(dir, 'metrics', 'pr', 'PR_RUNS', 'ptr_latest.txt'), `${fs.readlinkSync(src)}\n`);
      expect(run(['proofpack', 'build', '--source', 'metrics/pr/PR_RUNS/ptr_latest', '--output', 'packs/q', '--type', 'stress3', '--verdict', 'FAIL']).status).toBe(0);
      expect(fs.readFileSync(path.join(dir, 'packs', 'q', 'PR_REPORT.json'), 'utf8')).toBe(fs.readFileSync(path.join(src, 'PR_REPORT.json'), 'utf8'));
      // A usage error (exit 2) is not a failed gate: no NCR.
      expect(run(['concurrency', '--workers', '0']).status).toBe(2);
      expect(fs.readdirSync(path.join(dir, 'nexus', 'proof')).some((n) => n.startsWith('NCR_PR_G1_'))).toBe(false);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
