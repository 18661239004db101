//! Parsing of `application/x-www-form-urlencoded` OAuth parameters: token
//! and revocation request bodies and the `/authorize` query string.
//!
//! Owns the OAuth 2.1 §3.1 parameter rules that apply before any endpoint
//! logic runs:
//! - parameters sent without a value are treated as omitted;
//! - parameters defined by the specs MUST NOT appear more than once
//!   (`resource` is the exception: RFC 8707 §2 lets a client repeat it);
//! - unrecognised parameters are ignored, so their repetition is too.
//!
//! Decoding is strict: a malformed percent escape or bytes that are not
//! UTF-8 make the whole request malformed instead of being patched up with
//! replacement characters (a lossy decode could make two different requests
//! look identical).

use std::collections::BTreeSet;

/// Parameters defined by OAuth 2.0/2.1, PKCE, RFC 7009, RFC 8707, RFC 9207
/// and OIDC that the server reads. A repetition of one of these is an error;
/// anything else is ignored (OAuth 2.1 §3.1).
pub const DEFINED_PARAMETERS: &[&str] = &[
    "response_type",
    "client_id",
    "client_secret",
    "redirect_uri",
    "scope",
    "state",
    "code",
    "code_challenge",
    "code_challenge_method",
    "code_verifier",
    "grant_type",
    "refresh_token",
    "token",
    "token_type_hint",
    "login_hint",
    "request_id",
    "decision",
];

/// Parameters that RFC 8707 §2 allows more than once.
pub const REPEATABLE_PARAMETERS: &[&str] = &["resource"];

/// A parsed parameter set, in request order, empty values already dropped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OAuthForm {
    pairs: Vec<(String, String)>,
    duplicates: BTreeSet<String>,
}

/// Why a parameter string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormError {
    #[error("malformed percent-encoding in the request parameters")]
    BadPercentEncoding,
    #[error("request parameters are not valid UTF-8")]
    InvalidUtf8,
    #[error("parameter {0:?} is included more than once (OAuth 2.1 §3.1)")]
    Duplicate(String),
}

impl OAuthForm {
    /// The value of `name`, if it was sent with a non-empty value. When it
    /// was (illegally) repeated, the first value.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every non-empty value of `name`, in request order.
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.pairs
            .iter()
            .filter(move |(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Whether `name` was sent with a non-empty value.
    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// Defined parameters that were sent more than once (counting empty
    /// occurrences: `a=&a=x` repeats `a`).
    pub fn duplicates(&self) -> &BTreeSet<String> {
        &self.duplicates
    }

    /// Whether the defined parameter `name` was repeated.
    pub fn is_duplicated(&self, name: &str) -> bool {
        self.duplicates.contains(name)
    }

    /// Every non-empty pair in request order.
    pub fn pairs(&self) -> &[(String, String)] {
        &self.pairs
    }
}

/// Parses a form body or query string and refuses any repeated defined
/// parameter. The entry point for the token and revocation endpoints (and
/// for fuzzing).
pub fn parse_form(body: &[u8]) -> Result<OAuthForm, FormError> {
    let form = parse_form_allowing_duplicates(body)?;
    match form.duplicates.iter().next() {
        Some(name) => Err(FormError::Duplicate(name.clone())),
        None => Ok(form),
    }
}

/// Parses a form body or query string, recording repeated defined
/// parameters instead of failing on them: `/authorize` must first establish
/// the redirect URI before it knows how to report the error.
pub fn parse_form_allowing_duplicates(body: &[u8]) -> Result<OAuthForm, FormError> {
    let mut form = OAuthForm::default();
    let mut seen: BTreeSet<String> = BTreeSet::new();
    for segment in body.split(|b| *b == b'&') {
        if segment.is_empty() {
            continue;
        }
        let (raw_name, raw_value) = match segment.iter().position(|b| *b == b'=') {
            Some(i) => (&segment[..i], &segment[i + 1..]),
            None => (segment, &b""[..]),
        };
        let name = decode_component(raw_name)?;
        let value = decode_component(raw_value)?;
        if name.is_empty() {
            continue;
        }
        let defined = DEFINED_PARAMETERS.contains(&name.as_str());
        let repeatable = REPEATABLE_PARAMETERS.contains(&name.as_str());
        if defined && !repeatable && !seen.insert(name.clone()) {
            form.duplicates.insert(name.clone());
        }
        // OAuth 2.1 §3.1: "Parameters sent without a value MUST be treated
        // as if they were omitted from the request."
        if !value.is_empty() {
            form.pairs.push((name, value));
        }
    }
    Ok(form)
}

/// Decodes one `application/x-www-form-urlencoded` component: `+` is a
/// space, `%XX` a byte; the result must be UTF-8.
pub fn decode_component(raw: &[u8]) -> Result<String, FormError> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b'%' => {
                let hi = raw.get(i + 1).and_then(|b| hex_value(*b));
                let lo = raw.get(i + 2).and_then(|b| hex_value(*b));
                match (hi, lo) {
                    (Some(hi), Some(lo)) => out.push(hi << 4 | lo),
                    _ => return Err(FormError::BadPercentEncoding),
                }
                i += 3;
            }
            other => {
                out.push(other);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| FormError::InvalidUtf8)
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_pairs_and_decodes() {
        let f = parse_form(b"grant_type=authorization_code&code=a%2Bb+c&x").unwrap();
        assert_eq!(f.get("grant_type"), Some("authorization_code"));
        assert_eq!(f.get("code"), Some("a+b c"));
        assert_eq!(f.get("x"), None);
    }

    #[test]
    fn empty_value_is_absent() {
        let f = parse_form(b"code_challenge=&state=s").unwrap();
        assert!(!f.contains("code_challenge"));
        assert_eq!(f.get("state"), Some("s"));
    }

    #[test]
    fn duplicated_defined_parameter_is_refused() {
        assert_eq!(
            parse_form(b"code=a&code=b"),
            Err(FormError::Duplicate("code".into()))
        );
        // An empty repetition still repeats the parameter.
        assert_eq!(
            parse_form(b"grant_type=&grant_type=x"),
            Err(FormError::Duplicate("grant_type".into()))
        );
    }

    #[test]
    fn unknown_and_resource_parameters_may_repeat() {
        let f = parse_form(b"foo=1&foo=2&resource=a&resource=b").unwrap();
        assert_eq!(f.get_all("resource").collect::<Vec<_>>(), ["a", "b"]);
    }

    #[test]
    fn lenient_parse_reports_duplicates() {
        let f = parse_form_allowing_duplicates(b"state=a&state=b&redirect_uri=x").unwrap();
        assert!(f.is_duplicated("state"));
        assert!(!f.is_duplicated("redirect_uri"));
    }

    #[test]
    fn malformed_encoding_is_refused() {
        assert_eq!(parse_form(b"code=%zz"), Err(FormError::BadPercentEncoding));
        assert_eq!(parse_form(b"code=%4"), Err(FormError::BadPercentEncoding));
        assert_eq!(parse_form(b"code=%ff"), Err(FormError::InvalidUtf8));
    }

    proptest! {
        #[test]
        fn never_panics(body in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = parse_form(&body);
        }

        #[test]
        fn round_trips_encoded_values(value in "[ -~]{1,40}") {
            let body: String = form_urlencoded::Serializer::new(String::new())
                .append_pair("state", &value)
                .finish();
            let f = parse_form(body.as_bytes()).unwrap();
            prop_assert_eq!(f.get("state"), Some(value.as_str()));
        }
    }
}
