/**
 * `omega-pr sprint` — the runbook's FINAL INTEGRATION TEST from one command:
 * preflight (PR-G0) → concurrency ×10 (PR-G1) → chaos medium (PR-G3, with its budget: PR-G2) →
 * stress N (PR-G4, budget PR-G2) → proofpack of the stress run and of the whole `metrics/pr`
 * tree → verify both (PR-G5). Prints a gate table; exit 0 only when every gate passes. A failing
 * gate writes an NCR (`nexus/proof/NCR_PR_<ID>.md`) and, as the runbook says, stops the sprint
 * (`--keep-going` runs the remaining phases anyway).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { verifyProofpackAsync } from '../../../native';
import { signPack, unlockKey, type UnlockedKey } from '../signing';
import type { RunCost } from '../../../report-types';
import { loadCalibration } from '../../index';
import { writeNcr } from '../ncr';
import type { RegisterCommand } from '../util';
import { runPreflight } from './preflight';
import { runConcurrencyCommand } from './concurrency';
import { runChaosCommand } from './chaos';
import { runStressCommand } from './stress';
import { resolveStress } from '../../stress/api';
import { renderTable } from '../table';
import { EXIT, UsageError, buildPack, intOption, optionalInt, rel, runStamp, writeInterrupted } from '../util';
import { InterruptedError, interrupted, interruptedBy, onCleanup } from '../lifecycle';

/**
 * A path given on the command line as the tool may write it (commands in NCRs, `replay.sh`,
 * `MANIFEST.json`): relative to the working directory when inside it, else the file name only —
 * never an absolute path of this machine.
 */
export function shownPath(p: string): string {
  const r = path.relative(process.cwd(), path.resolve(p));
  if (r !== '' && !r.startsWith('..') && !path.isAbsolute(r)) return r.split(path.sep).join('/');
  return path.basename(p);
}

/**
 * Copies exactly `items` (paths relative to `root`: files or folders) into a fresh staging
 * folder outside `root` (the temp dir), named like `root`, and returns it: the sprint packs what
 * its gates judged, never earlier runs or partial folders lying beside them.
 */
function stageEvidence(root: string, items: string[]): { dir: string; remove: () => void } {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'omega-sprint-evidence-'));
  const unregister = onCleanup(() => fs.rmSync(base, { recursive: true, force: true }));
  const remove = () => {
    fs.rmSync(base, { recursive: true, force: true });
    unregister();
  };
  try {
    const dir = path.join(base, path.basename(path.resolve(root)) || 'pr');
    for (const item of [...new Set(items)].sort()) {
      const from = path.join(root, item);
      const to = path.join(dir, item);
      fs.mkdirSync(path.dirname(to), { recursive: true });
      fs.cpSync(from, to, { recursive: true, errorOnExist: true, force: false, verbatimSymlinks: true });
    }
    return { dir, remove };
  } catch (err) {
    remove();
    throw err;
  }
}

/**
 * What a gate's verdict did not check: it ran on the `SIMULATED` provider (its answers and money
 * are the simulator's), its pack is `UNSIGNED` (integrity only), or its run was `PARTIAL`
 * (interrupted before it finished).
 */
export type GateNote = 'SIMULATED' | 'UNSIGNED' | 'PARTIAL';

/** One row of the gate table. */
export interface GateRow {
  gate: string;
  phase: string;
  verdict: 'PASS' | 'FAIL' | 'SKIPPED';
  figure: string;
  report: string;
  /** Absent: the verdict checked what the gate names, for real. */
  notes?: GateNote[];
}

/** The table's status of a gate: its verdict, and what it did not check (`PASS (SIMULATED)`, `FAIL (PARTIAL)`). */
export function gateStatus(row: GateRow): string {
  const notes = row.verdict === 'SKIPPED' ? [] : (row.notes ?? []);
  return notes.length === 0 ? row.verdict : `${row.verdict} (${notes.join(', ')})`;
}

/**
 * The sprint's headline: `FAIL`, or `PASS` qualified by what its gates did not check, as in the
 * table (`PASS (SIMULATED, UNSIGNED)`): the headline never says more than the gates proved.
 */
export function sprintVerdict(rows: GateRow[]): string {
  if (!rows.every((r) => r.verdict === 'PASS')) return 'FAIL';
  const notes = [...new Set(rows.flatMap((r) => r.notes ?? []))];
  return notes.length === 0 ? 'PASS' : `PASS (${notes.join(', ')})`;
}

