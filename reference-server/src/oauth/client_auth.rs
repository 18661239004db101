//! Client authentication at the token and revocation endpoints (RFC 6749
//! §2.3; OAuth 2.1 §2.4): `none` (client_id in the body),
//! `client_secret_basic` and `client_secret_post`.
//!
//! A client must use exactly one method (RFC 6749 §2.3: "MUST NOT use more
//! than one authentication method in each request") and the one it
//! registered. Failures are `invalid_client`, 401 with a Basic challenge.

use std::sync::Arc;

use axum::http::{HeaderMap, header};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::cimd::find_client;
use super::errors::OAuthError;
use super::{Client, sha256};
use crate::config::Fault;
use crate::rules::dcr::AuthMethod;
use crate::rules::oauth_form::{OAuthForm, decode_component};
use crate::rules::pkce::constant_time_eq;
use crate::server::Shared;

/// Credentials from an `Authorization: Basic` header.
struct BasicCredentials {
    client_id: String,
    secret: String,
}

/// Parses `Authorization: Basic`. RFC 6749 §2.3.1: id and secret are
/// form-urlencoded before being joined with `:` and base64-encoded.
fn parse_basic(value: &str) -> Option<BasicCredentials> {
    let (scheme, rest) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = STANDARD.decode(rest.trim()).ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    Some(BasicCredentials {
        client_id: decode_component(id.as_bytes()).ok()?,
        secret: decode_component(secret.as_bytes()).ok()?,
    })
}

/// Authenticates the client of a token or revocation request.
pub async fn authenticate_client(
    state: &Shared,
    headers: &HeaderMap,
    form: &OAuthForm,
) -> Result<Arc<Client>, OAuthError> {
    let realm = state.urls.issuer.as_str();
    let wrong_code = state.config.has(Fault::WrongClientAuthError);
    // The `wrong-client-auth-error` fault answers what some servers do.
    let invalid_client = |desc: &str| {
        if wrong_code {
            OAuthError::unauthorized_client(desc)
        } else {
            OAuthError::invalid_client(realm, desc)
        }
    };

    let authorization = match headers.get(header::AUTHORIZATION) {
        None => None,
        Some(v) => {
            let Some(creds) = v.to_str().ok().and_then(parse_basic) else {
                return Err(invalid_client(
                    "the Authorization header is not valid client_secret_basic credentials",
                ));
            };
            Some(creds)
        }
    };
    let body_id = form.get("client_id");
    let body_secret = form.get("client_secret");

    let (client_id, method, secret) = match (authorization, body_secret) {
        (Some(_), Some(_)) => {
            return Err(OAuthError::invalid_request(
                "more than one client authentication method (RFC 6749 §2.3)",
            ));
        }
        (Some(basic), None) => {
            if state.config.has(Fault::BasicAuthBroken) && body_id.is_none() {
                return Err(OAuthError::invalid_request("client_id is required"));
            }
            // A client_id in the body alongside Basic is not a second
            // credential, but it must name the same client.
            if body_id.is_some_and(|id| id != basic.client_id) {
                return Err(OAuthError::invalid_request(
                    "client_id in the body differs from the Authorization header",
                ));
            }
            (
                basic.client_id,
                AuthMethod::ClientSecretBasic,
                Some(basic.secret),
            )
        }
        (None, Some(secret)) => {
            let Some(id) = body_id else {
                return Err(OAuthError::invalid_request(
                    "client_secret sent without client_id",
                ));
            };
            (
                id.to_owned(),
                AuthMethod::ClientSecretPost,
                Some(secret.to_owned()),
            )
        }
        (None, None) => match body_id {
            Some(id) => (id.to_owned(), AuthMethod::None, None),
            None => return Err(invalid_client("client authentication is required")),
        },
    };

    let client = find_client(state, &client_id)
        .await
        .map_err(|e| invalid_client(&e.to_string()))?;
    let registered = client.metadata.token_endpoint_auth_method;
    if registered != method {
        return Err(invalid_client(&format!(
            "the client is registered for {} but used {}",
            registered.as_str(),
            method.as_str()
        )));
    }
    if let Some(secret) = secret {
        let ok = client
            .secret_hash
            .is_some_and(|h| constant_time_eq(&h, &sha256(&secret)));
        if !ok {
            return Err(invalid_client("client authentication failed"));
        }
    }
    Ok(client)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_are_form_decoded() {
        let header = format!("Basic {}", STANDARD.encode("my%3Aid:s%2Bcr+t"));
        let c = parse_basic(&header).unwrap();
        assert_eq!(c.client_id, "my:id");
        assert_eq!(c.secret, "s+cr t");
        assert!(parse_basic("Bearer abc").is_none());
        assert!(parse_basic("Basic !!!").is_none());
    }
}
