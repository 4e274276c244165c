//! The identity headers an upstream receives: who the request was let in as, and (optionally)
//! JWT claims and the JWT itself. Written by the gateway's proxy and by the forward-auth
//! endpoint, and nowhere else; inbound copies are removed first, in every spelling.

use auth_core::policy::{Denial, InvalidReason, Principal};
use http::header::AUTHORIZATION;
use http::{HeaderMap, HeaderName, HeaderValue};

/// `X-Keygate-Subject`: the JWT `sub`, `key:<key id>`, `admin`, or `anonymous`.
pub const SUBJECT_HEADER: HeaderName = HeaderName::from_static("x-keygate-subject");
/// `X-Keygate-Method`: `jwt`, `api_key`, `admin_token` or `none`.
pub const METHOD_HEADER: HeaderName = HeaderName::from_static("x-keygate-method");

/// `X-Keygate-Key-Name`: a managed key's name (docs/keys.md); sent only for managed keys (a
/// client's copy is removed like every `x-keygate-*` header).
pub const KEY_NAME_HEADER: HeaderName = HeaderName::from_static("x-keygate-key-name");

/// Every header keygate sets starts with this; inbound headers that do, also spelled with `_`
/// (CGI, WSGI and Rack fold `_` into `-`), are removed.
const IDENTITY_PREFIX: &str = "x-keygate-";

/// What the upstream is told besides subject and method (`[server] claim_headers`,
/// `forward_jwt`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IdentityHeaders {
    /// JWT claim → header name (Envoy's `claim_to_headers`).
    pub claim_headers: Vec<(String, HeaderName)>,
    /// Forward the verified JWT in `Authorization` (never an API key).
    pub forward_jwt: bool,
}

impl IdentityHeaders {
    /// Removes, from a client's request, every header the upstream must only ever get from
    /// keygate: `x-keygate-*` and the mapped claim headers (names compared with `_` read as
    /// `-`), and `Authorization`.
    pub fn strip_inbound(&self, headers: &mut HeaderMap) {
        let unwanted: Vec<HeaderName> = headers
            .keys()
            .filter(|name| self.is_reserved(name))
            .cloned()
            .collect();
        for name in unwanted {
            headers.remove(name);
        }
        headers.remove(AUTHORIZATION);
    }

    /// Whether a client's header named `name` must be removed because only keygate sets it:
    /// `x-keygate-*` and the mapped claim headers, `_` read as `-` (`Authorization`, the
    /// credential, is removed by [`IdentityHeaders::strip_inbound`] too).
    #[must_use]
    pub fn is_reserved(&self, name: &HeaderName) -> bool {
        starts_folded(name.as_str(), IDENTITY_PREFIX)
            || self
                .claim_headers
                .iter()
                .any(|(_, mapped)| equal_folded(name.as_str(), mapped.as_str()))
    }

    /// Sets in `headers` what tells the upstream who `principal` is: always subject and method
    /// (also for public routes, so a proxy that copies them never copies a placeholder), the
    /// mapped claims of a JWT (empty when a claim is absent, for the same reason), and the JWT
    /// itself when forwarding is on. `authorization` is the request's own header value.
    ///
    /// Written straight into the message that carries them (no list in between: the proxy does
    /// this for every request).
    ///
    /// # Errors
    /// A 401 [`Denial`] when the subject or a claim cannot be a header value faithfully
    /// (control characters, white space at either end): refused, never silently left out. Some
    /// headers may have been set by then; the caller answers the denial instead of `headers`.
    pub fn insert_for(
        &self,
        principal: &Principal,
        authorization: Option<&HeaderValue>,
        headers: &mut HeaderMap,
    ) -> Result<(), Denial> {
        let refused = Denial::InvalidToken(InvalidReason::SubjectNotForwardable);
        headers.insert(
            SUBJECT_HEADER,
            faithful_owned(principal.subject()).ok_or(refused)?,
        );
        headers.insert(METHOD_HEADER, HeaderValue::from_static(principal.method()));
        if let Principal::ManagedKey { name, .. } = principal {
            headers.insert(KEY_NAME_HEADER, faithful(name).ok_or(refused)?);
        }
        let claims = match principal {
            Principal::Jwt(claims) => Some(claims),
            _ => None,
        };
        for (claim, header) in &self.claim_headers {
            let value = match claims.and_then(|c| c.json.get(claim)) {
                None | Some(serde_json::Value::Null) => HeaderValue::from_static(""),
                Some(serde_json::Value::String(text)) => faithful(text).ok_or(refused)?,
                Some(other) => faithful_owned(other.to_string()).ok_or(refused)?,
            };
            headers.insert(header.clone(), value);
        }
        if self.forward_jwt
            && claims.is_some()
            && let Some(authorization) = authorization
        {
            headers.insert(AUTHORIZATION, authorization.clone());
        }
        Ok(())
    }
}

