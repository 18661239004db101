//! Fuzz entry points: one function per rule that judges untrusted input.
//!
//! Each function takes arbitrary bytes, must not panic on any of them, and
//! asserts what the strict server promises about what it accepts (no unsafe
//! redirect URI is ever registered, an accepted form has no repeated
//! defined parameter, ...). A failing promise panics on purpose: that is
//! what the fuzzer reports.
//!
//! The cargo-fuzz targets in `fuzz/fuzz_targets/` are one line each and call
//! these; the runner crate's `tests/fuzz_corpus.rs` replays the committed
//! corpora through them in an ordinary `cargo test`. Only [`crate::rules`]
//! is used, so this builds without the `server` feature (no axum, no tokio).

use serde_json::{Map, Value};
use url::{Host, Url};

use crate::rules::bearer::{self, BearerErrorKind, Challenge, ChallengeError};
use crate::rules::cimd::{self, CimdPolicy};
use crate::rules::dcr::{ClientMetadata, GrantType, RegistrationPolicy, validate_registration};
use crate::rules::jsonrpc::{self, JsonRpcError, Message};
use crate::rules::oauth_form::{self, FormError, OAuthForm};
use crate::rules::origin::{self, OriginError};
use crate::rules::pkce::{self, ChallengeMethod, PkceError, PkcePolicy};
use crate::rules::redirect_uri::{self, RedirectUriError};
use crate::rules::scope::{KNOWN_SCOPES, parse_scope};

/// Splits `data` into two strings at the first `\n` (for rules that take two
/// inputs). Invalid UTF-8 is replaced, so no input is wasted.
fn two_strings(data: &[u8]) -> (String, String) {
    let text = String::from_utf8_lossy(data);
    match text.split_once('\n') {
        Some((a, b)) => (a.to_owned(), b.to_owned()),
        None => (text.into_owned(), String::new()),
    }
}

