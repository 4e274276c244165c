//! The admin credential of reference §5. Which source wins is decided by the configuration
//! (`auth_config::Config::admin_credential`); this is the credential once chosen.

use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::{ApiKeyError, KeyId, KeySet, StoredKey};

/// The credential admin routes accept: one plain-text token, or stored hashes.
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

    fn plain(token: &str) -> AdminCredential {
        AdminCredential::Plain {
            token: SecretString::from(token.to_owned()),
            source: "test",
        }
    }

    #[test]
    fn each_kind_of_credential_verifies_its_own_tokens() {
        let admin = plain("cli-token");
        assert_eq!(admin.verify("cli-token"), Ok(None));
        assert_eq!(admin.verify("cli-token "), Err(ApiKeyError::NoMatch));
        assert_eq!(admin.verify(""), Err(ApiKeyError::NoMatch));

        let key = generate_moose().unwrap();
        let hashed =
            AdminCredential::Hashed(KeySet::from(vec![StoredKey::parse(&key.stored).unwrap()]));
        assert_eq!(
            hashed.verify(key.bearer_token.expose_secret()),
            Ok(Some(KeyId::of_stored(&key.stored)))
        );
        assert_eq!(hashed.verify("cli-token"), Err(ApiKeyError::UnknownShape));
        assert!(hashed.is_hashed() && !admin.is_hashed());

        let none = AdminCredential::None;
        assert!(!none.is_configured());
        assert_eq!(none.verify("anything"), Err(ApiKeyError::NotConfigured));
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
        assert!(!format!("{:?}", plain("hunter2hunter2")).contains("hunter2"));
    }
}
