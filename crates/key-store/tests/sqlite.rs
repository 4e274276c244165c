//! The managed-key lifecycle against a real SQLite file, with a clock the tests move.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "tests fail loudly"
)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use auth_cache::clock::ManualClock;
use auth_core::apikey::ApiKeyError;
use key_store::sql::SqlStore;
use key_store::{
    Judged, KeyClass, KeyStatus, KeyStore, ManagedKeys, ManagedSettings, NewKey, RateLimit,
    StoreError,
};
use secrecy::ExposeSecret;

const T0: u64 = 1_800_000_000;

async fn open(dir: &tempfile::TempDir, clock: &ManualClock) -> Arc<ManagedKeys> {
    open_with(dir, clock, ManagedSettings::default()).await
}

async fn open_with(
    dir: &tempfile::TempDir,
    clock: &ManualClock,
    settings: ManagedSettings,
) -> Arc<ManagedKeys> {
    let url = format!("sqlite://{}", dir.path().join("keys.db").display());
    let store: Arc<dyn KeyStore> = Arc::new(SqlStore::open(&url, true).await.unwrap());
    ManagedKeys::open(store, settings, Arc::new(clock.clone()))
        .await
        .unwrap()
}

fn new_key(class: KeyClass, name: &str) -> NewKey {
    NewKey {
        class,
        name: name.to_owned(),
        expires_in: None,
        rate_limit: None,
        meta: BTreeMap::new(),
    }
}

fn allowed(judged: &Judged) -> bool {
    matches!(judged, Judged::Allowed(_))
}

fn refused(judged: &Judged) -> Option<ApiKeyError> {
    match judged {
        Judged::Refused(reason) => Some(*reason),
        _ => None,
    }
}

#[tokio::test]
async fn created_keys_verify_for_their_class_only_and_list_without_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::at(T0);
    let keys = open(&dir, &clock).await;
    assert!(!keys.protects(KeyClass::Consumption));
    let mut new = new_key(KeyClass::Consumption, "reporting");
    new.meta.insert("team".into(), "data".into());
    let created = keys.create(new).await.unwrap();
    let token = created.token.expose_secret().to_owned();
    assert!(token.starts_with(&format!("kgm_{}_", created.record.id)));
    assert!(keys.protects(KeyClass::Consumption));

    assert!(allowed(
        &keys.verify(KeyClass::Consumption, &token).await.unwrap()
    ));
    assert_eq!(
        refused(&keys.verify(KeyClass::Ingest, &token).await.unwrap()),
        Some(ApiKeyError::WrongClass)
    );
    // A wrong secret for a real id, and a typo, are refused.
    let mut wrong = token.clone();
    wrong.replace_range(30..31, if &token[30..31] == "A" { "B" } else { "A" });
    let judged = keys.verify(KeyClass::Consumption, &wrong).await.unwrap();
    assert!(matches!(
        refused(&judged),
        Some(ApiKeyError::BadChecksum | ApiKeyError::NoMatch)
    ));

    let listed = keys.list().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].name, "reporting");
    assert_eq!(listed[0].meta["team"], "data");
    let stored = key_store::sql::SqlStore::open(
        &format!("sqlite://{}", dir.path().join("keys.db").display()),
        false,
    )
    .await
    .unwrap()
    .get(created.record.id)
    .await
    .unwrap()
    .unwrap();
    let digest: String = stored.digest.iter().map(|b| format!("{b:02x}")).collect();
    let shown = format!("{:?} {} {stored:?} {keys:?}", listed, listed[0].to_json(T0));
    assert!(
        !shown.contains(&digest) && !shown.contains("digest: ["),
        "{shown}"
    );
    assert!(!shown.contains(&token[21..60]), "no secret in a listing");

    // Names are unique per class among unrevoked keys.
    let taken = keys
        .create(new_key(KeyClass::Consumption, "reporting"))
        .await;
    assert!(matches!(
        taken,
        Err(key_store::NewKeyError::Store(StoreError::NameTaken { .. }))
    ));
    assert!(
        keys.create(new_key(KeyClass::Consumption, " padded"))
            .await
            .is_err()
    );
}

#[tokio::test]
async fn expiry_is_enforced_at_verification_by_the_clock() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::at(T0);
    let keys = open(&dir, &clock).await;
    let mut new = new_key(KeyClass::Ingest, "short");
    new.expires_in = Some(Duration::from_secs(30 * 86_400));
    let created = keys.create(new).await.unwrap();
    let token = created.token.expose_secret();
    assert_eq!(created.record.expires_at, Some(T0 + 30 * 86_400));
    clock.advance(30 * 86_400 - 1);
    assert!(allowed(
        &keys.verify(KeyClass::Ingest, token).await.unwrap()
    ));
    clock.advance(1);
    assert_eq!(
        refused(&keys.verify(KeyClass::Ingest, token).await.unwrap()),
        Some(ApiKeyError::Expired)
    );
    assert_eq!(
        keys.list().await.unwrap()[0].status(clock_now(&clock)),
        KeyStatus::Expired
    );
}

fn clock_now(clock: &ManualClock) -> u64 {
    use auth_cache::clock::Clock;
    clock.unix_now()
}

