import { readFile } from 'node:fs/promises';

export class TokenFileError extends Error {
  override name = 'TokenFileError';
}

const MAX_TOKEN_FILE_BYTES = 16_384;
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/**
 * Reads the bearer token `provision-token` wrote. Every failure names the path, and none
 * quotes the file's content (it may be a token).
 */
export async function readTokenFile(path: string): Promise<string> {
  let raw: Buffer;
  try {
    raw = await readFile(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'error';
    throw new TokenFileError(`DAGPROC_API_TOKEN_PATH: ${path} cannot be read (${code})`);
  }
  if (raw.length > MAX_TOKEN_FILE_BYTES) {
    throw new TokenFileError(`DAGPROC_API_TOKEN_PATH: ${path} is ${raw.length} bytes, too large for a token`);
  }
  const token = raw.toString('utf8').trim();
  if (!token) throw new TokenFileError(`DAGPROC_API_TOKEN_PATH: ${path} is empty`);
  if (!JWT_SHAPE.test(token)) throw new TokenFileError(`DAGPROC_API_TOKEN_PATH: ${path} does not hold a JWT`);
  return token;
}
