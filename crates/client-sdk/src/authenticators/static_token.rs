use std::fmt;

use async_trait::async_trait;
use auth_core::secrecy::{ExposeSecret, SecretString};

use crate::{AuthError, AuthToken, Authenticator};

/// A fixed token that never expires, such as an API key from `keygate generate hash-token`.
///
/// It reports [`AuthToken::NEVER_EXPIRES`], which the cache does not store (nothing to save).
/// `Debug` never shows the token.
///
/// ```
/// use client_sdk::{Authenticator, StaticTokenAuthenticator};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), client_sdk::AuthError> {
/// let auth = StaticTokenAuthenticator::new("0123abcd.4567ef89");
/// assert_eq!(auth.get_auth_header().await?, "Bearer 0123abcd.4567ef89");
/// assert!(!format!("{auth:?}").contains("0123abcd"));
/// # Ok(()) }
/// ```
pub struct StaticTokenAuthenticator {
    token: SecretString,
}

impl StaticTokenAuthenticator {
    /// Always answers with `token`.
    pub fn new(token: impl Into<String>) -> Self {
        Self {
            token: SecretString::from(token.into()),
        }
    }
}

#[async_trait]
impl Authenticator for StaticTokenAuthenticator {
    async fn get_auth_token(&self) -> Result<AuthToken, AuthError> {
        Ok(AuthToken::new(
            self.token.expose_secret(),
            AuthToken::NEVER_EXPIRES,
        ))
    }
}

impl fmt::Debug for StaticTokenAuthenticator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StaticTokenAuthenticator")
            .field("token", &"[redacted]")
            .finish()
    }
}
