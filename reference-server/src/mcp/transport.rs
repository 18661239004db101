//! Streamable HTTP (MCP `basic/transports`, 2025-03-26 to 2025-11-25): the
//! POST, GET, DELETE and OPTIONS handlers of an MCP endpoint.
//!
//! Order of the checks on every request, and why:
//! 1. `Origin` (DNS rebinding, 403) first: it needs no credentials, and a
//!    rebinding page must learn nothing, not even that a token is needed.
//! 2. The bearer token (401/400), before anything that could reveal MCP
//!    state (RS-18), for session requests too (RS-03).
//! 3. Media types (415, 406), the JSON-RPC message (400), then the session
//!    (400 missing, 404 unknown or someone else's) and the protocol version
//!    header (400).

use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::protocol::{self, Context, Outcome};
use super::session::{Session, SessionError};
use super::tools::ServerFacts;
use super::{Principal, SessionStore};
use crate::config::Fault;
use crate::resource::{self, AuthFailure, ProtectedResource};
use crate::rules::jsonrpc::{self, JsonRpcError, Message, codes};
use crate::rules::origin::{self, OriginError};
use crate::server::AppState;

/// `Mcp-Session-Id` (25-11 spells it `MCP-Session-Id`; names are
/// case-insensitive and `http` stores them lowercase).
pub const SESSION_HEADER: HeaderName = HeaderName::from_static("mcp-session-id");
/// `MCP-Protocol-Version`.
pub const VERSION_HEADER: HeaderName = HeaderName::from_static("mcp-protocol-version");
/// Our ids are 43 characters; anything much longer is not one of them.
pub const MAX_SESSION_ID_LEN: usize = 128;

/// A request the transport refuses, with the status it earns.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("forbidden origin: {0}")]
    Origin(#[source] OriginError),
    #[error(transparent)]
    Auth(AuthFailure),
    #[error("Content-Type must be application/json")]
    UnsupportedMediaType,
    #[error("Accept must allow application/json or text/event-stream")]
    NotAcceptable,
    #[error(transparent)]
    JsonRpc(JsonRpcError),
    #[error("the Mcp-Session-Id header is required after initialize")]
    MissingSession,
    #[error("the Mcp-Session-Id header is malformed")]
    MalformedSession,
    #[error("session not found")]
    UnknownSession,
    #[error("the MCP-Protocol-Version header is malformed")]
    MalformedVersion,
    #[error("unsupported MCP-Protocol-Version {0:?}")]
    UnsupportedVersion(String),
    #[error("MCP-Protocol-Version {sent:?} differs from the negotiated {negotiated:?}")]
    VersionMismatch { sent: String, negotiated: String },
    #[error(transparent)]
    Session(SessionError),
}

impl TransportError {
    fn status(&self) -> StatusCode {
        match self {
            TransportError::Origin(_) => StatusCode::FORBIDDEN,
            TransportError::Auth(_) => StatusCode::UNAUTHORIZED,
            TransportError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            TransportError::NotAcceptable => StatusCode::NOT_ACCEPTABLE,
            TransportError::UnknownSession => StatusCode::NOT_FOUND,
            TransportError::Session(SessionError::Full(_)) => StatusCode::SERVICE_UNAVAILABLE,
            TransportError::Session(SessionError::Random) => StatusCode::INTERNAL_SERVER_ERROR,
            TransportError::JsonRpc(_)
            | TransportError::MissingSession
            | TransportError::MalformedSession
            | TransportError::MalformedVersion
            | TransportError::UnsupportedVersion(_)
            | TransportError::VersionMismatch { .. } => StatusCode::BAD_REQUEST,
        }
    }