/** The gate table: one row per gate, its status in the third column; at most 100 columns wide. */
export function renderGateTable(rows: GateRow[]): string {
  return renderTable(['gate', 'phase', 'verdict', 'key figure', 'report'], rows.map((r) => [r.gate, r.phase, gateStatus(r), r.figure, r.report]));
}

/** Options of {@link runSprint}. */
export interface SprintOptions {
  testCmd: string;
  count?: number;
  workers: number;
  updates: number;
  chaosProfile: string;
  chaosCalls: number;
  stressChaos: string | null;
  concurrency: number;
  seed?: number;
  calibrationFile?: string;
  provider?: string;
  scorer?: string;
  /** The user's engine module for the chaos and stress phases (`--engine`). */
  engine?: string;
  /** Cases file for the chaos and stress phases (`--input`). */
  input?: string;
  /** Engine runs of the chaos phase (with `engine`; default 20). */
  chaosRuns?: number;
  /** Continue the stress phase from this interrupted / crashed stress run folder (its journal); the other phases run again. */
  resume?: string;
  /** The command line as typed: printed back as the resume command when the stress phase is interrupted. */
  argv?: string[];
  /** PR-G0: demand exactly this many tests. */
  expectTotal?: number;
  /** PR-G0: demand this git branch. */
  expectBranch?: string;
  /** PR-G0: demand a clean working tree. */
  requireClean?: boolean;
  out: string;
  proofpacks: string;
  keepGoing: boolean;
  /** Sign the final pack with this (already unlocked) key. */
  sign?: UnlockedKey;
}

/**
 * The runbook's `metrics/pr/schemas/*.schema.example.json`: example DOCUMENTS (a real 10-run
 * simulated stress run's `run-cost.json` and `PR_REPORT.json`, valid against the schemas — a test
 * checks it), shipped in `schemas/examples/`.
 */
const SCHEMA_EXAMPLES: [string, string][] = [
  [path.join('examples', 'run-cost.example.json'), 'run-cost.schema.example.json'],
  [path.join('examples', 'pr-report.example.json'), 'pr-report.schema.example.json'],
];

function schemasDir(): string {
  return path.join(__dirname, '..', '..', '..', 'schemas');
}

/** Moves an existing pack folder aside (never deletes evidence): `<dir>` → `<parent>/archive/<name>_<stamp>`. */
function moveAside(dir: string): string | null {
  if (!fs.existsSync(dir)) return null;
  const archive = path.join(path.dirname(dir), 'archive');
  fs.mkdirSync(archive, { recursive: true });
  let target = path.join(archive, `${path.basename(dir)}_${runStamp()}`);
  for (let i = 2; fs.existsSync(target); i++) target = path.join(archive, `${path.basename(dir)}_${runStamp()}-${i}`);
  fs.renameSync(dir, target);
  return target;
}

