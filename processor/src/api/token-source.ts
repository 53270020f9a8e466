import { readTokenFile } from '@dagproc/shared/token-file';

/**
 * The processor's bearer token, read from the file `provision-token` maintains. Cached
 * briefly so a busy loop does not read the file per request, and dropped at once on a 401 so
 * a rotated token is picked up without a restart.
 */
export class TokenSource {
  private cached: { token: string; readAt: number } | undefined;

  constructor(
    readonly path: string,
    private readonly cacheMs = 5_000,
    private readonly now: () => number = Date.now,
  ) {}

  async get(): Promise<string> {
    if (this.cached && this.now() - this.cached.readAt < this.cacheMs) return this.cached.token;
    const token = await readTokenFile(this.path);
    this.cached = { token, readAt: this.now() };
    return token;
  }

  /** Forget the cached token; answers whether the file now holds a different one. */
  async refresh(): Promise<boolean> {
    const before = this.cached?.token;
    this.cached = undefined;
    return (await this.get()) !== before;
  }
}
