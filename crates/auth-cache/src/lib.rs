//! What a server spends on verifying credentials, and what it keeps (reference §10).
//!
//! - [`verify`]: the verification cache, keyed by a keyed digest of the token (SipHash-2-4,
//!   128 bits, a random key per cache), never the token.
//! - [`pool`]: the bounded pool key derivations run on, off the async reactor.
//! - [`budget`]: failure budgets — what a client may make the server spend on wrong credentials.
//! - [`client`]: who is charged for that work.
//! - [`clock`]: the wall clock, in one place.
//!
//! The client SDK's token cache (reference §8) lives in `client-sdk` (`client_sdk::cache`), so
//! that clients compile neither quick_cache nor the server's policy types.

pub mod budget;
pub mod client;
pub mod clock;
pub mod pool;
pub mod verify;
