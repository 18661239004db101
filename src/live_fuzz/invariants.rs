//! Judging one exchange: which invariant, if any, the response broke.
//!
//! Judgements read the request as it was actually sent (after shrinking,
//! too), not what the generator meant it to be: a shrunk registration whose
//! redirect URI became safe no longer counts as an unsafe one. That keeps
//! the shrinker honest and the verdicts tied to the bytes in the curl
//! command.

use serde::Serialize;
use serde_json::Value;

use super::{Endpoint, Secrets};
use crate::core::{form, url_canon};
use crate::http::{Request, Response};

/// A rule every answer of a conforming target keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Invariant {
    /// No 5xx, whatever the input.
    NoServerError,
    /// OAuth errors: 4xx, JSON, a string `error` from the RFC's list.
    ErrorFormat,
    /// A registration with an unsafe redirect URI is never accepted.
    UnsafeRedirectRegistered,
    /// `/authorize` never redirects to an unregistered or unsafe URI.
    OpenRedirect,
    /// No code for `plain` or a missing challenge when only S256 is offered.
    PkceDowngrade,
    /// A bad verifier, bogus code or wrong grant never yields a token.
    BadGrantRedeemed,
    /// A forged, tampered, foreign or misplaced token never gets 2xx.
    ForgedTokenAccepted,
    /// A malformed or unsupported `MCP-Protocol-Version` never gets 2xx.
    BadVersionAccepted,
    /// A foreign `Origin` never gets 2xx.
    ForeignOriginAccepted,
    /// The target still answers an unauthenticated request with 401.
    Liveness,
}

impl Invariant {
    pub fn id(self) -> &'static str {
        match self {
            Invariant::NoServerError => "no-server-error",
            Invariant::ErrorFormat => "error-format",
            Invariant::UnsafeRedirectRegistered => "unsafe-redirect-registered",
            Invariant::OpenRedirect => "open-redirect",
            Invariant::PkceDowngrade => "pkce-downgrade",
            Invariant::BadGrantRedeemed => "bad-grant-redeemed",
            Invariant::ForgedTokenAccepted => "forged-token-accepted",
            Invariant::BadVersionAccepted => "bad-version-accepted",
            Invariant::ForeignOriginAccepted => "foreign-origin-accepted",
            Invariant::Liveness => "liveness",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Invariant::NoServerError => "a hostile input got a 5xx",
            Invariant::ErrorFormat => {
                "an OAuth error is not a 4xx JSON object with an `error` code from the RFC's list"
            }
            Invariant::UnsafeRedirectRegistered => {
                "a registration with an unsafe redirect URI was accepted"
            }
            Invariant::OpenRedirect => {
                "the authorization endpoint redirected to an unregistered or unsafe redirect URI"
            }
            Invariant::PkceDowngrade => "a code was issued for a request without an S256 challenge",
            Invariant::BadGrantRedeemed => {
                "a token was issued for a bad verifier, a bogus code or a wrong grant"
            }
            Invariant::ForgedTokenAccepted => {
                "the MCP endpoint accepted a request without the valid bearer token in the Authorization header"
            }
            Invariant::BadVersionAccepted => {
                "a session request with a malformed or unsupported MCP-Protocol-Version was accepted"
            }
            Invariant::ForeignOriginAccepted => "a request with a foreign Origin was accepted",
            Invariant::Liveness => {
                "the target stopped answering an unauthenticated request with 401"
            }
        }
    }

    /// The requirement ids the invariant stands for, at `endpoint`.
    pub fn requirements(self, endpoint: Endpoint) -> &'static [&'static str] {
        match (self, endpoint) {
            (Invariant::NoServerError, Endpoint::Register) => &["DCR-15"],
            (Invariant::NoServerError, Endpoint::Token) => &["TOK-02"],
            (Invariant::NoServerError, Endpoint::Authorize) => &["AUTHZ-02", "AUTHZ-03"],
            (Invariant::NoServerError, Endpoint::Mcp) => &["RS-04", "MCP-14"],
            (Invariant::ErrorFormat, Endpoint::Register) => &["DCR-15"],
            (Invariant::ErrorFormat, _) => &["TOK-02"],
            (Invariant::UnsafeRedirectRegistered, _) => &["DCR-07", "DCR-08", "DCR-09", "DCR-10"],
            (Invariant::OpenRedirect, _) => &["AUTHZ-02", "AUTHZ-03"],
            (Invariant::PkceDowngrade, _) => &["PKCE-01", "PKCE-02"],
            (Invariant::BadGrantRedeemed, _) => &[
                "PKCE-06", "PKCE-07", "CODE-04", "CODE-05", "TOK-07", "TOK-08", "TOK-09",
            ],
            (Invariant::ForgedTokenAccepted, _) => &["RS-03", "RS-04", "RS-05", "RS-07", "RS-12"],
            (Invariant::BadVersionAccepted, _) => &["MCP-06"],
            (Invariant::ForeignOriginAccepted, _) => &["MCP-18"],
            (Invariant::Liveness, _) => &["RS-01"],
        }
    }
}

