//! Per-key rate limits: a token bucket per key, in each replica's memory (docs/keys.md).

use std::fmt;
use std::str::FromStr;
use std::time::{Duration, Instant};

/// `requests` per `seconds`, e.g. `100/s` or `1000/h`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct RateLimit {
    /// Requests allowed per window (also the burst).
    pub requests: u32,
    /// The window in seconds.
    pub seconds: u32,
}

/// A rate limit that is not `<requests>/<s|m|h|d>`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected a rate limit such as 100/s, 6000/m or 100000/d (1 to 1000000 requests)")]
pub struct RateLimitError;

impl FromStr for RateLimit {
    type Err = RateLimitError;

    fn from_str(text: &str) -> Result<Self, RateLimitError> {
        let (requests, window) = text.trim().split_once('/').ok_or(RateLimitError)?;
        let requests: u32 = requests.parse().map_err(|_| RateLimitError)?;
        let seconds = match window {
            "s" => 1,
            "m" => 60,
            "h" => 3600,
            "d" => 86_400,
            _ => return Err(RateLimitError),
        };
        if !(1..=1_000_000).contains(&requests) {
            return Err(RateLimitError);
        }
        Ok(Self { requests, seconds })
    }
}

impl fmt::Display for RateLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let unit = match self.seconds {
            1 => "s",
            60 => "m",
            3600 => "h",
            86_400 => "d",
            other => return write!(f, "{}/{other}s", self.requests),
        };
        write!(f, "{}/{unit}", self.requests)
    }
}

/// A request over its key's limit: what the 429 tells the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimited {
    /// The key's limit.
    pub limit: RateLimit,
    /// Whole seconds until a request would pass (at least 1).
    pub retry_after: u64,
}

/// One key's bucket: full at `requests` tokens, refilled at `requests / seconds` per second.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Bucket {
    pub(crate) fn full(limit: RateLimit, now: Instant) -> Self {
        Self {
            tokens: f64::from(limit.requests),
            at: now,
        }
    }

    /// Takes one token, or says how long until one is there.
    pub(crate) fn take(&mut self, limit: RateLimit, now: Instant) -> Result<(), RateLimited> {
        let capacity = f64::from(limit.requests);
        let rate = capacity / f64::from(limit.seconds.max(1));
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * rate).min(capacity);
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            return Ok(());
        }
        let wait = Duration::from_secs_f64(((1.0 - self.tokens) / rate).max(0.0));
        Err(RateLimited {
            limit,
            retry_after: wait
                .as_secs()
                .saturating_add(u64::from(wait.subsec_nanos() > 0))
                .max(1),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_parse_and_print() {
        let limit: RateLimit = "100/s".parse().unwrap();
        assert_eq!(
            limit,
            RateLimit {
                requests: 100,
                seconds: 1
            }
        );
        assert_eq!(limit.to_string(), "100/s");
        assert_eq!("6000/m".parse::<RateLimit>().unwrap().seconds, 60);
        for bad in ["", "100", "0/s", "100/w", "-1/s", "1000001/s", "x/s"] {
            assert_eq!(bad.parse::<RateLimit>(), Err(RateLimitError), "{bad}");
        }
    }

    #[test]
    fn a_bucket_allows_its_burst_then_refills_at_its_rate() {
        let limit = RateLimit {
            requests: 3,
            seconds: 60,
        };
        let start = Instant::now();
        let mut bucket = Bucket::full(limit, start);
        for _ in 0..3 {
            assert!(bucket.take(limit, start).is_ok());
        }
        let refused = bucket.take(limit, start).unwrap_err();
        assert_eq!(refused.retry_after, 20, "one token every 20 s");
        assert!(bucket.take(limit, start + Duration::from_secs(19)).is_err());
        assert!(bucket.take(limit, start + Duration::from_secs(21)).is_ok());
    }
}
