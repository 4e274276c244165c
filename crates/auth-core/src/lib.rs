#![doc = include_str!("../README.md")]

pub mod apikey;
pub mod header;
pub mod jwt;
pub mod kdf;
pub mod path;
pub mod policy;
pub mod routes;

pub use secrecy;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// base64url without padding, as JOSE uses it. `None` for anything else (including padding).
pub(crate) fn b64url_decode(input: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(input).ok()
}

#[cfg(test)]
pub(crate) fn b64url_encode(input: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(input)
}
