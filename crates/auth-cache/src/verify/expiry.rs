//! Per-entry lifetimes: what an outcome is tells how long it stays true.

use std::time::{Duration, Instant};

use auth_core::policy::Principal;

use super::{CacheKey, CacheSettings, Outcome, seconds_until_exp};

pub(super) struct OutcomeExpiry {
    api_key_ttl: Duration,
    jwt_max_ttl: Duration,
    failure_ttl: Duration,
}

impl OutcomeExpiry {
    pub(super) fn new(settings: &CacheSettings) -> Self {
        Self {
            api_key_ttl: settings.api_key_ttl,
            jwt_max_ttl: settings.jwt_max_ttl,
            failure_ttl: settings.failure_ttl,
        }
    }

    pub(super) fn ttl(&self, outcome: &Outcome) -> Duration {
        match outcome {
            Ok(Principal::Jwt(claims)) => {
                Duration::from_secs(seconds_until_exp(claims)).min(self.jwt_max_ttl)
            }
            Ok(_) => self.api_key_ttl,
            Err(_) => self.failure_ttl,
        }
    }
}

impl moka::Expiry<CacheKey, Outcome> for OutcomeExpiry {
    fn expire_after_create(
        &self,
        _key: &CacheKey,
        value: &Outcome,
        _created_at: Instant,
    ) -> Option<Duration> {
        Some(self.ttl(value))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use auth_core::apikey::{ApiKeyError, KeyId};
    use auth_core::jwt::Claims;
    use auth_core::policy::{InvalidReason, RouteClass};

    use super::*;

    fn claims_expiring_in(seconds: u64) -> Claims {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        Claims {
            iss: "i".into(),
            sub: None,
            aud: vec!["a".into()],
            exp: now + seconds,
            nbf: None,
            iat: None,
            jti: None,
            json: serde_json::Map::new(),
        }
    }

    #[test]
    fn each_outcome_gets_its_lifetime() {
        let expiry = OutcomeExpiry::new(&CacheSettings::default());
        let key = Ok(Principal::ApiKey {
            class: RouteClass::Ingest,
            key_id: KeyId::of_stored("x"),
        });
        assert_eq!(expiry.ttl(&key), Duration::from_secs(300));
        let refused = Err(InvalidReason::ApiKey(ApiKeyError::NoMatch));
        assert_eq!(expiry.ttl(&refused), Duration::from_secs(10));
        let jwt = Ok(Principal::Jwt(Arc::new(claims_expiring_in(120))));
        let ttl = expiry.ttl(&jwt).as_secs();
        assert!((119..=120).contains(&ttl), "{ttl}");
        let expired = Ok(Principal::Jwt(Arc::new(claims_expiring_in(0))));
        assert_eq!(expiry.ttl(&expired), Duration::ZERO);
        let capped = OutcomeExpiry::new(&CacheSettings {
            jwt_max_ttl: Duration::from_secs(5),
            ..CacheSettings::default()
        });
        assert_eq!(capped.ttl(&jwt), Duration::from_secs(5));
    }
}
