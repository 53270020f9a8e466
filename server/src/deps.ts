import type { Audience, TokenClaims } from '@dagproc/shared';
import type { Logger } from '@dagproc/shared/log';
import type { Database } from './db/client.ts';
import type { ServerMetrics } from './metrics.ts';
import type { SecretCipher } from './secrets/cipher.ts';

export type VerifyResult = { ok: true; claims: TokenClaims } | { ok: false; reason: string; unavailable?: true };

export interface TokenVerifier {
  verify(token: string, audience: Audience): Promise<VerifyResult>;
}

export interface FileTokenMinter {
  mintFileToken(opts: { bundle: string; file: string; lifetimeSeconds: number }): Promise<{ token: string; expiresAt: Date }>;
}

/** What request handlers need; built once at start (server/src/main.ts) or by a test. */
export interface ServerDeps {
  database: Database;
  verifier: TokenVerifier;
  fileTokens: FileTokenMinter;
  /** The public JWK set, when the signing key is asymmetric. */
  jwks: { keys: object[] } | null;
  logger: Logger;
  /** Seals and opens Variable values and Connection secrets at rest. */
  secrets: SecretCipher;
  limits: { maxBodyBytes: number; maxBatchCalls: number };
  metrics: ServerMetrics;
}
