//! Opening the managed-key store (docs/keys.md): one place for `keygate keys` and `serve`.

use std::sync::Arc;

use anyhow::Result;
use auth_cache::clock::Clock;
use key_store::sql::{SqlStore, sqlite_path};
use key_store::{KeyStore, ManagedKeys, ManagedSettings, StoreError};

use crate::exit::usage;

/// A store error as the CLI reports it: what the user must fix exits 2, the rest 1.
pub(crate) fn store_error(error: StoreError) -> anyhow::Error {
    match error {
        StoreError::UnsupportedUrl { .. } | StoreError::SchemaTooNew { .. } => {
            usage(error.to_string())
        }
        other => anyhow::Error::new(other),
    }
}

/// Opens the store at `url` (creating a SQLite file when `create`) and its runtime.
pub(crate) async fn open(
    url: &str,
    create: bool,
    settings: ManagedSettings,
    clock: Arc<dyn Clock>,
) -> Result<Arc<ManagedKeys>> {
    if !create
        && let Some(path) = sqlite_path(url)
        && !path.exists()
    {
        return Err(usage(format!(
            "there is no key store at {url} yet (keygate keys create makes it)"
        )));
    }
    let store: Arc<dyn KeyStore> =
        Arc::new(SqlStore::open(url, create).await.map_err(store_error)?);
    ManagedKeys::open(store, settings, clock)
        .await
        .map_err(store_error)
}
