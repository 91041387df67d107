// A strict consumer of the public types, type-checked in CI (`tsc -p tests/types`). It resolves
// `omega-pr` the way a user's project does, through the package's own `types` entry.
import { BudgetTracker, loadCalibration, checkCalibration } from '../../dist/index';
import type { CalibrationDocument, RunCost } from '../../dist/index';

const calibration: CalibrationDocument = loadCalibration();
const tracker = new BudgetTracker(calibration);
const reservation = tracker.reserve({ callId: 'call-1', sceneId: 'SCN-01', model: 'claude-sonnet-4-5', inputTokens: 1200 });
const cost: number = tracker.settle(reservation.id, { inputTokens: 1200, outputTokens: 300 }).costUsd;
const report: RunCost = tracker.finalize();
const verdict: 'PASS' | 'FAIL' = report.budget_verdict;
const problems: { path: string; message: string }[] = checkCalibration({});
void cost;
void verdict;
void problems;

// The generated report types (schemas of the core's structs → report-types.generated.d.ts) are
// public under their names and are what the native functions return.
import { ChaosEngine, analyzeVariance } from '../../dist/index';
import type { ChaosLogDocument, ChaosLogEntryRecord, FailureType, ProofpackVerification, VarianceReport, CaseReport, CasesDocument } from '../../dist/index';
const log: ChaosLogDocument = new ChaosEngine({ profile: 'medium', seed: 1 }).buildLog([{ callIndex: 0, timestamp: '2023-11-14T22:13:20.000Z' }]);
const first: ChaosLogEntryRecord | undefined = log.entries[0];
const kinds: FailureType[] = log.failure_types;
const version: 'OMEGA-CHAOS-LOG-1.0' = log.schema_version;
const variance: VarianceReport = analyzeVariance([{ hardScore: 1, softScore: 1, hardPass: true, softPass: true }]);
const flag: 'DOWNGRADE_VARIANCE' | null = variance.downgrade_flag;
declare const verification: ProofpackVerification;
const recorded: 'PASS' | 'FAIL' | null = verification.recorded_verdict;
declare const cases: CaseReport & { docs?: CasesDocument };
const minimum: number | null = cases.case_pass_min;
void first;
void kinds;
void version;
void flag;
void recorded;
void minimum;
