//! Per-entry lifetimes: what an outcome is tells how long it stays true.

use std::sync::Arc;
use std::time::Duration;

use auth_core::policy::Principal;

use super::{CacheSettings, Outcome};
use crate::clock::{Clock, Deadline};

pub(super) struct OutcomeExpiry {
    api_key_ttl: Duration,
    jwt_max_ttl: Duration,
    failure_ttl: Duration,
    clock: Arc<dyn Clock>,
}

impl OutcomeExpiry {
    pub(super) fn new(settings: &CacheSettings, clock: Arc<dyn Clock>) -> Self {
        Self {
            api_key_ttl: settings.api_key_ttl,
            jwt_max_ttl: settings.jwt_max_ttl,
            failure_ttl: settings.failure_ttl,
            clock,
        }
    }

    pub(super) fn ttl(&self, outcome: &Outcome) -> Duration {
        match outcome {
            // Reckoned from the precise time: at 100.9 s a token with `exp` 101 has 0.1 s left,
            // not the whole second that whole-second arithmetic would give it.
            Ok(Principal::Jwt(claims)) => Duration::from_secs(claims.exp)
                .saturating_sub(self.clock.since_epoch())
                .min(self.jwt_max_ttl),
            Ok(_) => self.api_key_ttl,
            Err(_) => self.failure_ttl,
        }
    }

    /// When `outcome` stops being true; `None` when it has no lifetime left.
    pub(super) fn deadline(&self, outcome: &Outcome) -> Option<Deadline> {
        let ttl = self.ttl(outcome);
        if ttl.is_zero() {
            return None;
        }
        Some(match outcome {
            // A token's `exp` is a promise to the outside: never served past it.
            Ok(Principal::Jwt(_)) => Deadline::exact(ttl),
            // Every other outcome stays true while the configuration does, and a new one
            // reaches the cache through its generation, not through these TTLs: a few
            // milliseconds either way cost nothing.
            _ => Deadline::approximate(ttl),
        })
    }
}

#[cfg(test)]
mod tests {
    use auth_core::apikey::{ApiKeyError, KeyId};
    use auth_core::jwt::Claims;
    use auth_core::policy::{InvalidReason, RouteClass};

    use super::*;
    use crate::clock::{ManualClock, SystemClock};

    const NOW: u64 = 1_800_000_000;

    fn claims_expiring_at(exp: u64) -> Claims {
        Claims {
            iss: "i".into(),
            sub: None,
            aud: vec!["a".into()],
            exp,
            nbf: None,
            iat: None,
            jti: None,
            json: serde_json::Map::new(),
        }
    }

    #[test]
    fn each_outcome_gets_its_lifetime() {
        let clock = ManualClock::at(NOW);
        let expiry = OutcomeExpiry::new(&CacheSettings::default(), Arc::new(clock.clone()));
        let key = Ok(Principal::ApiKey {
            class: RouteClass::Ingest,
            key_id: KeyId::of_stored("x"),
        });
        assert_eq!(expiry.ttl(&key), Duration::from_secs(300));
        let refused = Err(InvalidReason::ApiKey(ApiKeyError::NoMatch));
        assert_eq!(expiry.ttl(&refused), Duration::from_secs(10));
        let jwt = Ok(Principal::Jwt(Arc::new(claims_expiring_at(NOW + 120))));
        assert_eq!(expiry.ttl(&jwt), Duration::from_secs(120));
        clock.advance(100);
        assert_eq!(
            expiry.ttl(&jwt),
            Duration::from_secs(20),
            "reckoned by the clock"
        );
        let expired = Ok(Principal::Jwt(Arc::new(claims_expiring_at(NOW))));
        assert_eq!(expiry.ttl(&expired), Duration::ZERO);
        let capped = OutcomeExpiry::new(
            &CacheSettings {
                jwt_max_ttl: Duration::from_secs(5),
                ..CacheSettings::default()
            },
            Arc::new(ManualClock::at(NOW)),
        );
        assert_eq!(capped.ttl(&jwt), Duration::from_secs(5));
    }

    /// A clock three quarters into a second.
    #[derive(Debug)]
    struct SubSecondClock;

    impl Clock for SubSecondClock {
        fn unix_now(&self) -> u64 {
            NOW
        }

        fn since_epoch(&self) -> Duration {
            Duration::from_millis(NOW * 1000 + 750)
        }
    }

    #[test]
    fn a_jwt_is_kept_for_what_is_left_of_it_never_past_its_exp() {
        let expiry = OutcomeExpiry::new(&CacheSettings::default(), Arc::new(SubSecondClock));
        let jwt = Ok(Principal::Jwt(Arc::new(claims_expiring_at(NOW + 1))));
        assert_eq!(
            expiry.ttl(&jwt),
            Duration::from_millis(250),
            "0.25 s are left, not a whole second"
        );
        let expired = Ok(Principal::Jwt(Arc::new(claims_expiring_at(NOW))));
        assert_eq!(expiry.ttl(&expired), Duration::ZERO);
    }

    #[test]
    fn only_a_jwt_lifetime_is_on_the_exact_clock() {
        let expiry = OutcomeExpiry::new(&CacheSettings::default(), Arc::new(SystemClock));
        let jwt = Ok(Principal::Jwt(Arc::new(claims_expiring_at(
            SystemClock.unix_now() + 60,
        ))));
        assert!(matches!(expiry.deadline(&jwt), Some(Deadline::Exact(_))));
        let expired = Ok(Principal::Jwt(Arc::new(claims_expiring_at(
            SystemClock.unix_now() - 1,
        ))));
        assert_eq!(expiry.deadline(&expired), None);
        let key = Ok(Principal::ApiKey {
            class: RouteClass::Ingest,
            key_id: KeyId::of_stored("x"),
        });
        assert!(matches!(
            expiry.deadline(&key),
            Some(Deadline::Approximate(_))
        ));
        let refused = Err(InvalidReason::Jwt(auth_core::jwt::JwtError::Expired));
        assert!(matches!(
            expiry.deadline(&refused),
            Some(Deadline::Approximate(_))
        ));
    }
}