/// What every registrable redirect URI satisfies, restated independently of
/// [`redirect_uri::validate_redirect_uri`]: https with a host, or http on
/// 127.0.0.1, [::1] or localhost; no fragment, no userinfo, no whitespace.
fn assert_safe_redirect_uri(raw: &str) {
    assert!(!raw.contains('#'), "{raw:?} has a fragment");
    assert!(
        !raw.chars().any(|c| c.is_whitespace() || c.is_control()),
        "{raw:?} has whitespace or control characters"
    );
    let url = Url::parse(raw).unwrap_or_else(|e| panic!("{raw:?} does not parse: {e}"));
    assert!(
        url.username().is_empty() && url.password().is_none(),
        "{raw:?} has userinfo"
    );
    let scheme = raw
        .split(':')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    assert!(
        scheme == "https" || scheme == "http",
        "{raw:?} has scheme {scheme:?}"
    );
    match url.scheme() {
        "https" => assert!(url.host_str().is_some_and(|h| !h.is_empty()), "{raw:?}"),
        "http" => assert!(
            match url.host() {
                Some(Host::Ipv4(ip)) => ip.is_loopback() && ip.octets() == [127, 0, 0, 1],
                Some(Host::Ipv6(ip)) => ip.is_loopback(),
                Some(Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
                None => false,
            },
            "{raw:?} is plain http on a non-loopback host"
        ),
        other => panic!("{raw:?} has scheme {other:?}"),
    }
}

/// What every accepted client's metadata satisfies.
fn assert_sane_metadata(meta: &ClientMetadata) {
    assert!(meta.redirect_uris.len() <= crate::rules::dcr::MAX_REDIRECT_URIS);
    assert_eq!(meta.response_types, ["code"]);
    assert!(!meta.grant_types.is_empty());
    if meta.allows_grant(GrantType::AuthorizationCode) {
        assert!(
            !meta.redirect_uris.is_empty(),
            "code grant without a redirect URI"
        );
    }
    if let Some(scope) = &meta.scope {
        assert!(parse_scope(scope, KNOWN_SCOPES).is_ok(), "scope {scope:?}");
    }
}

/// A dynamic client registration body (RFC 7591) under the strict policy:
/// an accepted registration never holds an unsafe redirect URI. The
/// `dcr-unsafe-redirect-accepted` fault's policy must still not panic.
pub fn dcr(data: &[u8]) {
    if let Ok(meta) = validate_registration(data, &RegistrationPolicy::default()) {
        assert_sane_metadata(&meta);
        for uri in &meta.redirect_uris {
            assert_safe_redirect_uri(uri);
        }
    }
    let faulty = RegistrationPolicy {
        allow_unsafe_redirect_uris: true,
        ..RegistrationPolicy::default()
    };
    if let Ok(meta) = validate_registration(data, &faulty) {
        assert!(meta.redirect_uris.len() <= crate::rules::dcr::MAX_REDIRECT_URIS);
    }
}

/// Client ID metadata documents: the first line is the client ID URL, the
/// rest the fetched document. A URL that passes is https (or loopback http
/// when allowed), has a path and no fragment, and is not an internal IP; a
/// document that passes never uses a shared secret or an unsafe redirect.
pub fn cimd(data: &[u8]) {
    let (url, document) = two_strings(data);
    let _ = cimd::is_url_client_id(&url);
    for allow_http_loopback in [false, true] {
        let policy = CimdPolicy {
            allow_http_loopback,
        };
        let Ok(parsed) = cimd::validate_client_id_url(&url, policy) else {
            continue;
        };
        assert!(!url.contains('#'));
        assert!(parsed.fragment().is_none());
        assert!(parsed.username().is_empty() && parsed.password().is_none());
        assert!(!matches!(parsed.path(), "" | "/"), "{url:?} has no path");
        // CIMD §3: no dot segments. The WHATWG parser treats `\` like `/`
        // in an https URL and resolves dot segments, so look at the raw text.
        let raw_path = url.split_once("://").map_or("", |(_, rest)| rest);
        let raw_path = raw_path.split('?').next().unwrap_or_default();
        assert!(
            !raw_path.split(['/', '\\']).skip(1).any(|seg| {
                let seg = seg.to_ascii_lowercase().replace("%2e", ".");
                seg == "." || seg == ".."
            }),
            "{url:?} has a dot segment"
        );
        if !allow_http_loopback {
            assert_eq!(parsed.scheme(), "https");
            match parsed.host() {
                Some(Host::Ipv4(ip)) => assert!(!(ip.is_private() || ip.is_loopback())),
                Some(Host::Ipv6(ip)) => assert!(!ip.is_loopback()),
                Some(Host::Domain(d)) => assert!(!d.eq_ignore_ascii_case("localhost")),
                None => panic!("{url:?} has no host"),
            }
        }
    }
    if let Ok(meta) = cimd::validate_cimd_document(document.as_bytes(), &url, false) {
        assert_sane_metadata(&meta);
        assert_eq!(meta.token_endpoint_auth_method.as_str(), "none");
        for uri in &meta.redirect_uris {
            assert_safe_redirect_uri(uri);
        }
    }
    let _ = cimd::validate_cimd_document(document.as_bytes(), &url, true);
}

/// Redirect URIs: the first line is the requested URI, the rest a
/// registered one. A registrable URI is safe; a request that matches a
/// registrable URI is itself registrable and differs from it at most in the
/// port of a loopback http URI.
pub fn redirect_uri(data: &[u8]) {
    let (requested, registered) = two_strings(data);
    if redirect_uri::validate_redirect_uri(&requested).is_ok() {
        assert_safe_redirect_uri(&requested);
    }
    let registered_ok = redirect_uri::validate_redirect_uri(&registered).is_ok();
    if registered_ok {
        assert_safe_redirect_uri(&registered);
    }
    let matched = redirect_uri::matches_registered(&requested, &[&registered], false);
    // Registered URIs were validated when they were registered.
    if matched && requested != registered && registered_ok {
        assert!(
            registered_ok && redirect_uri::validate_redirect_uri(&requested).is_ok(),
            "{requested:?} matched {registered:?} without both being registrable"
        );
        let (Ok(mut a), Ok(mut b)) = (Url::parse(&requested), Url::parse(&registered)) else {
            panic!("matching URIs parse");
        };
        assert_eq!(a.scheme(), "http");
        let _ = (a.set_port(None), b.set_port(None));
        assert_eq!(
            a, b,
            "{requested:?} and {registered:?} differ beyond the port"
        );
    }
    if matched {
        assert!(redirect_uri::matches_registered(
            &requested,
            &[&registered],
            true
        ));
    }
    if !requested.starts_with(&registered) {
        assert_eq!(
            redirect_uri::matches_registered(&requested, &[&registered], true),
            matched
        );
    }
    // The error enum must describe itself without panicking.
    if let Err(e) = redirect_uri::validate_redirect_uri(&requested) {
        let _ = e.to_string();
        assert!(!matches!(e, RedirectUriError::Empty) || requested.is_empty());
    }
}

/// PKCE: a valid verifier's S256 challenge is a valid challenge and
/// verifies; only S256 (and `plain` when the fault allows it) is accepted,
/// and an accepted challenge is well formed. The first line is the
/// verifier (or challenge), the second the method.
pub fn pkce(data: &[u8]) {
    let (value, method) = two_strings(data);
    let challenge = pkce::s256_challenge(&value);
    assert_eq!(challenge.len(), 43);
    assert!(pkce::is_valid_challenge(&challenge));
    if pkce::is_valid_verifier(&value) {
        assert!(pkce::verify_s256(&value, &challenge));
        assert!(pkce::verify(
            &value,
            &pkce::CodeChallenge {
                value: challenge.clone(),
                method: ChallengeMethod::S256
            }
        ));
    } else {
        assert!(!pkce::verify_s256(&value, &challenge));
    }
    assert_eq!(
        pkce::constant_time_eq(value.as_bytes(), method.as_bytes()),
        value == method
    );
    let method = (!method.is_empty()).then_some(method.as_str());
    for (allow_plain, allow_missing) in [(false, false), (true, false), (false, true), (true, true)]
    {
        let policy = PkcePolicy {
            allow_plain,
            allow_missing,
        };
        match pkce::validate_challenge(Some(&value), method, policy) {
            Ok(Some(c)) => {
                assert!(pkce::is_valid_challenge(&c.value));
                assert_eq!(c.value, value);
                match c.method {
                    ChallengeMethod::S256 => assert!(matches!(method, None | Some("S256"))),
                    ChallengeMethod::Plain => assert!(allow_plain && method == Some("plain")),
                }
            }
            Ok(None) => panic!("a present challenge is never treated as missing"),
            Err(e) => {
                let _ = e.to_string();
            }
        }
        match pkce::validate_challenge(None, method, policy) {
            Ok(None) => assert!(allow_missing),
            Ok(Some(_)) => panic!("a challenge out of nothing"),
            Err(PkceError::MissingChallenge) => assert!(!allow_missing),
            Err(_) => {}
        }
    }
}

/// What every accepted OAuth form satisfies: no empty value, `get` is the
/// first of `get_all`, and re-encoding the pairs parses to the same pairs.
fn assert_sane_form(form: &OAuthForm) {
    for (name, value) in form.pairs() {
        assert!(!name.is_empty() && !value.is_empty());
        assert_eq!(form.get(name), form.get_all(name).next());
    }
    let encoded: String = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form.pairs())
        .finish();
    let again = oauth_form::parse_form_allowing_duplicates(encoded.as_bytes())
        .unwrap_or_else(|e| panic!("re-encoded form {encoded:?} does not parse: {e}"));
    assert_eq!(again.pairs(), form.pairs());
}

