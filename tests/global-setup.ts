/**
 * Vitest global setup: builds the TypeScript layer (`npm run build:ts`: dist/ + the ESM entry)
 * once, before any test file runs. Test files run in parallel forks and several start real
 * processes from dist/ (the CLI, the concurrency workers, the packed tarball); building it in each
 * file's `beforeAll` would let one file rewrite dist/ while another runs from it.
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

export default function setup(): void {
  // scripts/test-all.sh has just run `npm run build:ts` itself (before the d.ts check) and runs
  // vitest once per Node line: it says so, and the build is not repeated.
  if (process.env.OMEGA_TS_BUILT === '1') return;
  const root = path.resolve(__dirname, '..');
  const started = Date.now();
  const r = spawnSync('npm', ['run', '--silent', 'build:ts'], { cwd: root, encoding: 'utf8', shell: process.platform === 'win32' });
  if (r.error !== undefined || r.status !== 0) {
    throw new Error(`global setup: npm run build:ts failed (${r.error?.message ?? `exit ${String(r.status ?? r.signal)}`}):\n${r.stdout ?? ''}${r.stderr ?? ''}`);
  }
  console.log(`global setup: npm run build:ts (${((Date.now() - started) / 1000).toFixed(1)} s, Node ${process.version})`);
}
