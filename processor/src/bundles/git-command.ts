import { spawn } from 'node:child_process';

/** A git command failed: `reason` is git's own complaint, secrets already masked. */
export class GitCommandError extends Error {
  override name = 'GitCommandError';
  constructor(
    readonly reason: string,
    readonly exitCode: number | null,
  ) {
    super(reason);
  }
}

export interface GitRun {
  /** Arguments after `git`; never a secret (they show in `ps`). */
  args: string[];
  /** The whole environment of the git process (see `gitEnvironment`). */
  env: Record<string, string>;
  cwd?: string;
  timeoutMs: number;
  /** Strings that must never appear in an error message (a password, a key). */
  secrets?: readonly string[];
}

const MAX_OUTPUT = 4 * 1024 * 1024;

/**
 * Runs git without a shell or a terminal, killing it past `timeoutMs`. Resolves with stdout;
 * rejects with a GitCommandError whose reason is git's `fatal:`/`error:` lines.
 */
export function runGit(run: GitRun): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('git', run.args, {
      env: run.env,
      ...(run.cwd ? { cwd: run.cwd } : {}),
      stdio: ['ignore', 'pipe', 'pipe'],
      // A group of its own, so a timeout also kills what git started (ssh, a remote helper),
      // which would otherwise hold the output pipes open past it.
      detached: true,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      if (stdout.length < MAX_OUTPUT) stdout += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      if (stderr.length < MAX_OUTPUT) stderr += chunk;
    });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
    }, run.timeoutMs);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(new GitCommandError(`git could not be started: ${error.message}`, null));
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      if (code === 0 && !timedOut) return resolve(stdout);
      const command = subcommand(run.args);
      const reason = timedOut
        ? `git ${command} timed out after ${Math.max(1, Math.round(run.timeoutMs / 1000))} s`
        : summarizeGitError(stderr) || `git ${command} exited with code ${code}`;
      reject(new GitCommandError(mask(reason, run.secrets ?? []), code));
    });
  });
}

/** `fetch` of `git --git-dir X fetch ...`. */
function subcommand(args: readonly string[]): string {
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--git-dir' || args[i] === '--work-tree' || args[i] === '-C') i++;
    else if (!args[i]!.startsWith('-')) return args[i]!;
  }
  return args[0] ?? '';
}

/** git's complaint in a line or two: its fatal/error lines, else its last lines. */
export function summarizeGitError(stderr: string): string {
  const lines = stderr
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter(Boolean);
  const meaningful = lines.filter((line) => /^(fatal|error|remote|ERROR):/i.test(line) || /denied|not found|could not/i.test(line));
  const chosen = meaningful.length ? meaningful : lines.slice(-2);
  const text = [...new Set(chosen)].join('; ');
  return text.length > 1000 ? `${text.slice(0, 1000)}…` : text;
}

/** Replaces each secret (and each of its lines, for a multi-line key) with ***. */
export function mask(text: string, secrets: readonly string[]): string {
  let out = text;
  const pieces = secrets.flatMap((s) => [s, ...s.split(/\r?\n/).map((l) => l.trim())]).filter((s) => s.length >= 4);
  for (const piece of pieces.sort((a, b) => b.length - a.length)) out = out.split(piece).join('***');
  return out;
}

/** Environment variables a git process may inherit; everything else (DAGPROC_*, tokens, ...) is left behind. */
const INHERITED = ['PATH', 'LANG', 'TZ', 'TMPDIR', 'HTTPS_PROXY', 'https_proxy', 'HTTP_PROXY', 'http_proxy', 'NO_PROXY', 'no_proxy', 'ALL_PROXY', 'all_proxy', 'SSL_CERT_FILE', 'SSL_CERT_DIR', 'GIT_SSL_CAINFO', 'SSH_AUTH_SOCK'];

/**
 * The environment git runs with: only what it needs from the processor's (never its token
 * path or other DAGPROC_ settings), no prompts, no system or user git config (a credential
 * helper there could store the secret), and `home` as HOME. `config` entries go through
 * GIT_CONFIG_COUNT/KEY/VALUE, so they appear neither in `ps` nor in the repository's config.
 */
export function gitEnvironment(
  base: NodeJS.ProcessEnv,
  home: string,
  extra: Record<string, string> = {},
  config: Record<string, string> = {},
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of INHERITED) {
    const value = base[name];
    if (value !== undefined) env[name] = value;
  }
  env.PATH ??= '/usr/local/bin:/usr/bin:/bin';
  Object.assign(env, {
    HOME: home,
    XDG_CONFIG_HOME: home,
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
    GIT_TERMINAL_PROMPT: '0',
    // Git's messages in English, so a failure reason reads the same everywhere.
    LC_ALL: 'C',
    GCM_INTERACTIVE: 'never',
  });
  // An empty credential.helper resets the list: nothing may store or offer credentials.
  const entries = Object.entries({ 'credential.helper': '', 'core.askPass': '', ...config });
  entries.forEach(([key, value], index) => {
    env[`GIT_CONFIG_KEY_${index}`] = key;
    env[`GIT_CONFIG_VALUE_${index}`] = value;
  });
  env.GIT_CONFIG_COUNT = String(entries.length);
  return { ...env, ...extra };
}
