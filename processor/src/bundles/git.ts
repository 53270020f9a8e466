import { access, chmod, lstat, mkdir, mkdtemp, readdir, realpath, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ConnectionResponse } from '@dagproc/shared/schemas/execution';
import { silentLogger, type Logger } from '@dagproc/shared/log';
import { classifyApiError } from '../api/errors.ts';
import type { GitBundleConfig } from '../config.ts';
import { listDagFiles } from './files.ts';
import { GitCommandError, gitEnvironment, mask, runGit } from './git-command.ts';
import { ASKPASS_SCRIPT, gitCredentials, type GitCredentials } from './git-credentials.ts';
import { BundleUnavailable, type BundleCheckout, type BundleFile, type DagBundle } from './types.ts';

/** A git bundle could not be brought up to date: `reason` says why, for the bundle's row and the log. */
export class GitBundleError extends Error {
  override name = 'GitBundleError';
  constructor(
    readonly bundleName: string,
    readonly reason: string,
  ) {
    super(`bundle ${JSON.stringify(bundleName)}: ${reason}`);
  }
}

export interface GitBundleOptions {
  config: GitBundleConfig;
  /** DAGPROC_BUNDLE_STORAGE_PATH: the bundle keeps everything under `<storagePath>/<name>/`. */
  storagePath: string;
  /** Reads a Connection through the Execution API with the processor's token; null when unknown. */
  readConnection: (connId: string) => Promise<ConnectionResponse | null>;
  logger?: Logger;
  /** Longest a fetch may take (a checkout or a local command gets the same). */
  timeoutMs?: number;
  /** The ssh program git runs for ssh:// URLs. */
  sshProgram?: string;
  /** The environment git's is built from (only a few variables pass; see gitEnvironment). */
  baseEnv?: NodeJS.ProcessEnv;
}

interface Version {
  sha: string;
  /** versions/<sha>: the whole checkout. */
  dir: string;
  /** The real path parses read: the checkout, or its subdir. */
  root: string;
}

const DEFAULT_TIMEOUT_MS = 5 * 60_000;

/**
 * A git repository, as Airflow's GitDagBundle. Under `<storage>/<name>/` it keeps a bare
 * repository (`repo.git`) that each refresh fetches into, and a checkout per commit
 * (`versions/<sha>/`, made in `tmp/` and renamed into place, so it is whole or absent). A
 * parse reads one checkout from start to end (`checkout()` holds it) while the next fetch
 * happens; a checkout that is neither current nor held is removed. The version is the commit.
 *
 * A branch (or the remote's default branch) is fetched on every refresh; a tag or a commit
 * is a pin, fetched until found and then never again. Credentials come from a Connection read
 * through the Execution API before each fetch, so a rotated secret is used at the next one.
 * A failed refresh throws a GitBundleError and leaves the last good checkout in place.
 */
export class GitDagBundle implements DagBundle {
  readonly kind = 'git' as const;
  readonly name: string;
  readonly refreshIntervalSeconds: number;
  private readonly logger: Logger;
  private readonly bundleDir: string;
  private readonly repoDir: string;
  private readonly versionsDir: string;
  private readonly tmpDir: string;
  private readonly askpassPath: string;
  private readonly timeoutMs: number;
  private readonly baseEnv: NodeJS.ProcessEnv;
  private current: Version | null = null;
  private readonly leases = new Map<string, number>();
  private prepared = false;

  constructor(private readonly options: GitBundleOptions) {
    const { config } = options;
    this.name = config.name;
    this.refreshIntervalSeconds = config.refreshInterval;
    this.logger = options.logger ?? silentLogger;
    this.bundleDir = join(options.storagePath, config.name);
    this.repoDir = join(this.bundleDir, 'repo.git');
    this.versionsDir = join(this.bundleDir, 'versions');
    this.tmpDir = join(this.bundleDir, 'tmp');
    this.askpassPath = join(this.bundleDir, 'askpass.sh');
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.baseEnv = options.baseEnv ?? process.env;
  }

  /** The checkout of the current commit; before the first good fetch, a path that does not exist. */
  get root(): string {
    return this.current?.root ?? join(this.bundleDir, 'not-fetched-yet');
  }

  get version(): string | null {
    return this.current?.sha ?? null;
  }

  async refresh(): Promise<{ version: string | null; changed: boolean }> {
    try {
      await this.prepare();
      const sha = await this.fetchAndResolve();
      if (this.current?.sha === sha) return { version: sha, changed: false };
      const dir = await this.materialize(sha);
      const root = await this.rootOf(dir, sha);
      const previous = this.current;
      this.current = { sha, dir, root };
      this.logger.info('git bundle at a new version', { bundleName: this.name, version: sha, previous: previous?.sha ?? null });
      await this.removeUnusedVersions();
      return { version: sha, changed: true };
    } catch (error) {
      // An API outage while reading the Connection pauses the processor like any other.
      if (classifyApiError(error) !== 'rejected') throw error;
      if (error instanceof GitBundleError) throw error;
      const reason = error instanceof GitCommandError ? error.reason : error instanceof Error ? error.message : String(error);
      throw new GitBundleError(this.name, reason);
    }
  }

