import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError } from '@dagproc/shared/config/env';
import { loadProcessorConfig } from './config.ts';

let cwd: string;
let env: Record<string, string | undefined>;

beforeEach(() => {
  cwd = realpathSync(mkdtempSync(join(tmpdir(), 'dagproc-config-')));
  mkdirSync(join(cwd, 'dags'));
  writeFileSync(join(cwd, 'token'), 'a.b.c\n');
  env = { DAGPROC_API_TOKEN_PATH: 'token' };
});

afterEach(() => {
  rmSync(cwd, { recursive: true, force: true });
});

const load = (argv: string[] = []) => loadProcessorConfig(env, argv, cwd);

/** The ConfigError `fn` throws: one line, naming the setting. */
function configError(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    expect(message).not.toContain('\n');
    return message;
  }
  throw new Error('expected a ConfigError, but the configuration loaded');
}

describe('defaults', () => {
  it('with only the token path set, every setting takes its documented default', () => {
    const config = load();
    expect(config).toEqual({
      apiUrl: 'http://127.0.0.1:8080',
      apiTokenPath: join(cwd, 'token'),
      configuredBundles: [
        { kind: 'local', name: 'dags-folder', path: join(cwd, 'dags'), configuredPath: join(cwd, 'dags'), refreshInterval: 10 },
      ],
      bundles: [
        { kind: 'local', name: 'dags-folder', path: join(cwd, 'dags'), configuredPath: join(cwd, 'dags'), refreshInterval: 10 },
      ],
      bundleNameFilter: null,
      numRuns: null,
      dryRun: false,
      parsingProcesses: 2,
      minFileProcessInterval: 30,
      fileParseTimeout: 50,
      staleDagThreshold: 50,
      heartbeatInterval: 5,
      bundleRefreshInterval: 10,
      fileSortMode: 'modified_time',
      maxCallbacksPerLoop: 20,
      parsingMode: 'pooled',
      isolateMaxFiles: 500,
      isolateMemoryLimitMb: 512,
      processorGroup: 'default',
      bundleStoragePath: join(tmpdir(), 'dagproc-bundles'),
      persistBatchSize: 20,
      logLevel: 'info',
      incrementalParsing: true,
      staticReparseInterval: 600,
      fileWatch: true,
      logFormat: undefined,
      healthPort: null,
      healthHost: '127.0.0.1',
      healthCheckThreshold: 30,
      printStatsInterval: 30,
    });
  });

  it('reads every setting from its DAGPROC_ name', () => {
    mkdirSync(join(cwd, 'elsewhere'));
    Object.assign(env, {
      DAGPROC_API_URL: 'https://api.example.com:9000/',
      DAGPROC_DAGS_FOLDER: 'elsewhere',
      DAGPROC_PARSING_PROCESSES: '4',
      DAGPROC_MIN_FILE_PROCESS_INTERVAL: '0',
      DAGPROC_FILE_PARSE_TIMEOUT: '2m',
      DAGPROC_STALE_DAG_THRESHOLD: '120',
      DAGPROC_HEARTBEAT_INTERVAL: '1',
      DAGPROC_BUNDLE_REFRESH_INTERVAL: '0',
      DAGPROC_FILE_SORT_MODE: 'random_seeded_by_host',
      DAGPROC_MAX_CALLBACKS_PER_LOOP: '5',
      DAGPROC_PARSING_MODE: 'STRICT',
      DAGPROC_ISOLATE_MAX_FILES: '10',
      DAGPROC_ISOLATE_MEMORY_LIMIT_MB: '256',
      DAGPROC_PROCESSOR_GROUP: 'team-a',
      DAGPROC_BUNDLE_STORAGE_PATH: 'cache/bundles',
      DAGPROC_PERSIST_BATCH_SIZE: '1',
      DAGPROC_LOG_LEVEL: 'debug',
      DAGPROC_INCREMENTAL_PARSING: 'false',
      DAGPROC_STATIC_REPARSE_INTERVAL: '5m',
      DAGPROC_FILE_WATCH: 'FALSE',
      DAGPROC_LOG_FORMAT: 'Pretty',
      DAGPROC_PROCESSOR_HEALTH_PORT: '8793',
      DAGPROC_PROCESSOR_HEALTH_HOST: '0.0.0.0',
      DAGPROC_HEALTH_CHECK_THRESHOLD: '1m',
      DAGPROC_PRINT_STATS_INTERVAL: '0',
    });
    const config = load();
    expect(config).toMatchObject({
      apiUrl: 'https://api.example.com:9000',
      parsingProcesses: 4,
      minFileProcessInterval: 0,
      fileParseTimeout: 120,
      staleDagThreshold: 120,
      heartbeatInterval: 1,
      bundleRefreshInterval: 0,
      fileSortMode: 'random_seeded_by_host',
      maxCallbacksPerLoop: 5,
      parsingMode: 'strict',
      isolateMaxFiles: 10,
      isolateMemoryLimitMb: 256,
      persistBatchSize: 1,
      processorGroup: 'team-a',
      bundleStoragePath: join(cwd, 'cache/bundles'),
      logLevel: 'debug',
      incrementalParsing: false,
      staticReparseInterval: 300,
      fileWatch: false,
      logFormat: 'pretty',
      healthPort: 8793,
      healthHost: '0.0.0.0',
      healthCheckThreshold: 60,
      printStatsInterval: 0,
    });
    expect(config.bundles).toEqual([
      {
        kind: 'local',
        name: 'dags-folder',
        path: join(cwd, 'elsewhere'),
        configuredPath: join(cwd, 'elsewhere'),
        refreshInterval: 0,
      },
    ]);
  });

  it('an empty value counts as unset', () => {
    env.DAGPROC_PARSING_PROCESSES = '  ';
    env.DAGPROC_BUNDLES = '';
    expect(load().parsingProcesses).toBe(2);
    expect(load().bundles.map((b) => b.name)).toEqual(['dags-folder']);
  });

  it('resolves a symlinked dags folder to its real path, keeping the configured one', () => {
    mkdirSync(join(cwd, 'real-dags'));
    symlinkSync(join(cwd, 'real-dags'), join(cwd, 'linked'));
    env.DAGPROC_DAGS_FOLDER = 'linked';
    expect(load().bundles[0]).toMatchObject({ path: join(cwd, 'real-dags'), configuredPath: join(cwd, 'linked') });
  });

  it('ignores the server-only settings it finds in its environment', () => {
    env.DAGPROC_DATABASE_URL = 'not a url';
    env.DAGPROC_JWT_SECRET = 'short';
    env.DAGPROC_JWT_PRIVATE_KEY_PATH = '/does/not/exist';
    const config = load();
    expect(JSON.stringify(config)).not.toMatch(/not a url|short|does\/not\/exist/);
  });
});

