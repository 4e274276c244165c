//! [`SqlStore`]: the SQLite and PostgreSQL engines, through sqlx's `Any` driver with runtime
//! queries. Both speak the same SQL here (`$n` parameters, `BIGINT`, `TEXT`, `ON CONFLICT`,
//! `RETURNING`); digests are stored as hex text so no engine-specific type is needed.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use auth_core::apikey::{DIGEST_BYTES, ManagedKeyId};
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Row};

use crate::store::redact_url;
use crate::{Changes, KeyClass, KeyRecord, KeyStore, RateLimit, StoreError, StoredKey};

/// The schema, one entry per version; applied in order, each in a transaction, when a store is
/// opened. Never edit a released entry: add the next one.
const MIGRATIONS: &[(i64, &[&str])] = &[(
    1,
    &[
        "CREATE TABLE IF NOT EXISTS keygate_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
        "CREATE TABLE IF NOT EXISTS keygate_version (id BIGINT PRIMARY KEY, version BIGINT NOT NULL)",
        "INSERT INTO keygate_version (id, version) VALUES (1, 0) ON CONFLICT DO NOTHING",
        "CREATE TABLE IF NOT EXISTS keygate_keys (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            class TEXT NOT NULL,
            digest TEXT NOT NULL,
            previous_digest TEXT,
            previous_until BIGINT,
            created_at BIGINT NOT NULL,
            expires_at BIGINT,
            revoked_at BIGINT,
            last_used_at BIGINT,
            rate_requests BIGINT,
            rate_seconds BIGINT,
            meta TEXT NOT NULL,
            version BIGINT NOT NULL
        )",
        "CREATE INDEX IF NOT EXISTS keygate_keys_by_version ON keygate_keys (version)",
    ],
)];

const COLUMNS: &str = "id, name, class, digest, previous_digest, previous_until, created_at, \
    expires_at, revoked_at, last_used_at, rate_requests, rate_seconds, meta";

/// How long opening a store waits for a connection before saying it is unavailable.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// A key store in SQLite or PostgreSQL.
#[derive(Debug)]
pub struct SqlStore {
    pool: AnyPool,
    engine: &'static str,
    url: String,
}

/// Whether `url` names an engine this build has.
#[must_use]
pub fn engine_of(url: &str) -> Option<&'static str> {
    if url.starts_with("sqlite:") && cfg!(feature = "sqlite") {
        Some("sqlite")
    } else if (url.starts_with("postgres://") || url.starts_with("postgresql://"))
        && cfg!(feature = "postgres")
    {
        Some("postgres")
    } else {
        None
    }
}

/// The file a `sqlite://PATH` URL names (`None` for other URLs and `:memory:`).
#[must_use]
pub fn sqlite_path(url: &str) -> Option<std::path::PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or_default();
    (!path.is_empty() && path != ":memory:").then(|| std::path::PathBuf::from(path))
}

fn query_error(error: &sqlx::Error) -> StoreError {
    StoreError::Query(error.to_string())
}

fn from_hex(id: &str, text: &str) -> Result<[u8; DIGEST_BYTES], StoreError> {
    let mut out = [0u8; DIGEST_BYTES];
    hex_decode(text, &mut out).ok_or_else(|| StoreError::Corrupt {
        id: id.to_owned(),
        what: "digest is not 64 hex characters",
    })?;
    Ok(out)
}

fn hex_decode(text: &str, out: &mut [u8]) -> Option<()> {
    if text.len() != out.len() * 2 {
        return None;
    }
    for (byte, pair) in out.iter_mut().zip(text.as_bytes().chunks(2)) {
        let digit = |b: u8| (b as char).to_digit(16);
        let &[high, low] = <&[u8; 2]>::try_from(pair).ok()?;
        *byte = u8::try_from(digit(high)? * 16 + digit(low)?).ok()?;
    }
    Some(())
}

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unix(value: Option<i64>) -> Option<u64> {
    value.map(|v| u64::try_from(v).unwrap_or(0))
}

