//! Known JWT attacks, each rejected with a precise error (reference §4).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test helpers fail loudly"
)]

use auth_core::jwt::{
    JwtAlgorithm, JwtError, JwtSettings, JwtVerifier, SigningKey, VerifyingKey, generate_key_pair,
};
use auth_core::secrecy::ExposeSecret;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::{Value, json};

const NOW: u64 = 1_800_000_000;
const ISS: &str = "https://issuer.example/";
const AUD: &str = "my-moose-app";

struct Fixture {
    private_pem: String,
    public_pem: String,
    verifier: JwtVerifier,
}

fn fixture(alg: JwtAlgorithm) -> Fixture {
    let pair = generate_key_pair(alg).unwrap();
    let key = VerifyingKey::from_pem(&pair.public_pem).unwrap();
    Fixture {
        private_pem: pair.private_pem.expose_secret().to_owned(),
        public_pem: pair.public_pem,
        verifier: JwtVerifier::new(vec![key], JwtSettings::new(ISS, AUD)),
    }
}

fn rsa() -> &'static Fixture {
    static RSA: std::sync::OnceLock<Fixture> = std::sync::OnceLock::new();
    RSA.get_or_init(|| fixture(JwtAlgorithm::Rs256))
}

fn claims() -> Value {
    json!({"iss": ISS, "aud": AUD, "sub": "user-1", "exp": NOW + 600, "iat": NOW})
}

fn b64(value: &impl ToString) -> String {
    URL_SAFE_NO_PAD.encode(value.to_string())
}

/// Signs an arbitrary header (as raw JSON text) and payload with `key` under `alg`.
fn sign_raw(header: &str, payload: &Value, key: &EncodingKey, alg: Algorithm) -> String {
    let input = format!("{}.{}", URL_SAFE_NO_PAD.encode(header), b64(payload));
    let signature = jsonwebtoken::crypto::sign(input.as_bytes(), key, alg).unwrap();
    format!("{input}.{signature}")
}

fn rs256(header: &str, payload: &Value) -> String {
    let key = EncodingKey::from_rsa_pem(rsa().private_pem.as_bytes()).unwrap();
    sign_raw(header, payload, &key, Algorithm::RS256)
}

fn verify(token: &str) -> Result<auth_core::jwt::Claims, JwtError> {
    rsa().verifier.verify(token, NOW)
}

