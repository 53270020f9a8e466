import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { logFormat, parseEnv } from './config/env.ts';
import { createLogger, defaultLogFormat, parseLogFormat } from './log.ts';

function capture(format?: 'json' | 'pretty') {
  const lines: string[] = [];
  const logger = createLogger('processor', { level: 'info', ...(format ? { format } : {}), write: (l) => lines.push(l) });
  return { lines, logger };
}

describe('log formats', () => {
  it('writes one JSON object per event in json mode, errors as name and message', () => {
    const { lines, logger } = capture('json');
    logger.info('processor started', { jobId: 3, error: new TypeError('boom') });
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({
      level: 'info',
      msg: 'processor started',
      component: 'processor',
      jobId: 3,
      error: { name: 'TypeError', message: 'boom' },
    });
    expect(lines[0]).not.toContain('\n');
  });

  it('writes time, level, component, message and key=value pairs in pretty mode', () => {
    const { lines, logger } = capture('pretty');
    logger.child({ bundleName: 'dags-folder' }).warn('bundle refresh failed', { error: new Error('gone away'), tries: 2, path: '/a b' });
    expect(lines[0]).toMatch(
      /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z WARN  processor bundle refresh failed bundleName=dags-folder error="Error: gone away" tries=2 path="\/a b"$/,
    );
  });

  it('renders a list of records as an aligned table under the line in pretty mode', () => {
    const { lines, logger } = capture('pretty');
    logger.info('DAG file processing stats', {
      queued: 4,
      bundles: [
        { bundle: 'dags-folder', files: 12, parsed: 3 },
        { bundle: 'b', files: 1, parsed: 0 },
      ],
    });
    expect(lines[0]!.split('\n')).toEqual([
      expect.stringMatching(/INFO  processor DAG file processing stats queued=4$/),
      '  bundles:',
      '    bundle       files  parsed',
      '    dags-folder  12     3',
      '    b            1      0',
    ]);
  });

  it('drops events below the level in both modes', () => {
    for (const format of ['json', 'pretty'] as const) {
      const { lines, logger } = capture(format);
      logger.debug('file parsed');
      expect(lines).toEqual([]);
    }
  });

  it('chooses pretty on a terminal and JSON elsewhere, unless DAGPROC_LOG_FORMAT says', () => {
    expect(defaultLogFormat({ isTTY: true })).toBe('pretty');
    expect(defaultLogFormat({ isTTY: false })).toBe('json');
    expect(defaultLogFormat({})).toBe('json');
    expect(parseLogFormat(undefined)).toBeUndefined();
    expect(parseLogFormat('')).toBeUndefined();
    expect(parseLogFormat('PRETTY')).toBe('pretty');
    expect(() => parseLogFormat('xml')).toThrow('DAGPROC_LOG_FORMAT: must be one of json, pretty (got "xml")');
  });

  it('DAGPROC_LOG_FORMAT in a component’s settings: any case, unset for the terminal’s choice, else one line naming it', () => {
    const schema = z.object({ DAGPROC_LOG_FORMAT: logFormat() });
    expect(parseEnv(schema, { DAGPROC_LOG_FORMAT: 'JSON' }).DAGPROC_LOG_FORMAT).toBe('json');
    expect(parseEnv(schema, {}).DAGPROC_LOG_FORMAT).toBeUndefined();
    expect(() => parseEnv(schema, { DAGPROC_LOG_FORMAT: 'logfmt' })).toThrow('DAGPROC_LOG_FORMAT: must be one of json, pretty (got "logfmt")');
  });

  it('captures JSON when a caller passes its own writer and no format', () => {
    const { lines, logger } = capture();
    logger.info('hello');
    expect(JSON.parse(lines[0]!).msg).toBe('hello');
  });
});