    fn into_response(self, state: &AppState, resource: ProtectedResource) -> Response {
        if let TransportError::Auth(failure) = self {
            return failure.into_response(state, resource);
        }
        let status = self.status();
        let (code, id, data) = match &self {
            TransportError::JsonRpc(e) => (e.code(), e.id().cloned(), None),
            TransportError::UnsupportedVersion(_)
            | TransportError::MalformedVersion
            | TransportError::VersionMismatch { .. } => (
                codes::INVALID_REQUEST,
                None,
                Some(json!({ "supported": protocol::SUPPORTED_VERSIONS })),
            ),
            _ if status.is_server_error() => (codes::INTERNAL_ERROR, None, None),
            _ => (codes::INVALID_REQUEST, None, None),
        };
        // The body is a JSON-RPC error without a usable id (transports allow
        // one on 400/403/404); the HTTP status is what clients act on.
        let body = jsonrpc::error(id.as_ref(), code, &self.to_string(), data);
        (status, axum::Json(body)).into_response()
    }
}

/// How to frame a response (transports, "Sending Messages to the Server":
/// the server returns either `application/json` or `text/event-stream`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    Json,
    Sse,
}

/// Picks the framing from `Accept` (RFC 9110 §12.5.1). JSON wins when both
/// are acceptable: one response needs no stream. No `Accept` at all means
/// anything is acceptable.
pub fn negotiate_framing(headers: &HeaderMap) -> Result<Framing, TransportError> {
    let mut any = false;
    let (mut json_ok, mut sse_ok) = (false, false);
    for value in headers.get_all(header::ACCEPT) {
        any = true;
        let Ok(value) = value.to_str() else { continue };
        for range in value.split(',') {
            let mut parts = range.split(';');
            let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            let q_zero = parts.any(|p| {
                p.trim()
                    .strip_prefix("q=")
                    .or_else(|| p.trim().strip_prefix("Q="))
                    .and_then(|q| q.trim().parse::<f32>().ok())
                    .is_some_and(|q| q <= 0.0)
            });
            if q_zero {
                continue;
            }
            match media.as_str() {
                "application/json" | "application/*" => json_ok = true,
                "text/event-stream" | "text/*" => sse_ok = true,
                "*/*" => {
                    json_ok = true;
                    sse_ok = true;
                }
                _ => {}
            }
        }
    }
    match (any, json_ok, sse_ok) {
        (false, _, _) | (true, true, _) => Ok(Framing::Json),
        (true, false, true) => Ok(Framing::Sse),
        (true, false, false) => Err(TransportError::NotAcceptable),
    }
}

/// `Content-Type: application/json`, optionally with `charset=utf-8`
/// (JSON-RPC messages MUST be UTF-8).
pub fn check_content_type(headers: &HeaderMap) -> Result<(), TransportError> {
    // Exactly one field: two Content-Type values do not name one type.
    let mut values = headers.get_all(header::CONTENT_TYPE).iter();
    let (Some(value), None) = (values.next(), values.next()) else {
        return Err(TransportError::UnsupportedMediaType);
    };
    let value = value
        .to_str()
        .map_err(|_| TransportError::UnsupportedMediaType)?;
    let mut parts = value.split(';');
    let media = parts.next().unwrap_or("").trim();
    if !media.eq_ignore_ascii_case("application/json") {
        return Err(TransportError::UnsupportedMediaType);
    }
    for p in parts {
        if let Some((k, v)) = p.split_once('=')
            && k.trim().eq_ignore_ascii_case("charset")
            && !v.trim().trim_matches('"').eq_ignore_ascii_case("utf-8")
        {
            return Err(TransportError::UnsupportedMediaType);
        }
    }
    Ok(())
}

/// The `Mcp-Session-Id` value, if any: exactly one, at most
/// [`MAX_SESSION_ID_LEN`] visible ASCII characters.
pub fn session_id(headers: &HeaderMap) -> Result<Option<&str>, TransportError> {
    let mut values = headers.get_all(SESSION_HEADER).iter();
    let (Some(v), None) = (values.next(), values.next()) else {
        return match headers.get(SESSION_HEADER) {
            None => Ok(None),
            Some(_) => Err(TransportError::MalformedSession),
        };
    };
    let b = v.as_bytes();
    if b.is_empty() || b.len() > MAX_SESSION_ID_LEN || !b.iter().all(|c| (0x21..=0x7e).contains(c))
    {
        return Err(TransportError::MalformedSession);
    }
    v.to_str()
        .map(Some)
        .map_err(|_| TransportError::MalformedSession)
}