describe('bad values', () => {
  const cases: [string, string, RegExp][] = [
    ['DAGPROC_API_URL', 'ftp://x', /^DAGPROC_API_URL: must be an http\(s\) URL \(got "ftp:\/\/x"\)$/],
    ['DAGPROC_PARSING_PROCESSES', '0', /^DAGPROC_PARSING_PROCESSES: must be a whole number from 1 to 256 \(got "0"\)$/],
    ['DAGPROC_PARSING_PROCESSES', 'two', /^DAGPROC_PARSING_PROCESSES: .* \(got "two"\)$/],
    ['DAGPROC_MIN_FILE_PROCESS_INTERVAL', '1.5', /^DAGPROC_MIN_FILE_PROCESS_INTERVAL: must be a number of seconds/],
    ['DAGPROC_FILE_PARSE_TIMEOUT', 'abc', /^DAGPROC_FILE_PARSE_TIMEOUT: must be a number of seconds .*\(got "abc"\)$/],
    ['DAGPROC_FILE_PARSE_TIMEOUT', '0', /^DAGPROC_FILE_PARSE_TIMEOUT: must be from 1 to 86400 seconds \(got "0"\)$/],
    ['DAGPROC_STALE_DAG_THRESHOLD', '31d', /^DAGPROC_STALE_DAG_THRESHOLD: must be from 0 to 2592000 seconds/],
    ['DAGPROC_HEARTBEAT_INTERVAL', '-1', /^DAGPROC_HEARTBEAT_INTERVAL: must be a number of seconds/],
    ['DAGPROC_BUNDLE_REFRESH_INTERVAL', 'soon', /^DAGPROC_BUNDLE_REFRESH_INTERVAL: /],
    ['DAGPROC_FILE_SORT_MODE', 'newest', /^DAGPROC_FILE_SORT_MODE: must be one of modified_time, alphabetical, random_seeded_by_host \(got "newest"\)$/],
    ['DAGPROC_MAX_CALLBACKS_PER_LOOP', '1001', /^DAGPROC_MAX_CALLBACKS_PER_LOOP: must be a whole number from 1 to 1000/],
    ['DAGPROC_PARSING_MODE', 'forked', /^DAGPROC_PARSING_MODE: must be one of pooled, strict \(got "forked"\)$/],
    ['DAGPROC_ISOLATE_MAX_FILES', '0', /^DAGPROC_ISOLATE_MAX_FILES: /],
    ['DAGPROC_ISOLATE_MEMORY_LIMIT_MB', '16', /^DAGPROC_ISOLATE_MEMORY_LIMIT_MB: must be at least 64/],
    ['DAGPROC_PROCESSOR_GROUP', 'a group', /^DAGPROC_PROCESSOR_GROUP: a group is letters, digits/],
    ['DAGPROC_BUNDLE_STORAGE_PATH', '/srv/a,b', /^DAGPROC_BUNDLE_STORAGE_PATH: contains ",", a path separator/],
    ['DAGPROC_PERSIST_BATCH_SIZE', '101', /^DAGPROC_PERSIST_BATCH_SIZE: must be a whole number from 1 to 100 \(got "101"\)$/],
    ['DAGPROC_LOG_LEVEL', 'loud', /^DAGPROC_LOG_LEVEL: must be one of debug, info, warn, error \(got "loud"\)$/],
    ['DAGPROC_INCREMENTAL_PARSING', 'yes', /^DAGPROC_INCREMENTAL_PARSING: must be one of true, false \(got "yes"\)$/],
    ['DAGPROC_STATIC_REPARSE_INTERVAL', '0', /^DAGPROC_STATIC_REPARSE_INTERVAL: must be from 1 to 2592000 seconds/],
    ['DAGPROC_FILE_WATCH', '1', /^DAGPROC_FILE_WATCH: must be one of true, false \(got "1"\)$/],
    ['DAGPROC_LOG_FORMAT', 'xml', /^DAGPROC_LOG_FORMAT: must be one of json, pretty \(got "xml"\)$/],
    ['DAGPROC_PROCESSOR_HEALTH_PORT', '70000', /^DAGPROC_PROCESSOR_HEALTH_PORT: must be a port number from 1 to 65535 \(got "70000"\)$/],
    ['DAGPROC_PROCESSOR_HEALTH_PORT', 'http', /^DAGPROC_PROCESSOR_HEALTH_PORT: must be a port number/],
    ['DAGPROC_HEALTH_CHECK_THRESHOLD', '0', /^DAGPROC_HEALTH_CHECK_THRESHOLD: must be from 1 to 86400 seconds/],
    ['DAGPROC_PRINT_STATS_INTERVAL', 'often', /^DAGPROC_PRINT_STATS_INTERVAL: must be a number of seconds/],
    ["DAGPROC_DRY_RUN", "maybe", /^DAGPROC_DRY_RUN: must be one of true, false \(got "maybe"\)$/],
  ];
  it.each(cases)('%s=%j stops with one line naming it', (name, value, expected) => {
    env[name] = value;
    expect(configError(load)).toMatch(expected);
  });

  it('a missing token path says what to set it to', () => {
    delete env.DAGPROC_API_TOKEN_PATH;
    expect(configError(load)).toBe(
      'DAGPROC_API_TOKEN_PATH: required — the path of the token file that `pnpm dagproc provision-token --out FILE` writes',
    );
  });

  it('a token file that is not there names its path and the reason', () => {
    env.DAGPROC_API_TOKEN_PATH = 'p/token';
    expect(configError(load)).toBe(`DAGPROC_API_TOKEN_PATH: ${join(cwd, 'p/token')} cannot be read (ENOENT)`);
  });

  it('a token path that is a folder is refused', () => {
    env.DAGPROC_API_TOKEN_PATH = 'dags';
    expect(configError(load)).toBe(`DAGPROC_API_TOKEN_PATH: ${join(cwd, 'dags')} is a directory, not a token file`);
  });

  it.skipIf(process.getuid?.() === 0)('an unreadable token file is refused', () => {
    chmodSync(join(cwd, 'token'), 0o200);
    expect(configError(load)).toBe(`DAGPROC_API_TOKEN_PATH: ${join(cwd, 'token')} cannot be read (EACCES)`);
  });

  it('a missing dags folder names the setting and the path', () => {
    env.DAGPROC_DAGS_FOLDER = 'nope';
    expect(configError(load)).toBe(`DAGPROC_DAGS_FOLDER: ${join(cwd, 'nope')} does not exist`);
  });

  it('a dags folder that is a file is refused', () => {
    env.DAGPROC_DAGS_FOLDER = 'token';
    expect(configError(load)).toBe(`DAGPROC_DAGS_FOLDER: ${join(cwd, 'token')} is not a directory`);
  });
});

