import { and, eq, inArray, notInArray, sql } from 'drizzle-orm';
import { DomainError } from '../../errors.ts';
import type { SyncBundleInput } from '@dagproc/shared';
import type { Db } from '../client.ts';
import { dagBundle } from '../schema.ts';

export class BundleOwnedElsewhere extends DomainError {
  constructor(message: string) {
    super('CONFLICT', message);
  }
}

/**
 * Activates a processor group's configured bundles and deactivates the bundles that group
 * activated before but no longer has. Another group's active bundle is never taken over.
 * Rows are created first and then locked, so two groups racing for a new name serialize on
 * it and the second gets the conflict. `deactivatable` (a token's bundles claim) limits what
 * may be deactivated: a caller may only switch off bundles it may write.
 */
export async function reconcileBundles(
  db: Db,
  input: { group: string; bundles: { name: string; kind: string }[]; deactivateOthers: boolean },
  deactivatable: readonly string[] | null = null,
): Promise<{ activated: string[]; deactivated: string[] }> {
  return db.transaction(async (tx) => {
    const names = input.bundles.map((b) => b.name).sort();
    if (names.length) {
      await tx
        .insert(dagBundle)
        .values(input.bundles.map((b) => ({ name: b.name, kind: b.kind, active: false, processorGroup: null })))
        .onConflictDoNothing({ target: dagBundle.name });
    }
    const existing = names.length
      ? await tx.select().from(dagBundle).where(inArray(dagBundle.name, names)).orderBy(dagBundle.name).for('update')
      : [];
    const conflict = existing.find((b) => b.active && b.processorGroup !== null && b.processorGroup !== input.group);
    if (conflict) {
      throw new BundleOwnedElsewhere(
        `bundle '${conflict.name}' is active for processor group '${conflict.processorGroup}', not '${input.group}'`,
      );
    }
    const activated = existing.filter((b) => !b.active).map((b) => b.name);
    for (const bundle of input.bundles) {
      await tx
        .update(dagBundle)
        .set({ kind: bundle.kind, active: true, processorGroup: input.group, updatedAt: sql`now()` })
        .where(eq(dagBundle.name, bundle.name));
    }
    if (!input.deactivateOthers) return { activated, deactivated: [] };
    const gone = await tx
      .update(dagBundle)
      .set({ active: false, updatedAt: sql`now()` })
      .where(
        and(
          eq(dagBundle.processorGroup, input.group),
          eq(dagBundle.active, true),
          names.length ? notInArray(dagBundle.name, names) : sql`true`,
          deactivatable ? (deactivatable.length ? inArray(dagBundle.name, [...deactivatable]) : sql`false`) : sql`true`,
        ),
      )
      .returning({ name: dagBundle.name });
    return { activated, deactivated: gone.map((g) => g.name).sort() };
  });
}

export async function bundleStates(db: Db, names: string[]) {
  const rows = await db.select().from(dagBundle).where(inArray(dagBundle.name, names));
  return rows.map((r) => ({
    name: r.name,
    kind: r.kind,
    active: r.active,
    version: r.version,
    lastRefreshed: r.lastRefreshed?.toISOString() ?? null,
    lastError: r.lastError,
  }));
}

export class UnknownBundle extends DomainError {
  constructor(message: string) {
    super('PRECONDITION_FAILED', message);
  }
}

/** Records a refresh: a good one's version and time (clearing any error), or a failed one's reason. */
export async function syncBundle(db: Db, input: SyncBundleInput) {
  const set =
    input.error !== undefined
      ? { lastError: input.error, lastErrorAt: sql`now()`, updatedAt: sql`now()` }
      : {
          version: input.version ?? null,
          lastRefreshed: new Date(input.lastRefreshed!),
          lastError: null,
          lastErrorAt: null,
          updatedAt: sql`now()`,
        };
  const [row] = await db
    .update(dagBundle)
    .set(set)
    .where(eq(dagBundle.name, input.name))
    .returning({ name: dagBundle.name });
  if (!row) throw new UnknownBundle(`bundle '${input.name}' is not registered; reconcile bundles first`);
}
