//! The authorization endpoint, `{issuer}/authorize` (OAuth 2.1 §4.1.1).
//!
//! Order of the checks follows RFC 6749 §4.1.2.1: until the client and its
//! redirect URI are established, every error is an error page (400, never
//! a redirect: an unverified redirect URI is an open redirector); after
//! that, errors are redirected to the client with `error`,
//! `error_description`, `state` and `iss` (RFC 9207).
//!
//! Choices: GET and POST (form) are both accepted (OAuth 2.1 §3.1); the
//! only response type is `code`; PKCE S256 is required and an absent
//! `code_challenge_method` means S256 (see [`crate::rules::pkce`]); an
//! omitted `resource` binds the code to the primary MCP endpoint, a given
//! one must be a resource this server protects (RFC 8707 §2); an omitted
//! `scope` means `mcp:tools`; `login_hint` names the user (`alice` by
//! default). In `page` consent mode the validated request waits under a
//! random id for the approve/deny form to be posted back.

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::cimd::find_client;
use super::errors::{error_page, html_escape, no_store_headers, redirect_with};
use super::{CodeRecord, PendingConsent, sha256};
use crate::config::{ConsentMode, Fault};
use crate::rules::oauth_form::{OAuthForm, parse_form, parse_form_allowing_duplicates};
use crate::rules::pkce::{PkcePolicy, validate_challenge};
use crate::rules::redirect_uri::matches_registered;
use crate::rules::scope::{DEFAULT_SCOPE, KNOWN_SCOPES, ScopeError, is_subset, parse_scope};
use crate::server::Shared;
use crate::tokens::random_string;

/// The user when no `login_hint` is given.
pub const DEFAULT_USER: &str = "alice";

pub async fn authorize_get(
    State(state): State<crate::server::AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    authorization_request(&state, &headers, query.unwrap_or_default().as_bytes()).await
}

/// POST carries either an authorization request (OAuth 2.1 §3.1 allows
/// form-encoded POST) or, with `request_id`, the consent page's decision.
pub async fn authorize_post(
    State(state): State<crate::server::AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| {
            m.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    if !is_form {
        return error_page(
            &headers,
            "invalid_request",
            "POST to the authorization endpoint must be application/x-www-form-urlencoded",
        );
    }
    if let Ok(form) = parse_form_allowing_duplicates(&body)
        && form.contains("request_id")
    {
        return consent_decision(&state, &headers, &body).await;
    }
    authorization_request(&state, &headers, &body).await
}

/// Where errors go once the redirect URI is trusted.
struct Redirector<'a> {
    state: &'a Shared,
    redirect_uri: String,
    client_state: Option<String>,
}

impl Redirector<'_> {
    fn params<'p>(&'p self, extra: &[(&'p str, &'p str)]) -> Vec<(&'p str, &'p str)> {
        let mut params: Vec<(&str, &str)> = extra.to_vec();
        if !self.state.config.has(Fault::StateNotEchoed)
            && let Some(s) = &self.client_state
        {
            params.push(("state", s));
        }
        params.push(("iss", &self.state.urls.issuer));
        params
    }

    fn error(&self, code: &str, description: &str, see_other: bool) -> Response {
        let description = super::errors::sanitize_description(description);
        let params = self.params(&[("error", code), ("error_description", &description)]);
        redirect_with(&self.redirect_uri, &params, see_other)
    }

    fn code(&self, code: &str, see_other: bool) -> Response {
        let params = self.params(&[("code", code)]);
        redirect_with(&self.redirect_uri, &params, see_other)
    }
}