/// A broken invariant, with the reason in words.
#[derive(Debug, Clone)]
pub struct Violation {
    pub invariant: Invariant,
    pub detail: String,
}

fn violation(invariant: Invariant, detail: impl Into<String>) -> Option<Violation> {
    Some(Violation {
        invariant,
        detail: detail.into(),
    })
}

/// What the judge knows about the target.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    /// The MCP endpoint's origin.
    pub target_origin: String,
    /// Our registered public client and its redirect URI.
    pub client_id: Option<String>,
    pub redirect_uri: String,
    /// `code_challenge_methods_supported` includes `plain`.
    pub plain_offered: bool,
}

/// Protocol versions that exist (a header with any other value is malformed
/// or unsupported).
pub const KNOWN_VERSIONS: &[&str] = &["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"];

/// RFC 6749 §5.2, plus RFC 8707's `invalid_target`.
const TOKEN_ERRORS: &[&str] = &[
    "invalid_request",
    "invalid_client",
    "invalid_grant",
    "unauthorized_client",
    "unsupported_grant_type",
    "invalid_scope",
    "invalid_target",
];

/// Whether a redirect URI is one DCR-07..10 forbid: not an absolute URI
/// (relative, whitespace or control characters, empty), a script or local
/// scheme, a fragment, `http` on a non-loopback host, or `https` without an
/// authority. Private-use schemes are not judged (DCR-12 is informational).
pub fn is_unsafe_redirect_uri(raw: &str) -> bool {
    if raw.is_empty() || raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return true;
    }
    let Some(colon) = raw.find(':') else {
        return true;
    };
    let scheme = &raw[..colon];
    let valid_scheme = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    if !valid_scheme {
        return true;
    }
    if raw.contains('#') {
        return true;
    }
    let scheme = scheme.to_ascii_lowercase();
    match scheme.as_str() {
        "javascript" | "data" | "file" | "vbscript" | "blob" | "about" => true,
        "http" | "https" => {
            if !raw[colon + 1..].starts_with("//") {
                return true;
            }
            let Ok(url) = url::Url::parse(raw) else {
                return true;
            };
            let Some(host) = url.host_str() else {
                return true;
            };
            scheme == "http" && !url_canon::is_loopback_host(host)
        }
        _ => false,
    }
}

fn header<'a>(req: &'a Request, name: &str) -> impl Iterator<Item = &'a str> + 'a {
    let name = name.to_owned();
    req.headers
        .iter()
        .filter(move |(n, _)| n.eq_ignore_ascii_case(&name))
        .map(|(_, v)| v.as_str())
}

fn query_pairs(url: &str) -> Vec<(String, String)> {
    url.split_once('?')
        .map(|(_, q)| form::decode(q))
        .unwrap_or_default()
}

