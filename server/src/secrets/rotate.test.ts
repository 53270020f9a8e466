import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestDatabase, type TestDatabase } from '../testing/database.ts';
import { rows } from '../testing/sql.ts';
import { generateSecretKey, openExtra, parseSecretKey, sealExtra, SecretCipher, secretAad, type SecretKey } from './cipher.ts';
import { rotateSecrets } from './rotate.ts';

const oldKey = parseSecretKey(generateSecretKey()) as SecretKey;
const newKey = parseSecretKey(generateSecretKey()) as SecretKey;
const underOld = new SecretCipher({ current: oldKey, previous: [] });
const rotating = new SecretCipher({ current: newKey, previous: [oldKey] });
const newOnly = new SecretCipher({ current: newKey, previous: [] });

let testDb: TestDatabase;
const sql = (text: string, params: unknown[] = []) => rows(testDb.database.db, text, params);

beforeAll(async () => {
  testDb = await openTestDatabase();
  // Plaintext rows from before encryption, and rows sealed under the old key.
  await sql("insert into variable (key, val) values ('plain_var', 'plain-value')");
  await sql("insert into connection (conn_id, conn_type, password, extra) values ('plain_conn', 'http', 'plain-pw', '{\"token\": \"plain-tok\"}')");
  await sql('insert into variable (key, val) values ($1, $2)', ['old_var', underOld.seal('old-value', secretAad.variable('old_var'))]);
  await sql('insert into connection (conn_id, conn_type, password, extra) values ($1, $2, $3, $4::jsonb)', [
    'old_conn',
    'postgres',
    underOld.seal('old-pw', secretAad.password('old_conn')),
    sealExtra(underOld, 'old_conn', { api_key: 'old-tok' }),
  ]);
  await sql("insert into connection (conn_id, conn_type) values ('no_secrets', 'http')");
});
afterAll(() => testDb.drop());

const PLAINTEXTS = ['plain-value', 'plain-pw', 'plain-tok', 'old-value', 'old-pw', 'old-tok', 'api_key'];

describe('secrets rotate-key', () => {
  it('re-encrypts old-key rows and encrypts plaintext ones under the current key, reporting counts', async () => {
    const report = await rotateSecrets(testDb.database.db, rotating);
    expect(report).toEqual({
      keyId: newKey.id,
      variables: { reencrypted: 1, encrypted: 1, unchanged: 0 },
      connections: { reencrypted: 1, encrypted: 1, unchanged: 1 },
    });
  });

  it('leaves no plaintext in the stored columns, and every value opens with the new key alone', async () => {
    const stored = JSON.stringify([...(await sql('select * from variable')), ...(await sql('select * from connection'))]);
    for (const plain of PLAINTEXTS) expect(stored).not.toContain(plain);
    const [v] = await sql("select val from variable where key = 'old_var'");
    expect(newOnly.open(v!.val, secretAad.variable('old_var'), 'x')).toBe('old-value');
    const [c] = await sql("select password, extra from connection where conn_id = 'plain_conn'");
    expect(newOnly.open(c!.password, secretAad.password('plain_conn'), 'x')).toBe('plain-pw');
    expect(openExtra(newOnly, 'plain_conn', c!.extra)).toEqual({ token: 'plain-tok' });
  });

  it('is idempotent: a second run changes nothing', async () => {
    const before = await sql('select * from variable order by id');
    const report = await rotateSecrets(testDb.database.db, rotating);
    expect(report.variables).toEqual({ reencrypted: 0, encrypted: 0, unchanged: 2 });
    expect(report.connections).toEqual({ reencrypted: 0, encrypted: 0, unchanged: 3 });
    expect(await sql('select * from variable order by id')).toEqual(before);
  });

  it('stops, changing nothing, when a row was sealed under a key it was not given', async () => {
    const stranger = new SecretCipher({ current: parseSecretKey(generateSecretKey()) as SecretKey, previous: [] });
    await sql('insert into variable (key, val) values ($1, $2)', ['orphan', stranger.seal('x', secretAad.variable('orphan'))]);
    const before = await sql('select * from variable order by id');
    const yetAnother = new SecretCipher({ current: parseSecretKey(generateSecretKey()) as SecretKey, previous: [newKey] });
    await expect(rotateSecrets(testDb.database.db, yetAnother)).rejects.toThrow(/cannot decrypt variable 'orphan': it was encrypted with key [0-9a-f]{8}, which this server does not hold/);
    expect(await sql('select * from variable order by id')).toEqual(before);
  });

  it('records each run in audit_log with its counts', async () => {
    const audit = await sql("select owner, extra from audit_log where event = 'secrets.rotate_key' order by id");
    expect(audit).toHaveLength(2);
    expect(audit[0]).toMatchObject({ owner: 'secrets rotate-key', extra: { keyId: newKey.id, variables: { encrypted: 1 } } });
  });

  it('refuses to run without a current key', async () => {
    await expect(rotateSecrets(testDb.database.db, new SecretCipher({ current: undefined, previous: [newKey] }))).rejects.toThrow('DAGPROC_SECRET_KEY is not set');
  });
});
