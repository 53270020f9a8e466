import { sql, type SQL } from 'drizzle-orm';

/**
 * A list of text values as one bound parameter, usable as `col in ${textList(ids)}` or in a
 * join. One JSON parameter keeps statements the same shape whatever the list's length, empty
 * included, on postgres.js and PGlite alike.
 */
export function textList(values: readonly string[]): SQL {
  return sql`(select jsonb_array_elements_text(${JSON.stringify(values)}::jsonb))`;
}

export function bigintList(values: readonly number[]): SQL {
  return sql`(select (jsonb_array_elements_text(${JSON.stringify(values)}::jsonb))::bigint)`;
}

/** Rows given as a JSON array of objects, expanded by jsonb_to_recordset with the column list given. */
export function recordset(rows: readonly object[], columns: SQL): SQL {
  return sql`jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) as r(${columns})`;
}
