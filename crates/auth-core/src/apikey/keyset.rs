//! Several stored hashes for one purpose, so keys can be rotated (reference §2.3).

use super::{
    ApiKeyError, ApiKeyFormat, GenerateError, KeyId, StoredKey, StoredKind, moose, token_format,
};

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

    /// Random stored hashes that cost a token of either format as much KDF work as the
    /// costliest of `sets` would, and match no token: one `moose` hash if any set has `moose`
    /// keys (a `moose` token costs one run however many there are), and as many `phc` hashes
    /// as the set with the most, at the highest iteration count among them (a `phc` token costs
    /// one run per `phc` key). Checking an unknown project's key against it takes as long as
    /// checking a known one's.
    ///
    /// # Errors
    /// [`GenerateError::Random`] when the OS random source fails.
    pub fn decoy_like<'a>(
        sets: impl IntoIterator<Item = &'a KeySet>,
    ) -> Result<KeySet, GenerateError> {
        let (mut any_moose, mut phc_keys, mut phc_iterations) = (false, 0, 0);
        for set in sets {
            let phc: Vec<&StoredKey> = set
                .keys
                .iter()
                .filter(|key| key.format() == ApiKeyFormat::Phc)
                .collect();
            any_moose |= phc.len() < set.keys.len();
            phc_keys = phc_keys.max(phc.len());
            phc_iterations = phc
                .iter()
                .map(|key| key.iterations())
                .fold(phc_iterations, u32::max);
        }
        let mut stored = Vec::new();
        if any_moose {
            stored.push(moose::decoy()?);
        }
        for _ in 0..phc_keys {
            stored.push(super::phc::decoy(phc_iterations)?);
        }
        let keys = stored
            .iter()
            .filter_map(|text| StoredKey::parse(text).ok())
            .collect();
        Ok(Self { keys })
    }

    /// The ids of the configured keys, for status output.
    pub fn ids(&self) -> impl Iterator<Item = KeyId> + '_ {
        self.keys.iter().map(StoredKey::id)
    }

    /// The KDF runs [`KeySet::verify`] costs for `token` when it fails: 0 for a token refused on
    /// its shape or format alone, 1 for a `moose` token, one per `phc` key for a `phc` token.
    #[must_use]
    pub fn kdf_cost(&self, token: &str) -> u32 {
        let Ok(format) = token_format(token) else {
            return 0;
        };
        let of_format = self.keys.iter().filter(|k| k.format() == format).count();
        match format {
            _ if of_format == 0 => 0,
            ApiKeyFormat::Moose => u32::from(moose::split_token(token).is_some()),
            ApiKeyFormat::Phc => u32::try_from(of_format).unwrap_or(u32::MAX),
        }
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

    #[test]
    fn a_decoy_costs_what_the_costliest_set_costs_and_matches_nothing() {
        let moose = generate_moose().unwrap();
        let (phc_a, phc_b) = (generate_phc(1000).unwrap(), generate_phc(2000).unwrap());
        let parse = |s: &str| StoredKey::parse(s).unwrap();
        let moose_only = KeySet::from(vec![parse(&moose.stored)]);
        let two_phc = KeySet::from(vec![parse(&phc_a.stored), parse(&phc_b.stored)]);
        let decoy = KeySet::decoy_like([&moose_only, &two_phc]).unwrap();
        assert_eq!(decoy.keys().len(), 3);
        let phc_iterations: Vec<u32> = decoy
            .keys()
            .iter()
            .filter(|k| k.format() == ApiKeyFormat::Phc)
            .map(StoredKey::iterations)
            .collect();
        assert_eq!(phc_iterations, [2000, 2000]);
        // A wrong key (what a guesser holds) costs the same against the decoy as against the
        // known set of its format.
        let (wrong_moose, wrong_phc) = (generate_moose().unwrap(), generate_phc(1000).unwrap());
        for (token, known) in [
            (wrong_moose.bearer_token.expose_secret(), &moose_only),
            (wrong_phc.bearer_token.expose_secret(), &two_phc),
        ] {
            let (real, fake) = (known.verify(token), decoy.verify(token));
            assert_eq!(fake.kdf_runs, real.kdf_runs, "the same work for {token:.8}");
            assert_eq!(real.result, Err(ApiKeyError::NoMatch));
            assert_eq!(fake.result, Err(ApiKeyError::NoMatch));
        }
        assert_eq!(
            decoy.verify(phc_a.bearer_token.expose_secret()).result,
            Err(ApiKeyError::NoMatch),
            "not even a configured project's key matches it"
        );
        assert!(KeySet::decoy_like([]).unwrap().is_empty());
    }
}
