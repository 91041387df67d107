/**
 * `omega-pr proofpack build|verify` (runbook phase 6, gate PR-G5).
 *
 * build: exit 0 when the pack is built, 1 when the gate fails (an absolute path in a file),
 * 2 on usage/input errors (missing source, non-empty output, symlink, bad type/verdict).
 * verify: exit 0 when the pack verifies and recorded PASS; 1 on a FAIL verdict (unless
 * --allow-fail-verdict), a broken pack, a bad signature or attestation, an unexpected manifest
 * digest, or an unsigned pack with --require-signature; 2 when the directory or the key cannot be read.
 *   A listed file that cannot be read (permission denied) is an I/O problem, not tampering: exit 2.
 * sign: writes MANIFEST.json.minisig + attestation.intoto.json (exit 0), 2 on a bad key/password.
 * replay: re-derives PR_REPORT.json, run-cost.json, chaos-log.json and the verdicts from what the
 * pack recorded (no LLM call, no network): exit 0 when all reproduce byte for byte, 1 when
 * something differs (the runs that changed are named), 2 when the pack is not replayable (no
 * recorded outputs, no calibration) or a module's digest differs from the recorded one.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Command } from 'commander';
import { writeGateNcr } from '../ncr';
import type { RegisterCommand } from '../util';
import { EXIT, UsageError, buildPack, rel, resolveLatest } from '../util';
import { rederiveStressVerdict, verifyProofpackAsync } from '../../../native';
import type { ProofpackVerification, StressRederivation } from '../../../report-types';
import { readPublicKey, signPack, unlockKey, type UnlockedKey } from '../signing';
import { replay, type ReplayResult } from '../../stress/replay';
import { shutdownSignal } from '../lifecycle';

const OK = '✓';
const KO = '✗';

function out(line: string): void {
  process.stdout.write(`${line}\n`);
}

/** What `verify` accepts besides the pack. */
export interface VerifyPolicy {
  /** Exit 0 on a recorded FAIL verdict (still printed as FAIL). */
  allowFailVerdict?: boolean;
  /** Fail an unsigned pack (and one whose signature was not checked). */
  requireSignature?: boolean;
}

/** The PR-G4 verdict of one `PR_REPORT.json` of a pack, re-derived from its recorded runs. */
export interface PackRederivation {
  /** Path of the `PR_REPORT.json` in the pack. */
  path: string;
  rederivation: StressRederivation;
}

/**
 * Re-derives (in the core) the PR-G4 verdict of each verified `PR_REPORT.json` of a pack with the
 * `calibration.json` beside it — what `verify.html` shows. Files that did not verify are skipped.
 */
export function rederivePack(dir: string, v: ProofpackVerification): PackRederivation[] {
  const ok = new Set(v.files.filter((f) => f.ok).map((f) => f.path));
  const out: PackRederivation[] = [];
  for (const p of [...ok].filter((f) => f === 'PR_REPORT.json' || f.endsWith('/PR_REPORT.json')).sort()) {
    const calPath = `${p.slice(0, -'PR_REPORT.json'.length)}calibration.json`;
    const read = (f: string): unknown => JSON.parse(fs.readFileSync(path.join(dir, ...f.split('/')), 'utf8'));
    let report: unknown;
    let calibration: unknown;
    try {
      report = read(p);
      calibration = ok.has(calPath) ? read(calPath) : undefined;
    } catch (err) {
      out.push({ path: p, rederivation: { status: 'not_rederivable', recorded_verdict: null, derived_verdict: null, total_runs: null, first_difference: null, line: `not re-derivable: ${(err as Error).message}`, derived: null } });
      continue;
    }
    out.push({ path: p, rederivation: rederiveStressVerdict(report, calibration) });
  }
  return out;
}

/**
 * Renders a verification: files, then what the pack is, integrity, signature, attestation, the
 * re-derived PR-G4 verdicts; and the exit code (a verdict that does not follow from the recorded
 * runs fails, like a broken signature).
 */
