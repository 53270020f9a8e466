import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '@dagproc/server/testing/server';
import { rows } from '@dagproc/server/testing/sql';
import { persistInputOf, serializedDagOf } from '@dagproc/shared/testing';

/**
 * The dashboard in a real browser (Debian's Chromium, never a downloaded one) against a real
 * server: what a person sees, that user content stays text under the page's CSP, and that the
 * Reparse button reaches the database. CI installs Chromium and sets DAGPROC_REQUIRE_BROWSER=1,
 * so there a missing browser fails instead of skipping.
 */
const CHROMIUM = process.env.DAGPROC_CHROMIUM_PATH ?? '/usr/bin/chromium';
const haveBrowser = existsSync(CHROMIUM);
if (!haveBrowser && process.env.DAGPROC_REQUIRE_BROWSER === '1') {
  throw new Error(`DAGPROC_REQUIRE_BROWSER=1 but there is no browser at ${CHROMIUM} (apt-get install chromium)`);
}

const HOSTILE = `<img src=x onerror="window.__pwned=1">`;
const bundle = 'ui_bundle';

let ts: TestServer;
let browser: Browser;
let apiToken: string;

beforeAll(async () => {
  if (!haveBrowser) return;
  ts = await startTestServer();
  const api = ts.client(await ts.processorToken());
  await api.bundles.reconcile.mutate({ group: bundle, bundles: [{ name: bundle, kind: 'local' }] });
  await api.parsing.persist.mutate(
    persistInputOf('etl.ts', [serializedDagOf('ui_etl', { tags: ['etl'], description: HOSTILE })], { bundleName: bundle }),
  );
  await api.parsing.persist.mutate(
    persistInputOf('broken.ts', [], {
      bundleName: bundle,
      importError: { stacktrace: `Error: ${HOSTILE}\n    at broken.ts:1:1` },
    }),
  );
  apiToken = (await ts.auth.signer.mintApiToken({ subject: 'ui-test', lifetimeSeconds: 600 })).token;
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await ts?.close();
});

/** A fresh page that records CSP violations and script errors. */
async function openPage(fragment = ''): Promise<{ page: Page; problems: string[] }> {
  const page = await browser.newPage();
  const problems: string[] = [];
  page.on('pageerror', (error) => problems.push(`pageerror: ${error.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error') problems.push(`console: ${msg.text()}`);
  });
  await page.goto(`${ts.url}/${fragment}`);
  return { page, problems };
}

describe.skipIf(!haveBrowser)('the dashboard in Chromium', () => {
  it('asks for a token first, and says why a bad one was refused', async () => {
    const { page } = await openPage();
    await page.locator('#sign-in').waitFor({ state: 'visible' });
    await page.fill('#token-input', 'not-a-token');
    await page.click('#token-form button[type=submit]');
    await expect.poll(() => page.textContent('#sign-in-reason')).not.toBe('');
    expect(await page.isVisible('#panels')).toBe(false);
    await page.close();
  });

  it('shows bundles, DAGs and import errors from a #token link, and drops the token from the address bar', async () => {
    const { page, problems } = await openPage(`#token=${apiToken}`);
    await page.locator('#dags tr', { hasText: 'ui_etl' }).waitFor();
    expect(page.url()).not.toContain('token=');
    expect(await page.textContent('#bundles')).toContain(bundle);
    const importErrors = await page.textContent('#import-errors');
    expect(importErrors).toContain('broken.ts');
    // User content (a description, a stack trace) arrives as text: the markup shows, nothing runs.
    expect(importErrors).toContain(HOSTILE);
    expect(await page.evaluate('window.__pwned')).toBeUndefined();
    expect(await page.locator('#import-errors img, #dags img').count()).toBe(0);
    expect(problems).toEqual([]);
    await page.close();
  });

  it("Reparse queues a priority parse request for the DAG's file", async () => {
    const { page } = await openPage(`#token=${apiToken}`);
    const row = page.locator('#dags tr', { hasText: 'ui_etl' });
    await row.getByRole('button', { name: 'Reparse' }).click();
    await expect.poll(() => row.getByRole('button').first().textContent()).toBe('Queued');
    const requests = await rows(
      ts.testDb.database.db,
      'select bundle_name, relative_fileloc from dag_priority_parsing_request where bundle_name = $1',
      [bundle],
    );
    expect(requests).toEqual([{ bundle_name: bundle, relative_fileloc: 'etl.ts' }]);
    await page.close();
  });

  it('filters DAGs by id as one types', async () => {
    const { page } = await openPage(`#token=${apiToken}`);
    await page.locator('#dags tr', { hasText: 'ui_etl' }).waitFor();
    await page.fill('#dag-filter', 'no-such-dag');
    await expect.poll(() => page.locator('#dags tr', { hasText: 'ui_etl' }).count()).toBe(0);
    await page.fill('#dag-filter', 'ui_');
    await expect.poll(() => page.locator('#dags tr', { hasText: 'ui_etl' }).count()).toBe(1);
    await page.close();
  });

  it('"Forget token" signs out and clears the stored token', async () => {
    const { page } = await openPage(`#token=${apiToken}`);
    await page.locator('#sign-out').click();
    await page.locator('#sign-in').waitFor({ state: 'visible' });
    expect(await page.evaluate('sessionStorage.length')).toBe(0);
    await page.close();
  });
});
