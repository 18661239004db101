//! The `WWW-Authenticate` header: parsing and rendering per RFC 9110
//! §11.6.1, and the Bearer parameter rules of RFC 6750 §3.
//!
//! The grammar (RFC 9110 §11.6.1, §11.2, §5.6):
//!
//! ```text
//! WWW-Authenticate = #challenge
//! challenge   = auth-scheme [ 1*SP ( token68 / #auth-param ) ]
//! auth-param  = token BWS "=" BWS ( token / quoted-string )
//! token68     = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
//! ```
//!
//! The comma separates both challenges and the auth-params inside one, so
//! after a comma the parser looks ahead: `token BWS "="` continues the
//! current challenge's parameters, anything else starts a new challenge.
//! This is the disambiguation RFC 9110 §11.6.1 describes ("a comma-separated
//! list of challenges, each of which may itself contain a comma-separated
//! list of parameters").
//!
//! Scheme and parameter names keep the case they had on the wire (so
//! [`render`] reproduces them) and are compared case-insensitively
//! (RFC 9110 §11.1, §11.2).

use std::fmt;

use thiserror::Error;

/// One auth-param. For a quoted-string, `value` is unescaped (quoted-pairs
/// resolved, RFC 9110 §5.6.4) and `quoted` is true.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthParam {
    pub name: String,
    pub value: String,
    pub quoted: bool,
}

/// One challenge: a scheme and either a token68 or auth-params (or neither).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    pub scheme: String,
    pub token68: Option<String>,
    pub params: Vec<AuthParam>,
}

impl Challenge {
    /// A challenge with no parameters.
    pub fn new(scheme: impl Into<String>) -> Self {
        Challenge {
            scheme: scheme.into(),
            token68: None,
            params: Vec::new(),
        }
    }

    /// Builder: adds a quoted parameter.
    pub fn with_param(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.params.push(AuthParam {
            name: name.into(),
            value: value.into(),
            quoted: true,
        });
        self
    }

    /// The first value of parameter `name`, compared case-insensitively
    /// (RFC 9110 §11.2: "Parameter names are matched case-insensitively").
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|p| p.name.eq_ignore_ascii_case(name))
            .map(|p| p.value.as_str())
    }

    /// The first parameter named `name` (to see whether it was quoted).
    pub fn param_entry(&self, name: &str) -> Option<&AuthParam> {
        self.params
            .iter()
            .find(|p| p.name.eq_ignore_ascii_case(name))
    }

    /// How many times `name` occurs (RFC 9110 §11.2: "Each parameter name
    /// MUST only occur once per challenge"; RFC 6750 §3 repeats it for
    /// Bearer's own parameters).
    pub fn param_count(&self, name: &str) -> usize {
        self.params
            .iter()
            .filter(|p| p.name.eq_ignore_ascii_case(name))
            .count()
    }

    /// Whether the scheme is `scheme`, case-insensitively (RFC 9110 §11.1).
    pub fn is_scheme(&self, scheme: &str) -> bool {
        self.scheme.eq_ignore_ascii_case(scheme)
    }
}

/// Why a header value is not a valid `#challenge` list. Offsets are byte
/// offsets into the parsed value (for [`parse_all`], into the field lines
/// joined with `", "`).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ChallengeParseError {
    /// A challenge must start with an auth-scheme, which is a token.
    #[error("expected an auth-scheme (a token) at byte {offset}, found {found}")]
    ExpectedScheme { offset: usize, found: Found },
    /// After the scheme only spaces, a comma or the end may follow
    /// (`auth-scheme [ 1*SP ( token68 / #auth-param ) ]`).
    #[error(
        "expected a space, a comma or the end after the auth-scheme at byte {offset}, found {found}"
    )]
    ExpectedSpaceAfterScheme { offset: usize, found: Found },
    /// Neither an auth-param nor a token68 follows the scheme.
    #[error("expected a token68 or an auth-param at byte {offset}, found {found}")]
    ExpectedCredentials { offset: usize, found: Found },
    /// A quoted-string with no closing `"`.
    #[error("quoted-string opened at byte {offset} is not terminated")]
    UnterminatedQuotedString { offset: usize },
    /// A character RFC 9110 §5.6.4 does not allow inside a quoted-string
    /// (a control character other than HTAB).
    #[error("byte {byte:#04x} at {offset} is not allowed in a quoted-string")]
    InvalidQuotedStringChar { offset: usize, byte: u8 },
    /// `\` followed by a character `quoted-pair` does not allow.
    #[error("invalid quoted-pair at byte {offset}")]
    InvalidQuotedPair { offset: usize },
    /// After a token68 or a parameter only a comma or the end may follow.
    #[error("expected a comma or the end at byte {offset}, found {found}")]
    ExpectedCommaOrEnd { offset: usize, found: Found },
}

