// End to end in a real browser: headless Chromium (Debian's, driven by puppeteer-core; no browser
// download) runs the example page against the real `keygate serve`, with the example backend
// (example/backend.mjs) as keygate's upstream and the example's moose.config.toml.
//
//   same origin:  page, token route and API all behind keygate
//   cross origin: the page and its token route on the backend's own origin, the API on keygate's,
//                 with `cors_allowed_origins` naming the page's origin (and a second origin that
//                 is not on the list)
//
// Needs: chromium (CHROMIUM_BIN, default /usr/bin/chromium), `npm ci --prefix clients/browser`,
// and the keygate binary (KEYGATE_BIN, default <target>/debug/keygate). Missing ones skip the
// tests with a note, or fail them when KEYGATE_REQUIRE_COMPONENTS is set (`cargo xtask ci`).
// Only 127.0.0.1 and ephemeral ports; every process is stopped at the end.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { startBackend } from '../example/backend.mjs';
import { installed, keygate, keygateBinary, serve } from './support/processes.mjs';

const CHROMIUM = process.env.CHROMIUM_BIN ?? '/usr/bin/chromium';
const KEYGATE = keygateBinary();
const EXAMPLE_CONFIG = new URL('../example/moose.config.toml', import.meta.url);
const PROJECT_ID = 'my-project';
const STEP = 20_000; // bound on each browser step

let puppeteer;
try {
  puppeteer = (await import('puppeteer-core')).default;
} catch {
  puppeteer = undefined;
}

const missing = [
  installed(CHROMIUM) ? null : `chromium (${CHROMIUM}; apt-get install chromium)`,
  puppeteer ? null : 'puppeteer-core (npm ci --prefix clients/browser)',
  installed(KEYGATE) ? null : `the keygate binary (${KEYGATE}; cargo build -p keygate, or set KEYGATE_BIN)`,
].filter(Boolean);
if (missing.length > 0 && process.env.KEYGATE_REQUIRE_COMPONENTS) {
  throw new Error(`required for the browser tests but missing: ${missing.join(', ')}`);
}
const skip = missing.length > 0 ? `not installed: ${missing.join(', ')}` : false;

let work;
let browser;
let project;
const cleanups = [];

before(async () => {
  if (skip) return;
  work = mkdtempSync(path.join(tmpdir(), 'keygate-browser-e2e-'));
  project = JSON.parse(keygate(KEYGATE, ['generate', 'hash-token', '--json']));
  browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    // Chromium's sandbox cannot start as root (CI runs as root).
    args: process.getuid?.() === 0 ? ['--no-sandbox'] : [],
    timeout: 30_000,
  });
});

after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
  await browser?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

/** A new signing key (`keygate jwt keygen`), as PEM. */
function signingKey(name) {
  const dir = path.join(work, name);
  keygate(KEYGATE, ['jwt', 'keygen', '--out', dir, '--alg', 'EdDSA']);
  return readFileSync(path.join(dir, 'private.pem'), 'utf8');
}

/**
 * The example's configuration with the signing key in the file (rather than in the environment,
 * as the example says) so that a test can rotate it with a reload.
 */
function writeConfig(file, privateKey) {
  const example = readFileSync(EXAMPLE_CONFIG, 'utf8');
  const config = example.replace('[token_issuer]\n', `[token_issuer]\nprivate_key = """\n${privateKey}"""\n`);
  assert.notEqual(config, example, 'the example config has a [token_issuer] table');
  writeFileSync(file, config, { mode: 0o600 });
}

/**
 * The example backend, and keygate in front of it. Cross-origin, the backend's page names
 * keygate's origin as its API, and keygate allows the backend's origin.
 */
async function startStack(name, { crossOrigin = false } = {}) {
  const config = path.join(work, `${name}.toml`);
  writeConfig(config, signingKey(`${name}-key-1`));
  let gatewayUrl; // known once keygate runs, which needs the backend's address first
  const backendOptions = {
    port: 0,
    keygateUrl: () => gatewayUrl,
    apiOrigin: crossOrigin ? () => gatewayUrl : '',
    projectId: PROJECT_ID,
    projectKey: project.bearer_token,
  };
  const backend = await startBackend(backendOptions);
  cleanups.push(() => backend.close());
  const env = {
    MOOSE_TOKEN_ISSUER__PROJECTS: `[{ id = "${PROJECT_ID}", key_hash = "${project.api_key_hash}" }]`,
  };
  if (crossOrigin) env.MOOSE_SERVER__CORS_ALLOWED_ORIGINS = backend.url;
  const gateway = await serve(KEYGATE, { config, upstream: backend.url, env });
  cleanups.push(() => gateway.stop());
  gatewayUrl = gateway.url;
  return { config, backend, gateway, backendOptions };
}

