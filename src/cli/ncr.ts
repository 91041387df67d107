/**
 * Non-Conformance Reports: the runbook's escalation. When a gate fails, `nexus/proof/NCR_PR_<ID>.md`
 * records the gate id, the error, the reproduction command and the report paths.
 */
import * as path from 'node:path';
import { isoNow, rel, runStamp, writeFileAtomic } from './util';

/** What an NCR records. */
export interface NcrInput {
  /** Gate id, e.g. `PR-G4`. */
  gate: string;
  /** The gate's title, e.g. `Stress100 variance`. */
  title: string;
  /** The error message / failing figures. */
  error: string;
  /** The command that reproduces the failure. */
  reproduction: string;
  /** Report files of the failing run. */
  reports: string[];
  /** Root folder (default `nexus/proof`). */
  dir?: string;
}

/** Writes the NCR and returns its path (relative to the working directory). */
export function writeNcr(input: NcrInput): string {
  const id = `${input.gate.replace(/^PR-/, '')}_${runStamp()}`;
  const file = path.join(input.dir ?? path.join('nexus', 'proof'), `NCR_PR_${id}.md`);
  const text = `# NCR_PR_${id} — Non-Conformance Report

| field | value |
|---|---|
| gate | ${input.gate} — ${input.title} |
| date | ${isoNow()} |
| verdict | FAIL |

## Error
\`\`\`
${input.error.trim()}
\`\`\`

## Reproduction
\`\`\`sh
${input.reproduction}
\`\`\`

## Reports
${input.reports.map((r) => `- \`${rel(r)}\``).join('\n') || '- (none written)'}

## Escalation
Per the runbook: document the failure here, attach the reports above, escalate to the Architect.
`;
  writeFileAtomic(file, text);
  return rel(file);
}

/** The command line of this `omega-pr` invocation (set by `main`), for the NCR's reproduction. */
let invocation: string[] = [];

/** Records the arguments `omega-pr` was run with (without node and script). */
export function setInvocation(argv: string[]): void {
  invocation = [...argv];
}

/** `omega-pr <args>` as typed, each argument shell-quoted when it needs it. */
export function reproductionCommand(): string {
  const q = (a: string) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`);
  return ['omega-pr', ...invocation.map(q)].join(' ');
}

/**
 * A gate command run alone (`preflight`, `concurrency`, `chaos`, `stress`, `proofpack verify`)
 * whose gate FAILED: writes the runbook's NCR (gate id, error, reproduction steps, reports) and
 * tells the operator where it is. `sprint` writes its own (it calls the phases, not these commands).
 */
export function writeGateNcr(gate: string, title: string, error: string, reports: string[], log: (line: string) => void = console.log): string | null {
  try {
    const file = writeNcr({ gate, title, error, reproduction: reproductionCommand(), reports });
    log(`NCR written: ${file}`);
    return file;
  } catch (err) {
    // The gate's verdict and exit code stand even when nexus/proof/ cannot be written.
    process.stderr.write(`omega-pr: warning: NCR for ${gate} not written: ${(err as Error).message}\n`);
    return null;
  }
}
