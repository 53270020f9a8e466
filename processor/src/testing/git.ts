import { execFile, spawn } from 'node:child_process';
import { mkdir, mkdtemp, realpath, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';

/** Runs git asynchronously (a test's in-process server shares this event loop). */
export function git(args: string[], cwd?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      'git',
      args,
      {
        ...(cwd ? { cwd } : {}),
        env: {
          PATH: process.env.PATH ?? '/usr/bin:/bin',
          HOME: cwd ?? tmpdir(),
          GIT_CONFIG_NOSYSTEM: '1',
          GIT_CONFIG_GLOBAL: '/dev/null',
          GIT_AUTHOR_NAME: 'test',
          GIT_AUTHOR_EMAIL: 'test@example.com',
          GIT_COMMITTER_NAME: 'test',
          GIT_COMMITTER_EMAIL: 'test@example.com',
        },
      },
      (error, stdout, stderr) => (error ? reject(new Error(`git ${args.join(' ')}: ${stderr || error.message}`)) : resolve(stdout)),
    );
  });
}

/**
 * A repository made in a test: a working copy whose commits are pushed to a bare repository
 * `<root>/<name>.git`, which the tests clone (file:// or over the loopback HTTP server).
 */
export class TestRepo {
  private constructor(
    readonly root: string,
    readonly name: string,
    readonly work: string,
    readonly bare: string,
  ) {}

  static async create(root: string, name = 'dags'): Promise<TestRepo> {
    const work = join(root, `${name}-work`);
    const bare = join(root, `${name}.git`);
    await git(['init', '--quiet', '--bare', '--initial-branch=main', bare]);
    await git(['init', '--quiet', '--initial-branch=main', work]);
    await git(['remote', 'add', 'origin', bare], work);
    return new TestRepo(root, name, work, bare);
  }

  get fileUrl(): string {
    return pathToFileURL(this.bare).href;
  }

  /**
   * Writes (or, for null, deletes) files, commits, pushes `branch`; answers the commit. A
   * branch that does not exist yet starts from the commit checked out now.
   */
  async commit(files: Record<string, string | null>, message = 'change', branch = 'main'): Promise<string> {
    const current = (await git(['branch', '--show-current'], this.work)).trim();
    if (current !== branch) {
      const exists = await git(['rev-parse', '--verify', '--quiet', `refs/heads/${branch}`], this.work).then(() => true, () => false);
      await git(['checkout', '--quiet', ...(exists ? [] : ['-b']), branch], this.work);
    }
    for (const [path, content] of Object.entries(files)) {
      const full = join(this.work, path);
      if (content === null) await rm(full, { force: true });
      else {
        await mkdir(dirname(full), { recursive: true });
        await writeFile(full, content);
      }
    }
    await git(['add', '--all'], this.work);
    await git(['commit', '--quiet', '--allow-empty', '-m', message], this.work);
    await git(['push', '--quiet', '--force', 'origin', `${branch}:${branch}`], this.work);
    return (await git(['rev-parse', 'HEAD'], this.work)).trim();
  }

  async tag(name: string, sha: string): Promise<void> {
    await git(['tag', '--force', '-a', '-m', name, name, sha], this.work);
    await git(['push', '--quiet', '--force', 'origin', `refs/tags/${name}`], this.work);
  }
}

/** A temp folder (real path) for a test's repositories and storage. */
export async function tempDir(prefix: string): Promise<string> {
  return realpath(await mkdtemp(join(tmpdir(), prefix)));
}

export interface GitHttpServer {
  url: string;
  /** The Authorization headers the server was sent, in order (absent ones as null). */
  authorizations: (string | null)[];
  close(): Promise<void>;
}

/**
 * Git's smart HTTP protocol on loopback: a Node server running `git http-backend` as a CGI
 * program over the bare repositories in `root`, with HTTP Basic auth checked against
 * `username`/`password` (none when `password` is undefined).
 */
export async function startGitHttpServer(options: { root: string; username?: string; password?: string }): Promise<GitHttpServer> {
  const authorizations: (string | null)[] = [];
  const expected = options.password === undefined ? null : `Basic ${Buffer.from(`${options.username ?? 'user'}:${options.password}`).toString('base64')}`;
  const server = createServer((req, res) => {
    authorizations.push(req.headers.authorization ?? null);
    if (expected !== null && req.headers.authorization !== expected) {
      req.resume();
      res.writeHead(401, { 'www-authenticate': 'Basic realm="git"', 'content-type': 'text/plain' });
      res.end('authentication required\n');
      return;
    }
    runBackend(options.root, req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    authorizations,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function runBackend(root: string, req: IncomingMessage, res: ServerResponse): void {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const cgi = spawn('git', ['http-backend'], {
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      GIT_PROJECT_ROOT: root,
      GIT_HTTP_EXPORT_ALL: '1',
      GIT_CONFIG_NOSYSTEM: '1',
      GIT_CONFIG_GLOBAL: '/dev/null',
      REQUEST_METHOD: req.method ?? 'GET',
      PATH_INFO: decodeURIComponent(url.pathname),
      QUERY_STRING: url.search.slice(1),
      CONTENT_TYPE: req.headers['content-type'] ?? '',
      REMOTE_ADDR: req.socket.remoteAddress ?? '127.0.0.1',
      REMOTE_USER: 'user',
      ...(req.headers['content-encoding'] ? { HTTP_CONTENT_ENCODING: String(req.headers['content-encoding']) } : {}),
      ...(req.headers['git-protocol'] ? { GIT_PROTOCOL: String(req.headers['git-protocol']) } : {}),
    },
    stdio: ['pipe', 'pipe', 'ignore'],
  });
  req.pipe(cgi.stdin);
  let head = Buffer.alloc(0);
  let headersDone = false;
  cgi.stdout.on('data', (chunk: Buffer) => {
    if (headersDone) return void res.write(chunk);
    head = Buffer.concat([head, chunk]);
    const end = head.indexOf('\r\n\r\n');
    const endLf = head.indexOf('\n\n');
    const cut = end >= 0 ? { at: end, len: 4 } : endLf >= 0 ? { at: endLf, len: 2 } : null;
    if (!cut) return;
    headersDone = true;
    let status = 200;
    const headers: Record<string, string> = {};
    for (const line of head.subarray(0, cut.at).toString('latin1').split(/\r?\n/)) {
      const colon = line.indexOf(':');
      if (colon < 0) continue;
      const name = line.slice(0, colon).trim();
      const value = line.slice(colon + 1).trim();
      if (name.toLowerCase() === 'status') status = Number.parseInt(value, 10);
      else headers[name] = value;
    }
    res.writeHead(status, headers);
    res.write(head.subarray(cut.at + cut.len));
  });
  cgi.stdout.on('end', () => {
    if (!headersDone) res.writeHead(500);
    res.end();
  });
  cgi.on('error', () => {
    if (!res.headersSent) res.writeHead(500);
    res.end();
  });
}
