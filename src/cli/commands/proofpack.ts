/**
 * `omega-pr proofpack build|verify` (runbook phase 6, gate PR-G5).
 *
 * build: exit 0 when the pack is built, 1 when the gate fails (an absolute path in a file),
 * 2 on usage/input errors (missing source, non-empty output, symlink, bad type/verdict).
 * verify: exit 0 PASS, 1 FAIL, 2 when the directory cannot be read.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Command } from 'commander';
import type { RegisterCommand } from '../util';
import { EXIT, UsageError, rel } from '../util';
import { buildProofpackAsync } from '../../proofpack';
import { verifyProofpackAsync, type ProofpackVerification } from '../../../native';

const OK = '✓';
const KO = '✗';

function out(line: string): void {
  process.stdout.write(`${line}\n`);
}

/** Prints a verification the way the runbook shows it; returns the exit code. */
export function printVerification(v: ProofpackVerification): number {
  const byPath = new Map<string, string[]>();
  for (const p of v.problems) {
    const list = byPath.get(p.path) ?? [];
    list.push(`${p.kind}: ${p.message}`);
    byPath.set(p.path, list);
  }
  const listed = new Set<string>();
  for (const f of v.files) {
    listed.add(f.path);
    const why = byPath.get(f.path);
    out(f.ok && !why ? `${OK} ${f.path}` : `${KO} ${f.path} (${(why ?? ['mismatch']).join('; ')})`);
  }
  for (const p of v.problems) {
    if (!listed.has(p.path)) out(`${KO} ${p.path} (${p.kind}: ${p.message})`);
  }
  if (v.verdict === 'PASS') {
    out(`${OK} All files verified successfully`);
    return EXIT.PASS;
  }
  out(
    `${KO} Verification FAILED: ${v.problems.length} problem(s); complete: ${v.complete ? 'yes' : 'no'}, valid: no`,
  );
  return EXIT.FAIL;
}

function readCalibration(file: string | undefined): unknown {
  if (file === undefined) return undefined;
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new UsageError(`cannot read calibration \`${path.basename(file)}\`: ${(err as Error).message}`, 'ERR_OMEGA_IO');
  }
}

/** Registers `omega-pr proofpack`. */
export const register: RegisterCommand = (program: Command, setExit) => {
  const pp = program.command('proofpack').description('Build or verify a tamper-evident proofpack (runbook phase 6, gate PR-G5).');

  pp.command('build')
    .description('Pack a run directory: files + MANIFEST.json, SHA256SUMS.txt, toolchain.json, replay.sh, verify.ps1, verify.html')
    .requiredOption('--source <dir>', 'run directory to pack')
    .requiredOption('--output <dir>', 'pack directory to create (must not exist or be empty)')
    .requiredOption('--type <type>', 'run type, e.g. stress100')
    .requiredOption('--verdict <verdict>', 'PASS or FAIL')
    .option('--command <command>', 'command that produced the run (shown by replay.sh)')
    .option('--calibration <file>', 'calibration file (forbidden path patterns)')
    .option('--no-html', 'do not ship verify.html')
    .action(async (opts: { source: string; output: string; type: string; verdict: string; command?: string; calibration?: string; html: boolean }) => {
      let result;
      try {
        result = await buildProofpackAsync({
          source: opts.source,
          output: opts.output,
          type: opts.type,
          verdict: opts.verdict,
          command: opts.command,
          calibration: readCalibration(opts.calibration) as never,
          verifyHtml: opts.html ? undefined : '',
        });
      } catch (err) {
        const e = err as { code?: string; message?: string };
        if (e.code === 'ERR_OMEGA_ABSOLUTE_PATH') {
          out(`${KO} Proofpack NOT built: absolute paths found (gate PR-G5)`);
          for (const line of (e.message ?? '').split('\n').slice(1)) out(`${KO} ${line.replace(/^\s*-\s*/, '')}`);
          setExit(EXIT.FAIL);
          return;
        }
        throw err;
      }
      const dir = rel(result.output);
      out(`${OK} Proofpack built: ${result.packId}`);
      out(`${OK} Files: ${result.fileCount}`);
      out(`${OK} SHA256SUMS.txt: ${dir}/SHA256SUMS.txt`);
      out(`${OK} Manifest: ${dir}/MANIFEST.json`);
      out(`${OK} Toolchain: ${dir}/toolchain.json`);
      out(`${OK} Bash replay: ${dir}/replay.sh`);
      out(`${OK} PowerShell verify: ${dir}/verify.ps1`);
      if (result.generated.includes('verify.html')) out(`${OK} Browser verify: ${dir}/verify.html`);
      setExit(EXIT.PASS);
    });

  pp.command('verify')
    .description('Verify a proofpack directory (exit 0 PASS, 1 FAIL)')
    .argument('<dir>', 'proofpack directory')
    .option('--json', 'print the verification as JSON')
    .action(async (dir: string, opts: { json?: boolean }) => {
      const v = await verifyProofpackAsync(dir);
      if (opts.json) {
        out(JSON.stringify(v, null, 2));
        setExit(v.verdict === 'PASS' ? EXIT.PASS : EXIT.FAIL);
        return;
      }
      setExit(printVerification(v));
    });
};
