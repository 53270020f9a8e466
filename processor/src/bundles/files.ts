import type { Dirent, Stats } from 'node:fs';
import { readdir, readFile, realpath, stat } from 'node:fs/promises';
import { join, sep } from 'node:path';
import { relativeFileloc as relativeFilelocSchema } from '@dagproc/shared/names';
import type { BundleFile } from './types.ts';
import { IGNORE_FILE_NAME, IgnoreRules } from './ignore-rules.ts';

/**
 * Finding a bundle's DAG files, as Airflow's list_py_file_paths with `.airflowignore` in glob
 * mode, for TypeScript and JavaScript modules.
 */

const DAG_FILE = /\.(ts|mts|js|mjs)$/;
const TYPE_DECLARATION = /\.d\.m?ts$/;

/** Whether a file name is one the processor parses: `.ts .mts .js .mjs`, never a `.d.ts`. */
export function isDagFileName(name: string): boolean {
  return DAG_FILE.test(name) && !TYPE_DECLARATION.test(name);
}

export interface ListOptions {
  /**
   * Told of each entry left out for a reason an operator may want to know (a symlink leaving
   * the bundle, an unreadable folder, a name no DAG file may have). Ignored and vanished
   * entries are not reported.
   */
  onSkip?: (relativePath: string, reason: string) => void;
}

interface Folder {
  /** POSIX, relative to the root; '' for the root. */
  rel: string;
  /** Where to read it: a real path (a symlinked folder is read at its target). */
  real: string;
  rules: IgnoreRules;
}

interface FolderListing {
  folder: Folder;
  rules: IgnoreRules;
  entries: Dirent[];
  /** Symlinked entries, followed: target real path and what it is; missing when dangling. */
  links: Map<string, { real: string; stats: Stats }>;
}

interface Candidate {
  rel: string;
  /** Known already for a symlinked file (it had to be followed to be judged). */
  stats?: Stats;
}

const FOLDER_CONCURRENCY = 16;
const STAT_CONCURRENCY = 64;

/**
 * Lists the DAG files under `root`, sorted by relativeFileloc. Skips `node_modules`, names
 * starting with "." (dot-folders such as `.git`, and dot-files such as `.eslintrc.js`, which
 * are tool configuration, not DAGs), whatever `.dagprocignore` files exclude, and symlinks that
 * resolve outside the bundle: a parse process may read only the bundle, so a file reached
 * through such a link could not be parsed anyway. A symlinked folder inside the bundle is
 * followed unless its target is walked already, so a link never lists a file twice nor loops.
 * Files and folders that vanish during the walk are left out. Throws only when the root
 * itself cannot be read.
 */
export async function listDagFiles(root: string, options: ListOptions = {}): Promise<BundleFile[]> {
  const realRoot = await realpath(root);
  const onSkip = options.onSkip ?? (() => {});
  const inside = (real: string) => real === realRoot || real.startsWith(realRoot + sep);

  const visited = new Set<string>([realRoot]);
  const candidates: Candidate[] = [];
  let pending: Folder[] = [{ rel: '', real: realRoot, rules: IgnoreRules.none }];
  let deferredLinks: Folder[] = [];

  while (pending.length > 0 || deferredLinks.length > 0) {
    if (pending.length === 0) {
      // Symlinked folders are walked only after every plain folder, so a file reachable both
      // ways is listed under its own path, not the link's.
      pending = deferredLinks
        .sort((a, b) => compare(a.rel, b.rel))
        .filter((f) => !visited.has(f.real) && visited.add(f.real));
      deferredLinks = [];
      continue;
    }
    const level = pending;
    pending = [];
    const listings = await mapLimit(level, FOLDER_CONCURRENCY, (folder) =>
      readFolder(folder, folder.rel === '', onSkip),
    );
    // Judged in a fixed order, so which of two paths to one folder wins never depends on timing.
    for (const listing of listings) {
      if (!listing) continue;
      const { folder, rules } = listing;
      for (const entry of listing.entries) {
        const rel = folder.rel === '' ? entry.name : `${folder.rel}/${entry.name}`;
        if (entry.name.startsWith('.') || entry.name === 'node_modules') continue;
        let isDirectory = entry.isDirectory();
        let isFile = entry.isFile();
        let real = join(folder.real, entry.name);
        let linkStats: Stats | undefined;
        if (entry.isSymbolicLink()) {
          const link = listing.links.get(entry.name);
          if (!link) continue; // dangling, or gone since readdir
          if (!inside(link.real)) {
            onSkip(rel, `is a symlink to ${link.real}, outside the bundle`);
            continue;
          }
          ({ real } = link);
          linkStats = link.stats;
          isDirectory = link.stats.isDirectory();
          isFile = link.stats.isFile();
        }
        if (isDirectory) {
          if (rules.ignores(rel, true)) continue;
          const child = { rel, real, rules };
          if (linkStats) deferredLinks.push(child);
          else if (!visited.has(real)) {
            visited.add(real);
            pending.push(child);
          }
        } else if (isFile && isDagFileName(entry.name) && !rules.ignores(rel, false)) {
          const valid = relativeFilelocSchema.safeParse(rel);
          if (!valid.success) {
            onSkip(rel, valid.error.issues[0]!.message);
            continue;
          }
          candidates.push(linkStats ? { rel, stats: linkStats } : { rel });
        }
      }
    }
  }

  const files = await mapLimit(candidates, STAT_CONCURRENCY, async (c): Promise<BundleFile | null> => {
    const absolutePath = join(realRoot, ...c.rel.split('/'));
    const stats = c.stats ?? (await stat(absolutePath).catch(() => null));
    if (!stats?.isFile()) return null; // vanished or replaced since readdir
    return { relativeFileloc: c.rel, absolutePath, mtimeMs: stats.mtimeMs, size: stats.size };
  });
  return files.filter((f): f is BundleFile => f !== null).sort((a, b) => compare(a.relativeFileloc, b.relativeFileloc));
}

async function readFolder(
  folder: Folder,
  isRoot: boolean,
  onSkip: (relativePath: string, reason: string) => void,
): Promise<FolderListing | null> {
  let entries: Dirent[];
  try {
    entries = await readdir(folder.real, { withFileTypes: true });
  } catch (error) {
    if (isRoot) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT' && code !== 'ENOTDIR') onSkip(folder.rel, `cannot be read (${code ?? String(error)})`);
    return null;
  }
  entries.sort((a, b) => compare(a.name, b.name));

  let rules = folder.rules;
  const ignoreFile = entries.find((e) => e.name === IGNORE_FILE_NAME && e.isFile());
  if (ignoreFile) {
    const text = await readFile(join(folder.real, IGNORE_FILE_NAME), 'utf8').catch(() => null);
    if (text !== null) rules = rules.withFile(folder.rel, text);
  }

  const links = new Map<string, { real: string; stats: Stats }>();
  await Promise.all(
    entries
      .filter((e) => e.isSymbolicLink() && !e.name.startsWith('.') && e.name !== 'node_modules')
      .map(async (e) => {
        const path = join(folder.real, e.name);
        try {
          const [real, stats] = await Promise.all([realpath(path), stat(path)]);
          links.set(e.name, { real, stats });
        } catch {
          // A dangling link, or one removed since readdir: nothing to list.
        }
      }),
  );
  return { folder, rules, entries, links };
}

/** Code-unit order, the same on every machine whatever its locale. */
function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Runs `fn` over `items` with at most `limit` calls in flight; results keep the items' order. */
async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
