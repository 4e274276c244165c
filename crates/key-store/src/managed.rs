//! [`ManagedKeys`]: what a server runs on top of a [`KeyStore`].
//!
//! A presented token is checked for shape and checksum first (no I/O). Its id is then looked up
//! in a bounded cache of known keys (no database round trip for a cached key) and a bounded
//! cache of unknown ids; only a miss in both queries the store, once. A background task polls
//! the store's version ([`ManagedSettings::sync_interval`]) and refreshes the cached rows that
//! changed, so a revocation through any replica is refused by every replica within one poll.
//! Last-used times are collected in memory and written in batches.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::atomic::{AtomicI64, AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use auth_cache::clock::{Clock, Deadline};
use auth_core::apikey::{ApiKeyError, ManagedKeyId, ManagedToken, generate_managed};
use secrecy::SecretString;

use crate::limit::Bucket;
use crate::{KeyClass, KeyRecord, KeyStore, RateLimit, RateLimited, StoreError, StoredKey};

/// Limits and intervals of [`ManagedKeys`]; every one has a default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ManagedSettings {
    /// How often the store's version is polled (default 250 ms): the bound on how long a
    /// revocation through another replica or the CLI takes to reach this one.
    pub sync_interval: Duration,
    /// How often last-used times are written (default 10 s).
    pub last_used_flush: Duration,
    /// Known keys kept in memory (default 100 000).
    pub max_cached: u64,
    /// Unknown ids remembered (default 10 000).
    pub max_unknown: u64,
    /// How long an unknown id is remembered (default 60 s, on the cache's coarse clock: a few
    /// milliseconds either way; a poll that brings the id forgets it at once).
    pub unknown_ttl: Duration,
}

impl Default for ManagedSettings {
    fn default() -> Self {
        Self {
            sync_interval: Duration::from_millis(250),
            last_used_flush: Duration::from_secs(10),
            max_cached: 100_000,
            max_unknown: 10_000,
            unknown_ttl: Duration::from_secs(60),
        }
    }
}

/// A key to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewKey {
    /// What it opens.
    pub class: KeyClass,
    /// Its name (a project's id for `project` keys): 1 to 128 printable characters.
    pub name: String,
    /// Lifetime from now; `None`: until revoked.
    pub expires_in: Option<Duration>,
    /// Per-key token bucket.
    pub rate_limit: Option<RateLimit>,
    /// Metadata shown in lists (never a secret).
    pub meta: BTreeMap<String, String>,
}

/// Why a [`NewKey`] cannot be created.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NewKeyError {
    /// The name is empty, too long, or has control characters or white space at either end.
    #[error("a key name must be 1 to 128 printable characters without white space at either end")]
    BadName,
    /// A metadata key or value is unusable.
    #[error(
        "metadata: at most 32 entries, keys of 1 to 64 letters, digits, '-', '_' or '.', values of at most 256 printable characters"
    )]
    BadMeta,
    /// The store refused or failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The OS random source failed.
    #[error("the operating system's random number generator failed")]
    Random,
}

/// A created key: its record and its token, which is shown once and never again.
#[derive(Debug)]
pub struct Created {
    /// The stored record.
    pub record: KeyRecord,
    /// The token (redacted in `Debug`).
    pub token: SecretString,
}

/// A rerolled key: the new token, shown once.
#[derive(Debug)]
pub struct Rerolled {
    /// The record after the reroll.
    pub record: KeyRecord,
    /// The new token (redacted in `Debug`).
    pub token: SecretString,
}

/// What memory knows about an id.
#[derive(Debug, Clone)]
pub enum Cached {
    /// A known key.
    Known(Arc<StoredKey>),
    /// An id recently looked up and not found.
    Unknown,
    /// Neither: only the store can tell.
    Miss,
}

/// The verdict on a token for a key.
#[derive(Debug, Clone)]
pub enum Judged {
    /// Valid now.
    Allowed(Arc<StoredKey>),
    /// Refused, and why.
    Refused(ApiKeyError),
    /// Valid, but over the key's rate limit.
    Limited(RateLimited),
}

