import { describe, expect, it } from 'vitest';
import type { StoredConnection } from '../../db/queries/api-connections.ts';
import { connectionValues, isSensitiveKey, maskConnection, maskExtra } from './mask.ts';

const stored: StoredConnection = {
  connId: 'c',
  connType: 'http',
  description: null,
  host: 'h',
  port: 443,
  login: 'me',
  password: 'pw',
  schema: null,
  extra: { headers: { Authorization: 'Bearer x', accept: 'json' }, keys: [{ private_key: 'pk', id: 1 }], timeout: 5 },
};

describe('isSensitiveKey', () => {
  it.each(['password', 'PASSWORD', 'db_password', 'api_key', 'apiKey', 'client_secret', 'access_token', 'Authorization', 'keyfile_dict', ' token '])(
    '%s is a secret',
    (key) => expect(isSensitiveKey(key)).toBe(true),
  );
  it.each(['host', 'region', 'timeout', 'passage', 'key'])('%s is not', (key) => expect(isSensitiveKey(key)).toBe(false));
});

describe('masking', () => {
  it('masks the password and secret extras at any depth, keeping the rest', () => {
    expect(maskConnection(stored)).toEqual({
      ...stored,
      password: '***',
      extra: { headers: { Authorization: '***', accept: 'json' }, keys: [{ private_key: '***', id: 1 }], timeout: 5 },
    });
  });

  it('leaves absent secrets absent', () => {
    expect(maskConnection({ ...stored, password: null, extra: null })).toMatchObject({ password: null, extra: null });
    expect(maskExtra({ token: null })).toEqual({ token: null });
  });

  it('a masked answer sent back restores every stored secret', () => {
    const { connId: _c, ...answer } = maskConnection(stored);
    const { connId: _s, ...values } = stored;
    expect(connectionValues(answer, stored)).toEqual(values);
  });

  it('new values replace stored ones; a mask with nothing stored stores nothing', () => {
    const values = connectionValues({ connType: 'http', password: 'new', extra: { headers: { Authorization: '***' }, token: '***' } }, undefined);
    expect(values.password).toBe('new');
    expect(values.extra).toEqual({ headers: {} });
    expect(connectionValues({ connType: 'http', password: '***' }, undefined).password).toBeNull();
  });

  it('a mask under an ordinary key is an ordinary value', () => {
    expect(connectionValues({ connType: 'http', extra: { region: '***' } }, stored).extra).toEqual({ region: '***' });
  });
});
