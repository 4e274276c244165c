//! `generate hash-token`, `hash verify` and `jwt keygen|sign` through the real binary.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "tests fail loudly"
)]

mod support;

use auth_core::jwt::{JwtSettings, JwtVerifier, VerifyingKey};
use support::{code, keygate, run, run_with_stdin, stderr, stdout};

/// Returns (stored hash, bearer token) from the documented two-line output.
fn generate(extra: &[&str]) -> (String, String) {
    let out = run(keygate().args(["generate", "hash-token"]).args(extra));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    let hash = lines[0]
        .strip_prefix("ENV API Key: ")
        .expect("first line")
        .to_owned();
    let token = lines[1]
        .strip_prefix("Bearer Token: ")
        .expect("second line")
        .to_owned();
    (hash, token)
}

#[test]
fn generated_moose_keys_have_the_documented_shape_and_verify() {
    let (hash, token) = generate(&[]);
    assert_eq!(hash.len(), 40);
    assert!(hash.bytes().all(|b| b.is_ascii_hexdigit()));
    let (left, right) = token.split_once('.').unwrap();
    assert_eq!((left.len(), right.len()), (32, 32));

    let ok = run_with_stdin(
        keygate().args(["hash", "verify", "--hash", &hash]),
        &format!("{token}\n"),
    );
    assert_eq!(code(&ok), 0, "{}", stderr(&ok));
    assert!(stdout(&ok).starts_with("match"));

    let flipped = if left.ends_with('0') { '1' } else { '0' };
    let wrong = format!("{}{flipped}.{right}", &left[..31]);
    let no = run(keygate().args(["hash", "verify", "--hash", &hash, "--token", &wrong]));
    assert_eq!(code(&no), 1);
    assert!(stdout(&no).starts_with("no match"));
}

#[test]
fn phc_keys_in_json_verify_and_bad_hashes_exit_2_without_echoing_the_token() {
    let out = run(keygate().args([
        "generate",
        "hash-token",
        "--format",
        "phc",
        "--iterations",
        "1000",
        "--json",
    ]));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(json["format"], "phc");
    let hash = json["api_key_hash"].as_str().unwrap();
    let token = json["bearer_token"].as_str().unwrap();
    assert!(hash.starts_with("$pbkdf2-sha256$i=1000,l=32$"));
    assert!(token.starts_with("kg_"));
    let ok = run(keygate().args(["hash", "verify", "--hash", hash, "--token", token]));
    assert_eq!(code(&ok), 0);

    let bad = run(keygate().args(["hash", "verify", "--hash", "not-a-hash", "--token", token]));
    assert_eq!(code(&bad), 2);
    assert!(stderr(&bad).contains("--hash"), "{}", stderr(&bad));
    assert!(!stderr(&bad).contains(token) && !stdout(&bad).contains(token));
}

#[test]
fn usage_errors_exit_2_in_plain_words() {
    let moose_iterations = run(keygate().args(["generate", "hash-token", "--iterations", "5000"]));
    assert_eq!(code(&moose_iterations), 2);
    assert!(stderr(&moose_iterations).contains("--format phc"));
    let low = run(keygate().args([
        "generate",
        "hash-token",
        "--format",
        "phc",
        "--iterations",
        "10",
    ]));
    assert_eq!(code(&low), 2);
    assert!(
        stderr(&low).contains("iterations must be between 1000 and 10000000"),
        "{}",
        stderr(&low)
    );
    let unknown = run(keygate().arg("frobnicate"));
    assert_eq!(code(&unknown), 2);
    for out in [&moose_iterations, &low, &unknown] {
        assert!(!stderr(out).contains("panicked") && !stderr(out).contains("stack backtrace"));
    }
}

#[test]
fn jwt_keygen_then_sign_produces_a_token_the_public_key_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("keys");
    for alg in ["RS256", "ES256", "EdDSA"] {
        let out = run(keygate()
            .args(["jwt", "keygen", "--force", "--alg", alg, "--out"])
            .arg(&out_dir));
        assert_eq!(code(&out), 0, "{}", stderr(&out));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(out_dir.join("private.pem"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let signed = run(keygate()
            .args([
                "jwt",
                "sign",
                "--iss",
                "https://iss/",
                "--aud",
                "app",
                "--sub",
                "alice",
            ])
            .args(["--claim", "role=admin", "--claim", "level=3", "--key"])
            .arg(out_dir.join("private.pem")));
        assert_eq!(code(&signed), 0, "{}", stderr(&signed));
        let token = stdout(&signed).trim().to_owned();
        let public = std::fs::read_to_string(out_dir.join("public.pem")).unwrap();
        let verifier = JwtVerifier::new(
            vec![VerifyingKey::from_pem(&public).unwrap()],
            JwtSettings::new("https://iss/", "app"),
        );
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let claims = verifier.verify(&token, now).unwrap();
        assert_eq!(claims.sub.as_deref(), Some("alice"));
        assert_eq!(claims.json["role"], "admin");
        assert_eq!(claims.json["level"], 3);
        assert_eq!(claims.exp, claims.iat.unwrap() + 3600);
    }
    let again = run(keygate().args(["jwt", "keygen", "--out"]).arg(&out_dir));
    assert_eq!(code(&again), 2);
    assert!(stderr(&again).contains("--force"));
}
