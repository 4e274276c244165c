use std::fmt;

/// A bearer token and its lifetime in seconds: what a fetch returns and what the cache serves.
///
/// On a cache hit `expires_in` is the time actually left, not the lifetime first reported.
/// `Debug` shows the token's length, never the token.
#[derive(Clone, PartialEq, Eq)]
pub struct IssuedToken {
    /// The bearer token. Treat it as a secret.
    pub token: String,
    /// Seconds until the token expires.
    pub expires_in: u64,
}

impl IssuedToken {
    /// A token valid for `expires_in` seconds.
    #[must_use]
    pub fn new(token: impl Into<String>, expires_in: u64) -> Self {
        Self {
            token: token.into(),
            expires_in,
        }
    }
}

impl fmt::Debug for IssuedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuedToken")
            .field(
                "token",
                &format_args!("[redacted; {} bytes]", self.token.len()),
            )
            .field("expires_in", &self.expires_in)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_redacts_the_token() {
        let token = IssuedToken::new("secret-token-value", 60);
        let debug = format!("{token:?}");
        assert!(!debug.contains("secret-token-value"), "{debug}");
        assert!(debug.contains("18 bytes"), "{debug}");
        assert!(debug.contains("expires_in: 60"), "{debug}");
    }
}
