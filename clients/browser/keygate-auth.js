// keygate-auth.js: a browser authenticator for APIs behind keygate (no dependencies, no build).
//
// The page never holds a project key. It GETs short-lived tokens from a route of its own backend
// (guarded by the backend's own session), as in the reference's custom IAuthenticator pattern,
// and caches them with the same rules as keygate's Rust client (docs/client.md §3):
//
// - a token is served from the cache until `expiresIn − min(60 s, expiresIn / 2)`;
// - concurrent callers share one fetch of the token route (single flight);
// - a token served from the cache reports the whole seconds it actually has left;
// - a refresh that fails while the cached token is still valid serves that token; after it has
//   expired, the error reaches the caller; errors are never cached;
// - `fetch()` attaches `Authorization: Bearer`, and on a 401 drops exactly the token that was
//   rejected (not a newer one another caller already fetched) and retries once.
//
// Token values never appear in errors or in anything this module logs (it logs nothing).

/** Refresh margin for lifetimes over 120 s. */
export const REFRESH_BUFFER_MS = 60_000;
/** Longer lifetimes are taken for a unit mistake or a never-expiring token: used, not cached. */
export const MAX_CACHED_LIFETIME_S = 365 * 24 * 60 * 60;
/** A token-route fetch that takes longer than this is aborted and fails. */
export const DEFAULT_FETCH_TIMEOUT_MS = 30_000;
/** Token responses larger than this are refused (keygate caps bearer tokens at 16 KiB). */
const MAX_TOKEN_RESPONSE_CHARS = 64 * 1024;
/** RFC 6750 `b64token`: what an `Authorization: Bearer` header can carry. */
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;

/** `min(60 s, lifetime / 2)`, in milliseconds. */
export function refreshBufferMs(lifetimeMs) {
  return Math.min(REFRESH_BUFFER_MS, lifetimeMs / 2);
}

/**
 * Why no token (or no request) could be had. `reason` is one of `rejected` (the token route
 * answered 401/403: no session), `status` (another non-2xx), `network`, `timeout`,
 * `invalid_response`, `invalid_config`, `outside_base_url`. Messages name the problem, never a
 * token, a body or a URL.
 */
export class KeygateAuthError extends Error {
  constructor(reason, message, { status, code, transient = false, cause } = {}) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'KeygateAuthError';
    this.reason = reason;
    this.status = status;
    this.code = code;
    this.transient = transient;
  }
}

/**
 * The default clock, in milliseconds. Deadlines pass when *either* the monotonic clock or the
 * wall clock says so: `performance.now()` ignores wall-clock jumps but may stand still while a
 * laptop sleeps, `Date.now()` counts the sleep but jumps. Taking the larger elapsed time never
 * serves a token for longer than it has really lived.
 */
export function systemClock() {
  const hasPerf = typeof performance !== 'undefined' && typeof performance.now === 'function';
  const perf0 = hasPerf ? performance.now() : 0;
  const wall0 = Date.now();
  return () => Math.max(hasPerf ? performance.now() - perf0 : 0, Date.now() - wall0);
}

/**
 * A single-token cache with single-flight refresh in front of `fetchToken`, any function that
 * resolves to `{token, expiresIn}`. `now` returns milliseconds (inject a fake one in tests).
 */
export class TokenCache {
  #fetchToken;
  #now;
  #entry = null; // { token, freshUntil, expiresAt }
  #inflight = null; // the shared promise of the fetch in progress

  constructor({ fetchToken, now = systemClock() } = {}) {
    if (typeof fetchToken !== 'function') {
      throw new KeygateAuthError('invalid_config', 'fetchToken must be a function');
    }
    this.#fetchToken = fetchToken;
    this.#now = now;
  }

