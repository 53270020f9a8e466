import type { IncomingMessage, RequestOptions, ClientRequest } from 'node:http';

const MAX_RESPONSE_BYTES = 10 * 1024 * 1024;

export type ReadKind = 'variable' | 'connection';

/**
 * One Execution API read with the file's token: the value as JSON text, or undefined on 404.
 * node:http without keep-alive rather than fetch: a pooled keep-alive socket would outlive the
 * job and look like work the file left behind.
 */
export async function readExecutionApi(apiUrl: string, token: string, kind: ReadKind, key: string): Promise<string | undefined> {
  const what = kind === 'variable' ? `Variable '${key}'` : `Connection '${key}'`;
  const path = kind === 'variable' ? '/execution/variables/' : '/execution/connections/';
  const url = new URL(apiUrl.replace(/\/+$/, '') + path + encodeURIComponent(key));
  const { status, body } = await get(url, token).catch((error: NodeJS.ErrnoException) => {
    throw new Error(`${what}: could not reach the API at ${url.origin} (${error.code ?? error.message})`);
  });
  if (status === 404) {
    if (isNotFoundAnswer(body)) return undefined;
    throw new Error(`${what}: the API at ${url.origin} answered 404 without knowing of the key: does it serve the Execution API (DAGPROC_API_APPS must include execution)?`);
  }
  if (status < 200 || status > 299) {
    const detail = body.trim().slice(0, 300);
    throw new Error(`${what}: the API answered ${status}${detail ? `: ${detail}` : ''}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    throw new Error(`${what}: the API answered ${status} with a body that is not JSON`);
  }
  if (kind === 'variable') {
    const value = (parsed as { value?: unknown } | null)?.value;
    if (typeof value !== 'string') throw new Error(`${what}: the API's answer has no string "value"`);
    return JSON.stringify(value);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new Error(`${what}: the API's answer is not an object`);
  }
  return JSON.stringify(parsed);
}

type Get = (url: URL, options: RequestOptions, onResponse: (response: IncomingMessage) => void) => ClientRequest;

/** Loaded on first use: node:https pulls in TLS and crypto, tens of ms of every process's start-up. */
async function client(protocol: string): Promise<Get> {
  if (protocol === 'http:') return (await import('node:http')).get;
  if (protocol === 'https:') return (await import('node:https')).get;
  throw new Error(`unsupported API URL protocol ${protocol}`);
}

async function get(url: URL, token: string): Promise<{ status: number; body: string }> {
  const httpGet = await client(url.protocol);
  return new Promise((resolve, reject) => {
    const request = httpGet(
      url,
      { agent: false, headers: { authorization: `Bearer ${token}`, accept: 'application/json' } },
      (response) => {
        const chunks: Buffer[] = [];
        let size = 0;
        response.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_RESPONSE_BYTES) {
            request.destroy(new Error(`response larger than ${MAX_RESPONSE_BYTES} bytes`));
            return;
          }
          chunks.push(chunk);
        });
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        response.on('error', reject);
      },
    );
    request.on('error', reject);
  });
}

/** The Execution API's own "no such key" (its body's `reason`, EXECUTION_NOT_FOUND in shared/schemas/execution.ts). */
function isNotFoundAnswer(body: string): boolean {
  try {
    return (JSON.parse(body) as { reason?: unknown } | null)?.reason === 'not_found';
  } catch {
    return false;
  }
}