fn is_form(req: &Request) -> bool {
    header(req, "content-type").next().is_some_and(|v| {
        v.split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .eq_ignore_ascii_case("application/x-www-form-urlencoded")
    })
}

/// The requested redirect URI is one our client registered, or its
/// loopback port variant (RFC 8252 §7.3).
fn is_registered(requested: &str, registered: &str) -> bool {
    if requested == registered {
        return true;
    }
    let (Ok(mut a), Ok(mut b)) = (url::Url::parse(requested), url::Url::parse(registered)) else {
        return false;
    };
    if a.as_str() != requested || a.scheme() != "http" || b.scheme() != "http" {
        return false;
    }
    let loopback = |u: &url::Url| u.host_str().is_some_and(url_canon::is_loopback_host);
    if !loopback(&a) || !loopback(&b) {
        return false;
    }
    let _ = (a.set_port(None), b.set_port(None));
    a == b
}

/// Whether `location` sends the browser to `target` (same scheme, host,
/// port and path; or, for a target that does not parse as an http URL, a
/// location that starts with it).
fn lands_on(location: &str, target: &str) -> bool {
    if target.is_empty() {
        return false;
    }
    match (url::Url::parse(location), url::Url::parse(target)) {
        (Ok(l), Ok(t)) if matches!(t.scheme(), "http" | "https") => {
            l.scheme() == t.scheme()
                && l.host_str() == t.host_str()
                && l.port_or_known_default() == t.port_or_known_default()
                && l.path() == t.path()
        }
        _ => location.starts_with(target),
    }
}

/// Judges one exchange of a case sent to `endpoint`.
pub fn judge(
    endpoint: Endpoint,
    req: &Request,
    resp: &Response,
    secrets: &Secrets,
    facts: &Facts,
) -> Option<Violation> {
    if resp.status >= 500 {
        return violation(Invariant::NoServerError, format!("status {}", resp.status));
    }
    match endpoint {
        Endpoint::Register => judge_register(req, resp),
        Endpoint::Authorize => judge_authorize(req, resp, facts),
        Endpoint::Token => judge_token(req, resp, secrets, facts),
        Endpoint::Mcp => judge_mcp(req, resp, secrets, facts),
    }
}

fn error_member(resp: &Response) -> Option<Option<String>> {
    let v: Value = serde_json::from_slice(&resp.body).ok()?;
    Some(v.get("error").and_then(Value::as_str).map(str::to_owned))
}

fn judge_register(req: &Request, resp: &Response) -> Option<Violation> {
    let ok = (200..300).contains(&resp.status);
    if ok {
        if let Ok(doc) = serde_json::from_slice::<Value>(&req.body)
            && let Some(uris) = doc.get("redirect_uris").and_then(Value::as_array)
            && let Some(bad) = uris
                .iter()
                .filter_map(Value::as_str)
                .find(|u| is_unsafe_redirect_uri(u))
        {
            return violation(
                Invariant::UnsafeRedirectRegistered,
                format!("status {} for redirect URI {bad:?}", resp.status),
            );
        }
        return None;
    }
    // RFC 7591 §3.2.2: 400 with a JSON error object.
    if resp.status == 400 {
        match error_member(resp) {
            Some(Some(_)) => None,
            Some(None) => violation(
                Invariant::ErrorFormat,
                "400 without a string `error` member",
            ),
            None => violation(Invariant::ErrorFormat, "400 without a JSON body"),
        }
    } else {
        None
    }
}

