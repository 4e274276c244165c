//! Managed-key verification (docs/benchmarks.md): a cached key (memory only: HMAC, checks,
//! bucket), an uncached one (one SQLite lookup by id, then the same), and an unknown id
//! answered from the negative cache.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "benchmark setup")]

use std::collections::BTreeMap;
use std::hint::black_box;
use std::sync::Arc;

use auth_cache::clock::SystemClock;
use criterion::{Criterion, criterion_group, criterion_main};
use key_store::sql::SqlStore;
use key_store::{Judged, KeyClass, KeyStore, ManagedKeys, ManagedSettings, NewKey};
use secrecy::ExposeSecret;

fn bench(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("bench.db").display());
    let (keys, token, foreign) = runtime.block_on(async {
        let store: Arc<dyn KeyStore> = Arc::new(SqlStore::open(&url, true).await.unwrap());
        let keys = ManagedKeys::open(store, ManagedSettings::default(), Arc::new(SystemClock))
            .await
            .unwrap();
        let new = |name: &str| NewKey {
            class: KeyClass::Consumption,
            name: name.to_owned(),
            expires_in: None,
            rate_limit: None,
            meta: BTreeMap::new(),
        };
        let created = keys.create(new("bench")).await.unwrap();
        // A well-formed token whose id this store does not have.
        let other_url = format!("sqlite://{}", dir.path().join("other.db").display());
        let other: Arc<dyn KeyStore> = Arc::new(SqlStore::open(&other_url, true).await.unwrap());
        let other = ManagedKeys::open(other, ManagedSettings::default(), Arc::new(SystemClock))
            .await
            .unwrap();
        let foreign = other.create(new("foreign")).await.unwrap();
        (
            keys,
            created.token.expose_secret().to_owned(),
            foreign.token.expose_secret().to_owned(),
        )
    });
    let id = auth_core::apikey::ManagedToken::parse(&token).unwrap().id();
    let mut group = c.benchmark_group("managed_key_verify");
    group.bench_function("cached", |b| {
        b.to_async(&runtime).iter(|| async {
            let judged = keys.verify(KeyClass::Consumption, black_box(&token)).await;
            assert!(matches!(judged, Ok(Judged::Allowed(_))));
        });
    });
    group.bench_function("uncached_sqlite_lookup", |b| {
        b.to_async(&runtime).iter(|| async {
            keys.forget(id);
            let judged = keys.verify(KeyClass::Consumption, black_box(&token)).await;
            assert!(matches!(judged, Ok(Judged::Allowed(_))));
        });
    });
    group.bench_function("unknown_id_negative_cache", |b| {
        b.to_async(&runtime).iter(|| async {
            let judged = keys
                .verify(KeyClass::Consumption, black_box(&foreign))
                .await;
            assert!(matches!(judged, Ok(Judged::Refused(_))));
        });
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
