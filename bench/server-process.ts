import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createAuth, type Auth } from '../server/src/auth/index.ts';
import { openDatabase, type Database } from '../server/src/db/client.ts';
import { rows } from '../server/src/testing/sql.ts';
import type { DatabaseTarget } from './databases.ts';
import { BenchError } from './measure.ts';

const ROOT = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const SERVER_MAIN = path.join(ROOT, 'server/src/main.ts');

export type TableWrites = Map<string, { inserted: number; updated: number; deleted: number }>;

/**
 * `pnpm start:server` as its own process (so its CPU and memory are its own), on a fresh
 * database: a new Postgres database next to the target's URL (dropped by `stop`), or PGlite
 * files in a fresh temp folder. The benchmark holds the signing secret, as a provisioning step
 * would, and mints the tokens the processor and the API clients use.
 */
export interface ServerProcess {
  target: DatabaseTarget;
  url: string;
  pid: number;
  processorToken(): Promise<string>;
  /** GET on the public API (`/api/v2...`); fails the benchmark on anything but 200. */
  api<T = any>(pathAndQuery: string): Promise<T>;
  /** POST of a tRPC mutation on the processor's router; answers the status and parsed body. */
  mutate(procedure: string, input: unknown, token: string): Promise<{ status: number; body: any }>;
  /** Postgres only: the pids of the backends serving this server's database (not the benchmark's own). */
  backendPids(): Promise<number[]>;
  /** Postgres only: n_tup_ins/upd/del per table from pg_stat_user_tables (lagging: see rowsWrittenSettleMs). */
  tableWrites(): Promise<TableWrites | null>;
  /** Stops the server (SIGTERM, then its exit) and removes its database. */
  stop(): Promise<void>;
}

/**
 * Postgres 15 keeps each backend's table counters in the backend until it flushes them: at the
 * end of a transaction at most once a second, else when it has been idle 10 s
 * (PGSTAT_IDLE_INTERVAL). pg_stat_force_next_flush() flushes only the calling backend, so the
 * server's counters are read after waiting this long past the writes of interest.
 */
export const ROWS_WRITTEN_SETTLE_MS = 10_500;

export async function startServerProcess(target: DatabaseTarget, options: { startTimeoutMs?: number } = {}): Promise<ServerProcess> {
  const secret = randomBytes(48).toString('base64');
  const cleanups: (() => Promise<void>)[] = [];
  const cleanup = async () => {
    for (const step of cleanups.reverse()) await step().catch(() => {});
  };
  try {
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: os.tmpdir(),
      DAGPROC_JWT_SECRET: secret,
      DAGPROC_HOST: '127.0.0.1',
      DAGPROC_PORT: '0',
      DAGPROC_LOG_LEVEL: 'info',
    };
    let stats: Database | null = null;
    if (target.kind === 'postgres') {
      const name = `dagproc_bench_${randomBytes(6).toString('hex')}`;
      await onPostgres(target.url, `create database ${name}`);
      cleanups.push(() => onPostgres(target.url, `drop database if exists ${name} with (force)`));
      const url = new URL(target.url);
      url.pathname = `/${name}`;
      env.DAGPROC_DATABASE_URL = url.toString();
      // Queried one at a time, so it holds one backend, which backendPids() leaves out.
      stats = await openDatabase({ url: url.toString() });
      const statsDatabase = stats;
      cleanups.push(() => statsDatabase.close());
    } else {
      const dataDir = await mkdtemp(path.join(os.tmpdir(), 'dagproc-bench-pglite-'));
      cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
      env.DAGPROC_DATA_DIR = dataDir;
    }

    const child = spawn(process.execPath, ['--import', 'tsx', SERVER_MAIN], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    cleanups.push(async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited.finally(() => clearTimeout(timer));
    });
    const output: string[] = [];
    const url = await listeningUrl(child, output, exited, options.startTimeoutMs ?? 120_000);
    const auth: Auth = await createAuth({ secret: new TextEncoder().encode(secret), issuer: 'dagproc' });
    const apiToken = (await auth.signer.mintApiToken({ subject: 'bench', lifetimeSeconds: 6 * 3600 })).token;

    return {
      target,
      url,
      pid: child.pid!,
      async processorToken() {
        return (await auth.signer.mintProcessorToken({ lifetimeSeconds: 6 * 3600 })).token;
      },
      async api(pathAndQuery) {
        const res = await fetch(`${url}${pathAndQuery}`, { headers: { authorization: `Bearer ${apiToken}` } });
        const text = await res.text();
        if (res.status !== 200) throw new BenchError(`GET ${pathAndQuery} answered ${res.status}: ${text.slice(0, 500)}`);
        return JSON.parse(text);
      },
      async mutate(procedure, input, token) {
        const res = await fetch(`${url}/dag-processing/trpc/${procedure}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
          body: JSON.stringify(input),
        });
        const text = await res.text();
        let body: unknown = text;
        try {
          body = JSON.parse(text);
        } catch {
          // keep the text for the failure message
        }
        return { status: res.status, body };
      },
      async backendPids() {
        if (!stats) return [];
        const found = await rows<{ pid: number }>(
          stats.db,
          "select pid from pg_stat_activity where datname = current_database() and backend_type = 'client backend' and pid <> pg_backend_pid()",
        );
        return found.map((r) => Number(r.pid));
      },
      async tableWrites() {
        if (!stats) return null;
        await rows(stats.db, 'select pg_stat_clear_snapshot()');
        const found = await rows<{ relname: string; ins: string; upd: string; del: string }>(
          stats.db,
          'select relname, n_tup_ins::text as ins, n_tup_upd::text as upd, n_tup_del::text as del from pg_stat_user_tables',
        );
        return new Map(found.map((r) => [r.relname, { inserted: Number(r.ins), updated: Number(r.upd), deleted: Number(r.del) }]));
      },
      stop: cleanup,
    };
  } catch (error) {
    await cleanup();
    throw error;
  }
}

/** Waits for the server's "server listening" log line (it listens on a port of its choosing). */
function listeningUrl(child: ChildProcess, output: string[], exited: Promise<number | null>, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let buffered = '';
    const timer = setTimeout(() => reject(new BenchError(`the server did not start within ${timeoutMs / 1000} s; its output:\n${output.join('\n')}`)), timeoutMs);
    child.stdout!.resume();
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      buffered += chunk;
      let newline: number;
      while ((newline = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        if (output.length < 200) output.push(line);
        try {
          const entry = JSON.parse(line) as { msg?: string; url?: string };
          if (entry.msg === 'server listening' && entry.url) {
            clearTimeout(timer);
            resolve(entry.url);
          }
        } catch {
          // not a log line: kept in output for the failure message
        }
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new BenchError(`the server exited (${code}) before listening; its output:\n${output.join('\n')}`));
    });
  });
}

/** Rows written between two readings, per table and in all. */
export function writesBetween(before: TableWrites, after: TableWrites): { byTable: Map<string, number>; total: number } {
  const byTable = new Map<string, number>();
  let total = 0;
  for (const [table, a] of after) {
    const b = before.get(table) ?? { inserted: 0, updated: 0, deleted: 0 };
    const rows = a.inserted - b.inserted + (a.updated - b.updated) + (a.deleted - b.deleted);
    if (rows !== 0) byTable.set(table, rows);
    total += rows;
  }
  return { byTable, total };
}

async function onPostgres(url: string, statement: string): Promise<void> {
  const admin = await openDatabase({ url });
  try {
    await rows(admin.db, statement);
  } finally {
    await admin.close();
  }
}
