// The cache rules of keygate-auth.js (docs/client.md §3), with a fake clock.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import {
  KeygateAuthError,
  MAX_CACHED_LIFETIME_S,
  TokenCache,
  refreshBufferMs,
  systemClock,
} from '../keygate-auth.js';
import { deferred, fakeClock, tokenSource } from './support/fakes.mjs';

const S = 1000;

test('the refresh buffer is min(60 s, lifetime / 2)', () => {
  const cases = [
    [1, 0.5],
    [59, 29.5],
    [100, 50],
    [119, 59.5],
    [120, 60],
    [121, 60],
    [3600, 60],
    [86_400, 60],
  ];
  for (const [lifetime, buffer] of cases) {
    assert.equal(refreshBufferMs(lifetime * S), buffer * S, `${lifetime} s`);
  }
});

for (const [lifetime, freshFor] of [
  [3600, 3540],
  [121, 61],
  [120, 60],
  [100, 50],
  [2, 1],
  [1, 0.5],
]) {
  test(`a ${lifetime} s token is served from the cache for ${freshFor} s, then refreshed`, async () => {
    const now = fakeClock();
    const source = tokenSource(lifetime);
    const cache = new TokenCache({ fetchToken: source, now });

    assert.equal((await cache.get()).token, 'tok-1');
    now.set(freshFor * S - 1);
    assert.equal((await cache.get()).token, 'tok-1', 'one millisecond before the buffer');
    assert.equal(source.calls, 1);
    now.set(freshFor * S);
    assert.equal((await cache.get()).token, 'tok-2', 'at the buffer');
    assert.equal(source.calls, 2);
  });
}

test('expiresIn is the whole seconds actually left, not the original lifetime', async () => {
  const now = fakeClock();
  const cache = new TokenCache({ fetchToken: tokenSource(3600), now });
  assert.equal((await cache.get()).expiresIn, 3600);
  now.set(1000.5 * S);
  assert.deepEqual(await cache.get(), { token: 'tok-1', expiresIn: 2599 });
  now.set(3539 * S);
  assert.equal((await cache.get()).expiresIn, 61);
  assert.deepEqual(cache.peek(), { token: 'tok-1', expiresIn: 61 });
});

test('the lifetime counts from when the fetch started', async () => {
  const now = fakeClock();
  const cache = new TokenCache({
    fetchToken: async () => {
      now.advance(10 * S); // the token route took 10 s
      return { token: 'slow', expiresIn: 100 };
    },
    now,
  });
  assert.equal((await cache.get()).expiresIn, 90);
  // fresh until 100 − 50 = 50 s after the start, not after the answer
  now.set(49 * S);
  assert.equal(cache.peek().expiresIn, 51);
});

test('concurrent callers share one fetch (single flight)', async () => {
  let calls = 0;
  const gate = deferred();
  const cache = new TokenCache({
    fetchToken: async () => {
      calls += 1;
      await gate.promise;
      return { token: 'shared', expiresIn: 3600 };
    },
    now: fakeClock(),
  });
  const callers = Array.from({ length: 100 }, () => cache.get());
  gate.resolve();
  const tokens = await Promise.all(callers);
  assert.equal(calls, 1);
  assert.ok(tokens.every((t) => t.token === 'shared'));
});

test('a refresh is single flight too, and callers during it wait for the new token', async () => {
  const now = fakeClock();
  let calls = 0;
  let gate = deferred();
  const cache = new TokenCache({
    fetchToken: async () => {
      calls += 1;
      await gate.promise;
      return { token: `tok-${calls}`, expiresIn: 600 };
    },
    now,
  });
  gate.resolve();
  await cache.get();
  gate = deferred();
  now.set(540 * S);
  const callers = Array.from({ length: 20 }, () => cache.get());
  gate.resolve();
  const tokens = await Promise.all(callers);
  assert.equal(calls, 2);
  assert.ok(tokens.every((t) => t.token === 'tok-2'));
});

test('callers that shared a failed fetch all get its error; the next call fetches again', async () => {
  let calls = 0;
  const gate = deferred();
  const cache = new TokenCache({
    fetchToken: async () => {
      calls += 1;
      if (calls === 1) {
        await gate.promise;
        throw new KeygateAuthError('status', 'the token route answered HTTP 503', { status: 503, transient: true });
      }
      return { token: 'after', expiresIn: 60 };
    },
    now: fakeClock(),
  });
  const callers = Array.from({ length: 10 }, () => cache.get());
  gate.resolve();
  const results = await Promise.allSettled(callers);
  assert.equal(calls, 1);
  for (const result of results) {
    assert.equal(result.status, 'rejected');
    assert.equal(result.reason.status, 503);
  }
  // errors are never cached
  assert.equal((await cache.get()).token, 'after');
  assert.equal(calls, 2);
});