#[tokio::test]
async fn a_reroll_keeps_the_old_secret_only_for_the_grace_period() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::at(T0);
    let keys = open(&dir, &clock).await;
    let created = keys
        .create(new_key(KeyClass::Consumption, "app"))
        .await
        .unwrap();
    let old = created.token.expose_secret().to_owned();
    let rerolled = keys
        .reroll(created.record.id, Duration::from_secs(3600))
        .await
        .unwrap()
        .unwrap();
    let new = rerolled.token.expose_secret().to_owned();
    assert_ne!(old, new);
    assert_eq!(rerolled.record.previous_valid_until, Some(T0 + 3600));
    assert!(allowed(
        &keys.verify(KeyClass::Consumption, &old).await.unwrap()
    ));
    assert!(allowed(
        &keys.verify(KeyClass::Consumption, &new).await.unwrap()
    ));
    clock.advance(3600);
    assert_eq!(
        refused(&keys.verify(KeyClass::Consumption, &old).await.unwrap()),
        Some(ApiKeyError::NoMatch)
    );
    assert!(allowed(
        &keys.verify(KeyClass::Consumption, &new).await.unwrap()
    ));
}

#[tokio::test]
async fn a_revocation_by_another_process_is_seen_within_one_poll_and_classes_stay_protected() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::at(T0);
    let gateway = open(&dir, &clock).await;
    let cli = open(&dir, &clock).await;
    let created = cli
        .create(new_key(KeyClass::Consumption, "svc"))
        .await
        .unwrap();
    let token = created.token.expose_secret();
    assert!(!gateway.protects(KeyClass::Consumption), "not polled yet");
    gateway.sync().await.unwrap();
    assert!(gateway.protects(KeyClass::Consumption));
    assert!(allowed(
        &gateway.verify(KeyClass::Consumption, token).await.unwrap()
    ));
    let lookups = gateway.store_lookups();
    assert!(allowed(
        &gateway.verify(KeyClass::Consumption, token).await.unwrap()
    ));
    assert_eq!(
        gateway.store_lookups(),
        lookups,
        "a cached key costs no query"
    );

    cli.revoke(created.record.id).await.unwrap().unwrap();
    assert_eq!(gateway.sync().await.unwrap(), 1);
    assert_eq!(
        refused(&gateway.verify(KeyClass::Consumption, token).await.unwrap()),
        Some(ApiKeyError::Revoked)
    );
    assert!(gateway.protects(KeyClass::Consumption), "stays protected");
    // A new instance reading the store knows the class was protected.
    assert!(open(&dir, &clock).await.protects(KeyClass::Consumption));
}

#[tokio::test]
async fn unknown_ids_cost_one_query_then_none() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::at(T0);
    let keys = open(&dir, &clock).await;
    let other_dir = tempfile::tempdir().unwrap();
    let other = open(&other_dir, &clock).await;
    // A well-formed token of another store: its id is unknown here.
    let foreign = other.create(new_key(KeyClass::Ingest, "x")).await.unwrap();
    let token = foreign.token.expose_secret();
    for _ in 0..5 {
        assert_eq!(
            refused(&keys.verify(KeyClass::Ingest, token).await.unwrap()),
            Some(ApiKeyError::NoMatch)
        );
    }
    assert_eq!(keys.store_lookups(), 1);
    // Garbage costs nothing at all.
    assert_eq!(
        refused(&keys.verify(KeyClass::Ingest, "kgm_nonsense").await.unwrap()),
        Some(ApiKeyError::UnknownShape)
    );
    assert_eq!(keys.store_lookups(), 1);
}

#[tokio::test]
async fn an_unknown_id_is_asked_again_once_its_ttl_ends_and_any_ttl_is_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::at(T0);
    let other_dir = tempfile::tempdir().unwrap();
    let other = open(&other_dir, &clock).await;
    let foreign = other.create(new_key(KeyClass::Ingest, "x")).await.unwrap();
    let token = foreign.token.expose_secret();
    let short = ManagedSettings {
        unknown_ttl: Duration::from_millis(100),
        ..ManagedSettings::default()
    };
    let keys = open_with(&dir, &clock, short).await;
    for expected_lookups in [1, 1] {
        assert!(refused(&keys.verify(KeyClass::Ingest, token).await.unwrap()).is_some());
        assert_eq!(keys.store_lookups(), expected_lookups);
    }
    // Past the TTL (and the coarse clock's few milliseconds), the id costs a query again.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(refused(&keys.verify(KeyClass::Ingest, token).await.unwrap()).is_some());
    assert_eq!(keys.store_lookups(), 2);

    // A TTL too long to add to the clock means "for as long as the process runs".
    let forever = ManagedSettings {
        unknown_ttl: Duration::MAX,
        ..ManagedSettings::default()
    };
    let keys = open_with(&dir, &clock, forever).await;
    for _ in 0..3 {
        assert!(refused(&keys.verify(KeyClass::Ingest, token).await.unwrap()).is_some());
    }
    assert_eq!(keys.store_lookups(), 1);
}

#[tokio::test]
async fn rate_limited_keys_get_a_retry_after_and_last_use_is_written_in_a_batch() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::at(T0);
    let keys = open(&dir, &clock).await;
    let mut new = new_key(KeyClass::Consumption, "limited");
    new.rate_limit = Some(RateLimit {
        requests: 2,
        seconds: 60,
    });
    let created = keys.create(new).await.unwrap();
    let token = created.token.expose_secret();
    assert!(allowed(
        &keys.verify(KeyClass::Consumption, token).await.unwrap()
    ));
    assert!(allowed(
        &keys.verify(KeyClass::Consumption, token).await.unwrap()
    ));
    match keys.verify(KeyClass::Consumption, token).await.unwrap() {
        Judged::Limited(limited) => {
            assert_eq!(limited.retry_after, 30);
            assert_eq!(limited.limit.requests, 2);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        keys.list().await.unwrap()[0].last_used_at,
        None,
        "not yet flushed"
    );
    assert_eq!(keys.flush_last_used().await.unwrap(), 1);
    assert_eq!(keys.list().await.unwrap()[0].last_used_at, Some(T0));
}
