/**
 * Sharding on existing engines (issue 13, item 3): `omega-pr stress --shard auto --shards N` reads
 * the 0-based index from the environment — `JOB_COMPLETION_INDEX` (Kubernetes Indexed Jobs) and
 * `OMEGA_SHARD_INDEX` (set from `${{ strategy.job-index }}` in a GitHub Actions matrix). N REAL
 * local processes of bin/omega-pr.js, started at once like the pods / matrix jobs, merge into the
 * report one machine writes, byte for byte. The two shipped examples parse as YAML, agree with
 * themselves (N everywhere), carry exactly the commands the README's "Scale out" section shows,
 * and the Kubernetes one runs end to end here (its own command lines, with a smaller count).
 */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { SHARD_INDEX_VARIABLES, resolveShard } from '../../src/cli/shard';
import { BIN, ROOT, binEnv, runBin, type Run } from './helpers/bin';
import { tempDirs } from './helpers/tmp';

const GH_FILE = 'examples/ci/github-actions-stress.yml';
const K8S_FILE = 'examples/kubernetes/stress-indexed-job.yaml';

const tmp = tempDirs('omega-shard-');

/** The environment of a spawned omega-pr: no shard variable of the test's own, then `env`. */
function envOf(env: Record<string, string>): NodeJS.ProcessEnv {
  const base = binEnv();
  for (const v of SHARD_INDEX_VARIABLES) delete base[v];
  return { ...base, ...env };
}

function omega(cwd: string, args: string[], env: Record<string, string> = {}): Run {
  return runBin(cwd, args, envOf(env));
}

/** Starts a process; resolves when it exits. */
function start(cmd: string, args: string[], cwd: string, env: Record<string, string>): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, env: envOf(env), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** N shard processes at once, shard k with `env(k)`. */
function shardsAtOnce(cwd: string, n: number, args: string[], env: (k: number) => Record<string, string>): Promise<Run[]> {
  return Promise.all(Array.from({ length: n }, (_, k) => start(process.execPath, [BIN, ...args], cwd, env(k))));
}

function runDirs(root: string, re: RegExp): string[] {
  const runs = path.join(root, 'PR_RUNS');
  if (!fs.existsSync(runs)) return [];
  return fs
    .readdirSync(runs)
    .filter((n) => re.test(n))
    .sort()
    .map((n) => path.join(runs, n));
}

const FILES = ['PR_REPORT.json', 'run-cost.json', 'chaos-log.json'] as const;
const STRESS = ['stress', '--count', '18', '--chaos', 'medium', '--concurrency', '4'];

describe('--shard auto: the environment contract, N real processes → stress merge == one machine', () => {
  it('Kubernetes (JOB_COMPLETION_INDEX=0..2) and GitHub (OMEGA_SHARD_INDEX=0..1) merge byte for byte to one machine', async () => {
    const dir = tmp();
    const [k8s, gh] = await Promise.all([
      shardsAtOnce(dir, 3, [...STRESS, '--shard', 'auto', '--shards', '3', '--out', 'k8s'], (k) => ({ JOB_COMPLETION_INDEX: String(k) })),
      shardsAtOnce(dir, 2, [...STRESS, '--shard', 'auto', '--shards', '2', '--out', 'gh'], (k) => ({ OMEGA_SHARD_INDEX: String(k) })),
    ]);
    for (const [k, r] of [...k8s, ...gh].entries()) {
      // A shard is judged on its own runs (0 or 1), never a usage error.
      expect([0, 1], `shard process ${k}: ${r.stderr}`).toContain(r.code);
    }
    // JOB_COMPLETION_INDEX k is shard k+1 of 3.
    for (let k = 0; k < 3; k++) expect(k8s[k]?.stdout).toContain(`_shard${k + 1}of3/PR_REPORT.json`);
    for (let k = 0; k < 2; k++) expect(gh[k]?.stdout).toContain(`_shard${k + 1}of2/PR_REPORT.json`);
    const k8sShards = runDirs(path.join(dir, 'k8s'), /_shard\dof3$/);
    const ghShards = runDirs(path.join(dir, 'gh'), /_shard\dof2$/);
    expect(k8sShards).toHaveLength(3);
    expect(ghShards).toHaveLength(2);
    for (const [k, s] of k8sShards.entries()) {
      const rep = JSON.parse(fs.readFileSync(path.join(s, 'PR_REPORT.json'), 'utf8'));
      expect(rep.shard).toEqual({ index: k + 1, total: 3 });
      expect(rep.runs.map((r: { run_index: number }) => r.run_index)).toEqual([k, k + 3, k + 6, k + 9, k + 12, k + 15]);
    }
    const mk = omega(dir, ['stress', 'merge', ...k8sShards.map((s) => path.relative(dir, s)), '--out', 'k8s-merged']);
    expect(mk.code, mk.stderr).toBe(0);
    expect(mk.stdout).toContain('Merged 3 shards: 18 runs');
    const mg = omega(dir, ['stress', 'merge', ...ghShards.map((s) => path.relative(dir, s)), '--out', 'gh-merged']);
    expect(mg.code, mg.stderr).toBe(0);
    const one = omega(dir, [...STRESS, '--out', 'one']);
    expect(one.code, one.stderr).toBe(0);
    const [merged3] = runDirs(path.join(dir, 'k8s-merged'), /^stress18_\d{8}_\d{6}$/);
    const [merged2] = runDirs(path.join(dir, 'gh-merged'), /^stress18_\d{8}_\d{6}$/);
    const [single] = runDirs(path.join(dir, 'one'), /^stress18_\d{8}_\d{6}$/);
    for (const f of FILES) {
      const expected = fs.readFileSync(path.join(single as string, f), 'utf8');
      expect(fs.readFileSync(path.join(merged3 as string, f), 'utf8'), `${f}: 3 Kubernetes shards`).toBe(expected);
      expect(fs.readFileSync(path.join(merged2 as string, f), 'utf8'), `${f}: 2 GitHub shards`).toBe(expected);
    }
    expect(JSON.parse(fs.readFileSync(path.join(single as string, 'chaos-log.json'), 'utf8')).injected_count).toBeGreaterThan(0);
  });
});

