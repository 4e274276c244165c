//! API keys (reference §2): two formats, told apart by the stored string.
//!
//! | format  | bearer token                         | stored hash                                   |
//! |---------|--------------------------------------|-----------------------------------------------|
//! | `moose` | `<32 hex>.<32 hex>`                  | 40 hex: PBKDF2-SHA256(token, salt, 1000, 20)  |
//! | `phc`   | `kg_` + 43 base64url + 6 base62 CRC  | `$pbkdf2-sha256$i=N,l=32$<salt>$<hash>`       |
//!
//! A presented token is checked for shape (and, for `phc`, its checksum) before any KDF runs, so
//! garbage costs nothing. Comparisons of derived hashes are constant time.

mod admin;
mod keyset;
mod managed;
mod moose;
mod phc;

use std::fmt;
use std::ops::RangeInclusive;

use secrecy::SecretString;
use sha2::{Digest, Sha256};

pub use admin::AdminCredential;
pub use keyset::{KeyCheck, KeySet};
pub use managed::{
    DIGEST_BYTES, GeneratedManaged, MANAGED_PREFIX, MANAGED_TOKEN_LEN, ManagedKeyId, ManagedToken,
    generate_managed, is_managed,
};

/// Iterations of the `moose` format, fixed by Moose's `generate hash-token`.
pub const MOOSE_ITERATIONS: u32 = 1000;
/// Iterations a `phc` stored hash may name; anything else is a configuration error.
pub const PHC_ITERATIONS: RangeInclusive<u32> = 1000..=10_000_000;
/// Iterations `generate` uses for `phc` unless told otherwise (OWASP 2023 guidance).
pub const PHC_DEFAULT_ITERATIONS: u32 = 600_000;

/// The two API-key formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ApiKeyFormat {
    /// Moose-compatible `token.salt` keys with a bare 40-hex-character hash.
    Moose,
    /// keygate's checksummed `kg_` keys with a PHC-string hash.
    Phc,
}

impl ApiKeyFormat {
    /// The name used in configuration, the CLI and JSON output.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Moose => "moose",
            Self::Phc => "phc",
        }
    }
}

impl fmt::Display for ApiKeyFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Names a stored hash in logs and status output: the first 8 hex characters of SHA-256 of the
/// stored string. It reveals nothing usable about the key.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId([u8; 4]);

impl KeyId {
    /// The key id of a stored-hash string (as configured, surrounding white space removed).
    #[must_use]
    pub fn of_stored(stored: &str) -> Self {
        let digest = Sha256::digest(stored.trim().as_bytes());
        let mut id = [0u8; 4];
        id.copy_from_slice(digest.get(..4).unwrap_or(&[0; 4]));
        Self(id)
    }

    /// The raw bytes.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8; 4] {
        &self.0
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({self})")
    }
}

/// A stored hash that could not be parsed. Messages never echo the stored string.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoredKeyError {
    /// Neither 40 hex characters nor a `$pbkdf2-sha256$` PHC string.
    #[error(
        "not a stored API-key hash: expected 40 hex characters (moose) or a $pbkdf2-sha256$ PHC string"
    )]
    UnknownFormat,
    /// A PHC string whose structure is wrong.
    #[error("malformed $pbkdf2-sha256$ hash: {0}")]
    MalformedPhc(&'static str),
    /// A PHC string naming an iteration count outside [`PHC_ITERATIONS`].
    #[error("the hash names {iterations} PBKDF2 iterations; allowed are 1000 to 10000000")]
    IterationsOutOfRange {
        /// The iteration count found.
        iterations: u64,
    },
}

/// Why a presented token did not authenticate. Messages never echo the token.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ApiKeyError {
    /// The token has the shape of neither format; no KDF ran.
    #[error("the token is not an API key of any known format")]
    UnknownShape,
    /// A `kg_` token whose checksum is wrong (a typo or truncation); no KDF ran.
    #[error("the API key's checksum does not match")]
    BadChecksum,
    /// Well-formed, but no configured key of its format matched.
    #[error("the API key is not valid")]
    NoMatch,
    /// No API key is configured for this use.
    #[error("no API key is configured")]
    NotConfigured,
    /// A managed key whose expiry has passed.
    #[error("the API key has expired")]
    Expired,
    /// A managed key that was revoked.
    #[error("the API key was revoked")]
    Revoked,
    /// A managed key of another class than the route's.
    #[error("the API key is not valid for this route")]
    WrongClass,
}

/// Failure to generate a key: the operating system's random source was unavailable.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GenerateError {
    /// The OS CSPRNG failed.
    #[error("the operating system's random number generator failed: {0}")]
    Random(String),
    /// The requested iteration count is outside [`PHC_ITERATIONS`].
    #[error("iterations must be between 1000 and 10000000, got {0}")]
    Iterations(u32),
}

/// A parsed stored hash, either format.
#[derive(Clone)]
pub struct StoredKey {
    kind: StoredKind,
    id: KeyId,
}

#[derive(Clone)]
enum StoredKind {
    Moose(moose::MooseHash),
    Phc(phc::PhcHash),
}