impl ChallengeParseError {
    /// The byte offset the error points at.
    pub fn offset(&self) -> usize {
        match self {
            Self::ExpectedScheme { offset, .. }
            | Self::ExpectedSpaceAfterScheme { offset, .. }
            | Self::ExpectedCredentials { offset, .. }
            | Self::UnterminatedQuotedString { offset }
            | Self::InvalidQuotedStringChar { offset, .. }
            | Self::InvalidQuotedPair { offset }
            | Self::ExpectedCommaOrEnd { offset, .. } => *offset,
        }
    }
}

/// What the parser found where it expected something else.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Found {
    End,
    Char(char),
}

impl fmt::Display for Found {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Found::End => f.write_str("the end of the value"),
            Found::Char(c) => write!(f, "{c:?}"),
        }
    }
}

/// Parses one header field value into its challenges. An empty value (or
/// one made only of commas and whitespace) is an empty list: the grammar is
/// `#challenge`, and recipients ignore empty list elements (RFC 9110
/// §5.6.1.2).
pub fn parse(value: &str) -> Result<Vec<Challenge>, ChallengeParseError> {
    Parser {
        s: value,
        b: value.as_bytes(),
        pos: 0,
    }
    .challenges()
}

/// Parses several `WWW-Authenticate` field lines as one value. RFC 9110
/// §5.3 defines several field lines as equivalent to their values joined
/// with commas, so a challenge's parameters may even continue on the next
/// line; offsets in errors refer to the joined value.
pub fn parse_all(values: &[&str]) -> Result<Vec<Challenge>, ChallengeParseError> {
    parse(&values.join(", "))
}

/// Renders challenges as one header value: `Scheme token68` or
/// `Scheme name=value, name="quoted"`, challenges separated by `", "`.
///
/// A parameter is written as a token only when `quoted` is false and the
/// value is a valid token; otherwise it is quoted with `"` and `\` escaped.
/// If a challenge has both a token68 and parameters (which the grammar
/// cannot express), only the token68 is written. Values with control
/// characters cannot be expressed either and are written as they are.
pub fn render(challenges: &[Challenge]) -> String {
    let mut out = String::new();
    for (i, ch) in challenges.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        out.push_str(&ch.scheme);
        if let Some(t) = &ch.token68 {
            out.push(' ');
            out.push_str(t);
            continue;
        }
        for (j, p) in ch.params.iter().enumerate() {
            out.push_str(if j == 0 { " " } else { ", " });
            out.push_str(&p.name);
            out.push('=');
            if !p.quoted && is_token(&p.value) {
                out.push_str(&p.value);
            } else {
                out.push('"');
                for c in p.value.chars() {
                    if c == '"' || c == '\\' {
                        out.push('\\');
                    }
                    out.push(c);
                }
                out.push('"');
            }
        }
    }
    out
}

/// The first challenge with scheme `Bearer` (case-insensitive, RFC 9110
/// §11.1).
pub fn bearer(challenges: &[Challenge]) -> Option<&Challenge> {
    challenges.iter().find(|c| c.is_scheme("Bearer"))
}