/// Checks `MCP-Protocol-Version` (2025-06-18 transports, "Protocol Version
/// Header"): absent is taken as 2025-03-26, which is supported; present, it
/// must be well formed, supported and, inside a session, the negotiated one.
pub fn check_version_header(
    state: &AppState,
    headers: &HeaderMap,
    negotiated: Option<&str>,
) -> Result<(), TransportError> {
    if state.config.has(Fault::ProtocolVersionIgnored) {
        return Ok(());
    }
    let mut values = headers.get_all(VERSION_HEADER).iter();
    let value = match (values.next(), values.next()) {
        (None, _) => return Ok(()),
        (Some(_), Some(_)) => return Err(TransportError::MalformedVersion),
        (Some(v), None) => v,
    };
    if value.len() > protocol::MAX_VERSION_LEN {
        return Err(TransportError::MalformedVersion);
    }
    let sent = value
        .to_str()
        .map_err(|_| TransportError::MalformedVersion)?
        .trim();
    if !protocol::is_well_formed_version(sent) {
        return Err(TransportError::MalformedVersion);
    }
    if !protocol::SUPPORTED_VERSIONS.contains(&sent) {
        return Err(TransportError::UnsupportedVersion(sent.to_owned()));
    }
    match negotiated {
        Some(n) if n != sent => Err(TransportError::VersionMismatch {
            sent: sent.to_owned(),
            negotiated: n.to_owned(),
        }),
        _ => Ok(()),
    }
}

/// One request's view of the server.
struct Exchange<'a> {
    state: &'a AppState,
    resource: ProtectedResource,
    headers: &'a HeaderMap,
    query: Option<&'a str>,
}

impl Exchange<'_> {
    fn sessions(&self) -> &SessionStore {
        &self.state.sessions
    }

    fn now(&self) -> u64 {
        self.state.clock.now_secs()
    }

    /// What [`protocol::handle`] needs to answer for `principal`.
    fn context<'p>(&self, principal: &'p Principal) -> Context<'p> {
        Context {
            principal,
            facts: ServerFacts {
                active_sessions: self.sessions().len(),
            },
            enforce_scopes: !self.state.config.has(Fault::ScopeNotEnforced),
        }
    }

    /// MCP transports "Security Warning": validate `Origin`; 25-11: 403.
    fn check_origin(&self) -> Result<(), TransportError> {
        if self.state.config.has(Fault::OriginNotValidated) {
            return Ok(());
        }
        match self.headers.get(header::ORIGIN) {
            None => Ok(()),
            Some(v) => origin::check_origin(v.as_bytes(), &self.state.urls.origin)
                .map_err(TransportError::Origin),
        }
    }

    /// The bearer check. Under `session-without-token`, a request without
    /// credentials but with a live session runs as that session's user.
    fn authenticate(&self) -> Result<Principal, TransportError> {
        match resource::authenticate(self.state, self.headers, self.query, self.resource) {
            Ok(claims) => Ok(Principal::from_claims(&claims)),
            Err(AuthFailure::NoCredentials)
                if self.state.config.has(Fault::SessionWithoutToken) =>
            {
                let session = session_id(self.headers)
                    .ok()
                    .flatten()
                    .and_then(|id| self.sessions().lookup(id, self.now()))
                    .filter(|s| s.resource == self.resource.url(&self.state.urls));
                session
                    .map(|s| s.principal)
                    .ok_or(TransportError::Auth(AuthFailure::NoCredentials))
            }
            Err(e) => Err(TransportError::Auth(e)),
        }
    }

    /// The session a non-initialize request belongs to (transports,
    /// "Session Management" §2-3; best practices, "Session Hijacking").
    fn session(&self, principal: &Principal) -> Result<(String, Session), TransportError> {
        let id = session_id(self.headers)?.ok_or(TransportError::MissingSession)?;
        let session = self
            .sessions()
            .lookup(id, self.now())
            .ok_or(TransportError::UnknownSession)?;
        if session.resource != self.resource.url(&self.state.urls) {
            return Err(TransportError::UnknownSession);
        }
        // Another user's session looks exactly like an unknown one, so its
        // existence is not revealed either.
        if session.sub != principal.sub && !self.state.config.has(Fault::SessionNotBoundToUser) {
            return Err(TransportError::UnknownSession);
        }
        Ok((id.to_owned(), session))
    }
}

