use std::time::Duration;

/// How long before expiry a token is refreshed, for lifetimes over 120 s.
pub const REFRESH_BUFFER: Duration = Duration::from_secs(60);

/// The longest lifetime that is cached: 365 days. A larger `expiresIn` is almost always a
/// unit mistake (milliseconds, or an absolute Unix time) or a token that never expires (such as
/// a static API key); either way it is not cached and every call fetches it again, which for a
/// static token costs nothing.
pub const MAX_CACHED_LIFETIME: Duration = Duration::from_secs(365 * 24 * 60 * 60);

/// The margin before expiry at which a token of `lifetime` is refreshed:
/// `min(60 s, lifetime / 2)`, i.e. 60 s for lifetimes over 120 s and half the lifetime below.
#[must_use]
pub fn refresh_buffer(lifetime: Duration) -> Duration {
    REFRESH_BUFFER.min(lifetime / 2)
}

/// What the cache does with a freshly fetched token, given its `expiresIn`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CachePlan {
    /// Serve it from the cache for `fresh_for` after the fetch started; after that refresh it,
    /// falling back to it while a refresh fails until `valid_for` has passed.
    Cache {
        /// `lifetime − refresh_buffer(lifetime)`.
        fresh_for: Duration,
        /// The whole lifetime.
        valid_for: Duration,
    },
    /// Hand it to the caller that fetched it, and keep nothing.
    DoNotCache(Uncacheable),
}

/// Why a token is not cached.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Uncacheable {
    /// `expiresIn` is 0: the issuer promises no lifetime at all.
    NoLifetime,
    /// `expiresIn` exceeds [`MAX_CACHED_LIFETIME`].
    TooLong,
}

impl CachePlan {
    /// The plan for a token that expires in `expires_in` seconds.
    #[must_use]
    pub fn for_expires_in(expires_in: u64) -> Self {
        let lifetime = Duration::from_secs(expires_in);
        if lifetime.is_zero() {
            Self::DoNotCache(Uncacheable::NoLifetime)
        } else if lifetime > MAX_CACHED_LIFETIME {
            Self::DoNotCache(Uncacheable::TooLong)
        } else {
            Self::Cache {
                fresh_for: lifetime.saturating_sub(refresh_buffer(lifetime)),
                valid_for: lifetime,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fresh_for(expires_in: u64) -> Duration {
        match CachePlan::for_expires_in(expires_in) {
            CachePlan::Cache { fresh_for, .. } => fresh_for,
            other @ CachePlan::DoNotCache(_) => panic!("{expires_in} s not cached: {other:?}"),
        }
    }

    #[test]
    fn long_lifetimes_refresh_sixty_seconds_early() {
        assert_eq!(fresh_for(3600), Duration::from_secs(3540));
        assert_eq!(fresh_for(121), Duration::from_secs(61));
        assert_eq!(
            CachePlan::for_expires_in(3600),
            CachePlan::Cache {
                fresh_for: Duration::from_secs(3540),
                valid_for: Duration::from_secs(3600),
            }
        );
    }

    #[test]
    fn short_lifetimes_refresh_at_half_life() {
        assert_eq!(fresh_for(120), Duration::from_secs(60));
        assert_eq!(fresh_for(100), Duration::from_secs(50));
        assert_eq!(fresh_for(2), Duration::from_secs(1));
        assert_eq!(fresh_for(1), Duration::from_millis(500));
    }

    #[test]
    fn buffer_is_min_of_sixty_seconds_and_half_the_lifetime() {
        for secs in [1_u64, 59, 60, 119, 120, 121, 180, 3600, 86_400] {
            let lifetime = Duration::from_secs(secs);
            let expected = if secs <= 120 {
                lifetime / 2
            } else {
                Duration::from_secs(60)
            };
            assert_eq!(refresh_buffer(lifetime), expected, "{secs} s");
        }
    }

    #[test]
    fn zero_and_absurd_lifetimes_are_not_cached() {
        assert_eq!(
            CachePlan::for_expires_in(0),
            CachePlan::DoNotCache(Uncacheable::NoLifetime)
        );
        let year = MAX_CACHED_LIFETIME.as_secs();
        assert!(matches!(
            CachePlan::for_expires_in(year),
            CachePlan::Cache { .. }
        ));
        assert_eq!(
            CachePlan::for_expires_in(year + 1),
            CachePlan::DoNotCache(Uncacheable::TooLong)
        );
        assert_eq!(
            CachePlan::for_expires_in(u64::MAX),
            CachePlan::DoNotCache(Uncacheable::TooLong)
        );
    }
}