/// A token request body (RFC 6749 §4.1.3, §6; OAuth 2.1 §3.1): strict
/// parsing refuses every repeated defined parameter; the I/O-free checks
/// of the token endpoint (PKCE verifier grammar, scope) never panic.
pub fn token_request(data: &[u8]) {
    let lenient = oauth_form::parse_form_allowing_duplicates(data);
    match oauth_form::parse_form(data) {
        Ok(form) => {
            assert!(form.duplicates().is_empty());
            assert_eq!(lenient.as_ref(), Ok(&form));
            assert_sane_form(&form);
            if let Some(verifier) = form.get("code_verifier") {
                let _ = pkce::is_valid_verifier(verifier);
            }
            if let Some(scope) = form.get("scope") {
                let _ = parse_scope(scope, KNOWN_SCOPES);
            }
            let _ = form.get_all("resource").count();
        }
        Err(FormError::Duplicate(name)) => {
            let lenient = lenient.expect("a duplicate is found only after decoding");
            assert!(lenient.is_duplicated(&name));
            assert!(oauth_form::DEFINED_PARAMETERS.contains(&name.as_str()));
            assert!(!oauth_form::REPEATABLE_PARAMETERS.contains(&name.as_str()));
        }
        Err(e) => assert_eq!(lenient, Err(e)),
    }
}

