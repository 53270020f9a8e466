/**
 * The command line of a parse process. Node spells the permission flag differently across
 * versions (`--experimental-permission` on 20, `--permission` from 22), so flags are picked
 * by what this Node accepts rather than by its version number.
 */
export interface ChildFlagsInput {
  runtimeDir: string;
  /** The one bundle this process may read, or null when it may read no bundle at all. */
  bundleRoot: string | null;
  memoryLimitMb: number;
}

const known = process.allowedNodeEnvironmentFlags;

export function childNodeArgs({ runtimeDir, bundleRoot, memoryLimitMb }: ChildFlagsInput): string[] {
  const args = [
    known.has('--permission') ? '--permission' : '--experimental-permission',
    // A directory grants everything under it, and nothing beside it that merely shares its
    // prefix (checked on Node 20, 22 and 24). No --allow-fs-write, --allow-child-process,
    // --allow-worker, --allow-addons or --allow-wasi: all of those stay refused.
    `--allow-fs-read=${runtimeDir}`,
    '--experimental-vm-modules',
    // The one V8 flag: any V8 flag costs some 10 ms of start-up (stack depth is set per context).
    `--max-old-space-size=${memoryLimitMb}`,
    '--no-addons',
  ];
  if (bundleRoot !== null) args.push(`--allow-fs-read=${bundleRoot}`);
  // node:sqlite opens and creates database files without asking the permission model (22, 24).
  if (known.has('--no-experimental-sqlite')) args.push('--no-experimental-sqlite');
  // Nobody may open this process's inspector from outside with a signal either.
  if (known.has('--disable-sigusr1')) args.push('--disable-sigusr1');
  // Where the permission model covers the network (Node 25+), the SDK's API reads need it.
  if (known.has('--allow-net')) args.push('--allow-net');
  if (known.has('--disable-warning')) args.push('--disable-warning=ExperimentalWarning');
  return args;
}

/**
 * Characters with a meaning in --allow-fs-read on some Node version: `*` is a wildcard on
 * Node 20 (granting more than the folder), `,` once separated paths.
 */
export function unsafeGrantPath(root: string): string | null {
  if (root.includes('*')) return 'contains "*", a wildcard to the permission model';
  if (root.includes(',')) return 'contains ",", a path separator to older permission models';
  return null;
}