fn signed(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn decode(row: &AnyRow) -> Result<StoredKey, StoreError> {
    let get_text = |name: &str| row.try_get::<String, _>(name).map_err(|e| query_error(&e));
    let get_opt_text = |name: &str| {
        row.try_get::<Option<String>, _>(name)
            .map_err(|e| query_error(&e))
    };
    let get_opt_int = |name: &str| {
        row.try_get::<Option<i64>, _>(name)
            .map_err(|e| query_error(&e))
    };
    let id_text = get_text("id")?;
    let corrupt = |what| StoreError::Corrupt {
        id: id_text.escape_debug().to_string(),
        what,
    };
    let id = ManagedKeyId::parse(&id_text).map_err(|_| corrupt("id is not 16 hex characters"))?;
    let class: KeyClass = get_text("class")?
        .parse()
        .map_err(|_| corrupt("unknown class"))?;
    let digest = from_hex(&id_text, &get_text("digest")?)?;
    let previous_digest = get_opt_text("previous_digest")?
        .map(|text| from_hex(&id_text, &text))
        .transpose()?;
    let rate_limit = match (get_opt_int("rate_requests")?, get_opt_int("rate_seconds")?) {
        (Some(requests), Some(seconds)) => Some(RateLimit {
            requests: u32::try_from(requests).map_err(|_| corrupt("rate limit out of range"))?,
            seconds: u32::try_from(seconds).map_err(|_| corrupt("rate limit out of range"))?,
        }),
        _ => None,
    };
    let meta: BTreeMap<String, String> = serde_json::from_str(&get_text("meta")?)
        .map_err(|_| corrupt("meta is not a JSON object"))?;
    let created_at = row
        .try_get::<i64, _>("created_at")
        .map_err(|e| query_error(&e))?;
    Ok(StoredKey {
        record: KeyRecord {
            id,
            name: get_text("name")?,
            class,
            created_at: u64::try_from(created_at).unwrap_or(0),
            expires_at: unix(get_opt_int("expires_at")?),
            revoked_at: unix(get_opt_int("revoked_at")?),
            last_used_at: unix(get_opt_int("last_used_at")?),
            rate_limit,
            meta,
            previous_valid_until: unix(get_opt_int("previous_until")?),
        },
        digest,
        previous_digest,
    })
}

impl SqlStore {
    /// Connects to `url` and applies the migrations it lacks. A `sqlite://` file is created
    /// when `create` is set (and refused as unavailable when it is missing otherwise).
    ///
    /// # Errors
    /// [`StoreError::UnsupportedUrl`], [`StoreError::Unavailable`], [`StoreError::SchemaTooNew`]
    /// or [`StoreError::Query`] (a migration failed).
    pub async fn open(url: &str, create: bool) -> Result<Self, StoreError> {
        let shown = redact_url(url);
        let engine =
            engine_of(url).ok_or_else(|| StoreError::UnsupportedUrl { url: shown.clone() })?;
        sqlx::any::install_default_drivers();
        let mut connect = url.to_owned();
        if engine == "sqlite" && create && !url.contains("mode=") {
            connect.push_str(if url.contains('?') {
                "&mode=rwc"
            } else {
                "?mode=rwc"
            });
        }
        let pool = AnyPoolOptions::new()
            .max_connections(if engine == "sqlite" { 1 } else { 4 })
            .acquire_timeout(CONNECT_TIMEOUT)
            .connect(&connect)
            .await
            .map_err(|e| StoreError::Unavailable {
                url: shown.clone(),
                reason: e.to_string(),
            })?;
        let store = Self {
            pool,
            engine,
            url: shown,
        };
        store.migrate().await?;
        Ok(store)
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.map_err(|e| self.unavailable(&e))?;
        if self.engine == "postgres" {
            // Replicas starting together migrate one at a time.
            sqlx::query("SELECT pg_advisory_xact_lock(7201552)")
                .execute(&mut *tx)
                .await
                .map_err(|e| query_error(&e))?;
        }
        sqlx::query("CREATE TABLE IF NOT EXISTS keygate_schema (version BIGINT PRIMARY KEY)")
            .execute(&mut *tx)
            .await
            .map_err(|e| query_error(&e))?;
        let current: Option<i64> = sqlx::query("SELECT MAX(version) AS v FROM keygate_schema")
            .fetch_one(&mut *tx)
            .await
            .and_then(|row| row.try_get::<Option<i64>, _>("v"))
            .map_err(|e| query_error(&e))?;
        let current = current.unwrap_or(0);
        let known = MIGRATIONS.last().map_or(0, |(v, _)| *v);
        if current > known {
            return Err(StoreError::SchemaTooNew {
                found: current,
                known,
            });
        }
        for (version, statements) in MIGRATIONS.iter().filter(|(v, _)| *v > current) {
            for statement in *statements {
                sqlx::query(statement)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| query_error(&e))?;
            }
            sqlx::query("INSERT INTO keygate_schema (version) VALUES ($1)")
                .bind(*version)
                .execute(&mut *tx)
                .await
                .map_err(|e| query_error(&e))?;
            if *version == 1 {
                let mut pepper = [0u8; 32];
                getrandom::fill(&mut pepper).map_err(|e| StoreError::Query(e.to_string()))?;
                let pepper = to_hex(&pepper);
                sqlx::query(
                    "INSERT INTO keygate_meta (name, value) VALUES ('pepper', $1) ON CONFLICT DO NOTHING",
                )
                .bind(pepper)
                .execute(&mut *tx)
                .await
                .map_err(|e| query_error(&e))?;
            }
        }
        tx.commit().await.map_err(|e| query_error(&e))
    }

    fn unavailable(&self, error: &sqlx::Error) -> StoreError {
        match error {
            sqlx::Error::Io(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Tls(_)
            | sqlx::Error::Protocol(_) => StoreError::Unavailable {
                url: self.url.clone(),
                reason: error.to_string(),
            },
            other => query_error(other),
        }
    }

    /// Bumps the store-wide version inside `tx` and returns it.
    async fn bump(tx: &mut sqlx::Transaction<'_, sqlx::Any>) -> Result<i64, sqlx::Error> {
        sqlx::query(
            "UPDATE keygate_version SET version = version + 1 WHERE id = 1 RETURNING version",
        )
        .fetch_one(&mut **tx)
        .await?
        .try_get::<i64, _>("version")
    }

    async fn fetch(&self, id: ManagedKeyId) -> Result<Option<StoredKey>, StoreError> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM keygate_keys WHERE id = $1"))
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| self.unavailable(&e))?;
        row.as_ref().map(decode).transpose()
    }
}

