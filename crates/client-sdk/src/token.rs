//! [`AuthToken`]: the `{"token", "expiresIn"}` shape every authenticator produces and the token
//! cache stores and serves.

use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A bearer token and its lifetime, as the token endpoint returns it, as an authenticator hands
/// it to the [token cache](crate::cache) and as a backend route forwards it to its frontend: JSON
/// `{"token": "...", "expiresIn": 3600}`.
///
/// `expires_in` is in seconds. Tokens served from the cache carry the time actually left, not
/// the lifetime first reported.
/// When deserializing, a fractional `expiresIn` is rounded down and a negative one is an error.
/// `Debug` never shows the token.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthToken {
    /// The bearer token to send as `Authorization: Bearer <token>`. Treat it as a secret.
    pub token: String,
    /// Seconds until the token expires.
    #[serde(deserialize_with = "deserialize_seconds")]
    pub expires_in: u64,
}

impl AuthToken {
    /// The `expires_in` of a token that never expires, such as a static API key. It is far
    /// beyond the longest cached lifetime, so such tokens are not cached (which costs nothing
    /// for a static token).
    pub const NEVER_EXPIRES: u64 = u64::MAX;

    /// A token valid for `expires_in` seconds.
    #[must_use]
    pub fn new(token: impl Into<String>, expires_in: u64) -> Self {
        Self {
            token: token.into(),
            expires_in,
        }
    }

    /// The `Authorization` header value: `Bearer <token>`.
    #[must_use]
    pub fn header_value(&self) -> String {
        format!("Bearer {}", self.token)
    }
}

impl fmt::Debug for AuthToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthToken")
            .field(
                "token",
                &format_args!("[redacted; {} bytes]", self.token.len()),
            )
            .field("expires_in", &self.expires_in)
            .finish()
    }
}

/// Why a JSON `expiresIn` is not a usable number of seconds.
pub(crate) fn seconds_from_json(value: &Value) -> Result<u64, &'static str> {
    match value {
        Value::Number(number) => {
            if let Some(seconds) = number.as_u64() {
                Ok(seconds)
            } else if number.as_i64().is_some() {
                Err("expiresIn is negative")
            } else {
                number
                    .as_f64()
                    .ok_or("expiresIn is not a number")
                    .and_then(seconds_from_f64)
            }
        }
        _ => Err("expiresIn is not a number"),
    }
}

fn seconds_from_f64(seconds: f64) -> Result<u64, &'static str> {
    if !seconds.is_finite() {
        Err("expiresIn is not a finite number")
    } else if seconds < 0.0 {
        Err("expiresIn is negative")
    } else {
        // Rounds down, and saturates at u64::MAX (an absurd lifetime, which is not cached).
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        Ok(seconds.floor() as u64)
    }
}

fn deserialize_seconds<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
    struct Seconds;

    impl Visitor<'_> for Seconds {
        type Value = u64;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a non-negative number of seconds")
        }

        fn visit_u64<E: de::Error>(self, seconds: u64) -> Result<u64, E> {
            Ok(seconds)
        }

        fn visit_i64<E: de::Error>(self, seconds: i64) -> Result<u64, E> {
            u64::try_from(seconds).map_err(|_| E::custom("expiresIn is negative"))
        }

        fn visit_f64<E: de::Error>(self, seconds: f64) -> Result<u64, E> {
            seconds_from_f64(seconds).map_err(E::custom)
        }
    }

    deserializer.deserialize_any(Seconds)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn serializes_as_the_reference_shape() {
        let token = AuthToken::new("abc", 3600);
        assert_eq!(
            serde_json::to_value(&token).unwrap(),
            json!({"token": "abc", "expiresIn": 3600})
        );
        let back: AuthToken =
            serde_json::from_value(json!({"token": "abc", "expiresIn": 3600})).unwrap();
        assert_eq!(back, token);
    }

    #[test]
    fn expires_in_is_read_leniently_but_never_negative() {
        let parse =
            |v: Value| serde_json::from_value::<AuthToken>(json!({"token": "t", "expiresIn": v}));
        assert_eq!(parse(json!(3599.9)).unwrap().expires_in, 3599);
        assert_eq!(parse(json!(0)).unwrap().expires_in, 0);
        assert_eq!(parse(json!(1e300)).unwrap().expires_in, u64::MAX);
        let negative = parse(json!(-5)).unwrap_err().to_string();
        assert!(negative.contains("negative"), "{negative}");
        assert!(parse(json!(-0.5)).is_err());
        assert!(parse(json!("3600")).is_err());
        assert!(serde_json::from_value::<AuthToken>(json!({"token": "t"})).is_err());
    }

    #[test]
    fn seconds_from_json_explains_what_is_wrong() {
        assert_eq!(seconds_from_json(&json!(60)), Ok(60));
        assert_eq!(seconds_from_json(&json!(60.7)), Ok(60));
        assert_eq!(seconds_from_json(&json!(-1)), Err("expiresIn is negative"));
        assert_eq!(
            seconds_from_json(&json!(-1.5)),
            Err("expiresIn is negative")
        );
        assert_eq!(
            seconds_from_json(&json!(null)),
            Err("expiresIn is not a number")
        );
        assert_eq!(
            seconds_from_json(&json!("60")),
            Err("expiresIn is not a number")
        );
    }

    #[test]
    fn debug_redacts_the_token() {
        let debug = format!("{:?}", AuthToken::new("eyJsecret", 10));
        assert!(!debug.contains("eyJsecret"), "{debug}");
        assert!(debug.contains("expires_in: 10"), "{debug}");
    }

    #[test]
    fn debug_shows_the_length_of_the_token() {
        let token = AuthToken::new("secret-token-value", 60);
        let debug = format!("{token:?}");
        assert!(!debug.contains("secret-token-value"), "{debug}");
        assert!(debug.contains("18 bytes"), "{debug}");
        assert!(debug.contains("expires_in: 60"), "{debug}");
    }
}
