//! Remote JWKS keys (reference §4, `[jwt] jwks_url`).
//!
//! A [`JwksSource`] is the configuration (a checked URL, the fetch settings and the HTTP client
//! made for them); it is part of the [`AuthState`](crate::AuthState). A [`Jwks`] is the running
//! side, owned by the [`AuthHandle`](crate::AuthHandle): it keeps the last good key set of one URL in an [`ArcSwap`], so verification reads it
//! without locks. It fetches
//! - when its refresher starts, then every [`JwksSettings::refresh_interval`] (10 min);
//! - when a token names a `kid` no key has, at most once per
//!   [`JwksSettings::unknown_kid_interval`] (10 s);
//! - when asked ([`Jwks::refresh`]).
//!
//! One fetch runs at a time, on its own task: callers that need its result wait for it without
//! holding any lock, and a cancelled request does not cancel the fetch. A failed fetch (timeout,
//! HTTP error, oversized body, no usable key) keeps the previous set. Unusable keys in a set —
//! symmetric keys, keys declared for another algorithm or use, small RSA keys — are skipped
//! with a warning.
//!
//! The refresher runs on the tokio runtime current when the `Jwks` is first used (or
//! [`Jwks::start`]ed) and stops when the last clone is dropped. Parsing a key set is
//! [`auth_core::jwt::JwkSet`]'s.

mod fetch;
mod settings;

use std::fmt;
use std::sync::{Arc, Mutex, OnceLock, PoisonError, Weak};
use std::time::Duration;

use arc_swap::ArcSwap;
use auth_cache::clock::unix_now;
use auth_core::jwt::VerifyingKey;
use reqwest::{Client, Url};
use tokio::runtime::Handle;
use tokio::sync::watch;
use tokio::task::AbortHandle;
use tokio::time::Instant;

use crate::status::types::{JwksFetchStatus, JwksStatus, JwtKeyStatus};
use crate::telemetry;

pub use fetch::FetchError;
pub use settings::JwksSettings;

/// Where remote keys come from: a checked URL, how to fetch it, and the client that does.
#[derive(Clone)]
pub struct JwksSource {
    url: Url,
    settings: JwksSettings,
    client: Client,
}

impl fmt::Debug for JwksSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwksSource")
            .field("url", &redacted(&self.url))
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl JwksSource {
    /// A source for `url` (`http://` or `https://`).
    ///
    /// # Errors
    /// [`JwksError`] for a bad URL or when no HTTP client can be built.
    pub fn new(url: &str, settings: JwksSettings) -> Result<Self, JwksError> {
        let url = Url::parse(url).map_err(|_| JwksError::InvalidUrl("it does not parse"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(JwksError::InvalidUrl("the scheme must be http or https"));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(JwksError::InvalidUrl("it has no host"));
        }
        let client = fetch::client(&settings)?;
        Ok(Self {
            url,
            settings,
            client,
        })
    }

    /// The URL keys are fetched from.
    #[must_use]
    pub fn url(&self) -> &str {
        self.url.as_str()
    }

    /// The fetch schedule and limits.
    #[must_use]
    pub fn settings(&self) -> &JwksSettings {
        &self.settings
    }
}

/// Floor of [`JwksSettings::refresh_interval`].
const MIN_REFRESH_INTERVAL: Duration = Duration::from_millis(10);

/// Why a JWKS source cannot be set up. Messages never contain the URL (it may hold credentials).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwksError {
    /// The URL does not parse, is not `http(s)://` or has no host.
    #[error("jwks_url is not a usable URL: {0}")]
    InvalidUrl(&'static str),
    /// The HTTP client could not be built (TLS setup failed).
    #[error("the HTTP client for JWKS fetches could not be built")]
    Client,
}

/// A remote JWKS: the current key set, its refresher and its fetch history. Cloning is cheap
/// and shares everything.
#[derive(Clone)]
pub struct Jwks {
    inner: Arc<Inner>,
}

struct Inner {
    source: JwksSource,
    current: ArcSwap<RemoteKeys>,
    gate: Mutex<Gate>,
    /// Bumped when a fetch ends, with its outcome; waiters subscribe before starting one.
    rounds: watch::Sender<Round>,
    history: Mutex<History>,
    refresher: OnceLock<AbortHandle>,
}

/// One fetched key set. `version` grows whenever the set changes.
#[derive(Debug, Default)]
pub(crate) struct RemoteKeys {
    pub(crate) keys: Vec<VerifyingKey>,
    pub(crate) version: u64,
    fingerprint: Vec<String>,
}

#[derive(Debug, Default)]
struct Gate {
    in_flight: bool,
    last_unknown_kid_fetch: Option<Instant>,
}

#[derive(Debug, Clone)]
struct Round {
    outcome: Result<(), FetchError>,
}

#[derive(Debug, Default)]
struct History {
    fetches: u64,
    failures: u64,
    last: Option<LastFetch>,
    /// Unix seconds.
    last_success: Option<u64>,
}

#[derive(Debug)]
struct LastFetch {
    /// Unix seconds.
    at: u64,
    trigger: Trigger,
    outcome: Result<usize, FetchError>,
}

/// What caused a fetch (logs, metrics, status).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Trigger {
    Periodic,
    UnknownKid,
    Manual,
}

