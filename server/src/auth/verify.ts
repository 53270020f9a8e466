import type { KeyObject } from 'node:crypto';
import {
  createRemoteJWKSet,
  decodeProtectedHeader,
  errors,
  jwtVerify,
  type JWSHeaderParameters,
  type FlattenedJWSInput,
  type JWTPayload,
} from 'jose';
import { tokenClaims, type Audience, type TokenClaims } from '@dagproc/shared/claims';
import type { AsymmetricAlgorithm, SigningAlgorithm, SigningKey } from './keys.ts';

/** Clocks of the minter, the server and an external issuer drift a little; no more than this. */
export const CLOCK_TOLERANCE_SECONDS = 10;
/** A bearer token is a few hundred bytes; anything far larger is refused before any parsing. */
export const MAX_TOKEN_LENGTH = 16_384;
/** An external issuer signs asymmetrically; a shared secret never comes from a JWKS. */
export const JWKS_ALGORITHMS: readonly AsymmetricAlgorithm[] = ['RS256', 'ES256', 'EdDSA'];

export interface VerificationKey {
  alg: SigningAlgorithm;
  key: Uint8Array | KeyObject;
  kid?: string;
  /** When set, tokens this key signed are accepted only for these subjects. */
  subjects?: readonly string[];
}

export type VerifiedClaims = TokenClaims & {
  iss: string;
  aud: string[];
  exp: number;
  iat?: number;
  nbf?: number;
};

export type VerifyResult =
  | { ok: true; claims: VerifiedClaims }
  /** `unavailable` marks a failure of the JWKS endpoint rather than of the token (a 503, not a 401). */
  | { ok: false; reason: string; unavailable?: true };

export interface Verifier {
  /** The `alg` values this verifier accepts. */
  readonly algorithms: readonly SigningAlgorithm[];
  verify(token: string, audience: Audience): Promise<VerifyResult>;
}

export interface VerifierOptions {
  issuer: string;
  keys: readonly VerificationKey[];
  jwksUrl?: URL;
  clockToleranceSeconds?: number;
  /** For tests: the verifier's idea of now. */
  now?: () => Date;
  jwksTimeoutMs?: number;
}

export function verificationKeyFor(key: SigningKey, subjects?: readonly string[]): VerificationKey {
  const base = key.kind === 'secret' ? { alg: key.alg, key: key.secret } : { alg: key.alg, key: key.publicKey, kid: key.kid };
  return subjects ? { ...base, subjects } : base;
}

class UnknownKey extends Error {}
class JwksUnavailable extends Error {}

export function createVerifier(options: VerifierOptions): Verifier {
  const { issuer, keys, jwksUrl } = options;
  const remote = jwksUrl ? createRemoteJWKSet(jwksUrl, { timeoutDuration: options.jwksTimeoutMs ?? 5000 }) : undefined;
  const algorithms = [...new Set<SigningAlgorithm>([...keys.map((k) => k.alg), ...(remote ? JWKS_ALGORITHMS : [])])];
  const clockTolerance = options.clockToleranceSeconds ?? CLOCK_TOLERANCE_SECONDS;

  /** The local key that signed this token, or none, in which case the JWKS (if any) is asked. */
  const localKeyFor = (header: JWSHeaderParameters): VerificationKey | undefined =>
    keys.find((k) => {
      if (k.alg !== header.alg) return false;
      if (k.kid === undefined || header.kid === k.kid) return true;
      // Our own asymmetric tokens always carry a kid; a kid-less one is the external issuer's.
      return header.kid === undefined && !remote;
    });

  async function verify(token: string, audience: Audience): Promise<VerifyResult> {
    if (typeof token !== 'string') return refuse('malformed token');
    if (token.length > MAX_TOKEN_LENGTH) return refuse('token is too large');
    if (token.split('.').length !== 3) return refuse('malformed token');
    let alg: unknown;
    try {
      alg = decodeProtectedHeader(token).alg;
    } catch {
      return refuse('malformed token');
    }
    if (typeof alg !== 'string') return refuse('malformed token');
    if (!(algorithms as readonly string[]).includes(alg)) return refuse(`token algorithm '${quote(alg)}' is not allowed`);

    let usedKey: VerificationKey | undefined;
    const getKey = async (header: JWSHeaderParameters, jws: FlattenedJWSInput) => {
      usedKey = localKeyFor(header);
      if (usedKey) return usedKey.key;
      if (!remote || !(JWKS_ALGORITHMS as readonly string[]).includes(header.alg ?? '')) throw new UnknownKey();
      try {
        return await remote(header, jws);
      } catch (error) {
        if (error instanceof errors.JWKSNoMatchingKey || error instanceof errors.JWKSMultipleMatchingKeys) throw error;
        throw new JwksUnavailable();
      }
    };

    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, getKey, {
        algorithms,
        issuer,
        audience,
        clockTolerance,
        requiredClaims: ['exp'],
        currentDate: options.now?.(),
      }));
    } catch (error) {
      return describeFailure(error, { alg, audience, issuer, kid: safeKid(token) });
    }

    if (usedKey?.subjects && !usedKey.subjects.includes(String(payload.sub))) {
      return refuse(`token subject '${quote(payload.sub)}' may not use this signing key`);
    }
    const parsed = tokenClaims.safeParse(payload);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      return refuse(`token claim '${issue.path.join('.') || 'payload'}' is invalid: ${issue.message}`);
    }
    const aud = typeof payload.aud === 'string' ? [payload.aud] : (payload.aud ?? []);
    const claims: VerifiedClaims = { ...parsed.data, iss: payload.iss!, aud, exp: payload.exp! };
    if (payload.iat !== undefined) claims.iat = payload.iat;
    if (payload.nbf !== undefined) claims.nbf = payload.nbf;
    return { ok: true, claims };
  }

  return { algorithms, verify };
}