export function renderVerification(v: ProofpackVerification, policy: VerifyPolicy = {}, rederived: PackRederivation[] = []): { lines: string[]; code: number } {
  const lines: string[] = [];
  const out = (line: string): void => {
    lines.push(line);
  };
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
  let code: number = EXIT.PASS;
  if (v.verdict === 'PASS') {
    out(`${OK} All files verified successfully`);
  } else {
    out(
      `${KO} Verification FAILED: ${v.problems.length} problem(s); complete: ${v.complete ? 'yes' : 'no'}, valid: no`,
    );
    code = EXIT.FAIL;
  }
  const unreadable = v.problems.filter((p) => p.kind === 'unreadable');
  if (unreadable.length > 0) {
    out(`${KO} Verification INCOMPLETE: ${unreadable.length} file(s) cannot be read (an I/O problem, not a digest mismatch)`);
  }
  out(`Pack: ${v.pack_id ?? '(unknown)'}  type: ${v.pack_type ?? '(unknown)'}  files: ${v.file_count}`);
  out(`Recorded verdict: ${v.recorded_verdict ?? '(unknown)'}`);
  out(`Integrity: ${v.valid ? `${OK} every listed file matches SHA256SUMS.txt and MANIFEST.json` : `${KO} FAILED`}`);
  const s = v.signature;
  if (s.status === 'verified') out(`Signature: ${OK} verified, signer key id ${s.key_id ?? '?'} (the pinned public key)`);
  else if (s.status === 'unsigned') out(`Signature: ${s.message}`);
  else if (s.status === 'not_checked') out(`Signature: NOT CHECKED — signed by key id ${s.key_id ?? '?'}; pin the public key with --pubkey KEY.pub or --pubkey-string RW…`);
  else {
    out(`Signature: ${KO} ${s.code ?? 'ERR_OMEGA_SIGNATURE'}: ${s.message}`);
    code = EXIT.FAIL;
  }
  if (s.trusted_comment) out(`Trusted comment: ${s.trusted_comment}`);
  const a = v.attestation;
  if (a.status === 'verified') out(`Attestation: ${OK} attestation.intoto.json verified (in-toto test-result, key id ${a.key_id ?? '?'})`);
  else if (a.status === 'not_checked') out('Attestation: present, NOT CHECKED (no pinned public key)');
  else if (a.status === 'invalid') {
    out(`Attestation: ${KO} ${a.code ?? 'ERR_OMEGA_SIGNATURE'}: ${a.message}`);
    code = EXIT.FAIL;
  }
  if (v.manifest_sha256_matches !== null) {
    if (v.manifest_sha256_matches) out(`Manifest digest: ${OK} matches the expected ${v.expected_manifest_sha256 ?? ''}`);
    else {
      out(`Manifest digest: ${KO} ERR_OMEGA_SIGNATURE: expected ${v.expected_manifest_sha256 ?? ''}, the pack's is ${v.manifest_sha256 ?? '(none)'}`);
      code = EXIT.FAIL;
    }
  }
  let differs = false;
  for (const r of rederived) {
    const st = r.rederivation.status;
    out(`Verdict (PR-G4, ${r.path}): ${st === 'reproduced' ? OK : st === 'differs' ? KO : '!'} ${r.rederivation.line}`);
    if (st === 'differs') {
      differs = true;
      code = EXIT.FAIL;
    }
  }
  if (policy.requireSignature && s.status !== 'verified') {
    out(
      s.status === 'unsigned'
        ? `${KO} ERR_OMEGA_UNSIGNED: the pack is not signed and --require-signature was given`
        : `${KO} ERR_OMEGA_UNSIGNED: the signature was not verified and --require-signature was given`,
    );
    code = EXIT.FAIL;
  }
  if (differs) {
    out(`RESULT: ${KO} the recorded verdict does not follow from the recorded runs`);
  } else if (v.recorded_verdict === 'FAIL') {
    if (policy.allowFailVerdict) out(`RESULT: ${KO} FAIL recorded by the run (accepted: --allow-fail-verdict)`);
    else {
      out(`RESULT: ${KO} FAIL recorded by the run (exit 1; --allow-fail-verdict to accept it)`);
      code = EXIT.FAIL;
    }
  } else if (code === EXIT.PASS) {
    out(`RESULT: ${OK} PASS recorded${s.status === 'verified' ? ', signature verified' : ' (integrity only)'}`);
  } else {
    out(`RESULT: ${KO} the pack does not verify`);
  }
  if (unreadable.length > 0) code = EXIT.USAGE;
  return { lines, code };
}

