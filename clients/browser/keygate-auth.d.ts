// Types for keygate-auth.js. The shapes match the reference's `@moss-dev/moss` exports, so a
// `BackendUrlAuthenticator` can be passed wherever an `IAuthenticator` is expected.

/** `{token, expiresIn}`: a bearer token and the whole seconds it has left. */
export interface AuthToken {
  token: string;
  expiresIn: number;
}

/** The reference's authenticator interface. */
export interface IAuthenticator {
  getAuthToken(): Promise<AuthToken>;
  /** `Bearer <token>` */
  getAuthHeader(): Promise<string>;
}

/** Refresh margin for lifetimes over 120 s: 60 000 ms. */
export const REFRESH_BUFFER_MS: number;
/** 365 days: a longer `expiresIn` is used but not cached. */
export const MAX_CACHED_LIFETIME_S: number;
/** 30 000 ms. */
export const DEFAULT_FETCH_TIMEOUT_MS: number;

/** `min(60 s, lifetime / 2)`, in milliseconds. */
export function refreshBufferMs(lifetimeMs: number): number;

/** A clock in milliseconds; only differences between readings matter. */
export type Clock = () => number;

/** The default clock: the larger of the monotonic and the wall-clock time elapsed. */
export function systemClock(): Clock;

export type KeygateAuthErrorReason =
  | 'rejected' // the token route answered 401 or 403 (no session)
  | 'status' // another non-2xx answer from the token route
  | 'network' // the token route could not be reached, or its answer broke off
  | 'timeout' // the token route did not answer within fetchTimeoutMs
  | 'invalid_response' // 2xx, but not a usable {token, expiresIn}
  | 'invalid_config' // a bad option
  | 'outside_base_url'; // fetch() was asked to send the token outside baseUrl

/** Why no token (or no request) could be had. The message never contains a token. */
export class KeygateAuthError extends Error {
  readonly name: 'KeygateAuthError';
  readonly reason: KeygateAuthErrorReason;
  /** The token route's HTTP status, for `rejected` and `status`. */
  readonly status: number | undefined;
  /** The body's `error` member, when it looks like an error code (`no_session`). */
  readonly code: string | undefined;
  /** Whether trying again later may succeed (network, timeout, 408, 425, 429, 5xx). */
  readonly transient: boolean;
}

export interface TokenCacheOptions {
  /** Resolves to `{token, expiresIn}`; called once per refresh, shared by concurrent callers. */
  fetchToken: () => Promise<AuthToken>;
  now?: Clock;
}

/** A single-token cache with keygate's rules, in front of any token source. */
export class TokenCache {
  constructor(options: TokenCacheOptions);
  /** The cached token if fresh, else the shared result of one fetch. */
  get(): Promise<AuthToken>;
  /** The cached token if it has not expired, without fetching. */
  peek(): AuthToken | null;
  invalidate(): void;
  /** Drops the cached token only if it is `rejected`; returns whether it did. */
  invalidateToken(rejected: string): boolean;
}

export interface BackendUrlAuthenticatorOptions {
  /** The backend route that returns `{token, expiresIn}` (relative URLs: the page's). */
  tokenUrl: string | URL;
  /** The API the token is for (default: the page's origin); `fetch()` sends it nowhere else. */
  baseUrl?: string | URL;
  /** Credentials mode of the token-route request (default `same-origin`). */
  credentials?: RequestCredentials;
  /** Extra headers for the token route (e.g. a CSRF token). */
  headers?: HeadersInit;
  /** Token-route timeout in milliseconds (default 30 000). */
  fetchTimeoutMs?: number;
  /** For tests: the fetch implementation. */
  fetch?: typeof globalThis.fetch;
  /** For tests: the clock. */
  now?: Clock;
}

/** The reference's custom authenticator for a backend token route, with keygate's cache. */
export class BackendUrlAuthenticator implements IAuthenticator {
  constructor(options: BackendUrlAuthenticatorOptions);
  getAuthToken(): Promise<AuthToken>;
  getAuthHeader(): Promise<string>;
  invalidate(): void;
  invalidateToken(rejected: string): boolean;
  /**
   * `fetch` for the API under `baseUrl`, with `Authorization: Bearer`; on a 401 the rejected
   * token is dropped and the request retried once. Rejects with `KeygateAuthError` when no token
   * can be had or the URL leaves `baseUrl`; network errors of the API request itself are
   * fetch's own `TypeError`.
   */
  fetch(path: string | URL, init?: RequestInit): Promise<Response>;
}
