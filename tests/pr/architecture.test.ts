/**
 * Layering of the TypeScript sources (docs/ARCHITECTURE.md): no import cycle in `src/`, and the
 * library never reaches the CLI — nothing outside `src/cli/` imports from it. The import graph is
 * read with the TypeScript compiler's own pre-processor (type-only imports count too).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(__dirname, '..', '..');
const SRC = path.join(ROOT, 'src');

function sources(dir: string): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? sources(path.join(dir, e.name)) : e.name.endsWith('.ts') ? [path.join(dir, e.name)] : []))
    .sort();
}

/** `src/`-relative file → the `src/` files it imports (relative specifiers, resolved). */
export function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of sources(SRC)) {
    const info = ts.preProcessFile(fs.readFileSync(file, 'utf8'), true, true);
    const deps = new Set<string>();
    for (const ref of info.importedFiles) {
      if (!ref.fileName.startsWith('.')) continue;
      const base = path.resolve(path.dirname(file), ref.fileName);
      const hit = [`${base}.ts`, path.join(base, 'index.ts')].find((c) => fs.existsSync(c));
      if (hit !== undefined && hit.startsWith(SRC + path.sep)) deps.add(path.relative(SRC, hit).split(path.sep).join('/'));
    }
    graph.set(path.relative(SRC, file).split(path.sep).join('/'), [...deps].sort());
  }
  return graph;
}

/** A cycle of the graph (first file repeated at the end), or null. */
export function findCycle(graph: Map<string, string[]>): string[] | null {
  const state = new Map<string, 1 | 2>();
  const stack: string[] = [];
  const visit = (n: string): string[] | null => {
    state.set(n, 1);
    stack.push(n);
    for (const m of graph.get(n) ?? []) {
      if (state.get(m) === 1) return [...stack.slice(stack.indexOf(m)), m];
      if (state.get(m) === undefined) {
        const c = visit(m);
        if (c !== null) return c;
      }
    }
    stack.pop();
    state.set(n, 2);
    return null;
  };
  for (const n of graph.keys()) {
    if (state.get(n) === undefined) {
      const c = visit(n);
      if (c !== null) return c;
    }
  }
  return null;
}

describe('src/ import graph', () => {
  const graph = importGraph();

  it('is read from the real sources', () => {
    expect(graph.get('index.ts')).toContain('providers/errors.ts');
    expect(graph.get('cli/index.ts')).toContain('cli/commands/index.ts');
  });

  it('has no cycle', () => {
    const cycle = findCycle(graph);
    expect(cycle === null ? null : cycle.join(' → ')).toBeNull();
  });

  it('finds a cycle when there is one (the check can fail)', () => {
    const bad = new Map(graph);
    bad.set('providers/types.ts', [...(graph.get('providers/types.ts') ?? []), 'index.ts']);
    expect(findCycle(bad)).not.toBeNull();
  });

  it('the library never imports src/cli/', () => {
    const offenders = [...graph].flatMap(([file, deps]) =>
      file.startsWith('cli/') ? [] : deps.filter((d) => d.startsWith('cli/')).map((d) => `${file} → ${d}`),
    );
    expect(offenders).toEqual([]);
  });
});

describe('one error class', () => {
  it('src/ throws OmegaError (or a subclass), never an ad-hoc `Error & { code }`', () => {
    const SRC = path.join(__dirname, '../../src');
    const offenders: string[] = [];
    const walk = (dir: string): void => {
      for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
        const p = path.join(dir, e.name);
        if (e.isDirectory()) walk(p);
        else if (e.name.endsWith('.ts')) {
          fs.readFileSync(p, 'utf8')
            .split('\n')
            .forEach((line, i) => {
              if (/as Error & \{ code/.test(line) || /\be\.code = ['"]ERR_OMEGA_/.test(line)) offenders.push(`${path.relative(SRC, p)}:${i + 1}`);
            });
        }
      }
    };
    walk(SRC);
    expect(offenders).toEqual([]);
  });
});
