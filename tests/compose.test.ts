import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { startTestServer } from '@dagproc/server/testing/server';

/**
 * What compose.yaml wires up, checked as configuration: above all the boundary DESIGN.md
 * draws around the processor (no database URL, no signing key, a token it can only read).
 * tests/deployment.e2e.test.ts runs the same commands as processes.
 *
 * No Docker engine or compose plugin on the project's machines and no YAML package in the
 * workspace, so compose.yaml keeps to a small subset of YAML that `parseYamlSubset` reads
 * exactly, refusing anything outside it rather than guessing.
 */

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');

// --- a parser for the subset of YAML compose.yaml uses ------------------------------------

type Yaml = string | null | Yaml[] | { [key: string]: Yaml };
type YamlMap = { [key: string]: Yaml };

interface Line {
  number: number;
  indent: number;
  text: string;
}

class YamlSubsetError extends Error {
  constructor(line: number, message: string) {
    super(`compose.yaml line ${line}: ${message}`);
  }
}

/**
 * Block mappings, block sequences of scalars, plain / quoted scalars and JSON-style flow
 * sequences of strings. Scalars stay strings, as compose reads environment values anyway.
 */
function parseYamlSubset(text: string): Yaml {
  const lines: Line[] = [];
  text.split('\n').forEach((raw, i) => {
    const number = i + 1;
    const indentation = /^[ \t]*/.exec(raw)![0];
    if (indentation.includes('\t')) throw new YamlSubsetError(number, 'tab in indentation');
    const content = stripComment(raw, number).trimEnd();
    if (content.trim() === '') return;
    lines.push({ number, indent: indentation.length, text: content.slice(indentation.length) });
  });
  if (lines.length === 0) return null;
  const [value, next] = parseBlock(lines, 0, lines[0]!.indent);
  if (next < lines.length) throw new YamlSubsetError(lines[next]!.number, 'unexpected indentation');
  return value;
}

function parseBlock(lines: Line[], start: number, indent: number): [Yaml, number] {
  const isSequence = lines[start]!.text === '-' || lines[start]!.text.startsWith('- ');
  const sequence: Yaml[] = [];
  const mapping: YamlMap = {};
  let i = start;
  while (i < lines.length && lines[i]!.indent >= indent) {
    const line = lines[i]!;
    if (line.indent > indent) throw new YamlSubsetError(line.number, 'unexpected indentation');
    if (isSequence) {
      if (!line.text.startsWith('- ')) throw new YamlSubsetError(line.number, 'expected a "- " list item');
      const item = line.text.slice(2).trim();
      if (/^[\w.-]+:( |$)/.test(item)) throw new YamlSubsetError(line.number, 'lists of mappings are outside the subset');
      sequence.push(parseScalar(item, line.number));
      i++;
      continue;
    }
    const match = /^([A-Za-z0-9_.-]+):(?: (.*))?$/.exec(line.text);
    if (!match) throw new YamlSubsetError(line.number, `expected "key: value" (got ${JSON.stringify(line.text)})`);
    const key = match[1]!;
    if (Object.hasOwn(mapping, key)) throw new YamlSubsetError(line.number, `duplicate key ${key}`);
    const rest = match[2]?.trim() ?? '';
    i++;
    if (rest !== '') {
      mapping[key] = parseScalar(rest, line.number);
    } else if (i < lines.length && lines[i]!.indent > indent) {
      [mapping[key], i] = parseBlock(lines, i, lines[i]!.indent);
    } else {
      if (i < lines.length && lines[i]!.indent === indent && lines[i]!.text.startsWith('- ')) {
        throw new YamlSubsetError(lines[i]!.number, `indent the list under ${key}`);
      }
      mapping[key] = null;
    }
  }
  return [isSequence ? sequence : mapping, i];
}

