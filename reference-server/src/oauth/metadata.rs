//! Discovery: the RFC 8414 authorization server metadata, the OpenID
//! Connect Discovery 1.0 document, the JWKS, and their CORS preflight
//! (browser clients send `MCP-Protocol-Version`; typescript-sdk#715).

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::config::Fault;
use crate::rules::scope::KNOWN_SCOPES;
use crate::server::{AppState, Shared};

/// The RFC 8414 §2 document.
pub fn oauth_document(state: &Shared) -> Value {
    let issuer = &state.urls.issuer;
    let mut doc = json!({
        // RFC 8414 §3.3: identical to the issuer the URL was built from.
        "issuer": if state.config.has(Fault::IssuerTrailingSlash) {
            format!("{issuer}/")
        } else {
            issuer.clone()
        },
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/token"),
        "registration_endpoint": format!("{issuer}/register"),
        "revocation_endpoint": format!("{issuer}/revoke"),
        "jwks_uri": format!("{issuer}/jwks"),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["none", "client_secret_basic", "client_secret_post"],
        "revocation_endpoint_auth_methods_supported": ["none", "client_secret_basic", "client_secret_post"],
        "scopes_supported": KNOWN_SCOPES,
        "client_id_metadata_document_supported": true,
        // RFC 9207: `iss` is added to every authorization response.
        "authorization_response_iss_parameter_supported": true,
    });
    if state.config.has(Fault::S256MissingFromMetadata)
        && let Some(obj) = doc.as_object_mut()
    {
        obj.remove("code_challenge_methods_supported");
    }
    doc
}

/// The OIDC Discovery document: the RFC 8414 fields plus those OIDC
/// Discovery §3 requires. No ID tokens are ever issued, but clients that
/// parse this document against the OIDC schema need the fields.
pub fn openid_document(state: &Shared) -> Value {
    let mut doc = oauth_document(state);
    if let Some(obj) = doc.as_object_mut() {
        obj.insert("subject_types_supported".into(), json!(["public"]));
        obj.insert(
            "id_token_signing_alg_values_supported".into(),
            json!(["ES256"]),
        );
    }
    doc
}

fn cors_json(doc: Value) -> Response {
    let mut h = HeaderMap::new();
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    (StatusCode::OK, h, axum::Json(doc)).into_response()
}

pub async fn oauth_metadata(State(state): State<AppState>) -> Response {
    cors_json(oauth_document(&state))
}

pub async fn openid_metadata(State(state): State<AppState>) -> Response {
    cors_json(openid_document(&state))
}

pub async fn jwks(State(state): State<AppState>) -> Response {
    cors_json(state.keys.jwks())
}

/// CORS preflight for the public GET documents: any origin, GET, and the
/// headers MCP clients send.
pub async fn preflight() -> Response {
    let mut h = HeaderMap::new();
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET, OPTIONS"),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("mcp-protocol-version, accept, content-type, authorization"),
    );
    h.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("86400"),
    );
    (StatusCode::NO_CONTENT, h).into_response()
}