impl Trigger {
    fn as_str(self) -> &'static str {
        match self {
            Self::Periodic => "periodic",
            Self::UnknownKid => "unknown_kid",
            Self::Manual => "manual",
        }
    }
}

/// What [`start_fetch`] did.
enum Start {
    /// A fetch was started.
    Started,
    /// One was already running.
    Running,
    /// Refused: an unknown-kid refetch happened too recently, or there is no runtime.
    Refused,
}

impl fmt::Debug for Jwks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let current = self.inner.current.load();
        f.debug_struct("Jwks")
            .field("url", &redacted(&self.inner.source.url))
            .field("version", &current.version)
            .field("keys", &current.keys.len())
            .field("settings", &self.inner.source.settings)
            .finish_non_exhaustive()
    }
}

impl Jwks {
    /// A key source for `url` (`http://` or `https://`). Nothing is fetched until the refresher
    /// starts: on first use, or on [`Jwks::start`].
    ///
    /// # Errors
    /// [`JwksError`] for a bad URL or when no HTTP client can be built.
    pub fn new(url: &str, settings: JwksSettings) -> Result<Self, JwksError> {
        JwksSource::new(url, settings).map(|source| Self::from_source(&source))
    }

    /// The running side of `source`. Nothing is fetched until the refresher starts.
    #[must_use]
    pub fn from_source(source: &JwksSource) -> Self {
        let (rounds, _) = watch::channel(Round {
            outcome: Err(FetchError::Cancelled),
        });
        Self {
            inner: Arc::new(Inner {
                source: source.clone(),
                current: ArcSwap::default(),
                gate: Mutex::default(),
                rounds,
                history: Mutex::default(),
                refresher: OnceLock::new(),
            }),
        }
    }

    /// The URL keys are fetched from.
    #[must_use]
    pub fn url(&self) -> &str {
        self.inner.source.url()
    }

    /// The fetch schedule and limits.
    #[must_use]
    pub fn settings(&self) -> &JwksSettings {
        &self.inner.source.settings
    }

    /// The keys of the last good set (empty before the first successful fetch).
    #[must_use]
    pub fn keys(&self) -> Vec<VerifyingKey> {
        self.inner.current.load().keys.clone()
    }

    /// Grows by one whenever a fetch brings a different key set.
    #[must_use]
    pub fn version(&self) -> u64 {
        self.inner.current.load().version
    }

    /// Whether this fetches what `source` describes: the same URL with the same settings (a
    /// reload keeps the running `Jwks`, with its keys, instead of starting over).
    #[must_use]
    pub fn serves(&self, source: &JwksSource) -> bool {
        self.inner.source.url == source.url && self.inner.source.settings == source.settings
    }

    /// Starts the periodic refresher (its first fetch is immediate) on the current tokio
    /// runtime. Idempotent; returns `false` when called outside a runtime.
    pub fn start(&self) -> bool {
        if self.inner.refresher.get().is_some() {
            return true;
        }
        let Ok(runtime) = Handle::try_current() else {
            return false;
        };
        self.inner.refresher.get_or_init(|| {
            let refresher = refresh_loop(Arc::downgrade(&self.inner));
            runtime.spawn(refresher).abort_handle()
        });
        true
    }

