//! The one PBKDF2 code path every API-key format goes through.
//!
//! `pbkdf2` 0.13 + `sha2` 0.11 is the fastest PBKDF2-HMAC-SHA256 measured on our machines
//! (see `docs/benchmarks.md`), so both formats share this function and its benchmark.

use sha2::Sha256;

/// Fills `out` with PBKDF2-HMAC-SHA256(`password`, `salt`, `iterations`).
///
/// Never panics: HMAC accepts keys of any length, and zero iterations (which no stored key can
/// name, see [`crate::apikey::PHC_ITERATIONS`]) yields the first block unchanged.
pub fn pbkdf2_sha256(password: &[u8], salt: &[u8], iterations: u32, out: &mut [u8]) {
    pbkdf2::pbkdf2_hmac::<Sha256>(password, salt, iterations, out);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_rfc_7914_vector() {
        let mut out = [0u8; 64];
        pbkdf2_sha256(b"passwd", b"salt", 1, &mut out);
        assert_eq!(
            hex::encode(out),
            "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc\
             49ca9cccf179b645991664b39d77ef317c71b845b1e30bd509112041d3a19783"
        );
    }
}
