//! The bearer side of HTTP authentication, without I/O: parsing an
//! `Authorization` header value (RFC 9110 §11.4, RFC 6750 §2.1) and rendering
//! `WWW-Authenticate: Bearer` challenges (RFC 6750 §3, RFC 9728 §5.1).
//!
//! The parser only classifies: deciding which HTTP status a failure earns is
//! [`BearerError::kind`]'s job, so the resource server and the fuzz targets
//! agree on the classification.

use std::fmt;

/// The longest `Authorization` value we look at. Our own tokens are a few
/// hundred bytes; anything this long is not one of them.
pub const MAX_AUTHORIZATION_LEN: usize = 8 * 1024;

/// A syntactically valid bearer credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BearerCredential {
    /// The `b64token` (RFC 6750 §2.1), exactly as sent.
    pub token: String,
}

/// Why an `Authorization` value is not a usable bearer credential.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BearerError {
    /// The value is empty (or only whitespace).
    #[error("the Authorization header is empty")]
    Empty,
    /// The value is longer than [`MAX_AUTHORIZATION_LEN`].
    #[error("the Authorization header is longer than {MAX_AUTHORIZATION_LEN} bytes")]
    TooLong,
    /// The auth-scheme is not a `token` (RFC 9110 §5.6.2).
    #[error("the authentication scheme is not a valid token")]
    MalformedScheme,
    /// Another scheme, such as `Basic`. RFC 6750 §3.1 treats this as "no
    /// authentication information": the challenge carries no error code.
    #[error("the authentication scheme {0:?} is not Bearer")]
    OtherScheme(String),
    /// `Bearer` with nothing after it.
    #[error("the Bearer credentials carry no token")]
    MissingToken,
    /// The token is not a `b64token`, or more than one token follows the
    /// scheme (RFC 6750 §2.1 allows exactly one).
    #[error("the Bearer token is not a valid b64token")]
    MalformedToken,
}

/// How the resource server must answer a [`BearerError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BearerErrorKind {
    /// Treat as if no credentials were sent: 401 with a challenge that has
    /// no `error` (RFC 6750 §3.1, last paragraph).
    NoCredentials,
    /// A malformed request: `invalid_request`, which RFC 6750 §3.1 says
    /// SHOULD be answered with 400.
    InvalidRequest,
}

impl BearerError {
    /// The answer this failure earns.
    pub fn kind(&self) -> BearerErrorKind {
        match self {
            BearerError::OtherScheme(_) => BearerErrorKind::NoCredentials,
            BearerError::Empty
            | BearerError::TooLong
            | BearerError::MalformedScheme
            | BearerError::MissingToken
            | BearerError::MalformedToken => BearerErrorKind::InvalidRequest,
        }
    }
}

/// `tchar` of RFC 9110 §5.6.2.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Parses an `Authorization` field value as Bearer credentials.
///
/// Grammar: `credentials = auth-scheme [ 1*SP ( token68 / #auth-param ) ]`
/// (RFC 9110 §11.4), where for Bearer the part after the scheme is one
/// `b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`
/// (RFC 6750 §2.1). The scheme is compared case-insensitively (RFC 9110
/// §11.1). Leading and trailing whitespace is not part of a field value
/// (RFC 9110 §5.5), so it is dropped first.
pub fn parse_authorization(value: &[u8]) -> Result<BearerCredential, BearerError> {
    if value.len() > MAX_AUTHORIZATION_LEN {
        return Err(BearerError::TooLong);
    }
    let value = trim_ows(value);
    if value.is_empty() {
        return Err(BearerError::Empty);
    }
    let (scheme, rest) = match value.iter().position(|&b| b == b' ') {
        Some(i) => (&value[..i], Some(&value[i..])),
        None => (value, None),
    };
    if !scheme.iter().all(|&b| is_tchar(b)) {
        return Err(BearerError::MalformedScheme);
    }
    if !scheme.eq_ignore_ascii_case(b"bearer") {
        // All tchar bytes are ASCII, so this cannot lose information.
        return Err(BearerError::OtherScheme(
            String::from_utf8_lossy(scheme).into_owned(),
        ));
    }
    let token = match rest {
        None => return Err(BearerError::MissingToken),
        Some(rest) => {
            let token = trim_leading_sp(rest);
            if token.is_empty() {
                return Err(BearerError::MissingToken);
            }
            token
        }
    };
    if !is_b64token(token) {
        return Err(BearerError::MalformedToken);
    }
    // is_b64token admits ASCII only, so this is lossless.
    Ok(BearerCredential {
        token: String::from_utf8_lossy(token).into_owned(),
    })
}

