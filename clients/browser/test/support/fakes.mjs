// Test doubles: a clock the test moves, a token route whose answers the test scripts, and
// promises the test resolves when it wants (to order concurrent calls exactly).

/** A clock in milliseconds that only moves when told. */
export function fakeClock(start = 0) {
  let t = start;
  const now = () => t;
  now.advance = (ms) => {
    t += ms;
  };
  now.set = (ms) => {
    t = ms;
  };
  return now;
}

/** A promise with its resolve/reject handles. */
export function deferred() {
  let resolve;
  let reject;
  const promise = new Promise((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** A token source for `TokenCache`: hands out `tok-1`, `tok-2`, … with `expiresIn`, counting calls. */
export function tokenSource(expiresIn) {
  const source = async () => {
    source.calls += 1;
    return { token: `tok-${source.calls}`, expiresIn };
  };
  source.calls = 0;
  return source;
}

export function json(status, body, headers = {}) {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'content-type': 'application/json', ...headers },
  });
}

/**
 * A fake `fetch` for a page whose backend token route is `/api/moss-token` and whose API is
 * `handler(request, calls)`. Every call is recorded as `{url, init, authorization}`.
 */
export function fakeFetch({ tokens, api = () => json(200, { ok: true }) }) {
  const fetch = async (url, init = {}) => {
    const href = String(url);
    const record = {
      url: href,
      init,
      authorization: new Headers(init.headers).get('authorization'),
    };
    fetch.calls.push(record);
    if (new URL(href).pathname === '/api/moss-token') {
      fetch.tokenCalls += 1;
      if (fetch.tokenCalls > 50) throw new Error('refresh loop: more than 50 token requests');
      return tokens(fetch.tokenCalls, init);
    }
    fetch.apiCalls.push(record);
    // A retry loop would spin on microtasks, where no test timeout can stop it.
    if (fetch.apiCalls.length > 50) throw new Error('retry loop: more than 50 API requests');
    return api(record, fetch.apiCalls.length);
  };
  fetch.calls = [];
  fetch.apiCalls = [];
  fetch.tokenCalls = 0;
  return fetch;
}