    /// Fetches now (or waits for the fetch already running) and returns its outcome. Not rate
    /// limited: meant for operators and tests, not for per-request use.
    ///
    /// # Errors
    /// [`FetchError`] when the fetch failed; the previous key set stays in use.
    pub async fn refresh(&self) -> Result<(), FetchError> {
        self.start();
        let mut rounds = self.inner.rounds.subscribe();
        match start_fetch(&self.inner, Trigger::Manual) {
            Start::Started | Start::Running => self.wait(&mut rounds).await,
            Start::Refused => Err(FetchError::NoRuntime),
        }
    }

    /// The current key set, starting the refresher on first use.
    pub(crate) fn current(&self) -> arc_swap::Guard<Arc<RemoteKeys>> {
        self.start();
        self.inner.current.load()
    }

    /// A token named a `kid` that key set `seen_version` lacks: refetch (rate limited, joining a
    /// running fetch) and say whether a different set is now current.
    pub(crate) async fn refetch_for_unknown_kid(&self, seen_version: u64) -> bool {
        let mut rounds = self.inner.rounds.subscribe();
        match start_fetch(&self.inner, Trigger::UnknownKid) {
            Start::Started | Start::Running => {
                // A failure is recorded and logged by the fetch; the caller just sees no change.
                let _ = self.wait(&mut rounds).await;
            }
            Start::Refused => {}
        }
        self.version() != seen_version
    }

    /// Waits, boundedly, for the next fetch to end; `rounds` was subscribed before it started.
    async fn wait(&self, rounds: &mut watch::Receiver<Round>) -> Result<(), FetchError> {
        let bound = self
            .inner
            .source
            .settings
            .timeout
            .saturating_add(Duration::from_secs(1));
        match tokio::time::timeout(bound, rounds.changed()).await {
            Ok(Ok(())) => rounds.borrow_and_update().outcome.clone(),
            Ok(Err(_)) => Err(FetchError::Cancelled),
            Err(_) => Err(FetchError::Timeout),
        }
    }

    /// URL (credentials and query redacted), key ids and fetch history, for `/admin/status`.
    #[must_use]
    pub fn status(&self) -> JwksStatus {
        let current = self.inner.current.load();
        let history = self
            .inner
            .history
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        JwksStatus {
            url: redacted(&self.inner.source.url),
            version: current.version,
            keys: current
                .keys
                .iter()
                .map(|k| JwtKeyStatus {
                    alg: k.algorithm().as_str(),
                    kid: k.kid().map(str::to_owned),
                })
                .collect(),
            fetches: history.fetches,
            failures: history.failures,
            last_success_unix: history.last_success,
            last_fetch: history.last.as_ref().map(|last| JwksFetchStatus {
                at_unix: last.at,
                trigger: last.trigger.as_str(),
                outcome: if last.outcome.is_ok() { "ok" } else { "failed" },
                keys: last.outcome.as_ref().ok().copied(),
                error: last.outcome.as_ref().err().map(ToString::to_string),
            }),
            refresh_interval_seconds: self.inner.source.settings.refresh_interval.as_secs(),
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some(refresher) = self.refresher.get() {
            refresher.abort();
        }
    }
}

/// Fetches at once, then every `refresh_interval`, while the [`Jwks`] lives. It holds only a
/// weak reference, so dropping the last `Jwks` ends it (its `Drop` also aborts it at once).
async fn refresh_loop(inner: Weak<Inner>) {
    loop {
        let interval = {
            let Some(inner) = inner.upgrade() else {
                return;
            };
            start_fetch(&inner, Trigger::Periodic);
            // A zero interval would spin.
            inner
                .source
                .settings
                .refresh_interval
                .max(MIN_REFRESH_INTERVAL)
        };
        tokio::time::sleep(interval).await;
    }
}

/// Starts a fetch on its own task unless one is running or (for unknown kids) one ran too
/// recently. The gate is held only to decide, never across the fetch.
fn start_fetch(inner: &Arc<Inner>, trigger: Trigger) -> Start {
    let Ok(runtime) = Handle::try_current() else {
        return Start::Refused;
    };
    {
        let mut gate = inner.gate.lock().unwrap_or_else(PoisonError::into_inner);
        if gate.in_flight {
            return Start::Running;
        }
        if trigger == Trigger::UnknownKid {
            let interval = inner.source.settings.unknown_kid_interval;
            if gate
                .last_unknown_kid_fetch
                .is_some_and(|at| at.elapsed() < interval)
            {
                return Start::Refused;
            }
            gate.last_unknown_kid_fetch = Some(Instant::now());
        }
        gate.in_flight = true;
    }
    runtime.spawn(run_fetch(Arc::clone(inner), trigger));
    Start::Started
}

async fn run_fetch(inner: Arc<Inner>, trigger: Trigger) {
    let mut round = RoundGuard {
        inner: &inner,
        outcome: Err(FetchError::Cancelled),
    };
    let source = &inner.source;
    let fetched = fetch::fetch(&source.client, &source.url, &source.settings).await;
    round.outcome = inner.install(fetched, trigger);
}

/// Ends a round however the fetch task ends (also when it is cancelled): clears the in-flight
/// flag, then wakes the waiters.
struct RoundGuard<'a> {
    inner: &'a Inner,
    outcome: Result<(), FetchError>,
}