fn trim_ows(mut v: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = v {
        v = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = v {
        v = rest;
    }
    v
}

fn trim_leading_sp(mut v: &[u8]) -> &[u8] {
    while let [b' ', rest @ ..] = v {
        v = rest;
    }
    v
}

/// `b64token` of RFC 6750 §2.1: at least one token character, then only `=`.
pub fn is_b64token(v: &[u8]) -> bool {
    let body_len = v
        .iter()
        .position(|&b| !(b.is_ascii_alphanumeric() || b"-._~+/".contains(&b)))
        .unwrap_or(v.len());
    body_len > 0 && v[body_len..].iter().all(|&b| b == b'=')
}

/// The `error` codes of RFC 6750 §3.1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChallengeError {
    InvalidRequest,
    InvalidToken,
    InsufficientScope,
}

impl ChallengeError {
    pub fn as_str(self) -> &'static str {
        match self {
            ChallengeError::InvalidRequest => "invalid_request",
            ChallengeError::InvalidToken => "invalid_token",
            ChallengeError::InsufficientScope => "insufficient_scope",
        }
    }
}

/// A `WWW-Authenticate: Bearer` challenge. Every parameter is optional so
/// the faults can drop one; the strict server fills them all in.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Challenge {
    pub error: Option<ChallengeError>,
    pub error_description: Option<String>,
    /// Space-delimited scopes (RFC 6750 §3).
    pub scope: Option<String>,
    /// The PRM URL (RFC 9728 §5.1).
    pub resource_metadata: Option<String>,
}

impl Challenge {
    /// The field value, e.g. `Bearer error="invalid_token", scope="mcp:tools"`.
    ///
    /// RFC 6750 §3 restricts `scope`, `error` and `error_description` values
    /// to `%x20-21 / %x23-5B / %x5D-7E` (no `"` or `\`), so no escaping is
    /// ever needed: characters outside that set are dropped instead. The
    /// same rule keeps the URL parameter a plain quoted-string.
    pub fn render(&self) -> String {
        let mut params: Vec<(&str, String)> = Vec::with_capacity(4);
        if let Some(e) = self.error {
            params.push(("error", e.as_str().to_owned()));
        }
        if let Some(d) = &self.error_description {
            params.push(("error_description", sanitize(d)));
        }
        if let Some(s) = &self.scope {
            params.push(("scope", sanitize(s)));
        }
        if let Some(u) = &self.resource_metadata {
            params.push(("resource_metadata", sanitize(u)));
        }
        let mut out = String::from("Bearer");
        for (i, (name, value)) in params.iter().enumerate() {
            out.push_str(if i == 0 { " " } else { ", " });
            out.push_str(name);
            out.push_str("=\"");
            out.push_str(value);
            out.push('"');
        }
        out
    }
}

impl fmt::Display for Challenge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render())
    }
}

