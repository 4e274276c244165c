//! `CERTIFICATE` PEMs as JWT verification keys: the certificate's public key is used, under the
//! same rules as a bare key. Fixtures (and how they were made): `tests/fixtures/certs/`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "tests fail loudly"
)]

use auth_core::jwt::{
    JwtAlgorithm, JwtError, JwtSettings, JwtVerifier, KeyError, SigningKey, VerifyingKey,
};
use serde_json::json;

const NOW: u64 = 1_800_000_000;

fn fixture(name: &str) -> String {
    let path = format!("{}/tests/fixtures/certs/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn token(private: &str) -> String {
    SigningKey::from_pem(private)
        .unwrap()
        .sign(&json!({ "iss": "https://idp/", "aud": "api", "sub": "alice", "exp": NOW + 60 }))
        .unwrap()
}

fn verifier(key: VerifyingKey) -> JwtVerifier {
    JwtVerifier::new(vec![key], JwtSettings::new("https://idp/", "api"))
}

#[test]
fn a_certificate_verifies_tokens_signed_by_its_private_key() {
    for (cert, private, alg) in [
        ("rsa2048.crt", "rsa2048.key", JwtAlgorithm::Rs256),
        ("p256.crt", "p256.key", JwtAlgorithm::Es256),
        ("p256-v1.crt", "p256.key", JwtAlgorithm::Es256),
        ("ed25519.crt", "ed25519.key", JwtAlgorithm::EdDsa),
    ] {
        let key = VerifyingKey::from_pem(&fixture(cert)).unwrap_or_else(|e| panic!("{cert}: {e}"));
        assert_eq!(key.algorithm(), alg, "{cert}");
        let private = fixture(private);
        let claims = verifier(key).verify(&token(&private), NOW).unwrap();
        assert_eq!(claims.sub.as_deref(), Some("alice"), "{cert}");
        // The certificate's key is exactly the private key's public half.
        let public = SigningKey::from_pem(&private)
            .unwrap()
            .verifying_key()
            .to_jwk()
            .unwrap();
        let from_cert = VerifyingKey::from_pem(&fixture(cert))
            .unwrap()
            .to_jwk()
            .unwrap();
        assert_eq!(
            serde_json::to_value(&from_cert.algorithm).unwrap(),
            serde_json::to_value(&public.algorithm).unwrap(),
            "{cert}"
        );
    }
}

#[test]
fn a_certificate_does_not_verify_tokens_of_another_key() {
    let key = VerifyingKey::from_pem(&fixture("p256.crt")).unwrap();
    let other = auth_core::jwt::generate_key_pair(JwtAlgorithm::Es256).unwrap();
    use auth_core::secrecy::ExposeSecret;
    // Signed tokens name their key id, which the certificate's key (no kid) does not have.
    let forged = token(other.private_pem.expose_secret());
    assert_eq!(
        verifier(key).verify(&forged, NOW).unwrap_err(),
        JwtError::UnknownKeyId
    );
}

#[test]
fn a_certificate_for_a_small_rsa_key_is_refused() {
    assert_eq!(
        VerifyingKey::from_pem(&fixture("rsa1024.crt")).unwrap_err(),
        KeyError::RsaTooSmall(1024)
    );
}

#[test]
fn a_certificate_label_around_garbage_gets_a_precise_error() {
    let pem = |der: &[u8]| pem::encode(&pem::Pem::new("CERTIFICATE", der.to_vec()));
    // Not DER at all.
    let err = VerifyingKey::from_pem(&pem(b"this is not a certificate")).unwrap_err();
    assert_eq!(err, KeyError::InvalidCertificate("the content is not DER"));
    assert_eq!(
        err.to_string(),
        "the CERTIFICATE is not a valid X.509 certificate (the content is not DER)"
    );
    // DER, but a bare public key (SPKI) under the CERTIFICATE label.
    let spki = pem::parse(
        auth_core::jwt::generate_key_pair(JwtAlgorithm::Es256)
            .unwrap()
            .public_pem,
    )
    .unwrap();
    assert!(matches!(
        VerifyingKey::from_pem(&pem(spki.contents())).unwrap_err(),
        KeyError::InvalidCertificate(_)
    ));
    // A real certificate, truncated.
    let cert = pem::parse(fixture("p256.crt")).unwrap();
    let truncated = &cert.contents()[..cert.contents().len() - 10];
    assert_eq!(
        VerifyingKey::from_pem(&pem(truncated)).unwrap_err(),
        KeyError::InvalidCertificate("the content is not DER")
    );
    // Empty content.
    assert!(matches!(
        VerifyingKey::from_pem(&pem(b"")).unwrap_err(),
        KeyError::InvalidCertificate(_)
    ));
}