impl fmt::Debug for StoredKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredKey")
            .field("format", &self.format())
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl StoredKey {
    /// Parses a stored hash; the format is detected from the string.
    ///
    /// # Errors
    /// [`StoredKeyError`] when the string is neither format or its parameters are out of range.
    pub fn parse(stored: &str) -> Result<Self, StoredKeyError> {
        let trimmed = stored.trim();
        let kind = if trimmed.starts_with('$') {
            StoredKind::Phc(phc::PhcHash::parse(trimmed)?)
        } else {
            StoredKind::Moose(moose::MooseHash::parse(trimmed)?)
        };
        Ok(Self {
            kind,
            id: KeyId::of_stored(trimmed),
        })
    }

    /// Which format this stored hash is.
    #[must_use]
    pub fn format(&self) -> ApiKeyFormat {
        match self.kind {
            StoredKind::Moose(_) => ApiKeyFormat::Moose,
            StoredKind::Phc(_) => ApiKeyFormat::Phc,
        }
    }

    /// PBKDF2 iterations one check of this key costs.
    #[must_use]
    pub fn iterations(&self) -> u32 {
        match &self.kind {
            StoredKind::Moose(_) => MOOSE_ITERATIONS,
            StoredKind::Phc(hash) => hash.iterations(),
        }
    }

    /// The key id used in logs and status output.
    #[must_use]
    pub fn id(&self) -> KeyId {
        self.id
    }

    /// Verifies one presented token against this key alone (see [`KeySet`] for rotation).
    ///
    /// # Errors
    /// [`ApiKeyError`] saying why the token was refused.
    pub fn verify(&self, token: &str) -> Result<(), ApiKeyError> {
        KeySet::from(vec![self.clone()])
            .verify(token)
            .result
            .map(|_| ())
    }
}

/// A freshly generated key pair: give `bearer_token` to the client, configure `stored`.
#[derive(Debug)]
pub struct GeneratedKey {
    /// The plain-text token for `Authorization: Bearer ...`. Redacted in `Debug`.
    pub bearer_token: SecretString,
    /// The stored hash for the server's configuration. Not a secret.
    pub stored: String,
    /// The format generated.
    pub format: ApiKeyFormat,
}

/// Generates a `moose` key pair from the OS CSPRNG.
///
/// # Errors
/// [`GenerateError::Random`] when the OS random source fails.
pub fn generate_moose() -> Result<GeneratedKey, GenerateError> {
    moose::generate()
}

/// Generates a `phc` key pair from the OS CSPRNG with `iterations` PBKDF2 rounds.
///
/// # Errors
/// [`GenerateError`] when `iterations` is out of range or the OS random source fails.
pub fn generate_phc(iterations: u32) -> Result<GeneratedKey, GenerateError> {
    phc::generate(iterations)
}

fn random_bytes<const N: usize>() -> Result<[u8; N], GenerateError> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(|e| GenerateError::Random(e.to_string()))?;
    Ok(bytes)
}

/// Which format a presented token claims to be, judged from its shape alone (no KDF).
///
/// # Errors
/// [`ApiKeyError::UnknownShape`] or [`ApiKeyError::BadChecksum`].
pub fn token_format(token: &str) -> Result<ApiKeyFormat, ApiKeyError> {
    if moose::split_token(token).is_some() {
        Ok(ApiKeyFormat::Moose)
    } else if token.starts_with(phc::TOKEN_PREFIX) {
        phc::check_token(token).map(|()| ApiKeyFormat::Phc)
    } else {
        Err(ApiKeyError::UnknownShape)
    }
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;

    #[test]
    fn key_id_is_eight_hex_chars_of_sha256_of_the_stored_string() {
        let id = KeyId::of_stored("abc");
        // SHA-256("abc") = ba7816bf...
        assert_eq!(id.to_string(), "ba7816bf");
        assert_eq!(KeyId::of_stored("  abc\n"), id);
    }

    #[test]
    fn generated_keys_verify_and_are_told_apart() {
        let moose = generate_moose().unwrap();
        let phc = generate_phc(1000).unwrap();
        let moose_key = StoredKey::parse(&moose.stored).unwrap();
        let phc_key = StoredKey::parse(&phc.stored).unwrap();
        assert_eq!(moose_key.format(), ApiKeyFormat::Moose);
        assert_eq!(phc_key.format(), ApiKeyFormat::Phc);
        assert_eq!(moose_key.verify(moose.bearer_token.expose_secret()), Ok(()));
        assert_eq!(phc_key.verify(phc.bearer_token.expose_secret()), Ok(()));
        assert_eq!(
            moose_key.verify(phc.bearer_token.expose_secret()),
            Err(ApiKeyError::NoMatch)
        );
        assert!(!format!("{moose:?}").contains(moose.bearer_token.expose_secret()));
    }

    #[test]
    fn generate_refuses_out_of_range_iterations() {
        assert_eq!(
            generate_phc(999).unwrap_err(),
            GenerateError::Iterations(999)
        );
        assert_eq!(
            generate_phc(10_000_001).unwrap_err(),
            GenerateError::Iterations(10_000_001)
        );
    }

    #[test]
    fn garbage_is_classified_without_a_kdf() {
        assert_eq!(token_format("hello"), Err(ApiKeyError::UnknownShape));
        assert_eq!(
            token_format(&"a".repeat(65)),
            Err(ApiKeyError::UnknownShape)
        );
        let phc = generate_phc(1000).unwrap();
        let mut token = phc.bearer_token.expose_secret().to_owned();
        token.pop();
        token.push(if phc.bearer_token.expose_secret().ends_with('0') {
            '1'
        } else {
            '0'
        });
        assert_eq!(token_format(&token), Err(ApiKeyError::BadChecksum));
    }
}
