//! auth-core's costs: PBKDF2 through our path beside `ring`, `aws-lc-rs` and OpenSSL in the same
//! run; JWT verification per algorithm; API-key verification; header parsing.
//!
//! The `ring` and OpenSSL baselines need auth-core's `bench-baselines` feature (OpenSSL links
//! the system's libcrypto); `cargo xtask bench` enables it. Without it the PBKDF2 group measures
//! our path beside `aws-lc-rs` (a normal dependency) only.
//!
//! Benchmark ids are read by `cargo xtask bench` (`xtask/src/bench/summary.rs`): keep
//! `pbkdf2_sha256/<implementation>/<iterations>` with `keygate` as our implementation.
//! Results and how to reproduce them: `docs/benchmarks.md`.

// Set-up failures (key generation, signing) are bugs in the benchmark itself, as in tests.
#![allow(clippy::expect_used)]

use std::hint::black_box;
use std::num::NonZeroU32;
use std::time::Duration;

use auth_core::apikey::{KeySet, StoredKey, generate_moose, generate_phc};
use auth_core::header::{DEFAULT_MAX_AUTHORIZATION_BYTES, parse_authorization};
use auth_core::jwt::{
    JwtAlgorithm, JwtSettings, JwtVerifier, SigningKey, VerifyingKey, generate_key_pair,
};
use auth_core::kdf::pbkdf2_sha256;
use auth_core::secrecy::ExposeSecret;
use criterion::{BenchmarkId, Criterion, SamplingMode, criterion_group, criterion_main};

/// The iteration counts of issue 7: Moose's 1 000 up to OWASP's 600 000.
const ITERATIONS: [u32; 4] = [1_000, 10_000, 100_000, 600_000];
/// Password and salt shaped like a `moose` token's halves (32 ASCII hex characters each).
const PASSWORD: &[u8] = b"0123456789abcdef0123456789abcdef";
const SALT: &[u8] = b"fedcba9876543210fedcba9876543210";
/// One SHA-256 block of output, as the `phc` format derives.
const OUTPUT_BYTES: usize = 32;

type Derive = fn(u32, &mut [u8; OUTPUT_BYTES]);

fn keygate(iterations: u32, out: &mut [u8; OUTPUT_BYTES]) {
    pbkdf2_sha256(PASSWORD, SALT, iterations, out);
}

fn aws_lc_rs(iterations: u32, out: &mut [u8; OUTPUT_BYTES]) {
    let iterations = NonZeroU32::new(iterations).expect("non-zero iterations");
    aws_lc_rs::pbkdf2::derive(
        aws_lc_rs::pbkdf2::PBKDF2_HMAC_SHA256,
        iterations,
        SALT,
        PASSWORD,
        out,
    );
}

/// The baselines that need the `bench-baselines` feature (see `Cargo.toml`).
#[cfg(feature = "bench-baselines")]
mod baselines {
    use std::num::NonZeroU32;

    use super::{OUTPUT_BYTES, PASSWORD, SALT};

    pub(super) fn ring(iterations: u32, out: &mut [u8; OUTPUT_BYTES]) {
        let iterations = NonZeroU32::new(iterations).expect("non-zero iterations");
        ring::pbkdf2::derive(
            ring::pbkdf2::PBKDF2_HMAC_SHA256,
            iterations,
            SALT,
            PASSWORD,
            out,
        );
    }

    pub(super) fn openssl(iterations: u32, out: &mut [u8; OUTPUT_BYTES]) {
        openssl::pkcs5::pbkdf2_hmac(
            PASSWORD,
            SALT,
            iterations as usize,
            openssl::hash::MessageDigest::sha256(),
            out,
        )
        .expect("OpenSSL PBKDF2");
    }
}

const IMPLEMENTATIONS: &[(&str, Derive)] = &[
    ("keygate", keygate),
    #[cfg(feature = "bench-baselines")]
    ("ring", baselines::ring),
    ("aws-lc-rs", aws_lc_rs),
    #[cfg(feature = "bench-baselines")]
    ("openssl", baselines::openssl),
];

