/**
 * `omega-pr preflight` — runbook phase 0, gate PR-G0: the baseline test suite must pass in full.
 * Runs the project's test command, reads its result (vitest's JSON reporter, or cargo's / a plain
 * `N passed, N failed` summary) and writes `metrics/pr/PR_PREFLIGHT.json`.
 */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { writeGateNcr } from '../ncr';
import type { RegisterCommand } from '../util';
import type { PreflightReport } from '../../report/types';
import { EXIT, optionalInt, rel, writeJsonAtomic } from '../util';
import { InterruptedError, interrupted, onCleanup, trackChild } from '../lifecycle';

export type { PreflightReport };

/** Options of {@link runPreflight}. */
export interface PreflightOptions {
  /** Shell command that runs the tests (default `npx vitest run`, as the runbook). */
  testCmd: string;
  /** Metrics root (default `metrics/pr`). */
  out: string;
  /** The gate also demands exactly this many tests (the runbook's 232/232), when set. */
  expectTotal?: number;
  /** Print the test command's output. */
  quiet?: boolean;
  /** The gate also demands this git branch (the runbook's pre-flight), when set. */
  expectBranch?: string;
  /** The gate also demands a clean working tree (`git status --porcelain` empty). */
  requireClean?: boolean;
}

function git(args: string[]): string {
  const r = spawnSync('git', args, { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : 'unknown';
}

/** Test counts read from a runner's output. */
export interface TestCounts {
  total: number;
  failed: number;
}

/** Reads cargo's `test result:` lines, vitest's summary or a plain `N passed, N failed` line. */
export function parseTestSummary(output: string): TestCounts | null {
  let found = false;
  let passed = 0;
  let failed = 0;
  for (const m of output.matchAll(/test result: \w+\. (\d+) passed; (\d+) failed/g)) {
    found = true;
    passed += Number(m[1]);
    failed += Number(m[2]);
  }
  if (found) return { total: passed + failed, failed };
  // eslint-disable-next-line no-control-regex
  const plain = output.replace(/\u001b\[[0-9;]*m/g, '');
  const vitest = /^\s*Tests\s+(?:(\d+) failed \| )?(\d+) passed(?: \| \d+ skipped)?\s+\((\d+)\)/m.exec(plain);
  if (vitest) return { total: Number(vitest[3]), failed: Number(vitest[1] ?? 0) };
  const generic = /^(?:\w+: )?(\d+) passed, (\d+) failed/m.exec(plain);
  if (generic) return { total: Number(generic[1]) + Number(generic[2]), failed: Number(generic[2]) };
  return null;
}

/** Output and status of the test command. */
interface CommandResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `cmd` in a shell as the leader of its own process group (so an interrupt kills the test
 * runner and its workers too, not just the shell), collecting its output (at most 256 MiB).
 */
function runTestCommand(cmd: string, echo: boolean): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, {
      shell: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, FORCE_COLOR: '0' },
      detached: process.platform !== 'win32',
    });
    trackChild(child);
    const limit = 256 * 1024 * 1024;
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (d: string) => {
      if (stdout.length < limit) stdout += d;
      if (echo) process.stdout.write(d);
    });
    child.stderr.on('data', (d: string) => {
      if (stderr.length < limit) stderr += d;
    });
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

