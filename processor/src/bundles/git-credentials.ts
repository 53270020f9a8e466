import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ConnectionResponse } from '@dagproc/shared/schemas/execution';

/** How git reaches a repository URL, which decides what a Connection's fields mean. */
export type GitTransport = 'http' | 'ssh' | 'local';

export function transportOf(url: string): GitTransport {
  if (/^https?:\/\//i.test(url)) return 'http';
  if (/^ssh:\/\//i.test(url) || /^[\w.-]+@[\w.-]+:/.test(url)) return 'ssh';
  return 'local'; // file:// and git:// take no credentials
}

/** What one git command needs for credentials; `dispose()` removes any key written for it. */
export interface GitCredentials {
  /** Environment entries for the git process (never arguments: those show in `ps`). */
  env: Record<string, string>;
  /** The secret values, so error messages can be masked. */
  secrets: string[];
  dispose(): Promise<void>;
}

export const NO_CREDENTIALS: GitCredentials = { env: {}, secrets: [], dispose: async () => {} };

/**
 * Answers git's username and password prompts from its own environment. It holds no secret:
 * git runs it with GIT_BUNDLE_USERNAME/GIT_BUNDLE_PASSWORD set for that one command, so the
 * password reaches git through a pipe, never the command line, a URL or the repository config.
 */
export const ASKPASS_SCRIPT = `#!/bin/sh
case "$1" in
  Username*) printf '%s\\n' "$GIT_BUNDLE_USERNAME" ;;
  *) printf '%s\\n' "$GIT_BUNDLE_PASSWORD" ;;
esac
`;

export type StrictHostKeyChecking = 'yes' | 'no' | 'accept-new';

export interface CredentialPaths {
  /** The askpass script (written by the bundle at start, mode 0700). */
  askpass: string;
  /** A private (0700) folder under which one-command temp folders are made. */
  tmpDir: string;
  /** The bundle's own known_hosts, used when the Connection gives none. */
  knownHosts: string;
  /** The ssh program; a test points it at a stand-in. */
  sshProgram: string;
}

/**
 * Turns a Connection into git credentials for `url`, as Airflow's GitHook reads a git
 * Connection: https takes `login` (default "user") and `password` (a token); ssh takes a
 * private key in `extra.private_key` (or a key file path in `extra.key_file`),
 * `extra.known_hosts` and `extra.strict_host_key_checking`. A file:// or git:// URL takes none.
 * `connection` is null when the bundle names none.
 */
export async function gitCredentials(url: string, connection: ConnectionResponse | null, paths: CredentialPaths): Promise<GitCredentials> {
  const transport = transportOf(url);
  if (transport === 'http') {
    if (!connection?.password) return NO_CREDENTIALS;
    return {
      env: {
        GIT_ASKPASS: paths.askpass,
        GIT_BUNDLE_USERNAME: connection.login || 'user',
        GIT_BUNDLE_PASSWORD: connection.password,
      },
      secrets: [connection.password],
      dispose: async () => {},
    };
  }
  if (transport !== 'ssh') return NO_CREDENTIALS;

  // Over ssh the command is always ours (batch mode, the bundle's known_hosts), with or
  // without a Connection; without one, ssh uses its agent or default keys.
  const extra = connection?.extra ?? {};
  const privateKey = stringField(extra, 'private_key');
  const keyFile = stringField(extra, 'key_file');
  const knownHostsText = stringField(extra, 'known_hosts');
  const strict = strictness(extra.strict_host_key_checking, knownHostsText !== null);
  // A folder of its own per command: the key lives only while git runs, readable only by us.
  const dir = await mkdtemp(join(paths.tmpDir, 'ssh-'));
  try {
    let identity = keyFile;
    if (privateKey) {
      identity = join(dir, 'key');
      // ssh refuses a key without its final newline.
      await writeFile(identity, privateKey.endsWith('\n') ? privateKey : `${privateKey}\n`, { mode: 0o600 });
      await chmod(identity, 0o600);
    }
    let knownHosts = paths.knownHosts;
    if (knownHostsText) {
      knownHosts = join(dir, 'known_hosts');
      await writeFile(knownHosts, knownHostsText.endsWith('\n') ? knownHostsText : `${knownHostsText}\n`, { mode: 0o600 });
    }
    return {
      env: { GIT_SSH_COMMAND: sshCommand({ program: paths.sshProgram, identity, knownHosts, strict }), GIT_SSH_VARIANT: 'ssh' },
      secrets: privateKey ? [privateKey] : [],
      dispose: () => rm(dir, { recursive: true, force: true }),
    };
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}

/** The GIT_SSH_COMMAND line (git runs it through a shell, so every path is quoted). */
export function sshCommand(options: { program: string; identity: string | null; knownHosts: string; strict: StrictHostKeyChecking }): string {
  const parts = [shellQuote(options.program)];
  if (options.identity) parts.push('-i', shellQuote(options.identity), '-o', 'IdentitiesOnly=yes');
  parts.push(
    '-o', `StrictHostKeyChecking=${options.strict}`,
    '-o', `UserKnownHostsFile=${shellQuote(options.knownHosts)}`,
    // Never a prompt (passphrase, password, host key question): fail instead.
    '-o', 'BatchMode=yes',
  );
  return parts.join(' ');
}

function strictness(raw: unknown, knownHostsGiven: boolean): StrictHostKeyChecking {
  if (raw === 'yes' || raw === 'no' || raw === 'accept-new') return raw;
  if (raw === true) return 'yes';
  if (raw === false) return 'no';
  if (raw !== undefined && raw !== null) {
    throw new Error(`the Connection's extra.strict_host_key_checking must be "yes", "no" or "accept-new" (got ${JSON.stringify(raw)})`);
  }
  // With known hosts given, they are the truth; otherwise the first key seen is kept and checked after.
  return knownHostsGiven ? 'yes' : 'accept-new';
}

function stringField(extra: Record<string, unknown>, key: string): string | null {
  const value = extra[key];
  return typeof value === 'string' && value.trim() !== '' ? value : null;
}

export function shellQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}
