//! The storage interface every engine implements.

use std::fmt;

use async_trait::async_trait;
use auth_core::apikey::{DIGEST_BYTES, ManagedKeyId};

use crate::{KeyClass, StoredKey};

/// Why the store could not do something. Messages never carry a token, a digest, the pepper or
/// a database password.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The URL names no engine this build has.
    #[error(
        "unsupported key store URL {url}: expected sqlite://PATH (e.g. sqlite://keygate-keys.db) or postgres://USER@HOST:PORT/DB"
    )]
    UnsupportedUrl {
        /// The URL, password removed.
        url: String,
    },
    /// The database cannot be reached or refused the connection.
    #[error("the key store {url} is unavailable: {reason}")]
    Unavailable {
        /// The URL, password removed.
        url: String,
        /// The driver's reason.
        reason: String,
    },
    /// A query failed.
    #[error("a key store query failed: {0}")]
    Query(String),
    /// The schema in the database is newer than this build knows.
    #[error(
        "the key store's schema is version {found}; this keygate knows versions up to {known}: upgrade keygate"
    )]
    SchemaTooNew {
        /// The version found.
        found: i64,
        /// The newest version this build has.
        known: i64,
    },
    /// A row that does not decode (edited by hand?). Names the key, never its digest.
    #[error("stored key {id} is corrupt: {what}")]
    Corrupt {
        /// The row's id as stored.
        id: String,
        /// What is wrong.
        what: &'static str,
    },
    /// An unrevoked key of the same class already has this name.
    #[error("an unrevoked {class} key named {name:?} already exists")]
    NameTaken {
        /// The class.
        class: KeyClass,
        /// The name.
        name: String,
    },
}

/// Rows changed since a version, and the version they bring the reader to.
#[derive(Debug, Clone, Default)]
pub struct Changes {
    /// The store's version when read.
    pub version: i64,
    /// Keys inserted or changed after the version asked about.
    pub keys: Vec<StoredKey>,
}

/// Where managed keys live. Every change (insert, revoke, reroll) bumps one store-wide version
/// and stamps the row with it, so replicas poll [`KeyStore::changes_since`] cheaply.
#[async_trait]
pub trait KeyStore: Send + Sync + fmt::Debug {
    /// `sqlite` or `postgres`.
    fn engine(&self) -> &'static str;

    /// The store's pepper, made at its first migration.
    async fn pepper(&self) -> Result<Vec<u8>, StoreError>;

    /// Adds a key.
    async fn insert(&self, key: &StoredKey) -> Result<(), StoreError>;

    /// One key by id.
    async fn get(&self, id: ManagedKeyId) -> Result<Option<StoredKey>, StoreError>;

    /// Every key, oldest first.
    async fn list(&self) -> Result<Vec<StoredKey>, StoreError>;

    /// Marks a key revoked at `at` (a second revoke keeps the first time); `None` if unknown.
    async fn revoke(&self, id: ManagedKeyId, at: u64) -> Result<Option<StoredKey>, StoreError>;

    /// Replaces a key's digest; the old one stays valid until `previous_until` (Unix seconds).
    async fn reroll(
        &self,
        id: ManagedKeyId,
        digest: [u8; DIGEST_BYTES],
        previous_until: u64,
    ) -> Result<Option<StoredKey>, StoreError>;

    /// Keys changed after `version`.
    async fn changes_since(&self, version: i64) -> Result<Changes, StoreError>;

    /// Writes last-used times (a batch; never moves a time backwards; bumps no version).
    async fn record_last_used(&self, uses: &[(ManagedKeyId, u64)]) -> Result<(), StoreError>;

    /// The classes that have (or had) at least one key.
    async fn classes(&self) -> Result<Vec<KeyClass>, StoreError>;
}

/// `url` without its password, for messages.
#[must_use]
#[cfg_attr(
    not(any(feature = "sqlite", feature = "postgres")),
    allow(dead_code, reason = "only the engines connect to URLs")
)]
pub(crate) fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split(':').next().unwrap_or_default();
            let hidden = if userinfo.contains(':') { ":***" } else { "" };
            format!("{scheme}://{user}{hidden}@{host}{path}")
        }
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn passwords_never_reach_messages() {
        assert_eq!(
            super::redact_url("postgres://kg:s3cret@db:5432/keys"),
            "postgres://kg:***@db:5432/keys"
        );
        assert_eq!(super::redact_url("sqlite://k.db"), "sqlite://k.db");
    }
}