/// The running managed keys of one server (or one CLI command).
pub struct ManagedKeys {
    store: Arc<dyn KeyStore>,
    pepper: Vec<u8>,
    clock: Arc<dyn Clock>,
    settings: ManagedSettings,
    known: quick_cache::sync::Cache<ManagedKeyId, Arc<StoredKey>>,
    /// Ids the store does not have, each until the moment it may be asked again.
    unknown: quick_cache::sync::Cache<ManagedKeyId, Deadline>,
    /// Bits of the classes that have or had a key: once set, never cleared.
    protected: AtomicU8,
    version: AtomicI64,
    /// Bumped by every sync that brought changes; a load that spans one reads again.
    epoch: AtomicU64,
    buckets: Mutex<HashMap<ManagedKeyId, Bucket>>,
    used: Mutex<HashMap<ManagedKeyId, u64>>,
    lookups: AtomicU64,
}

impl fmt::Debug for ManagedKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ManagedKeys")
            .field("engine", &self.store.engine())
            .field("settings", &self.settings)
            .field("version", &self.version.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

fn valid_name(name: &str) -> bool {
    (1..=128).contains(&name.chars().count())
        && !name.chars().any(char::is_control)
        && name.trim() == name
}

fn valid_meta(meta: &BTreeMap<String, String>) -> bool {
    meta.len() <= 32
        && meta.iter().all(|(key, value)| {
            (1..=64).contains(&key.len())
                && key
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
                && value.chars().count() <= 256
                && !value.chars().any(char::is_control)
        })
}

impl ManagedKeys {
    /// Reads the store's pepper, classes and version.
    ///
    /// # Errors
    /// [`StoreError`] when the store cannot be read.
    pub async fn open(
        store: Arc<dyn KeyStore>,
        settings: ManagedSettings,
        clock: Arc<dyn Clock>,
    ) -> Result<Arc<Self>, StoreError> {
        let pepper = store.pepper().await?;
        let classes = store.classes().await?;
        let version = store.changes_since(i64::MAX).await?.version;
        let keys = Self {
            store,
            pepper,
            clock,
            settings,
            known: quick_cache::sync::Cache::new(
                usize::try_from(settings.max_cached.max(1)).unwrap_or(usize::MAX),
            ),
            unknown: quick_cache::sync::Cache::new(
                usize::try_from(settings.max_unknown.max(1)).unwrap_or(usize::MAX),
            ),
            protected: AtomicU8::new(0),
            version: AtomicI64::new(version),
            epoch: AtomicU64::new(0),
            buckets: Mutex::new(HashMap::new()),
            used: Mutex::new(HashMap::new()),
            lookups: AtomicU64::new(0),
        };
        for class in classes {
            keys.protect(class);
        }
        Ok(Arc::new(keys))
    }

    /// The settings.
    #[must_use]
    pub fn settings(&self) -> &ManagedSettings {
        &self.settings
    }

    /// The store's engine name.
    #[must_use]
    pub fn engine(&self) -> &'static str {
        self.store.engine()
    }

    /// The clock's time now.
    #[must_use]
    pub fn now(&self) -> u64 {
        self.clock.unix_now()
    }

    /// Keys in memory (approximate, for status).
    #[must_use]
    pub fn cached_count(&self) -> u64 {
        u64::try_from(self.known.len()).unwrap_or(u64::MAX)
    }

    /// Store queries made to look up presented ids (for tests and status).
    #[must_use]
    pub fn store_lookups(&self) -> u64 {
        self.lookups.load(Ordering::Relaxed)
    }

    fn protect(&self, class: KeyClass) {
        self.protected.fetch_or(class.bit(), Ordering::Relaxed);
    }

    /// Whether `class` has (or had) a managed key: such a class is never open, even once every
    /// key of it is revoked.
    #[must_use]
    pub fn protects(&self, class: KeyClass) -> bool {
        self.protected.load(Ordering::Relaxed) & class.bit() != 0
    }

    /// What memory knows about `id`, without I/O.
    #[must_use]
    pub fn cached(&self, id: ManagedKeyId) -> Cached {
        if let Some(key) = self.known.get(&id) {
            Cached::Known(key)
        } else if self.unknown.get(&id).is_some_and(|until| !until.passed()) {
            Cached::Unknown
        } else {
            Cached::Miss
        }
    }

    /// Drops what memory knows about `id` (the next use asks the store again).
    pub fn forget(&self, id: ManagedKeyId) {
        self.known.remove(&id);
        self.unknown.remove(&id);
    }

    /// Looks `id` up in the store and remembers the answer (known or unknown).
    ///
    /// # Errors
    /// [`StoreError`] when the store cannot answer: the caller fails closed.
    pub async fn load(&self, id: ManagedKeyId) -> Result<Option<Arc<StoredKey>>, StoreError> {
        for _ in 0..3 {
            let epoch = self.epoch.load(Ordering::Acquire);
            self.lookups.fetch_add(1, Ordering::Relaxed);
            let found = self.store.get(id).await?;
            if self.epoch.load(Ordering::Acquire) != epoch {
                continue; // a sync ran meanwhile: the row read may predate it
            }
            return Ok(match found {
                Some(key) => {
                    let key = Arc::new(key);
                    self.known.insert(id, Arc::clone(&key));
                    Some(key)
                }
                None => {
                    self.unknown
                        .insert(id, Deadline::approximate(self.settings.unknown_ttl));
                    None
                }
            });
        }
        Err(StoreError::Query(
            "the key changed during every lookup; try again".to_owned(),
        ))
    }

    /// Judges `token` against `key` for a use of `class` at the clock's time: digest (constant
    /// time; the previous one too during a reroll's grace), revocation, expiry, class, then the
    /// rate limit. A use that passes is remembered for the next last-used batch.
    #[must_use]
    pub fn judge(&self, key: &Arc<StoredKey>, token: &ManagedToken, class: KeyClass) -> Judged {
        let now = self.now();
        let record = &key.record;
        let current = token.matches(&self.pepper, &key.digest);
        let previous = key.previous_digest.is_some_and(|digest| {
            record.previous_valid_until.is_some_and(|until| now < until)
                && token.matches(&self.pepper, &digest)
        });
        if !(current || previous) {
            return Judged::Refused(ApiKeyError::NoMatch);
        }
        if record.revoked_at.is_some() {
            return Judged::Refused(ApiKeyError::Revoked);
        }
        if record.expires_at.is_some_and(|at| now >= at) {
            return Judged::Refused(ApiKeyError::Expired);
        }
        if record.class != class {
            return Judged::Refused(ApiKeyError::WrongClass);
        }
        if let Some(limit) = record.rate_limit {
            let at = Instant::now();
            let mut buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
            let bucket = buckets
                .entry(record.id)
                .or_insert_with(|| Bucket::full(limit, at));
            if let Err(limited) = bucket.take(limit, at) {
                return Judged::Limited(limited);
            }
        }
        self.used
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(record.id, now);
        Judged::Allowed(Arc::clone(key))
    }

    /// The whole check of a presented token for `class`: shape, memory, the store on a miss.
    ///
    /// # Errors
    /// [`StoreError`] when the key is not in memory and the store cannot answer.
    pub async fn verify(&self, class: KeyClass, token: &str) -> Result<Judged, StoreError> {
        let token = match ManagedToken::parse(token) {
            Ok(token) => token,
            Err(error) => return Ok(Judged::Refused(error)),
        };
        let key = match self.cached(token.id()) {
            Cached::Known(key) => key,
            Cached::Unknown => return Ok(Judged::Refused(ApiKeyError::NoMatch)),
            Cached::Miss => match self.load(token.id()).await? {
                Some(key) => key,
                None => return Ok(Judged::Refused(ApiKeyError::NoMatch)),
            },
        };
        Ok(self.judge(&key, &token, class))
    }

    fn remember(&self, key: StoredKey) -> KeyRecord {
        let record = key.record.clone();
        self.protect(record.class);
        self.unknown.remove(&record.id);
        self.known.insert(record.id, Arc::new(key));
        record
    }

    /// Creates a key; the token is in the answer and nowhere else.
    ///
    /// # Errors
    /// [`NewKeyError`] for a bad name or metadata, a taken name, or a store failure.
    pub async fn create(&self, new: NewKey) -> Result<Created, NewKeyError> {
        if !valid_name(&new.name) {
            return Err(NewKeyError::BadName);
        }
        if !valid_meta(&new.meta) {
            return Err(NewKeyError::BadMeta);
        }
        let id = ManagedKeyId::random().map_err(|_| NewKeyError::Random)?;
        let generated = generate_managed(id, &self.pepper).map_err(|_| NewKeyError::Random)?;
        let now = self.now();
        let key = StoredKey {
            record: KeyRecord {
                id,
                name: new.name,
                class: new.class,
                created_at: now,
                expires_at: new.expires_in.map(|d| now.saturating_add(d.as_secs())),
                revoked_at: None,
                last_used_at: None,
                rate_limit: new.rate_limit,
                meta: new.meta,
                previous_valid_until: None,
            },
            digest: generated.digest,
            previous_digest: None,
        };
        self.store.insert(&key).await?;
        Ok(Created {
            record: self.remember(key),
            token: generated.token,
        })
    }

    /// Every key, oldest first.
    ///
    /// # Errors
    /// [`StoreError`] when the store cannot be read.
    pub async fn list(&self) -> Result<Vec<KeyRecord>, StoreError> {
        let keys = self.store.list().await?;
        Ok(keys.into_iter().map(|key| key.record).collect())
    }

    /// Revokes `id` now (in this process at once; elsewhere within a poll); `None` if unknown.
    ///
    /// # Errors
    /// [`StoreError`] when the store fails.
    pub async fn revoke(&self, id: ManagedKeyId) -> Result<Option<KeyRecord>, StoreError> {
        let revoked = self.store.revoke(id, self.now()).await?;
        Ok(revoked.map(|key| self.remember(key)))
    }

    /// Gives `id` a new secret; the previous one keeps working for `grace`. `None` if the key
    /// is unknown or revoked.
    ///
    /// # Errors
    /// [`NewKeyError`] when the store fails or the random source does.
    pub async fn reroll(
        &self,
        id: ManagedKeyId,
        grace: Duration,
    ) -> Result<Option<Rerolled>, NewKeyError> {
        let Some(existing) = self.store.get(id).await? else {
            return Ok(None);
        };
        if existing.record.revoked_at.is_some() {
            return Ok(None);
        }
        let generated = generate_managed(id, &self.pepper).map_err(|_| NewKeyError::Random)?;
        let until = self.now().saturating_add(grace.as_secs());
        let Some(key) = self.store.reroll(id, generated.digest, until).await? else {
            return Ok(None);
        };
        Ok(Some(Rerolled {
            record: self.remember(key),
            token: generated.token,
        }))
    }

    /// One poll: refreshes cached rows that changed in the store since the last poll, forgets
    /// unknown ids that now exist, and marks their classes protected. Returns the rows seen.
    ///
    /// # Errors
    /// [`StoreError`] when the store cannot be read (cached keys keep serving).
    pub async fn sync(&self) -> Result<usize, StoreError> {
        let since = self.version.load(Ordering::Acquire);
        let changes = self.store.changes_since(since).await?;
        if changes.version == since && changes.keys.is_empty() {
            return Ok(0);
        }
        self.epoch.fetch_add(1, Ordering::AcqRel);
        let count = changes.keys.len();
        for key in changes.keys {
            let id = key.record.id;
            self.protect(key.record.class);
            self.unknown.remove(&id);
            if self.known.contains_key(&id) {
                self.known.insert(id, Arc::new(key));
            }
        }
        self.version.store(changes.version, Ordering::Release);
        Ok(count)
    }

    /// Writes the collected last-used times in one batch; on failure they are kept for the
    /// next one. Returns how many were written.
    ///
    /// # Errors
    /// [`StoreError`] when the store fails.
    pub async fn flush_last_used(&self) -> Result<usize, StoreError> {
        let batch: Vec<(ManagedKeyId, u64)> = {
            let mut used = self.used.lock().unwrap_or_else(PoisonError::into_inner);
            used.drain().collect()
        };
        if batch.is_empty() {
            return Ok(0);
        }
        match self.store.record_last_used(&batch).await {
            Ok(()) => Ok(batch.len()),
            Err(error) => {
                let mut used = self.used.lock().unwrap_or_else(PoisonError::into_inner);
                for (id, at) in batch {
                    let slot = used.entry(id).or_insert(at);
                    *slot = (*slot).max(at);
                }
                Err(error)
            }
        }
    }

    /// Runs the version poll and the last-used batches until the runtime stops. Failures are
    /// logged (without secrets) and retried at the next tick.
    pub fn spawn(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let keys = Arc::clone(self);
        tokio::spawn(async move {
            let mut poll = tokio::time::interval(keys.settings.sync_interval);
            poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut last_flush = Instant::now();
            let mut failing = false;
            loop {
                poll.tick().await;
                match keys.sync().await {
                    Ok(_) if failing => {
                        failing = false;
                        tracing::info!("the key store is reachable again");
                    }
                    Ok(_) => {}
                    Err(error) if !failing => {
                        failing = true;
                        tracing::warn!(%error, "cannot poll the key store; cached keys keep working, uncached ones are refused with 503");
                    }
                    Err(_) => {}
                }
                if last_flush.elapsed() >= keys.settings.last_used_flush {
                    last_flush = Instant::now();
                    if let Err(error) = keys.flush_last_used().await {
                        tracing::debug!(%error, "last-used times not written; kept for the next batch");
                    }
                }
            }
        })
    }
}
