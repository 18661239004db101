//! The MCP endpoint over Streamable HTTP: JSON-RPC over POST (JSON or SSE
//! answers), sessions bound to their user, protocol-version and Origin
//! checks, and the tools.
//!
//! - [`transport`]: the HTTP handlers and the order of the checks.
//! - [`session`]: the session store.
//! - [`protocol`]: MCP methods and version negotiation.
//! - [`tools`]: the tools and the scopes they need.
//!
//! Two endpoints are served, `/mcp` and `/mcp-alt`: each is its own
//! protected resource, so a token for one is the wrong audience at the other.

pub mod protocol;
pub mod session;
pub mod tools;
pub mod transport;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::post;

pub use session::{Session, SessionError, SessionStore};

use crate::resource::ProtectedResource;
use crate::server::AppState;
use crate::tokens::AccessClaims;

/// Who a request acts for: the parts of the access token the tools use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The user (`sub` claim).
    pub sub: String,
    pub client_id: String,
    /// Space-delimited scopes.
    pub scope: String,
}

impl Principal {
    pub fn from_claims(claims: &AccessClaims) -> Self {
        Self {
            sub: claims.sub.clone(),
            client_id: claims.client_id.clone(),
            scope: claims.scope.clone(),
        }
    }

    /// Whether the space-delimited scope contains `wanted` (RFC 6749 §3.3).
    pub fn has_scope(&self, wanted: &str) -> bool {
        self.scope.split(' ').any(|s| s == wanted)
    }
}

/// Handlers for one endpoint, bound to its resource.
macro_rules! endpoint {
    ($post:ident, $get:ident, $delete:ident, $options:ident, $resource:expr) => {
        async fn $post(
            State(state): State<AppState>,
            headers: HeaderMap,
            RawQuery(query): RawQuery,
            body: Bytes,
        ) -> Response {
            transport::post(state, $resource, headers, query, body).await
        }
        async fn $get(
            State(state): State<AppState>,
            headers: HeaderMap,
            RawQuery(query): RawQuery,
        ) -> Response {
            transport::get(state, $resource, headers, query).await
        }
        async fn $delete(
            State(state): State<AppState>,
            headers: HeaderMap,
            RawQuery(query): RawQuery,
        ) -> Response {
            transport::delete(state, $resource, headers, query).await
        }
        async fn $options(State(state): State<AppState>, headers: HeaderMap) -> Response {
            transport::preflight(state, headers).await
        }
    };
}

endpoint!(
    post_mcp,
    get_mcp,
    delete_mcp,
    options_mcp,
    ProtectedResource::Mcp
);
endpoint!(
    post_alt,
    get_alt,
    delete_alt,
    options_alt,
    ProtectedResource::McpAlt
);

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/mcp",
            post(post_mcp)
                .get(get_mcp)
                .delete(delete_mcp)
                .options(options_mcp),
        )
        .route(
            "/mcp-alt",
            post(post_alt)
                .get(get_alt)
                .delete(delete_alt)
                .options(options_alt),
        )
}
