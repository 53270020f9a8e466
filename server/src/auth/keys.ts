import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { calculateJwkThumbprint, exportJWK, type JWK } from 'jose';

/**
 * The server's signing keys. A secret signs HS512; a PKCS#8 PEM file signs with the algorithm
 * its key type implies, so an operator never has to name the algorithm and cannot name a
 * wrong one.
 */

export type AsymmetricAlgorithm = 'RS256' | 'ES256' | 'EdDSA';
export type SigningAlgorithm = 'HS512' | AsymmetricAlgorithm;

export interface SecretKey {
  kind: 'secret';
  alg: 'HS512';
  secret: Uint8Array;
}

export interface AsymmetricKey {
  kind: 'asymmetric';
  alg: AsymmetricAlgorithm;
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** RFC 7638 thumbprint of the public JWK. */
  kid: string;
  /** What `/.well-known/jwks.json` publishes for this key. */
  publicJwk: JWK;
}

export type SigningKey = SecretKey | AsymmetricKey;

/** A private key read from `DAGPROC_JWT_PRIVATE_KEY_PATH`, its algorithm already decided. */
export interface PrivateKeyFile {
  path: string;
  privateKey: KeyObject;
  alg: AsymmetricAlgorithm;
}

/** Says what is wrong with a key file without ever quoting its contents. */
export class KeyFileError extends Error {
  override name = 'KeyFileError';
  constructor(
    readonly path: string,
    readonly reason: string,
  ) {
    super(`key file ${path}: ${reason}`);
  }
}

export const MIN_SECRET_BYTES = 32;
const MAX_KEY_FILE_BYTES = 1024 * 1024;
const MIN_RSA_BITS = 2048;

export function secretKey(secret: string | Uint8Array): SecretKey {
  const bytes = typeof secret === 'string' ? new TextEncoder().encode(secret) : secret;
  if (bytes.byteLength < MIN_SECRET_BYTES) throw new Error(`the JWT secret must be at least ${MIN_SECRET_BYTES} bytes`);
  return { kind: 'secret', alg: 'HS512', secret: bytes };
}

export function readPrivateKeyFile(path: string): PrivateKeyFile {
  let pem: string;
  try {
    if (statSync(path).size > MAX_KEY_FILE_BYTES) throw new KeyFileError(path, 'is too large to be a PEM key');
    pem = readFileSync(path, 'utf8');
  } catch (error) {
    if (error instanceof KeyFileError) throw error;
    throw new KeyFileError(path, `cannot be read (${describeFsError(error)})`);
  }
  const privateKey = parsePkcs8Pem(path, pem);
  const alg = algorithmForKey(path, privateKey);
  checkKeyPair(path, privateKey);
  return { path, privateKey, alg };
}

/**
 * A damaged key can still decode (DER does not notice flipped bytes inside an integer) and would
 * sign tokens nobody can verify; one probe signature at start finds that out.
 */
function checkKeyPair(path: string, privateKey: KeyObject): void {
  const probe = Buffer.from('dagproc key check');
  const digest = privateKey.asymmetricKeyType === 'ed25519' ? null : 'sha256';
  let verified = false;
  try {
    verified = verify(digest, probe, createPublicKey(privateKey), sign(digest, probe, privateKey));
  } catch {
    verified = false;
  }
  if (!verified) throw new KeyFileError(path, 'holds a damaged key: a signature made with it does not verify');
}

function parsePkcs8Pem(path: string, pem: string): KeyObject {
  if (pem.includes('-----BEGIN ENCRYPTED PRIVATE KEY-----')) {
    throw new KeyFileError(path, 'holds an encrypted key; dagproc needs an unencrypted PKCS#8 PEM key');
  }
  if (/-----BEGIN (RSA|EC) PRIVATE KEY-----/.test(pem)) {
    throw new KeyFileError(path, 'is not PKCS#8; convert it with `openssl pkcs8 -topk8 -nocrypt -in KEY -out KEY.pk8`');
  }
  if (/-----BEGIN (PUBLIC KEY|CERTIFICATE)-----/.test(pem) && !pem.includes('-----BEGIN PRIVATE KEY-----')) {
    throw new KeyFileError(path, 'holds a public key or certificate, not a private key');
  }
  if (!pem.includes('-----BEGIN PRIVATE KEY-----')) {
    throw new KeyFileError(path, 'is not a PKCS#8 PEM private key (-----BEGIN PRIVATE KEY-----)');
  }
  try {
    return createPrivateKey({ key: pem, format: 'pem' });
  } catch {
    // OpenSSL's message says nothing useful and must not be echoed next to key bytes.
    throw new KeyFileError(path, 'holds a PKCS#8 PEM block that does not decode as a private key');
  }
}

function algorithmForKey(path: string, key: KeyObject): AsymmetricAlgorithm {
  const type = key.asymmetricKeyType;
  if (type === 'rsa') {
    const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
    if (bits < MIN_RSA_BITS) throw new KeyFileError(path, `holds a ${bits}-bit RSA key; RS256 needs at least ${MIN_RSA_BITS} bits`);
    return 'RS256';
  }
  if (type === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    if (curve !== 'prime256v1') throw new KeyFileError(path, `holds an EC key on ${curve ?? 'an unknown curve'}; only P-256 (ES256) is supported`);
    return 'ES256';
  }
  if (type === 'ed25519') return 'EdDSA';
  throw new KeyFileError(path, `holds a ${type ?? 'unknown'} key; use RSA, EC P-256 or Ed25519`);
}

export async function asymmetricKey(privateKey: KeyObject, alg: AsymmetricAlgorithm): Promise<AsymmetricKey> {
  const publicKey = createPublicKey(privateKey);
  const jwk = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(jwk, 'sha256');
  return { kind: 'asymmetric', alg, privateKey, publicKey, kid, publicJwk: { ...jwk, kid, alg, use: 'sig' } };
}

/**
 * A key that lives only as long as this process. A server that trusts an external issuer has
 * no key of its own, yet still mints per-file tokens.
 */
export async function generateEphemeralKey(): Promise<AsymmetricKey> {
  const { privateKey } = generateKeyPairSync('ed25519');
  return asymmetricKey(privateKey, 'EdDSA');
}

export async function loadSigningKey(source: { secret?: Uint8Array; privateKey?: PrivateKeyFile }): Promise<SigningKey | null> {
  if (source.privateKey) return asymmetricKey(source.privateKey.privateKey, source.privateKey.alg);
  if (source.secret) return secretKey(source.secret);
  return null;
}

function describeFsError(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | null)?.code;
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  if (code === 'EISDIR') return 'it is a directory';
  return code ?? 'unknown error';
}