/// `POST` on an MCP endpoint.
pub async fn post(
    state: AppState,
    resource: ProtectedResource,
    headers: HeaderMap,
    query: Option<String>,
    body: Bytes,
) -> Response {
    let ex = Exchange {
        state: &state,
        resource,
        headers: &headers,
        query: query.as_deref(),
    };
    let resp = post_inner(&ex, &body).unwrap_or_else(|e| e.into_response(&state, resource));
    with_cors(&state, &headers, resp)
}

fn post_inner(ex: &Exchange<'_>, body: &[u8]) -> Result<Response, TransportError> {
    ex.check_origin()?;
    let principal = ex.authenticate()?;
    check_content_type(ex.headers)?;
    let framing = negotiate_framing(ex.headers)?;
    let message = match jsonrpc::parse_message(body) {
        Ok(m) => m,
        Err(JsonRpcError::Batch) => return batch(ex, &principal, body, framing),
        Err(e) => return Err(TransportError::JsonRpc(e)),
    };
    if let Message::Request(req) = &message
        && req.method == "initialize"
    {
        return initialize(ex, &principal, req, framing);
    }
    let (sid, session) = ex.session(&principal)?;
    check_version_header(ex.state, ex.headers, Some(&session.protocol_version))?;
    let now = ex.now();
    match message {
        Message::Request(req) => {
            ex.sessions().record_use(&sid, &principal, false, now);
            Ok(match protocol::handle(&req, &ex.context(&principal)) {
                Outcome::Result(r) => respond(framing, jsonrpc::success(&req.id, r), None),
                Outcome::Error(e) => respond(
                    framing,
                    jsonrpc::error(Some(&req.id), e.code, &e.message, e.data),
                    None,
                ),
                Outcome::MissingScopes(scopes) => {
                    resource::insufficient_scope(ex.state, ex.resource, scopes)
                }
            })
        }
        // Transports §4: an accepted notification or response gets 202 and
        // no body.
        Message::Notification(n) => {
            let initialized = n.method == "notifications/initialized";
            ex.sessions().record_use(&sid, &principal, initialized, now);
            Ok(StatusCode::ACCEPTED.into_response())
        }
        Message::Response(_) => {
            ex.sessions().record_use(&sid, &principal, false, now);
            Ok(StatusCode::ACCEPTED.into_response())
        }
    }
}

/// A JSON-RPC batch. 2025-03-26 transports allow a POST body to be "an
/// array of one or more requests and/or notifications" (or responses);
/// 2025-06-18 removed batching, so only sessions that negotiated 2025-03-26
/// get one processed; the others get 400 with -32600. `initialize` "MUST
/// NOT be part of a JSON-RPC batch" (2025-03-26 lifecycle), so a batch
/// always needs a session.
fn batch(
    ex: &Exchange<'_>,
    principal: &Principal,
    body: &[u8],
    framing: Framing,
) -> Result<Response, TransportError> {
    let (sid, session) = ex.session(principal)?;
    check_version_header(ex.state, ex.headers, Some(&session.protocol_version))?;
    if session.protocol_version != protocol::BATCH_VERSION {
        return Err(TransportError::JsonRpc(JsonRpcError::Batch));
    }
    let items = jsonrpc::parse_batch(body).map_err(TransportError::JsonRpc)?;
    let ctx = ex.context(principal);
    let mut initialized = false;
    let mut responses = Vec::new();
    for item in items {
        match item {
            Ok(Message::Request(req)) if req.method == "initialize" => {
                responses.push(jsonrpc::error(
                    Some(&req.id),
                    codes::INVALID_REQUEST,
                    "initialize must not be part of a batch",
                    None,
                ));
            }
            Ok(Message::Request(req)) => match protocol::handle(&req, &ctx) {
                Outcome::Result(r) => responses.push(jsonrpc::success(&req.id, r)),
                Outcome::Error(e) => {
                    responses.push(jsonrpc::error(Some(&req.id), e.code, &e.message, e.data));
                }
                // The tools have no side effects, so refusing the whole
                // batch after some requests ran loses nothing.
                Outcome::MissingScopes(scopes) => {
                    return Ok(resource::insufficient_scope(ex.state, ex.resource, scopes));
                }
            },
            Ok(Message::Notification(n)) => initialized |= n.method == "notifications/initialized",
            Ok(Message::Response(_)) => {}
            Err(e) => responses.push(jsonrpc::error(e.id(), e.code(), &e.to_string(), None)),
        }
    }
    ex.sessions()
        .record_use(&sid, principal, initialized, ex.now());
    if responses.is_empty() {
        // Only notifications and responses: 202, no body.
        return Ok(StatusCode::ACCEPTED.into_response());
    }
    Ok(respond(framing, Value::Array(responses), None))
}

