/**
 * Temporary folders of a suite: `const tmp = tempDirs('omega-x-')` at the top of a test file gives
 * `tmp()`, a new real path (symlinks resolved) under the OS temp folder, removed after the suite.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll } from 'vitest';

export function tempDirs(prefix: string): () => string {
  const temps: string[] = [];
  afterAll(() => {
    for (const d of temps) fs.rmSync(d, { recursive: true, force: true });
  });
  return () => {
    const d = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), prefix)));
    temps.push(d);
    return d;
  };
}
