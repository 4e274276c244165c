//! What a cache entry knows of its token: a keyed 128-bit digest, never the token.
//!
//! The digest is SipHash-2-4 with its 128-bit output, under a 128-bit key each cache draws
//! from the OS when it is made. That key is what lets a fast PRF stand where an unkeyed hash
//! was (SHA-256: two compressions for a 65-byte Moose token, 88 ns, against 31 ns):
//!
//! - A client never sees a digest or the key, so it cannot search for a token whose digest
//!   equals a cached one's; a blind guess hits one of `n` entries with probability `n / 2¹²⁸`.
//! - Two different tokens that are both presented collide by chance with probability about
//!   `n² / 2¹²⁹` among `n` entries: never, at any cache size.
//! - A dump of the process's memory yields the key and the digests. From those a token is found
//!   only by guessing it, as with an unkeyed hash (the tokens keygate generates carry 128 or
//!   256 random bits).

use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::BuildHasher;

use siphasher::sip128::SipHasher24;

/// Digests tokens under one random key; `Debug` never shows the key.
pub(super) struct TokenDigester {
    keyed: SipHasher24,
}

impl TokenDigester {
    /// A digester with a fresh key from the OS's random source.
    pub(super) fn random() -> Self {
        let mut key = [0u8; 16];
        if getrandom::fill(&mut key).is_err() {
            // Not seen on a running system; std's own OS-seeded keys (its `HashMap` DoS
            // protection) are the next best secret, and better than refusing to cache.
            let std_keys = RandomState::new();
            for (half, salt) in key.chunks_exact_mut(8).zip([0u8, 1]) {
                half.copy_from_slice(&std_keys.hash_one(salt).to_le_bytes());
            }
        }
        Self::with_key(&key)
    }

    fn with_key(key: &[u8; 16]) -> Self {
        Self {
            keyed: SipHasher24::new_with_key(key),
        }
    }

    /// The token's digest under this digester's key.
    pub(super) fn digest(&self, token: &str) -> u128 {
        self.keyed.hash(token.as_bytes()).into()
    }
}

impl fmt::Debug for TokenDigester {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenDigester").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MOOSE_TOKEN: &str = "0123456789abcdef0123456789abcdef.fedcba9876543210fedcba9876543210";

    #[test]
    fn it_is_siphash_2_4_with_the_128_bit_output() {
        // The reference implementation's first 128-bit vector: key 00..0f, empty message.
        let key: [u8; 16] = std::array::from_fn(|i| u8::try_from(i).unwrap_or_default());
        let expected: [u8; 16] = [
            0xa3, 0x81, 0x7f, 0x04, 0xba, 0x25, 0xa8, 0xe6, 0x6d, 0xf6, 0x72, 0x14, 0xc7, 0x55,
            0x02, 0x93,
        ];
        let digest = TokenDigester::with_key(&key).digest("");
        assert_eq!(digest.to_le_bytes(), expected);
    }

    #[test]
    fn every_cache_draws_its_own_key() {
        let (first, second) = (TokenDigester::random(), TokenDigester::random());
        assert_ne!(first.digest(MOOSE_TOKEN), second.digest(MOOSE_TOKEN));
        assert_eq!(first.digest(MOOSE_TOKEN), first.digest(MOOSE_TOKEN));
    }

    #[test]
    fn a_change_anywhere_in_the_token_changes_the_digest() {
        let digester = TokenDigester::random();
        let original = digester.digest(MOOSE_TOKEN);
        for position in 0..MOOSE_TOKEN.len() {
            let mut changed = MOOSE_TOKEN.as_bytes().to_vec();
            if let Some(byte) = changed.get_mut(position) {
                *byte = if *byte == b'0' { b'1' } else { b'0' };
            }
            let changed = String::from_utf8(changed).unwrap_or_default();
            assert_ne!(digester.digest(&changed), original, "position {position}");
        }
        assert_ne!(digester.digest(&MOOSE_TOKEN[..64]), original);
        assert_ne!(digester.digest(&format!("{MOOSE_TOKEN}0")), original);
    }

    #[test]
    fn debug_never_shows_the_key() {
        let key = [0xab; 16];
        let shown = format!("{:?}", TokenDigester::with_key(&key));
        assert_eq!(shown, "TokenDigester { .. }");
    }
}
