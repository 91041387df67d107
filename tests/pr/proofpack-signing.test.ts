/**
 * Signed proofpacks (issue 10 items 1–3): minisign-format keys and signatures checked against the
 * REAL Debian `minisign` both ways, the DSSE/in-toto attestation checked by the REAL PyPI
 * `securesystemslib`, the recorded verdict shown and enforced by `proofpack verify`, the
 * forgery (verdict flipped, every digest recomputed) refused with the pinned key, each bad input
 * with its code, and native/wasm verification returning the same object.
 *
 * Needs `minisign` (apt) and `.venv-sslib` (scripts/bootstrap.sh installs both).
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { verifyProofpack, type ProofpackVerification } from '../../src/index';
import { ROOT, binEnv, runBin, type Run } from './helpers/bin';
import { tempDirs } from './helpers/tmp';

const SSLIB_PY = path.join(ROOT, '.venv-sslib', 'bin', 'python');
const EPOCH = '1707748200';
const tmp = tempDirs('omega-sign-');
let dir: string;

function omega(args: string[], env: Record<string, string | undefined> = {}): Run {
  return runBin(dir, args, binEnv({ SOURCE_DATE_EPOCH: EPOCH, OMEGA_PR_KEY_PASSWORD: undefined, ...env }));
}

function run(cmd: string, args: string[], input?: string): Run {
  const r = spawnSync(cmd, args, { cwd: dir, encoding: 'utf8', input, timeout: 120_000 });
  if (r.error) throw r.error;
  return { code: r.status, signal: r.signal, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

const sha256 = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');

/** A run folder with a report, packed (unsigned) as `name` with `verdict`. */
function pack(name: string, verdict: 'PASS' | 'FAIL', sign?: string): Run {
  const src = path.join(dir, `${name}_run`);
  fs.mkdirSync(path.join(src, 'runs'), { recursive: true });
  fs.writeFileSync(path.join(src, 'PR_REPORT.json'), JSON.stringify({ verdict, name }) + '\n');
  fs.writeFileSync(path.join(src, 'runs', 'run-001.json'), '{"score":1}\n');
  const args = ['proofpack', 'build', '--source', `${name}_run`, '--output', name, '--type', 'stress100', '--verdict', verdict, '--command', 'omega-pr stress --count 100'];
  if (sign !== undefined) args.push('--sign', sign);
  return omega(args);
}

/** The forgery of the issue: verdict flipped to PASS, manifest_sha256 recomputed (SHA256SUMS is unchanged and still matches). */
function forge(packDir: string): void {
  const file = path.join(packDir, 'MANIFEST.json');
  const m = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
  m.verdict = 'PASS';
  m.manifest_sha256 = '0'.repeat(64);
  m.manifest_sha256 = sha256(JSON.stringify(m, null, 2) + '\n');
  fs.writeFileSync(file, JSON.stringify(m, null, 2) + '\n');
}

beforeAll(() => {
  dir = tmp();
  const k = omega(['keygen', '--output', 'ops.key', '--unencrypted']);
  expect(k.code, k.stderr).toBe(0);
});

