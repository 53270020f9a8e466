import type { Logger } from '@dagproc/shared/log';
import { classifyApiError, describeApiError, type ApiFailure } from './api/errors.ts';

/**
 * Whether the API is usable now. A call that finds it unreachable (or refusing the token)
 * pauses the manager's work; the outage is logged once when it starts and once when it ends,
 * however long it lasts, and probes back off to a few seconds apart.
 */
export class ApiHealth {
  private downSince: number | null = null;
  private probeAt = 0;
  private probeDelayMs = 500;

  constructor(
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
    private readonly maxProbeDelayMs = 5_000,
    /** Told of every failed call (for the failure counters). */
    private readonly onFailure: (kind: ApiFailure) => void = () => {},
  ) {}

  get down(): boolean {
    return this.downSince !== null;
  }

  /** Records a failed call; answers what kind of failure it was. */
  failed(error: unknown, what: string): ApiFailure {
    const kind = classifyApiError(error);
    this.onFailure(kind);
    if (kind === 'rejected') return kind;
    if (this.downSince === null) {
      this.downSince = this.now();
      this.probeDelayMs = 500;
      this.probeAt = this.now() + this.probeDelayMs;
      const msg = kind === 'unauthorized' ? 'API refuses the token; pausing until it accepts one' : 'API unavailable; pausing until it answers';
      this.logger.warn(msg, { during: what, error: describeApiError(error) });
    }
    return kind;
  }

  succeeded(): void {
    if (this.downSince === null) return;
    this.logger.info('API reachable again; resuming', { downSeconds: Math.round((this.now() - this.downSince) / 1000) });
    this.downSince = null;
  }

  /** True when it is time to try the API again; each try pushes the next one further out. */
  probeDue(): boolean {
    if (this.downSince === null) return true;
    if (this.now() < this.probeAt) return false;
    this.probeDelayMs = Math.min(this.maxProbeDelayMs, this.probeDelayMs * 2);
    this.probeAt = this.now() + this.probeDelayMs;
    return true;
  }

  /** Milliseconds until the next probe, for the loop's sleep. */
  msUntilProbe(): number {
    return Math.max(0, this.probeAt - this.now());
  }
}

/** Logs a repeated failure once, and again only when its message changes. */
export class OnceLog {
  private last = new Map<string, string>();
  constructor(private readonly logger: Logger) {}

  warn(key: string, msg: string, fields: Record<string, unknown> & { error: string }): void {
    if (this.last.get(key) === fields.error) return;
    this.last.set(key, fields.error);
    this.logger.warn(msg, fields);
  }

  clear(key: string): void {
    this.last.delete(key);
  }
}
