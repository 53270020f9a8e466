import { parseArgs, type ParseArgsConfig } from 'node:util';
import { z } from 'zod';
import { ConfigError, parseEnv, urlString } from '@dagproc/shared/config/env';
import { readTokenFile, TokenFileError } from '@dagproc/shared/token-file';

/**
 * What the operator commands (`connections`, `variables`, `policy`) share: they act through the
 * public API (/api/v2) with an API token read from DAGPROC_API_TOKEN_PATH
 * (`pnpm dagproc provision-token --for api --out FILE`), so they need no database access and
 * every change is validated and audited by the server like any other client's.
 *
 * Exit codes: 0 done, 1 not found or refused or the server failed, 2 bad usage or bad input.
 */

export interface CliIo {
  out(text: string): void;
  err(text: string): void;
  /** All of standard input, for `--password-stdin`. */
  readStdin(): Promise<string>;
}

export const processIo: CliIo = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
  async readStdin() {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  },
};

/** A failure to report and the exit code it gets. */
export class CliFailure extends Error {
  constructor(
    message: string,
    readonly exitCode: 1 | 2,
  ) {
    super(message);
  }
}

export const usageError = (message: string) => new CliFailure(message, 2);

const env = z.object({
  DAGPROC_API_URL: urlString('http://127.0.0.1:8080'),
  DAGPROC_API_TOKEN_PATH: z.string({ message: 'required: a file holding an API token (pnpm dagproc provision-token --for api --out FILE)' }),
});

export interface ApiReply {
  status: number;
  body: any;
}

export class ApiClient {
  constructor(
    readonly baseUrl: string,
    private readonly token: string,
  ) {}

  static async fromEnv(rawEnv: Record<string, string | undefined>): Promise<ApiClient> {
    const config = parseEnv(env, rawEnv);
    return new ApiClient(config.DAGPROC_API_URL, await readTokenFile(config.DAGPROC_API_TOKEN_PATH));
  }

  async call(method: string, path: string, body?: unknown): Promise<ApiReply> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.token}`, accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    try {
      res = await fetch(`${this.baseUrl}/api/v2${path}`, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
    } catch (error) {
      throw new CliFailure(`could not reach the API at ${this.baseUrl}: ${errorCode(error)}`, 1);
    }
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text === '' ? null : JSON.parse(text);
    } catch {
      // keep the text
    }
    return { status: res.status, body: parsed };
  }

  /** The answer when its status is one of `expected`; otherwise a failure with the server's detail. */
  async expect(method: string, path: string, expected: number[], body?: unknown): Promise<ApiReply> {
    const reply = await this.call(method, path, body);
    if (expected.includes(reply.status)) return reply;
    const detail = typeof reply.body === 'object' && reply.body && 'detail' in reply.body ? String(reply.body.detail) : String(reply.body ?? '');
    // The server's 400 is bad input the operator typed; anything else is not theirs to fix by retyping.
    throw new CliFailure(`the API answered ${reply.status}: ${detail}`, reply.status === 400 ? 2 : 1);
  }
}

/** `ECONNREFUSED` rather than fetch's "fetch failed": the first error code down the cause chain. */
function errorCode(error: unknown): string {
  for (let e: unknown = error, depth = 0; e && depth < 6; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    e = e instanceof AggregateError && e.errors.length ? e.errors[0] : (e as { cause?: unknown }).cause;
  }
  return error instanceof Error ? error.message : String(error);
}

/** node:util parseArgs, with its complaints as usage errors. */
export function parseFlags<T extends NonNullable<ParseArgsConfig['options']>>(argv: string[], options: T) {
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (error) {
    throw usageError((error as Error).message);
  }
}

/** Rows as aligned text columns, a header first. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd() + '\n';
  return line(header) + rows.map(line).join('');
}

/** Every page of a collection: the API answers at most 1000 rows a call. */
export async function allPages<T>(client: ApiClient, path: string, field: string): Promise<T[]> {
  const items: T[] = [];
  for (let offset = 0; ; ) {
    const { body } = await client.expect('GET', `${path}?limit=1000&offset=${offset}`, [200]);
    const page = body[field] as T[];
    items.push(...page);
    offset += page.length;
    if (page.length === 0 || offset >= body.totalEntries) return items;
  }
}

/**
 * Runs an operator command: its failures become a line on stderr and an exit code, so a
 * script can tell "not found" (1) from "you typed it wrong" (2).
 */
export async function runOperator(io: CliIo, usage: string, body: () => Promise<void>): Promise<number> {
  try {
    await body();
    return 0;
  } catch (error) {
    if (error instanceof CliFailure) {
      io.err(`dagproc: ${error.message}\n${error.exitCode === 2 ? `\n${usage}` : ''}`);
      return error.exitCode;
    }
    if (error instanceof ConfigError || error instanceof TokenFileError) {
      io.err(`dagproc: ${error.message}\n`);
      return 2;
    }
    throw error;
  }
}