describe('keygen → sign → verify, against the real minisign', () => {
  it('keygen writes minisign files: secret key 0600, public key minisign reads', () => {
    expect(fs.statSync(path.join(dir, 'ops.key')).mode & 0o777).toBe(0o600);
    const pub = fs.readFileSync(path.join(dir, 'ops.key.pub'), 'utf8');
    expect(pub).toMatch(/^untrusted comment: minisign public key [0-9A-F]{16}\nRW[A-Za-z0-9+/]{54}\n$/);
    const sk = fs.readFileSync(path.join(dir, 'ops.key'), 'utf8');
    expect(sk.startsWith('untrusted comment: minisign encrypted secret key\n')).toBe(true);
    expect(Buffer.from(sk.split('\n')[1], 'base64').length).toBe(158);
  });

  it('minisign -V accepts our signature of MANIFEST.json; the trusted comment carries pack id, type, verdict', () => {
    const b = pack('signed-fail', 'FAIL', 'ops.key');
    expect(b.code, b.stdout + b.stderr).toBe(0);
    expect(b.stdout).toContain('✓ Signed:');
    const v = run('minisign', ['-V', '-p', 'ops.key.pub', '-m', 'signed-fail/MANIFEST.json']);
    expect(v.code, v.stderr).toBe(0);
    expect(v.stdout).toContain('Signature and comment signature verified');
    expect(v.stdout).toContain('\tpack:stress100-1707748200000\ttype:stress100\tverdict:FAIL');
    // The pinned-string form too (-P).
    const line = fs.readFileSync(path.join(dir, 'ops.key.pub'), 'utf8').split('\n')[1];
    expect(run('minisign', ['-V', '-P', line, '-m', 'signed-fail/MANIFEST.json']).code).toBe(0);
  });

  it('a FAIL pack is shown as FAIL and exits 1 even when every check passes; --allow-fail-verdict exits 0', () => {
    const v = omega(['proofpack', 'verify', 'signed-fail', '--pubkey', 'ops.key.pub']);
    expect(v.code, v.stdout).toBe(1);
    expect(v.stdout).toContain('Recorded verdict: FAIL');
    expect(v.stdout).toMatch(/Signature: ✓ verified, signer key id [0-9A-F]{16}/);
    expect(v.stdout).toContain('Attestation: ✓');
    expect(v.stdout).toContain('FAIL recorded');
    expect(v.stdout).not.toContain('PASS recorded');
    const a = omega(['proofpack', 'verify', 'signed-fail', '--pubkey', 'ops.key.pub', '--allow-fail-verdict']);
    expect(a.code).toBe(0);
    expect(a.stdout).toContain('FAIL recorded by the run (accepted');
  });

  it('proofpack sign signs a built pack; verify --require-signature and --expect-manifest-sha256 pass', () => {
    expect(pack('later', 'PASS').code).toBe(0);
    const u = omega(['proofpack', 'verify', 'later']);
    expect(u.code).toBe(0);
    expect(u.stdout).toContain('UNSIGNED — integrity only: anyone who can write these files could have produced them');
    const s = omega(['proofpack', 'sign', 'later', '--key', 'ops.key']);
    expect(s.code, s.stderr).toBe(0);
    const digest = sha256(fs.readFileSync(path.join(dir, 'later', 'MANIFEST.json')));
    const manifestField = (JSON.parse(fs.readFileSync(path.join(dir, 'later', 'MANIFEST.json'), 'utf8')) as { manifest_sha256: string }).manifest_sha256;
    for (const d of [digest, manifestField]) {
      const v = omega(['proofpack', 'verify', 'later', '--pubkey', 'ops.key.pub', '--require-signature', '--expect-manifest-sha256', d]);
      expect(v.code, v.stdout).toBe(0);
      expect(v.stdout).toContain('RESULT: ✓ PASS recorded, signature verified');
    }
    const bad = omega(['proofpack', 'verify', 'later', '--pubkey', 'ops.key.pub', '--expect-manifest-sha256', 'ab'.repeat(32)]);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toContain('Manifest digest: ✗');
    expect(run('minisign', ['-V', '-p', 'ops.key.pub', '-m', 'later/MANIFEST.json']).code).toBe(0);
  });

  it('ours accepts signatures made by minisign -S (prehashed and legacy -l) with a minisign -G -W key', () => {
    expect(run('minisign', ['-G', '-W', '-p', 'mini.pub', '-s', 'mini.key']).code).toBe(0);
    expect(pack('by-minisign', 'PASS').code).toBe(0);
    for (const legacy of [false, true]) {
      const args = ['-S', '-s', 'mini.key', '-m', 'by-minisign/MANIFEST.json', '-t', 'signed by minisign'];
      if (legacy) args.push('-l');
      expect(run('minisign', args).code).toBe(0);
      const v = omega(['proofpack', 'verify', 'by-minisign', '--pubkey', 'mini.pub', '--require-signature']);
      expect(v.code, v.stdout).toBe(0);
      expect(v.stdout).toContain('Trusted comment: signed by minisign');
    }
    // And minisign's own key parses as a key of ours: sign with it.
    expect(pack('ours-with-minisign-key', 'PASS', 'mini.key').code).toBe(0);
    expect(run('minisign', ['-V', '-p', 'mini.pub', '-m', 'ours-with-minisign-key/MANIFEST.json']).code).toBe(0);
  });
});

