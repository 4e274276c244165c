//! The server's verification cache (reference §10).
//!
//! Outcomes of policy steps ([`Outcome`], exactly what a
//! [`Verifier`](auth_core::policy::Verifier) step returns) are cached by a keyed digest of the
//! token (SipHash-2-4, 128 bits, under a key each cache draws from the OS; why that suffices is
//! in `verify/digest.rs`), never the token itself:
//!
//! | outcome                    | kept for                                  |
//! |----------------------------|-------------------------------------------|
//! | API-key or admin success   | [`CacheSettings::api_key_ttl`] (5 min)     |
//! | JWT success                | until the token's `exp` (capped by [`CacheSettings::jwt_max_ttl`]) |
//! | any failure                | [`CacheSettings::failure_ttl`] (10 s)      |
//!
//! Every key carries a *generation*: the server stamps each configuration it installs with
//! [`VerificationCache::invalidate_all`]'s new generation and looks up with it, so a reload
//! invalidates everything at once, and a verification still running against the old
//! configuration can never be served under the new one. A *key version* does the same for a
//! key set that changes while a configuration serves (a remote JWKS): an outcome verified with
//! one version of the keys is never served for another.
//!
//! Concurrent lookups of the same key share one computation (a quick_cache placeholder), so a
//! burst of requests with a new API key costs one KDF run. Entries carry their own deadline on
//! a monotonic clock, checked on every hit: the read path is one sharded-lock lookup, a clock
//! read and a clone, with no per-entry timer wheel behind it. A JWT's deadline is exact; the
//! others, the cache's own TTLs, are on a cheaper clock and may pass a few milliseconds early or
//! late ([`clock`](crate::clock)).
//!
//! ```
//! use auth_cache::verify::{CacheSettings, Lookup, VerificationCache};
//! use auth_core::policy::{Principal, RouteClass, Step};
//!
//! # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
//! let cache = VerificationCache::new(CacheSettings::default());
//! let lookup = Lookup::new(cache.generation(), Step::ApiKey, RouteClass::Ingest, "token");
//! let verify = || async { Ok::<_, std::convert::Infallible>(Ok(Principal::Open(RouteClass::Ingest))) };
//! let first = cache.get_or_verify(lookup, verify).await?;
//! let second = cache.get_or_verify(lookup, verify).await?;
//! assert!(!first.from_cache && second.from_cache);
//! assert_eq!(cache.stats().snapshot().hits, 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod digest;
mod expiry;
mod settings;
mod stats;

use std::fmt;
use std::future::Future;
use std::hash::{BuildHasherDefault, Hash, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use auth_core::policy::{RouteClass, Step, StepOutcome};
use quick_cache::{Lifecycle, UnitWeighter};

use crate::clock::{Clock, Deadline, SystemClock};
use digest::TokenDigester;

pub use settings::CacheSettings;
pub use stats::{StatsSnapshot, VerifyStats};

/// The result of one verification step: who the token authenticates, or why it does not.
pub type Outcome = StepOutcome;

/// What one lookup is for. The token is hashed into the key, never kept; `Debug` omits it.
#[derive(Clone, Copy)]
pub struct Lookup<'a> {
    /// The generation of the configuration that verifies ([`VerificationCache::generation`]).
    pub generation: u64,
    /// The version of a key set that changes under one configuration (0 when there is none).
    pub key_version: u64,
    /// The step.
    pub step: Step,
    /// The route class (only API-key outcomes depend on it).
    pub class: RouteClass,
    /// The token.
    pub token: &'a str,
    /// What is checked: a policy step, or a token request's project credentials.
    purpose: Purpose,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Purpose {
    Step,
    TokenRequest,
}

impl<'a> Lookup<'a> {
    /// A lookup with key version 0.
    #[must_use]
    pub fn new(generation: u64, step: Step, class: RouteClass, token: &'a str) -> Self {
        Self {
            generation,
            key_version: 0,
            step,
            class,
            token,
            purpose: Purpose::Step,
        }
    }

    /// A lookup of a token request's credentials: `credentials` names the project and holds
    /// its key (hashed like a token, never kept). Successes and failures are cached as API-key
    /// outcomes are.
    #[must_use]
    pub fn token_request(generation: u64, credentials: &'a str) -> Self {
        Self {
            purpose: Purpose::TokenRequest,
            ..Self::new(generation, Step::ApiKey, RouteClass::Public, credentials)
        }
    }

    /// The same lookup for key version `version`.
    #[must_use]
    pub fn with_key_version(mut self, version: u64) -> Self {
        self.key_version = version;
        self
    }
}

impl fmt::Debug for Lookup<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lookup")
            .field("generation", &self.generation)
            .field("key_version", &self.key_version)
            .field("step", &self.step)
            .field("class", &self.class)
            .field("purpose", &self.purpose)
            .finish_non_exhaustive()
    }
}

