/**
 * `omega-pr keygen [--output KEY] [--unencrypted]`: a minisign key pair for signing proofpacks.
 * Writes KEY (secret, mode 0600, scrypt-encrypted with the password from `OMEGA_PR_KEY_PASSWORD`
 * or a prompt) and KEY.pub. Exit 0, or 2 on usage/input errors.
 */
import * as fs from 'node:fs';
import type { Command } from 'commander';
import type { RegisterCommand } from '../util';
import { EXIT, UsageError, rel } from '../util';
import { PASSWORD_ENV, readPassword } from '../signing';
import { minisignKeygen } from '../../../native';

/** Registers `omega-pr keygen`. */
export const register: RegisterCommand = (program: Command, setExit) => {
  program
    .command('keygen')
    .description('Create a minisign key pair to sign proofpacks (KEY and KEY.pub)')
    .option('--output <key>', 'secret key file to create (the public key goes to <key>.pub)', 'omega-pr.key')
    .option('--unencrypted', 'do not encrypt the secret key (like minisign -W)')
    .option('--force', 'overwrite existing key files')
    .action(async (opts: { output: string; unencrypted?: boolean; force?: boolean }) => {
      const pub = `${opts.output}.pub`;
      for (const f of [opts.output, pub]) {
        if (!opts.force && fs.existsSync(f)) throw new UsageError(`\`${rel(f)}\` exists: refusing to overwrite a key (--force)`, 'ERR_OMEGA_KEY');
      }
      let password: string | undefined;
      if (!opts.unencrypted) {
        password = await readPassword('Password: ', true);
        if (password === undefined || password === '') {
          throw new UsageError(`a password is needed: set ${PASSWORD_ENV}, run on a terminal, or pass --unencrypted`, 'ERR_OMEGA_KEY');
        }
      }
      const k = minisignKeygen({ password, unencrypted: opts.unencrypted ?? false });
      fs.rmSync(opts.output, { force: true });
      fs.writeFileSync(opts.output, k.secretKey, { mode: 0o600, flag: 'wx' });
      fs.writeFileSync(pub, k.publicKey);
      process.stdout.write(
        `✓ Secret key: ${rel(opts.output)}${opts.unencrypted ? ' (UNENCRYPTED)' : ''} — keep it private\n` +
          `✓ Public key: ${rel(pub)}\n` +
          `✓ Key id: ${k.keyId}\n` +
          `Give auditors the public key out of band (pin it): ${k.publicKeyString}\n` +
          `They check with: omega-pr proofpack verify DIR --pubkey-string ${k.publicKeyString}\n` +
          `            or: minisign -V -P ${k.publicKeyString} -m DIR/MANIFEST.json\n`,
      );
      setExit(EXIT.PASS);
    });
};