fn pbkdf2(c: &mut Criterion) {
    if cfg!(not(feature = "bench-baselines")) {
        eprintln!(
            "pbkdf2_sha256: the ring and OpenSSL baselines are off; enable auth-core's \
             bench-baselines feature (cargo xtask bench does) to measure them"
        );
    }
    // Every implementation must compute the same function, or the comparison means nothing.
    let mut expected = [0u8; OUTPUT_BYTES];
    keygate(1_000, &mut expected);
    for &(name, derive) in IMPLEMENTATIONS {
        let mut out = [0u8; OUTPUT_BYTES];
        derive(1_000, &mut out);
        assert_eq!(out, expected, "{name} disagrees with keygate's PBKDF2");
    }

    let mut group = c.benchmark_group("pbkdf2_sha256");
    for iterations in ITERATIONS {
        // One run of 600 000 iterations takes a few hundred milliseconds: flat sampling with
        // few samples keeps the whole group to about a minute.
        if iterations >= 100_000 {
            group
                .sampling_mode(SamplingMode::Flat)
                .sample_size(10)
                .warm_up_time(Duration::from_millis(500))
                .measurement_time(Duration::from_secs(if iterations >= 600_000 {
                    4
                } else {
                    2
                }));
        } else {
            group
                .sampling_mode(SamplingMode::Auto)
                .sample_size(30)
                .warm_up_time(Duration::from_millis(500))
                .measurement_time(Duration::from_secs(2));
        }
        for &(name, derive) in IMPLEMENTATIONS {
            group.bench_with_input(
                BenchmarkId::new(name, iterations),
                &iterations,
                |b, &iterations| {
                    let mut out = [0u8; OUTPUT_BYTES];
                    b.iter(|| {
                        derive(black_box(iterations), &mut out);
                        black_box(&out);
                    });
                },
            );
        }
    }
    group.finish();
}

const ISSUER: &str = "https://issuer.example";
const AUDIENCE: &str = "keygate";
const NOW: u64 = 1_700_000_000;

fn jwt_verify(c: &mut Criterion) {
    let mut group = c.benchmark_group("jwt_verify");
    group
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    for alg in [
        JwtAlgorithm::Rs256,
        JwtAlgorithm::Es256,
        JwtAlgorithm::EdDsa,
    ] {
        let pair = generate_key_pair(alg).expect("key generation");
        let signer = SigningKey::from_pem(pair.private_pem.expose_secret()).expect("private key");
        let public = VerifyingKey::from_pem(&pair.public_pem).expect("public key");
        let verifier = JwtVerifier::new(vec![public], JwtSettings::new(ISSUER, AUDIENCE));
        let token = signer
            .sign(&serde_json::json!({
                "iss": ISSUER, "aud": AUDIENCE, "sub": "bench", "exp": NOW + 3600, "iat": NOW,
            }))
            .expect("signing");
        verifier
            .verify(&token, NOW)
            .expect("the benchmark token verifies");
        group.bench_function(alg.as_str(), |b| {
            b.iter(|| verifier.verify(black_box(&token), NOW));
        });
    }
    group.finish();
}

fn api_key_verify(c: &mut Criterion) {
    let moose = generate_moose().expect("moose key");
    let phc = generate_phc(1_000).expect("phc key");
    let keys = KeySet::from(vec![
        StoredKey::parse(&moose.stored).expect("moose hash"),
        StoredKey::parse(&phc.stored).expect("phc hash"),
    ]);
    let moose_token = moose.bearer_token.expose_secret().to_owned();
    let phc_token = phc.bearer_token.expose_secret().to_owned();
    assert_eq!(keys.verify(&moose_token).kdf_runs, 1);
    assert!(keys.verify(&phc_token).result.is_ok());

    let mut group = c.benchmark_group("api_key_verify");
    group
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    // The uncached cost a gateway pays per request without the verification cache.
    group.bench_function("moose_1000", |b| {
        b.iter(|| keys.verify(black_box(&moose_token)));
    });
    group.bench_function("phc_1000", |b| {
        b.iter(|| keys.verify(black_box(&phc_token)));
    });
    // Garbage is refused on shape alone: no KDF.
    group.bench_function("malformed", |b| {
        b.iter(|| keys.verify(black_box("not-an-api-key")));
    });
    group.finish();
}

fn header(c: &mut Criterion) {
    let moose = format!(
        "Bearer {}",
        generate_moose()
            .expect("moose key")
            .bearer_token
            .expose_secret()
    );
    let long = format!("Bearer {}", "a".repeat(4_000));
    let mut group = c.benchmark_group("header_parse");
    group
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(1));
    for (name, value) in [
        ("bearer_moose", moose.as_str()),
        ("bearer_4k", long.as_str()),
        ("basic", "Basic dXNlcjpwYXNzd29yZA=="),
        ("malformed", "Bearer a b"),
    ] {
        group.bench_function(name, |b| {
            b.iter(|| {
                parse_authorization(black_box(value.as_bytes()), DEFAULT_MAX_AUTHORIZATION_BYTES)
            });
        });
    }
    group.finish();
}

criterion_group!(benches, pbkdf2, jwt_verify, api_key_verify, header);
criterion_main!(benches);
