//! `keygate keys create|list|revoke|reroll`: managed keys in the key store (docs/keys.md).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use auth_cache::clock::{Clock, SystemClock};
use auth_core::apikey::ManagedKeyId;
use auth_core::secrecy::ExposeSecret;
use key_store::{
    KeyClass, KeyRecord, ManagedSettings, NewKey, NewKeyError, RateLimit, StoreError, format_utc,
    parse_duration,
};

use crate::cli::{KeysArgs, KeysCommand, ManagedClass};
use crate::exit::{Outcome, usage};
use crate::stores::{open, store_error};

fn class_of(class: ManagedClass) -> KeyClass {
    match class {
        ManagedClass::Ingest => KeyClass::Ingest,
        ManagedClass::Consumption => KeyClass::Consumption,
        ManagedClass::Admin => KeyClass::Admin,
        ManagedClass::Project => KeyClass::Project,
    }
}

fn parse_id(id: &str) -> Result<ManagedKeyId> {
    ManagedKeyId::parse(id.trim()).map_err(|_| {
        usage("a key id is 16 lower-case hex characters, as `keygate keys list` shows")
    })
}

fn new_key_error(error: NewKeyError) -> anyhow::Error {
    match error {
        NewKeyError::Store(StoreError::NameTaken { .. })
        | NewKeyError::BadName
        | NewKeyError::BadMeta => usage(error.to_string()),
        NewKeyError::Store(store) => store_error(store),
        other => anyhow::Error::new(other),
    }
}

fn when(at: Option<u64>, none: &str) -> String {
    at.map_or_else(|| none.to_owned(), format_utc)
}

fn print_token(record: &KeyRecord, token: &str, verb: &str, json: bool, now: u64) {
    if json {
        let mut value = record.to_json(now);
        if let Some(object) = value.as_object_mut() {
            object.insert("token".to_owned(), serde_json::Value::from(token));
        }
        println!("{value}");
    } else {
        println!(
            "Key {} ({}, {:?}) {verb}.",
            record.id, record.class, record.name
        );
        println!("Token: {token}");
        println!("This is the only time the token is shown: store it now.");
    }
}

pub(crate) fn run(args: KeysArgs) -> Result<Outcome> {
    let url = match args.store {
        Some(url) => url,
        None => {
            let options = super::config::options(args.config);
            super::config::load(&options)?.keys().store.clone()
        }
    };
    let create = matches!(args.command, KeysCommand::Create { .. });
    let runtime = super::runtime()?;
    runtime.block_on(async move {
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let keys = open(&url, create, ManagedSettings::default(), Arc::clone(&clock)).await?;
        let now = clock.unix_now();
        match args.command {
            KeysCommand::Create {
                class,
                name,
                expires_in,
                rate_limit,
                meta,
                json,
            } => {
                let expires_in = expires_in
                    .map(|text| parse_duration(&text))
                    .transpose()
                    .map_err(|e| usage(format!("--expires-in: {e}")))?;
                let rate_limit = rate_limit
                    .map(|text| text.parse::<RateLimit>())
                    .transpose()
                    .map_err(|e| usage(format!("--rate-limit: {e}")))?;
                let mut pairs = BTreeMap::new();
                for entry in meta {
                    let (k, v) = entry
                        .split_once('=')
                        .ok_or_else(|| usage("--meta takes key=value"))?;
                    pairs.insert(k.to_owned(), v.to_owned());
                }
                let created = keys
                    .create(NewKey {
                        class: class_of(class),
                        name,
                        expires_in,
                        rate_limit,
                        meta: pairs,
                    })
                    .await
                    .map_err(new_key_error)?;
                print_token(
                    &created.record,
                    created.token.expose_secret(),
                    "created",
                    json,
                    now,
                );
            }
            KeysCommand::List { json } => {
                let records = keys.list().await.map_err(store_error)?;
                if json {
                    let list: Vec<_> = records.iter().map(|r| r.to_json(now)).collect();
                    println!("{}", serde_json::Value::from(list));
                } else if records.is_empty() {
                    println!("no managed keys in {url}");
                } else {
                    println!(
                        "{:<16}  {:<20}  {:<11}  {:<20}  {:<20}  {:<20}  STATUS",
                        "ID", "NAME", "CLASS", "CREATED", "EXPIRES", "LAST USED"
                    );
                    for r in &records {
                        println!(
                            "{:<16}  {:<20}  {:<11}  {:<20}  {:<20}  {:<20}  {}",
                            r.id,
                            r.name.escape_debug().to_string(),
                            r.class,
                            format_utc(r.created_at),
                            when(r.expires_at, "never"),
                            when(r.last_used_at, "never"),
                            r.status(now).as_str()
                        );
                    }
                }
            }
            KeysCommand::Revoke { id } => {
                let id = parse_id(&id)?;
                match keys.revoke(id).await.map_err(store_error)? {
                    Some(record) => println!("Key {} ({:?}) revoked.", record.id, record.name),
                    None => {
                        eprintln!("keygate: no key with id {id}");
                        return Ok(Outcome::Negative);
                    }
                }
            }
            KeysCommand::Reroll { id, grace, json } => {
                let id = parse_id(&id)?;
                let grace = if grace.trim() == "0s" || grace.trim() == "0" {
                    Duration::ZERO
                } else {
                    parse_duration(&grace).map_err(|e| usage(format!("--grace: {e}")))?
                };
                match keys.reroll(id, grace).await.map_err(new_key_error)? {
                    Some(rerolled) => {
                        print_token(
                            &rerolled.record,
                            rerolled.token.expose_secret(),
                            "rerolled",
                            json,
                            now,
                        );
                        if !json {
                            println!(
                                "The previous token works until {}.",
                                when(rerolled.record.previous_valid_until, "now")
                            );
                        }
                    }
                    None => {
                        eprintln!("keygate: no unrevoked key with id {id}");
                        return Ok(Outcome::Negative);
                    }
                }
            }
        }
        Ok(Outcome::Success)
    })
}