/// `initialize` (lifecycle "Initialization"): validates the params,
/// negotiates the version and opens a session bound to the user.
fn initialize(
    ex: &Exchange<'_>,
    principal: &Principal,
    req: &jsonrpc::Request,
    framing: Framing,
) -> Result<Response, TransportError> {
    // The header is not required on initialize, but one that is present is
    // still checked (transports: an invalid or unsupported value gets 400).
    check_version_header(ex.state, ex.headers, None)?;
    let params = match protocol::parse_initialize(req.params.as_ref()) {
        Ok(p) => p,
        Err(e) => {
            let body = jsonrpc::error(Some(&req.id), e.code, &e.message, e.data);
            return Ok(respond(framing, body, None));
        }
    };
    let version = protocol::negotiate(
        &params.protocol_version,
        ex.state.config.has(Fault::VersionNegotiationBroken),
    );
    let id = ex
        .sessions()
        .create(
            principal,
            ex.resource.url(&ex.state.urls),
            &version,
            ex.now(),
        )
        .map_err(TransportError::Session)?;
    let body = jsonrpc::success(&req.id, protocol::initialize_result(&version));
    Ok(respond(framing, body, Some(&id)))
}

/// Frames one JSON-RPC response as JSON or as a one-event SSE stream.
fn respond(framing: Framing, body: Value, session: Option<&str>) -> Response {
    let mut resp = match framing {
        Framing::Json => (StatusCode::OK, axum::Json(body)).into_response(),
        Framing::Sse => {
            // One `message` event with the response, then the stream ends
            // (transports: the server SHOULD close the stream after
            // sending the response). serde_json never emits raw newlines,
            // so one `data:` line carries the whole message.
            let event = format!("event: message\ndata: {body}\n\n");
            (
                StatusCode::OK,
                [
                    (header::CONTENT_TYPE, "text/event-stream"),
                    (header::CACHE_CONTROL, "no-cache"),
                ],
                event,
            )
                .into_response()
        }
    };
    if let Some(id) = session
        && let Ok(v) = HeaderValue::from_str(id)
    {
        resp.headers_mut().insert(SESSION_HEADER, v);
    }
    resp
}

/// `GET` on an MCP endpoint: no server-initiated stream is offered, so after
/// the Origin and bearer checks the answer is 405 (transports, "Listening
/// for Messages from the Server": the server MUST return either an SSE
/// stream or 405).
pub async fn get(
    state: AppState,
    resource: ProtectedResource,
    headers: HeaderMap,
    query: Option<String>,
) -> Response {
    let ex = Exchange {
        state: &state,
        resource,
        headers: &headers,
        query: query.as_deref(),
    };
    let resp = match ex.check_origin().and_then(|()| ex.authenticate()) {
        Ok(_) => (
            StatusCode::METHOD_NOT_ALLOWED,
            [(header::ALLOW, "POST, DELETE, OPTIONS")],
        )
            .into_response(),
        Err(e) => e.into_response(&state, resource),
    };
    with_cors(&state, &headers, resp)
}

