/** Helpers for the isolate's tests: real temp bundles, a real Execution API stand-in. */
import { once } from 'node:events';
import { mkdir, mkdtemp, realpath, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { IsolatePoolOptions, ParseTask } from './types.ts';

export interface TempBundle {
  name: string;
  /** Real path, as the pool requires. */
  root: string;
  write(relativePath: string, content: string): Promise<void>;
  remove(): Promise<void>;
}

export async function tempBundle(name: string, files: Record<string, string> = {}): Promise<TempBundle> {
  const root = await realpath(await mkdtemp(path.join(os.tmpdir(), `dagproc-bundle-${name}-`)));
  const write = async (relativePath: string, content: string) => {
    const full = path.join(root, relativePath);
    await mkdir(path.dirname(full), { recursive: true });
    await writeFile(full, content);
  };
  for (const [relativePath, content] of Object.entries(files)) await write(relativePath, content);
  return { name, root, write, remove: () => rm(root, { recursive: true, force: true }) };
}

export function testPoolOptions(overrides: Partial<IsolatePoolOptions> = {}): IsolatePoolOptions {
  return {
    mode: 'pooled',
    size: 2,
    timeoutMs: 2000,
    maxFilesPerProcess: 50,
    memoryLimitMb: 64,
    apiUrl: 'http://127.0.0.1:9',
    ...overrides,
  };
}

export const noTokenExpected = (): Promise<string> => Promise.reject(new Error('this file was not expected to ask for a token'));

export function taskFor(bundle: TempBundle, relativeFileloc: string, fileToken = noTokenExpected): ParseTask {
  return { bundleName: bundle.name, bundleRoot: bundle.root, relativeFileloc, fileToken };
}

/** A DAG file whose one DAG carries `tagsExpr` (a JS expression of a string array) as its tags. */
export function dagReporting(dagId: string, tagsExpr: string, prelude = ''): string {
  return `import { dag, task } from '@dagproc/sdk';\n${prelude}\nexport default dag({ dagId: '${dagId}', tags: ${tagsExpr}, tasks: [task({ taskId: 't' })] });\n`;
}

export interface ApiRequest {
  path: string;
  authorization: string | undefined;
}

/** GET /execution/variables/{key} and /execution/connections/{connId} on 127.0.0.1. */
export async function startExecutionApi(
  variables: Record<string, string>,
  connections: Record<string, object> = {},
): Promise<{ url: string; requests: ApiRequest[]; close(): Promise<void> }> {
  const requests: ApiRequest[] = [];
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    requests.push({ path: decodeURIComponent(url.pathname), authorization: req.headers.authorization });
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    };
    const variable = /^\/execution\/variables\/(.+)$/.exec(url.pathname);
    const connection = /^\/execution\/connections\/(.+)$/.exec(url.pathname);
    if (variable) {
      const key = decodeURIComponent(variable[1]!);
      if (key === 'broken') return send(500, { detail: 'database on fire' });
      if (key in variables) return send(200, { key, value: variables[key] });
      if (key === 'unmounted') return send(404, { detail: 'Not Found' }); // as a server without the Execution API
      return send(404, { detail: `Variable ${key} not found`, reason: 'not_found' });
    }
    if (connection) {
      const connId = decodeURIComponent(connection[1]!);
      if (connId in connections) return send(200, connections[connId]);
      return send(404, { detail: `Connection ${connId} not found`, reason: 'not_found' });
    }
    send(404, { detail: 'no such route' });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