/// Keeps only the characters RFC 6750 §3 allows inside the quoted values.
fn sanitize(s: &str) -> String {
    s.chars()
        .filter(|&c| matches!(c, '\x20'..='\x21' | '\x23'..='\x5b' | '\x5d'..='\x7e'))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts_bearer_in_any_case() {
        for scheme in ["Bearer", "bearer", "BEARER", "bEaReR"] {
            let v = format!("{scheme} abc.DEF-_~+/==");
            assert_eq!(
                parse_authorization(v.as_bytes()),
                Ok(BearerCredential {
                    token: "abc.DEF-_~+/==".into()
                })
            );
        }
    }

    #[test]
    fn tolerates_surrounding_whitespace_and_extra_spaces() {
        assert_eq!(
            parse_authorization(b"  Bearer   tok \t").map(|c| c.token),
            Ok("tok".into())
        );
    }

    #[test]
    fn other_scheme_counts_as_no_credentials() {
        let err = parse_authorization(b"Basic dXNlcjpwYXNz").unwrap_err();
        assert_eq!(err, BearerError::OtherScheme("Basic".into()));
        assert_eq!(err.kind(), BearerErrorKind::NoCredentials);
        // A bare scheme without credentials is valid RFC 9110 syntax.
        assert_eq!(
            parse_authorization(b"Negotiate").unwrap_err().kind(),
            BearerErrorKind::NoCredentials
        );
    }

    #[test]
    fn malformed_values_are_invalid_requests() {
        let cases: &[(&[u8], BearerError)] = &[
            (b"", BearerError::Empty),
            (b"   ", BearerError::Empty),
            (b"Bearer", BearerError::MissingToken),
            (b"Bearer   ", BearerError::MissingToken),
            (b"Bearer a b", BearerError::MalformedToken),
            (b"Bearer a=b", BearerError::MalformedToken),
            (b"Bearer =", BearerError::MalformedToken),
            (b"Bearer a,b", BearerError::MalformedToken),
            (b"Bearer \xff", BearerError::MalformedToken),
            (b"Bearer\ttok", BearerError::MalformedScheme),
            (b"B(earer tok", BearerError::MalformedScheme),
        ];
        for (input, want) in cases {
            let got = parse_authorization(input).unwrap_err();
            assert_eq!(&got, want, "input {:?}", String::from_utf8_lossy(input));
            assert_eq!(got.kind(), BearerErrorKind::InvalidRequest);
        }
        let long = format!("Bearer {}", "a".repeat(MAX_AUTHORIZATION_LEN));
        assert_eq!(
            parse_authorization(long.as_bytes()),
            Err(BearerError::TooLong)
        );
    }

    #[test]
    fn renders_challenges() {
        let c = Challenge {
            error: Some(ChallengeError::InsufficientScope),
            error_description: Some("needs \"admin\"".into()),
            scope: Some("mcp:tools mcp:admin".into()),
            resource_metadata: Some(
                "http://127.0.0.1:1/.well-known/oauth-protected-resource/mcp".into(),
            ),
        };
        assert_eq!(
            c.render(),
            "Bearer error=\"insufficient_scope\", error_description=\"needs admin\", \
             scope=\"mcp:tools mcp:admin\", \
             resource_metadata=\"http://127.0.0.1:1/.well-known/oauth-protected-resource/mcp\""
        );
        assert_eq!(Challenge::default().render(), "Bearer");
    }

    /// A strict parser for one challenge (RFC 9110 §11.6.1 auth-param list
    /// with quoted-string values), used to prove rendered challenges parse.
    pub(crate) fn parse_challenge(s: &str) -> Option<(String, Vec<(String, String)>)> {
        let (scheme, rest) = s.split_once(' ').unwrap_or((s, ""));
        let mut params = Vec::new();
        let mut rest = rest;
        while !rest.is_empty() {
            let eq = rest.find('=')?;
            let name = rest[..eq].trim();
            if name.is_empty() || !name.bytes().all(is_tchar) {
                return None;
            }
            let after = rest[eq + 1..].strip_prefix('"')?;
            let close = after.find('"')?;
            let value = &after[..close];
            if value.contains('\\') {
                return None;
            }
            params.push((name.to_owned(), value.to_owned()));
            rest = after[close + 1..].trim_start();
            if let Some(r) = rest.strip_prefix(',') {
                rest = r.trim_start();
                if rest.is_empty() {
                    return None;
                }
            } else if !rest.is_empty() {
                return None;
            }
        }
        Some((scheme.to_owned(), params))
    }

    proptest! {
        #[test]
        fn parser_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = parse_authorization(&bytes);
        }

        #[test]
        fn parser_accepts_every_b64token(token in "[A-Za-z0-9._~+/-]{1,80}={0,3}", scheme in "(?i)bearer") {
            let v = format!("{scheme} {token}");
            prop_assert_eq!(parse_authorization(v.as_bytes()).map(|c| c.token), Ok(token));
        }

        #[test]
        fn rendered_challenges_parse_back(
            error in proptest::option::of(prop_oneof![
                Just(ChallengeError::InvalidRequest),
                Just(ChallengeError::InvalidToken),
                Just(ChallengeError::InsufficientScope),
            ]),
            desc in proptest::option::of(any::<String>()),
            scope in proptest::option::of("[ -~]{0,40}"),
            url in proptest::option::of(any::<String>()),
        ) {
            let c = Challenge { error, error_description: desc.clone(), scope: scope.clone(), resource_metadata: url.clone() };
            let rendered = c.render();
            let (scheme, params) = parse_challenge(&rendered).expect("rendered challenge parses");
            prop_assert_eq!(scheme, "Bearer");
            let want = [
                error.map(|e| ("error", e.as_str().to_owned())),
                desc.map(|d| ("error_description", sanitize(&d))),
                scope.map(|s| ("scope", sanitize(&s))),
                url.map(|u| ("resource_metadata", sanitize(&u))),
            ];
            let want: Vec<(String, String)> = want.into_iter().flatten().map(|(k, v)| (k.to_owned(), v)).collect();
            prop_assert_eq!(params, want);
        }
    }
}
