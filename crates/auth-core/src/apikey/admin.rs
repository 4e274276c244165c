//! The admin credential of SPEC §5: one source wins, by precedence.

use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::{ApiKeyError, KeyId, KeySet, StoredKey};

/// The credential admin routes accept. Only the highest-precedence configured source is used:
/// `serve --admin-token` (plain text) > `MOOSE_ADMIN_TOKEN` (plain text) > `admin_api_key` (hash).
#[derive(Debug, Clone, Default)]
pub enum AdminCredential {
    /// A plain-text token, compared in constant time.
    Plain {
        /// The token. Redacted in `Debug`.
        token: SecretString,
        /// Where it came from, for status output (e.g. `MOOSE_ADMIN_TOKEN`).
        source: &'static str,
    },
    /// Stored hashes (`[authentication] admin_api_key`).
    Hashed(KeySet),
    /// Nothing configured: every admin request is refused.
    #[default]
    None,
}

impl AdminCredential {
    /// Picks the credential by precedence. Empty plain-text values count as absent.
    #[must_use]
    pub fn resolve(
        cli_token: Option<SecretString>,
        env_token: Option<SecretString>,
        hashes: KeySet,
    ) -> Self {
        let present = |t: Option<SecretString>| t.filter(|t| !t.expose_secret().is_empty());
        if let Some(token) = present(cli_token) {
            return Self::Plain {
                token,
                source: "--admin-token",
            };
        }
        if let Some(token) = present(env_token) {
            return Self::Plain {
                token,
                source: "MOOSE_ADMIN_TOKEN",
            };
        }
        if hashes.is_empty() {
            Self::None
        } else {
            Self::Hashed(hashes)
        }
    }

    /// Whether a configured plain-text admin token (`MOOSE_ADMIN_TOKEN`, `serve --admin-token`)
    /// is really a stored API-key hash (40 hex characters or a `$pbkdf2-sha256$` PHC string).
    /// Such a value is a configuration mistake: hashes belong in `[authentication]
    /// admin_api_key`, and used as a plain token it would let anyone who reads the configuration
    /// in as admin. Surrounding white space is ignored.
    #[must_use]
    pub fn plain_token_is_stored_hash(token: &str) -> bool {
        StoredKey::parse(token).is_ok()
    }

    /// Whether admin routes can be reached at all.
    #[must_use]
    pub fn is_configured(&self) -> bool {
        !matches!(self, Self::None)
    }

    /// Whether checking a token costs KDF work (hashes) or not (plain text).
    #[must_use]
    pub fn is_hashed(&self) -> bool {
        matches!(self, Self::Hashed(_))
    }

    /// Verifies a presented token; `Ok(None)` for a plain-text match, `Ok(Some(id))` for a hash.
    ///
    /// # Errors
    /// [`ApiKeyError`] when the token does not match or nothing is configured.
    pub fn verify(&self, token: &str) -> Result<Option<KeyId>, ApiKeyError> {
        match self {
            // Hash both sides first so neither the length nor the content leaks through timing.
            Self::Plain {
                token: expected, ..
            } => {
                let expected = Sha256::digest(expected.expose_secret().as_bytes());
                let presented = Sha256::digest(token.as_bytes());
                if bool::from(expected.as_slice().ct_eq(presented.as_slice())) {
                    Ok(None)
                } else {
                    Err(ApiKeyError::NoMatch)
                }
            }
            Self::Hashed(keys) => keys.verify(token).result.map(Some),
            Self::None => Err(ApiKeyError::NotConfigured),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{StoredKey, generate_moose};
    use super::*;

    fn secret(s: &str) -> Option<SecretString> {
        Some(SecretString::from(s.to_owned()))
    }

    #[test]
    fn precedence_is_cli_then_env_then_hash() {
        let key = generate_moose().unwrap();
        let hashes = KeySet::from(vec![StoredKey::parse(&key.stored).unwrap()]);
        let bearer = key.bearer_token.expose_secret();

        let admin = AdminCredential::resolve(secret("cli"), secret("env"), hashes.clone());
        assert_eq!(admin.verify("cli"), Ok(None));
        assert_eq!(admin.verify("env"), Err(ApiKeyError::NoMatch));
        assert_eq!(admin.verify(bearer), Err(ApiKeyError::NoMatch));

        let admin = AdminCredential::resolve(None, secret("env"), hashes.clone());
        assert_eq!(admin.verify("env"), Ok(None));
        assert_eq!(admin.verify("cli"), Err(ApiKeyError::NoMatch));

        let admin = AdminCredential::resolve(secret(""), None, hashes.clone());
        assert_eq!(
            admin.verify(bearer),
            Ok(Some(KeyId::of_stored(&key.stored)))
        );

        let admin = AdminCredential::resolve(None, None, KeySet::new());
        assert!(!admin.is_configured());
        assert_eq!(admin.verify("anything"), Err(ApiKeyError::NotConfigured));
    }

    #[test]
    fn stored_hashes_are_told_apart_from_plain_tokens() {
        let moose = generate_moose().unwrap();
        let phc = super::super::generate_phc(1000).unwrap();
        assert!(AdminCredential::plain_token_is_stored_hash(&moose.stored));
        assert!(AdminCredential::plain_token_is_stored_hash(&format!(
            " {}\n",
            phc.stored
        )));
        assert!(!AdminCredential::plain_token_is_stored_hash(
            moose.bearer_token.expose_secret()
        ));
        assert!(!AdminCredential::plain_token_is_stored_hash(
            phc.bearer_token.expose_secret()
        ));
        assert!(!AdminCredential::plain_token_is_stored_hash("hunter2"));
    }

    #[test]
    fn debug_hides_the_plain_token() {
        let admin = AdminCredential::resolve(secret("hunter2hunter2"), None, KeySet::new());
        assert!(!format!("{admin:?}").contains("hunter2"));
    }
}
