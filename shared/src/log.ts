/**
 * Structured logs: one event per call, with a level, a time, the component and a short
 * message a person can read, plus fields. Quiet by default: `info` carries start, stop and
 * summaries; per-file and per-request detail is `debug`.
 *
 * Two renderings of the same event (DAGPROC_LOG_FORMAT): `json`, one JSON object per line, for
 * log collectors, the default when stderr is not a terminal; and `pretty`,
 * `time level component msg key=value ...`, for a person at a terminal, the default there.
 */

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFormat = 'json' | 'pretty';
const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };
export const LOG_FORMATS = ['json', 'pretty'] as const satisfies readonly LogFormat[];

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(fields: Record<string, unknown>): Logger;
}

export function parseLogLevel(raw: string | undefined): LogLevel {
  const value = (raw ?? 'info').toLowerCase();
  if (value in ORDER) return value as LogLevel;
  throw new Error(`DAGPROC_LOG_LEVEL: must be one of debug, info, warn, error (got ${JSON.stringify(raw)})`);
}

/** DAGPROC_LOG_FORMAT: `json`, `pretty`, or unset for the terminal's choice (undefined). */
export function parseLogFormat(raw: string | undefined): LogFormat | undefined {
  const value = raw?.trim().toLowerCase();
  if (!value) return undefined;
  if ((LOG_FORMATS as readonly string[]).includes(value)) return value as LogFormat;
  throw new Error(`DAGPROC_LOG_FORMAT: must be one of json, pretty (got ${JSON.stringify(raw)})`);
}

/** Pretty on a terminal, JSON lines everywhere else (files, pipes, containers' log drivers). */
export function defaultLogFormat(stream: { isTTY?: boolean } = process.stderr): LogFormat {
  return stream.isTTY ? 'pretty' : 'json';
}

export function createLogger(
  component: string,
  options: { level?: LogLevel; format?: LogFormat | undefined; write?: (line: string) => void; fields?: Record<string, unknown> } = {},
): Logger {
  const min = ORDER[options.level ?? 'info'];
  const write = options.write ?? ((line: string) => process.stderr.write(line + '\n'));
  // A caller that captures lines (a test, a parent process) reads JSON unless it asks otherwise.
  const format = options.format ?? (options.write ? 'json' : defaultLogFormat());
  const render = format === 'pretty' ? renderPretty : renderJson;
  const base = { component, ...options.fields };
  const emit = (level: LogLevel, msg: string, fields?: Record<string, unknown>) => {
    if (ORDER[level] < min) return;
    write(render({ time: new Date().toISOString(), level, msg, ...base, ...fields }));
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
    child: (fields) => createLogger(component, { ...options, format, fields: { ...options.fields, ...fields } }),
  };
}

/** A logger that drops everything, for tests and library callers that pass none. */
export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  child: () => silentLogger,
};

type LogEvent = { time: string; level: LogLevel; msg: string; component: string } & Record<string, unknown>;

function renderJson(event: LogEvent): string {
  return JSON.stringify(event, errorReplacer);
}

/**
 * `2026-01-02T03:04:05.678Z INFO  processor  msg key=value key="two words"`. A field holding a
 * list of records (the stats line's bundles, its slowest files) becomes an aligned table on
 * the lines below, as Airflow prints its DAG file processing stats.
 */
export function renderPretty(event: LogEvent): string {
  const { time, level, msg, component, ...fields } = event;
  const pairs: string[] = [];
  const tables: string[] = [];
  for (const [key, value] of Object.entries(fields)) {
    if (value === undefined) continue;
    if (isTable(value)) tables.push(renderTable(key, value));
    else pairs.push(`${key}=${prettyValue(value)}`);
  }
  const head = [time, level.toUpperCase().padEnd(5), component, msg, ...pairs].join(' ');
  return [head, ...tables].join('\n');
}

function prettyValue(value: unknown): string {
  if (value instanceof Error) return JSON.stringify(`${value.name}: ${value.message}`);
  if (typeof value === 'string') return /^[^\s"=\\]+$/.test(value) ? value : JSON.stringify(value);
  if (value === null || typeof value !== 'object') return String(value);
  return JSON.stringify(value, errorReplacer);
}

function isTable(value: unknown): value is Record<string, unknown>[] {
  return (
    Array.isArray(value) &&
    value.length > 0 &&
    value.every((row) => row !== null && typeof row === 'object' && !Array.isArray(row) && !(row instanceof Error))
  );
}

function renderTable(title: string, rows: Record<string, unknown>[]): string {
  const columns = [...new Set(rows.flatMap((row) => Object.keys(row)))];
  const cells = rows.map((row) => columns.map((c) => (row[c] === undefined ? '' : typeof row[c] === 'string' ? String(row[c]) : prettyValue(row[c]))));
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((r) => r[i]!.length)));
  const line = (values: string[]) => `    ${values.map((v, i) => v.padEnd(widths[i]!)).join('  ')}`.trimEnd();
  return [`  ${title}:`, line(columns), ...cells.map(line)].join('\n');
}

function errorReplacer(_key: string, value: unknown): unknown {
  if (value instanceof Error) return { name: value.name, message: value.message };
  return value;
}