describe('--shard auto: usage errors (exit 2, nothing run)', () => {
  const cases: { name: string; args: string[]; env: Record<string, string>; message: string }[] = [
    { name: 'no index in the environment', args: ['--shard', 'auto', '--shards', '3'], env: {}, message: 'no shard index in the environment' },
    { name: 'index out of range', args: ['--shard', 'auto', '--shards', '3'], env: { JOB_COMPLETION_INDEX: '3' }, message: 'JOB_COMPLETION_INDEX=3 is out of range for --shards 3 (0-based: 0..2)' },
    { name: 'index not a number', args: ['--shard', 'auto', '--shards', '3'], env: { OMEGA_SHARD_INDEX: '-1' }, message: 'OMEGA_SHARD_INDEX="-1" is not a whole number' },
    { name: 'the two variables disagree', args: ['--shard', 'auto', '--shards', '3'], env: { OMEGA_SHARD_INDEX: '0', JOB_COMPLETION_INDEX: '1' }, message: 'disagree' },
    { name: 'N missing', args: ['--shard', 'auto'], env: { JOB_COMPLETION_INDEX: '0' }, message: '--shard auto needs --shards N' },
    { name: 'N not a whole number', args: ['--shard', 'auto', '--shards', '0'], env: { JOB_COMPLETION_INDEX: '0' }, message: '--shards must be a whole number ≥ 1' },
    { name: '--shards without auto', args: ['--shard', '1/3', '--shards', '3'], env: {}, message: '--shards goes with --shard auto only' },
    { name: 'bad explicit shard', args: ['--shard', '4/3'], env: {}, message: '--shard must be i/n' },
  ];
  it.each(cases)('$name', ({ args, env, message }) => {
    const dir = tmp();
    const r = omega(dir, ['stress', '--count', '6', ...args], env);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain('ERR_OMEGA_USAGE');
    expect(r.stderr).toContain(message);
    expect(fs.existsSync(path.join(dir, 'metrics', 'pr', 'PR_RUNS'))).toBe(false);
  });

  it('resolveShard: explicit i/n stays; auto maps 0-based k to k+1 of N; both variables may agree', () => {
    expect(resolveShard('2/5', undefined, {})).toEqual({ index: 2, total: 5 });
    expect(resolveShard(undefined, undefined, { JOB_COMPLETION_INDEX: '1' })).toBeNull();
    expect(resolveShard('auto', '4', { JOB_COMPLETION_INDEX: '0' })).toEqual({ index: 1, total: 4 });
    expect(resolveShard('auto', '4', { OMEGA_SHARD_INDEX: '3', JOB_COMPLETION_INDEX: '3' })).toEqual({ index: 4, total: 4 });
    expect(() => resolveShard('auto', '4', { OMEGA_SHARD_INDEX: ' ' })).toThrow(/no shard index/);
  });
});

// ---- the shipped examples ----------------------------------------------------------------------

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any

const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');

