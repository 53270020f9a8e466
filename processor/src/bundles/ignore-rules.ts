import ignore, { type Ignore } from 'ignore';

/**
 * `.dagprocignore` files, in gitignore syntax, at any depth of a bundle. `ignore` evaluates
 * one .gitignore whose patterns are relative to the root; git gives every nested file its own
 * base folder and lets deeper files override shallower ones. Both are had here by rewriting a
 * nested file's patterns onto the bundle root (anchored under its folder) and appending them
 * after its ancestors' patterns, so the last matching pattern (the deepest file's) decides.
 *
 * One rule set serves a whole subtree: a folder without an ignore file shares its parent's.
 */

export const IGNORE_FILE_NAME = '.dagprocignore';

export class IgnoreRules {
  private constructor(private readonly matcher: Ignore | null) {}

  static readonly none = new IgnoreRules(null);

  /**
   * The rules in force inside `folder` (POSIX, relative to the root, '' for the root) once
   * its own ignore file, with content `text`, is added to the inherited ones.
   */
  withFile(folder: string, text: string): IgnoreRules {
    const patterns = text
      .split('\n')
      .map((line) => anchorPattern(line.replace(/\r$/, ''), folder))
      .filter((p): p is string => p !== null);
    if (patterns.length === 0) return this;
    const matcher = ignore({ ignorecase: false });
    if (this.matcher) matcher.add(this.matcher);
    return new IgnoreRules(matcher.add(patterns));
  }

  /**
   * Whether the entry at `relativePath` is ignored. Callers walk top-down and never ask about
   * the contents of an ignored folder: as in git, a file inside an excluded folder cannot be
   * re-included.
   */
  ignores(relativePath: string, isDirectory: boolean): boolean {
    if (!this.matcher) return false;
    return this.matcher.ignores(isDirectory ? `${relativePath}/` : relativePath);
  }
}

/**
 * One line of an ignore file in `folder`, rewritten relative to the bundle root; null for a
 * blank line, a comment, or a pattern that can match nothing. Git's rule: a pattern with a
 * slash at its start or middle is relative to its file's folder; any other matches at any
 * depth below that folder.
 */
export function anchorPattern(line: string, folder: string): string | null {
  if (line.trim() === '' || line.startsWith('#')) return null;
  const negated = line.startsWith('!');
  const body = negated ? line.slice(1) : line;
  const meaningful = body.replace(/(?<!\\)\s+$/, '');
  // "/" alone matches nothing in git, but rewritten under a folder it would match the folder.
  if (meaningful.replace(/\//g, '') === '') return null;
  if (folder === '') return line;
  const anchored = meaningful.replace(/\/$/, '').includes('/');
  const prefix = escapeGlob(folder) + (anchored ? '/' : '/**/');
  return (negated ? '!' : '') + prefix + (anchored ? body.replace(/^\//, '') : body);
}

/** A folder path as a literal inside a gitignore pattern. */
function escapeGlob(path: string): string {
  return path.replace(/[\\*?[\]!#]/g, '\\$&');
}
