//! The token endpoint, `{issuer}/token` (OAuth 2.1 §3.2, §4.1.3, §4.3).
//!
//! Form-encoded POST only; repeated parameters are refused (OAuth 2.1
//! §3.1). Grants: `authorization_code` (PKCE S256 verified, code single use
//! and bound to client, redirect URI and resource; a replay revokes what
//! the code issued, RFC 6749 §4.1.2) and `refresh_token` (bound to the
//! client, rotated on every use, reuse of a rotated-out token revokes the
//! whole family, OAuth 2.1 §4.3.1). Every response carries
//! `Cache-Control: no-store` and `Pragma: no-cache`.
//!
//! Refresh tokens are issued only to clients that registered the
//! `refresh_token` grant (RFC 7591 §2 `grant_types`).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::authorize::{canonical_resource, match_resource};
use super::client_auth::authenticate_client;
use super::errors::{OAuthError, no_store_headers};
use super::{Client, Family, Redemption, sha256};
use crate::config::Fault;
use crate::rules::dcr::GrantType;
use crate::rules::oauth_form::{OAuthForm, parse_form};
use crate::rules::pkce;
use crate::rules::scope::{KNOWN_SCOPES, is_subset, parse_scope};
use crate::server::{AppState, Shared};
use crate::tokens::{AccessClaims, new_claims, random_string, sign};

/// What a successful grant issues, before signing.
struct Issued {
    claims: AccessClaims,
    refresh_token: Option<String>,
}

