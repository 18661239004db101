//! The protected resource side of OAuth: RFC 9728 metadata documents and the
//! bearer check with its `WWW-Authenticate` challenges.
//!
//! This module owns *who may call* the MCP endpoint: [`authenticate`] turns
//! the request headers into verified claims or an [`AuthFailure`], and
//! [`AuthFailure::into_response`] / [`insufficient_scope`] render the 400,
//! 401 and 403 answers of RFC 6750 §3 with the MCP-required parameters. The
//! faults that weaken these rules are applied here and nowhere else.

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;

use crate::config::Fault;
use crate::rules::bearer::{self, BearerError, BearerErrorKind, Challenge, ChallengeError};
use crate::server::{AppState, Urls};
use crate::tokens::{self, AccessClaims, TokenRejection};

/// The scopes this resource server knows (PRM `scopes_supported`).
pub const SCOPES_SUPPORTED: [&str; 2] = [SCOPE_TOOLS, SCOPE_ADMIN];
/// Needed for every tool.
pub const SCOPE_TOOLS: &str = "mcp:tools";
/// Needed in addition for the admin tool (the step-up case).
pub const SCOPE_ADMIN: &str = "mcp:admin";

/// The PRM well-known prefix (RFC 9728 §3.1).
const WELL_KNOWN: &str = "/.well-known/oauth-protected-resource";

/// The two protected resources this server hosts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProtectedResource {
    /// `{origin}/mcp`, the primary MCP endpoint.
    Mcp,
    /// `{origin}/mcp-alt`, the second audience.
    McpAlt,
}

impl ProtectedResource {
    /// The resource identifier (RFC 8707 / RFC 9728 `resource`).
    pub fn url(self, urls: &Urls) -> &str {
        match self {
            ProtectedResource::Mcp => &urls.mcp,
            ProtectedResource::McpAlt => &urls.mcp_alt,
        }
    }

    /// The path-suffixed PRM URL (RFC 9728 §3.1), which the challenge names.
    pub fn metadata_url(self, urls: &Urls) -> String {
        let suffix = match self {
            ProtectedResource::Mcp => "/mcp",
            ProtectedResource::McpAlt => "/mcp-alt",
        };
        format!("{}{WELL_KNOWN}{suffix}", urls.origin)
    }
}

/// The PRM routes: path-suffixed for each resource, plus the root.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            WELL_KNOWN,
            // The root document describes the primary `/mcp` resource. MCP
            // 2025-11-25 (authorization, "Protected Resource Metadata
            // Discovery Requirements") has clients that got no
            // `resource_metadata` try the path-suffixed URL first and then
            // fall back to the root, even for a server at a path; answering
            // there keeps such clients working. RFC 9728 §3.3 would have the
            // root describe the resource `{origin}`, which no MCP endpoint
            // here is, so the root names the endpoint it stands in for.
            get(prm_mcp).options(prm_preflight),
        )
        .route(
            &format!("{WELL_KNOWN}/mcp"),
            get(prm_mcp).options(prm_preflight),
        )
        .route(
            &format!("{WELL_KNOWN}/mcp-alt"),
            get(prm_mcp_alt).options(prm_preflight),
        )
}

/// The RFC 9728 §2 document for `resource`.
pub fn metadata_document(state: &AppState, resource: ProtectedResource) -> serde_json::Value {
    let urls = &state.urls;
    let resource_id = if state.config.has(Fault::PrmResourceWrong) {
        format!("{}/other", urls.origin)
    } else {
        resource.url(urls).to_owned()
    };
    json!({
        "resource": resource_id,
        "authorization_servers": [urls.issuer],
        "scopes_supported": SCOPES_SUPPORTED,
        // Only the header (RFC 6750 §2.1): MCP forbids tokens in the query
        // and JSON bodies cannot carry the form-encoded method.
        "bearer_methods_supported": ["header"],
        "resource_name": match resource {
            ProtectedResource::Mcp => "mcp-reference-server",
            ProtectedResource::McpAlt => "mcp-reference-server (alternate resource)",
        },
    })
}

async fn prm_mcp(state: State<AppState>, headers: HeaderMap, query: RawQuery) -> Response {
    prm(state, headers, query, ProtectedResource::Mcp)
}

async fn prm_mcp_alt(state: State<AppState>, headers: HeaderMap, query: RawQuery) -> Response {
    prm(state, headers, query, ProtectedResource::McpAlt)
}

fn prm(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    resource: ProtectedResource,
) -> Response {
    if state.config.has(Fault::PrmRequiresToken)
        && let Err(failure) = authenticate(&state, &headers, query.as_deref(), resource)
    {
        return with_public_cors(failure.into_response(&state, resource));
    }
    let body = metadata_document(&state, resource);
    with_public_cors((StatusCode::OK, axum::Json(body)).into_response())
}

/// CORS preflight for the metadata (PRM-11): public documents, any origin,
/// and the `MCP-Protocol-Version` header that clients send while
/// discovering.
async fn prm_preflight() -> Response {
    let mut resp = StatusCode::NO_CONTENT.into_response();
    let h = resp.headers_mut();
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET, HEAD, OPTIONS"),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("mcp-protocol-version, accept, authorization"),
    );
    h.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("86400"),
    );
    resp
}

fn with_public_cors(mut resp: Response) -> Response {
    let h = resp.headers_mut();
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    h.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static("WWW-Authenticate"),
    );
    resp
}