describe('sprint --sign', () => {
  it('signs proofpacks/final, with the gates as the attestation\'s passed tests; minisign accepts it', () => {
    const r = omega(['sprint', '--test-cmd', "echo '3 passed, 0 failed'", '--count', '20', '--chaos-calls', '200', '--workers', '2', '--updates', '5', '--sign', 'ops.key']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/✓ Signed proofpacks\/final \(key id [0-9A-F]{16}\)/);
    expect(run('minisign', ['-V', '-p', 'ops.key.pub', '-m', 'proofpacks/final/MANIFEST.json']).stdout).toContain('type:sprint\tverdict:PASS');
    const v = omega(['proofpack', 'verify', 'proofpacks/final', '--pubkey', 'ops.key.pub', '--require-signature']);
    expect(v.code, v.stdout).toBe(0);
    const env = JSON.parse(fs.readFileSync(path.join(dir, 'proofpacks', 'final', 'attestation.intoto.json'), 'utf8')) as { payload: string };
    const st = JSON.parse(Buffer.from(env.payload, 'base64').toString('utf8')) as { predicate: { passedTests: string[]; failedTests: string[] } };
    expect(st.predicate.passedTests).toEqual(expect.arrayContaining(['PR-G0', 'PR-G1', 'PR-G2', 'PR-G3', 'PR-G4']));
    expect(st.predicate.failedTests).toEqual([]);
  }, 300_000);
});

describe('the forgery of the issue is refused with the pinned key', () => {
  it('verdict flipped to PASS, every digest recomputed: integrity passes, the signature does not (ours and minisign)', () => {
    expect(pack('forged', 'FAIL', 'ops.key').code).toBe(0);
    forge(path.join(dir, 'forged'));
    // Integrity alone cannot see it — that is the point of the signature.
    const integrity = verifyProofpack(path.join(dir, 'forged'));
    expect(integrity.valid).toBe(true);
    expect(integrity.recorded_verdict).toBe('PASS');
    const v = omega(['proofpack', 'verify', 'forged', '--pubkey', 'ops.key.pub']);
    expect(v.code).toBe(1);
    expect(v.stdout).toContain('Signature: ✗ ERR_OMEGA_SIGNATURE');
    expect(v.stdout).toContain('Attestation: ✗ ERR_OMEGA_SIGNATURE');
    expect(v.stdout).not.toContain('RESULT: ✓');
    expect(run('minisign', ['-V', '-p', 'ops.key.pub', '-m', 'forged/MANIFEST.json']).code).toBe(1);
    // The forger removes the signature files: --require-signature refuses the unsigned pack.
    fs.rmSync(path.join(dir, 'forged', 'MANIFEST.json.minisig'));
    fs.rmSync(path.join(dir, 'forged', 'attestation.intoto.json'));
    const u = omega(['proofpack', 'verify', 'forged', '--pubkey', 'ops.key.pub', '--require-signature']);
    expect(u.code).toBe(1);
    expect(u.stdout).toContain('ERR_OMEGA_UNSIGNED');
  });
});

