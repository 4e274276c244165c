//! JWT keys: the algorithm is a property of the key, never of the token (reference §4).

use std::fmt;

use aws_lc_rs::encoding::{AsDer, PublicKeyX509Der};
use aws_lc_rs::signature::{self as lc, KeyPair};
use jsonwebtoken::jwk::{Jwk, PublicKeyUse, ThumbprintHash};
use jsonwebtoken::{Algorithm, DecodingKey, DecodingKeyKind, EncodingKey};
use secrecy::SecretString;

/// Smallest RSA modulus accepted, in bits.
pub const MIN_RSA_BITS: usize = 2048;

/// The three signature algorithms keygate verifies, one per key type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JwtAlgorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256: RSA keys (the documented Moose case).
    Rs256,
    /// ECDSA P-256 with SHA-256: EC P-256 keys.
    Es256,
    /// Ed25519: OKP keys.
    EdDsa,
}

impl JwtAlgorithm {
    /// The `alg` header value.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Rs256 => "RS256",
            Self::Es256 => "ES256",
            Self::EdDsa => "EdDSA",
        }
    }

    /// Parses an `alg` value exactly (case-sensitive, as RFC 7515 requires).
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "RS256" => Some(Self::Rs256),
            "ES256" => Some(Self::Es256),
            "EdDSA" => Some(Self::EdDsa),
            _ => None,
        }
    }

    pub(crate) fn to_jsonwebtoken(self) -> Algorithm {
        match self {
            Self::Rs256 => Algorithm::RS256,
            Self::Es256 => Algorithm::ES256,
            Self::EdDsa => Algorithm::EdDSA,
        }
    }
}