function parseScalar(text: string, line: number): Yaml {
  if (text.startsWith('"')) {
    try {
      return JSON.parse(text) as string;
    } catch {
      throw new YamlSubsetError(line, `a double-quoted string outside the JSON subset: ${text}`);
    }
  }
  if (text.startsWith("'")) {
    if (!/^'(?:[^']|'')*'$/.test(text)) throw new YamlSubsetError(line, `bad single-quoted string: ${text}`);
    return text.slice(1, -1).replaceAll("''", "'");
  }
  if (text.startsWith('[')) {
    let list: unknown;
    try {
      list = JSON.parse(text);
    } catch {
      throw new YamlSubsetError(line, `flow lists must be JSON arrays of strings: ${text}`);
    }
    if (!Array.isArray(list) || !list.every((item) => typeof item === 'string')) {
      throw new YamlSubsetError(line, `flow lists must be JSON arrays of strings: ${text}`);
    }
    return list as string[];
  }
  if (/^[{&*!|>%@`]/.test(text)) throw new YamlSubsetError(line, `outside the subset (flow mappings, anchors, tags, block scalars): ${text}`);
  if (/: |:$/.test(text)) throw new YamlSubsetError(line, `a plain scalar may not hold ": " (quote it): ${text}`);
  return text;
}

/** Drops a `#` comment: at the start of a line or after whitespace, outside quotes. */
function stripComment(raw: string, line: number): string {
  let quote: '"' | "'" | null = null;
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i]!;
    if (quote === '"') {
      if (c === '\\') i++;
      else if (c === '"') quote = null;
    } else if (quote === "'") {
      if (c === "'") quote = null;
    } else if (c === '"' || c === "'") {
      // A quote opens a string only where a scalar may start; an apostrophe inside a word is text.
      if (i === 0 || /[\s:[,-]/.test(raw[i - 1]!)) quote = c;
    } else if (c === '#' && (i === 0 || /\s/.test(raw[i - 1]!))) {
      return raw.slice(0, i);
    }
  }
  if (quote !== null) throw new YamlSubsetError(line, 'unterminated quoted string');
  return raw;
}

// --- compose's variable interpolation ------------------------------------------------------

interface Interpolation {
  name: string;
  /** `:?` (required, with an error message), `:-` (default), or none. */
  kind: 'required' | 'default' | 'plain';
  argument: string;
}

/** Every `${NAME...}` / `$NAME` in a string; `$$` is a literal `$`. Anything else is refused. */
function interpolations(value: string): Interpolation[] {
  const found: Interpolation[] = [];
  for (let i = value.indexOf('$'); i >= 0; i = value.indexOf('$', i)) {
    const rest = value.slice(i);
    let match: RegExpExecArray | null;
    if (rest.startsWith('$$')) {
      i += 2;
    } else if ((match = /^\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:\?|:-)([^}]*))?\}/.exec(rest))) {
      found.push({ name: match[1]!, kind: match[2] === ':?' ? 'required' : match[2] === ':-' ? 'default' : 'plain', argument: match[3] ?? '' });
      i += match[0].length;
    } else if ((match = /^\$([A-Za-z_][A-Za-z0-9_]*)/.exec(rest))) {
      found.push({ name: match[1]!, kind: 'plain', argument: '' });
      i += match[0].length;
    } else {
      throw new Error(`compose.yaml: "${value}" has a "$" compose would not read as intended (write "$$" for a literal "$")`);
    }
  }
  return found;
}

function scalars(value: Yaml): string[] {
  if (value === null) return [];
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.flatMap(scalars);
  return Object.entries(value).flatMap(([key, v]) => [key, ...scalars(v)]);
}

// --- reading compose.yaml ------------------------------------------------------------------

const compose = parseYamlSubset(read('compose.yaml')) as YamlMap;
const services = compose.services as Record<string, YamlMap>;

function service(name: string): YamlMap {
  const found = services[name];
  if (!found) throw new Error(`compose.yaml has no service ${name}`);
  return found;
}

function environment(name: string): Record<string, string> {
  const env = service(name).environment ?? {};
  if (typeof env !== 'object' || Array.isArray(env)) throw new Error(`${name}.environment: use the mapping form`);
  return env as Record<string, string>;
}

function list(name: string, key: string): string[] {
  const value = service(name)[key] ?? [];
  if (!Array.isArray(value)) throw new Error(`${name}.${key}: expected a list`);
  return value as string[];
}

