/** Reading what a run wrote: JSON files, file trees, run folders. */
import * as fs from 'node:fs';
import * as path from 'node:path';

/** A JSON file's value, untyped (tests reach into reports freely). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function readJson(file: string): any {
  return JSON.parse(fs.readFileSync(file, 'utf8'));
}

/**
 * Every file under `dir` (with `dirs`, every folder too, as `name/`), relative, `/` separators,
 * sorted; [] when `dir` does not exist.
 */
export function walk(dir: string, o: { dirs?: boolean } = {}, base = dir): string[] {
  if (!fs.existsSync(dir)) return [];
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    const r = path.relative(base, p).split(path.sep).join('/');
    if (e.isDirectory()) out.push(...(o.dirs === true ? [`${r}/`] : []), ...walk(p, o, base));
    else out.push(r);
  }
  return out.sort();
}

/**
 * The run folders under `<cwd>/metrics/pr/PR_RUNS` whose names match `re`, sorted, as paths: not
 * the `<x>_latest` links to them; with `committed`, not the staging folders either (`.partial-<pid>`,
 * a stress run's `<name>.cache`).
 */
export function runDirs(cwd: string, re: RegExp, o: { committed?: boolean } = {}): string[] {
  const runs = path.join(cwd, 'metrics', 'pr', 'PR_RUNS');
  if (!fs.existsSync(runs)) return [];
  return fs
    .readdirSync(runs)
    .filter((n) => re.test(n) && !n.endsWith('_latest') && (o.committed !== true || (!n.includes('.partial-') && !n.endsWith('.cache'))))
    .sort()
    .map((n) => path.join(runs, n));
}