describe('bad input: each a clear ERR_OMEGA_* code, nothing half-written', () => {
  it('wrong key password → ERR_OMEGA_KEY (exit 2) before anything is built', () => {
    const k = omega(['keygen', '--output', 'enc.key'], { OMEGA_PR_KEY_PASSWORD: 'correct horse' });
    expect(k.code, k.stderr).toBe(0);
    expect(fs.readFileSync(path.join(dir, 'enc.key'), 'utf8')).toContain('minisign encrypted secret key');
    const src = path.join(dir, 'pw_run');
    fs.mkdirSync(src);
    fs.writeFileSync(path.join(src, 'PR_REPORT.json'), '{}\n');
    const b = omega(['proofpack', 'build', '--source', 'pw_run', '--output', 'pw', '--type', 'stress100', '--verdict', 'PASS', '--sign', 'enc.key'], {
      OMEGA_PR_KEY_PASSWORD: 'wrong horse',
    });
    expect(b.code).toBe(2);
    expect(b.stderr).toContain('ERR_OMEGA_KEY');
    expect(b.stderr).toContain('wrong_password');
    expect(b.stderr).toContain('enc.key');
    expect(fs.existsSync(path.join(dir, 'pw'))).toBe(false);
    // Our encrypted key is minisign's format: minisign itself signs with it, given the password.
    expect(pack('pw-ok', 'PASS').code).toBe(0);
    const ms = run('minisign', ['-S', '-s', 'enc.key', '-m', 'pw-ok/MANIFEST.json'], 'correct horse\n');
    expect(ms.code, ms.stderr).toBe(0);
    expect(run('minisign', ['-V', '-p', 'enc.key.pub', '-m', 'pw-ok/MANIFEST.json']).code).toBe(0);
    expect(omega(['proofpack', 'verify', 'pw-ok', '--pubkey', 'enc.key.pub', '--require-signature']).code).toBe(0);
    // No password and no terminal → ERR_OMEGA_KEY, exit 2.
    const none = omega(['proofpack', 'sign', 'pw-ok', '--key', 'enc.key']);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('password_required');
  }, 600_000);

  it('a public key that does not match → ERR_OMEGA_SIGNATURE key_id_mismatch (exit 1); a garbled one → ERR_OMEGA_KEY (exit 2)', () => {
    const v = omega(['proofpack', 'verify', 'signed-fail', '--pubkey', 'mini.pub', '--allow-fail-verdict']);
    expect(v.code).toBe(1);
    expect(v.stdout).toContain('ERR_OMEGA_SIGNATURE');
    expect(v.stdout).toContain('key_id_mismatch');
    const g = omega(['proofpack', 'verify', 'signed-fail', '--pubkey-string', 'RWQgarbled']);
    expect(g.code).toBe(2);
    expect(g.stderr).toContain('ERR_OMEGA_KEY');
    expect(g.stderr).toContain('--pubkey-string');
  });

  it('a truncated or garbled .minisig → ERR_OMEGA_SIGNATURE naming the file (exit 1)', () => {
    expect(pack('trunc', 'PASS', 'ops.key').code).toBe(0);
    const f = path.join(dir, 'trunc', 'MANIFEST.json.minisig');
    const text = fs.readFileSync(f, 'utf8');
    fs.writeFileSync(f, text.slice(0, 60));
    const v = omega(['proofpack', 'verify', 'trunc', '--pubkey', 'ops.key.pub']);
    expect(v.code).toBe(1);
    expect(v.stdout).toContain('ERR_OMEGA_SIGNATURE: signature `MANIFEST.json.minisig`: malformed');
    fs.writeFileSync(f, text.replace(/\n(RU)/, '\n@@'));
    expect(omega(['proofpack', 'verify', 'trunc', '--pubkey', 'ops.key.pub']).stdout).toContain('MANIFEST.json.minisig`: malformed');
  });

  it('a signature over a different MANIFEST → ERR_OMEGA_SIGNATURE bad_signature', () => {
    expect(pack('other', 'PASS', 'ops.key').code).toBe(0);
    fs.copyFileSync(path.join(dir, 'signed-fail', 'MANIFEST.json.minisig'), path.join(dir, 'other', 'MANIFEST.json.minisig'));
    const v = omega(['proofpack', 'verify', 'other', '--pubkey', 'ops.key.pub']);
    expect(v.code).toBe(1);
    expect(v.stdout).toContain('bad_signature');
  });

  it('a DSSE envelope with a changed payload → ERR_OMEGA_SIGNATURE payload_changed; securesystemslib agrees', () => {
    expect(pack('dsse', 'FAIL', 'ops.key').code).toBe(0);
    const f = path.join(dir, 'dsse', 'attestation.intoto.json');
    const env = JSON.parse(fs.readFileSync(f, 'utf8')) as { payload: string };
    const st = JSON.parse(Buffer.from(env.payload, 'base64').toString('utf8')) as { predicate: { result: string } };
    expect(st.predicate.result).toBe('FAILED');
    st.predicate.result = 'PASSED';
    env.payload = Buffer.from(JSON.stringify(st)).toString('base64');
    fs.writeFileSync(f, JSON.stringify(env, null, 2));
    const v = omega(['proofpack', 'verify', 'dsse', '--pubkey', 'ops.key.pub', '--allow-fail-verdict']);
    expect(v.code).toBe(1);
    expect(v.stdout).toContain('Signature: ✓ verified');
    expect(v.stdout).toContain('payload_changed');
    expect(sslib(f, 'ops.key.pub').code).toBe(1);
  });

  it('a secret key readable by group/others → a warning naming it', () => {
    fs.copyFileSync(path.join(dir, 'ops.key'), path.join(dir, 'loose.key'));
    fs.chmodSync(path.join(dir, 'loose.key'), 0o644);
    expect(pack('loose', 'PASS', 'loose.key').code).toBe(0);
    const r = omega(['proofpack', 'sign', 'loose', '--key', 'loose.key']);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('warning: ERR_OMEGA_KEY: secret key `loose.key` is readable by group/others (mode 0644)');
  });

  it('--require-signature without a pinned key is a usage error (exit 2)', () => {
    expect(omega(['proofpack', 'verify', 'later', '--require-signature']).code).toBe(2);
  });
});

