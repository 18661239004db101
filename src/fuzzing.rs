//! Fuzz entry points: one function per parser that meets untrusted input.
//!
//! Each function takes arbitrary bytes, must not panic on any of them, and
//! asserts the properties worth checking on what the parser accepted (a
//! round trip, idempotence, an invariant of the result). A failing property
//! panics on purpose: that is what the fuzzer reports.
//!
//! The cargo-fuzz targets in `fuzz/fuzz_targets/` are one line each and call
//! these, and `tests/fuzz_corpus.rs` replays every committed corpus and
//! regression file through them in an ordinary `cargo test`, so the logic is
//! testable without libFuzzer and a crash found once stays fixed. Nothing
//! here does I/O, so the module is built without the `runner` feature.

use serde_json::Value;

use crate::core::metadata::{AuthServerMetadata, ProtectedResourceMetadata};
use crate::core::url_canon::{self, MetadataKind};
use crate::core::{form, jsonrpc, jwt, sse, www_authenticate};
use crate::scenario::template::{Template, Vars};

/// Splits `data` into two strings at the first `\n` (for entry points that
/// take two inputs). Invalid UTF-8 is replaced, so no input is wasted.
fn two_strings(data: &[u8]) -> (String, String) {
    let text = String::from_utf8_lossy(data);
    match text.split_once('\n') {
        Some((a, b)) => (a.to_owned(), b.to_owned()),
        None => (text.into_owned(), String::new()),
    }
}

/// A scenario file: parse and plan it (every diagnostic rendered, which
/// exercises the line/column mapping on hostile text).
pub fn scenario(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Err(diagnostics) = crate::scenario::plan_single("fuzz.toml", text) {
        assert!(!diagnostics.is_empty(), "a failed plan must say why");
        for d in &diagnostics {
            let _ = d.to_string();
        }
    }
}

/// Variables for template rendering: every path is set, to its own dotted
/// name, so rendering reaches every function.
struct EchoVars;

impl Vars for EchoVars {
    fn lookup(&self, path: &[String]) -> Option<Value> {
        Some(Value::String(path.join(".")))
    }
}

/// A scenario template: parse, then render with every variable set. Text
/// without `{{` is a literal and renders to itself.
pub fn template(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(t) = Template::parse(text) else {
        assert!(
            text.contains("{{"),
            "text without `{{{{` is always a template"
        );
        return;
    };
    let paths = t.paths();
    if !text.contains("{{") {
        assert!(paths.is_empty());
        assert_eq!(t.render(&EchoVars).as_deref(), Ok(text));
        return;
    }
    let _ = t.render(&EchoVars);
    let _ = t.render_value(&EchoVars);
}

/// A `WWW-Authenticate` value: parse; what parses renders to a value that
/// parses back to the same challenges (RFC 9110 §11.6.1 grammar both ways).
pub fn www_authenticate(data: &[u8]) {
    let Ok(value) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(challenges) = www_authenticate::parse(value) else {
        return;
    };
    for ch in &challenges {
        let _ = www_authenticate::rfc6750_violations(ch);
    }
    let _ = www_authenticate::bearer(&challenges);
    let rendered = www_authenticate::render(&challenges);
    let reparsed = www_authenticate::parse(&rendered)
        .unwrap_or_else(|e| panic!("rendered {rendered:?} does not parse: {e}"));
    assert_eq!(
        reparsed, challenges,
        "parse(render(parse(v))) != parse(v) for rendered {rendered:?}"
    );
}

/// Feeds `body` to `parser` in two chunks split at `at` and collects the
/// events and the end state.
fn feed_split(
    mut parser: sse::SseParser,
    body: &[u8],
    at: usize,
) -> (Vec<sse::SseEvent>, sse::SseEnd) {
    let (a, b) = body.split_at(at.min(body.len()));
    let mut events = parser.feed(a);
    events.extend(parser.feed(b));
    (events, parser.finish())
}

/// An SSE stream: the events must not depend on where the chunks split,
/// with the default limits and with tiny ones (which exercise the dropping
/// of long lines and large events). The first byte picks the split point.
pub fn sse(data: &[u8]) {
    let at = match data.first() {
        Some(&b) => usize::from(b) * data.len() / 256,
        None => 0,
    };
    let whole = sse::parse_body(data);
    assert_eq!(sse::parse_all(data), whole.0);
    assert_eq!(
        feed_split(sse::SseParser::new(), data, at),
        whole,
        "split at {at}"
    );
    let small = || sse::SseParser::with_limits(16, 32);
    assert_eq!(
        feed_split(small(), data, at),
        feed_split(small(), data, data.len()),
        "split at {at} with small limits"
    );
}

