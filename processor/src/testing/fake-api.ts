import { delay, http, HttpResponse, passthrough } from 'msw';
import type { CallbackRequest, PersistFileInput } from '@dagproc/shared';

/**
 * A stand-in for the server's dag-processing API, for processor unit tests that need the API
 * to fail in ways a real server cannot be made to (outages, 503 storms, slow answers, a 401
 * until the token file changes). It speaks tRPC's plain-JSON wire format, keeps just enough
 * state to answer, and records what the processor sent.
 */
export class FakeApi {
  readonly url = 'http://dagproc-api.test';
  /** 'down': connection failures; '503': every call answers 503; 'slow': answers after slowMs. */
  mode: 'up' | 'down' | '503' | 'slow' = 'up';
  slowMs = 0;
  /** Tokens the API accepts; null accepts any. */
  acceptedTokens: Set<string> | null = null;
  /** Answers this many calls with 503 before serving (a storm). */
  failNext = 0;
  readonly calls: string[] = [];
  readonly persisted: PersistFileInput[] = [];
  /** The number of files in each parsing.persistMany call, in order. */
  readonly batches: number[] = [];
  /** Files (by relativeFileloc) whose result a persistMany refuses with this error, once each. */
  readonly refuseInBatch = new Map<string, { code: string; httpStatus: number; message: string }>();
  readonly registered: Record<string, unknown>[] = [];
  readonly completed: { jobId: number; state: string }[] = [];
  readonly acks: { id: number; outcome: string }[] = [];
  readonly sweeps: { bundleName: string; files: string[] }[] = [];
  readonly syncs: { name: string; version?: string | null; error?: string }[] = [];
  heartbeats = 0;
  parseRequests: { id: number; bundleName: string; relativeFileloc: string; createdAt: string }[] = [];
  callbacks: CallbackRequest[] = [];
  /** Per procedure, an answer that overrides the default (for rejections). */
  readonly overrides = new Map<string, () => Response>();
  private jobs = new Map<string, number>();

  handlers() {
    return [
      http.get(`${this.url}/dag-processing/health`, async () => {
        if (this.mode === 'down') return HttpResponse.error();
        if (this.mode === '503') return HttpResponse.json({ status: 'unhealthy' }, { status: 503 });
        return HttpResponse.json({ status: 'healthy' });
      }),
      http.all(`${this.url}/dag-processing/trpc/:path`, async ({ request, params }) => {
        const path = String(params.path);
        this.calls.push(path);
        if (this.mode === 'down') return HttpResponse.error();
        if (this.mode === 'slow') await delay(this.slowMs);
        if (this.mode === '503' || this.failNext > 0) {
          this.failNext = Math.max(0, this.failNext - 1);
          return trpcError(503, 'SERVICE_UNAVAILABLE', 'the metadata database is not reachable; retry later');
        }
        const token = /^Bearer (.+)$/.exec(request.headers.get('authorization') ?? '')?.[1];
        if (this.acceptedTokens && (!token || !this.acceptedTokens.has(token))) {
          return trpcError(401, 'UNAUTHORIZED', 'token signature does not verify');
        }
        const override = this.overrides.get(path);
        if (override) return override();
        const input =
          request.method === 'GET'
            ? JSON.parse(new URL(request.url).searchParams.get('input') ?? 'null')
            : await request.json();
        return this.answer(path, input);
      }),
    ];
  }

  private answer(path: string, input: any): Response {
    switch (path) {
      case 'bundles.reconcile':
        return ok({ activated: input.bundles.map((b: { name: string }) => b.name), deactivated: [] });
      case 'jobs.register': {
        this.registered.push(input);
        const id = this.jobs.get(input.registrationId) ?? this.jobs.size + 1;
        this.jobs.set(input.registrationId, id);
        return ok({ jobId: id });
      }
      case 'jobs.heartbeat':
        this.heartbeats++;
        return ok({ state: 'running', latestHeartbeat: new Date().toISOString() });
      case 'jobs.complete':
        this.completed.push(input);
        return ok({ state: input.state });
      case 'bundles.sync':
        this.syncs.push(input);
        return ok(null);
      case 'dags.sweepStale':
        this.sweeps.push({ bundleName: input.bundleName, files: input.files });
        return ok({ staleDagIds: [] });
      case 'importErrors.purgeMissing':
      case 'warnings.purgeInactive':
        return ok({ deleted: 0 });
      case 'claims.parseRequests': {
        const requests = this.parseRequests;
        this.parseRequests = [];
        return ok({ requests });
      }
      case 'claims.completeParseRequests':
        return ok({ deleted: input.ids.length });
      case 'claims.callbacks': {
        const callbacks = this.callbacks.splice(0, input.limit);
        return ok({ callbacks });
      }
      case 'claims.ackCallback':
        this.acks.push({ id: input.id, outcome: input.outcome });
        return ok({ acknowledged: true });
      case 'parsing.fileToken':
        return ok({ token: 'file-token', expiresAt: new Date(Date.now() + 60_000).toISOString() });
      case 'parsing.persist':
        this.persisted.push(input);
        return ok(applied(input));
      case 'parsing.persistMany':
        this.batches.push(input.files.length);
        return ok({
          results: input.files.map((file: PersistFileInput) => {
            const error = this.refuseInBatch.get(file.relativeFileloc);
            if (error) {
              this.refuseInBatch.delete(file.relativeFileloc);
              return { ok: false, error };
            }
            this.persisted.push(file);
            return { ok: true, ...applied(file) };
          }),
        });
      default:
        return trpcError(404, 'NOT_FOUND', `no procedure ${path}`);
    }
  }
}

function applied(input: PersistFileInput) {
  return {
    outcome: 'applied',
    dags: input.dags.map((d: { dagId: string }) => ({ dagId: d.dagId, versionNumber: 1, newVersion: true })),
    rejected: [],
    warnings: [],
  };
}

export function ok(data: unknown): Response {
  return HttpResponse.json({ result: { data } });
}

export function trpcError(status: number, code: string, message: string): Response {
  return HttpResponse.json({ error: { message, code: -32000, data: { code, httpStatus: status } } }, { status });
}

export { passthrough };