impl fmt::Display for JwtAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a key could not be loaded. Messages never contain key material.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The text is not PEM at all.
    #[error("not a PEM document (expected -----BEGIN PUBLIC KEY----- ...)")]
    NotPem,
    /// A PEM block of a kind keygate does not use.
    #[error("unsupported PEM block \"{0}\"")]
    UnsupportedPem(String),
    /// A private key where a public key is expected.
    #[error(
        "this is a private key; a public key is expected here (never configure private keys for verification)"
    )]
    PrivateKeyGiven,
    /// A public key where a private key is expected.
    #[error("this is a public key; a private key is expected here")]
    PublicKeyGiven,
    /// An RSA key under [`MIN_RSA_BITS`].
    #[error("the RSA key has {0} bits; at least 2048 are required")]
    RsaTooSmall(usize),
    /// An EC key on a curve other than P-256, or another unsupported key type.
    #[error("unsupported key type: {0} (supported: RSA >= 2048 bits, EC P-256, Ed25519)")]
    Unsupported(&'static str),
    /// A `CERTIFICATE` PEM whose content is not an X.509 certificate with a public key.
    #[error("the CERTIFICATE is not a valid X.509 certificate ({0})")]
    InvalidCertificate(&'static str),
    /// The DER inside the PEM does not decode as that kind of key.
    #[error("the key data is invalid")]
    Invalid,
    /// A JWK that cannot be used.
    #[error("unusable JWK: {0}")]
    Jwk(&'static str),
}

/// A public key that verifies JWT signatures, with its algorithm and optional `kid`.
#[derive(Clone)]
pub struct VerifyingKey {
    pub(crate) algorithm: JwtAlgorithm,
    pub(crate) key: DecodingKey,
    pub(crate) kid: Option<String>,
    /// The key parsed once for aws-lc: verifying with it skips re-parsing the key per token.
    parsed: lc::ParsedPublicKey,
}

impl fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifyingKey")
            .field("algorithm", &self.algorithm)
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl VerifyingKey {
    /// Loads a PEM public key: SPKI `PUBLIC KEY`, PKCS#1 `RSA PUBLIC KEY`, or the public key
    /// of an X.509 `CERTIFICATE` (as identity providers hand out signing certificates). A
    /// certificate is only a container for its key here: its dates, issuer and signature are
    /// not checked, and its key must meet the same rules as a bare one.
    ///
    /// # Errors
    /// [`KeyError`] for anything but an RSA ≥ 2048, EC P-256 or Ed25519 public key.
    pub fn from_pem(pem_text: &str) -> Result<Self, KeyError> {
        let block = pem::parse(pem_text.trim()).map_err(|_| KeyError::NotPem)?;
        match block.tag() {
            "PUBLIC KEY" | "RSA PUBLIC KEY" => {}
            "CERTIFICATE" => {
                let spki = certificate_spki(block.contents())?;
                return Self::from_pem(&pem::encode(&pem::Pem::new("PUBLIC KEY", spki)));
            }
            tag if tag.contains("PRIVATE KEY") => return Err(KeyError::PrivateKeyGiven),
            tag => return Err(KeyError::UnsupportedPem(tag.to_owned())),
        }
        let bytes = pem_text.trim().as_bytes();
        let (algorithm, key) = if let Ok(key) = DecodingKey::from_rsa_pem(bytes) {
            let DecodingKeyKind::SecretOrDer(pkcs1) = key.kind() else {
                return Err(KeyError::Invalid);
            };
            check_rsa_bits(pkcs1_modulus_bits(pkcs1)?)?;
            (JwtAlgorithm::Rs256, key)
        } else if let Ok(key) = DecodingKey::from_ec_pem(bytes) {
            let point = key.try_get_as_bytes().map_err(|_| KeyError::Invalid)?;
            // An uncompressed P-256 point is 0x04 || x(32) || y(32).
            if point.len() != 65 || point.first() != Some(&0x04) {
                return Err(KeyError::Unsupported("EC key on a curve other than P-256"));
            }
            (JwtAlgorithm::Es256, key)
        } else if let Ok(key) = DecodingKey::from_ed_pem(bytes) {
            if key.try_get_as_bytes().map_err(|_| KeyError::Invalid)?.len() != 32 {
                return Err(KeyError::Unsupported("Ed448"));
            }
            (JwtAlgorithm::EdDsa, key)
        } else {
            return Err(KeyError::Unsupported("unrecognised public key algorithm"));
        };
        Self::new(algorithm, key, None)
    }

    /// Loads a key from a JWK (as served by a JWKS endpoint). The algorithm follows from `kty`/`crv`.
    ///
    /// # Errors
    /// [`KeyError`] for unsupported key types, small RSA keys or bad encodings.
    pub fn from_jwk(jwk: &Jwk) -> Result<Self, KeyError> {
        use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve};
        let algorithm = match &jwk.algorithm {
            AlgorithmParameters::RSA(rsa) => {
                let n = crate::b64url_decode(&rsa.n).ok_or(KeyError::Jwk("n is not base64url"))?;
                check_rsa_bits(modulus_bits(&n))?;
                JwtAlgorithm::Rs256
            }
            AlgorithmParameters::EllipticCurve(ec) if ec.curve == EllipticCurve::P256 => {
                JwtAlgorithm::Es256
            }
            AlgorithmParameters::OctetKeyPair(okp) if okp.curve == EllipticCurve::Ed25519 => {
                JwtAlgorithm::EdDsa
            }
            AlgorithmParameters::OctetKey(_) => {
                return Err(KeyError::Jwk("symmetric keys are never accepted"));
            }
            _ => return Err(KeyError::Unsupported("JWK curve")),
        };
        if jwk
            .common
            .public_key_use
            .as_ref()
            .is_some_and(|u| *u != PublicKeyUse::Signature)
        {
            return Err(KeyError::Jwk("use is not sig"));
        }
        let key =
            DecodingKey::from_jwk(jwk).map_err(|_| KeyError::Jwk("invalid key parameters"))?;
        Self::new(algorithm, key, jwk.common.key_id.clone())
    }

    fn new(
        algorithm: JwtAlgorithm,
        key: DecodingKey,
        kid: Option<String>,
    ) -> Result<Self, KeyError> {
        let verification: &'static dyn lc::VerificationAlgorithm = match algorithm {
            JwtAlgorithm::Rs256 => &lc::RSA_PKCS1_2048_8192_SHA256,
            JwtAlgorithm::Es256 => &lc::ECDSA_P256_SHA256_FIXED,
            JwtAlgorithm::EdDsa => &lc::ED25519,
        };
        // PEM keys hold DER (PKCS#1 for RSA, the point for EC, the raw key for Ed25519);
        // JWK RSA keys hold (n, e), which aws-lc takes as an SPKI.
        let bytes = match key.kind() {
            DecodingKeyKind::SecretOrDer(der) => der.clone(),
            DecodingKeyKind::RsaModulusExponent { n, e } => {
                let components = aws_lc_rs::rsa::PublicKeyComponents {
                    n: n.as_slice(),
                    e: e.as_slice(),
                };
                spki_der(&components)?
            }
        };
        let parsed =
            lc::ParsedPublicKey::new(verification, bytes).map_err(|_| KeyError::Invalid)?;
        Ok(Self {
            algorithm,
            key,
            kid,
            parsed,
        })
    }

    /// The same key with its RFC 7638 (SHA-256) thumbprint as `kid`: the id keygate's token
    /// issuer signs with, also for its previous keys.
    ///
    /// # Errors
    /// [`KeyError`] if the key cannot be expressed as a JWK.
    pub fn with_thumbprint_kid(self) -> Result<Self, KeyError> {
        let thumbprint = self
            .to_jwk()?
            .thumbprint(ThumbprintHash::SHA256)
            .map_err(|_| KeyError::Invalid)?;
        Ok(self.with_kid(thumbprint))
    }

    /// Sets the key id tokens must name to select this key.
    #[must_use]
    pub fn with_kid(mut self, kid: impl Into<String>) -> Self {
        self.kid = Some(kid.into());
        self
    }

    /// The algorithm this key verifies.
    #[must_use]
    pub fn algorithm(&self) -> JwtAlgorithm {
        self.algorithm
    }

    /// The key id, if any.
    #[must_use]
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// This key as a public JWK (for a JWKS document).
    ///
    /// # Errors
    /// [`KeyError::Invalid`] if the key cannot be expressed as a JWK.
    pub fn to_jwk(&self) -> Result<Jwk, KeyError> {
        let mut jwk = Jwk::from_decoding_key(&self.key, Some(self.algorithm.to_jsonwebtoken()))
            .map_err(|_| KeyError::Invalid)?;
        jwk.common.key_id.clone_from(&self.kid);
        jwk.common.public_key_use = Some(PublicKeyUse::Signature);
        Ok(jwk)
    }

    /// Checks a signature over `message`; `signature_b64` is the third JWT segment.
    pub(crate) fn verify_signature(&self, message: &[u8], signature_b64: &str) -> bool {
        crate::b64url_decode(signature_b64)
            .is_some_and(|signature| self.parsed.verify_sig(message, &signature).is_ok())
    }
}

