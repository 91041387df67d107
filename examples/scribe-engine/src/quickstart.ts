import { AtomicCache, BudgetTracker, ChaosProvider, RetryProvider, SimulatedProvider, analyzeVariance, loadCalibration, sha256Hex } from 'omega-pr';
import type { RunInput } from 'omega-pr';

export async function quickstart(cacheFile: string): Promise<void> {
  const calibration = loadCalibration(); // shipped defaults; loadCalibration('my.json') throws ERR_OMEGA_CALIBRATION listing every problem
  const budget = new BudgetTracker(calibration);
  const chaos = new ChaosProvider(new SimulatedProvider(), { profile: 'medium', calibration }); // seeded faults, 15 %
  const llm = new RetryProvider(chaos, { calibration, budget }); // reserve the worst case → call → settle, per attempt
  const cache = AtomicCache.open(cacheFile); // one JSON file shared by every worker process, crash-safe
  const runs: RunInput[] = [];
  for (let i = 0; i < 20; i++) {
    const request = { model: 'simulated-scribe', prompt: `Write scene ${i} of the heist.`, sceneId: `SCN-${i}`, callIndex: i };
    const key = sha256Hex(Buffer.from(JSON.stringify([request.model, request.prompt])));
    let text = cache.get(key) as string | undefined;
    if (text === undefined) cache.set(key, (text = (await llm.generate(request)).text)); // over budget: throws ERR_OMEGA_BUDGET_EXCEEDED
    const hardScore = Math.min(1, text.split(/\s+/).length / 30);
    runs.push({ hardScore, softScore: hardScore, hardPass: hardScore >= 0.7, softPass: hardScore >= 0.75 });
  }
  const report = analyzeVariance(runs, calibration); // PR_REPORT fields: hard_pass_rate, variance_verdict, pass_k, …
  const runCost = budget.finalize(); // run-cost.json: total_cost_usd, budget_verdict, violations
  console.log(report.variance_verdict, runCost.budget_verdict, runCost.total_cost_usd);
}

if (require.main === module) void quickstart(process.argv[2] ?? 'quickstart-cache.json');