/** Runs securesystemslib's DSSE verifier on an envelope with the Ed25519 key of a minisign `.pub`. */
function sslib(envelope: string, pubFile: string): Run {
  const raw = Buffer.from(fs.readFileSync(path.join(dir, pubFile), 'utf8').split('\n')[1], 'base64');
  const hex = raw.subarray(10).toString('hex');
  const keyid = sha256(`{"keytype":"ed25519","keyval":{"public":"${hex}"},"scheme":"ed25519"}`);
  const py = [
    'import json, sys',
    'from securesystemslib.dsse import Envelope',
    'from securesystemslib.signer import SSlibKey',
    'env = Envelope.from_dict(json.load(open(sys.argv[1])))',
    'key = SSlibKey(sys.argv[3], "ed25519", "ed25519", {"public": sys.argv[2]})',
    'try:',
    '    ok = env.verify([key], 1)',
    'except Exception as e:',
    '    print("REJECTED", type(e).__name__, e); sys.exit(1)',
    'print("VERIFIED", ",".join(ok.keys()), env.payload_type)',
  ].join('\n');
  return run(SSLIB_PY, ['-c', py, envelope, hex, keyid]);
}

describe('the attestation is read by the supply-chain tools', () => {
  it('securesystemslib verifies attestation.intoto.json: in-toto Statement v1, test-result predicate, every file a subject', () => {
    expect(fs.existsSync(SSLIB_PY), 'run scripts/bootstrap.sh (.venv-sslib)').toBe(true);
    const f = path.join(dir, 'signed-fail', 'attestation.intoto.json');
    const r = sslib(f, 'ops.key.pub');
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain('VERIFIED');
    expect(r.stdout).toContain('application/vnd.in-toto+json');
    const env = JSON.parse(fs.readFileSync(f, 'utf8')) as { payload: string; signatures: Array<{ keyid: string; sig: string }> };
    const st = JSON.parse(Buffer.from(env.payload, 'base64').toString('utf8')) as {
      _type: string;
      predicateType: string;
      subject: Array<{ name: string; digest: { sha256: string } }>;
      predicate: { result: string; failedTests: string[]; configuration: Array<{ name: string }> };
    };
    expect(st._type).toBe('https://in-toto.io/Statement/v1');
    expect(st.predicateType).toBe('https://in-toto.io/attestation/test-result/v0.1');
    expect(st.predicate.result).toBe('FAILED');
    expect(st.predicate.configuration.map((c) => c.name)).toContain('command');
    const sums = fs.readFileSync(path.join(dir, 'signed-fail', 'SHA256SUMS.txt'), 'utf8').trim().split('\n');
    expect(st.subject.length).toBe(sums.length + 2);
    for (const s of st.subject) expect(sha256(fs.readFileSync(path.join(dir, 'signed-fail', s.name)))).toBe(s.digest.sha256);
    // Another key is refused by securesystemslib too.
    expect(sslib(f, 'mini.pub').code).toBe(1);
  });
});

