//! The built-in authenticators and what they share: reading a token endpoint's answer.

mod backend_url;
mod project_key;
mod static_token;

pub use backend_url::BackendUrlAuthenticator;
pub use project_key::ProjectKeyAuthenticator;
pub use static_token::StaticTokenAuthenticator;

use serde_json::Value;

use crate::token::seconds_from_json;
use crate::{AuthError, AuthToken};

/// Largest token-endpoint response read. A gateway accepts JWTs of 16 KiB by default (`[server]
/// max_authorization_bytes`); this leaves room.
const MAX_TOKEN_RESPONSE_BYTES: usize = 64 * 1024;

/// Turns a token endpoint's response into a token or a precise error.
pub(crate) async fn read_token_response(
    mut response: reqwest::Response,
) -> Result<AuthToken, AuthError> {
    let status = response.status();
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(AuthError::transport)? {
        if body.len().saturating_add(chunk.len()) > MAX_TOKEN_RESPONSE_BYTES {
            return Err(AuthError::InvalidResponse(
                "the token response is larger than 64 KiB",
            ));
        }
        body.extend_from_slice(&chunk);
    }
    if status.is_success() {
        parse_token_body(&body)
    } else {
        let code = error_code(&body);
        let status = status.as_u16();
        Err(match status {
            401 | 403 => AuthError::Rejected { status, code },
            _ => AuthError::Status { status, code },
        })
    }
}

/// Parses `{"token": "...", "expiresIn": n}`, saying exactly what is wrong otherwise (without
/// echoing any of the body, which may hold a token).
pub(crate) fn parse_token_body(body: &[u8]) -> Result<AuthToken, AuthError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|_| AuthError::InvalidResponse("the token response is not JSON"))?;
    let Value::Object(object) = value else {
        return Err(AuthError::InvalidResponse(
            "the token response is not a JSON object",
        ));
    };
    let token = match object.get("token") {
        Some(Value::String(token)) => token.clone(),
        Some(_) => return Err(AuthError::InvalidResponse("token is not a string")),
        None => return Err(AuthError::InvalidResponse("the response has no token")),
    };
    let expires_in = object
        .get("expiresIn")
        .ok_or(AuthError::InvalidResponse("the response has no expiresIn"))
        .and_then(|value| seconds_from_json(value).map_err(AuthError::InvalidResponse))?;
    Ok(AuthToken::new(token, expires_in))
}

/// The `error` member of an error body, if it looks like an error code (e.g. `invalid_client`)
/// rather than free text that could carry anything.
fn error_code(body: &[u8]) -> Option<String> {
    let value: Value = serde_json::from_slice(body).ok()?;
    let code = value.get("error")?.as_str()?;
    let plausible = !code.is_empty()
        && code.len() <= 64
        && code
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    plausible.then(|| code.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_token_shape() {
        let token = parse_token_body(br#"{"token":"abc","expiresIn":3600,"extra":1}"#).unwrap();
        assert_eq!(token, AuthToken::new("abc", 3600));
    }

    #[test]
    fn explains_unusable_bodies_without_echoing_them() {
        let cases: [(&[u8], &str); 7] = [
            (b"<html>secret</html>", "the token response is not JSON"),
            (b"[1]", "the token response is not a JSON object"),
            (br#"{"expiresIn":1}"#, "the response has no token"),
            (br#"{"token":1,"expiresIn":1}"#, "token is not a string"),
            (br#"{"token":"secret"}"#, "the response has no expiresIn"),
            (
                br#"{"token":"secret","expiresIn":-1}"#,
                "expiresIn is negative",
            ),
            (
                br#"{"token":"secret","expiresIn":"secret"}"#,
                "expiresIn is not a number",
            ),
        ];
        for (body, expected) in cases {
            let error = parse_token_body(body).unwrap_err();
            assert!(
                matches!(error, AuthError::InvalidResponse(m) if m == expected),
                "{error}"
            );
            assert!(!error.to_string().contains("secret"));
        }
    }

    #[test]
    fn error_codes_are_kept_only_when_they_look_like_codes() {
        assert_eq!(
            error_code(br#"{"error":"invalid_client","message":"x"}"#).as_deref(),
            Some("invalid_client")
        );
        assert_eq!(error_code(br#"{"error":"bad key kg_abc"}"#), None);
        assert_eq!(error_code(br#"{"error":""}"#), None);
        assert_eq!(error_code(b"not json"), None);
    }
}