/// A private key that signs tokens (the token issuer of reference §7), with its public half.
#[derive(Clone)]
pub struct SigningKey {
    key: EncodingKey,
    public: VerifyingKey,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("public", &self.public)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// Loads a PKCS#8 `PRIVATE KEY` (RSA, EC P-256 or Ed25519) or PKCS#1 `RSA PRIVATE KEY`.
    /// The key id is the RFC 7638 thumbprint of the public key.
    ///
    /// # Errors
    /// [`KeyError`] for public keys, unsupported algorithms or small RSA keys.
    pub fn from_pem(pem_text: &str) -> Result<Self, KeyError> {
        let block = pem::parse(pem_text.trim()).map_err(|_| KeyError::NotPem)?;
        let der = block.contents();
        let public_spki = match block.tag() {
            "PRIVATE KEY" => public_spki_of_pkcs8(der)?,
            "RSA PRIVATE KEY" => {
                let pair = lc::RsaKeyPair::from_der(der).map_err(|_| KeyError::Invalid)?;
                spki_der(pair.public_key())?
            }
            tag if tag.contains("PUBLIC KEY") => return Err(KeyError::PublicKeyGiven),
            tag => return Err(KeyError::UnsupportedPem(tag.to_owned())),
        };
        let public_pem = pem::encode(&pem::Pem::new("PUBLIC KEY", public_spki));
        let public = VerifyingKey::from_pem(&public_pem)?;
        let bytes = pem_text.trim().as_bytes();
        let key = match public.algorithm {
            JwtAlgorithm::Rs256 => EncodingKey::from_rsa_pem(bytes),
            JwtAlgorithm::Es256 => EncodingKey::from_ec_pem(bytes),
            JwtAlgorithm::EdDsa => EncodingKey::from_ed_pem(bytes),
        }
        .map_err(|_| KeyError::Invalid)?;
        Ok(Self {
            key,
            public: public.with_thumbprint_kid()?,
        })
    }

    /// The public half, carrying this key's `kid`.
    #[must_use]
    pub fn verifying_key(&self) -> &VerifyingKey {
        &self.public
    }

    /// The key id put in every token header.
    #[must_use]
    pub fn kid(&self) -> &str {
        self.public.kid().unwrap_or_default()
    }

    /// Signs `claims` with a header naming this key's algorithm and `kid`.
    ///
    /// # Errors
    /// [`KeyError::Invalid`] if signing fails (it does not for keys this type accepted).
    pub fn sign(&self, claims: &serde_json::Value) -> Result<String, KeyError> {
        let mut header = jsonwebtoken::Header::new(self.public.algorithm.to_jsonwebtoken());
        header.kid = self.public.kid.clone();
        jsonwebtoken::encode(&header, claims, &self.key).map_err(|_| KeyError::Invalid)
    }
}

