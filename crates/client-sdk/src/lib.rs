#![doc = include_str!("../README.md")]

mod authenticator;
mod authenticators;
pub mod cache;
mod client;
mod error;
mod http;
mod token;
mod url;

pub use async_trait::async_trait;
pub use authenticator::Authenticator;
pub use authenticators::{
    BackendUrlAuthenticator, ProjectKeyAuthenticator, StaticTokenAuthenticator,
};
pub use cache::{CachingAuthenticator, Clock, DEFAULT_FETCH_TIMEOUT, ManualClock, TokioClock};
pub use client::{CachedAuthenticator, Client, ClientBuilder};
pub use error::{AuthError, ClientError};
pub use http::{DEFAULT_CONNECT_TIMEOUT, DEFAULT_REQUEST_TIMEOUT};
pub use reqwest;
pub use token::AuthToken;
