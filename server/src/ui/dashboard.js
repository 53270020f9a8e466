// The dashboard: plain browser JS, no build step. Everything shown comes from /api/v2 with the
// bearer token, and every value (DAG ids, stack traces: user content) enters the page as text.
'use strict';
(function dashboard() {
  const TOKEN_KEY = 'dagproc.apiToken';
  const REFRESH_MS = 5000;
  // A running job whose heartbeat is older than this is flagged (DAGPROC_HEALTH_CHECK_THRESHOLD's default).
  const HEARTBEAT_WARN_SECONDS = 30;
  const LIST_LIMIT = 500;

  const $ = (id) => document.getElementById(id);
  let timer = null;
  let refreshing = false;
  let refreshAgain = false;

  // ------------------------------------------------------------------ token

  function takeTokenFromFragment() {
    const params = new URLSearchParams(location.hash.replace(/^#/, ''));
    const token = params.get('token');
    if (!token) return;
    sessionStorage.setItem(TOKEN_KEY, token);
    // Keep the token out of the address bar, history and bookmarks.
    history.replaceState(null, '', location.pathname + location.search);
  }

  const token = () => sessionStorage.getItem(TOKEN_KEY);

  function signOut(reason) {
    sessionStorage.removeItem(TOKEN_KEY);
    stopRefresh();
    $('panels').hidden = true;
    $('sign-out').hidden = true;
    $('sign-in').hidden = false;
    $('sign-in-reason').textContent = reason || '';
    setStatus('');
    $('token-input').focus();
  }

  function signedIn() {
    $('sign-in').hidden = true;
    $('panels').hidden = false;
    $('sign-out').hidden = false;
    refresh();
  }

  // ------------------------------------------------------------------ API

  class Unauthorized extends Error {}

  async function api(path, options) {
    const init = options || {};
    const headers = { authorization: 'Bearer ' + token() };
    if (init.body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch('/api/v2' + path, {
      method: init.method || 'GET',
      headers,
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
      cache: 'no-store',
    });
    let body = null;
    try {
      body = await res.json();
    } catch (e) {
      body = null;
    }
    if (res.status === 401) throw new Unauthorized((body && body.detail) || 'the token was refused');
    if (!res.ok) throw new Error((body && body.detail) || 'HTTP ' + res.status);
    return body;
  }

  // ------------------------------------------------------------------ DOM, as text only

  /** el('td', { className: 'x', title: 't' }, 'text', childNode, ...): strings become text nodes. */
  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props || {})) {
      if (value === undefined || value === null) continue;
      if (key === 'className') node.className = value;
      else if (key === 'onclick') node.addEventListener('click', value);
      else node.setAttribute(key, String(value));
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(typeof child === 'string' || typeof child === 'number' ? document.createTextNode(String(child)) : child);
    }
    return node;
  }

  function fill(tbodyId, rows, columns, emptyText) {
    const body = $(tbodyId);
    if (rows.length === 0) {
      body.replaceChildren(el('tr', {}, el('td', { colspan: columns, className: 'empty' }, emptyText)));
    } else {
      body.replaceChildren(...rows);
    }
  }

  function count(id, shown, total) {
    $(id).textContent = shown === total ? '(' + total + ')' : '(' + shown + ' of ' + total + ')';
  }

  function setStatus(text, isError) {
    const status = $('status');
    status.textContent = text;
    status.className = isError ? 'error' : 'muted';
  }

  // ------------------------------------------------------------------ formatting

  function age(seconds) {
    if (seconds < 0) seconds = 0;
    if (seconds < 90) return Math.round(seconds) + 's ago';
    if (seconds < 90 * 60) return Math.round(seconds / 60) + 'm ago';
    if (seconds < 36 * 3600) return Math.round(seconds / 3600) + 'h ago';
    return Math.round(seconds / 86400) + 'd ago';
  }

  function since(iso) {
    if (!iso) return el('span', { className: 'muted' }, '—');
    return el('span', { title: new Date(iso).toLocaleString() }, age((Date.now() - Date.parse(iso)) / 1000));
  }

  function reparseButton(target, label) {
    const button = el('button', { type: 'button', title: 'Parse this file again now' }, label || 'Reparse');
    button.addEventListener('click', async () => {
      button.disabled = true;
      try {
        await api('/parseRequests', { method: 'POST', body: target });
        button.textContent = 'Queued';
      } catch (error) {
        if (error instanceof Unauthorized) return signOut(error.message);
        button.textContent = 'Failed';
        button.title = error.message;
      }
      setTimeout(() => {
        button.disabled = false;
        button.textContent = label || 'Reparse';
      }, 3000);
    });
    return button;
  }

  // ------------------------------------------------------------------ panels

  function renderBundles(data) {
    count('bundles-count', data.bundles.length, data.totalEntries);
    const rows = data.bundles.map((b) =>
      el('tr', {},
        el('td', { className: 'mono' }, b.name),
        el('td', {}, b.kind),
        el('td', { className: b.active ? 'good' : 'muted' }, b.active ? 'yes' : 'no'),
        el('td', { className: 'mono' }, b.version || '—'),
        el('td', {}, since(b.lastRefreshed)),
        el('td', {}, b.dagCount),
        el('td', { className: b.importErrorCount ? 'bad' : '' }, b.importErrorCount),
        b.lastError
          ? el('td', { className: 'bad', title: 'Parsing goes on from the last good version; retried at the next refresh' },
              b.lastError, ' (', since(b.lastErrorAt), ')')
          : el('td', { className: 'muted' }, '—'),
      ),
    );
    fill('bundles', rows, 8, 'No bundles yet: start a processor.');
  }

  function renderJobs(data) {
    count('jobs-count', data.jobs.length, data.totalEntries);
    const rows = data.jobs.map((j) => {
      const late = j.state === 'running' && j.heartbeatAgeSeconds > HEARTBEAT_WARN_SECONDS;
      return el('tr', {},
        el('td', {}, j.id),
        el('td', {}, j.jobType),
        el('td', { className: j.state === 'running' ? 'good' : j.state === 'failed' ? 'bad' : 'muted' }, j.state),
        el('td', { className: 'mono' }, j.hostname),
        el('td', {}, j.pid),
        el('td', {}, since(j.startDate)),
        el('td', { className: late ? 'warn' : '', title: j.latestHeartbeat }, age(j.heartbeatAgeSeconds), late ? ' (late)' : ''),
      );
    });
    fill('jobs', rows, 7, 'No processor jobs yet.');
  }

  function renderDags(data) {
    count('dags-count', data.dags.length, data.totalEntries);
    const rows = data.dags.map((d) =>
      el('tr', { className: d.isStale ? 'stale' : '' },
        el('td', { className: 'mono' }, d.dagId, d.isPaused ? el('span', { className: 'muted' }, ' (paused)') : null),
        el('td', { className: 'mono' }, d.bundleName),
        el('td', { className: 'mono' }, d.relativeFileloc, d.hasImportErrors ? el('span', { className: 'bad', title: 'This file has an import error' }, ' !') : null),
        el('td', { className: d.isStale ? 'warn' : 'muted' }, d.isStale ? 'stale' : 'no'),
        el('td', {}, since(d.lastParsedTime)),
        el('td', {}, d.latestVersionNumber === null ? '—' : 'v' + d.latestVersionNumber),
        el('td', {}, d.tags.map((t) => el('span', { className: 'tag' }, t))),
        el('td', {}, reparseButton({ bundleName: d.bundleName, relativeFileloc: d.relativeFileloc })),
      ),
    );
    fill('dags', rows, 8, 'No DAGs match.');
  }

  function renderImportErrors(data) {
    count('import-errors-count', data.importErrors.length, data.totalEntries);
    const box = $('import-errors');
    if (data.importErrors.length === 0) {
      box.replaceChildren(el('p', { className: 'empty' }, 'No import errors.'));
      return;
    }
    // Keep open the stack traces the reader opened, across refreshes.
    const open = new Set([...box.querySelectorAll('details[open]')].map((d) => d.dataset.key));
    box.replaceChildren(
      ...data.importErrors.map((e) => {
        const key = e.bundleName + '\u0000' + e.filename;
        const details = el('details', {}, el('summary', {}, firstLine(e.stackTrace)), el('pre', {}, e.stackTrace));
        details.dataset.key = key;
        details.open = open.has(key);
        return el('div', { className: 'import-error' },
          el('div', { className: 'head' },
            el('span', { className: 'mono' }, e.bundleName + ' / ' + e.filename),
            el('span', { className: 'muted' }, since(e.timestamp)),
            reparseButton({ bundleName: e.bundleName, relativeFileloc: e.filename }),
          ),
          details,
        );
      }),
    );
  }

  function firstLine(text) {
    const line = text.split('\n', 1)[0];
    return line.length > 200 ? line.slice(0, 200) + '…' : line;
  }

  function renderWarnings(data) {
    count('warnings-count', data.dagWarnings.length, data.totalEntries);
    const rows = data.dagWarnings.map((w) =>
      el('tr', {},
        el('td', { className: 'mono' }, w.dagId),
        el('td', {}, w.warningType),
        el('td', {}, w.message),
        el('td', {}, since(w.timestamp)),
      ),
    );
    fill('warnings', rows, 4, 'No warnings.');
  }

  // ------------------------------------------------------------------ refresh loop

  function dagsQuery() {
    const params = new URLSearchParams({ limit: String(LIST_LIMIT) });
    const pattern = $('dag-filter').value.trim();
    if (pattern) params.set('dagIdPattern', pattern);
    if (!$('show-stale').checked) params.set('isStale', 'false');
    return '/dags?' + params.toString();
  }

  async function refresh() {
    if (refreshing) {
      refreshAgain = true;
      return;
    }
    stopRefresh();
    // A hidden tab stops polling; becoming visible again refreshes at once.
    if (!token() || document.visibilityState === 'hidden') return;
    refreshing = true;
    refreshAgain = false;
    try {
      const [bundles, jobs, dags, importErrors, warnings] = await Promise.all([
        api('/bundles?limit=' + LIST_LIMIT),
        api('/jobs?limit=20'),
        api(dagsQuery()),
        api('/importErrors?limit=' + LIST_LIMIT),
        api('/dagWarnings?limit=' + LIST_LIMIT),
      ]);
      renderBundles(bundles);
      renderJobs(jobs);
      renderDags(dags);
      renderImportErrors(importErrors);
      renderWarnings(warnings);
      setStatus('updated ' + new Date().toLocaleTimeString());
    } catch (error) {
      if (error instanceof Unauthorized) {
        refreshing = false;
        return signOut(error.message);
      }
      setStatus('refresh failed: ' + error.message, true);
    }
    refreshing = false;
    timer = setTimeout(refresh, refreshAgain ? 0 : REFRESH_MS);
  }

  function stopRefresh() {
    if (timer !== null) clearTimeout(timer);
    timer = null;
  }

  // ------------------------------------------------------------------ start

  $('token-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const value = $('token-input').value.trim();
    if (!value) return;
    sessionStorage.setItem(TOKEN_KEY, value);
    $('token-input').value = '';
    signedIn();
  });
  $('sign-out').addEventListener('click', () => signOut(''));
  let filterDelay = null;
  $('dag-filter').addEventListener('input', () => {
    clearTimeout(filterDelay);
    filterDelay = setTimeout(refresh, 300);
  });
  $('show-stale').addEventListener('change', refresh);
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible') refresh();
  });

  takeTokenFromFragment();
  if (token()) signedIn();
  else signOut('');
})();