describe('DAGPROC_BUNDLES', () => {
  beforeEach(() => {
    mkdirSync(join(cwd, 'team-a'));
    mkdirSync(join(cwd, 'team-b'));
  });

  it('parses local and git bundles, with defaults for what an entry leaves out', () => {
    env.DAGPROC_BUNDLES = JSON.stringify([
      { name: 'a', kind: 'local', path: 'team-a' },
      { name: 'b', kind: 'local', path: join(cwd, 'team-b'), refreshInterval: 60 },
      { name: 'c', kind: 'local', path: 'team-a/../team-b/../dags', refreshInterval: '5m' },
      { name: 'repo', kind: 'git', url: 'https://github.com/example/dags.git', branch: 'main', subdir: 'dags/prod' },
      { name: 'repo2', kind: 'git', url: 'git@github.com:example/dags.git' },
      { name: 'repo3', kind: 'git', url: 'https://git.example.com/dags.git', tag: 'v1.2', connId: 'git_default', refreshInterval: '1m' },
      { name: 'repo4', kind: 'git', url: 'ssh://git@git.example.com/dags.git', commit: 'a'.repeat(40) },
    ]);
    env.DAGPROC_BUNDLE_REFRESH_INTERVAL = '15';
    const config = load();
    expect(config.configuredBundles).toEqual([
      { kind: 'local', name: 'a', path: join(cwd, 'team-a'), configuredPath: join(cwd, 'team-a'), refreshInterval: 15 },
      { kind: 'local', name: 'b', path: join(cwd, 'team-b'), configuredPath: join(cwd, 'team-b'), refreshInterval: 60 },
      { kind: 'local', name: 'c', path: join(cwd, 'dags'), configuredPath: join(cwd, 'dags'), refreshInterval: 300 },
      {
        kind: 'git',
        name: 'repo',
        url: 'https://github.com/example/dags.git',
        branch: 'main',
        tag: null,
        commit: null,
        subdir: 'dags/prod',
        connId: null,
        refreshInterval: 15,
      },
      { kind: 'git', name: 'repo2', url: 'git@github.com:example/dags.git', branch: null, tag: null, commit: null, subdir: null, connId: null, refreshInterval: 15 },
      { kind: 'git', name: 'repo3', url: 'https://git.example.com/dags.git', branch: null, tag: 'v1.2', commit: null, subdir: null, connId: 'git_default', refreshInterval: 60 },
      { kind: 'git', name: 'repo4', url: 'ssh://git@git.example.com/dags.git', branch: null, tag: null, commit: 'a'.repeat(40), subdir: null, connId: null, refreshInterval: 15 },
    ]);
    expect(config.bundles).toEqual(config.configuredBundles);
  });

  it('does not need DAGPROC_DAGS_FOLDER to exist when bundles are configured', () => {
    env.DAGPROC_DAGS_FOLDER = 'nope';
    env.DAGPROC_BUNDLES = JSON.stringify([{ name: 'a', kind: 'local', path: 'team-a' }]);
    expect(load().bundles.map((b) => b.name)).toEqual(['a']);
  });

  const bad: [string, unknown, string | ((cwd: string) => string)][] = [
    ['not JSON', '[{name:', 'DAGPROC_BUNDLES: not valid JSON'],
    ['not a list', { name: 'a' }, 'DAGPROC_BUNDLES: must be a JSON array of bundles'],
    ['an empty list', [], 'DAGPROC_BUNDLES: must list at least one bundle'],
    ['an entry that is not an object', ['a'], 'DAGPROC_BUNDLES[0]: must be an object like {"name": ..., "kind": "local", "path": ...}'],
    ['an unknown kind', [{ name: 'a', kind: 'zip', path: 'x' }], 'DAGPROC_BUNDLES[0].kind: must be "local" or "git"'],
    ['a missing kind', [{ name: 'a', path: 'x' }], 'DAGPROC_BUNDLES[0].kind: must be "local" or "git"'],
    ['a missing name', [{ kind: 'local', path: 'team-a' }], 'DAGPROC_BUNDLES[0].name: is required'],
    [
      'a bad name',
      [{ name: 'a', kind: 'local', path: 'team-a' }, { name: 'b c', kind: 'local', path: 'team-b' }],
      'DAGPROC_BUNDLES[1].name: a bundle name is 1-200 characters of letters, digits, ".", "_" or "-", starting with a letter or digit',
    ],
    ['a missing path', [{ name: 'a', kind: 'local' }], 'DAGPROC_BUNDLES[0].path: is required'],
    ['an unknown field', [{ name: 'a', kind: 'local', path: 'team-a', branch: 'main' }], 'DAGPROC_BUNDLES[0]: Unrecognized key: "branch"'],
    [
      'a bad refresh interval',
      [{ name: 'a', kind: 'local', path: 'team-a', refreshInterval: -5 }],
      'DAGPROC_BUNDLES[0].refreshInterval: must be a whole number of seconds from 0 to 86400',
    ],
    [
      'a path that does not exist',
      [{ name: 'a', kind: 'local', path: 'team-a' }, { name: 'b', kind: 'local', path: '/x/y' }],
      'DAGPROC_BUNDLES[1].path: /x/y does not exist',
    ],
    ['a path that is a file', [{ name: 'a', kind: 'local', path: 'token' }], (d) => `DAGPROC_BUNDLES[0].path: ${d}/token is not a directory`],
    [
      'a duplicate name',
      [{ name: 'a', kind: 'local', path: 'team-a' }, { name: 'a', kind: 'local', path: 'team-b' }],
      'DAGPROC_BUNDLES[1].name: "a" is already the name of DAGPROC_BUNDLES[0]',
    ],
    [
      'two bundles over one folder',
      [{ name: 'a', kind: 'local', path: 'team-a' }, { name: 'b', kind: 'local', path: './team-a/' }],
      (d) => `DAGPROC_BUNDLES[1].path: ${d}/team-a is already the folder of bundle "a"`,
    ],
    ['a git bundle without a url', [{ name: 'g', kind: 'git' }], 'DAGPROC_BUNDLES[0].url: is required'],
    [
      'a git bundle with a bad url',
      [{ name: 'g', kind: 'git', url: 'not a url' }],
      'DAGPROC_BUNDLES[0].url: must be a repository URL (https://, ssh://, git://, file:// or user@host:path)',
    ],
    [
      'a git URL holding a password',
      [{ name: 'g', kind: 'git', url: 'https://bob:hunter2@example.com/r.git' }],
      'DAGPROC_BUNDLES[0].url: must not hold a password: put the credentials in a Connection and name it in "connId"',
    ],
    [
      'a git bundle with both a branch and a tag',
      [{ name: 'g', kind: 'git', url: 'https://example.com/r.git', branch: 'main', tag: 'v1' }],
      'DAGPROC_BUNDLES[0]: give at most one of "branch", "tag" and "commit" (got "branch" and "tag")',
    ],
    [
      'a short commit id',
      [{ name: 'g', kind: 'git', url: 'https://example.com/r.git', commit: 'abc123' }],
      'DAGPROC_BUNDLES[0].commit: must be a full commit id (40 or 64 lowercase hex digits)',
    ],
    [
      'a tag name git refuses',
      [{ name: 'g', kind: 'git', url: 'https://example.com/r.git', tag: 'v1..2' }],
      'DAGPROC_BUNDLES[0].tag: must be a tag name',
    ],
    [
      'a bad connection id',
      [{ name: 'g', kind: 'git', url: 'https://example.com/r.git', connId: 'has space' }],
      'DAGPROC_BUNDLES[0].connId: a variable key is letters, digits, ".", "_" or "-"',
    ],
    [
      'a git subdir leaving the repository',
      [{ name: 'g', kind: 'git', url: 'https://example.com/r.git', subdir: '../etc' }],
      'DAGPROC_BUNDLES[0].subdir: must be a relative POSIX path inside the repository (no "..", no leading "/")',
    ],
    [
      'a git entry with a local path',
      [{ name: 'g', kind: 'git', url: 'https://example.com/r.git', path: 'team-a' }],
      'DAGPROC_BUNDLES[0]: Unrecognized key: "path"',
    ],
  ];
  it.each(bad)('%s stops with one line naming the entry', (_label, value, expected) => {
    env.DAGPROC_BUNDLES = typeof value === 'string' ? value : JSON.stringify(value);
    expect(configError(load)).toBe(typeof expected === 'function' ? expected(cwd) : expected);
  });
});

