//! A managed key as stored, and the view of it that may be shown.

use std::collections::BTreeMap;
use std::fmt;

use auth_core::apikey::{DIGEST_BYTES, ManagedKeyId};

use crate::{KeyClass, RateLimit};

/// What may be shown of a key: everything but its digests. `list` and the admin API print this.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRecord {
    /// The id (the token names it; not a secret).
    pub id: ManagedKeyId,
    /// A name chosen at creation (a project's id for `project` keys).
    pub name: String,
    /// What the key opens.
    pub class: KeyClass,
    /// Unix seconds.
    pub created_at: u64,
    /// Unix seconds after which the key is refused; `None`: never.
    pub expires_at: Option<u64>,
    /// Unix seconds when it was revoked.
    pub revoked_at: Option<u64>,
    /// Unix seconds of the last use written to the store (batched: may lag by the flush interval).
    pub last_used_at: Option<u64>,
    /// Its token bucket, if limited.
    pub rate_limit: Option<RateLimit>,
    /// Free-form `k=v` metadata given at creation.
    pub meta: BTreeMap<String, String>,
    /// After a reroll, until when (Unix seconds) the previous secret still works.
    pub previous_valid_until: Option<u64>,
}

/// Whether a key is usable now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyStatus {
    /// Usable.
    Active,
    /// Past its expiry.
    Expired,
    /// Revoked.
    Revoked,
}

impl KeyStatus {
    /// `active`, `expired` or `revoked`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Expired => "expired",
            Self::Revoked => "revoked",
        }
    }
}

impl KeyRecord {
    /// The key's status at `now` (Unix seconds): revoked wins over expired.
    #[must_use]
    pub fn status(&self, now: u64) -> KeyStatus {
        if self.revoked_at.is_some() {
            KeyStatus::Revoked
        } else if self.expires_at.is_some_and(|at| now >= at) {
            KeyStatus::Expired
        } else {
            KeyStatus::Active
        }
    }

    /// The JSON the CLI's `--json` and the admin API show (never a digest or a token).
    #[must_use]
    pub fn to_json(&self, now: u64) -> serde_json::Value {
        serde_json::json!({
            "id": self.id.to_string(),
            "name": self.name,
            "class": self.class.as_str(),
            "status": self.status(now).as_str(),
            "createdAt": self.created_at,
            "expiresAt": self.expires_at,
            "revokedAt": self.revoked_at,
            "lastUsedAt": self.last_used_at,
            "rateLimit": self.rate_limit.map(|l| l.to_string()),
            "meta": self.meta,
            "previousValidUntil": self.previous_valid_until,
        })
    }
}

/// A key with its digests: what the store holds and the cache keeps. `Debug` shows no digest.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredKey {
    /// Everything that may be shown.
    pub record: KeyRecord,
    /// `HMAC-SHA256(pepper, id ‖ secret)` of the current secret.
    pub digest: [u8; DIGEST_BYTES],
    /// The previous secret's digest during a reroll's grace period.
    pub previous_digest: Option<[u8; DIGEST_BYTES]>,
}

impl fmt::Debug for StoredKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredKey")
            .field("record", &self.record)
            .finish_non_exhaustive()
    }
}
