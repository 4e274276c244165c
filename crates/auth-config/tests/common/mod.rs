//! Helpers shared by the integration tests (each test binary uses a subset).
#![allow(dead_code, reason = "each test binary uses a subset")]

use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use auth_config::{Config, ConfigError, Env, Explained, LoadOptions};
use auth_core::jwt::{JwtAlgorithm, PemKeyPair, SigningKey, generate_key_pair};
use auth_core::secrecy::ExposeSecret;
use tempfile::TempDir;

/// A recognisable secret: no error message or `Debug` output may ever contain it.
pub(crate) const SECRET: &str = "SuperSecretValue-7f3a9c";

/// A 1024-bit RSA public key (too small) and a P-384 one (unsupported curve), made with openssl.
pub(crate) const RSA_1024_PUBLIC: &str = "-----BEGIN PUBLIC KEY-----
MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQC9rOjWZFQnIOM3l+S0R+w9TENG
R74ZcfS2cXo0i55iRh7X8JSXdK0rm3G0D34uC2vNMJjmNib/5jm9CkjR5zeD89cU
cLuNw/a/531IqelbGCK41g4T1nvR6n2HelW3VHOcjiVtwZjEGtt27IZFNSeBkol+
/2aZyy1xzZ1G9O8TjQIDAQAB
-----END PUBLIC KEY-----
";
pub(crate) const P384_PUBLIC: &str = "-----BEGIN PUBLIC KEY-----
MHYwEAYHKoZIzj0CAQYFK4EEACIDYgAEXTkR05kkiMbBhL8vTvU+Rk/ATdRd5/vr
89zW1dKzHAm4cw7qyeycBvr0g2EznLiVH07Qjn1HsDyC5vIdkeFeTBB8D0xOk29s
CHhouS/PFAhHEii8nLjDb+LIljzmr3im
-----END PUBLIC KEY-----
";

/// An RSA-2048 pair (the documented case), generated once per test binary.
pub(crate) fn rsa() -> &'static PemKeyPair {
    static PAIR: OnceLock<PemKeyPair> = OnceLock::new();
    PAIR.get_or_init(|| generate_key_pair(JwtAlgorithm::Rs256).unwrap())
}

/// An Ed25519 pair, e.g. for the token issuer.
pub(crate) fn ed25519() -> &'static PemKeyPair {
    static PAIR: OnceLock<PemKeyPair> = OnceLock::new();
    PAIR.get_or_init(|| generate_key_pair(JwtAlgorithm::EdDsa).unwrap())
}

/// A TOML basic string holding `text` (ASCII only: PEMs and hashes).
pub(crate) fn toml_string(text: &str) -> String {
    assert!(text.is_ascii());
    format!("{text:?}")
}

/// A temporary directory holding `moose.config.toml` with `toml`, if given.
pub(crate) fn dir_with(toml: Option<&str>) -> TempDir {
    let dir = tempfile::tempdir().unwrap();
    if let Some(toml) = toml {
        std::fs::write(dir.path().join("moose.config.toml"), toml).unwrap();
    }
    dir
}

/// Options reading `dir`'s default file and exactly `env`.
pub(crate) fn options(dir: &TempDir, env: &[(&str, &str)]) -> LoadOptions {
    LoadOptions::new()
        .with_directory(dir.path())
        .with_env(Env::from_pairs(
            env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        ))
}

/// Loads `toml` (as `moose.config.toml`, if given) and `env`.
pub(crate) fn load(toml: Option<&str>, env: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let dir = dir_with(toml);
    Config::load(&options(&dir, env))
}

/// The origin a setting set in the test file at `line` displays.
pub(crate) fn file_origin(dir: &TempDir, line: usize) -> String {
    format!("{}:{line}", dir.path().join("moose.config.toml").display())
}

/// 1-based line of the first line of `text` starting with `prefix`.
pub(crate) fn line_starting(text: &str, prefix: &str) -> usize {
    text.lines().position(|l| l.starts_with(prefix)).unwrap() + 1
}

pub(crate) fn explained<'a>(config: &'a Config, setting: &str) -> &'a Explained {
    config
        .explain()
        .iter()
        .find(|e| e.setting == setting)
        .unwrap_or_else(|| panic!("{setting} is not explained"))
}

pub(crate) fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A token signed by `pair`'s private key for `iss`/`aud`, valid for ten minutes.
pub(crate) fn sign(pair: &PemKeyPair, iss: &str, aud: &str) -> String {
    let key = SigningKey::from_pem(pair.private_pem.expose_secret()).unwrap();
    key.sign(&serde_json::json!({ "iss": iss, "aud": aud, "sub": "user-1", "exp": now() + 600 }))
        .unwrap()
}

/// Asserts that neither the message nor the `Debug` of `error` contains `secret`.
pub(crate) fn assert_no_secret(error: &ConfigError, secret: &str) {
    assert!(
        !error.to_string().contains(secret),
        "Display leaks: {error}"
    );
    assert!(
        !format!("{error:?}").contains(secret),
        "Debug leaks: {error:?}"
    );
}