describe('flags', () => {
  beforeEach(() => {
    mkdirSync(join(cwd, 'team-a'));
    mkdirSync(join(cwd, 'team-b'));
    env.DAGPROC_BUNDLES = JSON.stringify([
      { name: 'a', kind: 'local', path: 'team-a' },
      { name: 'b', kind: 'local', path: 'team-b' },
      { name: 'c', kind: 'local', path: 'dags' },
    ]);
  });

  it('--num-runs sets how many times each file is parsed', () => {
    expect(load(['--num-runs', '3']).numRuns).toBe(3);
    expect(load(['--num-runs=1']).numRuns).toBe(1);
  });

  it('--dry-run (or DAGPROC_DRY_RUN=true) switches persistence off and combines with the other flags', () => {
    expect(load([]).dryRun).toBe(false);
    env.DAGPROC_DRY_RUN = 'true';
    expect(load([]).dryRun).toBe(true);
    env.DAGPROC_DRY_RUN = 'false';
    expect(load([]).dryRun).toBe(false);
    const config = load(['--dry-run', '--num-runs', '1', '--bundle-name', 'a']);
    expect(config).toMatchObject({ dryRun: true, numRuns: 1, bundleNameFilter: ['a'] });
  });

  it('--bundle-name keeps only the named bundles, in configuration order, and remembers the filter', () => {
    const config = load(['--bundle-name', 'c', '--bundle-name=a', '--bundle-name', 'c']);
    expect(config.bundles.map((b) => b.name)).toEqual(['a', 'c']);
    expect(config.configuredBundles.map((b) => b.name)).toEqual(['a', 'b', 'c']);
    expect(config.bundleNameFilter).toEqual(['c', 'a']);
  });

  it('--bundle-name works on the default dags-folder bundle', () => {
    delete env.DAGPROC_BUNDLES;
    expect(load(['--bundle-name', 'dags-folder']).bundles.map((b) => b.name)).toEqual(['dags-folder']);
  });

  const bad: [string[], string][] = [
    [['--num-runs', '0'], '--num-runs: must be a whole number of at least 1 (got "0")'],
    [['--num-runs', '2.5'], '--num-runs: must be a whole number of at least 1 (got "2.5")'],
    [['--num-runs'], '--num-runs: needs a value'],
    [['--num-runs', '--bundle-name', 'a'], '--num-runs: needs a value'],
    [['--bundle-name', 'zzz'], '--bundle-name: "zzz" is not a configured bundle (configured: a, b, c)'],
    [['--bundle-name', 'a', '--bundle-name', 'b c'], '--bundle-name: a bundle name is 1-200 characters of letters, digits, ".", "_" or "-", starting with a letter or digit (got "b c")'],
    [['--verbose'], '--verbose: unknown argument (the processor takes --num-runs N, --bundle-name NAME and --dry-run)'],
    [['dags'], 'dags: unknown argument (the processor takes --num-runs N, --bundle-name NAME and --dry-run)'],
    [['--dry-run=yes'], '--dry-run: takes no value (got "--dry-run=yes")'],
  ];
  it.each(bad)('%j stops with one line naming the flag', (argv, expected) => {
    expect(configError(() => load(argv))).toBe(expected);
  });
});

describe('the processor never handles the server secrets', () => {
  // DESIGN.md: the processor runs user code, so it reads neither the database URL nor the
  // signing key. This holds for every processor source file, not only this module.
  it('no processor source outside tests names them', () => {
    const src = dirname(fileURLToPath(import.meta.url));
    const offenders: string[] = [];
    const walk = (dir: string) => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) walk(path);
        else if (/\.(ts|mts|js|mjs)$/.test(entry.name) && !entry.name.includes('.test.')) {
          if (/DAGPROC_DATABASE_URL|DAGPROC_JWT_/.test(readFileSync(path, 'utf8'))) offenders.push(relative(src, path));
        }
      }
    };
    walk(src);
    expect(offenders).toEqual([]);
  });
});
