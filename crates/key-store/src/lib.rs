//! keygate's managed keys (docs/keys.md): keys created, listed, revoked and rerolled at run time
//! instead of written into the configuration.
//!
//! - [`KeyStore`] is the one storage interface; [`sql::SqlStore`] implements it for an embedded
//!   SQLite file and for PostgreSQL (cargo features `sqlite`, `postgres`), with versioned
//!   migrations applied when it is opened.
//! - [`ManagedKeys`] is what a server runs: a bounded cache of known keys, a bounded negative
//!   cache of unknown ids, the version poll that makes revocations reach every replica, per-key
//!   token buckets and last-used times written in batches.
//!
//! Token format and digests are `auth_core::apikey::managed`'s (pure logic); this crate does the
//! I/O. Secrets never appear in `Debug`, errors or logs: records carry digests only, and those
//! are redacted too.

mod class;
mod limit;
mod managed;
mod record;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub mod sql;
mod store;
mod time;

pub use class::{ClassError, KeyClass};
pub use limit::{RateLimit, RateLimitError, RateLimited};
pub use managed::{
    Cached, Created, Judged, ManagedKeys, ManagedSettings, NewKey, NewKeyError, Rerolled,
};
pub use record::{KeyRecord, KeyStatus, StoredKey};
pub use store::{Changes, KeyStore, StoreError};
pub use time::{DurationError, format_utc, parse_duration};