async fn authorization_request(state: &Shared, headers: &HeaderMap, raw: &[u8]) -> Response {
    let form = match parse_form_allowing_duplicates(raw) {
        Ok(f) => f,
        Err(e) => return error_page(headers, "invalid_request", &e.to_string()),
    };
    // OAuth 2.1 §3.1; AUTHZ-07: a repeated redirect_uri (or client_id)
    // leaves nothing trustworthy to redirect to.
    for name in ["client_id", "redirect_uri"] {
        if form.is_duplicated(name) {
            return error_page(
                headers,
                "invalid_request",
                &format!("parameter {name} is included more than once"),
            );
        }
    }
    let Some(client_id) = form.get("client_id") else {
        return error_page(headers, "invalid_request", "client_id is required");
    };
    let client_state = (!form.is_duplicated("state"))
        .then(|| form.get("state").map(str::to_owned))
        .flatten();

    let client = match find_client(state, client_id).await {
        Ok(c) => c,
        Err(e) => {
            if state.config.has(Fault::ErrorRedirectUnregistered)
                && let Some(target) = form.get("redirect_uri")
            {
                let r = Redirector {
                    state,
                    redirect_uri: target.to_owned(),
                    client_state,
                };
                return r.error("unauthorized_client", &e.to_string(), false);
            }
            return error_page(headers, "invalid_client", &e.to_string());
        }
    };

    let registered = &client.metadata.redirect_uris;
    let redirect_uri = match form.get("redirect_uri") {
        Some(requested) => {
            let prefix_fault = state.config.has(Fault::RedirectUriPrefixMatch);
            if !matches_registered(requested, registered, prefix_fault) {
                return error_page(
                    headers,
                    "invalid_request",
                    "redirect_uri does not match a registered redirect URI",
                );
            }
            requested.to_owned()
        }
        // OAuth 2.1 §2.3.2: it may be omitted only when exactly one is registered.
        None => match registered.as_slice() {
            [only] => only.clone(),
            _ => {
                return error_page(
                    headers,
                    "invalid_request",
                    "redirect_uri is required when several redirect URIs are registered",
                );
            }
        },
    };
    let redirector = Redirector {
        state,
        redirect_uri: redirect_uri.clone(),
        client_state: client_state.clone(),
    };

    let request = match validate_request(state, &form, &client.metadata.scope) {
        Ok(r) => r,
        Err((code, description)) => return redirector.error(code, &description, false),
    };

    let now = state.clock.now_secs();
    let record = CodeRecord {
        client_id: client.client_id.clone(),
        redirect_uri_param: form.get("redirect_uri").map(str::to_owned),
        redirect_uri,
        challenge: request.challenge,
        scope: request.scope,
        resource: request.resource,
        sub: request.user,
        issued_at: now,
        expires_at: now.saturating_add(state.config.code_ttl.as_secs()),
        redemption: None,
    };

    match state.config.consent {
        ConsentMode::Auto => {
            let code = issue_code(state, record);
            redirector.code(&code, false)
        }
        ConsentMode::Page => {
            let request_id = random_string(32);
            let client_name = client
                .metadata
                .client_name
                .clone()
                .unwrap_or_else(|| client.client_id.clone());
            let page = consent_page(state, &request_id, &client_name, &record);
            let pending = PendingConsent {
                expires_at: record.expires_at,
                code: record,
                state: client_state,
            };
            state.oauth.lock().insert_pending(request_id, pending, now);
            let mut h = no_store_headers();
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            );
            // Refuse framing of the consent page (clickjacking, RFC 9700 §4.16).
            h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
            h.insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static("frame-ancestors 'none'"),
            );
            (StatusCode::OK, h, page).into_response()
        }
    }
}

/// The checked parts of an authorization request.
struct ValidRequest {
    challenge: Option<crate::rules::pkce::CodeChallenge>,
    scope: String,
    resource: String,
    user: String,
}

/// Checks made after the redirect URI is trusted; an error is the
/// (error code, description) to redirect with.
fn validate_request(
    state: &Shared,
    form: &OAuthForm,
    client_scope: &Option<String>,
) -> Result<ValidRequest, (&'static str, String)> {
    if let Some(name) = form.duplicates().iter().next() {
        return Err((
            "invalid_request",
            format!("parameter {name} is included more than once (OAuth 2.1 §3.1)"),
        ));
    }
    match form.get("response_type") {
        Some("code") => {}
        Some(other) => {
            return Err((
                "unsupported_response_type",
                format!("response_type {other:?} is not supported; use code"),
            ));
        }
        None => {
            return Err((
                "unsupported_response_type",
                "response_type is required; use code".to_owned(),
            ));
        }
    }

    // Fault `pkce-absent-method-plain`: an absent method means `plain`.
    let absent_means_plain = state.config.has(Fault::PkceAbsentMethodPlain)
        && form.get("code_challenge_method").is_none();
    let policy = PkcePolicy {
        allow_plain: state.config.has(Fault::PkcePlainAccepted) || absent_means_plain,
        allow_missing: state.config.has(Fault::PkceMissingChallengeAccepted),
    };
    let challenge = validate_challenge(
        form.get("code_challenge"),
        if absent_means_plain {
            Some("plain")
        } else {
            form.get("code_challenge_method")
        },
        policy,
    )
    .map_err(|e| ("invalid_request", e.to_string()))?;

    let resource = resolve_resource(state, form)?;

    // Scope (RFC 6749 §3.3): unknown tokens are refused, not narrowed; a
    // client that registered a scope may only ask within it.
    let allowed: Vec<String> = match client_scope {
        Some(s) => s.split(' ').map(str::to_owned).collect(),
        None => KNOWN_SCOPES.iter().map(|s| (*s).to_owned()).collect(),
    };
    let scope = match form.get("scope") {
        Some(s) => {
            let tokens = parse_scope(s, KNOWN_SCOPES).map_err(|e| match e {
                ScopeError::Malformed => ("invalid_scope", e.to_string()),
                ScopeError::Unknown(_) => ("invalid_scope", e.to_string()),
            })?;
            if !is_subset(&tokens, &allowed) {
                return Err((
                    "invalid_scope",
                    "the requested scope exceeds the client's registered scope".to_owned(),
                ));
            }
            tokens.join(" ")
        }
        None if allowed.iter().any(|s| s == DEFAULT_SCOPE) => DEFAULT_SCOPE.to_owned(),
        None => allowed.join(" "),
    };

    let user = match form.get("login_hint") {
        None => DEFAULT_USER.to_owned(),
        Some(h)
            if (1..=32).contains(&h.len())
                && h.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()) =>
        {
            h.to_owned()
        }
        Some(_) => {
            return Err((
                "invalid_request",
                "login_hint must be 1 to 32 characters from [a-z0-9]".to_owned(),
            ));
        }
    };

    Ok(ValidRequest {
        challenge,
        scope,
        resource,
        user,
    })
}

