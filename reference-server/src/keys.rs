//! The ES256 signing key of the authorization server and its JWKS entry.
//!
//! One P-256 key pair is generated per server start (tokens do not survive
//! a restart, which is what a test target wants). The `kid` is the RFC 7638
//! JWK thumbprint of the public key.
//!
//! Signing uses ring, verification jsonwebtoken (RustCrypto). jsonwebtoken's
//! `encode` re-parses the PKCS#8 key and re-derives the public key on every
//! call and then signs in portable Rust: about 1 ms per token on the 2-core
//! bench machine, which capped code exchanges below 1,000/s. ring keeps the
//! parsed key and signs in about 30 µs. The output is the same ES256 JWS
//! (RFC 7518 §3.4: fixed 64-byte `r || s`), and the tests check every
//! token with jsonwebtoken, an independent implementation.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use std::collections::HashMap;
use std::sync::Mutex;

use jsonwebtoken::DecodingKey;
use p256::SecretKey;
use p256::pkcs8::EncodePrivateKey;
use rand_core::OsRng;
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
use sha2::{Digest, Sha256};

use crate::tokens::AccessClaims;

/// How many verified tokens [`SigningKeys::verified`] remembers. Clients
/// reuse one access token for many requests; a few thousand distinct live
/// tokens cover any test run, and the memo stays under a few MiB.
const VERIFIED_MEMO_MAX: usize = 4096;

/// The AS's signing key pair.
pub struct SigningKeys {
    /// RFC 7638 thumbprint of the public key.
    pub kid: String,
    signing: EcdsaKeyPair,
    rng: SystemRandom,
    /// base64url of the constant JOSE header `{"typ":"at+jwt","alg":"ES256","kid":...}`.
    header_b64: String,
    decoding: DecodingKey,
    /// SHA-256 of a token whose signature verified under this key → its
    /// claims. See [`SigningKeys::remember_verified`].
    verified: Mutex<HashMap<[u8; 32], AccessClaims>>,
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
        let rng = SystemRandom::new();
        let signing =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der.as_bytes(), &rng)
                .map_err(|e| format!("ring rejected the PKCS#8 key: {e}"))?;
        // RFC 9068 §2.1: `typ` is `at+jwt`; `kid` names the JWKS entry.
        let header = serde_json::json!({ "typ": "at+jwt", "alg": "ES256", "kid": kid });
        let header_b64 = URL_SAFE_NO_PAD.encode(header.to_string());
        Ok(Self {
            kid,
            signing,
            rng,
            header_b64,
            decoding,
            verified: Mutex::new(HashMap::new()),
            x,
            y,
        })
    }

    /// A compact ES256 JWS (RFC 7515 §7.1) of `payload_json`, with the
    /// access token header.
    pub fn sign_jws(&self, payload_json: &[u8]) -> Result<String, ring::error::Unspecified> {
        let mut out =
            String::with_capacity(self.header_b64.len() + payload_json.len() * 4 / 3 + 90);
        out.push_str(&self.header_b64);
        out.push('.');
        URL_SAFE_NO_PAD.encode_string(payload_json, &mut out);
        let signature = self.signing.sign(&self.rng, out.as_bytes())?;
        out.push('.');
        URL_SAFE_NO_PAD.encode_string(signature.as_ref(), &mut out);
        Ok(out)
    }

    /// The claims of `token` if its signature was already verified with
    /// this key.
    pub fn verified(&self, token_hash: &[u8; 32]) -> Option<AccessClaims> {
        self.memo().get(token_hash).cloned()
    }

    /// Remembers that the token with SHA-256 `token_hash` carries a valid
    /// signature of this key and decodes to `claims`. Memoising is exact:
    /// the signature check is a pure function of the token bytes and this
    /// key, which never changes; everything that can change (expiry on the
    /// virtual clock, revocation, audience) is still checked on every use.
    /// Only the expensive ECDSA verification (~0.5 ms in portable Rust) is
    /// skipped when a client presents the same token again. Bounded: when
    /// full the memo is emptied, which costs only re-verification.
    pub fn remember_verified(&self, token_hash: [u8; 32], claims: &AccessClaims) {
        let mut memo = self.memo();
        if memo.len() >= VERIFIED_MEMO_MAX {
            memo.clear();
        }
        memo.insert(token_hash, claims.clone());
    }

    fn memo(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], AccessClaims>> {
        // Every update is one insert or clear: a poisoned lock is still consistent.
        self.verified.lock().unwrap_or_else(|p| p.into_inner())
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

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(jti: &str) -> AccessClaims {
        AccessClaims {
            iss: "http://127.0.0.1:1".into(),
            sub: "alice".into(),
            aud: "http://127.0.0.1:1/mcp".into(),
            exp: 2,
            iat: 1,
            jti: jti.into(),
            scope: "mcp:tools".into(),
            client_id: "c".into(),
        }
    }

    /// ring's signature must be what jsonwebtoken (RustCrypto) verifies,
    /// under the RFC 9068 header.
    #[test]
    fn ring_signed_tokens_verify_with_jsonwebtoken() {
        let keys = SigningKeys::generate().unwrap();
        let payload = serde_json::to_vec(&claims("j1")).unwrap();
        let token = keys.sign_jws(&payload).unwrap();
        let header = jsonwebtoken::decode_header(&token).unwrap();
        assert_eq!(header.alg, jsonwebtoken::Algorithm::ES256);
        assert_eq!(header.typ.as_deref(), Some("at+jwt"));
        assert_eq!(header.kid.as_deref(), Some(keys.kid.as_str()));
        let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
        v.validate_exp = false;
        v.validate_aud = false;
        v.required_spec_claims.clear();
        let data = jsonwebtoken::decode::<AccessClaims>(&token, keys.decoding_key(), &v).unwrap();
        assert_eq!(data.claims.jti, "j1");
        // Another key's verifier refuses it.
        let other = SigningKeys::generate().unwrap();
        assert!(jsonwebtoken::decode::<AccessClaims>(&token, other.decoding_key(), &v).is_err());
    }

    #[test]
    fn the_verified_memo_is_bounded() {
        let keys = SigningKeys::generate().unwrap();
        for i in 0..=VERIFIED_MEMO_MAX {
            let mut h = [0u8; 32];
            h[..8].copy_from_slice(&(i as u64).to_le_bytes());
            keys.remember_verified(h, &claims("j"));
        }
        assert!(keys.memo().len() <= VERIFIED_MEMO_MAX);
        assert!(keys.verified(&[0xff; 32]).is_none());
    }
}
