/**
 * Shared by the pack tests: `npm run pack:npm` into a staging dir, then one install per consumer
 * project in a cache dir under os.tmpdir() keyed by the tarballs' SHA-256 (outside the repo, so
 * nothing resolves through the repository's node_modules). Test files run in parallel forks; a
 * lock directory serialises packing and installing, and a `ready` marker lets the second file reuse
 * the first one's installs. Needs `npm run build` first.
 */
import { execFileSync, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export const REPO = path.resolve(__dirname, '..', '..');

export interface PackedFile {
  path: string;
  size: number;
}

export interface PackedPackage {
  dir: string;
  name: string;
  version: string;
  tarball: string;
  size: number;
  unpackedSize: number;
  entryCount: number;
  files: PackedFile[];
}

export interface Packed {
  /** Cache dir of this set of tarballs. */
  dir: string;
  root: PackedPackage;
  platform: PackedPackage;
  wasm: PackedPackage;
}

const LOCK = path.join(os.tmpdir(), 'omega-pr-pack-tests.lock');

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Runs `fn` holding a lock directory (stale after 10 minutes). */
export function withLock<T>(fn: () => T): T {
  const deadline = Date.now() + 10 * 60_000;
  for (;;) {
    try {
      fs.mkdirSync(LOCK);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      try {
        if (Date.now() - fs.statSync(LOCK).mtimeMs > 10 * 60_000) fs.rmSync(LOCK, { recursive: true, force: true });
      } catch {
        // removed meanwhile
      }
      if (Date.now() > deadline) throw new Error(`pack lock ${LOCK} held too long`);
      sleepSync(200);
    }
  }
  try {
    return fn();
  } finally {
    fs.rmSync(LOCK, { recursive: true, force: true });
  }
}

export function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): SpawnSyncReturns<string> {
  return spawnSync(cmd, args, { cwd, encoding: 'utf8', env: { ...process.env, ...env }, maxBuffer: 64 * 1024 * 1024 });
}

/** Runs a command and throws with its output when it fails. */
export function sh(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): string {
  const r = run(cmd, args, cwd, env);
  if (r.status !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} (in ${cwd}) exited ${r.status}:\n${r.stdout}\n${r.stderr}`);
  }
  return r.stdout;
}

const NPM_FLAGS = ['--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error'];

/** `npm install` of `specs` in `dir` (done once per cache dir: `.installed` marker). */
export function installOnce(dir: string, specs: string[]): void {
  const marker = path.join(dir, '.installed');
  if (fs.existsSync(marker)) return;
  sh('npm', ['install', ...NPM_FLAGS, ...specs], dir);
  fs.writeFileSync(marker, `${specs.join('\n')}\n`);
}

function hashFile(file: string): string {
  return createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

let packed: Packed | undefined;

/** Packs the three packages (once per process) into the cache dir keyed by their bytes. */
export function packOnce(): Packed {
  if (packed) return packed;
  packed = withLock(() => {
    const staging = fs.mkdtempSync(path.join(os.tmpdir(), 'omega-pr-pack-staging-'));
    try {
      const json = sh('node', [path.join(REPO, 'scripts', 'pack-npm.mjs'), '--out', staging, '--json'], REPO);
      const list = JSON.parse(json) as PackedPackage[];
      const key = createHash('sha256')
        .update(list.map((p) => hashFile(p.tarball)).join(','))
        .digest('hex')
        .slice(0, 16);
      const dir = path.join(os.tmpdir(), `omega-pr-pack-${key}`);
      // Installs of older builds: removed after a day.
      for (const old of fs.readdirSync(os.tmpdir())) {
        const p = path.join(os.tmpdir(), old);
        if (/^omega-pr-pack-[0-9a-f]{16}$/.test(old) && p !== dir && Date.now() - fs.statSync(p).mtimeMs > 86_400_000) {
          fs.rmSync(p, { recursive: true, force: true });
        }
      }
      fs.mkdirSync(dir, { recursive: true });
      for (const p of list) {
        const dst = path.join(dir, path.basename(p.tarball));
        if (!fs.existsSync(dst)) fs.copyFileSync(p.tarball, dst);
        p.tarball = dst;
      }
      const by = (d: string): PackedPackage => {
        const p = list.find((x) => x.dir === d);
        if (!p) throw new Error(`pack-npm gave no ${d}`);
        return p;
      };
      return { dir, root: by('.'), platform: by('npm/linux-x64-gnu'), wasm: by('npm/wasm') };
    } finally {
      fs.rmSync(staging, { recursive: true, force: true });
    }
  });
  return packed;
}

/**
 * A project dir inside the cache dir, with `files` (relative to the repo) copied in fresh and
 * `package.json` dependencies rewritten from `file:../../.pack/*.tgz` to the cached tarballs.
 */
export function project(name: string, from?: string, files: string[] = []): string {
  const p = packOnce();
  const dir = path.join(p.dir, name);
  fs.mkdirSync(dir, { recursive: true });
  for (const f of files) {
    const src = path.join(REPO, from ?? '', f);
    fs.rmSync(path.join(dir, f), { recursive: true, force: true });
    fs.cpSync(src, path.join(dir, f), { recursive: true });
  }
  const pj = path.join(dir, 'package.json');
  if (fs.existsSync(pj)) {
    const doc = JSON.parse(fs.readFileSync(pj, 'utf8')) as { dependencies?: Record<string, string> };
    for (const [dep, spec] of Object.entries(doc.dependencies ?? {})) {
      if (!spec.startsWith('file:')) continue;
      const tgz = [p.root, p.wasm, p.platform].find((x) => x.name === dep);
      if (!tgz) throw new Error(`${name}: no packed tarball for ${dep}`);
      doc.dependencies![dep] = `file:${tgz.tarball}`;
    }
    fs.writeFileSync(pj, `${JSON.stringify(doc, null, 2)}\n`);
  }
  return dir;
}
