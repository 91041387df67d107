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