impl Drop for RoundGuard<'_> {
    fn drop(&mut self) {
        self.inner
            .gate
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .in_flight = false;
        let outcome = std::mem::replace(&mut self.outcome, Err(FetchError::Cancelled));
        self.inner.rounds.send_replace(Round { outcome });
    }
}

impl Inner {
    /// Records a fetch; a good set different from the current one becomes current.
    fn install(
        &self,
        fetched: Result<fetch::FetchedKeys, FetchError>,
        trigger: Trigger,
    ) -> Result<(), FetchError> {
        let at = unix_now();
        let url = redacted(&self.source.url);
        let mut history = self.history.lock().unwrap_or_else(PoisonError::into_inner);
        history.fetches = history.fetches.saturating_add(1);
        let outcome = match fetched {
            Ok(fetched) => {
                let count = fetched.keys.len();
                let current = self.current.load();
                if current.fingerprint == fetched.fingerprint {
                    tracing::debug!(url = %url, trigger = trigger.as_str(), "JWKS unchanged");
                } else {
                    let version = current.version.wrapping_add(1);
                    let kids: Vec<&str> =
                        fetched.keys.iter().map(|k| k.kid().unwrap_or("")).collect();
                    tracing::info!(url = %url, trigger = trigger.as_str(), version, kids = ?kids, "JWKS keys updated");
                    self.current.store(Arc::new(RemoteKeys {
                        keys: fetched.keys,
                        version,
                        fingerprint: fetched.fingerprint,
                    }));
                }
                history.last_success = Some(at);
                Ok(count)
            }
            Err(error) => {
                history.failures = history.failures.saturating_add(1);
                let kept = self.current.load().keys.len();
                tracing::warn!(url = %url, trigger = trigger.as_str(), error = %error, keys_kept = kept, "JWKS fetch failed; keeping the last good key set");
                Err(error)
            }
        };
        telemetry::jwks_fetch(trigger.as_str(), outcome.is_ok());
        let result = outcome.as_ref().map(|_| ()).map_err(Clone::clone);
        history.last = Some(LastFetch {
            at,
            trigger,
            outcome,
        });
        result
    }
}

/// The URL for logs and status: user info and query (where tokens hide) replaced.
fn redacted(url: &Url) -> String {
    let mut shown = url.clone();
    if !shown.username().is_empty() || shown.password().is_some() {
        let _ = shown.set_username("redacted");
        let _ = shown.set_password(None);
    }
    if shown.query().is_some() {
        shown.set_query(Some("redacted"));
    }
    shown.set_fragment(None);
    shown.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_checked_and_redacted() {
        let settings = JwksSettings::default();
        for (url, reason) in [
            ("not a url", "it does not parse"),
            ("ftp://idp/jwks", "the scheme must be http or https"),
        ] {
            assert_eq!(
                Jwks::new(url, settings).unwrap_err(),
                JwksError::InvalidUrl(reason)
            );
        }
        let jwks = Jwks::new("https://user:pw@idp.test/jwks?key=s3cret#x", settings).unwrap();
        let shown = jwks.status().url;
        assert_eq!(shown, "https://redacted@idp.test/jwks?redacted");
        assert!(!format!("{jwks:?}").contains("s3cret"));
        assert!(!format!("{jwks:?}").contains("pw"));
    }

    #[test]
    fn nothing_is_fetched_or_started_outside_a_runtime() {
        let jwks = Jwks::new("https://idp.test/jwks", JwksSettings::default()).unwrap();
        assert!(!jwks.start());
        assert!(jwks.keys().is_empty());
        assert_eq!(jwks.status().fetches, 0);
        assert!(jwks.status().last_fetch.is_none());
    }
}