/** A fresh browser profile (cookies, caches) with every request and response recorded. */
async function openPage(url) {
  const context = await browser.createBrowserContext();
  cleanups.push(() => context.close());
  const page = await context.newPage();
  page.setDefaultTimeout(STEP);
  const log = [];
  page.on('response', (response) => {
    const request = response.request();
    log.push({ method: request.method(), url: response.url(), status: response.status(), response });
  });
  page.on('requestfailed', (request) => {
    // A request that got no answer at all (a cancelled body after an answer is not one).
    if (request.response() === null) log.push({ method: request.method(), url: request.url(), status: 'failed' });
  });
  await page.goto(url);
  await page.waitForFunction(() => window.keygateDemo !== undefined);
  return { page, log };
}

const pathOf = (entry) => new URL(entry.url).pathname;
const calls = (log, method, pathname) => log.filter((e) => e.method === method && pathOf(e) === pathname);

/** The key id the gateway publishes, from its JWKS. */
async function publishedKid(gateway) {
  const jwks = await (await fetch(`${gateway.url}/.well-known/jwks.json`)).json();
  return jwks.keys.map((k) => k.kid).join(',');
}

test('same origin: page, token route and API behind keygate; a rejected token is refreshed once', { skip, timeout: 120_000 }, async () => {
  const { config, gateway } = await startStack('same-origin');
  const { page, log } = await openPage(`${gateway.url}/app/`);
  assert.equal(await page.evaluate(() => window.keygateDemo.api), gateway.url);

  // Two calls, one token: the token route is asked once.
  for (let i = 0; i < 2; i += 1) {
    const result = await page.evaluate(() => window.keygateDemo.loadItems());
    assert.equal(result.status, 200);
    assert.deepEqual(result.body, { items: ['apples', 'pears'], subject: PROJECT_ID });
  }
  assert.equal(calls(log, 'GET', '/api/moss-token').length, 1);
  assert.deepEqual(calls(log, 'GET', '/api/items').map((e) => e.status), [200, 200]);
  const first = await page.evaluate(() => window.keygateDemo.auth.getAuthToken());
  assert.ok(first.expiresIn > 800 && first.expiresIn <= 900, `expiresIn ${first.expiresIn} of a 900 s token`);

  // The button shows the items.
  await page.click('#load');
  await page.waitForFunction(() => document.getElementById('out').textContent.startsWith('HTTP 200'));

  // The backend's own session guards the token route: without the cookie, no token, and the
  // module says why.
  const refused = await page.evaluate(async () => {
    const { BackendUrlAuthenticator } = await import('/app/keygate-auth.js');
    const anonymous = new BackendUrlAuthenticator({ tokenUrl: '/api/moss-token', credentials: 'omit' });
    try {
      await anonymous.getAuthToken();
      return null;
    } catch (error) {
      return { name: error.name, reason: error.reason, status: error.status, code: error.code };
    }
  });
  assert.deepEqual(refused, { name: 'KeygateAuthError', reason: 'rejected', status: 401, code: 'no_session' });

  // Rotate keygate's signing key (no previous key kept): the cached token is now rejected.
  const before = await publishedKid(gateway);
  writeConfig(config, signingKey('same-origin-key-2'));
  gateway.signal('SIGHUP');
  const deadline = Date.now() + 10_000;
  while ((await publishedKid(gateway)) === before) {
    assert.ok(Date.now() < deadline, 'keygate reloaded the rotated key within 10 s');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const stale = await fetch(`${gateway.url}/api/items`, { headers: { authorization: `Bearer ${first.token}` } });
  assert.equal(stale.status, 401, 'the old token is rejected now');

  // One 401, one new token, one retry, and the page gets its items.
  const mark = log.length;
  const result = await page.evaluate(() => window.keygateDemo.loadItems());
  assert.equal(result.status, 200);
  assert.deepEqual(
    log.slice(mark).filter((e) => pathOf(e).startsWith('/api/')).map((e) => `${e.method} ${pathOf(e)} ${e.status}`),
    ['GET /api/items 401', 'GET /api/moss-token 200', 'GET /api/items 200'],
  );
  const second = await page.evaluate(() => window.keygateDemo.auth.getAuthToken());
  assert.ok(second.token !== first.token, 'a new token (values not printed: they are secrets)');

  // Nothing the browser received contains the project key: the page, the module, the token
  // route's and the API's answers.
  const [keyHalf, saltHalf] = project.bearer_token.split('.');
  const received = log.filter((e) => e.status === 200);
  assert.ok(received.length >= 6, `${received.length} answers`);
  for (const entry of received) {
    const text = JSON.stringify(entry.response.headers()) + (await entry.response.text());
    assert.ok(!text.includes(keyHalf) && !text.includes(saltHalf), `project key in ${pathOf(entry)}`);
  }
});

test('cross origin: an allowed origin calls keygate through CORS; another origin is blocked', { skip, timeout: 120_000 }, async () => {
  const { backend, gateway, backendOptions } = await startStack('cross-origin', { crossOrigin: true });
  assert.notEqual(backend.url, gateway.url);
  const { page, log } = await openPage(`${backend.url}/app/`);
  assert.equal(await page.evaluate(() => window.keygateDemo.api), gateway.url);

  // The token comes from the page's own origin; the API call goes to keygate's, after a
  // preflight (Authorization is not a CORS-safelisted header) that keygate answers itself.
  const result = await page.evaluate(() => window.keygateDemo.loadItems());
  assert.equal(result.status, 200);
  assert.deepEqual(result.body, { items: ['apples', 'pears'], subject: PROJECT_ID });
  const [tokenCall] = calls(log, 'GET', '/api/moss-token');
  assert.equal(new URL(tokenCall.url).origin, backend.url);
  const preflights = calls(log, 'OPTIONS', '/api/items');
  assert.equal(preflights.length, 1, 'one preflight');
  assert.equal(new URL(preflights[0].url).origin, gateway.url);
  assert.equal(preflights[0].status, 204);
  const preflight = preflights[0].response.headers();
  assert.equal(preflight['access-control-allow-origin'], backend.url);
  assert.match(preflight['access-control-allow-headers'], /authorization/);
  const [items] = calls(log, 'GET', '/api/items');
  assert.equal(items.response.headers()['access-control-allow-origin'], backend.url);

  // A refusal is readable too: the page sees the 401 and its WWW-Authenticate.
  const refusals = await page.evaluate(async (api) => {
    const read = async (headers) => {
      const response = await fetch(`${api}/api/items`, { headers });
      return { status: response.status, wwwAuthenticate: response.headers.get('www-authenticate'), body: await response.json() };
    };
    return [await read({}), await read({ authorization: 'Bearer not-a-keygate-token' })];
  }, gateway.url);
  assert.equal(refusals[0].status, 401);
  assert.equal(refusals[0].wwwAuthenticate, 'Bearer realm="keygate"');
  assert.equal(refusals[0].body.error, 'unauthorized');
  assert.equal(refusals[1].status, 401);
  assert.match(refusals[1].wwwAuthenticate, /^Bearer realm="keygate", error="invalid_token"/);

  // The same page from an origin keygate does not allow: its own token route works, but the
  // browser refuses the API call (no Access-Control-Allow-Origin), so fetch throws.
  const other = await startBackend(backendOptions);
  cleanups.push(() => other.close());
  assert.notEqual(other.url, backend.url);
  const blocked = await openPage(`${other.url}/app/`);
  const outcome = await blocked.page.evaluate(async () => {
    try {
      const { status } = await window.keygateDemo.loadItems();
      return { status };
    } catch (error) {
      return { name: error.name, message: error.message };
    }
  });
  assert.equal(outcome.name, 'TypeError', JSON.stringify(outcome));
  assert.equal(calls(blocked.log, 'GET', '/api/moss-token')[0].status, 200);
  const blockedPreflight = calls(blocked.log, 'OPTIONS', '/api/items');
  assert.equal(blockedPreflight.length, 1);
  assert.equal(blockedPreflight[0].response?.headers()['access-control-allow-origin'], undefined);
  assert.equal(calls(blocked.log, 'GET', '/api/items').filter((e) => e.status !== 'failed').length, 0, 'the request itself was never sent');
});
