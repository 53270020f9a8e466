import { mkdirSync } from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import type { SQL } from 'drizzle-orm';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
import * as schema from './schema.ts';

export type Db = PgDatabase<PgQueryResultHKT, typeof schema>;

export interface Database {
  db: Db;
  kind: 'pglite' | 'postgres';
  /** Resolves when the database answers a trivial query. */
  ping(): Promise<void>;
  /** How busy the connection pool is now (for /metrics). */
  pool(): PoolUsage;
  close(): Promise<void>;
}

/**
 * postgres.js publishes no pool statistics and PGlite has one connection that queues queries,
 * so both are counted from outside: every query or transaction drizzle starts holds one
 * connection while it runs; beyond `max` at once, the rest wait for one.
 */
export interface PoolUsage {
  max: number;
  inUse: number;
  waiting: number;
}

const POSTGRES_MAX_CONNECTIONS = 10;

export type DatabaseTarget = { url: string } | { dataDir: string } | { memory: true };

/**
 * Opens Postgres (postgres.js) when given a URL, else embedded PGlite, persistent in a
 * directory or in memory. The same drizzle code runs on both.
 */
export async function openDatabase(target: DatabaseTarget): Promise<Database> {
  if ('url' in target) {
    const client = postgres(target.url, {
      max: POSTGRES_MAX_CONNECTIONS,
      connect_timeout: 5,
      idle_timeout: 30,
      onnotice: () => {},
    });
    const tracker = new ActiveWork();
    // drizzle runs every statement through `unsafe` and every transaction through `begin`.
    const unsafe = client.unsafe.bind(client);
    client.unsafe = ((...args: Parameters<typeof client.unsafe>) => tracker.trackLazy(unsafe(...args))) as typeof client.unsafe;
    const begin = client.begin.bind(client) as (...args: unknown[]) => Promise<unknown>;
    client.begin = ((...args: unknown[]) => tracker.track(begin(...args))) as typeof client.begin;
    const db = drizzlePostgres({ client, schema }) as unknown as Db;
    return {
      db,
      kind: 'postgres',
      ping: async () => {
        await client`select 1`;
      },
      pool: () => tracker.usage(POSTGRES_MAX_CONNECTIONS),
      close: () => client.end({ timeout: 5 }),
    };
  }
  let client: PGlite;
  if ('dataDir' in target) {
    mkdirSync(target.dataDir, { recursive: true });
    client = await PGlite.create(target.dataDir);
  } else {
    client = await PGlite.create();
  }
  const tracker = new ActiveWork();
  const query = client.query.bind(client);
  client.query = ((...args: Parameters<typeof query>) => tracker.track(query(...args))) as typeof client.query;
  const transaction = client.transaction.bind(client);
  client.transaction = ((...args: Parameters<typeof transaction>) => tracker.track(transaction(...args))) as typeof client.transaction;
  const db = drizzlePglite({ client, schema }) as unknown as Db;
  return {
    db,
    kind: 'pglite',
    ping: async () => {
      await client.query('select 1');
    },
    // One in-process connection: queries beyond the first wait for it.
    pool: () => tracker.usage(1),
    close: () => client.close(),
  };
}

/** Counts statements and transactions from start to settlement. */
class ActiveWork {
  private active = 0;

  track<T>(promise: Promise<T>): Promise<T> {
    this.active++;
    return promise.finally(() => {
      this.active--;
    });
  }

  /**
   * A postgres.js query is lazy: it runs when first awaited, and a caller may still call
   * `.values()` on it before that. Count it from its first `then`, keeping the query object.
   */
  trackLazy<T extends PromiseLike<unknown>>(query: T): T {
    const tracker = this;
    const then = query.then;
    let started = false;
    const done = () => {
      tracker.active--;
    };
    (query as { then: unknown }).then = function (this: T, ...args: Parameters<T['then']>) {
      if (!started) {
        started = true;
        tracker.active++;
        then.call(this, done, done);
      }
      return then.apply(this, args);
    };
    return query;
  }

  usage(max: number): PoolUsage {
    return { max, inUse: Math.min(this.active, max), waiting: Math.max(0, this.active - max) };
  }
}

/** Rows of a raw query, whichever driver ran it. */
export async function queryRows<T>(db: Db | DbTx, query: SQL): Promise<T[]> {
  const result = (await db.execute(query)) as unknown;
  return (Array.isArray(result) ? result : (result as { rows: T[] }).rows) as T[];
}

export type DbTx = Parameters<Parameters<Db['transaction']>[0]>[0];

/** A timestamp column read by raw SQL: postgres.js gives a Date, PGlite a Date or a string. */
export function toIso(value: unknown): string {
  if (value instanceof Date) return value.toISOString();
  return new Date(String(value)).toISOString();
}