/// `DELETE` on an MCP endpoint: ends the session (transports, "Session
/// Management" §5); later requests with its id get 404.
pub async fn delete(
    state: AppState,
    resource: ProtectedResource,
    headers: HeaderMap,
    query: Option<String>,
) -> Response {
    let ex = Exchange {
        state: &state,
        resource,
        headers: &headers,
        query: query.as_deref(),
    };
    let result = (|| {
        ex.check_origin()?;
        let principal = ex.authenticate()?;
        let (sid, session) = ex.session(&principal)?;
        check_version_header(&state, &headers, Some(&session.protocol_version))?;
        ex.sessions().remove(&sid);
        Ok::<_, TransportError>(StatusCode::NO_CONTENT.into_response())
    })();
    let resp = result.unwrap_or_else(|e| e.into_response(&state, resource));
    with_cors(&state, &headers, resp)
}

/// CORS preflight. Never behind the bearer check (WWW-09: a preflight
/// carries no credentials). Only allowed origins get the grant; for others
/// the browser then blocks the real request, which would get 403 anyway.
pub async fn preflight(state: AppState, headers: HeaderMap) -> Response {
    let mut resp = (
        StatusCode::NO_CONTENT,
        [(header::ALLOW, "POST, GET, DELETE, OPTIONS")],
    )
        .into_response();
    if allowed_origin(&state, &headers).is_some() {
        let h = resp.headers_mut();
        h.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("POST, GET, DELETE, OPTIONS"),
        );
        h.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static(
                "authorization, content-type, accept, mcp-protocol-version, mcp-session-id, last-event-id",
            ),
        );
        h.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static("86400"),
        );
    }
    with_cors(&state, &headers, resp)
}

/// The request's `Origin`, when present and allowed.
fn allowed_origin<'h>(state: &AppState, headers: &'h HeaderMap) -> Option<&'h HeaderValue> {
    let origin = headers.get(header::ORIGIN)?;
    let ok = state.config.has(Fault::OriginNotValidated)
        || origin::check_origin(origin.as_bytes(), &state.urls.origin).is_ok();
    ok.then_some(origin)
}

/// CORS response headers: the challenge and the session id must be readable
/// by browser clients (WWW-08), and an allowed origin is echoed.
fn with_cors(state: &AppState, headers: &HeaderMap, mut resp: Response) -> Response {
    let allowed = allowed_origin(state, headers).cloned();
    let h = resp.headers_mut();
    h.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static("WWW-Authenticate, Mcp-Session-Id"),
    );
    h.append(header::VARY, HeaderValue::from_static("Origin"));
    if let Some(origin) = allowed {
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn framing_prefers_json_and_falls_back_to_sse() {
        let f = |accept: &'static str| negotiate_framing(&headers(&[("accept", accept)]));
        assert_eq!(
            f("application/json, text/event-stream").unwrap(),
            Framing::Json
        );
        assert_eq!(f("text/event-stream").unwrap(), Framing::Sse);
        assert_eq!(
            f("application/json;q=0, text/event-stream").unwrap(),
            Framing::Sse
        );
        assert_eq!(f("*/*").unwrap(), Framing::Json);
        assert!(matches!(f("text/html"), Err(TransportError::NotAcceptable)));
        assert_eq!(negotiate_framing(&HeaderMap::new()).unwrap(), Framing::Json);
    }

    #[test]
    fn content_type_must_be_json() {
        let f = |ct: &'static str| check_content_type(&headers(&[("content-type", ct)]));
        assert!(f("application/json").is_ok());
        assert!(f("Application/JSON; charset=UTF-8").is_ok());
        assert!(f("application/json; charset=latin1").is_err());
        assert!(f("text/plain").is_err());
        assert!(check_content_type(&HeaderMap::new()).is_err());
    }

    #[test]
    fn session_ids_are_checked_for_shape() {
        assert_eq!(session_id(&HeaderMap::new()).unwrap(), None);
        assert_eq!(
            session_id(&headers(&[("mcp-session-id", "abc")])).unwrap(),
            Some("abc")
        );
        for bad in ["a b", ""] {
            assert!(session_id(&headers(&[("mcp-session-id", bad)])).is_err());
        }
        assert!(
            session_id(&headers(&[
                ("mcp-session-id", "a"),
                ("mcp-session-id", "b")
            ]))
            .is_err()
        );
        let long: &'static str = "a".repeat(MAX_SESSION_ID_LEN + 1).leak();
        assert!(session_id(&headers(&[("mcp-session-id", long)])).is_err());
    }
}
