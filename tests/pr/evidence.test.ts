/**
 * Evidence you can trust (issue 10, items 4–7), with real processes only:
 * - `replay.sh` / `verify.ps1` check what the CLI checks (manifest_sha256, the one entry-name rule
 *   set, duplicates, extras beyond the signature and attestation) in linear time;
 * - clean evidence: unique run folders (concurrency too), `proofpacks/final` = this sprint only;
 * - interrupts: SIGINT a real `stress` / `sprint` / SIGTERM `preflight` → exit 130, nothing
 *   partial left, child processes gone; a provider keeping a timer alive still exits;
 * - the path scan refuses this machine's paths, not words; `--calibration /abs` passes PR-G5.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildProofpack } from '../../src/proofpack';
import { BIN, FIX, ROOT, binEnv, interruptWhen as interruptBin, runBin, type Run } from './helpers/bin';
import { walk as walkFiles } from './helpers/files';
import { tempDirs } from './helpers/tmp';

const STAMP = '20231114_221320';
const ZERO = '0'.repeat(64);

const tmp = tempDirs('omega-ev-');

beforeAll(() => {
  if (!fs.existsSync(path.join(ROOT, 'dist', 'cli', 'lifecycle.js'))) {
    const r = spawnSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.json'], { cwd: ROOT, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`tsc failed:\n${r.stdout}${r.stderr}`);
  }
}, 180_000);

const ENV = binEnv({ OMEGA_INTERRUPT_GRACE_MS: '8000' });

function omega(cwd: string, args: string[], env: Record<string, string> = {}, timeout = 120_000): Run {
  return runBin(cwd, args, { ...ENV, ...env }, timeout);
}

/** Starts the CLI; sends `signal` once `ready(stdout)` holds; resolves when it exits. */
const interruptWhen = (cwd: string, args: string[], ready: (out: string) => boolean, signal: NodeJS.Signals = 'SIGINT') => interruptBin(cwd, args, ready, { signal, env: ENV });

/** Every file and folder (`name/`) under `dir`. */
const walk = (dir: string): string[] => walkFiles(dir, { dirs: true });

const sha = (b: string | Buffer) => createHash('sha256').update(b).digest('hex');

// ---- replay.sh / verify.ps1 ------------------------------------------------------------------

