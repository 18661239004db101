//! The protected resource side of OAuth: RFC 9728 metadata documents and the
//! bearer check with its `WWW-Authenticate` challenges.

use axum::Router;

use crate::server::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
}