/// The canonical form of a resource indicator for comparison: the URL
/// parser lower-cases scheme and host (MCP: SHOULD accept such variants).
pub fn canonical_resource(raw: &str) -> Option<String> {
    if raw.contains('#') {
        return None;
    }
    url::Url::parse(raw).ok().map(String::from)
}

/// RFC 8707 §2: absolute, no fragment, and a resource this AS serves; one
/// value only (tokens carry a single audience). Absent: the primary MCP
/// endpoint. Fault `resource-not-validated` takes any value as given.
fn resolve_resource(state: &Shared, form: &OAuthForm) -> Result<String, (&'static str, String)> {
    let values: Vec<&str> = form.get_all("resource").collect();
    let raw = match values.as_slice() {
        [] => return Ok(state.urls.mcp.clone()),
        [one] => *one,
        _ => {
            return Err((
                "invalid_target",
                "only one resource per request is supported".to_owned(),
            ));
        }
    };
    if state.config.has(Fault::ResourceNotValidated) {
        return Ok(raw.to_owned());
    }
    match_resource(state, raw).ok_or_else(|| {
        (
            "invalid_target",
            "resource is not an absolute URI of a resource this server protects (RFC 8707 §2)"
                .to_owned(),
        )
    })
}

/// The protected resource `raw` names, in its canonical spelling.
pub fn match_resource(state: &Shared, raw: &str) -> Option<String> {
    let wanted = canonical_resource(raw)?;
    state
        .urls
        .resources()
        .into_iter()
        .find(|r| canonical_resource(r).as_deref() == Some(wanted.as_str()))
        .map(str::to_owned)
}

/// Stores a new code (256 random bits) and returns it.
fn issue_code(state: &Shared, record: CodeRecord) -> String {
    let code = random_string(32);
    let now = state.clock.now_secs();
    let keep_expired = state.config.has(Fault::CodeNeverExpires);
    state
        .oauth
        .lock()
        .insert_code(sha256(&code), record, now, keep_expired);
    code
}

fn consent_page(
    state: &Shared,
    request_id: &str,
    client_name: &str,
    record: &CodeRecord,
) -> String {
    let host = url::Url::parse(&record.redirect_uri)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_else(|| record.redirect_uri.clone());
    format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>Authorize {client}</title></head><body>\n\
         <h1>Authorize {client}</h1>\n\
         <p>Signed in as <strong>{user}</strong>.</p>\n\
         <p>The application will be redirected to <strong>{host}</strong> \
         (<code>{redirect}</code>).</p>\n\
         <p>Scope: <code>{scope}</code><br>Resource: <code>{resource}</code></p>\n\
         <form method=\"post\" action=\"{action}\">\n\
         <input type=\"hidden\" name=\"request_id\" value=\"{id}\">\n\
         <button type=\"submit\" name=\"decision\" value=\"approve\">Approve</button>\n\
         <button type=\"submit\" name=\"decision\" value=\"deny\">Deny</button>\n\
         </form></body></html>\n",
        client = html_escape(client_name),
        user = html_escape(&record.sub),
        host = html_escape(&host),
        redirect = html_escape(&record.redirect_uri),
        scope = html_escape(&record.scope),
        resource = html_escape(&record.resource),
        action = html_escape(&format!("{}/authorize", state.urls.issuer)),
        id = html_escape(request_id),
    )
}

/// The consent form posted back: approve issues the code, deny redirects
/// `access_denied`; both with 303 (OAuth 2.1 §7.5.4: never 307).
async fn consent_decision(state: &Shared, headers: &HeaderMap, body: &[u8]) -> Response {
    let form = match parse_form(body) {
        Ok(f) => f,
        Err(e) => return error_page(headers, "invalid_request", &e.to_string()),
    };
    let now = state.clock.now_secs();
    let pending = form
        .get("request_id")
        .and_then(|id| state.oauth.lock().pending.remove(id))
        .filter(|p| p.expires_at > now);
    let Some(pending) = pending else {
        return error_page(
            headers,
            "invalid_request",
            "unknown or expired authorization request",
        );
    };
    let redirector = Redirector {
        state,
        redirect_uri: pending.code.redirect_uri.clone(),
        client_state: pending.state.clone(),
    };
    match form.get("decision") {
        Some("approve") => {
            let mut record = pending.code;
            // The code's lifetime starts when it is issued.
            record.issued_at = now;
            record.expires_at = now.saturating_add(state.config.code_ttl.as_secs());
            let code = issue_code(state, record);
            redirector.code(&code, true)
        }
        Some("deny") => redirector.error("access_denied", "the user denied the request", true),
        _ => error_page(
            headers,
            "invalid_request",
            "decision must be approve or deny",
        ),
    }
}