/// `text` as a header value, when a header can carry it unchanged: no control characters and
/// no white space at either end (which parsers trim).
fn faithful(text: &str) -> Option<HeaderValue> {
    is_faithful(text)
        .then(|| HeaderValue::from_str(text).ok())
        .flatten()
}

/// [`faithful`] for a string made for the header: its buffer becomes the value's, uncopied.
fn faithful_owned(text: String) -> Option<HeaderValue> {
    is_faithful(&text)
        .then(|| HeaderValue::from_maybe_shared(bytes::Bytes::from(text)).ok())
        .flatten()
}

fn is_faithful(text: &str) -> bool {
    !text.bytes().any(|b| b.is_ascii_control()) && text.trim() == text
}

/// Whether lower-case `name` starts with `prefix`, reading `_` in `name` as `-`.
fn starts_folded(name: &str, prefix: &str) -> bool {
    name.len() >= prefix.len()
        && name
            .bytes()
            .zip(prefix.bytes())
            .all(|(a, b)| a == b || (a == b'_' && b == b'-'))
}

/// Whether lower-case `name` equals `other`, reading `_` as `-` on both sides.
fn equal_folded(name: &str, other: &str) -> bool {
    name.len() == other.len()
        && name.bytes().zip(other.bytes()).all(|(a, b)| {
            let fold = |c: u8| if c == b'_' { b'-' } else { c };
            fold(a) == fold(b)
        })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn jwt(sub: &str, extra: serde_json::Value) -> Principal {
        let serde_json::Value::Object(json) = extra else {
            panic!("an object");
        };
        Principal::Jwt(Arc::new(auth_core::jwt::Claims {
            iss: "i".into(),
            sub: Some(sub.into()),
            aud: vec!["a".into()],
            exp: 1,
            nbf: None,
            iat: None,
            jti: None,
            json,
        }))
    }

    fn mapping() -> IdentityHeaders {
        IdentityHeaders {
            claim_headers: vec![
                ("email".into(), HeaderName::from_static("x-user-email")),
                ("groups".into(), HeaderName::from_static("x-user-groups")),
            ],
            forward_jwt: true,
        }
    }

    fn identity_of(
        principal: &Principal,
        authorization: Option<&HeaderValue>,
    ) -> Result<HeaderMap, Denial> {
        let mut headers = HeaderMap::new();
        mapping().insert_for(principal, authorization, &mut headers)?;
        Ok(headers)
    }

    #[test]
    fn identity_headers_are_removed_in_every_spelling() {
        let mut headers = HeaderMap::new();
        for name in [
            "x-keygate-subject",
            "X_Keygate_Subject",
            "x_keygate-method",
            "x-keygate-anything",
            "x_user_email",
            "x-user-groups",
            "authorization",
        ] {
            headers.insert(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_static("forged"),
            );
        }
        headers.insert("x-kept", HeaderValue::from_static("yes"));
        mapping().strip_inbound(&mut headers);
        let kept: Vec<&str> = headers.keys().map(HeaderName::as_str).collect();
        assert_eq!(kept, ["x-kept"]);
    }

    #[test]
    fn claims_are_mapped_and_missing_ones_are_empty() {
        let bearer = HeaderValue::from_static("Bearer eyJ.x.y");
        let principal = jwt(
            "alice",
            serde_json::json!({ "email": "a@example.com", "groups": ["x", "y"] }),
        );
        let headers = identity_of(&principal, Some(&bearer)).unwrap();
        let shown: Vec<(&str, &str)> = headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.to_str().unwrap()))
            .collect();
        assert_eq!(
            shown,
            [
                ("x-keygate-subject", "alice"),
                ("x-keygate-method", "jwt"),
                ("x-user-email", "a@example.com"),
                ("x-user-groups", r#"["x","y"]"#),
                ("authorization", "Bearer eyJ.x.y"),
            ]
        );
        let api_key = Principal::ApiKey {
            class: auth_core::policy::RouteClass::Consumption,
            key_id: auth_core::apikey::KeyId::of_stored("s"),
        };
        let headers = identity_of(&api_key, Some(&bearer)).unwrap();
        assert_eq!(headers.len(), 4, "no JWT to forward: {headers:?}");
        assert!(!headers.contains_key(AUTHORIZATION));
        assert_eq!(headers["x-user-email"], "");
    }

    #[test]
    fn values_a_header_cannot_carry_are_refused() {
        assert!(identity_of(&jwt("a\r\nb", serde_json::json!({})), None).is_err());
        assert!(identity_of(&jwt(" admin", serde_json::json!({})), None).is_err());
        let hostile = jwt("alice", serde_json::json!({ "email": "a@b\nX-Admin: 1" }));
        assert!(identity_of(&hostile, None).is_err());
        let fine = jwt("josé", serde_json::json!({}));
        let headers = identity_of(&fine, None).unwrap();
        assert_eq!(headers[SUBJECT_HEADER].as_bytes(), "josé".as_bytes());
    }
}