#[test]
fn a_well_formed_rs256_token_verifies_with_typed_and_json_claims() {
    let claims = verify(&rs256(r#"{"alg":"RS256","typ":"JWT"}"#, &claims())).unwrap();
    assert_eq!(claims.sub.as_deref(), Some("user-1"));
    assert_eq!(claims.aud, vec![AUD.to_owned()]);
    assert_eq!(claims.exp, NOW + 600);
    assert_eq!(claims.json["iat"], json!(NOW));
    #[derive(serde::Deserialize)]
    struct Mine {
        sub: String,
    }
    assert_eq!(claims.deserialize::<Mine>().unwrap().sub, "user-1");
}

#[test]
fn es256_and_eddsa_keys_verify_their_own_algorithm() {
    for alg in [JwtAlgorithm::Es256, JwtAlgorithm::EdDsa] {
        let fixture = fixture(alg);
        let signer = SigningKey::from_pem(&fixture.private_pem).unwrap();
        let token = signer.sign(&claims()).unwrap();
        assert!(fixture.verifier.verify(&token, NOW).is_ok(), "{alg}");
        // ... and an RS256 token is refused by an ES256/EdDSA verifier.
        let rs = rs256(r#"{"alg":"RS256"}"#, &claims());
        assert_eq!(
            fixture.verifier.verify(&rs, NOW),
            Err(JwtError::AlgorithmMismatch),
            "{alg}"
        );
    }
}

#[test]
fn alg_none_is_refused_in_any_case() {
    for alg in ["none", "None", "NONE", "nOnE"] {
        let token = format!("{}.{}.", b64(&json!({"alg": alg})), b64(&claims()));
        assert!(verify(&token).is_err(), "{alg}");
        let with_sig = format!("{token}c2ln");
        assert_eq!(verify(&with_sig), Err(JwtError::AlgNone), "{alg}");
    }
}

#[test]
fn hs256_signed_with_the_public_key_pem_is_refused() {
    let key = EncodingKey::from_secret(rsa().public_pem.as_bytes());
    let token = sign_raw(r#"{"alg":"HS256"}"#, &claims(), &key, Algorithm::HS256);
    assert_eq!(verify(&token), Err(JwtError::AlgorithmMismatch));
}

#[test]
fn ps256_is_refused_when_rs256_is_configured() {
    let key = EncodingKey::from_rsa_pem(rsa().private_pem.as_bytes()).unwrap();
    let token = sign_raw(r#"{"alg":"PS256"}"#, &claims(), &key, Algorithm::PS256);
    assert_eq!(verify(&token), Err(JwtError::AlgorithmMismatch));
}

#[test]
fn stripped_truncated_or_foreign_signatures_are_refused() {
    let token = rs256(r#"{"alg":"RS256"}"#, &claims());
    let (input, signature) = token.rsplit_once('.').unwrap();
    assert_eq!(
        verify(&format!("{input}.")),
        Err(JwtError::MissingSignature)
    );
    assert_eq!(
        verify(input),
        Err(JwtError::Malformed("not three dot-separated segments"))
    );
    let truncated = &signature[..signature.len() - 4];
    assert_eq!(
        verify(&format!("{input}.{truncated}")),
        Err(JwtError::InvalidSignature)
    );
    let other = fixture(JwtAlgorithm::Rs256);
    let foreign = SigningKey::from_pem(&other.private_pem).unwrap();
    let mut foreign_token = foreign.sign(&claims()).unwrap();
    assert_eq!(
        verify(&foreign_token),
        Err(JwtError::UnknownKeyId),
        "names a kid we do not have"
    );
    foreign_token = sign_raw(
        r#"{"alg":"RS256"}"#,
        &claims(),
        &EncodingKey::from_rsa_pem(other.private_pem.as_bytes()).unwrap(),
        Algorithm::RS256,
    );
    assert_eq!(verify(&foreign_token), Err(JwtError::InvalidSignature));
}

#[test]
fn expiry_and_not_before_honour_the_leeway() {
    let header = r#"{"alg":"RS256"}"#;
    let with = |name: &str, value: Value| {
        let mut c = claims();
        c[name] = value;
        rs256(header, &c)
    };
    assert!(
        verify(&with("exp", json!(NOW - 30))).is_ok(),
        "within the 60 s leeway"
    );
    assert_eq!(
        verify(&with("exp", json!(NOW - 61))),
        Err(JwtError::Expired)
    );
    assert!(
        verify(&with("nbf", json!(NOW + 30))).is_ok(),
        "within the 60 s leeway"
    );
    assert_eq!(
        verify(&with("nbf", json!(NOW + 61))),
        Err(JwtError::NotYetValid)
    );
    assert_eq!(
        verify(&with("exp", json!("tomorrow"))),
        Err(JwtError::InvalidClaim("exp"))
    );
    let mut no_exp = claims();
    no_exp.as_object_mut().unwrap().remove("exp");
    assert_eq!(
        verify(&rs256(header, &no_exp)),
        Err(JwtError::MissingClaim("exp"))
    );
}

#[test]
fn issuer_and_audience_must_match_exactly() {
    let header = r#"{"alg":"RS256"}"#;
    let with = |name: &str, value: Value| {
        let mut c = claims();
        c[name] = value;
        rs256(header, &c)
    };
    let without = |name: &str| {
        let mut c = claims();
        c.as_object_mut().unwrap().remove(name);
        rs256(header, &c)
    };
    assert_eq!(
        verify(&with("iss", json!("https://evil.example/"))),
        Err(JwtError::WrongIssuer)
    );
    assert_eq!(
        verify(&with("iss", json!("https://issuer.example"))),
        Err(JwtError::WrongIssuer)
    );
    assert_eq!(
        verify(&with("iss", json!(42))),
        Err(JwtError::InvalidClaim("iss"))
    );
    assert_eq!(verify(&without("iss")), Err(JwtError::MissingClaim("iss")));
    assert_eq!(
        verify(&with("aud", json!("other-app"))),
        Err(JwtError::WrongAudience)
    );
    assert_eq!(
        verify(&with("aud", json!(["a", "b"]))),
        Err(JwtError::WrongAudience)
    );
    assert!(verify(&with("aud", json!(["a", AUD]))).is_ok());
    assert_eq!(
        verify(&with("aud", json!(7))),
        Err(JwtError::InvalidClaim("aud"))
    );
    assert_eq!(
        verify(&with("aud", json!([AUD, 7]))),
        Err(JwtError::InvalidClaim("aud"))
    );
    assert_eq!(verify(&without("aud")), Err(JwtError::MissingClaim("aud")));
}

#[test]
fn crit_headers_duplicate_members_and_oversized_tokens_are_refused() {
    let crit = rs256(r#"{"alg":"RS256","crit":["exp"],"exp":1}"#, &claims());
    assert_eq!(verify(&crit), Err(JwtError::CritHeader));
    let duplicate = rs256(r#"{"alg":"RS256","alg":"RS256"}"#, &claims());
    assert_eq!(verify(&duplicate), Err(JwtError::DuplicateKey));
    let mut big = claims();
    let limit = auth_core::header::DEFAULT_MAX_AUTHORIZATION_BYTES;
    big["padding"] = json!("x".repeat(limit));
    assert_eq!(
        verify(&rs256(r#"{"alg":"RS256"}"#, &big)),
        Err(JwtError::TooLarge { limit })
    );
    assert!(matches!(verify("not a token"), Err(JwtError::Malformed(_))));
    assert!(matches!(verify("a.b.c.d"), Err(JwtError::Malformed(_))));
}

#[test]
fn rsa_keys_under_2048_bits_are_a_configuration_error() {
    // A 1024-bit RSA public key (SPKI), generated with `openssl genrsa 1024`.
    let small = "-----BEGIN PUBLIC KEY-----
MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQCdqjjtweyTg7exoUL1fYVpktqe
DPAsIiuyDFSi7WZ4S8vi0UlxmjAK/ZlroImiYIF5esWGGy4iP81pDG7rB0pnX21j
HlUM4nZo7QvV1aflTnU1NoiLtlUfWEAbH5isimI4SuhzOikdWqtr0QfVG7skYfit
K/N4VDQU+NmMSmhXAwIDAQAB
-----END PUBLIC KEY-----";
    assert_eq!(
        VerifyingKey::from_pem(small).unwrap_err(),
        auth_core::jwt::KeyError::RsaTooSmall(1024)
    );
}