/// A JSON-RPC body, as JSON and as an SSE stream: every message read
/// converts back to a value that reads as the same message.
pub fn jsonrpc(data: &[u8]) {
    let check = |messages: &[jsonrpc::Message]| {
        for m in messages {
            let _ = (m.id(), m.method(), m.is_response());
            assert_eq!(
                jsonrpc::message_from_value(&m.to_value()).as_ref(),
                Ok(m),
                "a message does not survive to_value"
            );
        }
    };
    if let Ok(m) = jsonrpc::parse_message(data) {
        check(std::slice::from_ref(&m));
    }
    if let Ok(ms) = jsonrpc::parse_body(data) {
        assert!(!ms.is_empty(), "an empty batch is an error");
        check(&ms);
    }
    for content_type in [
        "application/json",
        "text/event-stream; charset=utf-8",
        "text/plain",
    ] {
        if let Ok(ms) = jsonrpc::messages_from_http(Some(content_type), data) {
            check(&ms);
        }
    }
    assert!(jsonrpc::messages_from_http(None, data).is_err());
}

/// A JWT, decoded without verification; a decodable token re-encoded with
/// `alg: none` keeps its claims and says `none`.
pub fn jwt(data: &[u8]) {
    let Ok(token) = std::str::from_utf8(data) else {
        return;
    };
    let flipped = jwt::flip_one_char(token);
    assert_ne!(flipped, token, "flip_one_char must change the token");
    let Ok(decoded) = jwt::decode_unverified(token) else {
        return;
    };
    let _ = (decoded.alg(), decoded.kid(), decoded.audiences());
    let _ = (decoded.numeric_date("exp"), decoded.claim("iss"));
    let none = jwt::with_alg_none(token).expect("a decodable token re-encodes");
    let redecoded = jwt::decode_unverified(&none).expect("alg none re-encoding decodes");
    assert_eq!(redecoded.alg(), Some("none"));
    assert_eq!(redecoded.claims, decoded.claims);
    assert!(redecoded.signature.is_empty());
}

/// Two URLs (split at the first newline): canonicalisation is idempotent and
/// names a resource its original is under; the segment-prefix rule is
/// reflexive; the discovery candidates are http(s) URLs on the same origin.
pub fn url(data: &[u8]) {
    let (a, b) = two_strings(data);
    let _ = url_canon::is_segment_prefix(&a, &b);
    let _ = (
        url_canon::is_loopback_url(&a),
        url_canon::is_loopback_host(&a),
    );
    let _ = url_canon::path_without_trailing_slash(&a);
    let Ok(canonical) = url_canon::canonical_resource(&a) else {
        assert!(url_canon::prm_candidates(&a).is_err());
        assert!(url_canon::as_metadata_candidates(&a).is_err());
        return;
    };
    assert_eq!(
        url_canon::canonical_resource(&canonical).as_ref(),
        Ok(&canonical),
        "canonical_resource is not idempotent on {a:?}"
    );
    assert!(!canonical.contains('#'), "{canonical:?} kept a fragment");
    assert!(
        url_canon::is_segment_prefix(&a, &a),
        "{a:?} is not a prefix of itself"
    );
    assert!(
        url_canon::is_segment_prefix(&canonical, &a),
        "{canonical:?} is not a prefix of {a:?}"
    );
    let origin = url_canon::origin(&a).expect("a canonical URL has an origin");
    let prm = url_canon::prm_candidates(&a).expect("parses like canonical_resource");
    assert!(matches!(prm.len(), 1 | 2));
    assert_eq!(
        prm.last().map(String::as_str),
        Some(format!("{origin}/.well-known/oauth-protected-resource").as_str())
    );
    let asm = url_canon::as_metadata_candidates(&a).expect("parses like canonical_resource");
    assert!(matches!(asm.len(), 2 | 3));
    assert_eq!(asm[0].1, MetadataKind::OAuth);
    for candidate in prm.iter().chain(asm.iter().map(|(u, _)| u)) {
        assert!(
            candidate.starts_with(&origin),
            "{candidate:?} left origin {origin:?}"
        );
        assert!(
            url_canon::parse_http(candidate).is_ok(),
            "candidate {candidate:?} of {a:?} does not parse"
        );
    }
}

/// A protected resource metadata document (RFC 9728): read every member;
/// a document that reads is a JSON object.
pub fn prm_metadata(data: &[u8]) {
    let Ok(prm) = ProtectedResourceMetadata::from_json(data) else {
        return;
    };
    assert!(prm.raw.is_object());
    let _ = (prm.empty_array_members(), prm.first_authorization_server());
}

/// An authorization server metadata document (RFC 8414 / OIDC Discovery).
pub fn as_metadata(data: &[u8]) {
    let Ok(asm) = AuthServerMetadata::from_json(data) else {
        return;
    };
    assert!(asm.raw.is_object());
    let _ = (asm.empty_array_members(), asm.endpoint_urls());
    let _ = (
        asm.effective_grant_types(),
        asm.effective_token_endpoint_auth_methods(),
    );
    let _ = asm.supports_s256();
}

/// A form body (token responses and redirect queries are read with it):
/// decoding never fails, and encoding what was decoded decodes to the same
/// pairs.
pub fn form(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let pairs = form::decode(text);
    let encoded = form::encode(&pairs);
    assert_eq!(
        form::decode(&encoded),
        pairs,
        "encode is not decode's inverse"
    );
    if let Some((name, _)) = pairs.first() {
        assert!(form::get(&pairs, name).is_some());
        assert!(form::count(&pairs, name) >= 1);
    }
}
