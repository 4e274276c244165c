// BackendUrlAuthenticator: the token route, its errors, and the fetch wrapper's 401 rule, with a
// fake fetch and a fake clock.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { BackendUrlAuthenticator, KeygateAuthError } from '../keygate-auth.js';
import { deferred, fakeClock, fakeFetch, json } from './support/fakes.mjs';

const PAGE = 'https://app.example';
const TOKEN_URL = `${PAGE}/api/moss-token`;

/** A token route that hands out `tok-1`, `tok-2`, … valid for `expiresIn`. */
const issue = (expiresIn = 3600) => (n) => json(200, { token: `tok-${n}`, expiresIn });

/** The API accepts only the tokens in `valid`. */
const acceptOnly = (...valid) => (request) =>
  valid.includes(request.authorization)
    ? json(200, { items: [] })
    : json(401, { error: 'invalid_token' }, { 'www-authenticate': 'Bearer realm="keygate", error="invalid_token"' });

function authenticator(fetch, options = {}) {
  return new BackendUrlAuthenticator({ tokenUrl: TOKEN_URL, baseUrl: PAGE, fetch, now: fakeClock(), ...options });
}

test('getAuthToken GETs the token route once and getAuthHeader is "Bearer <token>"', async () => {
  const fetch = fakeFetch({ tokens: issue(3600) });
  const auth = authenticator(fetch, { headers: { 'x-csrf-token': 'c' } });
  assert.deepEqual(await auth.getAuthToken(), { token: 'tok-1', expiresIn: 3600 });
  assert.equal(await auth.getAuthHeader(), 'Bearer tok-1');
  assert.equal(await auth.getAuthHeader(), 'Bearer tok-1');
  assert.equal(fetch.tokenCalls, 1);
  const { init } = fetch.calls[0];
  assert.equal(init.method, 'GET');
  assert.equal(init.credentials, 'same-origin');
  assert.equal(init.cache, 'no-store');
  assert.equal(new Headers(init.headers).get('x-csrf-token'), 'c');
});

test('token route errors are precise and never echo the body', async () => {
  const secret = 'tok-secret-in-body';
  const cases = [
    [() => json(401, { error: 'no_session', token: secret }), { reason: 'rejected', status: 401, code: 'no_session', transient: false }],
    [() => json(403, { error: `free text ${secret}` }), { reason: 'rejected', status: 403, code: undefined, transient: false }],
    [() => json(503, { error: 'unavailable' }), { reason: 'status', status: 503, code: 'unavailable', transient: true }],
    [() => json(429, {}), { reason: 'status', status: 429, transient: true }],
    [() => json(404, {}), { reason: 'status', status: 404, transient: false }],
    [() => new Response(`<html>${secret}</html>`, { status: 200 }), { reason: 'invalid_response', message: 'the token response is not JSON' }],
    [() => json(200, { token: secret }), { reason: 'invalid_response', message: 'the response has no expiresIn' }],
    [() => new Response('x'.repeat(70 * 1024)), { reason: 'invalid_response', message: 'the token response is larger than 64 KiB' }],
    [() => Promise.reject(new TypeError('Failed to fetch')), { reason: 'network', transient: true }],
  ];
  for (const [answer, expected] of cases) {
    const auth = authenticator(fakeFetch({ tokens: answer }));
    await assert.rejects(auth.getAuthToken(), (error) => {
      assert.ok(error instanceof KeygateAuthError, String(error));
      assert.equal(error.name, 'KeygateAuthError');
      for (const [key, value] of Object.entries(expected)) assert.equal(error[key], value, key);
      assert.ok(!error.message.includes(secret) && !error.message.includes(TOKEN_URL), error.message);
      return true;
    });
  }
});

test('a token route that does not answer in time fails with a timeout', async () => {
  const hang = (url, init) =>
    new Promise((_, reject) => init.signal.addEventListener('abort', () => reject(new DOMException('aborted', 'AbortError'))));
  const auth = new BackendUrlAuthenticator({ tokenUrl: TOKEN_URL, baseUrl: PAGE, fetch: hang, fetchTimeoutMs: 20 });
  await assert.rejects(auth.getAuthToken(), { name: 'KeygateAuthError', reason: 'timeout', transient: true });
});

test('fetch attaches the bearer token, replacing any Authorization, under baseUrl', async () => {
  const fetch = fakeFetch({ tokens: issue() });
  const auth = authenticator(fetch);
  const response = await auth.fetch('/api/items?x=1', { headers: { Authorization: 'Basic bad', 'x-a': '1' } });
  assert.equal(response.status, 200);
  const [call] = fetch.apiCalls;
  assert.equal(call.url, `${PAGE}/api/items?x=1`);
  assert.equal(call.authorization, 'Bearer tok-1');
  assert.equal(new Headers(call.init.headers).get('x-a'), '1');
});

test('fetch never sends the token outside baseUrl', async () => {
  const fetch = fakeFetch({ tokens: issue() });
  const auth = authenticator(fetch, { baseUrl: 'https://api.example/v1' });
  await auth.fetch('items');
  assert.equal(fetch.apiCalls[0].url, 'https://api.example/v1/items');
  for (const path of ['https://evil.example/v1/items', '//evil.example/x', '../x', '/v2/items', 'http://api.example/v1/items']) {
    await assert.rejects(auth.fetch(path), { name: 'KeygateAuthError', reason: 'outside_base_url' }, path);
  }
  assert.equal(fetch.apiCalls.length, 1, 'nothing else was sent');
});