/// A way a Bearer challenge breaks RFC 6750 §3.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ChallengeViolation {
    /// RFC 6750 §3: "This scheme MUST be followed by one or more auth-param
    /// values"; a token68 is not an auth-param.
    #[error("the Bearer challenge carries a token68 instead of auth-params (RFC 6750 §3)")]
    Token68,
    /// RFC 6750 §3: one or more auth-params are required.
    #[error("the Bearer challenge has no auth-params (RFC 6750 §3)")]
    NoAuthParams,
    /// RFC 6750 §3: `realm`, `scope`, `error`, `error_description` and
    /// `error_uri` "MUST NOT appear more than once".
    #[error("`{name}` appears {count} times; RFC 6750 §3 allows it at most once")]
    Duplicate { name: &'static str, count: usize },
    /// A character outside the set RFC 6750 §3 allows for this attribute.
    #[error("`{name}` contains {ch:?} at byte {offset}, outside the set RFC 6750 §3 allows")]
    InvalidChar {
        name: &'static str,
        offset: usize,
        ch: char,
    },
    /// `scope` is a space-delimited list (RFC 6750 §3, RFC 6749 §3.3); an
    /// empty value or an empty element (leading, trailing or double space)
    /// is not one.
    #[error("`scope` is not a space-delimited list of scope tokens (RFC 6749 §3.3)")]
    MalformedScopeList,
    /// The attribute's value is a token, not a quoted-string. RFC 6750 §3's
    /// attributes are quoted in all its examples and `realm` is a
    /// quoted-string by RFC 2617's grammar; the requirement catalogue's
    /// WWW-07 asks for quoted-strings.
    #[error("`{name}` is not a quoted-string")]
    NotQuoted { name: &'static str },
}

/// The attributes RFC 6750 §3 defines for the Bearer scheme.
pub const RFC6750_ATTRIBUTES: &[&str] =
    &["realm", "scope", "error", "error_description", "error_uri"];

/// Every RFC 6750 §3 violation in `ch`, in a stable order (token68 and
/// parameter presence, duplicates, quoting, then character sets). Empty
/// means the challenge conforms. The scheme is not checked: find the Bearer
/// challenge with [`bearer`] first.
pub fn rfc6750_violations(ch: &Challenge) -> Vec<ChallengeViolation> {
    let mut out = Vec::new();
    if ch.token68.is_some() {
        out.push(ChallengeViolation::Token68);
    } else if ch.params.is_empty() {
        out.push(ChallengeViolation::NoAuthParams);
    }
    for &name in RFC6750_ATTRIBUTES {
        let count = ch.param_count(name);
        if count > 1 {
            out.push(ChallengeViolation::Duplicate { name, count });
        }
    }
    for &name in RFC6750_ATTRIBUTES {
        if ch.param_entry(name).is_some_and(|p| !p.quoted) {
            out.push(ChallengeViolation::NotQuoted { name });
        }
    }
    for p in &ch.params {
        let Some(&name) = RFC6750_ATTRIBUTES
            .iter()
            .find(|n| p.name.eq_ignore_ascii_case(n))
        else {
            continue;
        };
        // RFC 6750 §3: scope tokens are %x21 / %x23-5B / %x5D-7E, with %x20
        // as the delimiter; error and error_description may contain SP;
        // error_uri is a URI-reference, so no SP. realm is unconstrained.
        let allowed: fn(char) -> bool = match name {
            "scope" => |c| c == ' ' || is_nqchar_no_space(c),
            "error" | "error_description" => |c| c == ' ' || is_nqchar_no_space(c),
            "error_uri" => is_nqchar_no_space,
            _ => continue,
        };
        if let Some((offset, c)) = p.value.char_indices().find(|&(_, c)| !allowed(c)) {
            out.push(ChallengeViolation::InvalidChar {
                name,
                offset,
                ch: c,
            });
        }
        if name == "scope" && p.value.split(' ').any(str::is_empty) {
            out.push(ChallengeViolation::MalformedScopeList);
        }
    }
    out
}

/// `%x21 / %x23-5B / %x5D-7E`: visible ASCII except `"` and `\`.
fn is_nqchar_no_space(c: char) -> bool {
    matches!(c, '\x21' | '\x23'..='\x5b' | '\x5d'..='\x7e')
}

/// RFC 9110 §5.6.2 tchar.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(is_tchar)
}

fn is_token68_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/')
}

