import { realpath, stat } from 'node:fs/promises';
import { silentLogger, type Logger } from '@dagproc/shared/log';
import { listDagFiles } from './files.ts';
import { BundleUnavailable, type BundleCheckout, type BundleFile, type DagBundle } from './types.ts';

/** A folder on this machine, as Airflow's LocalDagBundle: no versions, nothing to fetch. */
export class LocalDagBundle implements DagBundle {
  readonly kind = 'local' as const;
  private currentRoot: string;
  private refreshed = false;

  constructor(
    readonly name: string,
    /**
     * The folder as configured (absolute). It is resolved again on every refresh and listing:
     * a deployment that swaps a symlink to publish a new tree (git-sync does) moves the
     * bundle's real root without a restart.
     */
    readonly configuredPath: string,
    readonly refreshIntervalSeconds: number,
    private readonly logger: Logger = silentLogger,
    /** The real path as configuration resolved it at start. */
    initialRoot: string = configuredPath,
  ) {
    this.currentRoot = initialRoot;
  }

  /** The real path at the last refresh or listing: the one folder a parse may read. */
  get root(): string {
    return this.currentRoot;
  }

  /** Nothing to fetch: checks the folder is still there, so a lost mount surfaces here. */
  async refresh(): Promise<{ version: string | null; changed: boolean }> {
    const before = this.currentRoot;
    await this.resolveRoot();
    const changed = !this.refreshed || this.currentRoot !== before;
    this.refreshed = true;
    return { version: null, changed };
  }

  async listFiles(): Promise<BundleFile[]> {
    const root = await this.resolveRoot();
    try {
      return await listDagFiles(root, {
        onSkip: (relativeFileloc, reason) =>
          this.logger.warn('skipped a path in the bundle', { bundleName: this.name, relativeFileloc, reason }),
      });
    } catch (error) {
      throw unavailable(this.name, root, error);
    }
  }

  /** A folder has no versions to keep: its current root, nothing held. */
  checkout(): BundleCheckout {
    return { root: this.currentRoot, version: null, release() {} };
  }

  private async resolveRoot(): Promise<string> {
    try {
      const real = await realpath(this.configuredPath);
      if (!(await stat(real)).isDirectory()) throw new BundleUnavailable(this.name, this.configuredPath, 'is not a directory');
      if (real !== this.currentRoot) {
        this.logger.info('bundle folder now resolves elsewhere', { bundleName: this.name, from: this.currentRoot, to: real });
      }
      this.currentRoot = real;
      return real;
    } catch (error) {
      throw unavailable(this.name, this.configuredPath, error);
    }
  }
}

function unavailable(name: string, root: string, error: unknown): BundleUnavailable {
  if (error instanceof BundleUnavailable) return error;
  const code = (error as NodeJS.ErrnoException).code;
  const reason =
    code === 'ENOENT' ? 'does not exist' : code === 'ENOTDIR' ? 'is not a directory' : `cannot be read (${code ?? String(error)})`;
  return new BundleUnavailable(name, root, reason);
}
