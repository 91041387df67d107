/**
 * PR-5 proofpack: build, verify, tamper evidence, GNU sha256sum compatibility, replay.sh,
 * absolute-path refusal, reproducibility, symlink/traversal refusal, CLI exit codes.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  parseSha256Sums,
  renderSha256Sums,
  scanAbsolutePaths,
  sha256Hex,
  verifyProofpack,
  verifyProofpackAsync,
} from '../../src/index';
import { buildProofpack, buildProofpackAsync } from '../../src/proofpack';
import { main } from '../../src/cli/index';
import { thrown as codeOf } from './errors';

const EPOCH = 1_707_748_200; // 2024-02-12T14:30:00Z
let root: string;
let source: string;
let n = 0;

function fresh(name: string): string {
  n += 1;
  return path.join(root, `${name}-${n}`);
}

function build(output: string, extra: Partial<Parameters<typeof buildProofpack>[0]> = {}) {
  return buildProofpack({
    source,
    output,
    type: 'stress100',
    verdict: 'PASS',
    command: 'omega-pr stress --count=100',
    sourceDateEpoch: EPOCH,
    ...extra,
  });
}

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const o = vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => {
    stdout += String(s);
    return true;
  });
  const e = vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => {
    stderr += String(s);
    return true;
  });
  try {
    const code = await main(args);
    return { code, stdout, stderr };
  } finally {
    o.mockRestore();
    e.mockRestore();
  }
}

function kinds(dir: string): string[] {
  return verifyProofpack(dir).problems.map((p) => `${p.kind}:${p.path}`);
}

beforeAll(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'omega-pp-'));
  source = path.join(root, 'stress100_20260212_143000');
  fs.mkdirSync(path.join(source, 'runs'), { recursive: true });
  fs.writeFileSync(path.join(source, 'PR_REPORT.json'), JSON.stringify({ total_runs: 100, verdict: 'PASS' }, null, 2) + '\n');
  for (let i = 0; i < 12; i += 1) {
    fs.writeFileSync(path.join(source, 'runs', `run-${String(i).padStart(3, '0')}.json`), JSON.stringify({ i, ok: true }) + '\n');
  }
  // The shipped calibration carries the bare patterns ("/home/", "C:\\"): not absolute paths.
  fs.copyFileSync(path.join(__dirname, '..', '..', 'budgets', 'calibration.json'), path.join(source, 'calibration.json'));
});

afterAll(() => {
  fs.rmSync(root, { recursive: true, force: true });
});

describe('proofpack build', () => {
  it('writes the files, documents and scripts, with the runbook counts', () => {
    const out = fresh('pack');
    const r = build(out);
    expect(r.packId).toBe('stress100-1707748200000');
    expect(r.created).toBe('2024-02-12T14:30:00Z');
    for (const f of ['MANIFEST.json', 'SHA256SUMS.txt', 'toolchain.json', 'replay.sh', 'verify.ps1', 'PR_REPORT.json', 'runs/run-000.json']) {
      expect(fs.existsSync(path.join(out, f)), f).toBe(true);
    }
    expect(r.fileCount).toBe(fs.readdirSync(out, { recursive: true }).filter((f) => fs.statSync(path.join(out, String(f))).isFile()).length);
    const m = JSON.parse(fs.readFileSync(path.join(out, 'MANIFEST.json'), 'utf8'));
    expect(m).toMatchObject({ schema_version: 'OMEGA-PROOFPACK-1.0', type: 'stress100', verdict: 'PASS', source_run: 'stress100_20260212_143000' });
    expect(m.totals.files).toBe(m.files.length);
    expect(m.sha256sums_sha256).toBe(sha256Hex(fs.readFileSync(path.join(out, 'SHA256SUMS.txt'))));
    expect(fs.readFileSync(path.join(out, 'verify.ps1'), 'utf8')).toMatch(/Get-FileHash/);
  });

  it('toolchain.json has node/npm/tsc versions and no host, user or path', () => {
    const out = fresh('pack');
    build(out);
    const text = fs.readFileSync(path.join(out, 'toolchain.json'), 'utf8');
    const t = JSON.parse(text);
    expect(t.node).toBe(process.version);
    expect(t.npm).toMatch(/^\d+\.\d+\.\d+/);
    expect(t.tsc).toMatch(/^\d+\.\d+\.\d+/);
    expect(t.omega_pr).toBe('0.1.0');
    expect(t.os).toBe(process.platform);
    expect(t.arch).toBe(process.arch);
    expect(text).not.toContain(os.hostname());
    expect(text).not.toContain(os.userInfo().username === 'root' ? '/root/' : os.userInfo().username);
    expect(text).not.toMatch(/[/\\]/);
  });

  it('is reproducible: same source + same SOURCE_DATE_EPOCH → byte-identical packs', async () => {
    const a = fresh('repro');
    const b = fresh('repro');
    build(a);
    await buildProofpackAsync({ source, output: b, type: 'stress100', verdict: 'PASS', command: 'omega-pr stress --count=100', sourceDateEpoch: EPOCH });
    const files = (fs.readdirSync(a, { recursive: true }) as string[]).filter((f) => fs.statSync(path.join(a, f)).isFile()).sort();
    expect((fs.readdirSync(b, { recursive: true }) as string[]).filter((f) => fs.statSync(path.join(b, f)).isFile()).sort()).toEqual(files);
    for (const f of files) expect(fs.readFileSync(path.join(b, f)).equals(fs.readFileSync(path.join(a, f))), f).toBe(true);
  });

  it('refuses absolute paths with ERR_OMEGA_ABSOLUTE_PATH listing file:line, leaving nothing behind', () => {
    const src = fresh('abs-src');
    fs.mkdirSync(src);
    fs.writeFileSync(path.join(src, 'ok.json'), '{"path": "runs/tmp/x.json"}\n');
    // Somebody's absolute paths (not this machine's): packed, one warning for the file (issue 10).
    fs.writeFileSync(path.join(src, 'prose.txt'), 'line one\nwrote /home/alice/project/out.json\nC:\\\\Users\\\\bob\\\\x\n');
    const warned = buildProofpack({ source: src, output: fresh('abs-ok'), type: 'stress100', verdict: 'PASS', sourceDateEpoch: EPOCH });
    expect(warned.warnings).toHaveLength(1);
    expect(warned.warnings[0]).toMatch(/^prose\.txt:2: contains "\/home\/"/);
    // This machine's working directory and the source directory as given: refused.
    fs.writeFileSync(path.join(src, 'log.txt'), `line one\nwrote ${process.cwd()}/project/out.json\n${src}/x\n`);
    const out = fresh('abs-out');
    const e = codeOf(() => buildProofpack({ source: src, output: out, type: 'stress100', verdict: 'PASS', sourceDateEpoch: EPOCH }));
    expect(e.code).toBe('ERR_OMEGA_ABSOLUTE_PATH');
    expect(e.message).toContain('log.txt:2');
    expect(e.message).toContain('log.txt:3');
    expect(e.message).not.toContain('ok.json');
    expect(e.message).not.toContain('prose.txt');
    expect(fs.existsSync(out)).toBe(false);
    expect(fs.readdirSync(root).filter((f) => f.includes('partial'))).toEqual([]);
    expect(scanAbsolutePaths('x', Buffer.from('a\n"/tmp/"\n/tmp/build\n')).map((h) => h.line)).toEqual([3]);
  });

  it('refuses symlinks in the source and a non-empty output; accepts an empty output dir', () => {
    const src = fresh('link-src');
    fs.mkdirSync(src);
    fs.writeFileSync(path.join(src, 'a.json'), '{}\n');
    fs.symlinkSync('a.json', path.join(src, 'b.json'));
    expect(codeOf(() => buildProofpack({ source: src, output: fresh('o'), type: 't', verdict: 'PASS' })).code).toBe('ERR_OMEGA_UNSAFE_PATH');
    const busy = fresh('busy');
    fs.mkdirSync(busy);
    fs.writeFileSync(path.join(busy, 'keep.txt'), 'x');
    expect(codeOf(() => build(busy)).code).toBe('ERR_OMEGA_OUTPUT_NOT_EMPTY');
    expect(fs.readdirSync(busy)).toEqual(['keep.txt']);
    const empty = fresh('empty');
    fs.mkdirSync(empty);
    expect(build(empty).fileCount).toBeGreaterThan(5);
    expect(codeOf(() => build(fresh('x'), { verdict: 'MAYBE' })).code).toBe('ERR_OMEGA_INVALID_ARGUMENT');
    expect(codeOf(() => build(path.join(source, 'inside'))).code).toBe('ERR_OMEGA_UNSAFE_PATH');
    expect(fs.existsSync(path.join(source, 'inside'))).toBe(false);
  });
});

describe('proofpack verify', () => {
  it('passes on a fresh pack (sync and async)', async () => {
    const out = fresh('pack');
    build(out);
    const v = verifyProofpack(out);
    expect(v).toMatchObject({ verdict: 'PASS', complete: true, valid: true, problems: [], pack_id: 'stress100-1707748200000', recorded_verdict: 'PASS' });
    expect(v.files.every((f) => f.ok)).toBe(true);
    expect((await verifyProofpackAsync(out)).verdict).toBe('PASS');
    await expect(verifyProofpackAsync(path.join(root, 'nope'))).rejects.toMatchObject({ code: 'ERR_OMEGA_IO' });
  });

  it('GNU sha256sum -c accepts SHA256SUMS.txt inside a built pack', () => {
    const out = fresh('pack');
    build(out);
    const r = spawnSync('sha256sum', ['-c', '--strict', 'SHA256SUMS.txt'], { cwd: out, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('PR_REPORT.json: OK');
    expect(r.stdout).not.toContain('FAILED');
  });

  it('sh replay.sh verifies the pack (exit 0) and fails on tampering (exit 1)', () => {
    const out = fresh('pack');
    build(out);
    const ok = spawnSync('sh', ['replay.sh'], { cwd: out, encoding: 'utf8' });
    expect(ok.status, ok.stdout + ok.stderr).toBe(0);
    expect(ok.stdout).toContain('✓ All files verified successfully');
    expect(ok.stdout).toContain('omega-pr stress --count=100');
    fs.appendFileSync(path.join(out, 'runs', 'run-003.json'), ' ');
    fs.writeFileSync(path.join(out, 'stray.txt'), 'x');
    const bad = spawnSync('sh', [path.join(out, 'replay.sh')], { cwd: root, encoding: 'utf8' });
    expect(bad.status).toBe(1);
    expect(bad.stdout).toContain('✗ runs/run-003.json');
    expect(bad.stdout).toContain('✗ stray.txt');
  });

  it('one byte changed → FAIL mismatch naming the file (complete but not valid)', () => {
    const out = fresh('pack');
    build(out);
    const f = path.join(out, 'runs', 'run-007.json');
    const b = fs.readFileSync(f);
    b[2] ^= 1;
    fs.writeFileSync(f, b);
    const v = verifyProofpack(out);
    expect(v).toMatchObject({ verdict: 'FAIL', complete: true, valid: false });
    expect(kinds(out)).toEqual(['mismatch:runs/run-007.json']);
    expect(v.files.find((x) => x.path === 'runs/run-007.json')?.ok).toBe(false);
  });

  it('file removed → missing; extra file → extra (not complete)', () => {
    const a = fresh('pack');
    build(a);
    fs.rmSync(path.join(a, 'PR_REPORT.json'));
    expect(verifyProofpack(a).complete).toBe(false);
    expect(kinds(a)).toEqual(['missing:PR_REPORT.json']);
    const b = fresh('pack');
    build(b);
    fs.writeFileSync(path.join(b, 'runs', 'injected.json'), '{}');
    expect(kinds(b)).toEqual(['extra:runs/injected.json']);
    expect(verifyProofpack(b).verdict).toBe('FAIL');
  });

  it('MANIFEST.json edited alone → manifest_mismatch', () => {
    const out = fresh('pack');
    build(out);
    const f = path.join(out, 'MANIFEST.json');
    fs.writeFileSync(f, fs.readFileSync(f, 'utf8').replace('"verdict": "PASS"', '"verdict": "FAIL"'));
    expect(kinds(out)).toEqual(['manifest_mismatch:MANIFEST.json']);
    fs.writeFileSync(f, '{ not json');
    expect(kinds(out)).toEqual(['manifest_invalid:MANIFEST.json']);
  });

  it('SHA256SUMS.txt edited → manifest_mismatch (and the edited digest mismatches)', () => {
    const out = fresh('pack');
    build(out);
    const f = path.join(out, 'SHA256SUMS.txt');
    const fake = sha256Hex(Buffer.from('forged'));
    const text = fs.readFileSync(f, 'utf8').replace(/^[0-9a-f]{64}(  PR_REPORT\.json)$/m, `${fake}$1`);
    fs.writeFileSync(f, text);
    const k = kinds(out);
    expect(k).toContain('manifest_mismatch:SHA256SUMS.txt');
    expect(k).toContain('manifest_mismatch:PR_REPORT.json');
    expect(k).toContain('mismatch:PR_REPORT.json');
  });

  it('symlinks and traversal in a pack fail and are never followed', () => {
    const out = fresh('pack');
    build(out);
    fs.symlinkSync(path.join(source, 'PR_REPORT.json'), path.join(out, 'link.json'));
    expect(kinds(out)).toEqual(['symlink:link.json']);
    fs.rmSync(path.join(out, 'link.json'));
    // A listing that points outside the pack.
    const f = path.join(out, 'SHA256SUMS.txt');
    fs.appendFileSync(f, `${sha256Hex(Buffer.from('x'))}  ../outside.json\n`);
    const v = verifyProofpack(out);
    expect(v.verdict).toBe('FAIL');
    expect(v.problems.map((p) => p.kind)).toContain('unsafe_path');
  });
});

describe('SHA256SUMS.txt format', () => {
  it('renders GNU lines sorted by byte order and rejects each malformation with its reason', () => {
    const h = 'a'.repeat(64);
    const text = renderSha256Sums([
      { path: 'b.json', sha256: h },
      { path: 'B.json', sha256: h },
      { path: 'dir\\x', sha256: h },
    ]);
    expect(text).toBe(`${h}  B.json\n${h}  b.json\n\\${h}  dir\\\\x\n`);
    expect(renderSha256Sums(parseSha256Sums(Buffer.from(text)))).toBe(text);
    const cases: Array<[string, string]> = [
      ['junk\n', 'malformed_line'],
      [`${'A'.repeat(64)}  x\n`, 'bad_hex'],
      [`${h}  x\n${h}  x\n`, 'duplicate_path'],
      [`${h}  /etc/passwd\n`, 'absolute_path'],
      [`${h}  a/../b\n`, 'dot_segment'],
      [`${h}  a//b\n`, 'empty_segment'],
      [`${h}  a\0b\n`, 'nul'],
      [`${h}  x\r\n`, 'crlf'],
      [`${h}  caf\u00e9\n${h}  cafe\u0301\n`, 'nfc_collision'],
    ];
    for (const [input, reason] of cases) {
      const e = codeOf(() => parseSha256Sums(Buffer.from(input)));
      expect(e.code, input).toBe('ERR_OMEGA_PARSE');
      expect(e.message, input).toContain(reason);
    }
    expect(sha256Hex(Buffer.from('abc'))).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });
});

describe('omega-pr proofpack CLI', () => {
  it('build prints the runbook lines; verify exits 0 PASS, 1 FAIL, 2 unreadable', async () => {
    const out = fresh('cli');
    process.env.SOURCE_DATE_EPOCH = String(EPOCH);
    try {
      const b = await cli(['proofpack', 'build', '--source', source, '--output', out, '--type', 'stress100', '--verdict', 'PASS']);
      expect(b.code, b.stderr).toBe(0);
      expect(b.stdout).toContain('✓ Proofpack built: stress100-1707748200000');
      expect(b.stdout).toMatch(/✓ Files: \d+/);
      expect(b.stdout).toMatch(/✓ SHA256SUMS\.txt: .*SHA256SUMS\.txt/);
      expect(b.stdout).toContain('✓ Bash replay:');
      expect(b.stdout).toContain('✓ PowerShell verify:');
    } finally {
      delete process.env.SOURCE_DATE_EPOCH;
    }
    const v = await cli(['proofpack', 'verify', out]);
    expect(v.code).toBe(0);
    expect(v.stdout).toContain('✓ PR_REPORT.json');
    expect(v.stdout).toContain('✓ All files verified successfully');
    expect(v.stdout.trim().split('\n').pop()).toBe('RESULT: ✓ PASS recorded (integrity only)');
    fs.writeFileSync(path.join(out, 'PR_REPORT.json'), '{}\n');
    const f = await cli(['proofpack', 'verify', out]);
    expect(f.code).toBe(1);
    expect(f.stdout).toContain('✗ PR_REPORT.json (mismatch');
    expect((await cli(['proofpack', 'verify', path.join(root, 'does-not-exist')])).code).toBe(2);
  });

  it('build exits 1 on absolute paths and 2 on usage or input errors', async () => {
    const src = fresh('cli-abs');
    fs.mkdirSync(src);
    fs.writeFileSync(path.join(src, 'log.txt'), `cwd=${process.cwd()}/work\n`);
    const abs = await cli(['proofpack', 'build', '--source', src, '--output', fresh('o'), '--type', 'stress100', '--verdict', 'PASS']);
    expect(abs.code).toBe(1);
    expect(abs.stdout).toContain('log.txt:1');
    expect((await cli(['proofpack', 'build', '--source', src, '--output', fresh('o'), '--verdict', 'PASS'])).code).toBe(2);
    const busy = fresh('busy');
    fs.mkdirSync(busy);
    fs.writeFileSync(path.join(busy, 'x'), '');
    const nb = await cli(['proofpack', 'build', '--source', source, '--output', busy, '--type', 'stress100', '--verdict', 'PASS']);
    expect(nb.code).toBe(2);
    expect(nb.stderr).toContain('ERR_OMEGA_OUTPUT_NOT_EMPTY');
  });
});

it('the pack is checked by coreutils and by us with the same verdict after a rename', () => {
  const out = fresh('pack');
  build(out);
  fs.renameSync(path.join(out, 'runs', 'run-001.json'), path.join(out, 'runs', 'run-001b.json'));
  const gnu = spawnSync('sha256sum', ['-c', '--quiet', 'SHA256SUMS.txt'], { cwd: out, encoding: 'utf8' });
  expect(gnu.status).not.toBe(0);
  expect(kinds(out)).toEqual(['missing:runs/run-001.json', 'extra:runs/run-001b.json']);
  expect(spawnSync('sh', ['replay.sh'], { cwd: out, encoding: 'utf8' }).status).toBe(1);
});

it('a file grown by one byte → mismatch and size_mismatch naming it (native, no wasm needed)', () => {
  const out = fresh('size');
  build(out);
  fs.appendFileSync(path.join(out, 'PR_REPORT.json'), '\n');
  const v = verifyProofpack(out);
  expect(v).toMatchObject({ verdict: 'FAIL', complete: true, valid: false });
  expect(kinds(out)).toEqual(['mismatch:PR_REPORT.json', 'size_mismatch:PR_REPORT.json']);
  expect(v.problems.find((p) => p.kind === 'size_mismatch')?.message).toMatch(/^size \d+ bytes, manifest says \d+$/);
});

describe('the wasm build gives the native verdicts (npm run build:wasm)', () => {
  const pkg = path.join(__dirname, '..', '..', 'npm', 'wasm', 'pkg', 'node', 'omega_pr_wasm.js');
  // Skipped (visibly) only outside CI when the wasm package was not built; under CI (`CI` set, as
  // scripts/test-all.sh does after building it) a missing package fails the test.
  it.skipIf(!fs.existsSync(pkg) && !process.env.CI)('same parse errors, same verification, streaming hasher KATs', () => {
    expect(fs.existsSync(pkg), `${path.relative(process.cwd(), pkg)} is missing: run npm run build:wasm (CI never skips this)`).toBe(true);
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const wasm = require(pkg) as {
      Sha256: new () => { update(b: Uint8Array): void; digestHex(): string; free(): void };
      sha256Hex(b: Uint8Array): string;
      parseSha256Sums(b: Uint8Array): Array<{ path: string; sha256: string }>;
      verifyPack(s: Uint8Array | undefined, m: Uint8Array | undefined, o: unknown): { verdict: string; complete: boolean; valid: boolean; problems: Array<{ kind: string; path: string }> };
    };
    const h = new wasm.Sha256();
    const a = Buffer.alloc(1 << 20, 'a');
    for (let o = 0; o < a.length; o += 65_536) h.update(a.subarray(o, o + 65_536));
    expect(h.digestHex()).toBe(sha256Hex(a));
    h.free();
    expect(wasm.sha256Hex(new Uint8Array())).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    const bad = Buffer.from(`${'a'.repeat(64)}  ../x\n`);
    let wasmErr: { code?: string; message: string } | undefined;
    try {
      wasm.parseSha256Sums(bad);
    } catch (e) {
      wasmErr = e as { code?: string; message: string };
    }
    const nativeErr = codeOf(() => parseSha256Sums(bad));
    expect(wasmErr?.code).toBe(nativeErr.code);
    expect(wasmErr?.message).toBe(nativeErr.message);

    const out = fresh('wasm');
    build(out);
    fs.writeFileSync(path.join(out, 'runs', 'extra.json'), '{}');
    fs.appendFileSync(path.join(out, 'PR_REPORT.json'), '\n');
    const files = (fs.readdirSync(out, { recursive: true }) as string[])
      .filter((f) => fs.statSync(path.join(out, f)).isFile())
      .map((f) => f.split(path.sep).join('/'));
    const observed = files.map((p) => {
      const b = fs.readFileSync(path.join(out, p));
      return { path: p, kind: 'file', bytes: b.length, sha256: wasm.sha256Hex(b) };
    });
    const w = wasm.verifyPack(fs.readFileSync(path.join(out, 'SHA256SUMS.txt')), fs.readFileSync(path.join(out, 'MANIFEST.json')), observed);
    const n = verifyProofpack(out);
    expect(w.verdict).toBe(n.verdict);
    expect(w.complete).toBe(n.complete);
    expect(w.problems.map((p) => `${p.kind}:${p.path}`)).toEqual(n.problems.map((p) => `${p.kind}:${p.path}`));
    expect(n.problems.map((p) => `${p.kind}:${p.path}`)).toEqual(['mismatch:PR_REPORT.json', 'size_mismatch:PR_REPORT.json', 'extra:runs/extra.json']);
  });
});
