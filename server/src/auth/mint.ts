import { randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import { AUDIENCE, SCOPE, SUBJECT, type Audience } from '@dagproc/shared/claims';
import type { z } from 'zod';
import { bundleName, relativeFileloc } from '@dagproc/shared/names';
import type { SigningAlgorithm, SigningKey } from './keys.ts';

export interface MintRequest {
  subject: string;
  audience: readonly Audience[];
  lifetimeSeconds: number;
  scope?: string;
  bundles?: readonly string[];
  bundle?: string;
  file?: string;
  /** Further claims; the registered ones (iss, sub, aud, exp, nbf, iat, jti) cannot be set here. */
  extra?: Record<string, unknown>;
}

export interface MintedToken {
  token: string;
  expiresAt: Date;
  jti: string;
}

export interface Signer {
  readonly algorithm: SigningAlgorithm;
  readonly issuer: string;
  mint(request: MintRequest): Promise<MintedToken>;
  /** The processor's token: its tRPC router and the Execution API, optionally limited to some bundles. */
  mintProcessorToken(options: { lifetimeSeconds: number; bundles?: readonly string[] }): Promise<MintedToken>;
  /** What a parse isolate gets: the Execution API only, on behalf of one file. */
  mintFileToken(options: { bundle: string; file: string; lifetimeSeconds: number }): Promise<MintedToken>;
  /** A token for the public REST API and the dashboard. */
  mintApiToken(options: { subject: string; lifetimeSeconds: number }): Promise<MintedToken>;
}

export interface SignerOptions {
  issuer: string;
  /** When set, this signer refuses to mint for any other subject. */
  subjects?: readonly string[];
  /** For tests: the signer's idea of now. */
  now?: () => Date;
}

const REGISTERED_CLAIMS = new Set(['iss', 'sub', 'aud', 'exp', 'nbf', 'iat', 'jti']);

export function createSigner(key: SigningKey, options: SignerOptions): Signer {
  const signingKey = key.kind === 'secret' ? key.secret : key.privateKey;
  const header = key.kind === 'secret' ? { alg: key.alg, typ: 'JWT' } : { alg: key.alg, typ: 'JWT', kid: key.kid };

  async function mint(request: MintRequest): Promise<MintedToken> {
    checkRequest(request, options.subjects);
    const iat = Math.floor((options.now?.() ?? new Date()).getTime() / 1000);
    const exp = iat + request.lifetimeSeconds;
    const jti = randomUUID();
    const claims: Record<string, unknown> = { ...request.extra };
    if (request.scope !== undefined) claims.scope = request.scope;
    if (request.bundles !== undefined) claims.bundles = [...request.bundles];
    if (request.bundle !== undefined) claims.bundle = request.bundle;
    if (request.file !== undefined) claims.file = request.file;
    const token = await new SignJWT(claims)
      .setProtectedHeader(header)
      .setIssuer(options.issuer)
      .setSubject(request.subject)
      .setAudience([...request.audience])
      .setIssuedAt(iat)
      .setNotBefore(iat)
      .setExpirationTime(exp)
      .setJti(jti)
      .sign(signingKey);
    return { token, expiresAt: new Date(exp * 1000), jti };
  }

  return {
    algorithm: key.alg,
    issuer: options.issuer,
    mint,
    mintProcessorToken: ({ lifetimeSeconds, bundles }) =>
      mint({
        subject: SUBJECT.dagProcessor,
        audience: [AUDIENCE.dagProcessing, AUDIENCE.execution],
        scope: SCOPE.dagProcessor,
        lifetimeSeconds,
        ...(bundles ? { bundles } : {}),
      }),
    mintFileToken: ({ bundle, file, lifetimeSeconds }) =>
      mint({ subject: SUBJECT.dagFile, audience: [AUDIENCE.execution], lifetimeSeconds, bundle, file }),
    mintApiToken: ({ subject, lifetimeSeconds }) =>
      mint({ subject, audience: [AUDIENCE.api], scope: SCOPE.api, lifetimeSeconds }),
  };
}

function checkRequest(request: MintRequest, subjects: readonly string[] | undefined): void {
  if (request.subject === '') throw new Error('a token needs a subject');
  if (subjects && !subjects.includes(request.subject)) {
    throw new Error(`this signing key mints only for ${subjects.join(', ')}, not '${request.subject}'`);
  }
  if (request.audience.length === 0) throw new Error('a token needs at least one audience');
  if (!Number.isSafeInteger(request.lifetimeSeconds) || request.lifetimeSeconds < 1) {
    throw new Error(`a token lifetime is a whole number of seconds from 1 (got ${request.lifetimeSeconds})`);
  }
  for (const name of request.bundles ?? []) check(bundleName, name, 'bundle name');
  if (request.bundle !== undefined) check(bundleName, request.bundle, 'bundle name');
  if (request.file !== undefined) check(relativeFileloc, request.file, 'file');
  const reserved = Object.keys(request.extra ?? {}).filter((claim) => REGISTERED_CLAIMS.has(claim));
  if (reserved.length > 0) throw new Error(`extra claims may not set ${reserved.join(', ')}`);
}

function check(schema: z.ZodType<string>, value: string, what: string): void {
  const result = schema.safeParse(value);
  if (!result.success) throw new Error(`${what} ${JSON.stringify(value)}: ${result.error.issues[0]!.message}`);
}
