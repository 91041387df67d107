// Proofpack verification throughput, side by side in one run:
//   omega-pr native `verifyProofpack` (all cores, SHA-NI via the sha2 crate's run-time detection)
//   vs GNU `sha256sum -c` (coreutils, one core, no SHA-NI)
//   vs Node `crypto.createHash` (OpenSSL, SHA-NI, one thread: readFileSync per small file,
//      a 1 MiB-chunk stream for the big file).
// Workloads (default sized to finish in < 60 s on 2 cores; OMEGA_BENCH_FULL=1 for the issue's
// sizes): (a) 2,000 files ≈ 64 MiB (full: 5,000 files ≈ 160 MiB), (b) one 256 MiB file (full:
// 512 MiB). Files are in the page cache (warm run first); median of 5. MB = 10^6 bytes.
// (c) the pack's own POSIX verifier `sh replay.sh` on 5,000 small files (1 KiB each, always
// 5,000: the figure, goal < 1 s), next to a bare `sha256sum -c` of the same listing.
// Runnable standalone: `node bench/proofpack.bench.mjs`.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, openSync, writeSync, closeSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const native = require(join(here, '..', 'native.js'));

const FULL = process.env.OMEGA_BENCH_FULL === '1';
const SMALL_COUNT = FULL ? 5000 : 2000;
const SMALL_SIZE = 32 * 1024; // 5,000 × 32 KiB ≈ 164 MB, 2,000 × 32 KiB ≈ 66 MB
const BIG_SIZE = (FULL ? 512 : 256) * 1024 * 1024;

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function time(fn, runs = 5) {
  await fn(); // warm: page cache, JIT
  const t = [];
  for (let i = 0; i < runs; i += 1) {
    const t0 = process.hrtime.bigint();
    await fn();
    t.push(Number(process.hrtime.bigint() - t0) / 1e9);
  }
  return median(t);
}

function listing(pack) {
  return readFileSync(join(pack, 'SHA256SUMS.txt'), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => ({ sha256: l.slice(0, 64), path: l.slice(66) }));
}

function nodeVerifySmall(pack, list) {
  for (const e of list) {
    const d = createHash('sha256').update(readFileSync(join(pack, e.path))).digest('hex');
    if (d !== e.sha256) throw new Error(`node: mismatch ${e.path}`);
  }
}

async function nodeVerifyStream(pack, list) {
  for (const e of list) {
    const h = createHash('sha256');
    await new Promise((resolve, reject) => {
      createReadStream(join(pack, e.path), { highWaterMark: 1 << 20 })
        .on('data', (c) => h.update(c))
        .on('end', resolve)
        .on('error', reject);
    });
    if (h.digest('hex') !== e.sha256) throw new Error(`node: mismatch ${e.path}`);
  }
}

function sha256sum(pack) {
  const r = spawnSync('sha256sum', ['-c', '--quiet', '--strict', 'SHA256SUMS.txt'], { cwd: pack });
  if (r.status !== 0) throw new Error(`sha256sum -c failed: ${r.stderr}`);
}