/** The `sh` blocks of the README's "Scale out" section whose first line names an example file. */
function readmeCommands(): Map<string, string[]> {
  const start = readme.indexOf('### Scale out');
  expect(start, 'README has a "Scale out" section').toBeGreaterThan(0);
  const end = readme.indexOf('\n## ', start);
  const section = readme.slice(start, end === -1 ? undefined : end);
  const out = new Map<string, string[]>();
  for (const m of section.matchAll(/```sh\n([\s\S]*?)```/g)) {
    const lines = (m[1] as string).split('\n').map((l) => l.trim()).filter((l) => l !== '');
    const head = /^# (examples\/\S+)$/.exec(lines[0] ?? '');
    if (head) out.set(head[1] as string, lines.slice(1));
  }
  return out;
}

/** Every shell line of a workflow's `run:` steps. */
function workflowLines(doc: Json): string[] {
  return Object.values(doc.jobs as Record<string, Json>).flatMap((job) =>
    (job.steps as Json[]).flatMap((s) => (typeof s.run === 'string' ? s.run.split('\n').map((l: string) => l.trim()).filter((l: string) => l !== '') : [])),
  );
}

/** Every shell line of the containers' `sh -c` scripts. */
function manifestLines(docs: Json[]): string[] {
  return docs.flatMap((d) => {
    const spec = d.spec?.template?.spec;
    if (!spec) return [];
    return [...(spec.initContainers ?? []), ...spec.containers].flatMap((c: Json) =>
      (c.args ?? []).flatMap((a: string) => a.split('\n').map((l) => l.trim()).filter((l) => l !== '' && l !== 'set -e')),
    );
  });
}

const omegaLines = (lines: string[]) => lines.filter((l) => /(^|\s|\/)omega-pr /.test(l));

describe('examples/ci/github-actions-stress.yml', () => {
  const doc = parse(fs.readFileSync(path.join(ROOT, GH_FILE), 'utf8')) as Json;

  it('parses: a matrix of N shard jobs with OMEGA_SHARD_INDEX from strategy.job-index, uploads, a merge job that signs', () => {
    const stress = doc.jobs.stress;
    expect(stress.strategy.matrix.shard).toEqual([0, 1, 2, 3]);
    expect(stress.strategy['fail-fast']).toBe(false);
    expect(stress.env.OMEGA_SHARD_INDEX).toBe('${{ strategy.job-index }}');
    const steps = stress.steps as Json[];
    const run = steps.find((s) => typeof s.run === 'string' && s.run.includes('omega-pr stress'));
    expect(run.run).toContain('--shard auto --shards ${{ strategy.job-total }}');
    const upload = steps.find((s) => String(s.uses).startsWith('actions/upload-artifact@'));
    expect(upload.with.name).toContain('${{ strategy.job-index }}');
    expect(run.run).toContain(`--out ${path.posix.dirname(upload.with.path)}`);
    const merge = doc.jobs.merge;
    expect(merge.needs).toBe('stress');
    const download = (merge.steps as Json[]).find((s) => String(s.uses).startsWith('actions/download-artifact@'));
    expect(download.with['merge-multiple']).toBe(true);
    const lines = workflowLines(doc);
    expect(lines.some((l) => l.includes(`omega-pr stress merge ${download.with.path}/`))).toBe(true);
    expect(lines.some((l) => l.includes('omega-pr proofpack build') && l.includes('--sign'))).toBe(true);
  });

  it('holds exactly the omega-pr commands the README shows', () => {
    const shown = readmeCommands().get(GH_FILE);
    expect(shown, `README shows the commands of ${GH_FILE}`).toBeDefined();
    const lines = workflowLines(doc);
    for (const l of shown as string[]) expect(lines, `README line not in ${GH_FILE}`).toContain(l);
    expect(omegaLines(lines)).toEqual(omegaLines(shown as string[]));
  });
});