/// A cached or freshly computed outcome.
#[derive(Debug, Clone, PartialEq)]
pub struct Verified {
    /// The step's outcome.
    pub outcome: Outcome,
    /// `true` when no computation ran for this call (a cache hit, or a computation another
    /// concurrent caller ran).
    pub from_cache: bool,
}

/// What a cache entry is keyed by: never the token, only its keyed digest.
#[derive(Clone, Copy, PartialEq, Eq)]
struct CacheKey {
    generation: u64,
    key_version: u64,
    /// [`Step`] as a tag (`Step` is not `Hash`).
    step: u8,
    /// The class for API-key steps; [`RouteClass::Public`] for steps that do not depend on it.
    class: RouteClass,
    digest: u128,
}

impl CacheKey {
    fn new(lookup: &Lookup<'_>, digester: &TokenDigester) -> Self {
        let Lookup {
            generation,
            key_version,
            step,
            class,
            token,
            purpose,
        } = *lookup;
        // A JWT verifies the same way on every class; the admin credential is one class.
        let (step, class) = match (purpose, step) {
            (Purpose::TokenRequest, _) => (3, RouteClass::Public),
            (Purpose::Step, Step::Jwt) => (0, RouteClass::Public),
            (Purpose::Step, Step::ApiKey) => (1, class),
            (Purpose::Step, Step::Admin) => (2, RouteClass::Public),
        };
        Self {
            generation,
            key_version,
            step,
            class,
            digest: digester.digest(token),
        }
    }
}

impl Hash for CacheKey {
    /// The digest is already uniformly distributed and cannot be steered by a client (that
    /// would take the cache's secret key), so its low 64 bits serve as the hash without
    /// rehashing.
    fn hash<H: Hasher>(&self, state: &mut H) {
        let class = match self.class {
            RouteClass::Ingest => 1,
            RouteClass::Consumption => 2,
            RouteClass::Admin => 3,
            _ => 0,
        };
        let tag = (u64::from(self.step) << 4 | class)
            .wrapping_add(self.generation << 8)
            .wrapping_add(self.key_version.rotate_left(32));
        // Truncation is the point: the low half of the digest.
        let head = self.digest as u64;
        state.write_u64(head ^ tag.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    }
}

/// Passes on the one `u64` a [`CacheKey`] writes.
#[derive(Debug, Default, Clone, Copy)]
struct DigestHasher(u64);

impl Hasher for DigestHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Not reached by `CacheKey`; fold anything else in rather than ignore it.
        for &byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(byte);
        }
    }

    fn write_u64(&mut self, value: u64) {
        self.0 ^= value;
    }
}

type DigestBuildHasher = BuildHasherDefault<DigestHasher>;

/// A cached outcome and the moment it stops being true.
#[derive(Clone)]
struct Entry {
    outcome: Outcome,
    expires: Deadline,
}

impl Entry {
    fn live(&self) -> bool {
        !self.expires.passed()
    }
}

/// Counts the entries the cache's bound pushes out.
#[derive(Clone)]
struct CountEvictions(Arc<VerifyStats>);

impl Lifecycle<CacheKey, Entry> for CountEvictions {
    type RequestState = ();

    fn begin_request(&self) -> Self::RequestState {}

    fn on_evict(&self, (): &mut Self::RequestState, _key: CacheKey, _entry: Entry) {
        self.0.record_eviction();
    }
}

type Entries =
    quick_cache::sync::Cache<CacheKey, Entry, UnitWeighter, DigestBuildHasher, CountEvictions>;

/// Verification outcomes by token digest, with TTLs per outcome, a generation counter,
/// single-flight computation and lock-free statistics.
pub struct VerificationCache {
    entries: Entries,
    digester: TokenDigester,
    expiry: expiry::OutcomeExpiry,
    generation: AtomicU64,
    stats: Arc<VerifyStats>,
    settings: CacheSettings,
}

impl fmt::Debug for VerificationCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerificationCache")
            .field("generation", &self.generation())
            .field("entries", &self.entries.len())
            .field("settings", &self.settings)
            .field("stats", &self.stats.snapshot())
            .finish()
    }
}

impl VerificationCache {
    /// An empty cache with its own statistics.
    #[must_use]
    pub fn new(settings: CacheSettings) -> Self {
        Self::with_stats(settings, Arc::default())
    }

    /// An empty cache recording into `stats` (shared, e.g., across caches rebuilt on reload).
    #[must_use]
    pub fn with_stats(settings: CacheSettings, stats: Arc<VerifyStats>) -> Self {
        Self::with_clock(settings, stats, Arc::new(SystemClock))
    }

