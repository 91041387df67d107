#!/usr/bin/env node
// npm run pack:npm [-- --out DIR] [--json] — packs what we publish, as `npm publish` would:
//   omega-pr-<v>.tgz                 the root package (JS/ESM entries, d.ts, the linux-x64-gnu addon, CLI,
//                                    schemas, default calibration)
//   omega-pr-linux-x64-gnu-<v>.tgz   the per-platform package napi-rs publishes (the only target this
//                                    machine builds; the binary is copied into npm/linux-x64-gnu/ here,
//                                    never committed; the other npm/<platform>/ dirs are declared only)
//   omega-pr-wasm-<v>.tgz            the browser build (npm/wasm, needs `npm run build:wasm`)
// Needs `npm run build` first. Default DIR: .pack/ (git-ignored *.tgz).
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const outArg = args.indexOf('--out');
const out = path.resolve(outArg >= 0 ? args[outArg + 1] : path.join(root, '.pack'));
const asJson = args.includes('--json');

const BINARY = 'omega-pr.linux-x64-gnu.node';
const need = [
  [BINARY, 'npm run build:native'],
  ['dist/index.js', 'npm run build:ts'],
  ['index.mjs', 'npm run build:ts'],
  ['npm/wasm/pkg/omega_pr_wasm_bg.wasm', 'npm run build:wasm'],
];
for (const [file, cmd] of need) {
  if (!fs.existsSync(path.join(root, file))) {
    console.error(`pack-npm: ${file} missing: run '${cmd}' first`);
    process.exit(1);
  }
}
fs.copyFileSync(path.join(root, BINARY), path.join(root, 'npm', 'linux-x64-gnu', BINARY));
fs.mkdirSync(out, { recursive: true });

const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const results = [];
for (const dir of ['.', 'npm/linux-x64-gnu', 'npm/wasm']) {
  const text = execFileSync(npm, ['pack', '--json', '--pack-destination', out], {
    cwd: path.join(root, dir),
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const [info] = JSON.parse(text.slice(text.indexOf('[')));
  results.push({
    dir,
    name: info.name,
    version: info.version,
    tarball: path.join(out, info.filename),
    size: info.size,
    unpackedSize: info.unpackedSize,
    entryCount: info.entryCount,
    files: info.files.map((f) => ({ path: f.path, size: f.size })),
  });
}
if (asJson) {
  process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
} else {
  for (const r of results) {
    console.log(`${r.name}@${r.version}: ${path.relative(process.cwd(), r.tarball)}  ${(r.size / 1024).toFixed(0)} KiB packed, ${(r.unpackedSize / 1024).toFixed(0)} KiB unpacked, ${r.entryCount} files`);
  }
}