/** Runs the sprint; returns the gate rows. */
export async function runSprint(o: SprintOptions): Promise<GateRow[]> {
  // Input errors (calibration, profiles, cases, modules, models, no scorer) are exit 2 before any
  // phase runs, not a failed gate with an NCR.
  const calibration = loadCalibration(o.calibrationFile);
  for (const [flag, profile] of [['--chaos-profile', o.chaosProfile], ['--stress-chaos', o.stressChaos]] as const) {
    if (profile !== null && profile !== 'default' && !(profile in calibration.chaos_profiles)) {
      throw new UsageError(`${flag}: unknown chaos profile "${profile}" (known: ${Object.keys(calibration.chaos_profiles).join(', ')}, default)`, 'ERR_OMEGA_UNKNOWN_PROFILE');
    }
  }
  await resolveStress({ engine: o.engine ?? null, cases: o.input ?? null, provider: o.provider ?? null, scorer: o.scorer ?? null, calibration, seed: o.seed });
  const rows: GateRow[] = [];
  const ncrs: string[] = [];
  /** What this sprint's gates judged, relative to `o.out`: exactly what `proofpacks/final` holds. */
  const evidence: string[] = [];
  const judged = (p: string): string => {
    evidence.push(path.relative(o.out, p).split(path.sep).join('/'));
    return p;
  };
  let stopped = false;
  const gate = async (
    id: string,
    phase: string,
    reproduction: string,
    fn: () => Promise<{ pass: boolean; figure: string; report: string; error?: string }>,
    notes: GateNote[] = [],
  ): Promise<void> => {
    if (stopped || interrupted()) {
      rows.push({ gate: id, phase, verdict: 'SKIPPED', figure: '—', report: '—' });
      return;
    }
    console.log(`\n━━━ ${id} · ${phase} ━━━`);
    let r: { pass: boolean; figure: string; report: string; error?: string };
    let partial = false;
    try {
      r = await fn();
    } catch (err) {
      const e = err as { code?: string; message?: string };
      r = { pass: false, figure: `${e.code ?? 'error'}`, report: '—', error: `${e.code ?? 'Error'}: ${e.message ?? String(err)}` };
      if (err instanceof InterruptedError || interrupted()) {
        partial = true;
        r.figure = `interrupted (${interruptedBy() ?? 'signal'})`;
        r.error = `${id} was running when the sprint was interrupted by ${interruptedBy() ?? 'a signal'}: ${e.message ?? String(err)}. Its completed work is in an interrupted-report.json (complete: false).`;
      }
      console.log(`✗ ${r.error}`);
    }
    const noted: GateNote[] = partial ? [...notes, 'PARTIAL'] : notes;
    rows.push({ gate: id, phase, verdict: r.pass ? 'PASS' : 'FAIL', figure: r.figure, report: r.report, ...(noted.length > 0 ? { notes: noted } : {}) });
    if (!r.pass) {
      const ncr = writeNcr({
        gate: id,
        title: phase,
        error: r.error ?? `${phase}: ${r.figure}`,
        reproduction,
        reports: r.report === '—' ? [] : [r.report],
      });
      ncrs.push(ncr);
      console.log(`NCR written: ${ncr}`);
      if (!o.keepGoing) stopped = true;
    }
  };
  // Without --provider the chaos and stress phases (and the money PR-G2 judges) are the simulator's.
  const simulated: GateNote[] = o.provider === undefined ? ['SIMULATED'] : [];
  // Never the absolute path as given: the commands land in NCRs, MANIFEST.json and replay.sh.
  const common = `${o.calibrationFile ? ` --calibration ${shownPath(o.calibrationFile)}` : ''}${o.seed !== undefined ? ` --seed ${o.seed}` : ''}`;

  // The runbook's schema examples, next to the reports they describe.
  const schemaOut = path.join(o.out, 'schemas');
  fs.mkdirSync(schemaOut, { recursive: true });
  for (const [from, to] of SCHEMA_EXAMPLES) fs.copyFileSync(path.join(schemasDir(), from), judged(path.join(schemaOut, to)));

  await gate('PR-G0', 'Pre-flight: baseline tests', `omega-pr preflight --test-cmd ${JSON.stringify(o.testCmd)}`, async () => {
    const { report, file, problems, stderrTail } = await runPreflight({
      testCmd: o.testCmd,
      out: o.out,
      quiet: true,
      expectTotal: o.expectTotal,
      expectBranch: o.expectBranch,
      requireClean: o.requireClean,
    });
    judged(file);
    const figure = `${report.vitest_total - report.vitest_failed}/${report.vitest_total} tests`;
    console.log(`Tests: ${figure} — VERDICT: ${report.verdict}`);
    for (const p of problems) console.log(`✗ ${p}`);
    if (problems.length > 0 && stderrTail !== '') console.log(`Last lines of the test command's stderr:\n${stderrTail}`);
    return { pass: report.verdict === 'PASS', figure, report: rel(file), error: problems.length > 0 ? `${problems.join('; ')}${stderrTail ? `\n${stderrTail}` : ''}` : undefined };
  });

  await gate('PR-G1', `Concurrency: ${o.workers} writer processes`, `omega-pr concurrency --workers ${o.workers} --updates ${o.updates}`, async () => {
    const { report, file } = await runConcurrencyCommand({ workers: o.workers, updates: o.updates, durability: 'full', out: o.out });
    judged(path.dirname(file));
    return {
      pass: report.verdict === 'PASS',
      figure: `${report.successes}/${report.workers} ok, ${report.lost_updates} lost, ${report.residual_locks + report.residual_tmps} residual`,
      report: rel(file),
    };
  });

  /** The run-cost.json of every phase that spent money (PR-G2), with the command that made it. */
  const budgets: { pass: boolean; report: string; figure: string; command: string }[] = [];
  const budgetOf = (file: string, command: string) => {
    const rc = JSON.parse(fs.readFileSync(file, 'utf8')) as RunCost;
    const figure = `${rel(file)}: $${rc.total_cost_usd.toFixed(4)} of $${rc.max_per_run_usd}, ${rc.violations.length} violation(s), ${rc.refused_calls} call(s) refused`;
    return { pass: rc.budget_verdict === 'PASS', report: rel(file), figure, command };
  };
  // With an engine, PR-G3 is judged on runs of the engine (its LLM calls through the stack).
  const chaosCmd =
    `omega-pr chaos --profile ${o.chaosProfile}` +
    (o.engine !== undefined
      ? ` --runs ${o.chaosRuns ?? 20} --engine ${shownPath(o.engine)}${o.input !== undefined ? ` --input ${shownPath(o.input)}` : ''}`
      : ` --calls ${o.chaosCalls}`) +
    common;
  await gate('PR-G3', `Chaos: profile ${o.chaosProfile}`, chaosCmd, async () => {
    const { summary, dir } = await runChaosCommand({
      profile: o.chaosProfile,
      calls: o.chaosCalls,
      engine: o.engine,
      runs: o.chaosRuns,
      scorer: o.engine !== undefined ? o.scorer : undefined,
      seed: o.seed,
      provider: o.provider,
      calibrationFile: o.calibrationFile,
      concurrency: o.concurrency,
      out: o.out,
      input: o.input,
    });
    judged(dir);
    const budget = budgetOf(path.join(dir, 'run-cost.json'), chaosCmd);
    budgets.push(budget);
    const figure = `${(summary.observed_rate * 100).toFixed(1)}% injected (expected ${(summary.expected_rate * 100).toFixed(0)}%), ${summary.silent_successes} silent${budget.pass ? '' : ', budget FAIL'}`;
    return {
      pass: summary.verdict === 'PASS',
      figure,
      report: rel(path.join(dir, 'chaos-summary.json')),
      error: budget.pass ? undefined : `${figure}\nbudget_verdict FAIL — ${budget.figure}`,
    };
  }, simulated);

  let stressDir: string | null = null;
  let stressVerdict: 'PASS' | 'FAIL' = 'FAIL';
  let stressCost = '';
  await gate('PR-G4', 'Stress: variance', `omega-pr stress${o.count ? ` --count ${o.count}` : ''}${o.stressChaos ? ` --chaos ${o.stressChaos}` : ''}${common}`, async () => {
    const { report, dir } = await runStressCommand({
      count: o.count,
      chaos: o.stressChaos,
      seed: o.seed,
      concurrency: o.concurrency,
      provider: o.provider,
      scorer: o.scorer,
      engine: o.engine,
      input: o.input,
      calibrationFile: o.calibrationFile,
      out: o.out,
      resume: o.resume,
      argv: o.argv,
    });
    stressDir = judged(dir);
    stressVerdict = report.verdict;
    stressCost = `$${report.cost.total_cost_usd.toFixed(2)}`;
    budgets.push(budgetOf(path.join(dir, 'run-cost.json'), `omega-pr stress${o.count ? ` --count ${o.count}` : ''}${o.stressChaos ? ` --chaos ${o.stressChaos}` : ''}${common}`));
    const hard = report.analysis.metrics.hard_score;
    return {
      pass: report.verdict === 'PASS',
      figure: `hard pass ${(report.hard_pass_rate * 100).toFixed(1)}%, mean ${hard ? hard.mean.toFixed(3) : '—'}${report.downgrade_flag ? `, ${report.downgrade_flag}` : ''}`,
      report: rel(path.join(dir, 'PR_REPORT.json')),
    };
  }, simulated);

  // PR-G2 is judged on the run-cost.json of every phase that spent money (also when an earlier
  // gate stopped the sprint: an over-budget phase is reported as a budget failure).
  if (!interrupted() && (!stopped || budgets.length > 0)) {
    const pass = budgets.length > 0 && budgets.every((b) => b.pass);
    rows.push({
      gate: 'PR-G2',
      phase: 'Budget: over budget is FAIL',
      verdict: pass ? 'PASS' : 'FAIL',
      figure: pass
        ? `within caps${stressCost ? ` (stress ${stressCost})` : ''}`
        : `${budgets.filter((b) => !b.pass).length} of ${budgets.length} phase(s) over budget`,
      report: budgets.map((b) => b.report).join(', ') || '—',
      ...(simulated.length > 0 ? { notes: simulated } : {}),
    });
    if (!pass) {
      const failed = budgets.filter((b) => !b.pass);
      const ncr = writeNcr({
        gate: 'PR-G2',
        title: 'Budget: over budget is FAIL',
        error: `budget_verdict FAIL in ${failed.length} run-cost.json:\n${failed.map((b) => b.figure).join('\n')}`,
        reproduction: failed.map((b) => b.command).join('\n'),
        reports: failed.map((b) => b.report),
      });
      ncrs.push(ncr);
      console.log(`NCR written: ${ncr}`);
      if (!o.keepGoing) stopped = true;
    }
  } else {
    rows.push({ gate: 'PR-G2', phase: 'Budget: over budget is FAIL', verdict: 'SKIPPED', figure: '—', report: '—' });
  }

  await gate('PR-G5', 'Proofpacks: build + verify', 'omega-pr proofpack verify proofpacks/final', async () => {
    if (stressDir === null) throw new UsageError('no stress run to pack');
    const packs: string[] = [];
    const stressPack = path.join(o.proofpacks, path.basename(stressDir));
    await buildPack({
      source: stressDir,
      output: stressPack,
      type: path.basename(stressDir).replace(/_.*$/, ''),
      verdict: stressVerdict,
      command: `omega-pr stress${o.count ? ` --count ${o.count}` : ''}${common}`,
    });
    packs.push(stressPack);
    const finalPack = path.join(o.proofpacks, 'final');
    const moved = moveAside(finalPack);
    if (moved) console.log(`(previous ${rel(finalPack)} moved to ${rel(moved)})`);
    const allPass = rows.every((r) => r.verdict === 'PASS');
    // Exactly this sprint's runs and reports, staged outside metrics/pr.
    const staged = stageEvidence(o.out, evidence);
    let built;
    try {
      built = await buildPack({
        source: staged.dir,
        output: finalPack,
        type: 'sprint',
        verdict: allPass ? 'PASS' : 'FAIL',
        command: 'omega-pr sprint',
      });
    } finally {
      staged.remove();
    }
    if (o.sign !== undefined) {
      const gates = rows.map((r) => ({ name: r.gate, passed: r.verdict === 'PASS' }));
      const signed = signPack(finalPack, o.sign, o.calibrationFile, gates);
      console.log(`✓ Signed ${rel(finalPack)} (key id ${signed.keyId})`);
    }
    packs.push(finalPack);
    let files = 0;
    for (const p of packs) {
      const v = await verifyProofpackAsync(p);
      // Integrity is what this check proves; say so, and whether a signature backs it.
      const signed = v.signature.status === 'unsigned' ? 'UNSIGNED (integrity only)' : `signature ${v.signature.status.replace('_', ' ')}`;
      console.log(`${v.verdict === 'PASS' ? '✓' : '✗'} ${rel(p)}: ${v.file_count} files, integrity ${v.verdict}, ${signed}, recorded verdict ${v.recorded_verdict ?? '?'}`);
      if (v.verdict !== 'PASS') {
        return { pass: false, figure: `${rel(p)} does not verify`, report: rel(p), error: v.problems.map((x) => `${x.kind} ${x.path}: ${x.message}`).join('\n') };
      }
      files += v.file_count;
    }
    console.log(`✓ Proofpack built: ${built.packId}`);
    return { pass: true, figure: `${packs.length} packs, ${files} files verified`, report: rel(finalPack) };
  }, o.sign === undefined ? ['UNSIGNED'] : []);

  rows.sort((a, b) => a.gate.localeCompare(b.gate));
  console.log('\n=== SPRINT GATES ===');
  console.log(renderGateTable(rows));
  for (const n of ncrs) console.log(`NCR: ${n}`);
  if (interrupted()) {
    const done = rows.filter((r) => r.verdict !== 'SKIPPED');
    const file = writeInterrupted(o.out, `sprint_${runStamp()}`, {
      phase: 'sprint',
      planned: rows.length,
      completed: done.filter((r) => !r.figure.startsWith('interrupted')).length,
      gates: rows,
      ncrs: ncrs.map((n) => rel(n)),
    });
    console.log(`SPRINT INTERRUPTED: ${rel(path.join(file, 'interrupted-report.json'))} (complete: false); no proofpack built`);
    throw new InterruptedError('sprint');
  }
  console.log(`SPRINT VERDICT: ${sprintVerdict(rows)}`);
  return rows;
}