/// RFC 9110 §5.6.3 OWS/BWS: SP and HTAB.
fn is_ws(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

struct Parser<'a> {
    s: &'a str,
    b: &'a [u8],
    pos: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.pos).copied()
    }

    fn found(&self) -> Found {
        // `pos` is always at a char boundary: it only advances over ASCII
        // bytes or whole quoted-string contents.
        match self.s.get(self.pos..).and_then(|r| r.chars().next()) {
            Some(c) => Found::Char(c),
            None => Found::End,
        }
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(is_ws) {
            self.pos += 1;
        }
    }

    /// Skips OWS and empty list elements: `*( OWS "," )` and trailing OWS.
    fn skip_list_separators(&mut self) {
        loop {
            self.skip_ws();
            if self.peek() == Some(b',') {
                self.pos += 1;
            } else {
                return;
            }
        }
    }

    fn token_end(&self, from: usize) -> usize {
        let mut end = from;
        while self.b.get(end).copied().is_some_and(is_tchar) {
            end += 1;
        }
        end
    }

    fn take_token(&mut self) -> Option<String> {
        let end = self.token_end(self.pos);
        if end == self.pos {
            return None;
        }
        let t = self.s.get(self.pos..end).map(str::to_owned);
        self.pos = end;
        t
    }

    /// Whether an auth-param (`token BWS "=" BWS ( token / quoted-string )`)
    /// starts at `pos`. The value must be there too: `abc=` followed by a
    /// comma or the end is a token68 (`*"="` padding), not a parameter.
    fn at_auth_param(&self) -> bool {
        let end = self.token_end(self.pos);
        if end == self.pos {
            return false;
        }
        let mut i = end;
        while self.b.get(i).copied().is_some_and(is_ws) {
            i += 1;
        }
        if self.b.get(i) != Some(&b'=') {
            return false;
        }
        i += 1;
        while self.b.get(i).copied().is_some_and(is_ws) {
            i += 1;
        }
        self.b.get(i).is_some_and(|&b| b == b'"' || is_tchar(b))
    }

    fn challenges(mut self) -> Result<Vec<Challenge>, ChallengeParseError> {
        let mut out = Vec::new();
        loop {
            self.skip_list_separators();
            if self.peek().is_none() {
                return Ok(out);
            }
            out.push(self.challenge()?);
        }
    }

    fn challenge(&mut self) -> Result<Challenge, ChallengeParseError> {
        let scheme = self
            .take_token()
            .ok_or(ChallengeParseError::ExpectedScheme {
                offset: self.pos,
                found: self.found(),
            })?;
        let mut ch = Challenge::new(scheme);
        match self.peek() {
            None | Some(b',') => return Ok(ch),
            Some(b) if is_ws(b) => {}
            Some(_) => {
                return Err(ChallengeParseError::ExpectedSpaceAfterScheme {
                    offset: self.pos,
                    found: self.found(),
                });
            }
        }
        self.skip_ws();
        match self.peek() {
            // `Scheme   ` or `Scheme , Other`: no credentials.
            None | Some(b',') => return Ok(ch),
            _ => {}
        }
        if self.at_auth_param() {
            self.params(&mut ch)?;
            return Ok(ch);
        }
        // token68: 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
        let start = self.pos;
        while self.peek().is_some_and(is_token68_char) {
            self.pos += 1;
        }
        if self.pos == start {
            return Err(ChallengeParseError::ExpectedCredentials {
                offset: self.pos,
                found: self.found(),
            });
        }
        while self.peek() == Some(b'=') {
            self.pos += 1;
        }
        ch.token68 = self.s.get(start..self.pos).map(str::to_owned);
        self.skip_ws();
        match self.peek() {
            None | Some(b',') => Ok(ch),
            Some(_) => Err(ChallengeParseError::ExpectedCommaOrEnd {
                offset: self.pos,
                found: self.found(),
            }),
        }
    }

    /// `#auth-param`, stopping before a comma that starts a new challenge.
    fn params(&mut self, ch: &mut Challenge) -> Result<(), ChallengeParseError> {
        loop {
            ch.params.push(self.param()?);
            self.skip_ws();
            match self.peek() {
                None => return Ok(()),
                Some(b',') => {}
                Some(_) => {
                    return Err(ChallengeParseError::ExpectedCommaOrEnd {
                        offset: self.pos,
                        found: self.found(),
                    });
                }
            }
            // Look past the comma(s): another `token BWS "="` continues this
            // challenge; anything else is the next challenge (or the end),
            // which the caller parses from here.
            let save = self.pos;
            self.skip_list_separators();
            if !self.at_auth_param() {
                self.pos = save;
                return Ok(());
            }
        }
    }

    fn param(&mut self) -> Result<AuthParam, ChallengeParseError> {
        // Callers check `at_auth_param` first, so the token and "=" exist.
        let name = self.take_token().unwrap_or_default();
        self.skip_ws();
        if self.peek() == Some(b'=') {
            self.pos += 1;
        }
        self.skip_ws();
        match self.peek() {
            Some(b'"') => {
                let value = self.quoted_string()?;
                Ok(AuthParam {
                    name,
                    value,
                    quoted: true,
                })
            }
            Some(b) if is_tchar(b) => {
                let value = self.take_token().unwrap_or_default();
                Ok(AuthParam {
                    name,
                    value,
                    quoted: false,
                })
            }
            // Unreachable after `at_auth_param`, kept total for fuzzing.
            _ => Err(ChallengeParseError::ExpectedCredentials {
                offset: self.pos,
                found: self.found(),
            }),
        }
    }

    /// RFC 9110 §5.6.4:
    /// `quoted-string = DQUOTE *( qdtext / quoted-pair ) DQUOTE`,
    /// `qdtext = HTAB / SP / %x21 / %x23-5B / %x5D-7E / obs-text`,
    /// `quoted-pair = "\" ( HTAB / SP / VCHAR / obs-text )`.
    /// Non-ASCII bytes are obs-text; the input is a `&str`, so they always
    /// come as whole UTF-8 sequences and the result stays valid UTF-8.
    fn quoted_string(&mut self) -> Result<String, ChallengeParseError> {
        let open = self.pos;
        self.pos += 1;
        let mut value = Vec::new();
        loop {
            let Some(b) = self.peek() else {
                return Err(ChallengeParseError::UnterminatedQuotedString { offset: open });
            };
            match b {
                b'"' => {
                    self.pos += 1;
                    return Ok(String::from_utf8(value)
                        .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()));
                }
                b'\\' => {
                    let at = self.pos;
                    self.pos += 1;
                    match self.peek() {
                        None => {
                            return Err(ChallengeParseError::UnterminatedQuotedString {
                                offset: open,
                            });
                        }
                        Some(e) if e == b'\t' || e >= 0x20 && e != 0x7f => {
                            value.push(e);
                            self.pos += 1;
                        }
                        Some(_) => {
                            return Err(ChallengeParseError::InvalidQuotedPair { offset: at });
                        }
                    }
                }
                b'\t' => {
                    value.push(b);
                    self.pos += 1;
                }
                _ if b < 0x20 || b == 0x7f => {
                    return Err(ChallengeParseError::InvalidQuotedStringChar {
                        offset: self.pos,
                        byte: b,
                    });
                }
                _ => {
                    value.push(b);
                    self.pos += 1;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn p(name: &str, value: &str, quoted: bool) -> AuthParam {
        AuthParam {
            name: name.into(),
            value: value.into(),
            quoted,
        }
    }

    #[test]
    fn mcp_style_bearer_challenge() {
        let v = r#"Bearer resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp", scope="files:read files:write""#;
        let chs = parse(v).unwrap();
        assert_eq!(chs.len(), 1);
        let b = bearer(&chs).unwrap();
        assert_eq!(
            b.param("resource_metadata"),
            Some("https://mcp.example.com/.well-known/oauth-protected-resource/mcp")
        );
        assert_eq!(b.param("SCOPE"), Some("files:read files:write"));
        assert!(rfc6750_violations(b).is_empty());
    }

    #[test]
    fn rfc6750_section_3_examples() {
        let chs = parse(r#"Bearer realm="example""#).unwrap();
        assert_eq!(chs[0].params, vec![p("realm", "example", true)]);
        let chs = parse(
            "Bearer realm=\"example\",\n error=\"invalid_token\",\n error_description=\"The access token expired\""
                .replace('\n', "")
                .as_str(),
        )
        .unwrap();
        assert_eq!(chs[0].param("error"), Some("invalid_token"));
        assert_eq!(
            chs[0].param("error_description"),
            Some("The access token expired")
        );
        assert!(rfc6750_violations(&chs[0]).is_empty());
    }

    #[test]
    fn several_challenges_in_one_value() {
        // RFC 9110 §11.6.1's example.
        let v = r#"Basic realm="simple", Newauth realm="apps", type=1, title="Login to \"apps\"""#;
        let chs = parse(v).unwrap();
        assert_eq!(chs.len(), 2);
        assert_eq!(chs[0].scheme, "Basic");
        assert_eq!(chs[0].params, vec![p("realm", "simple", true)]);
        assert_eq!(chs[1].scheme, "Newauth");
        assert_eq!(
            chs[1].params,
            vec![
                p("realm", "apps", true),
                p("type", "1", false),
                p("title", "Login to \"apps\"", true)
            ]
        );
        assert!(bearer(&chs).is_none());
    }

    #[test]
    fn token68_and_following_challenge() {
        let chs = parse("Negotiate abc+/9==, bearer realm=x").unwrap();
        assert_eq!(chs[0].token68.as_deref(), Some("abc+/9=="));
        assert!(chs[0].params.is_empty());
        assert_eq!(bearer(&chs).unwrap().scheme, "bearer");
        // `abc=` then end is a token68, not a parameter with an empty value.
        let chs = parse("Foo abc=").unwrap();
        assert_eq!(chs[0].token68.as_deref(), Some("abc="));
        assert_eq!(
            rfc6750_violations(&chs[0]),
            vec![ChallengeViolation::Token68]
        );
    }

    #[test]
    fn bare_schemes_and_empty_elements() {
        let chs = parse(" , Bearer,,Basic ,  ").unwrap();
        assert_eq!(chs, vec![Challenge::new("Bearer"), Challenge::new("Basic")]);
        assert_eq!(parse("").unwrap(), vec![]);
        assert_eq!(parse(" ,, ").unwrap(), vec![]);
        assert_eq!(
            rfc6750_violations(&Challenge::new("Bearer")),
            vec![ChallengeViolation::NoAuthParams]
        );
    }

    #[test]
    fn whitespace_around_equals_and_commas() {
        let chs = parse("Bearer realm = \"a\" ,\tscope=\"b\" ,, error = invalid_token").unwrap();
        assert_eq!(
            chs[0].params,
            vec![
                p("realm", "a", true),
                p("scope", "b", true),
                p("error", "invalid_token", false)
            ]
        );
        assert_eq!(
            rfc6750_violations(&chs[0]),
            vec![ChallengeViolation::NotQuoted { name: "error" }]
        );
    }

    #[test]
    fn quoted_string_escapes_and_obs_text() {
        let chs = parse(r#"Bearer realm="a\\b\"c\d", error_description="café""#).unwrap();
        assert_eq!(chs[0].param("realm"), Some(r#"a\b"cd"#));
        assert_eq!(chs[0].param("error_description"), Some("café"));
        assert!(matches!(
            rfc6750_violations(&chs[0]).as_slice(),
            [ChallengeViolation::InvalidChar {
                name: "error_description",
                offset: 3,
                ch: 'é'
            }]
        ));
    }

    #[test]
    fn several_header_lines() {
        let chs = parse_all(&[
            "Basic realm=\"x\"",
            "Bearer scope=\"a\"",
            "error=\"invalid_token\"",
        ])
        .unwrap();
        assert_eq!(chs.len(), 2);
        // The third line continues the Bearer challenge (RFC 9110 §5.3).
        assert_eq!(chs[1].param("error"), Some("invalid_token"));
    }

    #[test]
    fn errors_carry_offsets() {
        use ChallengeParseError as E;
        assert_eq!(
            parse(r#"Bearer realm="x"#),
            Err(E::UnterminatedQuotedString { offset: 13 })
        );
        assert_eq!(
            parse("=x"),
            Err(E::ExpectedScheme {
                offset: 0,
                found: Found::Char('=')
            })
        );
        assert_eq!(
            parse("Bearer\"x\""),
            Err(E::ExpectedSpaceAfterScheme {
                offset: 6,
                found: Found::Char('"')
            })
        );
        // `realm=` with no value is, by the grammar, a token68.
        assert_eq!(
            parse("Bearer realm=").unwrap()[0].token68.as_deref(),
            Some("realm=")
        );
        assert_eq!(
            parse("Bearer a=1, b="),
            Err(E::ExpectedSpaceAfterScheme {
                offset: 13,
                found: Found::Char('=')
            })
        );
        assert_eq!(
            parse("Bearer realm=\"a\nb\""),
            Err(E::InvalidQuotedStringChar {
                offset: 15,
                byte: b'\n'
            })
        );
        assert_eq!(
            parse("Bearer realm=\"a\\\u{1}\""),
            Err(E::InvalidQuotedPair { offset: 15 })
        );
        assert_eq!(
            parse("Bearer realm=\"a\" scope=\"b\""),
            Err(E::ExpectedCommaOrEnd {
                offset: 17,
                found: Found::Char('s')
            })
        );
        assert_eq!(
            parse("Basic abc def"),
            Err(E::ExpectedCommaOrEnd {
                offset: 10,
                found: Found::Char('d')
            })
        );
        assert_eq!(
            parse("Bearer \"x\""),
            Err(E::ExpectedCredentials {
                offset: 7,
                found: Found::Char('"')
            })
        );
        assert_eq!(parse("Bearer realm=\"x").unwrap_err().offset(), 13);
    }

    #[test]
    fn rfc6750_duplicates_and_charsets() {
        let chs = parse(
            r#"Bearer realm="a", REALM="b", scope="a  b", error_uri="https://x/ y", error="bad\\x""#,
        )
        .unwrap();
        let v = rfc6750_violations(&chs[0]);
        assert!(
            v.contains(&ChallengeViolation::Duplicate {
                name: "realm",
                count: 2
            }),
            "{v:?}"
        );
        assert!(v.contains(&ChallengeViolation::MalformedScopeList), "{v:?}");
        assert!(
            v.contains(&ChallengeViolation::InvalidChar {
                name: "error_uri",
                offset: 10,
                ch: ' '
            }),
            "{v:?}"
        );
        assert!(
            v.contains(&ChallengeViolation::InvalidChar {
                name: "error",
                offset: 3,
                ch: '\\'
            }),
            "{v:?}"
        );
        // Unknown parameters are not constrained by RFC 6750.
        let chs = parse(r#"Bearer resource_metadata="https://x/ y", foo="\"""#).unwrap();
        assert!(rfc6750_violations(&chs[0]).is_empty());
        // A scope with a quote inside is outside the set.
        let chs = parse(r#"Bearer scope="a\"b""#).unwrap();
        assert_eq!(
            rfc6750_violations(&chs[0]),
            vec![ChallengeViolation::InvalidChar {
                name: "scope",
                offset: 1,
                ch: '"'
            }]
        );
    }

    #[test]
    fn render_examples() {
        let chs = vec![
            Challenge::new("Bearer")
                .with_param("realm", "a\"b\\c")
                .with_param("scope", "x y"),
            Challenge {
                scheme: "Basic".into(),
                token68: Some("QWxh==".into()),
                params: vec![],
            },
            Challenge {
                scheme: "X".into(),
                token68: None,
                params: vec![p("t", "1", false), p("e", "", false)],
            },
        ];
        let text = render(&chs);
        assert_eq!(
            text,
            r#"Bearer realm="a\"b\\c", scope="x y", Basic QWxh==, X t=1, e="""#
        );
        let back = parse(&text).unwrap();
        assert_eq!(back[0], chs[0]);
        assert_eq!(back[1], chs[1]);
        // The empty unquoted value had to be quoted.
        assert_eq!(back[2].params[1], p("e", "", true));
    }

    fn token() -> impl Strategy<Value = String> {
        "[A-Za-z0-9!#$%&'*+.^_`|~-]{1,10}"
    }

    fn param() -> impl Strategy<Value = AuthParam> {
        prop_oneof![
            (token(), token()).prop_map(|(name, value)| AuthParam {
                name,
                value,
                quoted: false
            }),
            // qdtext and quoted-pair content: HTAB, SP, VCHAR, obs-text.
            (token(), "[\t -~\u{80}-\u{10ffff}]{0,20}").prop_map(|(name, value)| AuthParam {
                name,
                value,
                quoted: true
            }),
        ]
    }

    fn challenge() -> impl Strategy<Value = Challenge> {
        prop_oneof![
            (token(), proptest::collection::vec(param(), 0..5)).prop_map(|(scheme, params)| {
                Challenge {
                    scheme,
                    token68: None,
                    params,
                }
            }),
            (token(), "[A-Za-z0-9._~+/-]{1,20}={0,2}").prop_map(|(scheme, t)| Challenge {
                scheme,
                token68: Some(t),
                params: vec![]
            }),
        ]
    }

    proptest! {
        #[test]
        fn parse_inverts_render(chs in proptest::collection::vec(challenge(), 0..5)) {
            let text = render(&chs);
            prop_assert_eq!(parse(&text), Ok(chs), "{}", text);
        }

        #[test]
        fn arbitrary_input_never_panics(s in any::<String>()) {
            if let Err(e) = parse(&s) {
                prop_assert!(e.offset() <= s.len());
            }
        }

        #[test]
        fn header_like_input_parses_stably(s in "[A-Za-z0-9 =,\"\\\\\t/+~é]{0,60}") {
            if let Ok(chs) = parse(&s) {
                for ch in &chs {
                    let _ = rfc6750_violations(ch);
                }
                // Whatever parsed renders to a value that parses the same.
                let text = render(&chs);
                prop_assert_eq!(parse(&text), Ok(chs), "{}", text);
            }
        }
    }
}
