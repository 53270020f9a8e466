import { sql, type SQL } from 'drizzle-orm';

/**
 * A list as one array parameter, for `col = any(${textArray(ids)})`: the planner sees an array
 * comparison and uses the column's index (a subquery over a JSON list looks like a 100-row
 * table to it, and makes it scan). Empty lists included, on postgres.js and PGlite alike.
 */
export function textArray(values: readonly string[]): SQL {
  return sql`${sql.param([...values])}::text[]`;
}

export function bigintArray(values: readonly number[]): SQL {
  return sql`${sql.param([...values])}::bigint[]`;
}

/**
 * A list of text values as one JSON parameter expanded by a subquery, for `col not in
 * ${textList(files)}`: Postgres hashes the subquery, so an anti-join against a bundle's whole
 * file list stays linear (`<> all(array)` would compare every row with every name).
 */
export function textList(values: readonly string[]): SQL {
  return sql`(select jsonb_array_elements_text(${JSON.stringify(values)}::jsonb))`;
}

/** Rows given as a JSON array of objects, expanded by jsonb_to_recordset with the column list given. */
export function recordset(rows: readonly object[], columns: SQL): SQL {
  return sql`jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) as r(${columns})`;
}
