import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { until } from './poll.ts';

const PROCESSOR_MAIN = fileURLToPath(new URL('../../processor/src/main.ts', import.meta.url));

export interface ProcessorHandle {
  child: ChildProcess;
  /** Parsed JSON log lines so far. */
  logs: Record<string, any>[];
  /** Non-JSON stderr output (crash traces). */
  stderr: string[];
  exited: Promise<number | null>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  waitForLog(match: (line: Record<string, any>) => boolean, what: string, timeoutMs?: number): Promise<Record<string, any>>;
}

/** Writes a token to a temp file the way `provision-token` would. */
export function writeToken(token: string): string {
  const path = join(mkdtempSync(join(tmpdir(), 'dagproc-token-')), 'processor.token');
  writeFileSync(path, token, { mode: 0o600 });
  return path;
}

/**
 * Starts `pnpm start:processor` as its own process, as a deployment would: an environment
 * with only the processor's settings (no database URL, no signing key).
 */
export function startProcessor(options: {
  apiUrl: string;
  tokenPath: string;
  bundles: { name: string; path: string }[];
  env?: Record<string, string>;
  args?: string[];
}): ProcessorHandle {
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '/tmp',
    DAGPROC_API_URL: options.apiUrl,
    DAGPROC_API_TOKEN_PATH: options.tokenPath,
    DAGPROC_BUNDLES: JSON.stringify(options.bundles.map((b) => ({ name: b.name, kind: 'local', path: b.path, refreshInterval: 1 }))),
    DAGPROC_MIN_FILE_PROCESS_INTERVAL: '1',
    DAGPROC_FILE_PARSE_TIMEOUT: '5',
    DAGPROC_HEARTBEAT_INTERVAL: '1',
    DAGPROC_LOG_LEVEL: 'debug',
    ...options.env,
  };
  const child = spawn(process.execPath, ['--import', 'tsx', PROCESSOR_MAIN, ...(options.args ?? [])], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: Record<string, any>[] = [];
  const stderr: string[] = [];
  let buffered = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    buffered += chunk;
    let newline: number;
    while ((newline = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, newline);
      buffered = buffered.slice(newline + 1);
      try {
        logs.push(JSON.parse(line));
      } catch {
        stderr.push(line);
      }
    }
  });
  child.stdout!.resume();
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    logs,
    stderr,
    exited,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
    waitForLog(match, what, timeoutMs = 30_000) {
      return until(() => logs.find(match), what, timeoutMs);
    },
  };
}