/** Short-syntax volumes as `{ source, target, readOnly }`. */
function volumes(name: string) {
  return list(name, 'volumes').map((spec) => {
    const [source, target, mode, ...extra] = spec.split(':');
    if (!source || !target || extra.length > 0) throw new Error(`${name}.volumes: cannot read ${JSON.stringify(spec)}`);
    return { source, target, readOnly: (mode ?? '').split(',').includes('ro') };
  });
}

function dependsOn(name: string): Record<string, string> {
  const deps = (service(name).depends_on ?? {}) as Record<string, { condition?: string } | null>;
  if (Array.isArray(deps)) throw new Error(`${name}.depends_on: use the long form, with a condition`);
  return Object.fromEntries(Object.entries(deps).map(([dep, spec]) => [dep, spec?.condition ?? 'service_started']));
}

/** The networks a service is attached to; none with `network_mode: none`. */
function networks(name: string): string[] {
  const svc = service(name);
  if (svc.network_mode === 'none') return [];
  if (svc.network_mode !== undefined) throw new Error(`${name}.network_mode: only "none" is expected`);
  return svc.networks === undefined ? ['default'] : (svc.networks as string[]);
}

function healthcheck(name: string): string[] {
  const test = (service(name).healthcheck as YamlMap | undefined)?.test;
  if (!Array.isArray(test) || test[0] !== 'CMD') throw new Error(`${name}.healthcheck.test: expected ["CMD", ...]`);
  return (test as string[]).slice(1);
}

function command(name: string): string[] {
  const cmd = service(name).command;
  if (!Array.isArray(cmd)) throw new Error(`${name}.command: expected the exec (list) form`);
  return cmd as string[];
}

/** The words of a `sh -c` script or of an exec-form command. */
function commandWords(name: string): string[] {
  const cmd = command(name);
  return cmd[0] === 'sh' && cmd[1] === '-c' ? cmd[2]!.split(/\s+/) : cmd;
}

function flagValue(words: string[], flag: string): string | undefined {
  const at = words.indexOf(flag);
  return at >= 0 ? words[at + 1] : undefined;
}

function isInside(path: string, dir: string): boolean {
  const rel = posix.relative(dir, path);
  return rel !== '' && !rel.startsWith('..') && !posix.isAbsolute(rel);
}

const SERVICES = ['postgres', 'init', 'token-refresher', 'api-server', 'dag-processor'];
const SIGNING = /^DAGPROC_JWT_/;

// --- compose.yaml ----------------------------------------------------------------------------

