//! keygate's caches.
//!
//! - [`verify`]: the server's verification cache (SPEC §10), keyed by SHA-256 of the token.
//! - [`token`]: the client SDK's token cache (SPEC §8).

pub mod token;
pub mod verify;

pub use token::{IssuedToken, TokenCache, TokenCacheError};