/// A freshly generated key pair in PEM (PKCS#8 private, SPKI public).
#[derive(Debug)]
pub struct PemKeyPair {
    /// The private key. Redacted in `Debug`.
    pub private_pem: SecretString,
    /// The public key.
    pub public_pem: String,
}

/// Generates a key pair for `algorithm` from the OS CSPRNG (RSA keys are 2048 bits).
///
/// # Errors
/// [`KeyError::Invalid`] if the crypto library fails to generate or encode the key.
pub fn generate_key_pair(algorithm: JwtAlgorithm) -> Result<PemKeyPair, KeyError> {
    let (private, public) = match algorithm {
        JwtAlgorithm::Rs256 => {
            let pair = lc::RsaKeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048)
                .map_err(|_| KeyError::Invalid)?;
            let private: aws_lc_rs::encoding::Pkcs8V1Der<'_> =
                pair.as_der().map_err(|_| KeyError::Invalid)?;
            (private.as_ref().to_vec(), spki_der(pair.public_key())?)
        }
        JwtAlgorithm::Es256 => {
            let pair = lc::EcdsaKeyPair::generate(&lc::ECDSA_P256_SHA256_FIXED_SIGNING)
                .map_err(|_| KeyError::Invalid)?;
            let private = pair.to_pkcs8v1().map_err(|_| KeyError::Invalid)?;
            (private.as_ref().to_vec(), spki_der(pair.public_key())?)
        }
        JwtAlgorithm::EdDsa => {
            let pair = lc::Ed25519KeyPair::generate().map_err(|_| KeyError::Invalid)?;
            let private = pair.to_pkcs8v1().map_err(|_| KeyError::Invalid)?;
            (private.as_ref().to_vec(), spki_der(pair.public_key())?)
        }
    };
    Ok(PemKeyPair {
        private_pem: SecretString::from(pem::encode(&pem::Pem::new("PRIVATE KEY", private))),
        public_pem: pem::encode(&pem::Pem::new("PUBLIC KEY", public)),
    })
}

fn spki_der<K: AsDer<PublicKeyX509Der<'static>>>(public: &K) -> Result<Vec<u8>, KeyError> {
    public
        .as_der()
        .map(|der| der.as_ref().to_vec())
        .map_err(|_| KeyError::Invalid)
}

/// The SPKI of the public half of a PKCS#8 private key, trying each supported algorithm.
fn public_spki_of_pkcs8(der: &[u8]) -> Result<Vec<u8>, KeyError> {
    if let Ok(pair) = lc::RsaKeyPair::from_pkcs8(der) {
        return spki_der(pair.public_key());
    }
    if let Ok(pair) = lc::EcdsaKeyPair::from_pkcs8(&lc::ECDSA_P256_SHA256_FIXED_SIGNING, der) {
        return spki_der(pair.public_key());
    }
    if let Ok(pair) = lc::Ed25519KeyPair::from_pkcs8_maybe_unchecked(der) {
        return spki_der(pair.public_key());
    }
    Err(KeyError::Unsupported(
        "private key is not RSA, EC P-256 or Ed25519",
    ))
}

fn check_rsa_bits(bits: usize) -> Result<(), KeyError> {
    if bits < MIN_RSA_BITS {
        Err(KeyError::RsaTooSmall(bits))
    } else {
        Ok(())
    }
}

/// Bit length of a big-endian unsigned integer.
fn modulus_bits(n: &[u8]) -> usize {
    let start = n.iter().position(|&b| b != 0).unwrap_or(n.len());
    n.get(start..).map_or(0, |n| match n.first() {
        Some(first) => n.len() * 8 - first.leading_zeros() as usize,
        None => 0,
    })
}

