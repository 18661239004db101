//! The ES256 signing key of the authorization server and its JWKS entry.
//!
//! One P-256 key pair is generated per server start (tokens do not survive
//! a restart, which is what a test target wants). The `kid` is the RFC 7638
//! JWK thumbprint of the public key.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{DecodingKey, EncodingKey};
use p256::SecretKey;
use p256::pkcs8::EncodePrivateKey;
use rand_core::OsRng;
use sha2::{Digest, Sha256};

/// The AS's signing key pair.
pub struct SigningKeys {
    /// RFC 7638 thumbprint of the public key.
    pub kid: String,
    encoding: EncodingKey,
    decoding: DecodingKey,
    /// base64url x and y coordinates.
    x: String,
    y: String,
}

impl SigningKeys {
    /// Generates a fresh P-256 key pair.
    pub fn generate() -> Result<Self, String> {
        let secret = SecretKey::random(&mut OsRng);
        let der = secret
            .to_pkcs8_der()
            .map_err(|e| format!("PKCS#8 encoding failed: {e}"))?;
        let point = secret.public_key().to_sec1_bytes();
        // Uncompressed SEC1: 0x04 || x (32 bytes) || y (32 bytes).
        if point.len() != 65 || point[0] != 0x04 {
            return Err("unexpected public key encoding".into());
        }
        let x = URL_SAFE_NO_PAD.encode(&point[1..33]);
        let y = URL_SAFE_NO_PAD.encode(&point[33..65]);
        let decoding = DecodingKey::from_ec_components(&x, &y)
            .map_err(|e| format!("public key rejected: {e}"))?;
        // RFC 7638 §3.2: required members only, lexicographic order, no spaces.
        let thumbprint_input = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
        let kid = URL_SAFE_NO_PAD.encode(Sha256::digest(thumbprint_input.as_bytes()));
        Ok(Self {
            kid,
            encoding: EncodingKey::from_ec_der(der.as_bytes()),
            decoding,
            x,
            y,
        })
    }

    pub fn encoding_key(&self) -> &EncodingKey {
        &self.encoding
    }

    pub fn decoding_key(&self) -> &DecodingKey {
        &self.decoding
    }

    /// The public key as a JWK (RFC 7517 §4, RFC 7518 §6.2.1).
    pub fn public_jwk(&self) -> serde_json::Value {
        serde_json::json!({
            "kty": "EC",
            "crv": "P-256",
            "x": self.x,
            "y": self.y,
            "kid": self.kid,
            "alg": "ES256",
            "use": "sig",
        })
    }

    /// The JWK Set served at `jwks_uri`.
    pub fn jwks(&self) -> serde_json::Value {
        serde_json::json!({ "keys": [self.public_jwk()] })
    }
}

impl std::fmt::Debug for SigningKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        f.debug_struct("SigningKeys")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}
