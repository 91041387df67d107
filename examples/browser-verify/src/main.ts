// Verifies a proofpack folder chosen with <input webkitdirectory>, with omega-pr-wasm imported the
// way a bundler user does: `init()` once (Vite emits the .wasm as an asset), then verifyPack.
import init, { Sha256, parseSha256Sums, verifyPack, version, type ObservedEntry, type PackVerification } from 'omega-pr-wasm';

const CHUNK = 4 * 1024 * 1024;

function $(id: string): HTMLElement {
  const el = document.getElementById(id);
  if (el === null) throw new Error(`#${id} missing`);
  return el;
}

async function bytesOf(file: File): Promise<Uint8Array> {
  return new Uint8Array(await file.arrayBuffer());
}

/** Streaming SHA-256 of a file in 4 MiB slices (bounded memory). */
async function hashFile(file: File): Promise<string> {
  const h = new Sha256();
  try {
    for (let at = 0; at < file.size; at += CHUNK) h.update(await bytesOf(file.slice(at, at + CHUNK) as File));
    return h.digestHex();
  } finally {
    h.free();
  }
}

/** The chosen files, by path relative to the chosen folder. */
function entriesOf(list: FileList): Array<{ path: string; file: File }> {
  return Array.from(list, (file) => {
    const rel = (file.webkitRelativePath || file.name).split('/');
    return { path: rel.length > 1 ? rel.slice(1).join('/') : file.name, file };
  });
}

export async function verifyFolder(list: FileList): Promise<PackVerification> {
  const entries = entriesOf(list);
  const byPath = new Map(entries.map((e) => [e.path, e.file]));
  const sumsFile = byPath.get('SHA256SUMS.txt');
  const manifestFile = byPath.get('MANIFEST.json');
  const sums = sumsFile ? await bytesOf(sumsFile) : undefined;
  const manifest = manifestFile ? await bytesOf(manifestFile) : undefined;
  let listed: Set<string> | null = null;
  try {
    if (sums) listed = new Set(parseSha256Sums(sums).map((e) => e.path));
  } catch {
    listed = null; // verifyPack reports sums_invalid
  }
  const observed: ObservedEntry[] = [];
  for (const e of entries) {
    if (e.path === 'SHA256SUMS.txt' || e.path === 'MANIFEST.json') continue;
    const wanted = listed === null || listed.has(e.path);
    observed.push({ path: e.path, kind: 'file', bytes: e.file.size, sha256: wanted ? await hashFile(e.file) : null });
  }
  return verifyPack(sums, manifest, observed);
}

function render(v: PackVerification): void {
  const verdict = $('verdict');
  verdict.textContent = v.verdict === 'PASS' ? `PASS — ${v.file_count} files verified` : 'FAIL';
  verdict.className = v.verdict;
  verdict.dataset.verdict = v.verdict;
  $('summary').textContent = `${v.pack_id ?? 'unknown pack'} · ${v.total_bytes} bytes · complete: ${v.complete} · valid: ${v.valid}`;
  $('problems').replaceChildren(
    ...v.problems.map((p) => {
      const li = document.createElement('li');
      li.className = 'ko';
      li.textContent = `${p.kind}: ${p.path} — ${p.message}`;
      return li;
    }),
  );
}

async function start(): Promise<void> {
  await init();
  $('version').textContent = `omega-pr core ${version()}`;
  const input = $('folder') as HTMLInputElement;
  input.addEventListener('change', () => {
    if (!input.files || input.files.length === 0) return;
    $('verdict').textContent = 'Verifying…';
    delete $('verdict').dataset.verdict;
    verifyFolder(input.files).then(render, (err: unknown) => {
      $('verdict').textContent = `Error: ${(err as Error).message}`;
      $('verdict').dataset.verdict = 'ERROR';
    });
  });
  input.disabled = false;
  document.body.dataset.ready = 'true';
}

void start();
