//! keygate's server-side cache.
//!
//! - [`verify`]: the server's verification cache (SPEC §10), keyed by SHA-256 of the token.
//!
//! The client SDK's token cache (SPEC §8) lives in `client-sdk` (`client_sdk::cache`), so that
//! clients compile neither moka nor the server's policy types.

pub mod verify;
