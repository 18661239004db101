//! Access tokens: ES256 JWTs minted by the AS and verified by the MCP
//! endpoint. (Owned by the AS work; the verify signature is the contract the
//! MCP side calls.)

use crate::server::AppState;

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

/// Verifies `token` for use at the protected resource `resource` (one of
/// `state.urls.resources()`), honouring the faults that switch parts of the
/// check off.
pub fn verify_access_token(
    state: &AppState,
    token: &str,
    resource: &str,
) -> Result<AccessClaims, TokenRejection> {
    let _ = (state, token, resource);
    Err(TokenRejection::Malformed)
}
