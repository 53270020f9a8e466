import { loadSecretsConfig } from '../config.ts';
import { openDatabase } from '../db/client.ts';
import { SecretCipher } from '../secrets/cipher.ts';
import { rotateSecrets, type RotationCounts } from '../secrets/rotate.ts';
import { processIo, type CliIo } from './api-client.ts';

const USAGE = 'usage: dagproc secrets rotate-key   (with DAGPROC_SECRET_KEY, DAGPROC_SECRET_KEY_PREVIOUS and the database settings)';

/**
 * `pnpm dagproc secrets rotate-key`: re-encrypts every stored secret under DAGPROC_SECRET_KEY,
 * opening older values with DAGPROC_SECRET_KEY_PREVIOUS, and encrypts plaintext ones. A
 * trusted operator command with the server's database settings and keys, like `db migrate`:
 * it goes to the database directly because only the holder of the keys can do it. On PGlite,
 * stop the server first (one process at a time may open its data directory).
 */
export async function rotateKeyCommand(argv: string[], env: Record<string, string | undefined>, io: CliIo = processIo): Promise<number> {
  if (argv.length > 0) {
    io.err(`secrets rotate-key: unexpected argument '${argv[0]}'\n${USAGE}\n`);
    return 2;
  }
  const config = loadSecretsConfig(env);
  if (!config.secrets.current) {
    io.err(`secrets rotate-key: DAGPROC_SECRET_KEY is not set: there is no key to encrypt under\n${USAGE}\n`);
    return 2;
  }
  const database = await openDatabase(config.database);
  try {
    const report = await rotateSecrets(database.db, new SecretCipher(config.secrets));
    const line = (what: string, c: RotationCounts) =>
      `  ${what.padEnd(12)} ${c.reencrypted} re-encrypted, ${c.encrypted} encrypted from plaintext, ${c.unchanged} already current\n`;
    io.out(`secrets now under key ${report.keyId}:\n${line('variables', report.variables)}${line('connections', report.connections)}`);
    return 0;
  } finally {
    await database.close().catch(() => {});
  }
}