describe('compose.yaml', () => {
  it('defines the quick start: Postgres, init, the token refresher, the API server and the DAG processor', () => {
    expect(Object.keys(services).sort()).toEqual([...SERVICES].sort());
  });

  describe('the processor', () => {
    it('gets only the API URL, its token path and its DAGs folder', () => {
      expect(Object.keys(environment('dag-processor')).sort()).toEqual(['DAGPROC_API_TOKEN_PATH', 'DAGPROC_API_URL', 'DAGPROC_DAGS_FOLDER']);
      expect(environment('dag-processor').DAGPROC_API_URL).toBe('http://api-server:8080');
      for (const key of ['env_file', 'secrets', 'configs', 'volumes_from', 'extends']) expect(service('dag-processor')).not.toHaveProperty(key);
    });

    it('has no database URL, no signing setting and no Postgres password anywhere in its service', () => {
      const everything = scalars(service('dag-processor')).join('\n');
      expect(everything).not.toMatch(/DATABASE_URL|DAGPROC_JWT_|POSTGRES_PASSWORD|DAGPROC_DATA_DIR|postgres:\/\//);
      expect(Object.keys(environment('dag-processor')).filter((k) => SIGNING.test(k))).toEqual([]);
    });

    it('mounts the token volume and its DAGs read-only, nothing writable', () => {
      const env = environment('dag-processor');
      const mounts = volumes('dag-processor');
      expect(mounts.filter((m) => !m.readOnly)).toEqual([]);
      const tokenMount = mounts.find((m) => isInside(env.DAGPROC_API_TOKEN_PATH!, m.target));
      expect(tokenMount, 'a mount holding DAGPROC_API_TOKEN_PATH').toMatchObject({ source: 'token', readOnly: true });
      expect(mounts).toContainEqual({ source: './dags', target: env.DAGPROC_DAGS_FOLDER, readOnly: true });
    });

    it('cannot reach Postgres on the network', () => {
      expect(networks('dag-processor').filter((n) => networks('postgres').includes(n))).toEqual([]);
      expect(networks('dag-processor').filter((n) => networks('api-server').includes(n)), 'a network shared with the server').not.toEqual([]);
    });

    it('starts once init has completed and the API server is healthy, and is restarted when it exits', () => {
      expect(dependsOn('dag-processor')).toMatchObject({ 'api-server': 'service_healthy', init: 'service_completed_successfully' });
      expect(command('dag-processor')).toEqual(['pnpm', 'start:processor']);
      // A processor that finds no token file exits 2 (tests/deployment.e2e.test.ts); compose brings it back.
      expect(service('dag-processor').restart).toBe('unless-stopped');
    });

    it('checks itself with `pnpm dagproc jobs check --job-type DagProcessorJob --local`, as Airflow\'s probe does', () => {
      expect(healthcheck('dag-processor')).toEqual(['pnpm', 'dagproc', 'jobs', 'check', '--job-type', 'DagProcessorJob', '--local']);
    });
  });

  describe('the signing secret and the database URL', () => {
    it('the secret reaches init, the token minter and the server, and no one else', () => {
      const holders = SERVICES.filter((name) => Object.keys(environment(name)).some((k) => SIGNING.test(k)));
      expect(holders.sort()).toEqual(['api-server', 'init', 'token-refresher']);
    });

    it('comes from a required variable, never a value in the file', () => {
      for (const name of ['init', 'token-refresher', 'api-server']) {
        const secret = environment(name).DAGPROC_JWT_SECRET;
        expect(secret, `${name}: DAGPROC_JWT_SECRET`).toBeDefined();
        expect(interpolations(secret!), `${name}: DAGPROC_JWT_SECRET`).toEqual([
          { name: 'DAGPROC_JWT_SECRET', kind: 'required', argument: expect.stringMatching(/\S/) },
        ]);
        expect(secret).toMatch(/^\$\{[^}]*\}$/);
      }
    });

    it('the database URL reaches init and the server only, and names the postgres service', () => {
      const holders = SERVICES.filter((name) => environment(name).DAGPROC_DATABASE_URL !== undefined);
      expect(holders.sort()).toEqual(['api-server', 'init']);
      const pg = environment('postgres');
      const expected = `postgres://${pg.POSTGRES_USER}:${pg.POSTGRES_PASSWORD}@postgres:5432/${pg.POSTGRES_DB}`;
      expect(environment('init').DAGPROC_DATABASE_URL).toBe(expected);
      expect(environment('api-server').DAGPROC_DATABASE_URL).toBe(expected);
    });

    it('the Postgres password is a variable (with a local-only default), not a bare value', () => {
      expect(interpolations(environment('postgres').POSTGRES_PASSWORD!)).toEqual([
        { name: 'POSTGRES_PASSWORD', kind: expect.stringMatching(/^(required|default)$/), argument: expect.any(String) },
      ]);
    });

    it('interpolates only in forms compose reads, and only these variables', () => {
      const names = new Set(scalars(compose).flatMap((s) => interpolations(s).map((i) => i.name)));
      expect([...names].sort()).toEqual(['DAGPROC_JWT_SECRET', 'DAGPROC_SECRET_KEY', 'POSTGRES_PASSWORD']);
    });
  });

  describe('start-up order and the token', () => {
    it('Postgres keeps its data in a named volume and is checked with pg_isready over TCP', () => {
      expect(service('postgres').image).toMatch(/^postgres:15(\.|$)/);
      const data = volumes('postgres').find((m) => m.target === '/var/lib/postgresql/data');
      expect(data && Object.hasOwn(compose.volumes as YamlMap, data.source), 'a named volume for the data').toBe(true);
      const check = healthcheck('postgres');
      expect(check[0]).toBe('pg_isready');
      expect(flagValue(check, '-h')).toBe('127.0.0.1');
    });

    it('init migrates, then mints, once Postgres is healthy; the API server and the refresher wait for it to complete', () => {
      expect(dependsOn('init')).toEqual({ postgres: 'service_healthy' });
      expect(service('init').restart).toBe('no');
      const script = command('init');
      expect(script.slice(0, 2)).toEqual(['sh', '-c']);
      expect(script[2]).toMatch(/^pnpm dagproc db migrate && pnpm dagproc provision-token --out \S+$/);
      expect(dependsOn('api-server')).toMatchObject({ init: 'service_completed_successfully' });
      expect(dependsOn('token-refresher')).toMatchObject({ init: 'service_completed_successfully' });
    });

    it('init and the token refresher write, into the shared volume, the file the processor reads', () => {
      const tokenPath = environment('dag-processor').DAGPROC_API_TOKEN_PATH!;
      for (const name of ['init', 'token-refresher']) {
        const words = commandWords(name);
        expect(flagValue(words, '--out'), `${name} --out`).toBe(tokenPath);
        const mount = volumes(name).find((m) => isInside(tokenPath, m.target));
        expect(mount, `${name}: a writable mount of the token volume`).toMatchObject({ source: 'token', readOnly: false });
      }
      expect(Object.hasOwn(compose.volumes as YamlMap, 'token')).toBe(true);
      expect(commandWords('token-refresher')).toContain('--watch');
      expect(service('token-refresher').restart).toBe('unless-stopped');
    });

    it('the token refresher holds the secret but no network and no database URL', () => {
      expect(networks('token-refresher')).toEqual([]);
      expect(Object.keys(environment('token-refresher'))).toEqual(['DAGPROC_JWT_SECRET']);
    });

    it('the server listens on its container network and publishes the API on loopback only', () => {
      expect(environment('api-server').DAGPROC_HOST).toBe('0.0.0.0');
      expect(environment('api-server').DAGPROC_PORT ?? '8080').toBe(new URL(environment('dag-processor').DAGPROC_API_URL!).port);
      expect(command('api-server')).toEqual(['pnpm', 'start:server']);
      for (const port of list('api-server', 'ports')) expect(port).toMatch(/^127\.0\.0\.1:/);
    });

    it('Postgres sits on an internal network', () => {
      const [pgNetwork] = networks('postgres');
      expect((compose.networks as Record<string, YamlMap>)[pgNetwork!]?.internal).toBe('true');
    });
  });

  it('every service has a health check', () => {
    for (const name of SERVICES) expect(() => healthcheck(name), name).not.toThrow();
  });

  it("init's health check, a one-shot's: the token file is there and not empty", () => {
    expect(healthcheck('init')).toEqual(['test', '-s', environment('dag-processor').DAGPROC_API_TOKEN_PATH]);
  });

  it("the token refresher's health check passes while the token has more than a tenth of its lifetime left", async () => {
    const [program, flag, script, path, ...extra] = healthcheck('token-refresher');
    expect([program, flag, path, extra]).toEqual(['node', '-e', environment('dag-processor').DAGPROC_API_TOKEN_PATH, []]);
    expect(interpolations(script!)).toEqual([]);
    const dir = mkdtempSync(join(tmpdir(), 'dagproc-refresher-check-'));
    const runCheck = (file: string) =>
      new Promise<number>((resolve) => {
        execFile(process.execPath, ['-e', script!, file], { env: { PATH: process.env.PATH ?? '' }, timeout: 15_000 }, (error) =>
          resolve(error ? (typeof error.code === 'number' ? error.code : -1) : 0),
        );
      });
    const tokenFile = (lifetimeSeconds: number, ageSeconds: number) => {
      // The check reads the claims only (the refresher wrote the file), so the signature is a stand-in.
      const iat = Math.floor(Date.now() / 1000) - ageSeconds;
      const part = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
      const token = `${part({ alg: 'HS512' })}.${part({ sub: 'dag-processor', iat, exp: iat + lifetimeSeconds })}.c2lnbmF0dXJl`;
      const file = join(dir, `${lifetimeSeconds}-${ageSeconds}.token`);
      writeFileSync(file, token);
      return file;
    };
    try {
      expect(await runCheck(tokenFile(86_400, 0))).toBe(0); // just minted
      expect(await runCheck(tokenFile(86_400, 70_000))).toBe(0); // past the 80% re-mint, still fresh enough
      expect(await runCheck(tokenFile(86_400, 80_000))).toBe(1); // re-minting has been failing for hours
      expect(await runCheck(tokenFile(3_600, 7_200))).toBe(1); // expired
      expect(await runCheck(join(dir, 'missing.token'))).toBe(1);
      writeFileSync(join(dir, 'garbage.token'), 'not a token');
      expect(await runCheck(join(dir, 'garbage.token'))).toBe(1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("the API server's health check exits 0 on a healthy server and 1 when the database or the server is gone", async () => {
    const [program, flag, script, ...extra] = healthcheck('api-server');
    expect([program, flag, extra]).toEqual(['node', '-e', []]);
    expect(script).toContain('/dag-processing/health');
    expect(interpolations(script!)).toEqual([]);
    const runCheck = (port: string) =>
      new Promise<number>((resolve) => {
        execFile(process.execPath, ['-e', script!], { env: { PATH: process.env.PATH ?? '', DAGPROC_PORT: port }, timeout: 15_000 }, (error) =>
          resolve(error ? (typeof error.code === 'number' ? error.code : -1) : 0),
        );
      });

    const ts = await startTestServer();
    const port = new URL(ts.url).port;
    try {
      expect(await runCheck(port)).toBe(0);
      await ts.testDb.database.close();
      expect(await runCheck(port)).toBe(1);
    } finally {
      await ts.close().catch(() => {});
    }
    expect(await runCheck(port)).toBe(1);
  });

  it('every DAGPROC_ setting it uses is read by the code', () => {
    const used = new Set(scalars(compose).flatMap((s) => s.match(/DAGPROC_[A-Z0-9_]+/g) ?? []));
    expect(used.size).toBeGreaterThan(0);
    for (const name of used) expect(settingsReadByCode().has(name), `${name} is read by the code`).toBe(true);
  });

  it('the subset parser refuses what it does not read', () => {
    expect(() => parseYamlSubset('a: &x 1\n')).toThrow(/anchors/);
    expect(() => parseYamlSubset('a:\n  - b: 1\n')).toThrow(/lists of mappings/);
    expect(() => parseYamlSubset('a: 1\na: 2\n')).toThrow(/duplicate key a/);
    expect(() => parseYamlSubset('a: |\n  x\n')).toThrow(/block scalars/);
    expect(() => interpolations('echo $(date)')).toThrow(/\$\$/);
    expect(parseYamlSubset('a: "x # y" # z\nb:\n  - \'it\'\'s\'\n  - [ "p" ]\n')).toEqual({ a: 'x # y', b: ["it's", ['p']] });
  });
});

// --- the README's configuration table -------------------------------------------------------

/** Every DAGPROC_ name in the source that ships (not tests): what the code can read. */
function settingsReadByCode(): Set<string> {
  const walk = (dir: string): string[] =>
    readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((entry) =>
      entry.isDirectory() ? walk(`${dir}/${entry.name}`) : /\.m?ts$/.test(entry.name) && !/\.test\.ts$/.test(entry.name) ? [`${dir}/${entry.name}`] : [],
    );
  const files = ['shared/src', 'server/src', 'processor/src'].flatMap(walk).filter((path) => !path.includes('/testing/'));
  return new Set(files.flatMap((path) => read(path).match(/DAGPROC_[A-Z0-9_]+/g) ?? []));
}

describe("the README's configuration table", () => {
  const readme = read('README.md');
  const section = /^## Configuration\n([\s\S]*?)(?=^## )/m.exec(readme)?.[1] ?? '';
  const rows = section.split('\n').filter((line) => /^\| `DAGPROC_/.test(line));
  const documented = new Set(rows.flatMap((row) => row.split('|')[1]!.match(/DAGPROC_[A-Z0-9_]+/g) ?? []));

  it('has a row for every DAGPROC_ setting the code reads', () => {
    expect(rows.length).toBeGreaterThan(0);
    const missing = [...settingsReadByCode()].filter((name) => !documented.has(name)).sort();
    expect(missing, 'settings without a row in README.md\'s "## Configuration" table').toEqual([]);
  });

  it('has no row for a setting the code does not read', () => {
    const read = settingsReadByCode();
    expect([...documented].filter((name) => !read.has(name)).sort()).toEqual([]);
  });
});

// --- Dockerfile and .dockerignore ------------------------------------------------------------

describe('Dockerfile', () => {
  const lines = read('Dockerfile')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));

  /** The stages, in order: `FROM image AS name` and the instructions under it. */
  const stages = lines.reduce<{ from: string; name: string; lines: string[] }[]>((all, line) => {
    const from = /^FROM (\S+)(?: AS (\S+))?$/i.exec(line);
    if (from) all.push({ from: from[1]!, name: from[2] ?? '', lines: [] });
    else all.at(-1)?.lines.push(line);
    return all;
  }, []);
  const stage = (name: string) => stages.find((s) => s.name === name)!;
  const final = stages.at(-1)!;
  const manifest = (path: string) =>
    JSON.parse(read(path)) as { packageManager?: string; scripts?: Record<string, string>; dependencies?: Record<string, string> };

  it("is multi-stage on node:20-bookworm-slim, with the pnpm of package.json's packageManager", () => {
    expect(stages.map((s) => `${s.from} AS ${s.name}`)).toEqual(['node:20-bookworm-slim AS base', 'base AS deps', 'base AS runtime']);
    const [, version] = /^pnpm@(\d+\.\d+\.\d+)$/.exec(manifest('package.json').packageManager ?? '') ?? [];
    expect(stage('base').lines).toContain(`ARG PNPM_VERSION=${version}`);
    expect(stage('base').lines).toContain('RUN npm install -g "pnpm@${PNPM_VERSION}" && npm cache clean --force');
  });

  it('installs production dependencies only, from the lockfile and every workspace manifest', () => {
    const deps = stage('deps').lines;
    const install = deps.indexOf('RUN pnpm install --frozen-lockfile --prod');
    expect(install).toBeGreaterThan(0);
    expect(lines.filter((l) => /pnpm (install|i|add)\b/.test(l))).toEqual(['RUN pnpm install --frozen-lockfile --prod']);
    const packagesSection = /^packages:\n((?: {2}- .*\n)+)/m.exec(read('pnpm-workspace.yaml'))?.[1] ?? '';
    const packages = packagesSection.trim().split('\n').map((l) => l.replace(/^\s*- /, '').trim());
    expect(packages.length).toBeGreaterThan(0);
    const copied = deps.slice(0, install).filter((l) => l.startsWith('COPY ')).join('\n');
    for (const file of ['package.json', 'pnpm-lock.yaml', 'pnpm-workspace.yaml', ...packages.map((p) => `${p}/package.json`)]) {
      expect(copied, file).toMatch(new RegExp(`(^|\\s)${file.replaceAll('.', '\\.')}(\\s|$)`, 'm'));
    }
    expect(copied).not.toMatch(/^COPY \. /m);
  });

  it('the final stage takes the installed modules from deps, then the sources, and installs nothing itself', () => {
    expect(final.lines.slice(0, 3)).toEqual(['ENV NODE_ENV=production', 'COPY --from=deps /app/ ./', 'COPY . .']);
    expect(final.lines.filter((l) => l.startsWith('RUN ')).every((l) => !/pnpm|npm/.test(l))).toBe(true);
  });

  it('what the services run needs only production dependencies: tsx is one, and no shipped file imports a dev dependency', () => {
    const root = manifest('package.json');
    for (const script of ['start', 'start:server', 'start:processor', 'dagproc']) {
      const [program] = root.scripts![script]!.split(' ');
      expect(Object.keys(root.dependencies ?? {}), `${script}: ${program} is a production dependency`).toContain(program);
    }
    for (const pkg of ['shared', 'server', 'processor']) {
      const allowed = new Set(Object.keys(manifest(`${pkg}/package.json`).dependencies ?? {}));
      const walk = (dir: string): string[] =>
        readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((entry) =>
          entry.isDirectory() ? walk(`${dir}/${entry.name}`) : /\.ts$/.test(entry.name) && !/\.test\.ts$/.test(entry.name) ? [`${dir}/${entry.name}`] : [],
        );
      for (const file of walk(`${pkg}/src`).filter((f) => !f.includes('/testing/') && !f.endsWith('/testing.ts'))) {
        const source = read(file);
        // Type-only imports are erased when tsx runs the file; everything else loads at runtime.
        const specifiers = [
          ...source.matchAll(/^\s*(?:import|export)\s+(?!type\s)(?:[^'";]*?\sfrom\s+)?['"]([^'"]+)['"]/gm),
          ...source.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g),
        ].map((m) => m[1]!);
        for (const specifier of specifiers) {
          if (specifier.startsWith('.') || specifier.startsWith('node:')) continue;
          const name = specifier.startsWith('@') ? specifier.split('/').slice(0, 2).join('/') : specifier.split('/')[0]!;
          expect(allowed.has(name), `${file} imports ${specifier}: not in ${pkg}/package.json "dependencies"`).toBe(true);
        }
      }
    }
  });

  it('runs as a non-root user who owns the token mount point', () => {
    const users = final.lines.filter((l) => l.startsWith('USER '));
    const user = users.at(-1)?.slice(5);
    expect(user).toBeDefined();
    expect(['root', '0']).not.toContain(user);
    // compose.yaml's token volume is seeded from this directory of the image.
    const tokenDir = posix.dirname(environment('dag-processor').DAGPROC_API_TOKEN_PATH!);
    const prepare = `mkdir -p ${tokenDir} && chown ${user}:${user} ${tokenDir} && chmod 0700 ${tokenDir}`;
    expect(final.lines.slice(0, final.lines.indexOf(`USER ${user}`))).toContain(`RUN ${prepare}`);
  });
});

describe('.dockerignore', () => {
  const patterns = read('.dockerignore')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));

  /** Docker's rule: the last matching pattern wins; a pattern excludes a directory's contents too. */
  const excluded = (path: string) => {
    let out = false;
    const prefixes = path.split('/').map((_, i, parts) => parts.slice(0, i + 1).join('/'));
    for (const raw of patterns) {
      const negated = raw.startsWith('!');
      const pattern = globToRegExp(raw.slice(negated ? 1 : 0).replace(/^\//, '').replace(/\/$/, ''));
      if (negated ? pattern.test(path) : prefixes.some((p) => pattern.test(p))) out = !negated;
    }
    return out;
  };

  it('keeps secrets, host modules and the tests out of the build context', () => {
    for (const path of ['.env', '.env.local', '.dagproc/jwt-secret', '.dagproc/secret-key', '.dagproc/processor.token', 'node_modules/tsx/package.json', 'server/node_modules/hono/package.json', '.git/config', 'tests/lifecycle.e2e.test.ts', 'tests/helpers/poll.ts']) {
      expect(excluded(path), path).toBe(true);
    }
  });

  it('keeps everything the image runs', () => {
    const walk = (dir: string): string[] =>
      readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((entry) =>
        entry.name === 'node_modules' ? [] : entry.isDirectory() ? walk(`${dir}/${entry.name}`) : [`${dir}/${entry.name}`],
      );
    const needed = [
      'package.json', 'pnpm-lock.yaml', 'pnpm-workspace.yaml', 'tsconfig.json', 'tests/package.json',
      ...['shared', 'server', 'processor'].flatMap((p) => [`${p}/package.json`, ...walk(`${p}/src`)]),
      ...walk('drizzle'),
      ...walk('dags'),
    ];
    expect(needed.filter(excluded)).toEqual([]);
  });
});

function globToRegExp(glob: string): RegExp {
  let source = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*' && glob[i + 1] === '*') {
      source += glob[i + 2] === '/' ? '(?:.*/)?' : '.*';
      i += glob[i + 2] === '/' ? 2 : 1;
    } else if (c === '*') source += '[^/]*';
    else if (c === '?') source += '[^/]';
    else source += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${source}$`);
}