  /** The cached token if it is fresh; otherwise the shared result of one fetch. */
  get() {
    const now = this.#now();
    if (this.#entry && now < this.#entry.freshUntil) return Promise.resolve(serve(this.#entry, now));
    // Everyone who arrives while a fetch runs waits for that one fetch and gets its outcome.
    this.#inflight ??= this.#refresh().finally(() => {
      this.#inflight = null; // errors are never cached: the next call fetches again
    });
    return this.#inflight;
  }

  /** The cached token if it has not expired (it may be due for a refresh), without fetching. */
  peek() {
    const now = this.#now();
    return this.#entry && now < this.#entry.expiresAt ? serve(this.#entry, now) : null;
  }

  /** Drops the cached token, whatever it is. */
  invalidate() {
    this.#entry = null;
  }

  /**
   * Drops the cached token only if it is `rejected` (the one an API answered 401 for); returns
   * whether it did. If another caller has already replaced it, the newer token is kept, so two
   * requests rejected for the same token cause one refetch, not two.
   */
  invalidateToken(rejected) {
    if (this.#entry && this.#entry.token === rejected) {
      this.#entry = null;
      return true;
    }
    return false;
  }

  async #refresh() {
    // The lifetime counts from when the request went out: the issuer started its clock no
    // later than that.
    const started = this.#now();
    let fresh;
    try {
      fresh = checkToken(await this.#fetchToken());
    } catch (error) {
      // Serve while valid: a failed refresh in the token's last minute is not the caller's
      // problem yet.
      const now = this.#now();
      if (this.#entry && now < this.#entry.expiresAt) return serve(this.#entry, now);
      throw error;
    }
    const lifetimeS = fresh.expiresIn;
    if (lifetimeS === 0 || lifetimeS > MAX_CACHED_LIFETIME_S) return fresh; // used, not cached
    const lifetimeMs = lifetimeS * 1000;
    this.#entry = {
      token: fresh.token,
      freshUntil: started + lifetimeMs - refreshBufferMs(lifetimeMs),
      expiresAt: started + lifetimeMs,
    };
    return serve(this.#entry, this.#now());
  }
}

function serve(entry, now) {
  return { token: entry.token, expiresIn: Math.max(0, Math.floor((entry.expiresAt - now) / 1000)) };
}

/** Checks a `{token, expiresIn}` object; returns it with `expiresIn` in whole seconds. */
function checkToken(value) {
  const invalid = (why) => new KeygateAuthError('invalid_response', why);
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw invalid('the token response is not a JSON object');
  }
  if (!('token' in value)) throw invalid('the response has no token');
  if (typeof value.token !== 'string') throw invalid('token is not a string');
  if (!B64TOKEN.test(value.token)) {
    throw invalid('the token is not a valid bearer token (RFC 6750 b64token)');
  }
  if (!('expiresIn' in value)) throw invalid('the response has no expiresIn');
  const { expiresIn } = value;
  if (typeof expiresIn !== 'number' || !Number.isFinite(expiresIn)) {
    throw invalid('expiresIn is not a number');
  }
  if (expiresIn < 0) throw invalid('expiresIn is negative');
  return { token: value.token, expiresIn: Math.floor(expiresIn) };
}