    /// [`VerificationCache::with_stats`] whose JWT lifetimes (until `exp`) are reckoned by
    /// `clock`.
    #[must_use]
    pub fn with_clock(
        settings: CacheSettings,
        stats: Arc<VerifyStats>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        // quick_cache needs room for one entry; a cache of 0 entries is `disabled()`'s zero
        // lifetimes, which never insert.
        let capacity = settings.max_entries.max(1);
        let entries = Entries::with(
            usize::try_from(capacity).unwrap_or(usize::MAX),
            capacity,
            UnitWeighter,
            DigestBuildHasher::default(),
            CountEvictions(Arc::clone(&stats)),
        );
        Self {
            entries,
            digester: TokenDigester::random(),
            expiry: expiry::OutcomeExpiry::new(&settings, clock),
            generation: AtomicU64::new(0),
            stats,
            settings,
        }
    }

    /// The settings the cache was built with.
    #[must_use]
    pub fn settings(&self) -> &CacheSettings {
        &self.settings
    }

    /// The current generation: look up with the generation of the configuration that verifies.
    #[must_use]
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Starts a new generation (every earlier entry becomes unreachable) and returns it.
    pub fn invalidate_all(&self) -> u64 {
        let generation = self
            .generation
            .fetch_add(1, Ordering::AcqRel)
            .wrapping_add(1);
        self.entries.clear();
        generation
    }

    /// The statistics this cache records into.
    #[must_use]
    pub fn stats(&self) -> &Arc<VerifyStats> {
        &self.stats
    }

    /// Entries held (expired ones included until they are looked up again or pushed out).
    #[must_use]
    pub fn entry_count(&self) -> u64 {
        u64::try_from(self.entries.len()).unwrap_or(u64::MAX)
    }

    /// The cached outcome for `lookup`, or the outcome of the future `verify` makes (called only
    /// on a miss), which is then cached. Concurrent callers with the same lookup share one
    /// verification.
    ///
    /// `verify` fails with `E` for transient conditions (e.g. a full KDF pool): such failures
    /// are shared with the concurrent callers but never cached.
    ///
    /// # Errors
    /// The transient error of `verify`.
    pub async fn get_or_verify<F, Fut, E>(
        &self,
        lookup: Lookup<'_>,
        verify: F,
    ) -> Result<Verified, Arc<E>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Outcome, E>>,
        E: Send + Sync + 'static,
    {
        let key = CacheKey::new(&lookup, &self.digester);
        // A plain read first: the hit path never builds the single-flight machinery, and the
        // miss path is boxed so that the futures awaiting this one stay small to move.
        if let Some(entry) = self.live(&key) {
            return Ok(self.hit(entry));
        }
        Box::pin(self.verify_once(&key, verify)).await
    }

    /// The cached outcome for `lookup` when there is a live one and `accept` takes it (then it
    /// counts as a hit), without waiting; `None` counts nothing, and the caller goes on to
    /// [`VerificationCache::get_or_verify`]. `accept` lets a caller that would act on an
    /// outcome asynchronously (e.g. refetch a key set) leave it to that path.
    pub fn get_now(
        &self,
        lookup: Lookup<'_>,
        accept: impl FnOnce(&Outcome) -> bool,
    ) -> Option<Verified> {
        let entry = self.live(&CacheKey::new(&lookup, &self.digester))?;
        accept(&entry.outcome).then(|| self.hit(entry))
    }

    fn live(&self, key: &CacheKey) -> Option<Entry> {
        self.entries.get(key).filter(Entry::live)
    }

    /// The miss path: the first caller for `key` verifies and inserts, and concurrent callers
    /// wait for its entry. When it inserts nothing (a transient error, or an outcome with no
    /// lifetime left), the next waiter verifies in its turn.
    async fn verify_once<F, Fut, E>(&self, key: &CacheKey, verify: F) -> Result<Verified, Arc<E>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Outcome, E>>,
        E: Send + Sync + 'static,
    {
        let guard = loop {
            match self.entries.get_value_or_guard_async(key).await {
                Ok(entry) if entry.live() => return Ok(self.hit(entry)),
                // Expired (before this call, or while it waited): make room for a new
                // verification.
                Ok(_) => {
                    self.entries.remove_if(key, |held| !held.live());
                }
                Err(guard) => break guard,
            }
        };
        let outcome = verify().await.map_err(Arc::new)?;
        self.stats.record_miss();
        if let Some(expires) = self.expiry.deadline(&outcome) {
            let entry = Entry {
                outcome: outcome.clone(),
                expires,
            };
            // Refused only when the placeholder was cleared meanwhile (a new generation).
            let _ = guard.insert(entry);
        }
        Ok(Verified {
            outcome,
            from_cache: false,
        })
    }

    fn hit(&self, entry: Entry) -> Verified {
        self.stats.record_hit();
        Verified {
            outcome: entry.outcome,
            from_cache: true,
        }
    }
}