/** Runs the preflight; returns the report, where it was written, and why it failed (empty on PASS). */
export async function runPreflight(
  opts: PreflightOptions,
): Promise<{ report: PreflightReport; file: string; problems: string[]; stderrTail: string }> {
  const isVitest = /\bvitest\b/.test(opts.testCmd);
  const tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'omega-preflight-'));
  const dropTmp = onCleanup(() => fs.rmSync(tmpDir, { recursive: true, force: true }));
  const jsonOut = path.join(tmpDir, 'vitest.json');
  const cmd = isVitest ? `${opts.testCmd} --reporter=default --reporter=json --outputFile.json=${JSON.stringify(jsonOut)}` : opts.testCmd;
  let r: CommandResult;
  try {
    r = await runTestCommand(cmd, !opts.quiet);
  } catch (err) {
    fs.rmSync(tmpDir, { recursive: true, force: true });
    dropTmp();
    throw err;
  }
  if (interrupted()) {
    fs.rmSync(tmpDir, { recursive: true, force: true });
    dropTmp();
    throw new InterruptedError('preflight (the test command was stopped)');
  }
  const output = `${r.stdout}\n${r.stderr}`;
  let counts: TestCounts | null = null;
  if (isVitest && fs.existsSync(jsonOut)) {
    const j = JSON.parse(fs.readFileSync(jsonOut, 'utf8')) as { numTotalTests: number; numFailedTests: number };
    counts = { total: j.numTotalTests, failed: j.numFailedTests };
  }
  fs.rmSync(tmpDir, { recursive: true, force: true });
  dropTmp();
  counts ??= parseTestSummary(output);
  const total = counts?.total ?? 0;
  const failed = counts?.failed ?? 0;
  const branch = git(['rev-parse', '--abbrev-ref', 'HEAD']);
  const problems: string[] = [];
  if (r.status !== 0) problems.push(`test command exited with ${r.status ?? 'a signal'}`);
  if (counts === null) problems.push('no test count found in the output');
  else if (total === 0) problems.push('0 tests ran');
  if (failed > 0) problems.push(`${failed} of ${total} tests failed`);
  if (opts.expectTotal !== undefined && total !== opts.expectTotal) problems.push(`count mismatch: ${total} tests, expected ${opts.expectTotal}`);
  if (opts.expectBranch !== undefined && branch !== opts.expectBranch) problems.push(`on branch ${branch}, expected ${opts.expectBranch}`);
  if (opts.requireClean) {
    const st = spawnSync('git', ['status', '--porcelain'], { encoding: 'utf8' });
    const dirty = st.status === 0 ? st.stdout.split('\n').filter((l) => l.trim() !== '') : null;
    if (dirty === null) problems.push('cannot read git status (not a git work tree?)');
    else if (dirty.length > 0) problems.push(`dirty tree: ${dirty.length} changed file(s) (${dirty.slice(0, 3).map((l) => l.slice(3)).join(', ')}${dirty.length > 3 ? ', …' : ''})`);
  }
  const pass = problems.length === 0;
  const stderrTail = r.stderr.split('\n').filter((l) => l.trim() !== '').slice(-10).join('\n');
  const report: PreflightReport = {
    schema_version: 'PR-PREFLIGHT-1.0',
    branch,
    head: git(['rev-parse', 'HEAD']),
    vitest_pass: pass,
    vitest_total: total,
    vitest_failed: failed,
    verdict: pass ? 'PASS' : 'FAIL',
    test_command: opts.testCmd,
    expected_total: opts.expectTotal ?? null,
  };
  const file = path.join(opts.out, 'PR_PREFLIGHT.json');
  writeJsonAtomic(file, report);
  return { report, file, problems, stderrTail };
}

/** Registers `omega-pr preflight`. */
export const register: RegisterCommand = (program, setExit) => {
  program
    .command('preflight')
    .description('Phase 0 (gate PR-G0): run the baseline tests, write metrics/pr/PR_PREFLIGHT.json')
    .option('--test-cmd <cmd>', 'shell command that runs the tests', 'npx vitest run')
    .option('--expect-total <n>', 'demand exactly this many tests (e.g. 232)')
    .option('--expect-branch <name>', 'demand this git branch')
    .option('--require-clean', 'demand a clean git working tree')
    .option('--out <dir>', 'metrics root', 'metrics/pr')
    .option('--quiet', 'do not echo the test output')
    .action(async (o: { testCmd: string; expectTotal?: string; expectBranch?: string; requireClean?: boolean; out: string; quiet?: boolean }) => {
      const expectTotal = optionalInt('--expect-total', o.expectTotal, 1);
      const { report, file, problems, stderrTail } = await runPreflight({
        testCmd: o.testCmd,
        out: o.out,
        expectTotal,
        expectBranch: o.expectBranch,
        requireClean: o.requireClean,
        quiet: o.quiet,
      });
      for (const p of problems) console.log(`✗ ${p}`);
      if (problems.length > 0 && stderrTail !== '') console.log(`Last lines of the test command's stderr:\n${stderrTail}`);
      console.log(`Branch: ${report.branch}  HEAD: ${report.head.slice(0, 12)}`);
      console.log(`Tests: ${report.vitest_total - report.vitest_failed}/${report.vitest_total} passed`);
      console.log(`Report: ${rel(file)}`);
      console.log(`VERDICT: ${report.verdict}`);
      if (report.verdict !== 'PASS') {
        const error = [`Tests: ${report.vitest_total - report.vitest_failed}/${report.vitest_total} passed`, ...problems, ...(stderrTail !== '' ? ['stderr (last lines):', stderrTail] : [])];
        writeGateNcr('PR-G0', 'Pre-flight: baseline tests', error.join('\n'), [file]);
      }
      setExit(report.verdict === 'PASS' ? EXIT.PASS : EXIT.FAIL);
    });
};
