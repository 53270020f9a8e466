import { z } from 'zod';
import type { CallbackContext } from './types.ts';

/**
 * Messages on the pipe between the processor (parent) and a parse process (child). The child
 * runs user code, so everything it sends is validated before the parent acts on it; what the
 * parent sends is trusted by the child. The child imports only the types from this file.
 */

export interface JobMessage {
  t: 'job';
  job: number;
  kind: 'parse' | 'callback';
  bundleRoot: string;
  relativeFileloc: string;
  apiUrl: string;
  callback: { dagId: string; callbackType: 'failure' | 'success'; context: CallbackContext } | null;
  /** The job's own file, loaded before the job is sent: one round trip less for every file. */
  root: ModulePayload;
}

/** A module the child asked for: `code` is null when this job was already sent that module. */
export type ModuleReply =
  | { t: 'module'; job: number; req: number; ok: true; key: string; identifier: string; url: string; code: string | null }
  | { t: 'module'; job: number; req: number; ok: false; stack: string };

export type TokenReply =
  | { t: 'token'; job: number; req: number; ok: true; token: string }
  | { t: 'token'; job: number; req: number; ok: false; error: string };

/** A reply without its addressing: what the parent computes before it knows where it goes. */
export type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
export type ModulePayload = DistributiveOmit<ModuleReply, 't' | 'job' | 'req'>;
export type TokenPayload = DistributiveOmit<TokenReply, 't' | 'job' | 'req'>;

export type ParentMessage = JobMessage | ModuleReply | TokenReply;

const jobRef = { job: z.number().int().nonnegative(), req: z.number().int().nonnegative() };

export const childMessage = z.discriminatedUnion('t', [
  z.strictObject({ t: z.literal('ready') }),
  z.strictObject({
    t: z.literal('load'),
    ...jobRef,
    specifier: z.string().max(4096),
    /** The key of the importing module, or null for the job's own file. */
    referrer: z.string().max(4096).nullable(),
  }),
  z.strictObject({ t: z.literal('token'), ...jobRef }),
  z.strictObject({
    t: z.literal('log'),
    job: jobRef.job,
    level: z.enum(['debug', 'info', 'warn', 'error']),
    text: z.string().max(64 * 1024),
  }),
  z.strictObject({
    t: z.literal('done'),
    job: jobRef.job,
    outcome: z.discriminatedUnion('ok', [
      z.strictObject({ ok: z.literal(true), dags: z.array(z.unknown()).nullable() }),
      z.strictObject({
        ok: z.literal(false),
        stack: z.string(),
        /** True when the parent wrote this stack itself (its positions are already authored ones). */
        authored: z.boolean(),
      }),
    ]),
    rss: z.number().nonnegative(),
    /**
     * What the file's code reached besides modules the parent served: Variable/Connection reads
     * (the parent also sees the token request) and `node:` builtins (only the child sees those).
     */
    usage: z.strictObject({
      variableOrConnectionReads: z.number().int().nonnegative(),
      builtins: z.array(z.string().max(256)).max(1000),
    }),
    /** Why the process should not take another job (work the file left pending), or null. */
    leftovers: z.string().max(4096).nullable(),
  }),
  /** Sent between jobs when something a finished file left behind fired. */
  z.strictObject({ t: z.literal('dirty'), reason: z.string().max(4096) }),
]);
export type ChildMessage = z.infer<typeof childMessage>;
