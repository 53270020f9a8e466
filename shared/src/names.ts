import { z } from 'zod';

/**
 * Names that cross the wire and land in the database. Each is validated the same way on both
 * sides so the server never stores a name the processor could not have produced.
 */

export const bundleName = z
  .string()
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$/,
    'a bundle name is 1-200 characters of letters, digits, ".", "_" or "-", starting with a letter or digit',
  );

/** Airflow's KEY_REGEX, with its 250-character limit. */
export const dagId = z
  .string()
  .max(250, 'a dag id is at most 250 characters')
  .regex(/^[A-Za-z0-9_.-]+$/, 'a dag id is letters, digits, ".", "_" or "-"');

export const taskId = dagId;

/**
 * A file's path relative to its bundle root, in POSIX form. Anything that could leave the
 * bundle (`..`, an absolute path, a drive letter, a backslash) is refused so a path read back
 * from the database can always be joined onto the bundle root safely.
 */
export const relativeFileloc = z
  .string()
  .min(1, 'a file path must not be empty')
  .max(1024, 'a file path is at most 1024 characters')
  .refine((p) => !p.includes('\0'), 'a file path must not contain NUL')
  .refine((p) => !p.includes('\\'), 'a file path uses "/" as its separator, never "\\"')
  .refine((p) => !p.startsWith('/') && !/^[A-Za-z]:/.test(p), 'a file path must be relative to its bundle, not absolute')
  .refine(
    (p) => p.split('/').every((seg) => seg !== '..' && seg !== '.' && seg !== ''),
    'a file path must stay inside its bundle (no "..", ".", or empty segments)',
  );

/** An ISO-8601 date-time Postgres can store (timestamptz starts at year 1; year 0000 parses in JS). */
export const isoDateTime = z.iso
  .datetime({ offset: true, message: 'expected an ISO-8601 date-time' })
  .refine((v) => !v.startsWith('0000'), 'the year must be 0001 or later');

/** Text Postgres can store: it refuses the NUL character in text and jsonb alike. */
export const pgText = z.string().refine((v) => !v.includes('\u0000'), 'must not contain the NUL character (\\u0000)');

export const jobId = z.number().int().positive();