/** Registers `omega-pr sprint`. */
export const register: RegisterCommand = (program, setExit) => {
  program
    .command('sprint')
    .description('The whole runbook: preflight → concurrency → chaos → stress → proofpack → verify, with a gate table')
    .option('--test-cmd <cmd>', 'baseline test command of PR-G0', 'npx vitest run')
    .option('--count <n>', 'stress runs (default: calibration STRESS_COUNT)')
    .option('--workers <n>', 'concurrency writer processes', '10')
    .option('--updates <n>', 'updates per writer', '100')
    .option('--chaos-profile <name>', 'chaos phase profile', 'medium')
    .option('--chaos-calls <n>', 'chaos phase calls', '1000')
    .option('--stress-chaos <name>', 'also inject faults during the stress phase')
    .option('--concurrency <k>', 'calls / runs in flight at once', '8')
    .option('--seed <s>', 'seed (default: calibration SEED)')
    .option('--calibration <file>', 'calibration file (default: the shipped one)')
    .option('--provider <module>', 'your provider module (default: simulated)')
    .option('--scorer <module>', 'your scorer module (default: the cases\' checks; simulated only with the simulated provider)')
    .option('--engine <module>', 'your engine module for the chaos and stress phases (run(ctx) once per run)')
    .option('--input <cases>', 'cases file (.json, .yaml, .yml) for the chaos and stress phases')
    .option('--chaos-runs <n>', 'chaos phase engine runs with --engine', '20')
    .option('--expect-total <n>', 'PR-G0: demand exactly this many tests (e.g. 232)')
    .option('--expect-branch <name>', 'PR-G0: demand this git branch')
    .option('--require-clean', 'PR-G0: demand a clean git working tree')
    .option('--out <dir>', 'metrics root', 'metrics/pr')
    .option('--proofpacks <dir>', 'proofpacks root', 'proofpacks')
    .option('--keep-going', 'run every phase even after a gate fails')
    .option('--resume <stress-run-dir>', 'continue the stress phase of an interrupted sprint from its journal (the folder it printed); the other phases run again')
    .option('--sign <key>', 'sign proofpacks/final with this minisign secret key (unlocked before any phase runs)')
    .action(async (o: Record<string, string | boolean | undefined>) => {
      const sign = typeof o.sign === 'string' ? await unlockKey(o.sign) : undefined;
      const rows = await runSprint({
        sign,
        testCmd: o.testCmd as string,
        count: optionalInt('--count', o.count as string | undefined, 1),
        workers: intOption('--workers', o.workers as string, 1),
        updates: intOption('--updates', o.updates as string, 1),
        chaosProfile: o.chaosProfile as string,
        chaosCalls: intOption('--chaos-calls', o.chaosCalls as string, 1),
        stressChaos: (o.stressChaos as string | undefined) ?? null,
        concurrency: intOption('--concurrency', o.concurrency as string, 1),
        seed: optionalInt('--seed', o.seed as string | undefined, 0),
        calibrationFile: o.calibration as string | undefined,
        provider: o.provider as string | undefined,
        scorer: o.scorer as string | undefined,
        engine: o.engine as string | undefined,
        input: o.input as string | undefined,
        chaosRuns: intOption('--chaos-runs', o.chaosRuns as string, 1),
        expectTotal: optionalInt('--expect-total', o.expectTotal as string | undefined, 1),
        expectBranch: o.expectBranch as string | undefined,
        requireClean: o.requireClean === true,
        out: o.out as string,
        proofpacks: o.proofpacks as string,
        keepGoing: o.keepGoing === true,
        resume: o.resume as string | undefined,
        argv: process.argv.slice(2),
      });
      setExit(rows.every((r) => r.verdict === 'PASS') ? EXIT.PASS : EXIT.FAIL);
    });
};
