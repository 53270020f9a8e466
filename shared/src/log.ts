/**
 * Structured logs: one JSON line per event, with a level, a time, the component and a short
 * message a person can read, plus fields. Quiet by default: `info` carries start, stop and
 * summaries; per-file and per-request detail is `debug`.
 */

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

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

export function createLogger(
  component: string,
  options: { level?: LogLevel; write?: (line: string) => void; fields?: Record<string, unknown> } = {},
): Logger {
  const min = ORDER[options.level ?? 'info'];
  const write = options.write ?? ((line: string) => process.stderr.write(line + '\n'));
  const base = { component, ...options.fields };
  const emit = (level: LogLevel, msg: string, fields?: Record<string, unknown>) => {
    if (ORDER[level] < min) return;
    write(JSON.stringify({ time: new Date().toISOString(), level, msg, ...base, ...fields }, errorReplacer));
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
    child: (fields) => createLogger(component, { ...options, fields: { ...options.fields, ...fields } }),
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

function errorReplacer(_key: string, value: unknown): unknown {
  if (value instanceof Error) return { name: value.name, message: value.message };
  return value;
}
