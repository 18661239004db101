//! Token revocation (RFC 7009) at `{issuer}/revoke`.
//!
//! The client authenticates as at the token endpoint. A refresh token
//! revokes its whole family, including the access tokens issued from it
//! (RFC 7009 §2.1: SHOULD); an access token (one of our JWTs) is revoked by
//! its `jti`. `token_type_hint` is only a hint: both kinds are tried, so an
//! unknown hint is ignored (§2.1). Unknown tokens, and tokens of another
//! client, get 200 and change nothing (§2.2: invalid tokens cause no
//! error; answering the same way for foreign tokens leaks nothing about
//! them).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::client_auth::authenticate_client;
use super::errors::{OAuthError, no_store_headers};
use super::sha256;
use super::token::is_form_content_type;
use crate::rules::oauth_form::parse_form;
use crate::server::{AppState, Shared};
use crate::tokens::decode_signed;

pub async fn revoke(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    match revoke_inner(&state, &headers, &body).await {
        Ok(()) => (StatusCode::OK, no_store_headers()).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn revoke_inner(state: &Shared, headers: &HeaderMap, body: &[u8]) -> Result<(), OAuthError> {
    if !is_form_content_type(headers) {
        return Err(OAuthError::invalid_request(
            "the revocation request must be application/x-www-form-urlencoded",
        ));
    }
    let form = parse_form(body).map_err(|e| OAuthError::invalid_request(e.to_string()))?;
    let client = authenticate_client(state, headers, &form).await?;
    let token = form
        .get("token")
        .ok_or_else(|| OAuthError::invalid_request("token is required"))?;
    let now = state.clock.now_secs();

    {
        let mut inner = state.oauth.lock();
        if let Some(&family) = inner.refresh.get(&sha256(token)) {
            if inner
                .families
                .get(&family)
                .is_some_and(|f| f.client_id == client.client_id)
            {
                inner.revoke_family(family, now);
            }
            return Ok(());
        }
    }
    if let Ok(claims) = decode_signed(state, token)
        && claims.client_id == client.client_id
    {
        state.oauth.lock().revoke_jti(claims.jti, claims.exp, now);
    }
    Ok(())
}
