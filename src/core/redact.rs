//! Secrets redacted by construction (design.md, "Results").
//!
//! Tokens, codes, verifiers and client secrets live in [`Secret`], whose
//! `Display`, `Debug` and `Serialize` print only a fingerprint. The functions
//! below redact the places where secrets travel on the wire (form bodies,
//! JSON bodies, URL queries, headers); the transcript writer passes each
//! field through them when it records the field, never by searching a
//! finished report.
//!
//! A fingerprint is the first 8 hex digits of the SHA-256 of the secret, so a
//! reader can still tell that the code sent to the token endpoint is the one
//! the redirect carried, and that a rotated refresh token differs from the
//! old one, without learning either.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// Parameter and member names whose values are secrets (RFC 6749 §4.1.2,
/// §4.1.3, §5.1, §2.3.1; RFC 7636 §4.5; RFC 7009 §2.1; RFC 7523 §2.1).
pub const SECRET_KEYS: &[&str] = &[
    "access_token",
    "refresh_token",
    "id_token",
    "code",
    "code_verifier",
    "client_secret",
    "token",
    "password",
    "assertion",
];

/// A secret string. Every way of printing it prints its fingerprint; only
/// [`Secret::expose`] gives the value, for putting it on the wire.
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret itself. Call this only where the value goes on the wire.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The printable fingerprint, `‹secret sha256:xxxxxxxx›`.
    pub fn fingerprint(&self) -> String {
        fingerprint(&self.0)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Secret(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Secret(value.to_owned())
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&fingerprint(&self.0))
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&fingerprint(&self.0))
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&fingerprint(&self.0))
    }
}

/// Reading a secret from a server response (a token response, say) keeps
/// the value; only writing it out is redacted.
impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Secret)
    }
}

/// The first 8 hex digits of SHA-256 of `s`.
pub fn short_hash(s: &str) -> String {
    let digest = Sha256::digest(s.as_bytes());
    digest[..4].iter().map(|b| format!("{b:02x}")).collect()
}

/// The marker that stands in for a secret: `‹secret sha256:1a2b3c4d›`.
pub fn fingerprint(s: &str) -> String {
    format!("‹secret sha256:{}›", short_hash(s))
}

fn is_secret_key(name: &str, keys: &[&str]) -> bool {
    // Redacting too much is harmless; too little leaks. OAuth names are
    // case-sensitive, but a server echoing `Access_Token` still leaks it.
    keys.iter().any(|k| k.eq_ignore_ascii_case(name))
}

/// Redacts secrets in a body of any (or no, or a wrong) media type: JSON
/// members and form fields named like secrets, and — for text that is
/// neither, such as an HTML page or truncated JSON — anything shaped like
/// `"access_token": "..."` or `access_token=...`. Servers under test are
/// exactly the ones that may send a token as `text/plain`, so redaction
/// cannot trust the `Content-Type`.
pub fn redact_text(text: &str, secret_keys: &[&str]) -> String {
    if let Ok(v) = serde_json::from_str::<Value>(text) {
        return redact_json(&v, secret_keys).to_string();
    }
    static DEFAULT: std::sync::LazyLock<Option<(regex::Regex, regex::Regex)>> =
        std::sync::LazyLock::new(|| text_patterns(SECRET_KEYS));
    let custom;
    let patterns = if secret_keys == SECRET_KEYS {
        DEFAULT.as_ref()
    } else {
        custom = text_patterns(secret_keys);
        custom.as_ref()
    };
    let Some((json_like, form_like)) = patterns else {
        return text.to_owned();
    };
    // A value that is already a fingerprint stays as it is.
    let out = json_like.replace_all(text, |c: &regex::Captures<'_>| {
        if c[2].starts_with('‹') {
            return c[0].to_owned();
        }
        format!("{}{}{}", &c[1], fingerprint(&c[2]), &c[3])
    });
    form_like
        .replace_all(&out, |c: &regex::Captures<'_>| {
            if c[3].starts_with('‹') {
                return c[0].to_owned();
            }
            format!(
                "{}{}{}",
                &c[1],
                &c[2],
                fingerprint(&decode_component(&c[3]))
            )
        })
        .into_owned()
}

