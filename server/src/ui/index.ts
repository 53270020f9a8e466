import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Hono } from 'hono';

/**
 * The dashboard at `/`: one self-contained page (inline CSS and JS, nothing fetched from
 * elsewhere; the machines may be offline). The page itself holds no data and is served
 * without auth; its script reads everything from /api/v2 with the user's bearer token.
 */

const read = (name: string) => readFileSync(new URL(name, import.meta.url), 'utf8');

export const dashboardSources = {
  html: read('./dashboard.html'),
  css: read('./dashboard.css'),
  js: read('./dashboard.js'),
};

/**
 * Only this response's own inline script and style run (a fresh nonce each time), the page
 * talks only to its own origin, and nothing may frame it.
 */
export function contentSecurityPolicy(nonce: string): string {
  return [
    "default-src 'none'",
    `script-src 'nonce-${nonce}'`,
    `style-src 'nonce-${nonce}'`,
    "connect-src 'self'",
    "img-src 'self' data:",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

export function renderDashboard(nonce: string): string {
  // Replaced with functions so a `$` in the sources is never read as a replacement pattern.
  return dashboardSources.html
    .replaceAll('{{nonce}}', () => nonce)
    .replace('{{style}}', () => dashboardSources.css)
    .replace('{{script}}', () => dashboardSources.js);
}

export function dashboardApp(): Hono {
  const app = new Hono();
  app.get('/', (c) => {
    const nonce = randomBytes(16).toString('base64');
    return c.html(renderDashboard(nonce), 200, {
      'content-security-policy': contentSecurityPolicy(nonce),
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
      'x-frame-options': 'DENY',
    });
  });
  return app;
}
