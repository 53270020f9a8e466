import { Script } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../app.ts';
import { startTestServer, type TestServer } from '../testing/server.ts';
import { dashboardSources } from './index.ts';

let ts: TestServer;

beforeAll(async () => {
  ts = await startTestServer();
});
afterAll(() => ts.close());

const page = async () => {
  const res = await fetch(`${ts.url}/`);
  return { res, html: await res.text(), csp: res.headers.get('content-security-policy') ?? '' };
};

describe('GET / (the dashboard)', () => {
  it('serves one self-contained HTML page without a token', async () => {
    const { res, html } = await page();
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    expect(html).toMatch(/^<!doctype html>/);
    expect(html).not.toContain('{{');
    // Nothing is loaded from elsewhere: the machines may be offline, and the CSP would refuse it.
    expect(html).not.toMatch(/\b(src|href)=["']?(https?:)?\/\//i);
    expect(html).not.toMatch(/<link[^>]+stylesheet/i);
  });

  it('allows only its own nonce-tagged inline script and style, fresh on every request', async () => {
    const first = await page();
    const second = await page();
    const nonce = /script-src 'nonce-([A-Za-z0-9+/=]+)'/.exec(first.csp)?.[1];
    expect(nonce).toBeDefined();
    expect(first.csp).toContain("default-src 'none'");
    expect(first.csp).toContain(`style-src 'nonce-${nonce}'`);
    expect(first.csp).toContain("connect-src 'self'");
    expect(first.csp).toContain("frame-ancestors 'none'");
    expect(first.csp).toContain("base-uri 'none'");
    expect(first.csp).not.toContain('unsafe-inline');
    expect(first.csp).not.toContain('unsafe-eval');
    expect(first.html).toContain(`<script nonce="${nonce}">`);
    expect(first.html).toContain(`<style nonce="${nonce}">`);
    expect(first.html.match(/<script/g)).toHaveLength(1);
    expect(second.csp).not.toBe(first.csp);
    expect(first.res.headers.get('cache-control')).toBe('no-store');
    expect(first.res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(first.res.headers.get('referrer-policy')).toBe('no-referrer');
  });

  it('is not served when the api app is not mounted', async () => {
    const app = createApp(ts.server.deps, ['dag-processing', 'execution']);
    expect((await app.request('/')).status).toBe(404);
  });
});

describe('the dashboard script', () => {
  const js = dashboardSources.js;

  it('is valid JavaScript as it stands (there is no build step)', () => {
    expect(() => new Script(js)).not.toThrow();
  });

  it('never writes HTML from strings: data enters the page as text', () => {
    for (const sink of ['innerHTML', 'outerHTML', 'insertAdjacentHTML', 'document.write', 'eval(', 'new Function', 'createContextualFragment', 'srcdoc']) {
      expect(js, sink).not.toContain(sink);
    }
    expect(dashboardSources.html).not.toMatch(/\son[a-z]+=/i); // no inline handlers (the CSP refuses them)
  });

  it('reads only /api/v2 with the bearer token, and keeps the token in session storage', () => {
    expect(js).toContain("fetch('/api/v2' + path");
    expect(js).toContain("authorization: 'Bearer ' + token()");
    expect(js).toContain('sessionStorage');
    expect(js).not.toContain('localStorage');
    expect(js).not.toMatch(/https?:\/\//);
  });

  it('takes a token from #token=... and removes it from the address bar', () => {
    expect(js).toContain("params.get('token')");
    expect(js).toContain('history.replaceState');
  });

  it('looks up only elements the page has', () => {
    const used = [...js.matchAll(/\$\('([a-z-]+)'\)/g)].map((m) => m[1]!);
    expect(used.length).toBeGreaterThan(10);
    for (const id of new Set(used)) expect(dashboardSources.html, id).toContain(`id="${id}"`);
  });

  it('calls the routes it needs, which exist', () => {
    for (const path of ['/bundles', '/jobs', '/dags', '/importErrors', '/dagWarnings', '/parseRequests']) expect(js).toContain(`'${path}`);
  });
});