function replaySh(pack) {
  const r = spawnSync('sh', ['replay.sh'], { cwd: pack, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`replay.sh failed: ${r.stdout}${r.stderr}`);
}

function ours(pack) {
  const v = native.verifyProofpack(pack);
  if (v.verdict !== 'PASS') throw new Error(`omega-pr: ${JSON.stringify(v.problems)}`);
}

function fill(buf, seed) {
  // Cheap deterministic content (letters only: never an absolute path).
  let x = seed >>> 0 || 1;
  for (let i = 0; i < buf.length; i += 4) {
    x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
    buf[i] = 97 + ((x >>> 0) % 26);
  }
  return buf;
}

function makePack(root, name, writeSource) {
  const src = join(root, `${name}-src`);
  mkdirSync(src, { recursive: true });
  writeSource(src);
  const pack = join(root, name);
  native.buildProofpack({ source: src, output: pack, type: 'bench', verdict: 'PASS', sourceDateEpoch: 1_700_000_000 });
  rmSync(src, { recursive: true, force: true });
  return pack;
}

export async function run() {
  const root = mkdtempSync(join(os.tmpdir(), 'omega-pr-bench-pp-'));
  const rows = [];
  try {
    const many = makePack(root, 'many', (src) => {
      const buf = Buffer.alloc(SMALL_SIZE);
      for (let i = 0; i < SMALL_COUNT; i += 1) {
        const dir = join(src, `d${i % 50}`);
        if (i < 50) mkdirSync(dir);
        writeFileSync(join(dir, `f${i}.json`), fill(buf, i + 1));
      }
    });
    const big = makePack(root, 'big', (src) => {
      const fd = openSync(join(src, 'big.bin'), 'w');
      const chunk = fill(Buffer.alloc(8 << 20), 7);
      for (let off = 0; off < BIG_SIZE; off += chunk.length) writeSync(fd, chunk);
      closeSync(fd);
    });

    const replayCount = 5000;
    const replayPack = makePack(root, 'replay', (src) => {
      const buf = Buffer.alloc(1024);
      for (let i = 0; i < replayCount; i += 1) {
        const dir = join(src, `d${i % 50}`);
        if (i < 50) mkdirSync(dir);
        writeFileSync(join(dir, `f${i}.json`), fill(buf, i + 1));
      }
    });
    const tReplay = await time(() => replaySh(replayPack), 3);
    const tReplayGnu = await time(() => sha256sum(replayPack), 3);
    rows.push({
      name: `sh replay.sh, ${replayCount} files × 1 KiB (all checks) vs bare sha256sum -c`,
      ours: tReplay,
      peer: tReplayGnu,
      peerName: 'sha256sum -c',
      unit: 's',
      ratio: tReplayGnu / tReplay,
      goal: 'replay.sh < 1 s',
    });

    for (const [label, pack, nodeFn] of [
      [`verify ${SMALL_COUNT} files (${((SMALL_COUNT * SMALL_SIZE) / 2 ** 20).toFixed(0)} MiB)`, many, 'small'],
      [`verify 1 file (${BIG_SIZE / 2 ** 20} MiB)`, big, 'stream'],
    ]) {
      const list = listing(pack);
      let bytes = 0;
      for (const e of list) bytes += readFileSync(join(pack, e.path)).length;
      const mbps = (s) => bytes / 1e6 / s;
      const tOurs = await time(() => ours(pack));
      const tGnu = await time(() => sha256sum(pack));
      const tNode = await time(() => (nodeFn === 'small' ? nodeVerifySmall(pack, list) : nodeVerifyStream(pack, list)));
      const goalNode = nodeFn === 'small' ? '≥ 1.8× Node' : '≥ 1.0× Node';
      rows.push(
        { name: `${label} vs sha256sum -c`, ours: mbps(tOurs), peer: mbps(tGnu), peerName: 'sha256sum -c', unit: 'MB/s', ratio: tGnu / tOurs, goal: '≥ 5× sha256sum' },
        { name: `${label} vs Node createHash`, ours: mbps(tOurs), peer: mbps(tNode), peerName: 'node crypto', unit: 'MB/s', ratio: tNode / tOurs, goal: goalNode },
      );
    }

    // Signing and signature verification (issue 10): ours signs after re-checking the pack's
    // integrity (a broken pack is never signed) and writes the minisig + DSSE attestation; the
    // peer is `minisign -S` / `-V` on MANIFEST.json alone (signature only).
    const k = native.minisignKeygen({ unencrypted: true });
    const keyFile = join(root, 'bench.key');
    writeFileSync(keyFile, k.secretKey, { mode: 0o600 });
    writeFileSync(`${keyFile}.pub`, k.publicKey);
    const tSign = await time(() => native.signProofpack(many, { secretKey: k.secretKey, keyFile: 'bench.key', sourceDateEpoch: 1_700_000_000 }));
    const tMiniSign = await time(() => {
      const r = spawnSync('minisign', ['-S', '-s', keyFile, '-m', join(many, 'MANIFEST.json'), '-x', join(root, 'peer.minisig')]);
      if (r.status !== 0) throw new Error(`minisign -S: ${r.stderr}`);
    });
    const tVerifySigned = await time(() => {
      const v = native.verifyProofpack(many, { pubkey: k.publicKey });
      if (!v.ok || v.signature.status !== 'verified' || v.attestation.status !== 'verified') throw new Error('signed verify failed');
    });
    const tVerifyPlain = await time(() => ours(many));
    const tMiniVerify = await time(() => {
      const r = spawnSync('minisign', ['-V', '-q', '-p', `${keyFile}.pub`, '-m', join(many, 'MANIFEST.json')]);
      if (r.status !== 0) throw new Error(`minisign -V: ${r.stderr}`);
    });
    rows.push(
      { name: `sign a ${SMALL_COUNT}-file pack (integrity re-check + minisig + DSSE) vs minisign -S MANIFEST.json`, ours: tSign * 1e3, peer: tMiniSign * 1e3, peerName: 'minisign -S', unit: 'ms', ratio: tMiniSign / tSign, goal: 'report' },
      { name: `verify a signed ${SMALL_COUNT}-file pack (+ signature + attestation) vs integrity only`, ours: tVerifySigned * 1e3, peer: tVerifyPlain * 1e3, peerName: 'verify, no key', unit: 'ms', ratio: tVerifyPlain / tVerifySigned, goal: 'report' },
      { name: 'minisign -V MANIFEST.json (signature only, for scale)', ours: tMiniVerify * 1e3, peer: tMiniVerify * 1e3, peerName: 'minisign -V', unit: 'ms', ratio: 1, goal: 'report' },
    );
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  return rows;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const rows = await run();
  console.table(rows.map((r) => ({ ...r, ours: r.ours.toFixed(0), peer: r.peer.toFixed(0), ratio: `${r.ratio.toFixed(2)}×` })));
}