describe('replay.sh and verify.ps1 check what the CLI checks', () => {
  let root: string;
  let source: string;
  let n = 0;
  beforeAll(() => {
    root = tmp();
    source = path.join(root, 'stress3_20260212_143000');
    fs.mkdirSync(path.join(source, 'runs'), { recursive: true });
    fs.writeFileSync(path.join(source, 'PR_REPORT.json'), '{"verdict": "PASS"}\n');
    for (let i = 0; i < 3; i++) fs.writeFileSync(path.join(source, 'runs', `run-${i}.json`), `{"i": ${i}}\n`);
  });
  const pack = (): string => {
    const out = path.join(root, `pack-${++n}`);
    buildProofpack({ source, output: out, type: 'stress3', verdict: 'PASS', command: 'omega-pr stress --count 3', sourceDateEpoch: 1_707_748_200 });
    return out;
  };
  const replay = (dir: string) => spawnSync('sh', ['replay.sh'], { cwd: dir, encoding: 'utf8' });

  /**
   * Rewrites SHA256SUMS.txt to `lines` and MANIFEST.json consistently (files, sums digest, its own
   * digest): what a forger can do without a key. Only the name rules are left to catch it.
   */
  function forge(dir: string, lines: string[], edit: (m: any) => void = () => {}): void {
    const sums = lines.map((l) => `${l}\n`).join('');
    fs.writeFileSync(path.join(dir, 'SHA256SUMS.txt'), sums);
    const m = JSON.parse(fs.readFileSync(path.join(dir, 'MANIFEST.json'), 'utf8'));
    m.files = lines.map((l) => ({ path: l.slice(66), bytes: 1, sha256: l.slice(0, 64) }));
    m.totals = { files: lines.length, bytes: lines.length, oxum: `${lines.length}.${lines.length}` };
    m.sha256sums_sha256 = sha(sums);
    edit(m);
    m.manifest_sha256 = ZERO;
    m.manifest_sha256 = sha(JSON.stringify(m, null, 2) + '\n');
    fs.writeFileSync(path.join(dir, 'MANIFEST.json'), JSON.stringify(m, null, 2) + '\n');
  }
  const listed = (dir: string) => fs.readFileSync(path.join(dir, 'SHA256SUMS.txt'), 'utf8').split('\n').filter(Boolean);

  it('a fresh pack verifies; the signature and attestation are the only extras allowed', () => {
    const out = pack();
    const ok = replay(out);
    expect(ok.status, ok.stdout + ok.stderr).toBe(0);
    expect(ok.stdout).toContain('✓ MANIFEST.json matches its manifest_sha256');
    expect(ok.stdout).toContain('✓ All files verified successfully');
    expect(ok.stdout).toContain('UNSIGNED — integrity only');
    fs.writeFileSync(path.join(out, 'MANIFEST.json.minisig'), 'untrusted comment: x\n');
    fs.writeFileSync(path.join(out, 'attestation.intoto.json'), '{}\n');
    const signed = replay(out);
    expect(signed.status, signed.stdout).toBe(0);
    expect(signed.stdout).toContain('cannot check the signature');
    expect(signed.stdout).toContain('minisign -Vm MANIFEST.json -p <signer.pub>');
    fs.writeFileSync(path.join(out, 'notes.txt'), 'x');
    fs.symlinkSync('PR_REPORT.json', path.join(out, 'link.json'));
    const extra = replay(out);
    expect(extra.status).toBe(1);
    expect(extra.stdout).toContain('✗ notes.txt (extra file, not listed)');
    expect(extra.stdout).toContain('✗ link.json (symbolic link, not listed)');
  });

  it('an edited MANIFEST.json fails on manifest_sha256; a duplicated key line fails too', () => {
    const out = pack();
    const file = path.join(out, 'MANIFEST.json');
    const text = fs.readFileSync(file, 'utf8');
    fs.writeFileSync(file, text.replace('"verdict": "PASS"', '"verdict": "FAIL"'));
    const r = replay(out);
    expect(r.status).toBe(1);
    expect(r.stdout).toContain('✗ MANIFEST.json does not match its manifest_sha256');
    fs.writeFileSync(file, text.replace(/\n}\n$/, `,\n  "manifest_sha256": "${ZERO}"\n}\n`));
    expect(replay(out).status).toBe(1);
    // MANIFEST.json listing other files than SHA256SUMS.txt (both digests recomputed).
    fs.writeFileSync(file, text);
    const lines = listed(out);
    forge(out, lines, (m) => {
      m.files[0].sha256 = 'f'.repeat(64);
    });
    const d = replay(out);
    expect(d.status).toBe(1);
    expect(d.stdout).toContain('✗ MANIFEST.json and SHA256SUMS.txt list different files or digests');
  });

  it('a consistent forgery of the digests passes the script: it says integrity only, and which command checks a signature', () => {
    const out = pack();
    forge(out, listed(out), (m) => {
      m.verdict = 'FAIL';
    });
    const r = replay(out);
    expect(r.status, r.stdout).toBe(0);
    expect(r.stdout).toContain('UNSIGNED — integrity only');
  });

  // One rule set (build, CLI verify, both scripts): each refused name, listed with a valid digest
  // and with both documents recomputed, fails replay.sh with its reason — and `../outside.txt`
  // is never hashed.
  const BAD: [string, string][] = [
    ['', 'empty name'],
    ['/etc/hostname', 'absolute name'],
    ['C:/x.json', 'drive letter'],
    ['../outside.txt', 'dot segment'],
    ['runs/./run-0.json', 'dot segment'],
    ['runs//run-0.json', 'empty segment'],
    ['runs/', 'empty segment'],
    ['runs\\run-0.json', 'backslash'],
    ['ab:c.json', 'colon'],
    ['tab\there.json', 'control character'],
    ['cr\r', 'control character'],
    ['del\u007f.json', 'control character'],
  ];
  for (const [name, why] of BAD) {
    it(`refuses ${JSON.stringify(name)} (${why})`, () => {
      const out = pack();
      fs.writeFileSync(path.join(root, 'outside.txt'), 'outside\n');
      forge(out, [...listed(out), `${sha('outside\n')}  ${name}`].sort());
      const r = replay(out);
      expect(r.status, r.stdout).toBe(1);
      expect(r.stdout).toContain(`(refused name: ${why})`);
      expect(r.stdout).toContain('✗ Verification FAILED');
    });
  }

  it('refuses a name listed twice and an escaped (backslash / newline) GNU line', () => {
    const out = pack();
    const lines = listed(out);
    forge(out, [...lines, lines[0] as string].sort());
    const r = replay(out);
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/\(listed twice\)/);
    const out2 = pack();
    forge(out2, [...listed(out2), `\\${sha('x')}  new\\nline`].sort());
    const r2 = replay(out2);
    expect(r2.status).toBe(1);
    expect(r2.stdout).toContain('escaped name');
  });

  it('verify.ps1 carries the same checks (text: PowerShell cannot run here)', () => {
    const ps = fs.readFileSync(path.join(pack(), 'verify.ps1'), 'utf8');
    for (const [, why] of BAD) expect(ps).toContain(`'${why}'`);
    for (const s of ['listed twice', 'manifest_sha256', 'MANIFEST.json.minisig', 'attestation.intoto.json', 'minisign -Vm MANIFEST.json -p <signer.pub>', 'list different files']) {
      expect(ps).toContain(s);
    }
    expect(ps).toMatch(/\[regex\]::Replace\(\$manifestText, \$selfLine/);
    expect(/[^\x00-\x7f]/.test(ps)).toBe(false);
  });

  it('is linear: 5,000 files verify in seconds, not minutes', () => {
    const src = path.join(root, 'many-src');
    for (let i = 0; i < 5000; i++) {
      const d = path.join(src, `d${i % 50}`);
      if (i < 50) fs.mkdirSync(d, { recursive: true });
      fs.writeFileSync(path.join(d, `f${i}.json`), `{"i": ${i}}\n`);
    }
    const out = path.join(root, 'many');
    buildProofpack({ source: src, output: out, type: 'bench', verdict: 'PASS', sourceDateEpoch: 1_700_000_000 });
    const t0 = Date.now();
    const r = replay(out);
    const ms = Date.now() - t0;
    expect(r.status, r.stdout.slice(-2000)).toBe(0);
    expect(r.stdout).toContain('✓ 5004 listed files match their SHA-256');
    expect(ms).toBeLessThan(5000);
  }, 60_000);
});