/// The DER `SubjectPublicKeyInfo` of a DER X.509 certificate (RFC 5280 §4.1), found by structure
/// (never by searching for the first key-like OID or bit string):
///
/// ```text
/// Certificate  ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue }
/// TBSCertificate ::= SEQUENCE { version [0] EXPLICIT OPTIONAL, serialNumber, signature,
///                               issuer, validity, subject, subjectPublicKeyInfo, ... }
/// SubjectPublicKeyInfo ::= SEQUENCE { algorithm AlgorithmIdentifier, subjectPublicKey BIT STRING }
/// ```
fn certificate_spki(der: &[u8]) -> Result<Vec<u8>, KeyError> {
    use simple_asn1::{ASN1Block, ASN1Class, BigUint};
    let blocks = simple_asn1::from_der(der)
        .map_err(|_| KeyError::InvalidCertificate("the content is not DER"))?;
    let not_a_certificate = KeyError::InvalidCertificate("not a Certificate structure");
    let [ASN1Block::Sequence(_, certificate)] = blocks.as_slice() else {
        return Err(not_a_certificate);
    };
    let [
        ASN1Block::Sequence(_, tbs),
        ASN1Block::Sequence(..),
        ASN1Block::BitString(..),
    ] = certificate.as_slice()
    else {
        return Err(not_a_certificate);
    };
    // Version 1 certificates have no version field; later ones start with `[0] EXPLICIT`.
    let skip = match tbs.first() {
        Some(ASN1Block::Explicit(ASN1Class::ContextSpecific, _, tag, _))
            if *tag == BigUint::from(0u8) =>
        {
            1
        }
        _ => 0,
    };
    let fields = tbs.get(skip..).unwrap_or_default();
    // serialNumber, signature, issuer, validity, subject, subjectPublicKeyInfo
    let Some(
        [
            ASN1Block::Integer(..),
            ASN1Block::Sequence(..),
            ASN1Block::Sequence(..),
            ASN1Block::Sequence(..),
            ASN1Block::Sequence(..),
            spki @ ASN1Block::Sequence(_, spki_fields),
        ],
    ) = fields.get(..6)
    else {
        return Err(not_a_certificate);
    };
    if !matches!(
        spki_fields.as_slice(),
        [ASN1Block::Sequence(..), ASN1Block::BitString(..)]
    ) {
        return Err(KeyError::InvalidCertificate(
            "its subjectPublicKeyInfo is malformed",
        ));
    }
    simple_asn1::to_der(spki)
        .map_err(|_| KeyError::InvalidCertificate("its subjectPublicKeyInfo is malformed"))
}

/// Modulus size of a PKCS#1 `RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }`.
fn pkcs1_modulus_bits(der: &[u8]) -> Result<usize, KeyError> {
    use simple_asn1::ASN1Block;
    let blocks = simple_asn1::from_der(der).map_err(|_| KeyError::Invalid)?;
    match blocks.first() {
        Some(ASN1Block::Sequence(_, items)) => match items.first() {
            Some(ASN1Block::Integer(_, n)) => Ok(modulus_bits(&n.to_bytes_be().1)),
            _ => Err(KeyError::Invalid),
        },
        _ => Err(KeyError::Invalid),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modulus_bits_ignores_leading_zero_bytes() {
        assert_eq!(modulus_bits(&[0, 0x80, 0]), 16);
        assert_eq!(modulus_bits(&[0x01]), 1);
        assert_eq!(modulus_bits(&[0, 0]), 0);
    }

    #[test]
    fn generated_pairs_load_with_the_matching_algorithm() {
        for alg in [
            JwtAlgorithm::Rs256,
            JwtAlgorithm::Es256,
            JwtAlgorithm::EdDsa,
        ] {
            use secrecy::ExposeSecret;
            let pair = generate_key_pair(alg).unwrap();
            assert_eq!(
                VerifyingKey::from_pem(&pair.public_pem)
                    .unwrap()
                    .algorithm(),
                alg
            );
            let signing = SigningKey::from_pem(pair.private_pem.expose_secret()).unwrap();
            assert_eq!(signing.verifying_key().algorithm(), alg);
            assert!(!signing.kid().is_empty());
            assert_eq!(
                VerifyingKey::from_pem(pair.private_pem.expose_secret()).unwrap_err(),
                KeyError::PrivateKeyGiven
            );
            assert_eq!(
                SigningKey::from_pem(&pair.public_pem).unwrap_err(),
                KeyError::PublicKeyGiven
            );
            let jwk = signing.verifying_key().to_jwk().unwrap();
            assert_eq!(VerifyingKey::from_jwk(&jwk).unwrap().algorithm(), alg);
        }
    }

    #[test]
    fn garbage_is_not_pem() {
        assert_eq!(
            VerifyingKey::from_pem("hello").unwrap_err(),
            KeyError::NotPem
        );
        let cert = "-----BEGIN FOO-----\nAAAA\n-----END FOO-----\n";
        assert_eq!(
            VerifyingKey::from_pem(cert).unwrap_err(),
            KeyError::UnsupportedPem("FOO".into())
        );
    }
}
