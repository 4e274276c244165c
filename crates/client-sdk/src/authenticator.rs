//! The [`Authenticator`] trait.

use std::sync::Arc;

use async_trait::async_trait;

use crate::{AuthError, AuthToken};

/// Something that can produce a bearer token: the SDK's pluggable authentication.
///
/// Implement [`get_auth_token`](Authenticator::get_auth_token) (for example: fetch
/// `{"token", "expiresIn"}` from your own backend); the SDK wraps every authenticator in a
/// [`CachingAuthenticator`](crate::CachingAuthenticator), so it is called only when the cached
/// token is about to expire, not on every request. Built in:
/// [`ProjectKeyAuthenticator`](crate::ProjectKeyAuthenticator),
/// [`BackendUrlAuthenticator`](crate::BackendUrlAuthenticator),
/// [`StaticTokenAuthenticator`](crate::StaticTokenAuthenticator).
///
/// ```
/// use client_sdk::{AuthError, AuthToken, Authenticator, async_trait};
///
/// struct FromVault;
///
/// #[async_trait]
/// impl Authenticator for FromVault {
///     async fn get_auth_token(&self) -> Result<AuthToken, AuthError> {
///         // Fetch or mint a short-lived token here.
///         Ok(AuthToken::new("eyJhbGciOi.example.token", 900))
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), AuthError> {
/// assert_eq!(FromVault.get_auth_header().await?, "Bearer eyJhbGciOi.example.token");
/// # Ok(()) }
/// ```
#[async_trait]
pub trait Authenticator: Send + Sync {
    /// A token and its lifetime in seconds.
    async fn get_auth_token(&self) -> Result<AuthToken, AuthError>;

    /// The `Authorization` header value, `Bearer <token>`.
    ///
    /// Once wrapped in the cache (as every authenticator given to a
    /// [`Client`](crate::Client) is), the header is always built from the cached token as
    /// `Bearer <token>`; overriding this method changes only direct calls.
    async fn get_auth_header(&self) -> Result<String, AuthError> {
        Ok(self.get_auth_token().await?.header_value())
    }
}

#[async_trait]
impl<A: Authenticator + ?Sized> Authenticator for Box<A> {
    async fn get_auth_token(&self) -> Result<AuthToken, AuthError> {
        (**self).get_auth_token().await
    }

    async fn get_auth_header(&self) -> Result<String, AuthError> {
        (**self).get_auth_header().await
    }
}

#[async_trait]
impl<A: Authenticator + ?Sized> Authenticator for Arc<A> {
    async fn get_auth_token(&self) -> Result<AuthToken, AuthError> {
        (**self).get_auth_token().await
    }

    async fn get_auth_header(&self) -> Result<String, AuthError> {
        (**self).get_auth_header().await
    }
}
