//! Dynamic client registration (RFC 7591) at `{issuer}/register`.
//!
//! JSON only; the metadata rules live in [`crate::rules::dcr`]. Public
//! clients (`none`) get no secret; confidential ones get a 256-bit secret,
//! stored only as its SHA-256 hash, with `client_secret_expires_at: 0`
//! (never expires; RFC 7591 §3.2.1 makes the member REQUIRED with a secret).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::errors::{OAuthError, no_store_headers};
use super::{Client, sha256};
use crate::config::Fault;
use crate::rules::dcr::{RegistrationPolicy, validate_registration};
use crate::server::AppState;
use crate::tokens::random_string;

/// Whether the request's media type is `application/json` (parameters such
/// as `charset` allowed).
pub fn is_json_content_type(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
}

pub async fn register(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    if !is_json_content_type(&headers) {
        // RFC 7591 §3: the request is `application/json`; §3.2.2 has no
        // better code than invalid_client_metadata for the wrong encoding.
        return OAuthError::new(
            StatusCode::BAD_REQUEST,
            "invalid_client_metadata",
            "the registration request must be application/json",
        )
        .into_response();
    }
    let policy = RegistrationPolicy {
        allow_unsafe_redirect_uris: state.config.has(Fault::DcrUnsafeRedirectAccepted),
        ..RegistrationPolicy::default()
    };
    let metadata = match validate_registration(&body, &policy) {
        Ok(m) => m,
        Err(e) => {
            return OAuthError::new(StatusCode::BAD_REQUEST, e.error_code(), e.to_string())
                .into_response();
        }
    };

    let now = state.clock.now_secs();
    let secret = metadata
        .token_endpoint_auth_method
        .is_confidential()
        .then(|| random_string(32));
    let client = Arc::new(Client {
        client_id: random_string(16),
        secret_hash: secret.as_deref().map(sha256),
        issued_at: now,
        metadata,
    });
    {
        let mut inner = state.oauth.lock();
        if inner.clients.len() >= state.config.limits.max_clients {
            // Registrations never expire, so there is nothing to evict;
            // refuse rather than grow without bound.
            return OAuthError::temporarily_unavailable("client registration capacity reached")
                .into_response();
        }
        inner
            .clients
            .insert(client.client_id.clone(), Arc::clone(&client));
    }

    let mut body = match serde_json::to_value(&client.metadata) {
        Ok(v) => v,
        Err(_) => return OAuthError::server_error("encoding failed").into_response(),
    };
    if let Some(obj) = body.as_object_mut() {
        obj.insert("client_id".into(), client.client_id.clone().into());
        obj.insert("client_id_issued_at".into(), now.into());
        if let Some(secret) = secret {
            obj.insert("client_secret".into(), secret.into());
            if !state.config.has(Fault::DcrSecretWithoutExpiry) {
                obj.insert("client_secret_expires_at".into(), 0.into());
            }
        }
    }
    // OAuth 2.1 §3.2.3 / DCR-18: a response carrying a secret is not cached.
    (StatusCode::CREATED, no_store_headers(), axum::Json(body)).into_response()
}

pub async fn method_not_allowed() -> Response {
    let mut h = no_store_headers();
    h.insert(header::ALLOW, HeaderValue::from_static("POST"));
    let body = serde_json::json!({
        "error": "invalid_request",
        "error_description": "use POST",
    });
    (StatusCode::METHOD_NOT_ALLOWED, h, axum::Json(body)).into_response()
}