/** The `error` member of an error body, if it looks like a code rather than free text. */
function errorCode(text) {
  try {
    const code = JSON.parse(text)?.error;
    return typeof code === 'string' && /^[A-Za-z0-9_.-]{1,64}$/.test(code) ? code : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The reference's `IAuthenticator` for a backend token route: `getAuthToken()` GETs `tokenUrl`
 * (through the cache), `getAuthHeader()` is `Bearer <token>`, and `fetch(path, init)` calls the
 * API under `baseUrl` with the token.
 */
export class BackendUrlAuthenticator {
  #tokenUrl;
  #baseUrl;
  #fetch;
  #credentials;
  #headers;
  #timeoutMs;
  #cache;

  /**
   * @param {object} options
   * @param {string|URL} options.tokenUrl  the backend route returning `{token, expiresIn}`
   * @param {string|URL} [options.baseUrl]  the API the token is for (default: the page's origin);
   *   `fetch()` sends the token nowhere else
   * @param {RequestCredentials} [options.credentials]  for the token route (default
   *   `same-origin`: the session cookie goes to the page's own backend only)
   * @param {HeadersInit} [options.headers]  extra headers for the token route (e.g. CSRF)
   * @param {number} [options.fetchTimeoutMs]  token-route timeout (default 30 s)
   * @param {typeof fetch} [options.fetch]  inject for tests
   * @param {() => number} [options.now]  clock in milliseconds; inject for tests
   */
  constructor({
    tokenUrl,
    baseUrl,
    credentials = 'same-origin',
    headers,
    fetchTimeoutMs = DEFAULT_FETCH_TIMEOUT_MS,
    fetch: fetchImpl = globalThis.fetch?.bind(globalThis),
    now,
  } = {}) {
    const page = globalThis.location?.href; // relative URLs are the page's own
    this.#tokenUrl = parseUrl(tokenUrl, page, 'tokenUrl');
    this.#baseUrl = parseUrl(baseUrl ?? globalThis.location?.origin, page, 'baseUrl');
    if (!this.#baseUrl.pathname.endsWith('/')) this.#baseUrl.pathname += '/';
    if (typeof fetchImpl !== 'function') {
      throw new KeygateAuthError('invalid_config', 'no fetch implementation');
    }
    this.#fetch = fetchImpl;
    this.#credentials = credentials;
    this.#headers = headers;
    this.#timeoutMs = fetchTimeoutMs;
    this.#cache = new TokenCache({ fetchToken: () => this.#fetchToken(), now });
  }

  /** `{token, expiresIn}`: cached, with the seconds actually left. */
  getAuthToken() {
    return this.#cache.get();
  }

  /** `Bearer <token>`. */
  async getAuthHeader() {
    return `Bearer ${(await this.getAuthToken()).token}`;
  }

  /** Drops the cached token. */
  invalidate() {
    this.#cache.invalidate();
  }

  /** Drops the cached token only if it is `rejected`; returns whether it did. */
  invalidateToken(rejected) {
    return this.#cache.invalidateToken(rejected);
  }

  /**
   * `fetch` for the API: `path` is resolved against `baseUrl` and must stay under it (the token
   * is only ever sent there). `Authorization` is set (replacing any in `init.headers`). On a 401
   * the rejected token is dropped and the request is retried once with a fresh token; whatever
   * the API answers then, another 401 included, is returned. A request whose body cannot be
   * replayed (a stream) is not retried. An HTTP error status is a response, not an error.
   */
  async fetch(path, init = {}) {
    const url = this.#resolve(path);
    const first = await this.getAuthToken();
    const response = await this.#send(url, init, first.token);
    if (response.status !== 401) return response;
    this.#cache.invalidateToken(first.token);
    if (!isReplayable(init.body)) return response;
    // The first answer is discarded: free its connection.
    await response.body?.cancel().catch(() => {});
    const second = await this.getAuthToken();
    return this.#send(url, init, second.token);
  }

  #send(url, init, token) {
    const headers = new Headers(init.headers);
    headers.set('Authorization', `Bearer ${token}`);
    return this.#fetch(url, { ...init, headers });
  }

  #resolve(path) {
    let url;
    try {
      url = new URL(path, this.#baseUrl);
    } catch {
      throw new KeygateAuthError('outside_base_url', 'the request URL does not parse');
    }
    if (url.origin !== this.#baseUrl.origin || !url.pathname.startsWith(this.#baseUrl.pathname)) {
      throw new KeygateAuthError('outside_base_url', 'the request does not go under baseUrl');
    }
    return url;
  }

  async #fetchToken() {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), this.#timeoutMs);
    // A failure to connect or to read the body: a timeout if our abort caused it.
    const transportError = (what, cause) =>
      controller.signal.aborted
        ? new KeygateAuthError('timeout', `the token route did not answer within ${this.#timeoutMs} ms`, { transient: true })
        : new KeygateAuthError('network', what, { transient: true, cause });
    try {
      const response = await this.#fetch(this.#tokenUrl, {
        method: 'GET',
        credentials: this.#credentials,
        headers: this.#headers,
        cache: 'no-store', // a token response must never come from the HTTP cache
        signal: controller.signal,
      }).catch((error) => {
        throw transportError('the token route could not be reached', error);
      });
      const text = await response.text().catch((error) => {
        throw transportError('the token response broke off', error);
      });
      if (!response.ok) {
        // The body is never echoed (it may hold anything); only an `error` code that looks like one.
        const { status } = response;
        const code = errorCode(text);
        if (status === 401 || status === 403) {
          throw new KeygateAuthError('rejected', `the token route refused: HTTP ${status}`, { status, code });
        }
        const transient = status === 408 || status === 425 || status === 429 || status >= 500;
        throw new KeygateAuthError('status', `the token route answered HTTP ${status}`, { status, code, transient });
      }
      if (text.length > MAX_TOKEN_RESPONSE_CHARS) {
        throw new KeygateAuthError('invalid_response', 'the token response is larger than 64 KiB');
      }
      try {
        return JSON.parse(text); // its shape is checked by the cache
      } catch {
        throw new KeygateAuthError('invalid_response', 'the token response is not JSON');
      }
    } finally {
      clearTimeout(timer);
    }
  }
}

function parseUrl(value, base, name) {
  if (value === undefined || value === null || value === '') {
    throw new KeygateAuthError('invalid_config', `${name} is required`);
  }
  let url;
  try {
    url = new URL(value, base);
  } catch {
    throw new KeygateAuthError('invalid_config', `${name} is not a URL`);
  }
  if (url.username || url.password) {
    throw new KeygateAuthError('invalid_config', `${name} must not carry credentials`);
  }
  return url;
}

/** Whether `fetch` can send `body` a second time (a stream is consumed by the first send). */
function isReplayable(body) {
  return !(typeof ReadableStream !== 'undefined' && body instanceof ReadableStream);
}
