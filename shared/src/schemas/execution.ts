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