/// Whether the request's media type is form-encoded.
pub fn is_form_content_type(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| {
            m.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

pub async fn token(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    match grant(&state, &headers, &body).await {
        Ok(issued) => success(&state, issued),
        Err(e) if e.is("invalid_grant") && state.config.has(Fault::InvalidGrantAs500) => {
            OAuthError::server_error("internal error").into_response()
        }
        Err(e) => e.into_response(),
    }
}

async fn grant(state: &Shared, headers: &HeaderMap, body: &[u8]) -> Result<Issued, OAuthError> {
    if !is_form_content_type(headers) {
        return Err(OAuthError::invalid_request(
            "the token request must be application/x-www-form-urlencoded (OAuth 2.1 §3.2)",
        ));
    }
    let form = parse_form(body).map_err(|e| OAuthError::invalid_request(e.to_string()))?;
    let grant_type = form
        .get("grant_type")
        .ok_or_else(|| OAuthError::invalid_request("grant_type is required"))?;
    // Unsupported grant types are refused before client authentication:
    // the answer does not depend on who asks.
    let grant = match grant_type {
        "authorization_code" => GrantType::AuthorizationCode,
        "refresh_token" => GrantType::RefreshToken,
        other => {
            return Err(OAuthError::unsupported_grant_type(format!(
                "grant_type {other:?} is not supported"
            )));
        }
    };
    let client = authenticate_client(state, headers, &form).await?;
    if !client.metadata.allows_grant(grant) {
        return Err(OAuthError::unauthorized_client(format!(
            "the client is not registered for the {grant_type} grant"
        )));
    }
    let resource = requested_resource(&form)?;
    match grant {
        GrantType::AuthorizationCode => authorization_code(state, &client, &form, resource),
        GrantType::RefreshToken => refresh(state, &client, &form, resource),
    }
}

/// The `resource` of a token request: at most one (single-audience tokens).
fn requested_resource(form: &OAuthForm) -> Result<Option<&str>, OAuthError> {
    let values: Vec<&str> = form.get_all("resource").collect();
    match values.as_slice() {
        [] => Ok(None),
        [one] => Ok(Some(one)),
        _ => Err(OAuthError::invalid_target(
            "only one resource per request is supported",
        )),
    }
}

/// RFC 8707 §2.2: a `resource` at the token endpoint must be the one the
/// grant was bound to.
fn same_resource(state: &Shared, requested: &str, bound: &str) -> bool {
    if requested == bound {
        return true;
    }
    match match_resource(state, requested) {
        Some(r) => r == bound,
        None => canonical_resource(requested).is_some_and(|c| Some(c) == canonical_resource(bound)),
    }
}

fn authorization_code(
    state: &Shared,
    client: &Client,
    form: &OAuthForm,
    resource: Option<&str>,
) -> Result<Issued, OAuthError> {
    let config = &state.config;
    let code = form
        .get("code")
        .ok_or_else(|| OAuthError::invalid_request("code is required"))?;
    let verifier = form.get("code_verifier");
    let now = state.clock.now_secs();

    // Everything from lookup to marking the code used happens under one
    // lock: of N concurrent redemptions exactly one sees it unused.
    let mut inner = state.oauth.lock();
    let hash = sha256(code);
    let Some(record) = inner.codes.get(&hash).cloned() else {
        return Err(OAuthError::invalid_grant("unknown authorization code"));
    };
    if record.client_id != client.client_id && !config.has(Fault::CodeNotBoundToClient) {
        return Err(OAuthError::invalid_grant(
            "the code was issued to another client",
        ));
    }
    if now >= record.expires_at && !config.has(Fault::CodeNeverExpires) {
        return Err(OAuthError::invalid_grant("the code has expired"));
    }
    if !config.has(Fault::RedirectUriUncheckedAtToken) {
        // RFC 6749 §4.1.3: present and identical when the authorization
        // request carried one; if it did not, a value sent now must still
        // be the one the code went to.
        let ok = match (&record.redirect_uri_param, form.get("redirect_uri")) {
            (Some(expected), Some(given)) => expected == given,
            (Some(_), None) => false,
            (None, Some(given)) => given == record.redirect_uri,
            (None, None) => true,
        };
        if !ok {
            return Err(OAuthError::invalid_grant(
                "redirect_uri does not match the authorization request",
            ));
        }
    }
    if !config.has(Fault::PkceNotVerified) {
        match (&record.challenge, verifier) {
            (Some(_), None) => {
                return Err(OAuthError::invalid_request(
                    "code_verifier is required (RFC 7636 §4.5)",
                ));
            }
            (Some(challenge), Some(v)) => {
                if !pkce::verify(v, challenge) {
                    return Err(OAuthError::invalid_grant(
                        "code_verifier does not match the code_challenge",
                    ));
                }
            }
            // RFC 9700 §2.1.1: a verifier is only accepted if a challenge was sent.
            (None, Some(_)) => {
                return Err(OAuthError::invalid_grant(
                    "code_verifier sent but the authorization request had no code_challenge",
                ));
            }
            (None, None) => {}
        }
    }
    if let Some(r) = resource
        && !same_resource(state, r, &record.resource)
    {
        return Err(OAuthError::invalid_target(
            "resource differs from the authorization request",
        ));
    }
    if let Some(prior) = &record.redemption
        && !config.has(Fault::CodeReusable)
    {
        // A valid replay (right client, verifier): RFC 6749 §4.1.2 / OAuth
        // 2.1 §4.1.3, revoke what the code issued. Invalid replays were
        // refused above without revoking anything (no DoS by a thief).
        if !config.has(Fault::ReplayNotRevoking) {
            inner.revoke_jti(prior.access_jti.clone(), prior.access_exp, now);
            if let Some(family) = prior.family {
                inner.revoke_family(family, now);
            }
        }
        return Err(OAuthError::invalid_grant(
            "the authorization code has already been used",
        ));
    }

    let claims = new_claims(
        state,
        &record.sub,
        &client.client_id,
        &record.scope,
        &record.resource,
    );
    let (refresh_token, family) = if client.metadata.allows_grant(GrantType::RefreshToken) {
        let rt = random_string(32);
        let family = inner.new_family(
            Family {
                client_id: client.client_id.clone(),
                sub: record.sub.clone(),
                scope: record.scope.clone(),
                resource: record.resource.clone(),
                expires_at: now.saturating_add(config.refresh_token_ttl.as_secs()),
                revoked: false,
                current: sha256(&rt),
                retired: Vec::new(),
                access: Vec::new(),
            },
            now,
        );
        inner.add_family_access(family, claims.jti.clone(), claims.exp);
        (Some(rt), Some(family))
    } else {
        (None, None)
    };
    if let Some(stored) = inner.codes.get_mut(&hash) {
        stored.redemption = Some(Redemption {
            access_jti: claims.jti.clone(),
            access_exp: claims.exp,
            family,
        });
    }
    Ok(Issued {
        claims,
        refresh_token,
    })
}

fn refresh(
    state: &Shared,
    client: &Client,
    form: &OAuthForm,
    resource: Option<&str>,
) -> Result<Issued, OAuthError> {
    let config = &state.config;
    let presented = form
        .get("refresh_token")
        .ok_or_else(|| OAuthError::invalid_request("refresh_token is required"))?;
    let now = state.clock.now_secs();
    let hash = sha256(presented);

    let mut inner = state.oauth.lock();
    let Some(&family_id) = inner.refresh.get(&hash) else {
        return Err(OAuthError::invalid_grant("unknown refresh token"));
    };
    let Some(family) = inner.families.get(&family_id).map(FamilyView::of) else {
        return Err(OAuthError::invalid_grant("unknown refresh token"));
    };
    if family.revoked {
        return Err(OAuthError::invalid_grant(
            "the refresh token has been revoked",
        ));
    }
    // OAuth 2.1 §4.3: bound to the client it was issued to. A foreign
    // client's attempt revokes nothing (it does not prove theft by the
    // legitimate client's counterpart and would hand out a DoS).
    if family.client_id != client.client_id {
        return Err(OAuthError::invalid_grant(
            "the refresh token was issued to another client",
        ));
    }
    if now >= family.expires_at {
        return Err(OAuthError::invalid_grant("the refresh token has expired"));
    }
    let active = family.current == hash;
    if !active && !config.has(Fault::RefreshReuseNotDetected) {
        // OAuth 2.1 §4.3.1: a rotated-out token came back, so one of the two
        // holders is an attacker; kill the grant.
        inner.revoke_family(family_id, now);
        return Err(OAuthError::invalid_grant(
            "refresh token reuse detected; the grant has been revoked",
        ));
    }
    let granted: Vec<String> = family.scope.split(' ').map(str::to_owned).collect();
    let scope = match form.get("scope") {
        None => family.scope.clone(),
        Some(s) => {
            let tokens = parse_scope(s, KNOWN_SCOPES)
                .map_err(|e| OAuthError::invalid_scope(e.to_string()))?;
            if !is_subset(&tokens, &granted) {
                return Err(OAuthError::invalid_scope(
                    "the requested scope exceeds the original grant (OAuth 2.1 §4.3)",
                ));
            }
            tokens.join(" ")
        }
    };
    if let Some(r) = resource
        && !same_resource(state, r, &family.resource)
    {
        return Err(OAuthError::invalid_target(
            "resource differs from the one the grant is bound to",
        ));
    }
    let claims = new_claims(
        state,
        &family.sub,
        &client.client_id,
        &scope,
        &family.resource,
    );
    let refresh_token = if config.has(Fault::RefreshNotRotated) {
        presented.to_owned()
    } else {
        let rt = random_string(32);
        inner.rotate(family_id, sha256(&rt));
        rt
    };
    inner.add_family_access(family_id, claims.jti.clone(), claims.exp);
    Ok(Issued {
        claims,
        refresh_token: Some(refresh_token),
    })
}

/// The fields of a family the refresh grant reads, copied out so the
/// store can be mutated while they are in use.
struct FamilyView {
    client_id: String,
    sub: String,
    scope: String,
    resource: String,
    expires_at: u64,
    revoked: bool,
    current: super::Digest32,
}

impl FamilyView {
    fn of(f: &Family) -> Self {
        Self {
            client_id: f.client_id.clone(),
            sub: f.sub.clone(),
            scope: f.scope.clone(),
            resource: f.resource.clone(),
            expires_at: f.expires_at,
            revoked: f.revoked,
            current: f.current,
        }
    }
}

fn success(state: &Shared, issued: Issued) -> Response {
    let access_token = match sign(state, &issued.claims) {
        Ok(t) => t,
        Err(_) => return OAuthError::server_error("signing failed").into_response(),
    };
    let mut body = serde_json::json!({
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": issued.claims.exp.saturating_sub(issued.claims.iat),
        "scope": issued.claims.scope,
    });
    if let (Some(rt), Some(obj)) = (issued.refresh_token, body.as_object_mut()) {
        obj.insert("refresh_token".into(), rt.into());
    }
    let headers = if state.config.has(Fault::NoCacheControl) {
        HeaderMap::new()
    } else {
        no_store_headers()
    };
    (StatusCode::OK, headers, axum::Json(body)).into_response()
}

/// Anything but POST: 405 with `Allow: POST`, and no token.
pub async fn method_not_allowed() -> Response {
    let mut h = no_store_headers();
    h.insert(header::ALLOW, HeaderValue::from_static("POST"));
    let body = serde_json::json!({
        "error": "invalid_request",
        "error_description": "the token endpoint accepts POST only (OAuth 2.1 §3.2)",
    });
    (StatusCode::METHOD_NOT_ALLOWED, h, axum::Json(body)).into_response()
}