test('serve while valid: a failed refresh serves the cached token until it expires', async () => {
  const now = fakeClock();
  let fail = false;
  let calls = 0;
  const cache = new TokenCache({
    fetchToken: async () => {
      calls += 1;
      if (fail) throw new KeygateAuthError('network', 'the token route could not be reached', { transient: true });
      return { token: 'kept', expiresIn: 3600 };
    },
    now,
  });
  await cache.get();
  fail = true;
  now.set(3550 * S); // due for refresh, still valid
  assert.deepEqual(await cache.get(), { token: 'kept', expiresIn: 50 });
  assert.equal(calls, 2, 'the refresh was tried');
  now.set(3599 * S);
  assert.deepEqual(await cache.get(), { token: 'kept', expiresIn: 1 });
  assert.equal(calls, 3, 'every call after a failure tries again');
  now.set(3600 * S); // expired: now the error surfaces
  await assert.rejects(cache.get(), (error) => error.reason === 'network');
  assert.equal(cache.peek(), null);
});

test('expiresIn 0 is used but not cached; every call fetches again', async () => {
  const source = tokenSource(0);
  const cache = new TokenCache({ fetchToken: source, now: fakeClock() });
  assert.deepEqual(await cache.get(), { token: 'tok-1', expiresIn: 0 });
  assert.deepEqual(await cache.get(), { token: 'tok-2', expiresIn: 0 });
  assert.equal(source.calls, 2);
  assert.equal(cache.peek(), null);
});

test('a lifetime over 365 days is used but not cached', async () => {
  const source = tokenSource(MAX_CACHED_LIFETIME_S + 1);
  const cache = new TokenCache({ fetchToken: source, now: fakeClock() });
  assert.equal((await cache.get()).expiresIn, MAX_CACHED_LIFETIME_S + 1);
  await cache.get();
  assert.equal(source.calls, 2);

  const year = tokenSource(MAX_CACHED_LIFETIME_S);
  const cached = new TokenCache({ fetchToken: year, now: fakeClock() });
  await cached.get();
  await cached.get();
  assert.equal(year.calls, 1, 'exactly 365 days is cached');
});

test('a fractional expiresIn is rounded down', async () => {
  const cache = new TokenCache({ fetchToken: async () => ({ token: 't', expiresIn: 90.9 }), now: fakeClock() });
  assert.equal((await cache.get()).expiresIn, 90);
});

test('unusable token responses are refused with a precise reason that never echoes them', async () => {
  const secret = 'secret-value';
  const cases = [
    [null, 'the token response is not a JSON object'],
    [[secret], 'the token response is not a JSON object'],
    [{ expiresIn: 1 }, 'the response has no token'],
    [{ token: 7, expiresIn: 1 }, 'token is not a string'],
    [{ token: '', expiresIn: 1 }, 'the token is not a valid bearer token (RFC 6750 b64token)'],
    [{ token: `${secret} x`, expiresIn: 1 }, 'the token is not a valid bearer token (RFC 6750 b64token)'],
    [{ token: secret }, 'the response has no expiresIn'],
    [{ token: secret, expiresIn: -1 }, 'expiresIn is negative'],
    [{ token: secret, expiresIn: '3600' }, 'expiresIn is not a number'],
    [{ token: secret, expiresIn: Number.NaN }, 'expiresIn is not a number'],
  ];
  for (const [body, message] of cases) {
    const cache = new TokenCache({ fetchToken: async () => body, now: fakeClock() });
    await assert.rejects(cache.get(), (error) => {
      assert.ok(error instanceof KeygateAuthError);
      assert.equal(error.reason, 'invalid_response');
      assert.equal(error.message, message);
      assert.ok(!String(error.stack).includes(secret));
      return true;
    });
    assert.equal(cache.peek(), null, 'nothing cached');
  }
});

test('invalidateToken drops only the token it names', async () => {
  const source = tokenSource(3600);
  const cache = new TokenCache({ fetchToken: source, now: fakeClock() });
  await cache.get();
  assert.equal(cache.invalidateToken('some-older-token'), false);
  assert.equal(cache.peek().token, 'tok-1');
  assert.equal(cache.invalidateToken('tok-1'), true);
  assert.equal(cache.peek(), null);
  assert.equal((await cache.get()).token, 'tok-2');
  cache.invalidate();
  assert.equal(cache.peek(), null);
});

test('the system clock counts the larger of monotonic and wall-clock time', (t) => {
  let wall = 1_000_000;
  t.mock.method(Date, 'now', () => wall);
  const now = systemClock();
  assert.ok(now() < 1000, 'it counts from its creation');
  wall += 3600 * S; // a laptop slept an hour: performance.now() may not have moved
  assert.ok(now() >= 3600 * S);
  wall -= 7200 * S; // the wall clock is set back: monotonic time still counts
  assert.ok(now() >= 0);
});
