/**
 * Proofpacks, the JavaScript side: what only JS can know (the versions of node, npm and tsc;
 * where the built `verify.html` lives in the package). Building, hashing, scanning and
 * verifying are native (`buildProofpack`, `verifyProofpack` of the addon); the wrappers here fill
 * in `toolchain` and `verifyHtml` and forward.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as native from '../native';
import type { BuildProofpackOptions, ProofpackBuildResult, ToolchainVersions } from '../native';

/** First line of `cmd --version`, or `null` when the tool is not there. */
function versionOf(cmd: string, args: string[] = ['--version']): string | null {
  try {
    const out = execFileSync(cmd, args, {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
      timeout: 15_000,
      shell: process.platform === 'win32',
      windowsHide: true,
    });
    const line = out.split(/\r?\n/)[0]?.trim() ?? '';
    return line === '' ? null : line;
  } catch {
    return null;
  }
}

let cachedToolchain: ToolchainVersions | undefined;

/**
 * Versions for `toolchain.json`: node (`process.version`), npm, tsc (the `typescript` package
 * resolvable from here), rustc and cargo (`--version`, `null` when not installed). Probed once per
 * process. Never host names, user names or paths.
 */
export function probeToolchain(): ToolchainVersions {
  if (cachedToolchain) return { ...cachedToolchain };
  let tsc: string | null = null;
  try {
    tsc = (require('typescript/package.json') as { version: string }).version;
  } catch {
    tsc = null;
  }
  cachedToolchain = {
    node: process.version,
    npm: versionOf('npm') ?? undefined,
    tsc: tsc ?? undefined,
    rustc: versionOf('rustc') ?? undefined,
    cargo: versionOf('cargo') ?? undefined,
  };
  return { ...cachedToolchain };
}

/** Where `npm run build:wasm` writes the self-contained verifier page (wasm inlined). */
export const VERIFY_HTML_PATH = path.join(__dirname, '..', 'npm', 'wasm', 'pkg', 'verify.html');

/** The self-contained `verify.html` to ship in each pack, or `undefined` when it was not built. */
export function loadVerifyHtml(): string | undefined {
  try {
    return fs.readFileSync(VERIFY_HTML_PATH, 'utf8');
  } catch {
    return undefined;
  }
}

function withDefaults(options: BuildProofpackOptions): BuildProofpackOptions {
  return {
    ...options,
    toolchain: options.toolchain ?? probeToolchain(),
    verifyHtml: options.verifyHtml ?? loadVerifyHtml(),
  };
}

/**
 * Builds a proofpack (see the native `buildProofpack`), recording the probed toolchain and
 * shipping `verify.html` when it was built.
 */
export function buildProofpack(options: BuildProofpackOptions): ProofpackBuildResult {
  return native.buildProofpack(withDefaults(options));
}

/** Removes this process's build staging folders (`.<name>.partial-<pid>-*`) beside `output`. */
export function removePartials(output: string): void {
  const parent = path.dirname(path.resolve(output));
  const prefix = `.${path.basename(path.resolve(output))}.partial-${process.pid}-`;
  let names: string[] = [];
  try {
    names = fs.readdirSync(parent);
  } catch {
    return;
  }
  for (const n of names) {
    if (n.startsWith(prefix)) fs.rmSync(path.join(parent, n), { recursive: true, force: true, maxRetries: 5, retryDelay: 20 });
  }
}

/**
 * {@link buildProofpack} off the event loop. When `signal` aborts (the CLI's SIGINT / SIGTERM)
 * the native build is cancelled at its next chunk (`ERR_OMEGA_INTERRUPTED`, its temporary folder
 * removed, nothing renamed into place). A process that may exit before the build settles removes
 * the hidden `.<name>.partial-<pid>-<n>` folders with {@link removePartials}.
 */
export async function buildProofpackAsync(options: BuildProofpackOptions, control: { signal?: AbortSignal } = {}): Promise<ProofpackBuildResult> {
  const signal = control.signal;
  const cancel = () => native.cancelProofpackBuilds();
  signal?.addEventListener('abort', cancel, { once: true });
  try {
    const pending = native.buildProofpackAsync(withDefaults(options));
    if (signal?.aborted === true) cancel();
    return await pending;
  } finally {
    signal?.removeEventListener('abort', cancel);
  }
}