/** Renders a replay: per run folder, one line per derived file, the changed runs, the notes, the verdict line. */
export function renderReplay(r: ReplayResult): { lines: string[]; code: number } {
  const lines: string[] = [];
  for (const run of r.runs) {
    const how = run.mode === 'simulated' ? 'the whole stress re-run from its seed' : 'each run re-scored from its recorded outputs';
    lines.push(`Replay of ${run.folder === '.' ? 'the run folder' : run.folder}: ${how}, no LLM call, no network`);
    for (const f of run.files) {
      const journal = f.file.endsWith('journal.jsonl');
      if (f.status === 'reproduced') lines.push(journal ? `${OK} ${f.file}: its recorded outputs re-score to the same reports` : `${OK} ${f.file}: reproduced`);
      else if (f.status === 'differs') lines.push(`${KO} ${f.file}: differs at ${f.path ?? '$'}`);
      else lines.push(`${KO} ${f.file}: ${f.path ?? 'missing'}`);
    }
    const byRun = new Map<number, string[]>();
    for (const c of run.changedRuns) {
      const list = byRun.get(c.runIndex) ?? [];
      list.push(c.field === 'run' ? `${c.recorded} → ${c.replayed}` : `${c.field} ${c.recorded} → ${c.replayed}`);
      byRun.set(c.runIndex, list);
    }
    const shown = [...byRun].slice(0, 20);
    for (const [i, changes] of shown) lines.push(`  run ${i}: ${changes.join(', ')}`);
    if (byRun.size > shown.length) lines.push(`  … and ${byRun.size - shown.length} more run(s) changed`);
    for (const n of run.notes) lines.push(`! ${n}`);
    const same = run.recorded.verdict === run.replayed.verdict && run.recorded.budget === run.replayed.budget;
    const allFiles = run.files.every((f) => f.status === 'reproduced');
    lines.push(
      same
        ? `VERDICT: ${run.replayed.verdict} (budget ${run.replayed.budget}) — ${allFiles ? 'reproduced' : 'the same verdict, but the evidence disagrees (✗ above)'}`
        : `VERDICT: replayed ${run.replayed.verdict} (budget ${run.replayed.budget}) ≠ recorded ${run.recorded.verdict} (budget ${run.recorded.budget}) — NOT reproduced`,
    );
  }
  lines.push(r.reproduced ? `RESULT: ${OK} the recorded verdict follows from the recorded outputs` : `RESULT: ${KO} the replay does not reproduce the pack (exit 1)`);
  return { lines, code: r.reproduced ? EXIT.PASS : EXIT.FAIL };
}