// ---- clean evidence --------------------------------------------------------------------------

describe('clean evidence', () => {
  it('two concurrency runs at once with the same SOURCE_DATE_EPOCH → two folders, two reports', async () => {
    const dir = tmp();
    const one = () =>
      new Promise<number | null>((resolve) => {
        const c = spawn(process.execPath, [BIN, 'concurrency', '--workers', '2', '--updates', '5'], { cwd: dir, env: ENV, stdio: 'ignore' });
        c.on('close', (code) => resolve(code));
      });
    expect(await Promise.all([one(), one()])).toEqual([0, 0]);
    expect(omega(dir, ['concurrency', '--workers', '2', '--updates', '5']).code).toBe(0);
    const runs = fs.readdirSync(path.join(dir, 'metrics', 'pr', 'PR_RUNS')).filter((n) => n !== 'concurrency2_latest').sort();
    expect(runs).toEqual([`concurrency2_${STAMP}`, `concurrency2_${STAMP}-2`, `concurrency2_${STAMP}-3`]);
    for (const r of runs) expect(fs.readdirSync(path.join(dir, 'metrics', 'pr', 'PR_RUNS', r)).sort()).toEqual(['cache.json', 'concurrency2-report.json']);
  }, 60_000);
});

// ---- interrupts and exit ---------------------------------------------------------------------

const partials = (dir: string) => walk(dir).filter((f) => /partial|omega-sprint-evidence/.test(f));