#[async_trait]
impl KeyStore for SqlStore {
    fn engine(&self) -> &'static str {
        self.engine
    }

    async fn pepper(&self) -> Result<Vec<u8>, StoreError> {
        let text: String = sqlx::query("SELECT value FROM keygate_meta WHERE name = 'pepper'")
            .fetch_one(&self.pool)
            .await
            .and_then(|row| row.try_get::<String, _>("value"))
            .map_err(|e| self.unavailable(&e))?;
        let mut pepper = vec![0u8; text.len() / 2];
        hex_decode(&text, &mut pepper).ok_or(StoreError::Corrupt {
            id: "pepper".to_owned(),
            what: "the pepper is not hex",
        })?;
        Ok(pepper)
    }

    async fn insert(&self, key: &StoredKey) -> Result<(), StoreError> {
        let record = &key.record;
        let mut tx = self.pool.begin().await.map_err(|e| self.unavailable(&e))?;
        let taken = sqlx::query(
            "SELECT id FROM keygate_keys WHERE class = $1 AND name = $2 AND revoked_at IS NULL",
        )
        .bind(record.class.as_str())
        .bind(record.name.as_str())
        .fetch_optional(&mut *tx)
        .await
        .map_err(|e| query_error(&e))?;
        if taken.is_some() {
            return Err(StoreError::NameTaken {
                class: record.class,
                name: record.name.clone(),
            });
        }
        let version = Self::bump(&mut tx).await.map_err(|e| query_error(&e))?;
        let meta = serde_json::to_string(&record.meta).unwrap_or_else(|_| "{}".to_owned());
        sqlx::query(&format!(
            "INSERT INTO keygate_keys ({COLUMNS}, version) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
        ))
        .bind(record.id.to_string())
        .bind(record.name.as_str())
        .bind(record.class.as_str())
        .bind(to_hex(&key.digest))
        .bind(key.previous_digest.map(|d| to_hex(&d)))
        .bind(record.previous_valid_until.map(signed))
        .bind(signed(record.created_at))
        .bind(record.expires_at.map(signed))
        .bind(record.revoked_at.map(signed))
        .bind(record.last_used_at.map(signed))
        .bind(record.rate_limit.map(|l| i64::from(l.requests)))
        .bind(record.rate_limit.map(|l| i64::from(l.seconds)))
        .bind(meta)
        .bind(version)
        .execute(&mut *tx)
        .await
        .map_err(|e| query_error(&e))?;
        tx.commit().await.map_err(|e| query_error(&e))
    }

    async fn get(&self, id: ManagedKeyId) -> Result<Option<StoredKey>, StoreError> {
        self.fetch(id).await
    }

    async fn list(&self) -> Result<Vec<StoredKey>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM keygate_keys ORDER BY created_at, id"
        ))
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.unavailable(&e))?;
        rows.iter().map(decode).collect()
    }

    async fn revoke(&self, id: ManagedKeyId, at: u64) -> Result<Option<StoredKey>, StoreError> {
        let mut tx = self.pool.begin().await.map_err(|e| self.unavailable(&e))?;
        let version = Self::bump(&mut tx).await.map_err(|e| query_error(&e))?;
        sqlx::query(
            "UPDATE keygate_keys SET revoked_at = COALESCE(revoked_at, $1), version = $2 WHERE id = $3",
        )
        .bind(signed(at))
        .bind(version)
        .bind(id.to_string())
        .execute(&mut *tx)
        .await
        .map_err(|e| query_error(&e))?;
        tx.commit().await.map_err(|e| query_error(&e))?;
        self.fetch(id).await
    }

    async fn reroll(
        &self,
        id: ManagedKeyId,
        digest: [u8; DIGEST_BYTES],
        previous_until: u64,
    ) -> Result<Option<StoredKey>, StoreError> {
        let mut tx = self.pool.begin().await.map_err(|e| self.unavailable(&e))?;
        let version = Self::bump(&mut tx).await.map_err(|e| query_error(&e))?;
        sqlx::query(
            "UPDATE keygate_keys SET previous_digest = digest, previous_until = $1, digest = $2, \
             version = $3 WHERE id = $4 AND revoked_at IS NULL",
        )
        .bind(signed(previous_until))
        .bind(to_hex(&digest))
        .bind(version)
        .bind(id.to_string())
        .execute(&mut *tx)
        .await
        .map_err(|e| query_error(&e))?;
        tx.commit().await.map_err(|e| query_error(&e))?;
        self.fetch(id).await
    }

    async fn changes_since(&self, version: i64) -> Result<Changes, StoreError> {
        let current: i64 = sqlx::query("SELECT version FROM keygate_version WHERE id = 1")
            .fetch_one(&self.pool)
            .await
            .and_then(|row| row.try_get::<i64, _>("version"))
            .map_err(|e| self.unavailable(&e))?;
        if current == version {
            return Ok(Changes {
                version,
                keys: Vec::new(),
            });
        }
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM keygate_keys WHERE version > $1"
        ))
        .bind(version)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.unavailable(&e))?;
        Ok(Changes {
            version: current,
            keys: rows.iter().map(decode).collect::<Result<_, _>>()?,
        })
    }

    async fn record_last_used(&self, uses: &[(ManagedKeyId, u64)]) -> Result<(), StoreError> {
        if uses.is_empty() {
            return Ok(());
        }
        let mut tx = self.pool.begin().await.map_err(|e| self.unavailable(&e))?;
        for (id, at) in uses {
            sqlx::query(
                "UPDATE keygate_keys SET last_used_at = $1 \
                 WHERE id = $2 AND (last_used_at IS NULL OR last_used_at < $1)",
            )
            .bind(signed(*at))
            .bind(id.to_string())
            .execute(&mut *tx)
            .await
            .map_err(|e| query_error(&e))?;
        }
        tx.commit().await.map_err(|e| query_error(&e))
    }

    async fn classes(&self) -> Result<Vec<KeyClass>, StoreError> {
        let rows = sqlx::query("SELECT DISTINCT class FROM keygate_keys")
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.unavailable(&e))?;
        Ok(rows
            .iter()
            .filter_map(|row| row.try_get::<String, _>("class").ok())
            .filter_map(|class| class.parse().ok())
            .collect())
    }
}