function describeFailure(
  error: unknown,
  context: { alg: string; audience: Audience; issuer: string; kid: string | undefined },
): VerifyResult {
  if (error instanceof JwksUnavailable) return { ok: false, reason: 'the JWKS of the token issuer could not be fetched', unavailable: true };
  if (error instanceof UnknownKey) {
    return refuse(context.kid === undefined ? 'no key is configured for this token' : `token key id '${quote(context.kid)}' is not known`);
  }
  if (error instanceof errors.JWTExpired) return refuse('token expired');
  if (error instanceof errors.JWTClaimValidationFailed) {
    const { claim, reason, payload } = error;
    if (reason === 'missing') return refuse(`token has no ${claim}`);
    if (reason === 'invalid') return refuse(`token ${claim} is not a number`);
    if (claim === 'nbf') return refuse('token not yet valid (nbf)');
    if (claim === 'aud') return refuse(`token audience does not include ${context.audience}`);
    if (claim === 'iss') return refuse(`token issuer '${quote(payload.iss)}' is not '${context.issuer}'`);
    if (claim === 'iat') return refuse('token issued in the future (iat)');
    return refuse(`token claim '${claim}' is not acceptable`);
  }
  if (error instanceof errors.JOSEAlgNotAllowed) return refuse(`token algorithm '${quote(context.alg)}' is not allowed`);
  if (error instanceof errors.JWSSignatureVerificationFailed) return refuse('token signature does not verify');
  if (error instanceof errors.JWKSNoMatchingKey) {
    return refuse(context.kid === undefined ? 'no JWKS key matches the token' : `token key id '${quote(context.kid)}' is not in the JWKS`);
  }
  if (error instanceof errors.JWKSMultipleMatchingKeys) return refuse('token has no kid and several JWKS keys match it');
  if (error instanceof errors.JWSInvalid || error instanceof errors.JWTInvalid) return refuse('malformed token');
  return refuse('token could not be verified');
}

function refuse(reason: string): VerifyResult {
  return { ok: false, reason };
}

function safeKid(token: string): string | undefined {
  try {
    const kid = decodeProtectedHeader(token).kid;
    return typeof kid === 'string' ? kid : undefined;
  } catch {
    return undefined;
  }
}

/** Token fields are the caller's text and end up in a 401 body and in logs: keep them short and printable. */
function quote(value: unknown): string {
  const text = typeof value === 'string' ? value : JSON.stringify(value) ?? String(value);
  const printable = text.replace(/[^\x20-\x7e]/g, '?');
  return printable.length > 64 ? `${printable.slice(0, 61)}...` : printable;
}

/**
 * A token's `bundles` claim limits it to those bundles; a per-file token is limited to its own
 * `bundle`. A token with neither may touch every bundle.
 */
export function bundleAllowed(claims: Pick<TokenClaims, 'bundles' | 'bundle'>, bundleName: string): boolean {
  if (claims.bundles) return claims.bundles.includes(bundleName);
  if (claims.bundle !== undefined) return claims.bundle === bundleName;
  return true;
}

/** The names (each once, in first-seen order) the token may not touch, for a 403 that names them. */
export function forbiddenBundles(claims: Pick<TokenClaims, 'bundles' | 'bundle'>, names: Iterable<string>): string[] {
  return [...new Set(names)].filter((name) => !bundleAllowed(claims, name));
}
