import { z } from 'zod';

/** GET /execution/variables/{key} */
export const variableResponse = z.object({ key: z.string(), value: z.string() });
export type VariableResponse = z.infer<typeof variableResponse>;

/** GET /execution/connections/{connId} */
export const connectionResponse = z.object({
  connId: z.string(),
  connType: z.string(),
  host: z.string().nullable(),
  port: z.number().nullable(),
  login: z.string().nullable(),
  password: z.string().nullable(),
  schema: z.string().nullable(),
  extra: z.record(z.string(), z.unknown()).nullable(),
});
export type ConnectionResponse = z.infer<typeof connectionResponse>;

export const variableKey = z.string().min(1).max(250).regex(/^[A-Za-z0-9_.-]+$/, 'a variable key is letters, digits, ".", "_" or "-"');
export const connId = variableKey;

/**
 * `reason` of the Execution API's 404 for an unknown key. It tells "no such Variable" (the SDK's
 * default applies) from a 404 of a server with no Execution API mounted (an error, never a
 * silent default).
 */
export const EXECUTION_NOT_FOUND = 'not_found';
