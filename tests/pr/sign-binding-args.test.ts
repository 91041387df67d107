/**
 * The argument rules of the signing and calibration bindings, now the core's (issue 9 item 3):
 * a new key's password rule, the pinned key's default name, calibration JSON text with a BOM or
 * not JSON at all. Same codes and messages as before the move.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  Calibration,
  DEFAULT_CALIBRATION_PATH,
  minisignKeyIsEncrypted,
  minisignKeygen,
  minisignPublicKeyId,
  parseCalibrationJson,
  verifyProofpack,
  verifyProofpackAsync,
} from '../../src/index';
import { expectCode } from './errors';

describe('minisignKeygen', () => {
  it('needs a password unless unencrypted', () => {
    expectCode(() => minisignKeygen({}), 'ERR_OMEGA_INVALID_ARGUMENT', 'invalid argument `password`: is required unless unencrypted');
    expectCode(() => minisignKeygen({ password: '' }), 'ERR_OMEGA_INVALID_ARGUMENT', 'is required unless unencrypted');
    expectCode(() => minisignKeygen({ unencrypted: false }), 'ERR_OMEGA_INVALID_ARGUMENT', '`password`');
  });

  it('an unencrypted key pair: the four texts agree', () => {
    const k = minisignKeygen({ unencrypted: true });
    expect(Object.keys(k).sort()).toEqual(['keyId', 'publicKey', 'publicKeyString', 'secretKey']);
    expect(k.keyId).toMatch(/^[0-9A-F]{16}$/);
    expect(k.publicKey).toBe(`untrusted comment: minisign public key ${k.keyId}\n${k.publicKeyString}\n`);
    expect(minisignPublicKeyId(k.publicKeyString, 'k')).toBe(k.keyId);
    expect(minisignKeyIsEncrypted(k.secretKey, 'k')).toBe(false);
  });
});

describe('verifyProofpack: the pinned key', () => {
  const missing = path.join(os.tmpdir(), 'omega-no-such-pack');

  it('is named `pubkey` in errors unless named', async () => {
    expectCode(() => verifyProofpack(missing, { pubkey: 'garbage' }), 'ERR_OMEGA_KEY', 'key `pubkey`: malformed');
    expectCode(() => verifyProofpack(missing, { pubkey: 'garbage', pubkeyName: 'ops.pub' }), 'ERR_OMEGA_KEY', 'key `ops.pub`: malformed');
    expectCode(() => verifyProofpackAsync(missing, { pubkey: 'garbage' }), 'ERR_OMEGA_KEY', 'key `pubkey`');
  });
});

describe('calibration JSON text', () => {
  const text = fs.readFileSync(DEFAULT_CALIBRATION_PATH, 'utf8');

  it('a leading BOM is not part of the document', () => {
    const doc: unknown = JSON.parse(text);
    expect(parseCalibrationJson('\ufeff' + text, 'c.json')).toEqual(doc);
    expect(Calibration.fromJson('\ufeff' + text, 'c.json').document).toEqual(doc);
  });

  it('not JSON: ERR_OMEGA_CALIBRATION naming the file', () => {
    expectCode(() => parseCalibrationJson('{', 'c.json'), 'ERR_OMEGA_CALIBRATION', 'not valid JSON');
    expectCode(() => Calibration.fromJson('{', 'c.json'), 'ERR_OMEGA_CALIBRATION', 'c.json');
  });
});
