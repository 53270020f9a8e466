import { z } from 'zod';

/** Token audiences, one per mounted app (DESIGN.md, "HTTP surface"). */
export const AUDIENCE = {
  dagProcessing: 'dagproc:dag-processing',
  execution: 'dagproc:execution',
  api: 'dagproc:api',
} as const;
export type Audience = (typeof AUDIENCE)[keyof typeof AUDIENCE];

export const SUBJECT = {
  dagProcessor: 'dag-processor',
  dagFile: 'dag-file',
} as const;

export const SCOPE = {
  dagProcessor: 'dag-processor',
  api: 'api',
} as const;

export const DEFAULT_ISSUER = 'dagproc';

/** Signing algorithms the server accepts; `none` and anything symmetric-but-weak never are. */
export const ALLOWED_ALGORITHMS = ['HS512', 'RS256', 'ES256', 'EdDSA'] as const;

/**
 * The claims dagproc reads from a verified token. Standard claims (`exp`, `nbf`, `iss`, `aud`)
 * are checked by jose before this schema sees the payload.
 */
export const tokenClaims = z.object({
  sub: z.string().min(1).refine((v) => !v.includes('\u0000'), 'must not contain NUL'),
  scope: z.string().optional(),
  /** When present, the token may read and write only these bundles. */
  bundles: z.array(z.string()).optional(),
  /** Per-file tokens only. */
  bundle: z.string().optional(),
  file: z.string().optional(),
  jti: z.string().optional(),
});
export type TokenClaims = z.infer<typeof tokenClaims>;