describe('interrupts and exit', () => {
  it('SIGINT a real stress mid-run → exit 130, no .partial, what completed written with complete: false', async () => {
    const dir = tmp();
    const r = await interruptWhen(
      dir,
      ['stress', '--count', '400', '--concurrency', '2', '--provider', path.join(FIX, 'cli-slow-provider.mjs'), '--scorer', path.join(FIX, 'cli-scorer.js')],
      (out) => /Run 1\/400/.test(out), // non-TTY progress: the first run, then every 10 %
    );
    expect(r.code, r.stdout + r.stderr).toBe(130);
    expect(r.stderr).toContain('ERR_OMEGA_INTERRUPTED');
    expect(partials(dir)).toEqual([]);
    const runs = fs.readdirSync(path.join(dir, 'metrics', 'pr', 'PR_RUNS'));
    expect(runs).toEqual([`stress400_${STAMP}`]);
    const rep = JSON.parse(fs.readFileSync(path.join(dir, 'metrics', 'pr', 'PR_RUNS', runs[0] as string, 'interrupted-report.json'), 'utf8'));
    expect(rep).toMatchObject({ phase: 'stress', complete: false, signal: 'SIGINT', planned: 400 });
    expect(rep.completed).toBeGreaterThanOrEqual(1);
    expect(rep.completed).toBeLessThan(400);
    expect(rep.runs).toHaveLength(rep.completed);
    expect(fs.existsSync(path.join(dir, 'metrics', 'pr', 'PR_RUNS', runs[0] as string, 'PR_REPORT.json'))).toBe(false);
  }, 60_000);

  it('SIGINT a real sprint mid-run → exit 130 with an NCR; the rerun (--calibration /abs) packs only its own runs and passes PR-G5', async () => {
    const dir = tmp();
    const calDir = tmp();
    const r = await interruptWhen(
      dir,
      ['sprint', '--test-cmd', "echo '3 passed, 0 failed'", '--count', '400', '--concurrency', '2', '--chaos-calls', '100', '--workers', '2', '--updates', '5', '--provider', path.join(FIX, 'cli-slow-provider.mjs'), '--scorer', path.join(FIX, 'cli-scorer.js')],
      (out) => /Run 1\/400/.test(out), // non-TTY progress: the first run, then every 10 %
    );
    expect(r.code, r.stdout + r.stderr).toBe(130);
    expect(r.stdout).toContain('SPRINT INTERRUPTED');
    // The stress gate was cut by the interrupt: FAIL, and the table says it is partial.
    expect(r.stdout).toMatch(/│ PR-G4 +│[^│\n]*│ FAIL \(PARTIAL\) +│/);
    expect(partials(dir)).toEqual([]);
    const ncrs = fs.readdirSync(path.join(dir, 'nexus', 'proof'));
    expect(ncrs.some((f) => f.startsWith('NCR_PR_G4_'))).toBe(true);
    expect(fs.readFileSync(path.join(dir, 'nexus', 'proof', ncrs.find((f) => f.startsWith('NCR_PR_G4_')) as string), 'utf8')).toContain('interrupted');
    expect(fs.existsSync(path.join(dir, 'proofpacks', 'final'))).toBe(false);
    const stale = fs.readdirSync(path.join(dir, 'metrics', 'pr', 'PR_RUNS')).sort();
    expect(stale.some((n) => n.startsWith('sprint_'))).toBe(true);

    // Rerun, simulated provider, calibration given as an absolute path outside the project.
    const cal = path.join(calDir, 'my-calibration.json');
    fs.copyFileSync(path.join(ROOT, 'budgets', 'calibration.json'), cal);
    // Same SOURCE_DATE_EPOCH: the rerun's folders get -2 names beside the stale ones.
    const again = omega(dir, ['sprint', '--test-cmd', "echo '3 passed, 0 failed'", '--count', '10', '--chaos-calls', '100', '--workers', '2', '--updates', '5', '--calibration', cal]);
    expect(again.code, again.stdout + again.stderr).toBe(0);
    expect(again.stdout).toMatch(/│ PR-G5 +│[^│\n]*│ PASS \(UNSIGNED\) +│/);
    const final = path.join(dir, 'proofpacks', 'final');
    const packedRuns = fs.readdirSync(path.join(final, 'PR_RUNS')).sort();
    expect(packedRuns).toHaveLength(3);
    for (const p of packedRuns) expect(stale, `${p} is from the interrupted sprint`).not.toContain(p);
    expect(walk(final).filter((f) => /interrupted|partial/.test(f))).toEqual([]);
    for (const f of walk(dir)) {
      if (f.endsWith('/') || fs.lstatSync(path.join(dir, f)).isSymbolicLink()) continue; // PR_RUNS/<x>_latest links
      expect(fs.readFileSync(path.join(dir, f), 'latin1').includes(calDir), `${f} names ${calDir}`).toBe(false);
    }
    const stressPack = fs.readdirSync(path.join(dir, 'proofpacks')).find((x) => x.startsWith('stress10_')) as string;
    expect(fs.readFileSync(path.join(dir, 'proofpacks', stressPack, 'replay.sh'), 'utf8')).toContain('--calibration my-calibration.json');
  }, 120_000);

  it('SIGTERM preflight → exit 130 and its test command (a process group) is gone', async () => {
    const dir = tmp();
    const pidFile = path.join(dir, 'child.pid');
    const r = await interruptWhen(dir, ['preflight', '--test-cmd', `sh -c 'echo $$ > child.pid; echo started; sleep 60'`], (out) => out.includes('started'), 'SIGTERM');
    expect(r.code, r.stderr).toBe(130);
    const pid = Number(fs.readFileSync(pidFile, 'utf8'));
    await new Promise((res) => setTimeout(res, 300));
    // Gone, or a zombie waiting for a reaper (no longer running).
    const alive = () => {
      try {
        process.kill(pid, 0);
      } catch {
        return false;
      }
      const stat = fs.existsSync(`/proc/${pid}/stat`) ? fs.readFileSync(`/proc/${pid}/stat`, 'utf8') : '';
      return !/^\d+ \(.*\) Z/.test(stat);
    };
    expect(alive()).toBe(false);
    expect(partials(dir)).toEqual([]);
  }, 60_000);

  it('SIGINT proofpack build mid-copy → cancelled at once: exit 130, no hidden .partial folder, no output', async () => {
    const dir = tmp();
    const src = path.join(dir, 'big-run');
    fs.mkdirSync(src);
    const chunk = Buffer.alloc(1 << 20, 97);
    for (let i = 0; i < 96; i++) fs.writeFileSync(path.join(src, `part-${i}.bin`), chunk);
    const child = spawn(process.execPath, [BIN, 'proofpack', 'build', '--source', 'big-run', '--output', 'pack', '--type', 'big', '--verdict', 'PASS'], {
      cwd: dir,
      env: ENV,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (d: string) => {
      stderr += d;
    });
    // Interrupt as soon as the hidden staging folder exists (the copy is under way).
    const poll = setInterval(() => {
      if (fs.readdirSync(dir).some((n) => n.startsWith('.pack.partial-'))) {
        clearInterval(poll);
        child.kill('SIGINT');
      }
    }, 5);
    const t0 = Date.now();
    const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
    clearInterval(poll);
    if (code === 0) return; // the build won the race on a fast machine: nothing to clean up
    expect(code, stderr).toBe(130);
    expect(Date.now() - t0, 'cancelled, not waited for the 8 s grace').toBeLessThan(6000);
    expect(stderr).toContain('ERR_OMEGA_INTERRUPTED');
    expect(fs.readdirSync(dir).filter((n) => n !== 'big-run')).toEqual([]);
  }, 60_000);

  it('a provider with setInterval at top level: stress still exits with its gate code', () => {
    const dir = tmp();
    const r = omega(dir, ['stress', '--count', '3', '--provider', path.join(FIX, 'cli-interval-provider.mjs'), '--scorer', path.join(FIX, 'cli-scorer.js')], {}, 60_000);
    expect(r.signal, 'killed by the test timeout: the CLI hung').toBeNull();
    expect(r.stdout).toMatch(/^VERDICT: (PASS|FAIL)$/m);
    const verdict = /^VERDICT: (PASS|FAIL)$/m.exec(r.stdout)?.[1];
    expect(r.code).toBe(verdict === 'PASS' ? 0 : 1);
  }, 90_000);
});

// ---- path scan: leaks, not words -------------------------------------------------------------

describe('path scan: this machine, not words', () => {
  it('an answer mentioning /home/x packs (one warning per file); the real cwd in a file is refused', () => {
    const dir = tmp();
    const run = path.join(dir, 'run1');
    fs.mkdirSync(run);
    fs.writeFileSync(
      path.join(run, 'answers-cache.json'),
      JSON.stringify({ a: 'Put your notes in /home/x/notes.txt or /tmp/scratch.', b: 'Also /home/y/z.' }, null, 2) + '\n',
    );
    const ok = omega(dir, ['proofpack', 'build', '--source', 'run1', '--output', 'pack1', '--type', 'stress3', '--verdict', 'PASS']);
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
    const warnings = ok.stdout.split('\n').filter((l) => l.startsWith('! '));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^! answers-cache\.json:2: contains "\/home\/"/);
    fs.writeFileSync(path.join(run, 'log.txt'), `ok\nwrote ${dir}/metrics/x.json\n`);
    const bad = omega(dir, ['proofpack', 'build', '--source', 'run1', '--output', 'pack2', '--type', 'stress3', '--verdict', 'PASS']);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toContain('log.txt:2: contains this machine');
    expect(bad.stdout).not.toContain(dir);
    expect(fs.existsSync(path.join(dir, 'pack2'))).toBe(false);
    expect(partials(dir)).toEqual([]);
  });
});