/// JSON-ish members (`"key": "value"`), then form or query fields
/// (`key=value`), for the given secret names.
fn text_patterns(secret_keys: &[&str]) -> Option<(regex::Regex, regex::Regex)> {
    let names = secret_keys
        .iter()
        .map(|k| regex::escape(k))
        .collect::<Vec<_>>()
        .join("|");
    let json_like = regex::Regex::new(&format!(
        r#"(?i)("(?:{names})"\s*:\s*")([^"\\]*(?:\\.[^"\\]*)*)(")"#
    ))
    .ok()?;
    let form_like =
        regex::Regex::new(&format!(r"(?i)(^|[?&\s;,])((?:{names})=)([^&\s;,]+)")).ok()?;
    Some((json_like, form_like))
}

/// Redacts the values of `secret_keys` in an `application/x-www-form-urlencoded`
/// body. Everything else is kept byte for byte (no re-encoding), so the
/// transcript shows exactly what was sent, including malformed input from
/// negative tests. The fingerprint is of the decoded value, so it matches the
/// [`Secret`] holding the same value.
pub fn redact_form_body(body: &str, secret_keys: &[&str]) -> String {
    body.split('&')
        .map(|piece| {
            let Some((raw_name, raw_value)) = piece.split_once('=') else {
                return piece.to_owned();
            };
            if raw_value.is_empty() || !is_secret_key(&decode_component(raw_name), secret_keys) {
                return piece.to_owned();
            }
            format!("{raw_name}={}", fingerprint(&decode_component(raw_value)))
        })
        .collect::<Vec<_>>()
        .join("&")
}

fn decode_component(s: &str) -> String {
    form_urlencoded::parse(format!("x={s}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// Redacts string values of members named in `secret_keys`, at any depth.
///
/// Only strings are redacted: every secret in OAuth is a string, and a number
/// under `code` is a JSON-RPC error code (JSON-RPC 2.0 §5.1), not an
/// authorization code. Objects and arrays under a secret key are searched,
/// not replaced.
pub fn redact_json(value: &Value, secret_keys: &[&str]) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let v = match v {
                        Value::String(s) if is_secret_key(k, secret_keys) => {
                            Value::String(fingerprint(s))
                        }
                        other => redact_json(other, secret_keys),
                    };
                    (k.clone(), v)
                })
                .collect(),
        ),
        Value::Array(items) => {
            Value::Array(items.iter().map(|v| redact_json(v, secret_keys)).collect())
        }
        other => other.clone(),
    }
}

/// Redacts secret parameters in a URL's query and fragment (an authorization
/// response carries `code` in the query, RFC 6749 §4.1.2, and an implicit
/// response `access_token` in the fragment, §4.2.2). Works on the string, so
/// relative and malformed URLs are handled and the rest is kept byte for byte.
pub fn redact_url_query(url: &str, secret_keys: &[&str]) -> String {
    let (before_fragment, fragment) = match url.split_once('#') {
        Some((b, f)) => (b, Some(f)),
        None => (url, None),
    };
    let mut out = match before_fragment.split_once('?') {
        Some((base, query)) => format!("{base}?{}", redact_form_body(query, secret_keys)),
        None => before_fragment.to_owned(),
    };
    if let Some(fragment) = fragment {
        out.push('#');
        out.push_str(&redact_form_body(fragment, secret_keys));
    }
    out
}

/// Redacts one header for the transcript.
///
/// * `Authorization`, `Proxy-Authorization`: the scheme is kept, the
///   credentials fingerprinted (`Bearer ‹secret …›`, `Basic ‹secret …›`).
/// * `Cookie`: every cookie value; `Set-Cookie`: the cookie value, attributes
///   kept.
/// * `Location`, `Content-Location`: secret query and fragment parameters
///   (an authorization redirect carries the code).
/// * `X-Api-Key`, `Api-Key`: the whole value.
/// * Everything else, including `Mcp-Session-Id` and `WWW-Authenticate`, is
///   kept: the session id is needed to follow a session in the transcript and
///   grants nothing without the bearer token.
pub fn redact_header(name: &str, value: &str) -> String {
    let lower = name.to_ascii_lowercase();
    match lower.as_str() {
        "authorization" | "proxy-authorization" => {
            let trimmed = value.trim_start();
            match trimmed.split_once(' ') {
                Some((scheme, creds)) => format!("{scheme} {}", fingerprint(creds.trim())),
                None => fingerprint(value),
            }
        }
        "cookie" => value
            .split(';')
            .map(|c| redact_cookie_pair(c.trim()))
            .collect::<Vec<_>>()
            .join("; "),
        "set-cookie" => match value.split_once(';') {
            Some((pair, attrs)) => format!("{};{attrs}", redact_cookie_pair(pair.trim())),
            None => redact_cookie_pair(value.trim()),
        },
        "location" | "content-location" => redact_url_query(value, SECRET_KEYS),
        "x-api-key" | "api-key" => fingerprint(value),
        _ => value.to_owned(),
    }
}