/// An authorization request query (OAuth 2.1 §4.1.1): lenient parsing, then
/// the checks `/authorize` makes without state: the redirect URI against
/// itself as registered, PKCE under the strict policy, the scope.
pub fn authorize_request(data: &[u8]) {
    let Ok(form) = oauth_form::parse_form_allowing_duplicates(data) else {
        return;
    };
    assert_sane_form(&form);
    if let Some(uri) = form.get("redirect_uri")
        && redirect_uri::validate_redirect_uri(uri).is_ok()
    {
        assert_safe_redirect_uri(uri);
        assert!(redirect_uri::matches_registered(uri, &[uri], false));
    }
    if let Ok(Some(c)) = pkce::validate_challenge(
        form.get("code_challenge"),
        form.get("code_challenge_method"),
        PkcePolicy::default(),
    ) {
        assert_eq!(c.method, ChallengeMethod::S256);
        assert!(pkce::is_valid_challenge(&c.value));
    }
    if let Some(scope) = form.get("scope")
        && let Ok(tokens) = parse_scope(scope, KNOWN_SCOPES)
    {
        assert!(!tokens.is_empty());
        assert!(tokens.iter().all(|t| KNOWN_SCOPES.contains(&t.as_str())));
    }
}

/// An `Authorization` header value: an accepted bearer token is a
/// `b64token` and parses again from its canonical spelling; the challenge
/// rendered from hostile strings is still a clean header value.
pub fn bearer(data: &[u8]) {
    match bearer::parse_authorization(data) {
        Ok(cred) => {
            assert!(bearer::is_b64token(cred.token.as_bytes()));
            let canonical = format!("Bearer {}", cred.token);
            assert_eq!(bearer::parse_authorization(canonical.as_bytes()), Ok(cred));
        }
        Err(e) => {
            let _ = (e.kind() == BearerErrorKind::NoCredentials, e.to_string());
        }
    }
    let text = String::from_utf8_lossy(data);
    let challenge = Challenge {
        error: Some(ChallengeError::InvalidToken),
        error_description: Some(text.clone().into_owned()),
        scope: Some(text.clone().into_owned()),
        resource_metadata: Some(text.into_owned()),
    };
    let rendered = challenge.render();
    assert!(
        rendered
            .bytes()
            .all(|b| (0x20..0x7f).contains(&b) && b != b'\\'),
        "challenge {rendered:?} is not a clean header value"
    );
    assert_eq!(rendered.matches('"').count(), 8, "{rendered:?}");
}