test('a 401 drops the rejected token, fetches a new one and retries once', async () => {
  const fetch = fakeFetch({ tokens: issue(), api: acceptOnly('Bearer tok-2') });
  const auth = authenticator(fetch);
  const response = await auth.fetch('/api/items', { method: 'POST', body: '{"a":1}' });
  assert.equal(response.status, 200);
  assert.deepEqual(
    fetch.apiCalls.map((c) => [c.authorization, c.init.method, c.init.body]),
    [
      ['Bearer tok-1', 'POST', '{"a":1}'],
      ['Bearer tok-2', 'POST', '{"a":1}'],
    ],
  );
  assert.equal(fetch.tokenCalls, 2);
  assert.equal((await auth.getAuthToken()).token, 'tok-2', 'the new token is cached');
});

test('no retry loop: a second 401 is returned to the caller', async () => {
  const fetch = fakeFetch({ tokens: issue(), api: acceptOnly() });
  const auth = authenticator(fetch);
  const response = await auth.fetch('/api/items');
  assert.equal(response.status, 401);
  assert.match(response.headers.get('www-authenticate'), /invalid_token/);
  assert.equal(fetch.apiCalls.length, 2);
  assert.equal(fetch.tokenCalls, 2);
});

test('the newer-token case: a late 401 for an old token keeps the newer one', async () => {
  // Requests A and B both go out with tok-1. A's 401 arrives first: A drops tok-1, fetches tok-2
  // and succeeds. Then B's 401 (for tok-1) arrives: B must not drop tok-2, and retries with it.
  const firstAnswers = [deferred(), deferred()];
  const fetch = fakeFetch({
    tokens: issue(),
    api: (request, n) => (n <= 2 ? firstAnswers[n - 1].promise : acceptOnly('Bearer tok-2')(request)),
  });
  const auth = authenticator(fetch);
  await auth.getAuthToken();
  const a = auth.fetch('/api/a');
  const b = auth.fetch('/api/b');
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(fetch.apiCalls.map((c) => c.authorization), ['Bearer tok-1', 'Bearer tok-1']);

  firstAnswers[0].resolve(acceptOnly()(fetch.apiCalls[0]));
  assert.equal((await a).status, 200);
  assert.equal(fetch.tokenCalls, 2);

  firstAnswers[1].resolve(acceptOnly()(fetch.apiCalls[1]));
  assert.equal((await b).status, 200);
  assert.equal(fetch.tokenCalls, 2, 'B reused tok-2 instead of fetching a third token');
  assert.deepEqual(
    fetch.apiCalls.slice(2).map((c) => [new URL(c.url).pathname, c.authorization]),
    [
      ['/api/a', 'Bearer tok-2'],
      ['/api/b', 'Bearer tok-2'],
    ],
  );
});

test('two requests rejected for the same token at once cause one refetch', async () => {
  const fetch = fakeFetch({ tokens: issue(), api: acceptOnly('Bearer tok-2') });
  const auth = authenticator(fetch);
  const responses = await Promise.all([auth.fetch('/api/a'), auth.fetch('/api/b'), auth.fetch('/api/c')]);
  assert.deepEqual(responses.map((r) => r.status), [200, 200, 200]);
  assert.equal(fetch.tokenCalls, 2);
});

test('a body that cannot be replayed is not retried, but the token is still dropped', async () => {
  const fetch = fakeFetch({ tokens: issue(), api: acceptOnly('Bearer tok-2') });
  const auth = authenticator(fetch);
  const body = new ReadableStream({ start: (c) => c.close() });
  const response = await auth.fetch('/api/upload', { method: 'POST', body, duplex: 'half' });
  assert.equal(response.status, 401);
  assert.equal(fetch.apiCalls.length, 1);
  assert.equal((await auth.getAuthToken()).token, 'tok-2');
});

test('when the refresh after a 401 fails, the error surfaces (the rejected token is not reused)', async () => {
  const fetch = fakeFetch({
    tokens: (n) => (n === 1 ? json(200, { token: 'tok-1', expiresIn: 3600 }) : json(401, { error: 'no_session' })),
    api: acceptOnly(),
  });
  const auth = authenticator(fetch);
  await assert.rejects(auth.fetch('/api/items'), { name: 'KeygateAuthError', reason: 'rejected', code: 'no_session' });
  assert.equal(fetch.apiCalls.length, 1);
});

test('serve while valid through the authenticator: the token route fails in the last minute', async () => {
  const now = fakeClock();
  const fetch = fakeFetch({
    tokens: (n) => (n === 1 ? json(200, { token: 'tok-1', expiresIn: 300 }) : json(502, {})),
  });
  const auth = authenticator(fetch, { now });
  await auth.fetch('/api/items');
  now.set(250_000);
  const response = await auth.fetch('/api/items');
  assert.equal(response.status, 200);
  assert.equal(fetch.apiCalls[1].authorization, 'Bearer tok-1');
  assert.equal(fetch.tokenCalls, 2);
  now.set(300_000);
  await assert.rejects(auth.fetch('/api/items'), { reason: 'status', status: 502 });
});

test('bad options are refused', () => {
  const fetch = fakeFetch({ tokens: issue() });
  assert.throws(() => new BackendUrlAuthenticator({ baseUrl: PAGE, fetch }), { reason: 'invalid_config', message: 'tokenUrl is required' });
  assert.throws(() => new BackendUrlAuthenticator({ tokenUrl: '/relative', baseUrl: PAGE, fetch }), { reason: 'invalid_config', message: 'tokenUrl is not a URL' });
  assert.throws(() => new BackendUrlAuthenticator({ tokenUrl: 'https://u:p@app.example/t', baseUrl: PAGE, fetch }), { reason: 'invalid_config' });
  assert.throws(() => new BackendUrlAuthenticator({ tokenUrl: TOKEN_URL, fetch }), { reason: 'invalid_config', message: 'baseUrl is required' });
});
