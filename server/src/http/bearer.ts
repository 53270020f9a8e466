import type { MiddlewareHandler } from 'hono';
import type { Audience, TokenClaims } from '@dagproc/shared';
import type { ServerDeps } from '../deps.ts';

export type BearerEnv = { Variables: { claims: TokenClaims } };

/** Reads "Authorization: Bearer <token>", or null with what was wrong. */
export function bearerToken(header: string | undefined | null): { token: string } | { error: string } {
  if (!header) return { error: 'missing bearer token (Authorization: Bearer <token>)' };
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!match) return { error: 'the Authorization header is not "Bearer <token>"' };
  return { token: match[1]! };
}

/** REST apps' auth: 401 with the reason unless the token verifies for this app's audience. */
export function requireBearer(deps: ServerDeps, audience: Audience): MiddlewareHandler<BearerEnv> {
  return async function verifyBearer(c, next) {
    const parsed = bearerToken(c.req.header('authorization'));
    if ('error' in parsed) return c.json({ detail: parsed.error }, 401, { 'www-authenticate': 'Bearer' });
    const result = await deps.verifier.verify(parsed.token, audience);
    if (!result.ok && result.unavailable) return c.json({ detail: result.reason }, 503);
    if (!result.ok) return c.json({ detail: result.reason }, 401, { 'www-authenticate': 'Bearer error="invalid_token"' });
    c.set('claims', result.claims);
    await next();
  };
}