describe('examples/kubernetes/stress-indexed-job.yaml', () => {
  const text = fs.readFileSync(path.join(ROOT, K8S_FILE), 'utf8');
  const parsed = parseAllDocuments(text);
  const docs = parsed.map((d) => d.toJS() as Json);

  it('parses: a RWX PVC, an Indexed Job of N pods with --shards N, a merge Job on the same volume', () => {
    for (const d of parsed) expect(d.errors).toEqual([]);
    expect(docs.map((d) => d.kind)).toEqual(['PersistentVolumeClaim', 'Job', 'Job']);
    const [pvc, job, merge] = docs;
    expect(pvc.spec.accessModes).toContain('ReadWriteMany');
    expect(job.spec.completionMode).toBe('Indexed');
    const n = job.spec.completions as number;
    expect(job.spec.parallelism).toBe(n);
    const shardLine = manifestLines([job]).find((l) => l.includes('omega-pr stress'));
    expect(shardLine).toContain(`--shard auto --shards ${n}`);
    const waitLine = manifestLines([merge]).find((l) => l.startsWith('until '));
    expect(waitLine).toContain(`of${n}/PR_REPORT.json`);
    expect(waitLine).toContain(`-ge ${n} `);
    for (const d of [job, merge]) {
      expect(d.spec.template.spec.volumes.find((v: Json) => v.name === 'runs').persistentVolumeClaim.claimName).toBe(pvc.metadata.name);
    }
    expect(manifestLines([merge]).some((l) => l.includes('omega-pr proofpack build') && l.includes('--sign'))).toBe(true);
  });

  it('holds exactly the omega-pr commands the README shows (and the README applies this file)', () => {
    const shown = readmeCommands().get(K8S_FILE);
    expect(shown, `README shows the commands of ${K8S_FILE}`).toBeDefined();
    const lines = manifestLines(docs);
    for (const l of shown as string[]) expect(lines, `README line not in ${K8S_FILE}`).toContain(l);
    expect(omegaLines(lines)).toEqual(omegaLines(shown as string[]));
    expect(readme).toContain(`kubectl apply -f ${K8S_FILE}`);
    expect(readme).toContain(`job/${docs[2].metadata.name}`);
  });

  it('runs end to end here: its own shell lines (count 1000 → 12), 4 pods at once, the wait, the merge, the signed pack', async () => {
    const work = tmp();
    const app = path.join(work, 'app');
    const runs = path.join(work, 'runs');
    fs.mkdirSync(path.join(app, 'node_modules', '.bin'), { recursive: true });
    fs.mkdirSync(runs);
    // The image's /app: the example engine as ./engine.mjs, its cases, its offline model as ./provider.mjs.
    const ex = path.join(ROOT, 'examples', 'scribe-engine', 'engine');
    fs.copyFileSync(path.join(ex, 'engine.mjs'), path.join(app, 'engine.mjs'));
    fs.copyFileSync(path.join(ex, 'cases.json'), path.join(app, 'cases.json'));
    fs.copyFileSync(path.join(ex, 'metadata.schema.json'), path.join(app, 'metadata.schema.json'));
    fs.copyFileSync(path.join(ex, 'offline-provider.mjs'), path.join(app, 'provider.mjs'));
    const bin = path.join(app, 'node_modules', '.bin', 'omega-pr');
    fs.writeFileSync(bin, `#!/bin/sh\nexec "${process.execPath}" "${BIN}" "$@"\n`, { mode: 0o755 });
    // One pass (a replacement is never scanned again): the image's paths → here, count 1000 → 12.
    const swap: Record<string, string> = {
      'npx omega-pr': bin,
      '/app/node_modules/.bin/omega-pr': bin,
      '/runs': runs,
      '/keys': work,
      '--count 1000': '--count 12',
      stress1000: 'stress12',
    };
    const local = (l: string) => l.replace(/npx omega-pr|\/app\/node_modules\/\.bin\/omega-pr|\/runs|\/keys|--count 1000|stress1000/g, (m) => swap[m] as string);
    const [, job, merge] = docs;
    const shardLine = local(manifestLines([job]).find((l) => l.includes('omega-pr stress')) as string);
    const n = job.spec.completions as number;
    const pods = await Promise.all(Array.from({ length: n }, (_, k) => start('sh', ['-c', shardLine], app, { JOB_COMPLETION_INDEX: String(k) })));
    for (const p of pods) expect(p.code, p.stderr).toBe(0);
    // A pod killed -9 (OOM) before its retry leaves its claimed, empty folder: the merge skips it.
    fs.mkdirSync(path.join(runs, 'metrics', 'pr', 'PR_RUNS', 'stress12_20000101_000000_shard1of4'));
    // The secret: an unencrypted key for the test (the example mounts an encrypted one + its password).
    expect(omega(work, ['keygen', '--output', path.join(work, 'signing.key'), '--unencrypted']).code).toBe(0);
    const [waitLine, ...mergeLines] = manifestLines([merge]).map(local);
    const waited = spawnSync('timeout', ['20', 'sh', '-c', waitLine as string], { cwd: runs, encoding: 'utf8' });
    expect(waited.status, 'the wait for the shards ends once all are there').toBe(0);
    const m = spawnSync('sh', ['-c', ['set -e', ...mergeLines].join('\n')], { cwd: runs, encoding: 'utf8', env: envOf({}) });
    expect(m.status, m.stderr).toBe(0);
    expect(m.stdout).toContain(`Merged ${n} shards: 12 runs`);
    const pack = path.join(runs, 'proofpacks', 'stress12');
    expect(fs.existsSync(path.join(pack, 'MANIFEST.json.minisig'))).toBe(true);
    const v = omega(runs, ['proofpack', 'verify', 'proofpacks/stress12', '--pubkey', path.join(work, 'signing.key.pub'), '--require-signature']);
    expect(v.code, v.stdout + v.stderr).toBe(0);
  });
});
