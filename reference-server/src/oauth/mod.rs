//! The authorization server: RFC 8414 / OIDC discovery metadata, dynamic
//! client registration (RFC 7591) and client ID metadata documents,
//! `/authorize`, `/token`, revocation (RFC 7009) and the JWKS.

use axum::Router;

use crate::config::Config;
use crate::server::AppState;

/// Clients, codes, refresh token families and revocations.
pub struct OAuthStore {}

impl OAuthStore {
    pub fn new(config: &Config) -> Self {
        let _ = config;
        Self {}
    }
}

pub fn routes() -> Router<AppState> {
    Router::new()
}
