import { X509Certificate, createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { ConfigError } from '../config/errors';

/**
 * Reading the facade's file settings at start-up: every problem (missing,
 * unreadable, not the right kind of PEM) is a ConfigError naming the setting,
 * so the CLI exits 2 with one line instead of an OpenSSL or errno message.
 */

/** A file's text; `setting` is named in the error. */
export function readSettingFile(file: string, setting: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(setting, `cannot read ${file}: ${describeFsError(err)}`);
  }
}

/** The EC P-256 private key signing facade tokens (ES256). */
export function readSigningKey(file: string, setting: string): KeyObject {
  const pem = readSettingFile(file, setting);
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch {
    throw new ConfigError(setting, `${file} holds no PEM private key (generate one with: openssl ecparam -name prime256v1 -genkey -noout | openssl pkcs8 -topk8 -nocrypt)`);
  }
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    const kind = key.asymmetricKeyType === 'ec' ? `an EC ${key.asymmetricKeyDetails?.namedCurve ?? 'unknown-curve'} key` : `an ${(key.asymmetricKeyType ?? 'unknown').toUpperCase()} key`;
    throw new ConfigError(setting, `${file} holds ${kind}; facade tokens are ES256 and need an EC P-256 (prime256v1) key`);
  }
  return key;
}

/** A `token.keys` entry's key: an EC P-256 private key (may sign) or, when it has no `PRIVATE KEY` block, a public key (verifies only). */
export function readTokenKey(file: string, setting: string): KeyObject {
  const pem = readSettingFile(file, setting);
  if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(pem)) return readSigningKey(file, setting);
  let key: KeyObject;
  try {
    key = createPublicKey(pem);
  } catch {
    throw new ConfigError(setting, `${file} holds no PEM private or public key`);
  }
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new ConfigError(setting, `${file} holds a ${key.asymmetricKeyType ?? 'unknown'} public key; facade tokens are ES256 and need EC P-256 (prime256v1) keys`);
  }
  return key;
}

/** PEM certificates (at least one), for `caFile`-like settings. */
export function readCertificates(file: string, setting: string): string {
  const pem = readSettingFile(file, setting);
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) throw new ConfigError(setting, `${file} holds no PEM certificate`);
  for (const [i, block] of blocks.entries()) {
    try {
      new X509Certificate(block);
    } catch {
      throw new ConfigError(setting, `${file}: certificate ${i + 1} cannot be parsed`);
    }
  }
  return pem;
}

/** The listener's certificate and key, checked to be a certificate, a private key, and a pair. */
export function readTls(tls: { cert: string; key: string }, baseDir: string): { cert: string; key: string } {
  const certFile = resolve(baseDir, tls.cert);
  const keyFile = resolve(baseDir, tls.key);
  const cert = readCertificates(certFile, 'registry.tls.cert');
  const key = readSettingFile(keyFile, 'registry.tls.key');
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(key);
  } catch {
    throw new ConfigError('registry.tls.key', `${keyFile} holds no (unencrypted) PEM private key`);
  }
  const leaf = new X509Certificate(cert.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/)![0]);
  if (!leaf.checkPrivateKey(privateKey)) throw new ConfigError('registry.tls.key', `${keyFile} is not the key of the certificate in registry.tls.cert`);
  return { cert, key };
}

function describeFsError(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EACCES') return 'permission denied';
  if (code === 'EISDIR') return 'is a directory';
  return code ?? (err as Error).message;
}
