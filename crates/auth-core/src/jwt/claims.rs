//! Verified claims: the typed registered claims plus the whole JSON object.

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::JwtError;

/// The claims of a verified token. `sub` and the JSON may be shown to handlers; they are not secrets.
#[derive(Debug, Clone, PartialEq)]
pub struct Claims {
    /// `iss`, equal to the configured issuer.
    pub iss: String,
    /// `sub`, when present.
    pub sub: Option<String>,
    /// `aud`, as a list (a single string becomes one element).
    pub aud: Vec<String>,
    /// `exp`, seconds since the Unix epoch.
    pub exp: u64,
    /// `nbf`, when present.
    pub nbf: Option<u64>,
    /// `iat`, when present.
    pub iat: Option<u64>,
    /// `jti`, when present.
    pub jti: Option<String>,
    /// The whole claims object, for application-specific claims.
    pub json: Map<String, Value>,
}

impl Claims {
    /// Deserializes the claims into an application's own type.
    ///
    /// # Errors
    /// The `serde_json` error when the claims do not fit `T`.
    pub fn deserialize<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_value(Value::Object(self.json.clone()))
    }

    /// A subject for logs and upstream headers: `sub`, or the issuer when there is none.
    #[must_use]
    pub fn subject(&self) -> &str {
        self.sub.as_deref().unwrap_or(&self.iss)
    }

    pub(crate) fn from_payload(payload: Map<String, Value>) -> Result<Self, JwtError> {
        let iss = match payload.get("iss") {
            None => return Err(JwtError::MissingClaim("iss")),
            Some(Value::String(s)) => s.clone(),
            Some(_) => return Err(JwtError::InvalidClaim("iss")),
        };
        let aud = match payload.get("aud") {
            None => return Err(JwtError::MissingClaim("aud")),
            Some(Value::String(s)) => vec![s.clone()],
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| {
                    v.as_str()
                        .map(str::to_owned)
                        .ok_or(JwtError::InvalidClaim("aud"))
                })
                .collect::<Result<_, _>>()?,
            Some(_) => return Err(JwtError::InvalidClaim("aud")),
        };
        let exp = numeric_date(&payload, "exp")?.ok_or(JwtError::MissingClaim("exp"))?;
        let nbf = numeric_date(&payload, "nbf")?;
        let iat = numeric_date(&payload, "iat")?;
        let sub = optional_string(&payload, "sub")?;
        let jti = optional_string(&payload, "jti")?;
        Ok(Self {
            iss,
            sub,
            aud,
            exp,
            nbf,
            iat,
            jti,
            json: payload,
        })
    }
}

/// A NumericDate (RFC 7519 §2): a non-negative JSON number, fractions truncated.
fn numeric_date(payload: &Map<String, Value>, name: &'static str) -> Result<Option<u64>, JwtError> {
    match payload.get(name) {
        None => Ok(None),
        Some(Value::Number(n)) => n
            .as_u64()
            .or_else(|| {
                n.as_f64()
                    .filter(|f| f.is_finite() && *f >= 0.0 && *f < 1e19)
                    .map(|f| f as u64)
            })
            .map(Some)
            .ok_or(JwtError::InvalidClaim(name)),
        Some(_) => Err(JwtError::InvalidClaim(name)),
    }
}

fn optional_string(
    payload: &Map<String, Value>,
    name: &'static str,
) -> Result<Option<String>, JwtError> {
    match payload.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(JwtError::InvalidClaim(name)),
    }
}