fn judge_authorize(req: &Request, resp: &Response, facts: &Facts) -> Option<Violation> {
    if !(300..400).contains(&resp.status) {
        return None;
    }
    let location = resp.header("location")?;
    let params = query_pairs(&req.url);
    let ours = facts.client_id.as_deref();
    let client_ids: Vec<&str> = params
        .iter()
        .filter(|(k, _)| k == "client_id")
        .map(|(_, v)| v.as_str())
        .collect();
    let known_client = !client_ids.is_empty() && client_ids.iter().all(|c| Some(*c) == ours);
    for (_, requested) in params.iter().filter(|(k, _)| k == "redirect_uri") {
        let registered = known_client && is_registered(requested, &facts.redirect_uri);
        if !registered && lands_on(location, requested) {
            return violation(
                Invariant::OpenRedirect,
                format!(
                    "{} to {} for the {} redirect_uri {requested:?}",
                    resp.status,
                    crate::core::redact::redact_url_query(
                        location,
                        crate::core::redact::SECRET_KEYS
                    ),
                    if known_client {
                        "unregistered"
                    } else {
                        "unknown client's"
                    }
                ),
            );
        }
    }
    let lower = location.to_ascii_lowercase();
    if lower.starts_with("javascript:") || lower.starts_with("data:") {
        return violation(
            Invariant::OpenRedirect,
            format!("{} to a script URL", resp.status),
        );
    }
    // A code for a request without an S256 challenge.
    let has_code = url::Url::parse(location)
        .map(|u| u.query_pairs().any(|(k, _)| k == "code"))
        .unwrap_or(false);
    if has_code && !facts.plain_offered {
        let challenge = form::get(&params, "code_challenge").unwrap_or_default();
        let method = form::get(&params, "code_challenge_method");
        if challenge.is_empty() {
            return violation(
                Invariant::PkceDowngrade,
                "a code was issued without a code_challenge",
            );
        }
        if method.is_some_and(|m| m.eq_ignore_ascii_case("plain")) {
            return violation(
                Invariant::PkceDowngrade,
                "a code was issued for code_challenge_method=plain, which the AS does not offer",
            );
        }
    }
    None
}

fn judge_token(
    req: &Request,
    resp: &Response,
    secrets: &Secrets,
    facts: &Facts,
) -> Option<Violation> {
    let body = serde_json::from_slice::<Value>(&resp.body).ok();
    let issued = body.as_ref().and_then(|b| b.get("access_token")).is_some();
    if (200..300).contains(&resp.status) && issued {
        // The only acceptable request: POST, form-encoded, each parameter
        // once, the real code with its real verifier and redirect URI, for
        // the client the code was issued to.
        let pairs = if is_form(req) && req.method == "POST" {
            form::decode(&String::from_utf8_lossy(&req.body))
        } else {
            Vec::new()
        };
        let once = |k: &str, want: Option<&str>| {
            let vals: Vec<&str> = pairs
                .iter()
                .filter(|(n, _)| n == k)
                .map(|(_, v)| v.as_str())
                .collect();
            vals.len() == 1 && want.is_some_and(|w| vals[0] == w)
        };
        let valid = once("grant_type", Some("authorization_code"))
            && once("code", secrets.code.as_deref())
            && once("code_verifier", secrets.verifier.as_deref())
            && once("redirect_uri", Some(&facts.redirect_uri))
            && pairs
                .iter()
                .filter(|(n, _)| n == "client_id")
                .all(|(_, v)| Some(v.as_str()) == facts.client_id.as_deref());
        if !valid {
            let gt = form::get(&pairs, "grant_type").unwrap_or("(none)");
            return violation(
                Invariant::BadGrantRedeemed,
                format!(
                    "status {} with an access_token (grant_type {gt:?}; the request is not the one valid redemption)",
                    resp.status
                ),
            );
        }
        return None;
    }
    if resp.status == 400 || resp.status == 401 {
        return match body
            .as_ref()
            .map(|b| b.get("error").and_then(Value::as_str))
        {
            None => violation(
                Invariant::ErrorFormat,
                format!("{} without a JSON body", resp.status),
            ),
            Some(None) => violation(
                Invariant::ErrorFormat,
                format!("{} without a string `error` member", resp.status),
            ),
            Some(Some(code)) if !TOKEN_ERRORS.contains(&code) => violation(
                Invariant::ErrorFormat,
                format!("error code {code:?} is not one of RFC 6749 §5.2's"),
            ),
            Some(Some(code)) if resp.status == 401 && code != "invalid_client" => violation(
                Invariant::ErrorFormat,
                format!("401 with {code:?} (only invalid_client may be 401)"),
            ),
            _ => None,
        };
    }
    if (200..300).contains(&resp.status)
        && let Some(Some(code)) = body
            .as_ref()
            .map(|b| b.get("error").and_then(Value::as_str))
    {
        return violation(
            Invariant::ErrorFormat,
            format!("error {code:?} with status {}", resp.status),
        );
    }
    None
}

