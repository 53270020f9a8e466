import { describe, expect, it } from 'vitest';
import type { PersistFileInput } from '@dagproc/shared';
import { silentLogger } from '@dagproc/shared/log';
import { persistInputOf, serializedDagOf } from '@dagproc/shared/testing';
import type { ProcessorApi } from './api/client.ts';
import { ApiHealth, OnceLog } from './api-health.ts';
import { PendingResults } from './results.ts';

/** a newer unsent result replacing an older one must keep the older one's priority request ids. */

describe('PendingResults keeps priority request ids', () => {
  it('a newer parse of a file replacing an unsent one still answers the priority requests the older one carried', async () => {
    const sent: PersistFileInput[] = [];
    let releaseFirst!: () => void;
    const firstHeld = new Promise<void>((r) => (releaseFirst = r));
    const api = {
      parsing: {
        persist: {
          mutate: async (input: PersistFileInput) => {
            if (sent.length === 0) {
              sent.push(input);
              await firstHeld;
            } else {
              sent.push(input);
            }
            return { outcome: 'applied', dags: [], rejected: [], warnings: [] };
          },
        },
      },
    } as unknown as ProcessorApi;
    const results = new PendingResults(api, new ApiHealth(silentLogger), new OnceLog(silentLogger), silentLogger, { maxInFlight: 1 });

    results.add(persistInputOf('other.ts', [serializedDagOf('other')])); // occupies the one send slot
    results.add(persistInputOf('x.ts', [serializedDagOf('x')], { priorityRequestIds: [7] })); // waits, answering request 7
    results.add(persistInputOf('x.ts', [serializedDagOf('x')], { priorityRequestIds: [] })); // a later parse of x.ts replaces it
    releaseFirst();
    const deadline = Date.now() + 5_000;
    while (results.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));

    const answered = sent.filter((s) => s.relativeFileloc === 'x.ts').flatMap((s) => s.priorityRequestIds ?? []);
    expect(answered).toContain(7);
  });
});
