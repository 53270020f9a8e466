import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { AUDIENCE, type Audience } from '@dagproc/shared/claims';
import { createAuth } from '../auth/index.ts';
import { parseAuthConfig } from '../auth/config.ts';
import { TEST_SECRET, generateTestKey, rfc7638Thumbprint, tempDir, writePkcs8Pem } from '../auth/testing.ts';
import { provisionTokenCommand, renewalDelayMs, retryDelayMs, writeTokenFile } from './provision-token.ts';

const dir = tempDir('dagproc-provision-');
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const env = { DAGPROC_JWT_SECRET: TEST_SECRET };

async function run(argv: string[], runEnv: Record<string, string | undefined> = env, signal?: AbortSignal) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await provisionTokenCommand(argv, runEnv, { stdout: (t) => out.push(t), stderr: (t) => err.push(t), ...(signal ? { signal } : {}) });
  return { code, stdout: out.join(''), stderr: err.join('') };
}

async function verifyWith(runEnv: Record<string, string | undefined>, token: string, audience: Audience = AUDIENCE.dagProcessing) {
  const auth = await createAuth(parseAuthConfig(runEnv));
  return auth.verifier.verify(token, audience);
}

async function pollUntil<T>(what: string, probe: () => T | undefined, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const readIfExists = (path: string) => (existsSync(path) ? readFileSync(path, 'utf8') : undefined);

describe('provision-token writes a token file', () => {
  it('with mode 0600, in a directory it creates, holding a processor token the server accepts', async () => {
    const out = join(dir, 'new', 'nested', 'token');
    const { code, stdout, stderr } = await run(['--out', out, '--bundles', 'dags-folder,team-a', '--lifetime', '2h']);
    expect(code).toBe(0);
    const token = readFileSync(out, 'utf8');
    expect(statSync(out).mode & 0o777).toBe(0o600);
    expect(stdout).toBe('');
    expect(stderr).not.toContain(token);
    expect(JSON.parse(stderr.trim())).toMatchObject({ level: 'info', msg: 'token minted', component: 'provision-token', out: resolve(out) });

    const result = await verifyWith(env, token);
    expect(result.ok && result.claims).toMatchObject({ sub: 'dag-processor', scope: 'dag-processor', bundles: ['dags-folder', 'team-a'] });
    const claims = decodeJwt(token);
    expect(claims.exp! - claims.iat!).toBe(7200);
  });

  it('replacing an existing file whatever its mode, and leaving no temp file behind', async () => {
    const sub = join(dir, 'replace');
    const out = join(sub, 'token');
    await run(['--out', out]);
    writeFileSync(out, 'old token', { mode: 0o644 });
    const { code } = await run(['--out', out]);
    expect(code).toBe(0);
    expect(readFileSync(out, 'utf8')).not.toBe('old token');
    expect(statSync(out).mode & 0o777).toBe(0o600);
    expect(readdirSync(sub)).toEqual(['token']);
  });

  it('atomically: a reader never sees a partial or empty token', async () => {
    const out = join(dir, 'atomic-token');
    const versions = ['a'.repeat(50_000), 'b'.repeat(10)];
    await writeTokenFile(out, versions[0]!);
    let writing = true;
    const reads: string[] = [];
    const reader = (async () => {
      while (writing) reads.push(await readFile(out, 'utf8'));
    })();
    for (let i = 0; i < 60; i += 1) await writeTokenFile(out, versions[i % 2]!);
    writing = false;
    await reader;
    expect(reads.length).toBeGreaterThan(0);
    for (const seen of reads) expect(versions).toContain(seen);
  });

  it('signed with an asymmetric key from DAGPROC_JWT_PRIVATE_KEY_PATH, with its kid', async () => {
    const { privateKey, publicKey } = generateTestKey('ES256');
    const keyEnv = { DAGPROC_JWT_PRIVATE_KEY_PATH: writePkcs8Pem(dir, 'es256.pem', privateKey) };
    const out = join(dir, 'es-token');
    expect((await run(['--out', out], keyEnv)).code).toBe(0);
    const token = readFileSync(out, 'utf8');
    expect(decodeProtectedHeader(token)).toMatchObject({ alg: 'ES256', kid: rfc7638Thumbprint(publicKey) });
    expect((await verifyWith(keyEnv, token)).ok).toBe(true);
  });

  it('failing with exit 1 and one line when FILE cannot be written', async () => {
    const blocker = join(dir, 'a-file');
    writeFileSync(blocker, '');
    const { code, stderr } = await run(['--out', join(blocker, 'token')]);
    expect(code).toBe(1);
    expect(stderr).toMatch(/^provision-token: .*(ENOTDIR|EEXIST)/);
    expect(stderr.trim().split('\n')).toHaveLength(1);
  });
});

describe('provision-token --out -', () => {
  it('prints the token on stdout, and only then', async () => {
    const { code, stdout } = await run(['--out', '-']);
    expect(code).toBe(0);
    expect((await verifyWith(env, stdout.trim())).ok).toBe(true);
  });

  it('--for api mints a public-API token for --subject', async () => {
    const { code, stdout } = await run(['--out', '-', '--for', 'api', '--subject', 'ops@example.com']);
    expect(code).toBe(0);
    const result = await verifyWith(env, stdout.trim(), AUDIENCE.api);
    expect(result.ok && result.claims).toMatchObject({ sub: 'ops@example.com', scope: 'api', aud: ['dagproc:api'] });
    expect(decodeJwt((await run(['--out', '-', '--for', 'api'])).stdout.trim()).sub).toBe('admin');
  });
});

describe('provision-token refuses bad input with one line on stderr and exit 2', () => {
  it.each([
    [['--out', 'x', '--frobnicate'], /Unknown option '--frobnicate'/],
    [[], /--out FILE is required/],
    [['--out'], /argument missing/],
    [['--out', 'x', 'extra'], /Unexpected argument 'extra'/],
    [['--out', 'x', '--lifetime', 'soon'], /--lifetime must be a positive duration .*"soon"/],
    [['--out', 'x', '--lifetime', '0'], /--lifetime must be a positive duration/],
    [['--out', 'x', '--lifetime', '1.5h'], /--lifetime must be a positive duration/],
    [['--out', 'x', '--bundles', 'ok,../etc'], /--bundles: "\.\.\/etc" is not a bundle name/],
    [['--out', 'x', '--bundles', ''], /--bundles: "" is not a bundle name/],
    [['--out', 'x', '--for', 'root'], /--for must be processor or api/],
    [['--out', 'x', '--for', 'api', '--bundles', 'a'], /--bundles applies to processor tokens only/],
    [['--out', 'x', '--subject', 'bob'], /--subject applies to --for api tokens only/],
    [['--out', 'x', '--for', 'api', '--subject', 'two words'], /--subject must be/],
    [['--out', '-', '--watch'], /--watch needs a file/],
  ])('%j', async (argv, message) => {
    const { code, stdout, stderr } = await run(argv);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toMatch(message);
    expect(stderr.endsWith('\n') && stderr.trim().split('\n')).toHaveLength(1);
  });

  it.each([
    [{}, /needs DAGPROC_JWT_SECRET or DAGPROC_JWT_PRIVATE_KEY_PATH/],
    [{ DAGPROC_JWT_JWKS_URL: 'https://idp.example/jwks.json' }, /needs DAGPROC_JWT_SECRET or DAGPROC_JWT_PRIVATE_KEY_PATH; with only DAGPROC_JWT_JWKS_URL/],
    [{ DAGPROC_JWT_SECRET: 'too-short' }, /^provision-token: DAGPROC_JWT_SECRET: must be at least 32 bytes\n$/],
    [{ DAGPROC_JWT_PRIVATE_KEY_PATH: '/nonexistent/key.pem' }, /DAGPROC_JWT_PRIVATE_KEY_PATH: the key file cannot be read \(no such file\) \(got "\/nonexistent\/key.pem"\)/],
  ])('environment %j', async (badEnv, message) => {
    const { code, stderr } = await run(['--out', join(dir, 'never')], badEnv);
    expect(code).toBe(2);
    expect(stderr).toMatch(message);
    expect(existsSync(join(dir, 'never'))).toBe(false);
  });
});

describe('provision-token --watch', () => {
  it('re-mints before expiry and stops cleanly when told to', async () => {
    const out = join(dir, 'watched');
    const stop = new AbortController();
    const logs: string[] = [];
    const running = provisionTokenCommand(['--out', out, '--watch', '--lifetime', '2s'], env, {
      stdout: (t) => logs.push(`STDOUT ${t}`),
      stderr: (t) => logs.push(t),
      signal: stop.signal,
    });
    const first = await pollUntil('the first token', () => readIfExists(out));
    const second = await pollUntil('a re-minted token', () => {
      const current = readIfExists(out);
      return current !== undefined && current !== first ? current : undefined;
    });
    stop.abort();
    expect(await running).toBe(0);

    expect((await verifyWith(env, second)).ok).toBe(true);
    expect(decodeJwt(second).jti).not.toBe(decodeJwt(first).jti);
    expect(statSync(out).mode & 0o777).toBe(0o600);
    const minted = logs.map((line) => JSON.parse(line)).filter((entry) => entry.msg === 'token minted');
    expect(minted.length).toBeGreaterThanOrEqual(2);
    expect(minted[0]).toHaveProperty('renewsAt');
    for (const line of logs) {
      expect(line).not.toContain(first);
      expect(line).not.toContain(second);
    }
  });

  it('ends on SIGTERM with exit 0, in a real process', async () => {
    const out = join(dir, 'sigterm-token');
    const runner = join(dir, 'runner.mts');
    const command = fileURLToPath(new URL('./provision-token.ts', import.meta.url));
    writeFileSync(
      runner,
      `import { provisionTokenCommand } from ${JSON.stringify(command)};\n` +
        'process.exitCode = await provisionTokenCommand(process.argv.slice(2), process.env);\n',
    );
    const tsx = fileURLToPath(new URL('../../../node_modules/.bin/tsx', import.meta.url));
    const child = spawn(tsx, [runner, '--out', out, '--watch', '--lifetime', '1h'], {
      env: { PATH: process.env.PATH, DAGPROC_JWT_SECRET: TEST_SECRET },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const exited = new Promise<number | null>((done) => child.on('exit', (code) => done(code)));
    try {
      await pollUntil('the token file', () => readIfExists(out), 30_000);
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    } finally {
      child.kill('SIGKILL');
    }
    expect(stdout).toBe('');
    expect(stderr).toContain('"msg":"stopping","component":"provision-token","signal":"SIGTERM"');
    expect(stderr).not.toContain(readFileSync(out, 'utf8'));
  });
});

describe('renewal scheduling', () => {
  it('re-mints at 80% of the lifetime', () => {
    expect(renewalDelayMs(24 * 3600)).toBe(69_120_000);
    expect(renewalDelayMs(2)).toBe(1600);
    expect(renewalDelayMs(1)).toBe(800);
  });

  it('retries a failed re-mint after a tenth of the lifetime, between 1 s and 30 s', () => {
    expect(retryDelayMs(2)).toBe(1000);
    expect(retryDelayMs(60)).toBe(6000);
    expect(retryDelayMs(24 * 3600)).toBe(30_000);
  });
});
