/**
 * Key handling of the CLI: the password (env `OMEGA_PR_KEY_PASSWORD`, else a prompt on a TTY that
 * never echoes), reading key files (a warning when group/other can read a secret key), unlocking
 * a secret key before anything is written, signing a built pack.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import { UsageError, rel } from './util';
import { minisignKeyIsEncrypted, minisignUnlockKey, signProofpack, type SignProofpackResult } from '../../native';

/** Environment variable holding the secret key password (no prompt then). */
export const PASSWORD_ENV = 'OMEGA_PR_KEY_PASSWORD';

/** Reads a line from the TTY without echo. */
export function promptHidden(question: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const stdin = process.stdin;
    process.stderr.write(question);
    stdin.setRawMode(true);
    stdin.resume();
    stdin.setEncoding('utf8');
    let buf = '';
    const cleanup = (): void => {
      stdin.setRawMode(false);
      stdin.pause();
      stdin.removeListener('data', onData);
      process.stderr.write('\n');
    };
    const onData = (chunk: string): void => {
      for (const c of chunk) {
        if (c === '\r' || c === '\n') {
          cleanup();
          resolve(buf);
          return;
        }
        if (c === '\u0003') {
          cleanup();
          reject(new UsageError('password prompt interrupted', 'ERR_OMEGA_KEY'));
          return;
        }
        if (c === '\u007f' || c === '\b') buf = buf.slice(0, -1);
        else buf += c;
      }
    };
    stdin.on('data', onData);
  });
}

/** The password from `OMEGA_PR_KEY_PASSWORD`, else a prompt on a TTY; `undefined` when neither. */
export async function readPassword(question: string, confirm = false): Promise<string | undefined> {
  const env = process.env[PASSWORD_ENV];
  if (env !== undefined && env !== '') return env;
  if (!process.stdin.isTTY) return undefined;
  const pw = await promptHidden(question);
  if (confirm) {
    const again = await promptHidden('Password (one more time): ');
    if (again !== pw) throw new UsageError('the two passwords differ', 'ERR_OMEGA_KEY');
  }
  return pw;
}

/** Warns (stderr) when a secret key file can be read by group or others. */
export function warnKeyPermissions(file: string): void {
  if (process.platform === 'win32') return;
  try {
    const mode = fs.statSync(file).mode & 0o777;
    if ((mode & 0o077) !== 0) {
      process.stderr.write(
        `omega-pr: warning: ERR_OMEGA_KEY: secret key \`${rel(file)}\` is readable by group/others ` +
          `(mode ${mode.toString(8).padStart(4, '0')}); run: chmod 600 ${rel(file)}\n`,
      );
    }
  } catch {
    /* reported when reading */
  }
}

function readText(file: string, what: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read ${what} \`${path.basename(file)}\`: ${(err as Error).message}`, 'ERR_OMEGA_IO');
  }
}

/** A secret key ready to sign: read, permission-checked, decrypted (password checked). */
export interface UnlockedKey {
  /** Unencrypted key file text (kept in memory only). */
  secretKey: string;
  /** File name for errors. */
  keyFile: string;
}

/** Reads and unlocks the secret key `file` (throws `ERR_OMEGA_KEY` on a garbled key or a wrong password). */
export async function unlockKey(file: string): Promise<UnlockedKey> {
  const text = readText(file, 'secret key');
  warnKeyPermissions(file);
  const name = path.basename(file);
  let password: string | undefined;
  if (minisignKeyIsEncrypted(text, name)) {
    password = await readPassword(`Password for ${name}: `);
    if (password === undefined) {
      throw new UsageError(
        `key \`${name}\`: password_required: the secret key is encrypted: set ${PASSWORD_ENV} or run on a terminal`,
        'ERR_OMEGA_KEY',
      );
    }
  }
  return { secretKey: minisignUnlockKey(text, name, password), keyFile: name };
}

/** Reads a public key given as a file or as the base64 string. */
export function readPublicKey(opts: { pubkey?: string; pubkeyString?: string }): { pubkey?: string; pubkeyName?: string } {
  if (opts.pubkey !== undefined && opts.pubkeyString !== undefined) {
    throw new UsageError('give --pubkey or --pubkey-string, not both');
  }
  if (opts.pubkey !== undefined) return { pubkey: readText(opts.pubkey, 'public key'), pubkeyName: path.basename(opts.pubkey) };
  if (opts.pubkeyString !== undefined) return { pubkey: opts.pubkeyString, pubkeyName: '--pubkey-string' };
  return {};
}

/** SHA-256 of a file, hex (the calibration digest in the attestation). */
export function fileSha256(file: string): string {
  return createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

/** Signs the pack in `dir` with an unlocked key. */
export function signPack(
  dir: string,
  key: UnlockedKey,
  calibrationFile?: string,
  gates?: Array<{ name: string; passed: boolean }>,
): SignProofpackResult {
  return signProofpack(dir, {
    secretKey: key.secretKey,
    keyFile: key.keyFile,
    calibrationSha256: calibrationFile === undefined ? undefined : fileSha256(calibrationFile),
    gates,
  });
}
