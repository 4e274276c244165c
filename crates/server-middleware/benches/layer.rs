//! Cached vs uncached verification through the layer (in-process `oneshot`, no network).
//!
//! - `layer/*`: a request through `Auth<inner>`, where the inner service answers at once;
//!   `layer/baseline` is the same request straight to the inner service, so the layer's own cost
//!   is the difference.
//! - `authorize/*`: `AuthHandle::authorize` alone (header parse, the token's digest, cache
//!   lookup).
//! - `uncached` runs with `CacheSettings::disabled()`: every request verifies (PBKDF2-1000 on the
//!   pool for API keys, an RS256 signature check for JWTs).

// Set-up failures (key generation, signing) are bugs in the benchmark itself, as in tests.
#![allow(clippy::expect_used)]

use std::convert::Infallible;
use std::time::{SystemTime, UNIX_EPOCH};

use auth_core::apikey::{KeySet, StoredKey, generate_moose};
use auth_core::jwt::{
    JwtAlgorithm, JwtSettings, JwtVerifier, SigningKey, VerifyingKey, generate_key_pair,
};
use auth_core::secrecy::ExposeSecret;
use axum::body::Body;
use criterion::{Criterion, criterion_group, criterion_main};
use http::header::AUTHORIZATION;
use http::{HeaderMap, HeaderValue, Request, Response};
use server_middleware::{AuthHandle, AuthState, CacheSettings};
use tower::{Layer, ServiceExt, service_fn};

struct Credentials {
    keys: KeySet,
    verifier: JwtVerifier,
    api_key: HeaderValue,
    jwt: HeaderValue,
}

fn credentials() -> Credentials {
    let key = generate_moose().expect("key");
    let pair = generate_key_pair(JwtAlgorithm::Rs256).expect("key pair");
    let signer = SigningKey::from_pem(pair.private_pem.expose_secret()).expect("signer");
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let token = signer
        .sign(&serde_json::json!({"iss": "i", "aud": "a", "sub": "s", "exp": now + 3600}))
        .expect("sign");
    Credentials {
        keys: KeySet::from(vec![StoredKey::parse(&key.stored).expect("stored")]),
        verifier: JwtVerifier::new(
            vec![VerifyingKey::from_pem(&pair.public_pem).expect("public")],
            JwtSettings::new("i", "a"),
        ),
        api_key: HeaderValue::from_str(&format!("Bearer {}", key.bearer_token.expose_secret()))
            .expect("header"),
        jwt: HeaderValue::from_str(&format!("Bearer {token}")).expect("header"),
    }
}

fn handle(credentials: &Credentials, cache: CacheSettings) -> AuthHandle {
    AuthHandle::new(
        AuthState::builder()
            .consumption_keys(credentials.keys.clone())
            .jwt(credentials.verifier.clone())
            .cache(cache)
            .build()
            .expect("state"),
    )
}

fn request(authorization: &HeaderValue) -> Request<Body> {
    let mut request = Request::new(Body::empty());
    *request.uri_mut() = http::Uri::from_static("/api/report");
    request
        .headers_mut()
        .insert(AUTHORIZATION, authorization.clone());
    request
}

async fn answer(_: Request<Body>) -> Result<Response<Body>, Infallible> {
    Ok(Response::new(Body::empty()))
}

fn bench(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let credentials = credentials();
    let inner = service_fn(answer);

    let mut group = c.benchmark_group("layer");
    group.bench_function("baseline", |b| {
        b.to_async(&runtime)
            .iter(|| inner.oneshot(request(&credentials.api_key)))
    });
    for (cache_name, cache) in [
        ("cached", CacheSettings::default()),
        ("uncached", CacheSettings::disabled()),
    ] {
        let service = handle(&credentials, cache).by_path_prefix().layer(inner);
        for (credential_name, header) in
            [("api_key", &credentials.api_key), ("jwt", &credentials.jwt)]
        {
            let service = service.clone();
            group.bench_function(format!("{credential_name}/{cache_name}"), |b| {
                b.to_async(&runtime).iter(|| async {
                    let response = service.clone().oneshot(request(header)).await;
                    assert!(response.is_ok_and(|r| r.status() == 200));
                })
            });
        }
    }
    group.finish();

    let mut group = c.benchmark_group("authorize");
    let cached = handle(&credentials, CacheSettings::default());
    for (credential_name, header) in [("api_key", &credentials.api_key), ("jwt", &credentials.jwt)]
    {
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, header.clone());
        group.bench_function(format!("{credential_name}/cached"), |b| {
            b.to_async(&runtime).iter(|| async {
                assert!(
                    cached
                        .authorize("/api/report", &headers, None)
                        .await
                        .is_ok()
                )
            })
        });
    }
    group.finish();
}

/// Where a cached request's time goes: the policy's own parsing, and the cache hit (the token's
/// keyed digest and the lookup).
fn parts(c: &mut Criterion) {
    use auth_cache::verify::{Lookup, VerificationCache};
    use auth_core::policy::{Mechanisms, RouteClass, Step};
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let credentials = credentials();
    let mut group = c.benchmark_group("parts");
    let mechanisms = Mechanisms {
        consumption: auth_core::policy::ClassMechanisms {
            jwt: true,
            enforce_jwt: false,
            api_keys: true,
        },
        ..Mechanisms::default()
    };
    for (name, header) in [("api_key", &credentials.api_key), ("jwt", &credentials.jwt)] {
        let bytes = header.as_bytes();
        group.bench_function(format!("parse_and_plan/{name}"), |b| {
            b.iter(|| {
                let credentials = auth_core::header::parse_authorization(
                    bytes,
                    auth_core::header::DEFAULT_MAX_AUTHORIZATION_BYTES,
                );
                auth_core::policy::plan(RouteClass::Consumption, credentials, &mechanisms)
            })
        });
        let token = header
            .to_str()
            .expect("ascii")
            .trim_start_matches("Bearer ");
        let cache = VerificationCache::new(CacheSettings::default());
        let verify = || async {
            Ok::<_, Infallible>(Ok(auth_core::policy::Principal::Open(
                RouteClass::Consumption,
            )))
        };
        group.bench_function(format!("cache_hit/{name}"), |b| {
            b.to_async(&runtime).iter(|| {
                cache.get_or_verify(
                    Lookup::new(0, Step::ApiKey, RouteClass::Consumption, token),
                    verify,
                )
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench, parts);
criterion_main!(benches);
