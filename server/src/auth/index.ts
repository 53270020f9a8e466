import type { JSONWebKeySet } from 'jose';
import { SUBJECT } from '@dagproc/shared/claims';
import { ConfigError } from '@dagproc/shared/config/env';
import type { AuthConfig } from './config.ts';
import { generateEphemeralKey, loadSigningKey, type SigningKey } from './keys.ts';
import { createSigner, type Signer } from './mint.ts';
import { createVerifier, verificationKeyFor, type VerificationKey, type Verifier } from './verify.ts';

export * from './config.ts';
export * from './keys.ts';
export * from './mint.ts';
export * from './verify.ts';

export interface Auth {
  verifier: Verifier;
  signer: Signer;
  /** Served at `/.well-known/jwks.json`; null when the only key is a shared secret. */
  jwks: JSONWebKeySet | null;
  /** True when the signer holds an in-memory key that mints per-file tokens only. */
  ephemeral: boolean;
}

export interface AuthOptions {
  clockToleranceSeconds?: number;
  jwksTimeoutMs?: number;
  now?: () => Date;
}

export async function createAuth(config: AuthConfig, options: AuthOptions = {}): Promise<Auth> {
  const configured = await loadSigningKey(config);
  if (!configured && !config.jwksUrl) {
    throw new ConfigError('set DAGPROC_JWT_SECRET, DAGPROC_JWT_PRIVATE_KEY_PATH or DAGPROC_JWT_JWKS_URL: the server has no way to check tokens');
  }
  // A server that trusts an external issuer has no key of its own, yet must hand parse
  // isolates per-file tokens. It makes a key pair that lives only in this process and mints
  // nothing but per-file tokens with it. The catch: replicas behind one load balancer do not
  // verify each other's per-file tokens, so a parse isolate must talk to the replica that
  // minted its token (or the operator gives the servers a shared key).
  const signingKey: SigningKey = configured ?? (await generateEphemeralKey());
  const ephemeral = configured === null;
  const fileOnly = ephemeral ? [SUBJECT.dagFile] : undefined;

  const keys: VerificationKey[] = [verificationKeyFor(signingKey, fileOnly)];
  const verifier = createVerifier({
    issuer: config.issuer,
    keys,
    ...(config.jwksUrl ? { jwksUrl: config.jwksUrl } : {}),
    ...options,
  });
  const signer = createSigner(signingKey, {
    issuer: config.issuer,
    ...(fileOnly ? { subjects: fileOnly } : {}),
    ...(options.now ? { now: options.now } : {}),
  });
  const jwks = signingKey.kind === 'asymmetric' ? { keys: [signingKey.publicJwk] } : null;
  return { verifier, signer, jwks, ephemeral };
}
