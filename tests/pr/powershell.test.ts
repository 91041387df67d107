/**
 * The PowerShell scripts (issue 16, item 6): PowerShell cannot be installed on these machines, so
 * `verify.ps1` (generated into every proofpack) and `scripts/pr/concurrency10.ps1` are parsed with
 * a real PowerShell grammar (npm `tree-sitter-powershell`, through `web-tree-sitter`): no parse
 * error, only cmdlets present in Windows PowerShell 5.1 and PowerShell 7 alike (or functions the
 * script defines itself), and the runbook's output lines.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createRequire } from 'node:module';
import { beforeAll, describe, expect, it } from 'vitest';
import { Language, Parser, type Node } from 'web-tree-sitter';
import { buildProofpack } from '../../src/proofpack';

const ROOT = path.resolve(__dirname, '..', '..');
const require = createRequire(__filename);

/** Cmdlets shipped with both Windows PowerShell 5.1 and PowerShell 7 that the scripts may call. */
const ALLOWED = new Set([
  'ConvertFrom-Json',
  'ForEach-Object',
  'Get-ChildItem',
  'Get-Content',
  'Get-FileHash',
  'Get-Item',
  'Join-Path',
  'Measure-Object',
  'New-Object',
  'Pop-Location',
  'Push-Location',
  'Resolve-Path',
  'Select-Object',
  'Sort-Object',
  'Split-Path',
  'Test-Path',
  'Where-Object',
  'Write-Error',
  'Write-Host',
  'Write-Output',
]);

let parser: Parser;

beforeAll(async () => {
  await Parser.init();
  const lang = await Language.load(require.resolve('tree-sitter-powershell/tree-sitter-powershell.wasm'));
  parser = new Parser();
  parser.setLanguage(lang);
});

function parse(text: string): Node {
  const tree = parser.parse(text);
  if (tree === null) throw new Error('no parse tree');
  return tree.rootNode;
}

/** Command names called, and function names defined, anywhere in the tree. */
function names(root: Node): { called: Set<string>; defined: Set<string> } {
  const called = new Set<string>();
  const defined = new Set<string>();
  const walk = (n: Node): void => {
    if (n.type === 'command_name') called.add(n.text);
    if (n.type === 'function_name') defined.add(n.text);
    for (const c of n.namedChildren) if (c !== null) walk(c);
  };
  walk(root);
  return { called, defined };
}

function checkScript(text: string, extra: string[] = []): void {
  const root = parse(text);
  expect(root.hasError, 'PowerShell parse error').toBe(false);
  const { called, defined } = names(root);
  const unknown = [...called].filter((c) => !ALLOWED.has(c) && !defined.has(c) && !extra.includes(c));
  expect(unknown, 'cmdlets outside the 5.1/7 allow-list').toEqual([]);
  // ASCII only: Windows PowerShell 5.1 reads a BOM-less script in the ANSI code page.
  expect([...text].every((ch) => ch.charCodeAt(0) < 128), 'non-ASCII character').toBe(true);
}

describe('PowerShell scripts parse with a real PowerShell grammar (5.1 and 7 constructs only)', () => {
  it('the grammar reports a syntax error (the check can fail)', () => {
    expect(parse('if ( {').hasError).toBe(true);
    expect(parse('Write-Output "ok"').hasError).toBe(false);
  });

  it("a pack's verify.ps1: no parse error, allow-listed cmdlets, the runbook's output lines", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'omega-ps-'));
    const src = path.join(dir, 'run');
    fs.mkdirSync(src);
    fs.writeFileSync(path.join(src, 'PR_REPORT.json'), '{"total_runs": 1}\n');
    const out = path.join(dir, 'pack');
    buildProofpack({ source: src, output: out, type: 'stress100', verdict: 'PASS', sourceDateEpoch: 1_764_633_600 });
    const text = fs.readFileSync(path.join(out, 'verify.ps1'), 'utf8');
    checkScript(text);
    expect(text).toContain('All files verified successfully');
    expect(text).toContain('MANIFEST.json');
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('scripts/pr/concurrency10.ps1 (the runbook phase 2 command) forwards to node', () => {
    const text = fs.readFileSync(path.join(ROOT, 'scripts', 'pr', 'concurrency10.ps1'), 'utf8');
    checkScript(text, ['node']);
    expect(text).toContain('concurrency');
  });
});