describe('native and wasm verification return the same object (npm run build:wasm)', () => {
  const pkg = path.join(ROOT, 'npm', 'wasm', 'pkg', 'node', 'omega_pr_wasm.js');
  it.skipIf(!fs.existsSync(pkg))('deep-equal for a signed FAIL pack, a forged pack and an unsigned one', () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const wasm = require(pkg) as {
      sha256Hex(b: Uint8Array): string;
      verifySignedPack(
        s?: Uint8Array,
        m?: Uint8Array,
        sig?: Uint8Array,
        att?: Uint8Array,
        observed?: unknown,
        pubkey?: string,
        expect?: string,
      ): ProofpackVerification;
    };
    const pub = fs.readFileSync(path.join(dir, 'ops.key.pub'), 'utf8');
    const read = (d: string, f: string): Uint8Array | undefined => (fs.existsSync(path.join(d, f)) ? fs.readFileSync(path.join(d, f)) : undefined);
    expect(pack('twin', 'FAIL', 'ops.key').code).toBe(0);
    expect(pack('twin-forged', 'FAIL', 'ops.key').code).toBe(0);
    forge(path.join(dir, 'twin-forged'));
    expect(pack('twin-unsigned', 'PASS').code).toBe(0);
    for (const name of ['twin', 'twin-forged', 'twin-unsigned', 'by-minisign'].filter((n) => fs.existsSync(path.join(dir, n)))) {
      const d = path.join(dir, name);
      const files = (fs.readdirSync(d, { recursive: true }) as string[])
        .filter((f) => fs.statSync(path.join(d, f)).isFile())
        .map((f) => f.split(path.sep).join('/'));
      const observed = files.map((p) => {
        const b = fs.readFileSync(path.join(d, p));
        return { path: p, kind: 'file', bytes: b.length, sha256: wasm.sha256Hex(b) };
      });
      const expectDigest = 'ab'.repeat(32);
      const w = wasm.verifySignedPack(read(d, 'SHA256SUMS.txt'), read(d, 'MANIFEST.json'), read(d, 'MANIFEST.json.minisig'), read(d, 'attestation.intoto.json'), observed, pub, expectDigest);
      const n = verifyProofpack(d, { pubkey: pub, pubkeyName: 'pinned public key', expectManifestSha256: expectDigest });
      // Same fields, same casing, same values (null, not undefined, for absent ones); key order may differ.
      expect(w).toStrictEqual(n);
      expect(Object.keys(w).length).toBe(16);
    }
  });
});