/// Whether the request carries the run's valid access token as its only
/// credential: every Authorization header is `Bearer <token>` (scheme in
/// any case, surrounding spaces allowed).
fn carries_valid_token(req: &Request, secrets: &Secrets) -> bool {
    let Some(token) = secrets.token.as_deref() else {
        return false;
    };
    let values: Vec<&str> = header(req, "authorization").collect();
    !values.is_empty()
        && values.iter().all(|v| {
            let v = v.trim();
            match v.split_once([' ', '\t']) {
                Some((scheme, cred)) => {
                    scheme.eq_ignore_ascii_case("bearer") && cred.trim() == token
                }
                None => false,
            }
        })
}

fn judge_mcp(
    req: &Request,
    resp: &Response,
    secrets: &Secrets,
    facts: &Facts,
) -> Option<Violation> {
    if !(200..300).contains(&resp.status) {
        return None;
    }
    if !carries_valid_token(req, secrets) {
        let how = if req.url.contains("access_token=") {
            "a token in the query"
        } else if header(req, "authorization").next().is_none() {
            "no Authorization header"
        } else {
            "a credential that is not the valid token"
        };
        return violation(
            Invariant::ForgedTokenAccepted,
            format!("status {} for a request with {how}", resp.status),
        );
    }
    for origin in header(req, "origin") {
        let o = origin.trim();
        let foreign = o == "null"
            || url::Url::parse(o)
                .ok()
                .and_then(|u| u.host_str().map(str::to_owned))
                .is_none_or(|h| {
                    !url_canon::is_loopback_host(&h)
                        && url_canon::origin(o).ok().as_deref()
                            != Some(facts.target_origin.as_str())
                });
        if foreign {
            return violation(
                Invariant::ForeignOriginAccepted,
                format!("status {} with Origin {o:?}", resp.status),
            );
        }
    }
    let is_initialize = serde_json::from_slice::<Value>(&req.body)
        .ok()
        .is_some_and(|b| b.get("method").and_then(Value::as_str) == Some("initialize"));
    let has_session = secrets
        .session
        .as_deref()
        .is_some_and(|s| header(req, "mcp-session-id").any(|v| v == s));
    if !is_initialize && has_session {
        for v in header(req, "mcp-protocol-version") {
            if !KNOWN_VERSIONS.contains(&v.trim()) {
                return violation(
                    Invariant::BadVersionAccepted,
                    format!("status {} with MCP-Protocol-Version {v:?}", resp.status),
                );
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsafe_redirect_uris_are_the_ones_dcr_forbids() {
        for u in super::super::generators::UNSAFE_REDIRECT_URIS {
            assert!(is_unsafe_redirect_uri(u), "{u:?}");
        }
        for u in [
            "https://client.example/cb",
            "http://127.0.0.1:8914/cb",
            "http://localhost/cb",
            "http://[::1]:9/cb",
            "com.example.app:/oauth/cb",
        ] {
            assert!(!is_unsafe_redirect_uri(u), "{u:?}");
        }
    }

    #[test]
    fn loopback_port_variants_count_as_registered() {
        assert!(is_registered(
            "http://127.0.0.1:1234/callback",
            "http://127.0.0.1:99/callback"
        ));
        assert!(!is_registered(
            "http://127.0.0.1:99/callback/x",
            "http://127.0.0.1:99/callback"
        ));
        assert!(!is_registered(
            "http://localhost:99/callback",
            "http://127.0.0.1:99/callback"
        ));
    }
}