/// The wire shape of a parsed message, to check it reads back the same.
fn message_value(m: &Message) -> Value {
    let mut obj = Map::new();
    obj.insert("jsonrpc".into(), "2.0".into());
    let params = |obj: &mut Map<String, Value>, p: &Option<Value>| {
        if let Some(p) = p {
            obj.insert("params".into(), p.clone());
        }
    };
    match m {
        Message::Request(r) => {
            obj.insert("id".into(), r.id.to_value());
            obj.insert("method".into(), r.method.clone().into());
            params(&mut obj, &r.params);
        }
        Message::Notification(n) => {
            obj.insert("method".into(), n.method.clone().into());
            params(&mut obj, &n.params);
        }
        Message::Response(r) => {
            obj.insert("id".into(), r.id.to_value());
            match &r.outcome {
                Ok(result) => {
                    obj.insert("result".into(), result.clone());
                }
                Err(e) => {
                    let mut err = Map::new();
                    err.insert("code".into(), e.code.into());
                    err.insert("message".into(), e.message.clone().into());
                    if let Some(d) = &e.data {
                        err.insert("data".into(), d.clone());
                    }
                    obj.insert("error".into(), err.into());
                }
            }
        }
    }
    Value::Object(obj)
}

/// A JSON-RPC POST body as the MCP endpoint reads it: one message (a batch
/// is refused with its own error) or, for the older protocol, a batch. An
/// accepted message serialises back to the same message, and every error
/// carries a JSON-RPC error code.
pub fn jsonrpc(data: &[u8]) {
    let check = |m: &Message| {
        let bytes = serde_json::to_vec(&message_value(m)).expect("a Value serialises");
        assert_eq!(jsonrpc::parse_message(&bytes).as_ref(), Ok(m));
    };
    let code_ok = |e: &JsonRpcError| {
        assert!(matches!(e.code(), -32700 | -32600), "code {}", e.code());
    };
    match jsonrpc::parse_message(data) {
        Ok(m) => check(&m),
        Err(e) => {
            code_ok(&e);
            let _ = (e.id(), e.to_string());
        }
    }
    match jsonrpc::parse_batch(data) {
        Ok(items) => {
            assert!(!items.is_empty());
            assert_eq!(jsonrpc::parse_message(data), Err(JsonRpcError::Batch));
            for item in &items {
                match item {
                    Ok(m) => check(m),
                    Err(e) => code_ok(e),
                }
            }
        }
        Err(e) => code_ok(&e),
    }
}

/// An `Origin` header against a loopback server and a public one: what is
/// allowed names the server's own scheme and port, and a public server
/// allows only its own host.
pub fn origin(data: &[u8]) {
    for server in ["http://127.0.0.1:8080", "https://mcp.example.com"] {
        match origin::check_origin(data, server) {
            Ok(()) => {
                let text = std::str::from_utf8(data).expect("an allowed origin is UTF-8");
                let theirs = Url::parse(text.trim_matches([' ', '\t'])).expect("it parses");
                let ours = Url::parse(server).expect("the server origin parses");
                assert_eq!(theirs.scheme(), ours.scheme(), "{text:?}");
                assert_eq!(
                    theirs.port_or_known_default(),
                    ours.port_or_known_default(),
                    "{text:?}"
                );
                if server.starts_with("https") {
                    assert_eq!(theirs.host_str(), ours.host_str(), "{text:?}");
                } else {
                    let loopback = match theirs.host() {
                        Some(Host::Ipv4(ip)) => ip.is_loopback(),
                        Some(Host::Ipv6(ip)) => ip.is_loopback(),
                        Some(Host::Domain(d)) => d == "localhost",
                        None => false,
                    };
                    assert!(loopback, "{text:?} is allowed on a loopback server");
                }
            }
            Err(OriginError::Opaque) => assert_eq!(
                std::str::from_utf8(data).map(|s| s.trim_matches([' ', '\t'])),
                Ok("null")
            ),
            Err(e) => {
                let _ = e.to_string();
            }
        }
    }
}