  async listFiles(): Promise<BundleFile[]> {
    const current = this.current;
    if (!current) throw new GitBundleError(this.name, 'not fetched yet');
    try {
      return await listDagFiles(current.root, {
        onSkip: (relativeFileloc, reason) =>
          this.logger.warn('skipped a path in the bundle', { bundleName: this.name, relativeFileloc, reason }),
      });
    } catch (error) {
      throw new BundleUnavailable(this.name, current.root, `cannot be read (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
    }
  }

  checkout(): BundleCheckout {
    const held = this.current;
    if (!held) return { root: this.root, version: null, release() {} };
    this.leases.set(held.sha, (this.leases.get(held.sha) ?? 0) + 1);
    let released = false;
    return {
      root: held.root,
      version: held.sha,
      release: () => {
        if (released) return;
        released = true;
        const left = (this.leases.get(held.sha) ?? 1) - 1;
        if (left > 0) return void this.leases.set(held.sha, left);
        this.leases.delete(held.sha);
        if (this.current?.sha !== held.sha) {
          this.removeVersion(held.sha).catch((error: unknown) =>
            this.logger.warn('could not remove an old checkout', { bundleName: this.name, version: held.sha, error: String(error) }),
          );
        }
      },
    };
  }

  // --- storage ------------------------------------------------------------------------------

  /** Creates the storage folders (private to this user) and the bare repository, once. */
  private async prepare(): Promise<void> {
    if (this.prepared) return;
    await mkdir(this.options.storagePath, { recursive: true, mode: 0o700 });
    await this.checkStorageIsPrivate();
    await mkdir(this.bundleDir, { recursive: true, mode: 0o700 });
    await chmod(this.bundleDir, 0o700);
    await mkdir(this.versionsDir, { recursive: true });
    // Whatever a previous run left half-done in tmp/ (an interrupted checkout, a key) goes.
    await rm(this.tmpDir, { recursive: true, force: true });
    await mkdir(this.tmpDir, { mode: 0o700 });
    await writeFile(this.askpassPath, ASKPASS_SCRIPT, { mode: 0o700 });
    await chmod(this.askpassPath, 0o700);
    if (!(await exists(join(this.repoDir, 'HEAD')))) {
      await rm(this.repoDir, { recursive: true, force: true });
      await this.git(['init', '--bare', '--quiet', this.repoDir]);
    }
    this.prepared = true;
  }

  /**
   * The default storage path is under the shared temp folder, where another user could have
   * made it first and could then swap the code being parsed: it must be this user's own.
   */
  private async checkStorageIsPrivate(): Promise<void> {
    const path = this.options.storagePath;
    const uid = process.getuid?.();
    for (const info of [await lstat(path), await stat(path)]) {
      const foreign = uid !== undefined && info.uid !== uid;
      if (foreign || (!info.isSymbolicLink() && (info.mode & 0o022) !== 0)) {
        throw new GitBundleError(
          this.name,
          `DAGPROC_BUNDLE_STORAGE_PATH ${path} must be a folder only this user may write to (it is owned by uid ${info.uid}, mode ${(info.mode & 0o777).toString(8)})`,
        );
      }
    }
  }

  /** versions/<sha>, checked out whole into tmp/ first and renamed into place. */
  private async materialize(sha: string): Promise<string> {
    const dir = join(this.versionsDir, sha);
    if (await exists(dir)) return dir;
    const work = await mkdtemp(join(this.tmpDir, 'checkout-'));
    try {
      const tree = join(work, 'tree');
      await mkdir(tree);
      await this.git(['--git-dir', this.repoDir, '--work-tree', tree, 'checkout', '--force', '--quiet', sha, '--', '.'], {
        // An index of its own, outside the tree: the bare repository has none to share.
        GIT_INDEX_FILE: join(work, 'index'),
      }).catch((error: unknown) => {
        // A commit with an empty tree has nothing to check out; that is an empty bundle.
        if (error instanceof GitCommandError && /did not match any file/.test(error.reason)) return '';
        throw error;
      });
      await rename(tree, dir);
    } finally {
      await rm(work, { recursive: true, force: true });
    }
    return dir;
  }

  private async rootOf(dir: string, sha: string): Promise<string> {
    const subdir = this.options.config.subdir;
    const root = subdir ? join(dir, subdir) : dir;
    const info = await stat(root).catch(() => null);
    if (!info?.isDirectory()) throw new GitBundleError(this.name, `subdir "${subdir}" is not a folder at commit ${sha}`);
    const real = await realpath(root);
    // A subdir that is a symlink out of the checkout would grant parses whatever it points at.
    if (real !== root && !real.startsWith(`${await realpath(dir)}/`)) {
      throw new GitBundleError(this.name, `subdir "${subdir}" leads out of the repository at commit ${sha}`);
    }
    return real;
  }

  /** Every checkout but the current one and those a parse still holds. */
  private async removeUnusedVersions(): Promise<void> {
    for (const entry of await readdir(this.versionsDir)) {
      if (entry === this.current?.sha || this.leases.has(entry)) continue;
      await this.removeVersion(entry);
    }
  }

  private async removeVersion(sha: string): Promise<void> {
    const dir = join(this.versionsDir, sha);
    // Renamed away first, so a crash mid-removal never leaves a partial checkout under versions/.
    const doomed = join(this.tmpDir, `old-${sha}-${process.pid}-${Date.now()}`);
    try {
      await rename(dir, doomed);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw error;
    }
    await rm(doomed, { recursive: true, force: true });
    this.logger.debug('old checkout removed', { bundleName: this.name, version: sha });
  }

  // --- fetching -----------------------------------------------------------------------------

  /** Fetches what the bundle tracks (unless it is a pin already here) and answers its commit. */
  private async fetchAndResolve(): Promise<string> {
    const { url, branch, tag, commit } = this.options.config;
    if (commit) {
      if (await this.hasCommit(commit)) return commit;
      await this.fetch([commit], `commit ${commit}`).catch(async (error: unknown) => {
        // Servers that refuse a fetch by commit id: fetch every branch and tag, then look again.
        if (!(error instanceof GitBundleError)) throw error;
        await this.fetch(['+refs/heads/*:refs/dagproc/all/heads/*', '+refs/tags/*:refs/dagproc/all/tags/*'], 'its branches and tags');
      });
      if (!(await this.hasCommit(commit))) throw new GitBundleError(this.name, `commit ${commit} not found in ${url}`);
      await this.git(['--git-dir', this.repoDir, 'update-ref', 'refs/dagproc/pinned', commit]);
      return commit;
    }
    if (tag) {
      const ref = `refs/dagproc/tag/${tag}`;
      const known = await this.resolve(ref);
      if (known) return known;
      await this.fetch([`+refs/tags/${tag}:${ref}`], `tag "${tag}"`);
      return this.mustResolve(ref, `tag "${tag}"`);
    }
    const ref = branch ? `refs/dagproc/branch/${branch}` : 'refs/dagproc/default-branch';
    const what = branch ? `branch "${branch}"` : 'the default branch';
    await this.fetch([`+${branch ? `refs/heads/${branch}` : 'HEAD'}:${ref}`], what);
    return this.mustResolve(ref, what);
  }

  private async fetch(refspecs: string[], what: string): Promise<void> {
    const credentials = await this.credentials();
    try {
      await this.git(
        ['--git-dir', this.repoDir, 'fetch', '--quiet', '--no-tags', '--no-write-fetch-head', '--', this.options.config.url, ...refspecs],
        credentials.env,
        credentials.secrets,
      );
    } catch (error) {
      if (error instanceof GitCommandError) {
        throw new GitBundleError(this.name, `fetching ${what} from ${this.options.config.url} failed: ${error.reason}`);
      }
      throw error;
    } finally {
      await credentials.dispose();
    }
  }

  /** The Connection's credentials, read afresh for each fetch so a rotated secret is used. */
  private async credentials(): Promise<GitCredentials> {
    const { connId, url } = this.options.config;
    const connection = connId ? await this.options.readConnection(connId) : null;
    if (connId && !connection) throw new GitBundleError(this.name, `connection "${connId}" not found`);
    try {
      return await gitCredentials(url, connection, {
        askpass: this.askpassPath,
        tmpDir: this.tmpDir,
        knownHosts: join(this.bundleDir, 'known_hosts'),
        sshProgram: this.options.sshProgram ?? 'ssh',
      });
    } catch (error) {
      const secrets = [connection?.password, connection?.extra?.private_key].filter((s): s is string => typeof s === 'string');
      throw new GitBundleError(this.name, mask(error instanceof Error ? error.message : String(error), secrets));
    }
  }

  private async hasCommit(sha: string): Promise<boolean> {
    return this.git(['--git-dir', this.repoDir, 'cat-file', '-e', `${sha}^{commit}`]).then(
      () => true,
      () => false,
    );
  }

  private async resolve(ref: string): Promise<string | null> {
    const out = await this.git(['--git-dir', this.repoDir, 'rev-parse', '--verify', '--quiet', `${ref}^{commit}`]).catch(() => '');
    return out.trim() || null;
  }

  private async mustResolve(ref: string, what: string): Promise<string> {
    const sha = await this.resolve(ref);
    if (!sha) throw new GitBundleError(this.name, `${what} of ${this.options.config.url} is not a commit`);
    return sha;
  }

  private git(args: string[], env: Record<string, string> = {}, secrets: string[] = []): Promise<string> {
    return runGit({
      args,
      env: gitEnvironment(this.baseEnv, this.bundleDir, env),
      timeoutMs: this.timeoutMs,
      secrets,
    });
  }
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}