fn redact_cookie_pair(pair: &str) -> String {
    match pair.split_once('=') {
        Some((name, v)) => format!("{name}={}", fingerprint(v)),
        None if pair.is_empty() => String::new(),
        None => fingerprint(pair),
    }
}

#[cfg(test)]
mod redact_text_tests {
    use super::*;

    #[test]
    fn redacts_secrets_whatever_the_media_type() {
        let json = redact_text(
            r#"{"access_token":"tok123","token_type":"Bearer"}"#,
            SECRET_KEYS,
        );
        assert!(
            !json.contains("tok123") && json.contains("Bearer"),
            "{json}"
        );
        let truncated = redact_text(
            r#"{"access_token": "tok123", "refresh_token": "rt45"#,
            SECRET_KEYS,
        );
        assert!(!truncated.contains("tok123"), "{truncated}");
        let form = redact_text(
            "grant_type=refresh_token&refresh_token=rt45&x=1",
            SECRET_KEYS,
        );
        assert!(
            !form.contains("rt45") && form.contains("grant_type=refresh_token"),
            "{form}"
        );
        let html = redact_text("<p>your code=abc123 expires</p>", SECRET_KEYS);
        assert!(!html.contains("abc123"), "{html}");
        assert_eq!(
            redact_text("nothing secret here", SECRET_KEYS),
            "nothing secret here"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn secret_never_prints_its_value() {
        let s = Secret::new("hunter2-very-secret");
        assert_eq!(s.expose(), "hunter2-very-secret");
        for printed in [
            format!("{s}"),
            format!("{s:?}"),
            format!("{:?}", Some(&s)),
            serde_json::to_string(&s).unwrap(),
            serde_json::to_string(&json!({ "t": serde_json::to_value(&s).unwrap() })).unwrap(),
        ] {
            assert!(!printed.contains("hunter2"), "{printed}");
            assert!(printed.contains("‹secret sha256:"), "{printed}");
        }
    }

    #[test]
    fn fingerprint_is_first_8_hex_of_sha256() {
        // SHA-256("abc") = ba7816bf 8f01cfea ...
        assert_eq!(short_hash("abc"), "ba7816bf");
        assert_eq!(fingerprint("abc"), "‹secret sha256:ba7816bf›");
        assert_ne!(fingerprint("a"), fingerprint("b"));
        assert_eq!(Secret::from("abc").fingerprint(), fingerprint("abc"));
    }

    #[test]
    fn secret_deserializes_the_value() {
        #[derive(serde::Deserialize)]
        struct TokenResponse {
            access_token: Secret,
        }
        let t: TokenResponse = serde_json::from_str(r#"{"access_token":"at-1"}"#).unwrap();
        assert_eq!(t.access_token.expose(), "at-1");
    }

    #[test]
    fn form_body_secrets_redacted_rest_byte_exact() {
        let body = "grant_type=authorization_code&code=abc&redirect_uri=http%3A%2F%2F127.0.0.1%3A1%2Fcallback&code_verifier=v%2Bw&client_id=c+1";
        let out = redact_form_body(body, SECRET_KEYS);
        assert_eq!(
            out,
            format!(
                "grant_type=authorization_code&code={}&redirect_uri=http%3A%2F%2F127.0.0.1%3A1%2Fcallback&code_verifier={}&client_id=c+1",
                fingerprint("abc"),
                fingerprint("v+w"),
            )
        );
    }

    #[test]
    fn form_body_edge_cases() {
        // Duplicates are all redacted, empty values and bare names kept.
        let out = redact_form_body("code=a&code=b&code=&code&x=1&&", SECRET_KEYS);
        assert_eq!(
            out,
            format!(
                "code={}&code={}&code=&code&x=1&&",
                fingerprint("a"),
                fingerprint("b")
            )
        );
        // An encoded key name still matches.
        let out = redact_form_body("client%5Fsecret=s", SECRET_KEYS);
        assert!(!out.ends_with("=s"), "{out}");
        assert_eq!(redact_form_body("", SECRET_KEYS), "");
    }

    #[test]
    fn json_redacts_strings_only() {
        let v = json!({
            "access_token": "at",
            "token_type": "Bearer",
            "refresh_token": "rt",
            "nested": [{ "id_token": "idt", "client_secret": "cs" }],
            "error": { "code": -32602, "message": "bad" },
            "code": { "inner": { "password": "pw" } },
        });
        let r = redact_json(&v, SECRET_KEYS);
        let text = r.to_string();
        for leaked in ["\"at\"", "\"rt\"", "idt", "\"cs\"", "\"pw\""] {
            assert!(!text.contains(leaked), "{leaked} in {text}");
        }
        assert_eq!(r["token_type"], "Bearer");
        assert_eq!(r["error"]["code"], -32602);
        assert_eq!(r["access_token"], fingerprint("at"));
        assert_eq!(r["code"]["inner"]["password"], fingerprint("pw"));
    }

    #[test]
    fn url_query_and_fragment() {
        let url = "http://127.0.0.1:5000/callback?code=xyz&state=s1&iss=https%3A%2F%2Fas#access_token=at&x=1";
        let out = redact_url_query(url, SECRET_KEYS);
        assert_eq!(
            out,
            format!(
                "http://127.0.0.1:5000/callback?code={}&state=s1&iss=https%3A%2F%2Fas#access_token={}&x=1",
                fingerprint("xyz"),
                fingerprint("at")
            )
        );
        assert_eq!(
            redact_url_query("https://h/mcp", SECRET_KEYS),
            "https://h/mcp"
        );
        assert_eq!(redact_url_query("/cb?code=", SECRET_KEYS), "/cb?code=");
    }

    #[test]
    fn headers() {
        assert_eq!(
            redact_header("Authorization", "Bearer eyJabc"),
            format!("Bearer {}", fingerprint("eyJabc"))
        );
        assert_eq!(
            redact_header("authorization", "Basic Y2xpZW50OnNlY3JldA=="),
            format!("Basic {}", fingerprint("Y2xpZW50OnNlY3JldA=="))
        );
        assert_eq!(
            redact_header("Authorization", "opaque"),
            fingerprint("opaque")
        );
        assert_eq!(
            redact_header("Cookie", "a=1; b=2"),
            format!("a={}; b={}", fingerprint("1"), fingerprint("2"))
        );
        assert_eq!(
            redact_header("Set-Cookie", "sid=abc; Path=/; HttpOnly"),
            format!("sid={}; Path=/; HttpOnly", fingerprint("abc"))
        );
        assert_eq!(redact_header("Mcp-Session-Id", "sess-1"), "sess-1");
        assert_eq!(
            redact_header("WWW-Authenticate", "Bearer realm=\"x\""),
            "Bearer realm=\"x\""
        );
        assert!(
            !redact_header("Location", "http://127.0.0.1/cb?code=c0de&state=s").contains("c0de")
        );
        assert!(!redact_header("X-API-Key", "k3y").contains("k3y"));
    }

    proptest! {
        #[test]
        fn form_secret_values_never_survive(
            secret in "[A-Za-z0-9]{8,20}",
            key in proptest::sample::select(SECRET_KEYS),
            other in "[a-z]{1,8}",
        ) {
            let body = format!("a={other}&{key}={secret}&b=1");
            let out = redact_form_body(&body, SECRET_KEYS);
            prop_assert!(!out.contains(&secret));
            prop_assert!(out.contains(&fingerprint(&secret)));
        }

        #[test]
        fn non_secret_form_bodies_unchanged(body in "([a-z]{1,5}x=[a-zA-Z0-9%+]{0,6}&?){0,5}") {
            // Every key ends in `x`, so none is a secret key.
            prop_assert_eq!(redact_form_body(&body, SECRET_KEYS), body);
        }

        #[test]
        fn arbitrary_input_never_panics(s in any::<String>(), name in any::<String>()) {
            let _ = redact_form_body(&s, SECRET_KEYS);
            let _ = redact_url_query(&s, SECRET_KEYS);
            let _ = redact_header(&name, &s);
            let _ = redact_header("authorization", &s);
            let _ = redact_header("set-cookie", &s);
        }
    }
}