/** Prints a verification the way {@link renderVerification} renders it; returns the exit code. */
export function printVerification(v: ProofpackVerification, policy: VerifyPolicy = {}): number {
  const r = renderVerification(v, policy);
  for (const l of r.lines) out(l);
  return r.code;
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
    .option('--sign <key>', 'sign the pack with this minisign secret key (MANIFEST.json.minisig + attestation.intoto.json)')
    .action(async (opts: { source: string; output: string; type: string; verdict: string; command?: string; calibration?: string; html: boolean; sign?: string }) => {
      // The key is unlocked first: a wrong password writes nothing.
      const key: UnlockedKey | undefined = opts.sign === undefined ? undefined : await unlockKey(opts.sign);
      let result;
      try {
        result = await buildPack({
          // `PR_RUNS/stress100_latest` (the runbook's final test) is packed as the run it points to.
          source: resolveLatest(opts.source),
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
      for (const w of result.warnings) out(`! ${w}`);
      out(`${OK} Proofpack built: ${result.packId}`);
      out(`${OK} Files: ${result.fileCount}`);
      out(`${OK} SHA256SUMS.txt: ${dir}/SHA256SUMS.txt`);
      out(`${OK} Manifest: ${dir}/MANIFEST.json`);
      out(`${OK} Toolchain: ${dir}/toolchain.json`);
      out(`${OK} Bash replay: ${dir}/replay.sh`);
      out(`${OK} PowerShell verify: ${dir}/verify.ps1`);
      if (result.generated.includes('verify.html')) out(`${OK} Browser verify: ${dir}/verify.html`);
      if (key !== undefined) {
        const s = signPack(opts.output, key, opts.calibration);
        out(`${OK} Signed: ${dir}/MANIFEST.json.minisig, ${dir}/attestation.intoto.json (key id ${s.keyId})`);
      }
      setExit(EXIT.PASS);
    });

  pp.command('sign')
    .description('Sign a built proofpack: MANIFEST.json.minisig (minisign) + attestation.intoto.json (DSSE/in-toto)')
    .argument('<dir>', 'proofpack directory')
    .requiredOption('--key <key>', 'minisign secret key (password: OMEGA_PR_KEY_PASSWORD or a prompt)')
    .option('--calibration <file>', 'calibration file used by the run (its digest goes into the attestation)')
    .action(async (dir: string, opts: { key: string; calibration?: string }) => {
      const key = await unlockKey(opts.key);
      const s = signPack(dir, key, opts.calibration);
      out(`${OK} Signed ${rel(dir)}: MANIFEST.json.minisig, attestation.intoto.json`);
      out(`${OK} Key id: ${s.keyId}`);
      out(`${OK} Trusted comment: ${s.trustedComment}`);
      setExit(EXIT.PASS);
    });

  pp.command('replay')
    .description('Re-derive PR_REPORT.json, run-cost.json, chaos-log.json and the verdict from the recorded outputs; compare byte for byte (exit 0 reproduced, 1 differs, 2 not replayable)')
    .argument('<dir>', 'proofpack, stress run folder, or a sprint\'s final pack')
    .option('--json', 'print the replay as JSON')
    .option('--scorer <file>', 'your scorer module: score again the runs it judged (refused unless its sha256 is the one modules.json records)')
    .action(async (dir: string, opts: { json?: boolean; scorer?: string }) => {
      const r = await replay(dir, { signal: shutdownSignal, scorer: opts.scorer });
      const rendered = renderReplay(r);
      if (opts.json) out(JSON.stringify(r, null, 2));
      else for (const l of rendered.lines) out(l);
      setExit(rendered.code);
    });

  pp.command('verify')
    .description('Verify a proofpack: files, recorded verdict, signature (exit 0 PASS, 1 FAIL, 2 input error)')
    .argument('<dir>', 'proofpack directory')
    .option('--json', 'print the verification as JSON')
    .option('--pubkey <file>', 'pinned minisign public key file (KEY.pub)')
    .option('--pubkey-string <base64>', 'pinned minisign public key, the RW… line')
    .option('--expect-manifest-sha256 <hex>', 'manifest digest published elsewhere (manifest_sha256 or sha256 of MANIFEST.json)')
    .option('--require-signature', 'fail unless the pack carries a signature verified with the pinned key')
    .option('--allow-fail-verdict', 'exit 0 on a pack whose recorded verdict is FAIL (it is still shown as FAIL)')
    .action(
      async (
        dir: string,
        opts: { json?: boolean; pubkey?: string; pubkeyString?: string; expectManifestSha256?: string; requireSignature?: boolean; allowFailVerdict?: boolean },
      ) => {
        const key = readPublicKey(opts);
        if (opts.requireSignature && key.pubkey === undefined) {
          throw new UsageError('--require-signature needs the pinned public key (--pubkey or --pubkey-string)');
        }
        if (opts.expectManifestSha256 !== undefined && !/^[0-9a-fA-F]{64}$/.test(opts.expectManifestSha256)) {
          throw new UsageError('--expect-manifest-sha256 must be 64 hex digits', 'ERR_OMEGA_INVALID_ARGUMENT');
        }
        const v = await verifyProofpackAsync(dir, { ...key, expectManifestSha256: opts.expectManifestSha256 });
        const policy = { allowFailVerdict: opts.allowFailVerdict, requireSignature: opts.requireSignature };
        const rendered = renderVerification(v, policy, rederivePack(dir, v));
        if (opts.json) out(JSON.stringify(v, null, 2));
        else for (const l of rendered.lines) out(l);
        // Gate PR-G5 failed (not an input error): the runbook's NCR. Not in --json mode's stdout.
        if (rendered.code === EXIT.FAIL) {
          const problems = rendered.lines.filter((l) => !l.startsWith(OK));
          writeGateNcr('PR-G5', 'Proofpack verification', problems.join('\n') || 'verification FAILED', [path.join(dir, 'MANIFEST.json')], (line) =>
            opts.json ? process.stderr.write(`${line}\n`) : out(line),
          );
        }
        setExit(rendered.code);
      },
    );
};
