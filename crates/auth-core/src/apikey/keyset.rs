//! Several stored hashes for one purpose, so keys can be rotated (reference §2.3).

use super::{ApiKeyError, ApiKeyFormat, KeyId, StoredKey, StoredKind, moose, token_format};

/// Every stored hash configured for one use; any one matching authenticates.
#[derive(Debug, Clone, Default)]
pub struct KeySet {
    keys: Vec<StoredKey>,
}

/// The outcome of checking a token against a [`KeySet`], with the KDF work it cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyCheck {
    /// The id of the matching key, or why none matched.
    pub result: Result<KeyId, ApiKeyError>,
    /// PBKDF2 computations run (0 for tokens refused on shape alone).
    pub kdf_runs: u32,
}

impl From<Vec<StoredKey>> for KeySet {
    fn from(keys: Vec<StoredKey>) -> Self {
        Self { keys }
    }
}

impl KeySet {
    /// An empty set (nothing configured).
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a stored hash.
    pub fn push(&mut self, key: StoredKey) {
        self.keys.push(key);
    }

    /// Whether no key is configured.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The configured keys, in configuration order.
    #[must_use]
    pub fn keys(&self) -> &[StoredKey] {
        &self.keys
    }

    /// The ids of the configured keys, for status output.
    pub fn ids(&self) -> impl Iterator<Item = KeyId> + '_ {
        self.keys.iter().map(StoredKey::id)
    }

    /// Checks `token` against every key of its format.
    ///
    /// A `moose` token costs one KDF run however many `moose` keys are configured (the salt comes
    /// from the token); a `phc` token costs one run per `phc` key.
    #[must_use]
    pub fn verify(&self, token: &str) -> KeyCheck {
        let refused = |error| KeyCheck {
            result: Err(error),
            kdf_runs: 0,
        };
        if self.keys.is_empty() {
            return refused(ApiKeyError::NotConfigured);
        }
        let format = match token_format(token) {
            Ok(format) => format,
            Err(error) => return refused(error),
        };
        if !self.keys.iter().any(|k| k.format() == format) {
            return refused(ApiKeyError::NoMatch);
        }
        match format {
            ApiKeyFormat::Moose => self.verify_moose(token),
            ApiKeyFormat::Phc => self.verify_phc(token),
        }
    }

    fn verify_moose(&self, token: &str) -> KeyCheck {
        let Some((token_hex, salt_hex)) = moose::split_token(token) else {
            return KeyCheck {
                result: Err(ApiKeyError::UnknownShape),
                kdf_runs: 0,
            };
        };
        let derived = moose::derive(token_hex, salt_hex);
        // Compare against every key, so timing does not depend on which one matched.
        let mut matched = None;
        for key in &self.keys {
            if let StoredKind::Moose(hash) = &key.kind
                && hash.matches(&derived)
                && matched.is_none()
            {
                matched = Some(key.id);
            }
        }
        KeyCheck {
            result: matched.ok_or(ApiKeyError::NoMatch),
            kdf_runs: 1,
        }
    }

    fn verify_phc(&self, token: &str) -> KeyCheck {
        let mut kdf_runs = 0;
        for key in &self.keys {
            if let StoredKind::Phc(hash) = &key.kind {
                kdf_runs += 1;
                if hash.matches(token) {
                    return KeyCheck {
                        result: Ok(key.id),
                        kdf_runs,
                    };
                }
            }
        }
        KeyCheck {
            result: Err(ApiKeyError::NoMatch),
            kdf_runs,
        }
    }
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::super::{generate_moose, generate_phc};
    use super::*;

    #[test]
    fn any_key_of_a_rotated_set_authenticates_and_reports_its_id() {
        let (old, new) = (generate_moose().unwrap(), generate_moose().unwrap());
        let phc = generate_phc(1000).unwrap();
        let set: KeySet = [&old.stored, &new.stored, &phc.stored]
            .iter()
            .map(|s| StoredKey::parse(s).unwrap())
            .collect::<Vec<_>>()
            .into();
        let check = set.verify(new.bearer_token.expose_secret());
        assert_eq!(check.result, Ok(KeyId::of_stored(&new.stored)));
        assert_eq!(check.kdf_runs, 1);
        let check = set.verify(old.bearer_token.expose_secret());
        assert_eq!(check.result, Ok(KeyId::of_stored(&old.stored)));
        let check = set.verify(phc.bearer_token.expose_secret());
        assert_eq!(check.result, Ok(KeyId::of_stored(&phc.stored)));
    }

    #[test]
    fn malformed_tokens_cost_no_kdf_run() {
        let key = generate_moose().unwrap();
        let set = KeySet::from(vec![StoredKey::parse(&key.stored).unwrap()]);
        for token in [
            "",
            "x",
            "kg_abc",
            &"a".repeat(65),
            &key.bearer_token.expose_secret()[1..],
        ] {
            let check = set.verify(token);
            assert!(check.result.is_err(), "{token:?}");
            assert_eq!(check.kdf_runs, 0, "{token:?}");
        }
        let phc = generate_phc(1000).unwrap();
        assert_eq!(
            set.verify(phc.bearer_token.expose_secret()).kdf_runs,
            0,
            "no phc key configured"
        );
        assert_eq!(
            KeySet::new().verify("x").result,
            Err(ApiKeyError::NotConfigured)
        );
    }
}
