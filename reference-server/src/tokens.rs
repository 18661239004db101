//! Access tokens: ES256 JWTs minted by the AS and verified by the MCP
//! endpoint. The verify signature is the contract the MCP side calls.
//!
//! Claims: `iss`, `aud` (the one resource the token is for, RFC 8707),
//! `sub`, `exp`, `iat`, `scope`, `client_id`, `jti` (the handle revocation
//! works on). Every time comparison uses the server's virtual clock, so the
//! test controls can expire tokens.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, Validation};
use rand_core::{OsRng, RngCore};
use sha2::{Digest as _, Sha256};

use crate::config::Fault;
use crate::server::{AppState, Shared};

/// The claims of a verified access token.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct AccessClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub exp: u64,
    pub iat: u64,
    pub jti: String,
    pub scope: String,
    pub client_id: String,
}

impl AccessClaims {
    /// Whether the space-delimited `scope` claim contains `wanted`.
    pub fn has_scope(&self, wanted: &str) -> bool {
        self.scope.split(' ').any(|s| s == wanted)
    }
}

/// Why a bearer token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenRejection {
    #[error("the token is not a well-formed JWT")]
    Malformed,
    #[error("the token signature does not verify")]
    BadSignature,
    #[error("the token has expired")]
    Expired,
    #[error("the token was issued for another resource")]
    WrongAudience,
    #[error("the token was issued by another issuer")]
    WrongIssuer,
    #[error("the token has been revoked")]
    Revoked,
}

/// Longest bearer token considered at all; anything longer is garbage.
pub const MAX_TOKEN_LEN: usize = 8 * 1024;

/// `n` random bytes from the OS, base64url without padding.
pub fn random_string(n: usize) -> String {
    let mut buf = vec![0u8; n];
    OsRng.fill_bytes(&mut buf);
    URL_SAFE_NO_PAD.encode(&buf)
}

/// Builds the claims of a new access token (fresh `jti`, `iat` = now).
pub fn new_claims(
    state: &Shared,
    sub: &str,
    client_id: &str,
    scope: &str,
    aud: &str,
) -> AccessClaims {
    let now = state.clock.now_secs();
    AccessClaims {
        iss: state.urls.issuer.clone(),
        sub: sub.to_owned(),
        aud: aud.to_owned(),
        exp: now.saturating_add(state.config.access_token_ttl.as_secs()),
        iat: now,
        jti: random_string(16),
        scope: scope.to_owned(),
        client_id: client_id.to_owned(),
    }
}

/// Why an access token could not be minted.
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    #[error("failed to encode the claims: {0}")]
    Encode(#[from] serde_json::Error),
    #[error("the ES256 signing operation failed")]
    Crypto,
}

/// Signs `claims` with the AS key (ES256, header `kid`, `typ` per RFC 9068).
pub fn sign(state: &Shared, claims: &AccessClaims) -> Result<String, SignError> {
    let payload = serde_json::to_vec(claims)?;
    state.keys.sign_jws(&payload).map_err(|_| SignError::Crypto)
}

/// Decodes `token` and checks its signature with the AS key, nothing else.
/// Revocation uses it too (an expired token may still be revoked). A token
/// that verified before is answered from the keys' memo (see
/// [`crate::keys::SigningKeys::remember_verified`]).
pub fn decode_signed(state: &Shared, token: &str) -> Result<AccessClaims, TokenRejection> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(TokenRejection::Malformed);
    }
    let token_hash: [u8; 32] = Sha256::digest(token.as_bytes()).into();
    if let Some(claims) = state.keys.verified(&token_hash) {
        return Ok(claims);
    }
    let mut validation = Validation::new(Algorithm::ES256);
    // Time, audience and issuer are checked by hand below: expiry must
    // follow the virtual clock, and each failure has its own rejection.
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    match jsonwebtoken::decode::<AccessClaims>(token, state.keys.decoding_key(), &validation) {
        Ok(data) => {
            state.keys.remember_verified(token_hash, &data.claims);
            Ok(data.claims)
        }
        Err(e) => Err(match e.kind() {
            ErrorKind::InvalidSignature
            | ErrorKind::InvalidAlgorithm
            | ErrorKind::InvalidAlgorithmName
            | ErrorKind::InvalidEcdsaKey => TokenRejection::BadSignature,
            _ => TokenRejection::Malformed,
        }),
    }
}

/// The `signature-not-verified` fault: read the payload of anything shaped
/// like a JWS (`alg: none` and foreign keys included) without checking it.
fn decode_unverified(token: &str) -> Result<AccessClaims, TokenRejection> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(TokenRejection::Malformed);
    }
    let mut parts = token.split('.');
    let (Some(_header), Some(payload), Some(_sig), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenRejection::Malformed);
    };
    let bytes = URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .map_err(|_| TokenRejection::Malformed)?;
    serde_json::from_slice(&bytes).map_err(|_| TokenRejection::Malformed)
}

/// Verifies `token` for use at the protected resource `resource` (one of
/// `state.urls.resources()`), honouring the faults that switch parts of the
/// check off. In order: signature (fault `signature-not-verified`), issuer,
/// expiry against the virtual clock (fault `expired-token-accepted`),
/// audience equal to `resource` (fault `audience-not-checked`), and
/// revocation by `jti` (fault `revocation-ignored`). Never panics.
pub fn verify_access_token(
    state: &AppState,
    token: &str,
    resource: &str,
) -> Result<AccessClaims, TokenRejection> {
    let config = &state.config;
    let claims = if config.has(Fault::SignatureNotVerified) {
        decode_unverified(token)?
    } else {
        decode_signed(state, token)?
    };
    if claims.iss != state.urls.issuer {
        return Err(TokenRejection::WrongIssuer);
    }
    if !config.has(Fault::ExpiredTokenAccepted) && state.clock.now_secs() >= claims.exp {
        return Err(TokenRejection::Expired);
    }
    if !config.has(Fault::AudienceNotChecked) && claims.aud != resource {
        return Err(TokenRejection::WrongAudience);
    }
    if !config.has(Fault::RevocationIgnored) && state.oauth.is_revoked(&claims.jti) {
        return Err(TokenRejection::Revoked);
    }
    Ok(claims)
}