/// Why a request did not authenticate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthFailure {
    /// No `Authorization` header, or one with another scheme (RFC 6750 §3.1:
    /// "attempted using an unsupported authentication method").
    #[error("no bearer credentials")]
    NoCredentials,
    /// A malformed `Authorization` header (or more than one).
    #[error("malformed Authorization header: {0}")]
    InvalidRequest(#[source] InvalidRequest),
    /// A well-formed token that does not verify for this resource.
    #[error("invalid token: {0}")]
    InvalidToken(#[source] TokenRejection),
}

/// The malformations behind [`AuthFailure::InvalidRequest`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidRequest {
    #[error(transparent)]
    Header(#[from] BearerError),
    #[error("more than one Authorization header")]
    Repeated,
}

/// Verifies the bearer token of a request to `resource`.
///
/// The token comes from the `Authorization` header only. OAuth 2.1 §5.1:
/// resource servers MUST ignore access tokens in a URI query parameter, so
/// `access_token` in `query` is looked at only under the
/// `token-in-query-accepted` fault.
pub fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    query: Option<&str>,
    resource: ProtectedResource,
) -> Result<AccessClaims, AuthFailure> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let token = match (values.next(), values.next()) {
        (Some(_), Some(_)) => {
            return Err(AuthFailure::InvalidRequest(InvalidRequest::Repeated));
        }
        (Some(value), None) => match bearer::parse_authorization(value.as_bytes()) {
            Ok(cred) => cred.token,
            Err(e) if e.kind() == BearerErrorKind::NoCredentials => {
                query_token(state, query).ok_or(AuthFailure::NoCredentials)?
            }
            Err(e) => return Err(AuthFailure::InvalidRequest(e.into())),
        },
        (None, _) => query_token(state, query).ok_or(AuthFailure::NoCredentials)?,
    };
    tokens::verify_access_token(state, &token, resource.url(&state.urls))
        .map_err(AuthFailure::InvalidToken)
}

/// The `access_token` query parameter, honoured only under the fault.
fn query_token(state: &AppState, query: Option<&str>) -> Option<String> {
    if !state.config.has(Fault::TokenInQueryAccepted) {
        return None;
    }
    form_urlencoded::parse(query?.as_bytes())
        .find(|(k, _)| k == "access_token")
        .map(|(_, v)| v.into_owned())
}

impl AuthFailure {
    /// The HTTP answer (RFC 6750 §3 and §3.1; MCP authorization "Error
    /// Handling"): 401 with a challenge, or 400 for a malformed header.
    pub fn into_response(self, state: &AppState, resource: ProtectedResource) -> Response {
        let config = &state.config;
        let (status, error, description) = match &self {
            AuthFailure::NoCredentials => {
                // RFC 6750 §3.1: no error code when no credentials came.
                let error = config
                    .has(Fault::ErrorWithoutCredentials)
                    .then_some(ChallengeError::InvalidToken);
                (StatusCode::UNAUTHORIZED, error, None)
            }
            AuthFailure::InvalidRequest(e) => (
                StatusCode::BAD_REQUEST,
                Some(ChallengeError::InvalidRequest),
                Some(e.to_string()),
            ),
            AuthFailure::InvalidToken(rejection) => {
                if config.has(Fault::InvalidTokenAs500) {
                    return (
                        StatusCode::INTERNAL_SERVER_ERROR,
                        axum::Json(json!({"error": "server_error"})),
                    )
                        .into_response();
                }
                (
                    StatusCode::UNAUTHORIZED,
                    Some(ChallengeError::InvalidToken),
                    Some(rejection.to_string()),
                )
            }
        };
        let challenge = Challenge {
            error,
            error_description: description.clone(),
            scope: Some(SCOPE_TOOLS.to_owned()),
            resource_metadata: None,
        };
        // RS-18: the body says why, and nothing else (no MCP data).
        let body = match error {
            Some(e) => axum::Json(json!({
                "error": e.as_str(),
                "error_description": description.unwrap_or_else(|| "a bearer token is required".into()),
            }))
            .into_response(),
            None => ().into_response(),
        };
        challenge_response(state, resource, status, challenge, body)
    }
}

/// The 403 for a token that lacks scopes (RFC 6750 §3.1
/// `insufficient_scope`; MCP 2025-11-25 "Runtime Insufficient Scope
/// Errors"): `scope` lists every scope the operation needs, so one step-up
/// suffices.
pub fn insufficient_scope(
    state: &AppState,
    resource: ProtectedResource,
    needed: &[&str],
) -> Response {
    let description = format!("this operation needs the scopes: {}", needed.join(" "));
    let challenge = Challenge {
        error: Some(ChallengeError::InsufficientScope),
        error_description: Some(description.clone()),
        scope: Some(needed.join(" ")),
        resource_metadata: None,
    };
    let body = axum::Json(json!({
        "error": "insufficient_scope",
        "error_description": description,
    }))
    .into_response();
    challenge_response(state, resource, StatusCode::FORBIDDEN, challenge, body)
}

/// Applies the challenge-shaping faults and sets `WWW-Authenticate`.
fn challenge_response(
    state: &AppState,
    resource: ProtectedResource,
    status: StatusCode,
    mut challenge: Challenge,
    body: Response,
) -> Response {
    let config = &state.config;
    if !config.has(Fault::NoResourceMetadata) {
        challenge.resource_metadata = Some(resource.metadata_url(&state.urls));
    }
    if config.has(Fault::NoScopeInChallenge) {
        challenge.scope = None;
    }
    let mut resp = body;
    *resp.status_mut() = status;
    if !config.has(Fault::NoWwwAuthenticate)
        && let Ok(value) = HeaderValue::from_str(&challenge.render())
    {
        resp.headers_mut().insert(header::WWW_AUTHENTICATE, value);
    }
    resp
}
