// The example backend on its own, against a stand-in for keygate's POST /auth/token.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createServer } from 'node:http';
import { fileURLToPath } from 'node:url';

import { startBackend } from '../example/backend.mjs';

const PROJECT_KEY = 'aaaabbbbccccdddd.eeeeffff00001111';
let keygate;
let keygateUrl;
let exchanges = [];
let answer = () => [200, { token: 'eyJ.issued.token', expiresIn: 900, extra: 'not forwarded' }];
let backend;

before(async () => {
  keygate = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk) => {
      body += chunk;
    });
    request.on('end', () => {
      exchanges.push({ method: request.method, url: request.url, type: request.headers['content-type'], body: JSON.parse(body) });
      const [status, json] = answer();
      response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(json));
    });
  });
  await new Promise((resolve) => keygate.listen(0, '127.0.0.1', resolve));
  keygateUrl = `http://127.0.0.1:${keygate.address().port}`;
  backend = await startBackend({ port: 0, keygateUrl, projectId: 'my-project', projectKey: PROJECT_KEY });
});

after(async () => {
  await backend?.close();
  keygate?.closeAllConnections();
  await new Promise((resolve) => keygate?.close(resolve));
});

async function session() {
  const page = await fetch(`${backend.url}/app/`);
  assert.equal(page.status, 200);
  const cookie = page.headers.get('set-cookie');
  assert.match(cookie, /^demo_session=[0-9a-f]{32}; Path=\/; HttpOnly; SameSite=Strict$/);
  return cookie.split(';')[0];
}

test('the token route needs the session, exchanges the key at keygate and forwards {token, expiresIn}', async () => {
  exchanges = [];
  const anonymous = await fetch(`${backend.url}/api/moss-token`);
  assert.equal(anonymous.status, 401);
  assert.deepEqual(await anonymous.json(), { error: 'no_session' });
  assert.equal(exchanges.length, 0, 'no session, no exchange');

  const cookie = await session();
  const response = await fetch(`${backend.url}/api/moss-token`, { headers: { cookie } });
  assert.equal(response.status, 200);
  assert.equal(response.headers.get('cache-control'), 'no-store');
  const text = await response.text();
  assert.deepEqual(JSON.parse(text), { token: 'eyJ.issued.token', expiresIn: 900 });
  assert.ok(!text.includes(PROJECT_KEY));
  assert.deepEqual(exchanges, [
    { method: 'POST', url: '/auth/token', type: 'application/json', body: { projectId: 'my-project', projectKey: PROJECT_KEY } },
  ]);
});

test('a failed exchange is a 502 that says nothing about the key', async () => {
  answer = () => [401, { error: 'invalid_client' }];
  try {
    const cookie = await session();
    const response = await fetch(`${backend.url}/api/moss-token`, { headers: { cookie } });
    assert.equal(response.status, 502);
    assert.deepEqual(await response.json(), { error: 'token_exchange_failed' });
  } finally {
    answer = () => [200, { token: 'eyJ.issued.token', expiresIn: 900 }];
  }
});

test('the page names its API origin as configured, HTML-escaped', async () => {
  const other = await startBackend({ port: 0, keygateUrl, apiOrigin: () => 'http://127.0.0.1:9"<x>', projectId: 'p', projectKey: 'k' });
  try {
    const html = await (await fetch(`${other.url}/app/`)).text();
    assert.match(html, /<meta name="keygate-api" content="http:\/\/127\.0\.0\.1:9&#34;&#60;x&#62;">/);
    const same = await (await fetch(`${backend.url}/app/`)).text();
    assert.match(same, /<meta name="keygate-api" content="">/);
    const module = await fetch(`${backend.url}/app/keygate-auth.js`);
    assert.match(module.headers.get('content-type'), /^text\/javascript/);
    assert.match(await module.text(), /export class BackendUrlAuthenticator/);
  } finally {
    await other.close();
  }
});

test('/api/items answers only requests that came through keygate', async () => {
  const direct = await fetch(`${backend.url}/api/items`);
  assert.equal(direct.status, 403);
  const through = await fetch(`${backend.url}/api/items`, { headers: { 'x-keygate-subject': 'my-project' } });
  assert.deepEqual(await through.json(), { items: ['apples', 'pears'], subject: 'my-project' });
});

test('node backend.mjs refuses to start without a project key', () => {
  const env = { ...process.env };
  delete env.KEYGATE_PROJECT_KEY;
  const run = spawnSync(process.execPath, [fileURLToPath(new URL('../example/backend.mjs', import.meta.url))], {
    env: { ...env, BACKEND_LISTEN: '127.0.0.1:0' },
    encoding: 'utf8',
    timeout: 10_000,
  });
  assert.equal(run.status, 2);
  assert.match(run.stderr, /set KEYGATE_PROJECT_KEY/);
});
