// The example's backend (node, no dependencies): the reference's "your backend" for a page that
// calls an API behind keygate. It runs as keygate's upstream and serves
//
//   GET /app/                    the page (and gives the visitor a demo session cookie)
//   GET /app/keygate-auth.js     the browser module
//   GET /api/moss-token          the reference's token route: guarded by the backend's own
//                                session, it exchanges the project key at keygate's
//                                POST /auth/token (server side) and returns {token, expiresIn}
//   GET /api/items               the protected API: keygate lets only valid tokens through
//
// keygate's configuration (moose.config.toml beside this file) makes /api/moss-token public, so
// that the backend's session, not keygate, decides who gets a token; the rest of /api stays
// protected. Run it as described in docs/client.md ("Browser frontends").
//
// The project key is read from the environment, sent only to keygate, and never logged or
// returned to the page.

import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { pathToFileURL } from 'node:url';

const HERE = new URL('./', import.meta.url);
const PAGE = new URL('index.html', HERE);
const MODULE = new URL('../keygate-auth.js', HERE);
const SESSION_COOKIE = 'demo_session';

/**
 * Starts the backend. `keygateUrl` (where the key is exchanged) and `apiOrigin` (where the page
 * sends API calls; empty: the page's own origin) may be functions, for when keygate's address is
 * known only after the backend is listening (keygate needs the backend's address first).
 */
export async function startBackend({
  host = '127.0.0.1',
  port = 4100,
  keygateUrl,
  apiOrigin = '',
  projectId,
  projectKey,
  log = () => {},
}) {
  if (!projectId || !projectKey) throw new Error('the backend needs a project id and a project key');
  const value = (v) => (typeof v === 'function' ? v() : v);
  // A stand-in for your login: whoever loaded the page has a session. A real backend checks
  // its own session (cookie, OAuth, …) here.
  const sessions = new Set();

  async function exchange() {
    // No server-side cache: every browser caches its own token (keygate-auth.js) and asks again
    // only near expiry or after a 401, and then a new token is what it needs, for example after
    // keygate's signing key was rotated.
    const response = await fetch(new URL('/auth/token', value(keygateUrl)), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ projectId, projectKey }),
      redirect: 'error', // the key is never re-sent wherever a redirect points
      signal: AbortSignal.timeout(10_000),
    });
    if (!response.ok) throw new Error(`keygate answered HTTP ${response.status}`);
    const { token, expiresIn } = await response.json();
    return { token, expiresIn };
  }

  const routes = {
    '/app/': async (request) => {
      let session = cookie(request, SESSION_COOKIE);
      const headers = { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' };
      if (!sessions.has(session)) {
        session = randomBytes(16).toString('hex');
        sessions.add(session);
        headers['set-cookie'] = `${SESSION_COOKIE}=${session}; Path=/; HttpOnly; SameSite=Strict`;
      }
      const html = (await readFile(PAGE, 'utf8')).replace('__KEYGATE_API__', () => escapeHtml(value(apiOrigin)));
      return [200, headers, html];
    },
    '/app/keygate-auth.js': async () => [200, { 'content-type': 'text/javascript; charset=utf-8' }, await readFile(MODULE)],
    '/api/moss-token': async (request) => {
      if (!sessions.has(cookie(request, SESSION_COOKIE))) return jsonAnswer(401, { error: 'no_session' });
      try {
        return jsonAnswer(200, await exchange());
      } catch (error) {
        log(`token exchange failed: ${error.message}`);
        return jsonAnswer(502, { error: 'token_exchange_failed' });
      }
    },
    '/api/items': async (request) => {
      // keygate sets these after it has checked the token (and strips any the client sent).
      // The backend may believe them only because keygate is the one way to reach it.
      const subject = request.headers['x-keygate-subject'];
      if (!subject) return jsonAnswer(403, { error: 'not_through_keygate' });
      return jsonAnswer(200, { items: ['apples', 'pears'], subject });
    },
  };

  const server = createServer(async (request, response) => {
    const path = new URL(request.url, 'http://backend').pathname;
    const route = path === '/' || path === '/app' ? redirectToApp : routes[path];
    let status = 404;
    let headers = { 'content-type': 'application/json' };
    let body = JSON.stringify({ error: 'not_found' });
    try {
      if (route && request.method === 'GET') [status, headers, body] = await route(request);
      else if (route) [status, headers, body] = [405, { allow: 'GET' }, ''];
    } catch (error) {
      log(`${path}: ${error.message}`);
      [status, headers, body] = jsonAnswer(500, { error: 'internal' });
    }
    response.writeHead(status, headers).end(body);
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  const address = server.address();
  return {
    url: `http://${address.address}:${address.port}`,
    close: () =>
      new Promise((resolve) => {
        server.close(resolve);
        server.closeAllConnections();
      }),
  };
}

function redirectToApp() {
  return [302, { location: '/app/' }, ''];
}

function jsonAnswer(status, body) {
  return [status, { 'content-type': 'application/json', 'cache-control': 'no-store' }, JSON.stringify(body)];
}

function cookie(request, name) {
  for (const part of (request.headers.cookie ?? '').split(';')) {
    const [key, ...rest] = part.trim().split('=');
    if (key === name) return rest.join('=');
  }
  return undefined;
}

function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

// `node backend.mjs`: configured from the environment.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  if (!process.env.KEYGATE_PROJECT_KEY) {
    console.error('backend: set KEYGATE_PROJECT_KEY (the project key from `keygate generate hash-token`)');
    process.exit(2);
  }
  const [host, port] = (process.env.BACKEND_LISTEN ?? '127.0.0.1:4100').split(/:(?=\d+$)/);
  const backend = await startBackend({
    host,
    port: Number(port),
    keygateUrl: process.env.KEYGATE_URL ?? 'http://127.0.0.1:4000',
    apiOrigin: process.env.KEYGATE_API_ORIGIN ?? '',
    projectId: process.env.KEYGATE_PROJECT_ID ?? 'my-project',
    projectKey: process.env.KEYGATE_PROJECT_KEY,
    log: (line) => console.error(`backend: ${line}`),
  }).catch((error) => {
    console.error(`backend: could not start: ${error.message}`);
    process.exit(1);
  });
  console.log(`backend is listening on ${backend.url} (page: ${backend.url}/app/)`);
  const stop = () => backend.close().then(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}
