//! The verifier a request uses: the static keys (PEM, token issuer) plus the current JWKS set.

use std::sync::Arc;

use arc_swap::ArcSwap;
use auth_core::jwt::JwtVerifier;

use super::Jwks;

/// One configuration's JWT keys. The merged verifier is rebuilt only when the JWKS set changes,
/// so a request pays two atomic loads.
pub(crate) struct JwtKeys {
    base: JwtVerifier,
    jwks: Option<Jwks>,
    merged: ArcSwap<Merged>,
}

/// A verifier for one JWKS version (0 without a JWKS).
#[derive(Debug)]
pub(crate) struct Merged {
    pub(crate) version: u64,
    pub(crate) verifier: JwtVerifier,
}

impl JwtKeys {
    pub(crate) fn new(base: JwtVerifier, jwks: Option<Jwks>) -> Self {
        let merged = match &jwks {
            Some(jwks) => merge(&base, jwks),
            None => Merged {
                version: 0,
                verifier: base.clone(),
            },
        };
        Self {
            base,
            jwks,
            merged: ArcSwap::from_pointee(merged),
        }
    }

    pub(crate) fn jwks(&self) -> Option<&Jwks> {
        self.jwks.as_ref()
    }

    /// The verifier for the current JWKS set.
    pub(crate) fn current(&self) -> Arc<Merged> {
        let merged = self.merged.load_full();
        let Some(jwks) = &self.jwks else {
            return merged;
        };
        if jwks.current().version == merged.version {
            return merged;
        }
        // Racing rebuilds are harmless: a stale store is noticed and redone by the next call.
        let fresh = Arc::new(merge(&self.base, jwks));
        self.merged.store(Arc::clone(&fresh));
        fresh
    }
}

fn merge(base: &JwtVerifier, jwks: &Jwks) -> Merged {
    let remote = jwks.current();
    Merged {
        version: remote.version,
        verifier: base.with_additional_keys(remote.keys.iter().cloned()),
    }
}
