//! Pre-parsing of a compact JWS before any signature work: size cap, segments, header JSON.

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::{Map, Value};

use super::JwtError;

/// The three segments of a compact JWS, header and payload decoded.
#[derive(Debug)]
pub(crate) struct RawToken<'a> {
    /// `header.payload`, the signed bytes.
    pub(crate) signing_input: &'a str,
    pub(crate) signature: &'a str,
    pub(crate) header: Map<String, Value>,
    pub(crate) payload: Map<String, Value>,
}

/// Splits `token`, refusing anything over `max_bytes` before looking at it.
pub(crate) fn split(token: &str, max_bytes: usize) -> Result<RawToken<'_>, JwtError> {
    if token.len() > max_bytes {
        return Err(JwtError::TooLarge { limit: max_bytes });
    }
    let (signing_input, signature) = token
        .rsplit_once('.')
        .ok_or(JwtError::Malformed("not three dot-separated segments"))?;
    let (header, payload) = signing_input
        .split_once('.')
        .ok_or(JwtError::Malformed("not three dot-separated segments"))?;
    if payload.contains('.') {
        return Err(JwtError::Malformed("not three dot-separated segments"));
    }
    if signature.is_empty() {
        return Err(JwtError::MissingSignature);
    }
    Ok(RawToken {
        signing_input,
        signature,
        header: decode_object(header, "header")?,
        payload: decode_object(payload, "payload")?,
    })
}

fn decode_object(segment: &str, what: &'static str) -> Result<Map<String, Value>, JwtError> {
    let bytes = crate::b64url_decode(segment).ok_or(JwtError::Malformed(match what {
        "header" => "header is not base64url",
        _ => "payload is not base64url",
    }))?;
    let object: UniqueKeyObject = serde_json::from_slice(&bytes).map_err(|e| {
        if e.to_string().starts_with(DUPLICATE) {
            JwtError::DuplicateKey
        } else if what == "header" {
            JwtError::Malformed("header is not a JSON object")
        } else {
            JwtError::Malformed("payload is not a JSON object")
        }
    })?;
    Ok(object.0)
}

const DUPLICATE: &str = "duplicate member";

/// A JSON object that refuses duplicate member names (RFC 7515 §4: a JOSE header with duplicate
/// names must be rejected; parsers disagreeing on which one wins is a known attack).
struct UniqueKeyObject(Map<String, Value>);

impl<'de> Deserialize<'de> for UniqueKeyObject {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ObjectVisitor;
        impl<'de> Visitor<'de> for ObjectVisitor {
            type Value = UniqueKeyObject;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Self::Value, A::Error> {
                let mut map = Map::new();
                while let Some((key, value)) = access.next_entry::<String, Value>()? {
                    if map.insert(key, value).is_some() {
                        return Err(serde::de::Error::custom(DUPLICATE));
                    }
                }
                Ok(UniqueKeyObject(map))
            }
        }
        deserializer.deserialize_map(ObjectVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicate_members_are_refused() {
        let header = crate::b64url_encode(br#"{"alg":"RS256","alg":"none"}"#);
        let payload = crate::b64url_encode(b"{}");
        let err = split(
            &format!("{header}.{payload}.c2ln"),
            crate::header::DEFAULT_MAX_AUTHORIZATION_BYTES,
        )
        .unwrap_err();
        assert_eq!(err, JwtError::DuplicateKey);
    }
}
