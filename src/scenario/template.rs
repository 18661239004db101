//! Templates: `{{ expr }}` inside strings of a scenario file.
//!
//! An expression is a variable path (`tokens.access_token`,
//! `discovery.as.token_endpoint`), a string or integer literal, or a call of
//! one of the built-in functions on expressions (`s256(grant.verifier)`).
//! Templates are parsed when the plan is built, so a malformed one fails
//! before any request is sent; they are evaluated when their step runs.

use std::fmt;

use serde_json::Value;

use crate::core::{form, jwt, pkce};

/// A parsed template.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq)]
enum Part {
    Literal(String),
    Expr(Expr),
}

/// An expression inside `{{ }}`.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Path(Vec<String>),
    Str(String),
    Int(i64),
    Call(Function, Vec<Expr>),
}

macro_rules! functions {
    ($( $(#[$doc:meta])* $variant:ident = $name:literal / $arity:literal; )+) => {
        /// The built-in template functions.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Function { $( $(#[$doc])* $variant, )+ }

        impl Function {
            pub const ALL: &'static [Function] = &[ $( Function::$variant, )+ ];
            pub fn name(self) -> &'static str {
                match self { $( Function::$variant => $name, )+ }
            }
            fn arity(self) -> usize {
                match self { $( Function::$variant => $arity, )+ }
            }
        }
    };
}

functions! {
    /// PKCE S256 challenge of a verifier.
    S256 = "s256" / 1;
    /// N random bytes as base64url.
    Random = "random" / 1;
    /// The string repeated N times.
    Repeat = "repeat" / 2;
    /// The token with one character of its last segment changed.
    Flip = "flip" / 1;
    /// The JWT re-encoded with `alg: none` and no signature.
    JwtAlgNone = "jwt_alg_none" / 1;
    /// The JWT with one claim replaced (string value), signature kept.
    JwtWithClaim = "jwt_with_claim" / 3;
    /// A JWT for the given audience signed with a key the suite just made.
    JwtForeign = "jwt_foreign" / 1;
    /// A claim of a JWT, read without verifying it.
    JwtClaim = "jwt_claim" / 2;
    /// `Basic base64(urlencode(id):urlencode(secret))`.
    Basic = "basic" / 2;
    /// Percent-encoding for a query or form value.
    UrlEncode = "urlencode" / 1;
    /// Upper-case.
    Upper = "upper" / 1;
    /// Concatenation.
    Concat = "concat" / 2;
    /// The origin (scheme://host:port) of a URL.
    Origin = "origin" / 1;
    /// The path of a URL without its trailing `/` (`""` at the root): the
    /// catalogue's `P`, for building well-known URLs.
    Path = "path" / 1;
    /// `"true"` when the first URL names the second or a resource above it
    /// (same origin, path a prefix by whole segments), else `"false"`.
    SegmentPrefix = "segment_prefix" / 2;
    /// The first argument, or the second when the first is not set (an
    /// optional member or capture); only a missing variable falls back.
    Default = "default" / 2;
    /// The scheme of a URL, lower-case (`https`).
    Scheme = "scheme" / 1;
}

/// Why a template failed to parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("unclosed `{{{{` at byte {0}")]
    Unclosed(usize),
    #[error("empty expression at byte {0}")]
    Empty(usize),
    #[error("unknown function `{name}`{}", suggest.map(|s| format!(" (did you mean `{s}`?)")).unwrap_or_default())]
    UnknownFunction {
        name: String,
        suggest: Option<&'static str>,
    },
    #[error("function `{name}` takes {expected} argument(s), got {got}")]
    Arity {
        name: &'static str,
        expected: usize,
        got: usize,
    },
    #[error("cannot parse expression `{0}`")]
    Syntax(String),
}

/// Why a template could not be evaluated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EvalError {
    #[error("`{0}` is not set (an earlier step did not produce it)")]
    Missing(String),
    #[error("`{function}` failed: {reason}")]
    Function {
        function: &'static str,
        reason: String,
    },
}

/// Where templates read variables from.
pub trait Vars {
    fn lookup(&self, path: &[String]) -> Option<Value>;
}

impl Template {
    /// Parses `text`; text without `{{` is a literal.
    pub fn parse(text: &str) -> Result<Template, TemplateError> {
        let mut parts = Vec::new();
        let mut rest = text;
        let mut offset = 0;
        while let Some(start) = rest.find("{{") {
            if start > 0 {
                parts.push(Part::Literal(rest[..start].to_owned()));
            }
            let after = &rest[start + 2..];
            let end = after.find("}}").ok_or(Unclosed(offset + start))?;
            let inner = after[..end].trim();
            if inner.is_empty() {
                return Err(TemplateError::Empty(offset + start));
            }
            parts.push(Part::Expr(parse_expr(inner)?));
            let consumed = start + 2 + end + 2;
            rest = &rest[consumed..];
            offset += consumed;
        }
        if !rest.is_empty() {
            parts.push(Part::Literal(rest.to_owned()));
        }
        Ok(Template { parts })
    }

    /// The variable paths this template reads (for plan-time checks).
    pub fn paths(&self) -> Vec<Vec<String>> {
        fn walk(e: &Expr, out: &mut Vec<Vec<String>>) {
            match e {
                Expr::Path(p) => out.push(p.clone()),
                Expr::Call(_, args) => args.iter().for_each(|a| walk(a, out)),
                Expr::Str(_) | Expr::Int(_) => {}
            }
        }
        let mut out = Vec::new();
        for part in &self.parts {
            if let Part::Expr(e) = part {
                walk(e, &mut out);
            }
        }
        out
    }

    /// Renders the template as a string.
    pub fn render(&self, vars: &dyn Vars) -> Result<String, EvalError> {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Literal(s) => out.push_str(s),
                Part::Expr(e) => out.push_str(&value_to_text(&eval(e, vars)?)),
            }
        }
        Ok(out)
    }

    /// Renders to a JSON value: a template that is one expression keeps the
    /// value's type (so `{{ x.expires_in }}` stays a number).
    pub fn render_value(&self, vars: &dyn Vars) -> Result<Value, EvalError> {
        match self.parts.as_slice() {
            [Part::Expr(e)] => eval(e, vars),
            _ => self.render(vars).map(Value::String),
        }
    }
}

use TemplateError::Unclosed;

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Path(p) => f.write_str(&p.join(".")),
            Expr::Str(s) => write!(f, "{s:?}"),
            Expr::Int(i) => write!(f, "{i}"),
            Expr::Call(func, args) => {
                write!(f, "{}(", func.name())?;
                for (i, a) in args.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{a}")?;
                }
                f.write_str(")")
            }
        }
    }
}

/// Text form of a value: strings bare, null empty, the rest as JSON.
pub fn value_to_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn parse_expr(src: &str) -> Result<Expr, TemplateError> {
    let mut p = ExprParser {
        src,
        pos: 0,
        depth: 0,
    };
    let e = p.expr()?;
    p.skip_ws();
    if p.pos != src.len() {
        return Err(TemplateError::Syntax(src.to_owned()));
    }
    Ok(e)
}

struct ExprParser<'a> {
    src: &'a str,
    pos: usize,
    /// Calls open around the current position; bounded so hostile nesting
    /// is a syntax error, not a stack overflow (here or in `eval`).
    depth: usize,
}

/// Deepest nesting of calls in one expression.
const MAX_CALL_DEPTH: usize = 32;

impl ExprParser<'_> {
    fn peek(&self) -> Option<char> {
        self.src[self.pos..].chars().next()
    }

    fn skip_ws(&mut self) {
        while let Some(c) = self.peek() {
            if !c.is_whitespace() {
                break;
            }
            self.pos += c.len_utf8();
        }
    }

    fn syntax(&self) -> TemplateError {
        TemplateError::Syntax(self.src.to_owned())
    }

    fn expr(&mut self) -> Result<Expr, TemplateError> {
        self.skip_ws();
        match self.peek() {
            Some('"') => self.string(),
            Some(c) if c.is_ascii_digit() || c == '-' => self.int(),
            Some(c) if c.is_ascii_alphabetic() || c == '_' => self.path_or_call(),
            _ => Err(self.syntax()),
        }
    }

    fn string(&mut self) -> Result<Expr, TemplateError> {
        self.pos += 1;
        let mut out = String::new();
        loop {
            let c = self.peek().ok_or_else(|| self.syntax())?;
            self.pos += c.len_utf8();
            match c {
                '"' => return Ok(Expr::Str(out)),
                '\\' => {
                    let esc = self.peek().ok_or_else(|| self.syntax())?;
                    self.pos += esc.len_utf8();
                    out.push(esc);
                }
                c => out.push(c),
            }
        }
    }

    fn int(&mut self) -> Result<Expr, TemplateError> {
        let start = self.pos;
        if self.peek() == Some('-') {
            self.pos += 1;
        }
        while matches!(self.peek(), Some(c) if c.is_ascii_digit()) {
            self.pos += 1;
        }
        self.src[start..self.pos]
            .parse()
            .map(Expr::Int)
            .map_err(|_| self.syntax())
    }

    fn ident(&mut self) -> String {
        let start = self.pos;
        while matches!(self.peek(), Some(c) if c.is_ascii_alphanumeric() || c == '_' || c == '-') {
            self.pos += 1;
        }
        self.src[start..self.pos].to_owned()
    }

    fn path_or_call(&mut self) -> Result<Expr, TemplateError> {
        let first = self.ident();
        self.skip_ws();
        if self.peek() == Some('(') {
            self.pos += 1;
            let func = Function::ALL
                .iter()
                .copied()
                .find(|f| f.name() == first)
                .ok_or_else(|| TemplateError::UnknownFunction {
                    suggest: crate::suggest::nearest(
                        &first,
                        Function::ALL.iter().map(|f| f.name()),
                    ),
                    name: first.clone(),
                })?;
            let mut args = Vec::new();
            self.skip_ws();
            if self.peek() == Some(')') {
                self.pos += 1;
            } else {
                if self.depth >= MAX_CALL_DEPTH {
                    return Err(self.syntax());
                }
                self.depth += 1;
                loop {
                    args.push(self.expr()?);
                    self.skip_ws();
                    match self.peek() {
                        Some(',') => self.pos += 1,
                        Some(')') => {
                            self.pos += 1;
                            break;
                        }
                        _ => return Err(self.syntax()),
                    }
                }
                self.depth -= 1;
            }
            if args.len() != func.arity() {
                return Err(TemplateError::Arity {
                    name: func.name(),
                    expected: func.arity(),
                    got: args.len(),
                });
            }
            return Ok(Expr::Call(func, args));
        }
        let mut path = vec![first];
        while self.peek() == Some('.') {
            self.pos += 1;
            let seg = self.ident();
            if seg.is_empty() {
                return Err(self.syntax());
            }
            path.push(seg);
        }
        Ok(Expr::Path(path))
    }
}

fn eval(e: &Expr, vars: &dyn Vars) -> Result<Value, EvalError> {
    match e {
        Expr::Path(p) => vars
            .lookup(p)
            .ok_or_else(|| EvalError::Missing(p.join("."))),
        Expr::Str(s) => Ok(Value::String(s.clone())),
        Expr::Int(i) => Ok(Value::from(*i)),
        Expr::Call(Function::Default, args) => match eval(&args[0], vars) {
            Err(EvalError::Missing(_)) => eval(&args[1], vars),
            other => other,
        },
        Expr::Call(func, args) => {
            let args = args
                .iter()
                .map(|a| eval(a, vars))
                .collect::<Result<Vec<_>, _>>()?;
            call(*func, &args)
        }
    }
}

/// Largest string `repeat` produces (16 MiB).
const MAX_REPEAT_BYTES: usize = 16 << 20;

fn call(func: Function, args: &[Value]) -> Result<Value, EvalError> {
    let text = |i: usize| value_to_text(&args[i]);
    let fail = |reason: String| EvalError::Function {
        function: func.name(),
        reason,
    };
    let count = |i: usize| -> Result<usize, EvalError> {
        match &args[i] {
            Value::Number(n) => n
                .as_u64()
                .and_then(|n| usize::try_from(n).ok())
                .filter(|n| *n <= 65_536)
                .ok_or_else(|| fail(format!("{n} is not a count up to 65536"))),
            other => Err(fail(format!("{other} is not a number"))),
        }
    };
    Ok(Value::String(match func {
        Function::S256 => pkce::s256_challenge(&text(0)),
        Function::Random => pkce::random_token(count(0)?),
        Function::Repeat => {
            // Bound the result, not just the count: nested repeats multiply
            // (`repeat(repeat(x, 65536), 65536)` would ask for gigabytes).
            let (text, n) = (text(0), count(1)?);
            if text.len().saturating_mul(n) > MAX_REPEAT_BYTES {
                return Err(fail(format!(
                    "the result would exceed {MAX_REPEAT_BYTES} bytes"
                )));
            }
            text.repeat(n)
        }
        Function::Flip => jwt::flip_one_char(&text(0)),
        Function::JwtAlgNone => jwt::with_alg_none(&text(0)).map_err(|e| fail(e.to_string()))?,
        Function::JwtWithClaim => {
            let (name, value) = (text(1), args[2].clone());
            jwt::with_claims(&text(0), |claims| {
                claims.insert(name, value);
            })
            .map_err(|e| fail(e.to_string()))?
        }
        Function::JwtForeign => {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or_default();
            jwt::sign_es256_with_fresh_key(&serde_json::json!({
                "iss": "https://mcp-conform.invalid",
                "sub": "mcp-conform-forged",
                "aud": text(0),
                "iat": now,
                "exp": now + 3600,
                "scope": "mcp:tools",
                "client_id": "mcp-conform-forged",
                "jti": pkce::random_token(16),
            }))
        }
        Function::JwtClaim => {
            let decoded = jwt::decode_unverified(&text(0)).map_err(|e| fail(e.to_string()))?;
            return decoded
                .claims
                .get(text(1))
                .cloned()
                .ok_or_else(|| fail(format!("the token has no claim {:?}", text(1))));
        }
        Function::Basic => format!("Basic {}", form::basic_credentials(&text(0), &text(1))),
        Function::UrlEncode => form::encode(&[("", text(0))])
            .trim_start_matches('=')
            .to_owned(),
        Function::Upper => text(0).to_uppercase(),
        Function::Concat => text(0) + &text(1),
        Function::Origin => url::Url::parse(&text(0))
            .map(|u| u.origin().ascii_serialization())
            .map_err(|e| fail(e.to_string()))?,
        Function::Path => url::Url::parse(&text(0))
            .map(|u| u.path().trim_end_matches('/').to_owned())
            .map_err(|e| fail(e.to_string()))?,
        Function::SegmentPrefix => {
            crate::core::url_canon::is_segment_prefix(&text(0), &text(1)).to_string()
        }
        // Evaluated lazily in `eval`; here both arguments are set.
        Function::Default => return Ok(args[0].clone()),
        Function::Scheme => url::Url::parse(&text(0))
            .map(|u| u.scheme().to_owned())
            .map_err(|e| fail(e.to_string()))?,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    struct Map(HashMap<&'static str, Value>);
    impl Vars for Map {
        fn lookup(&self, path: &[String]) -> Option<Value> {
            self.0.get(path.join(".").as_str()).cloned()
        }
    }

    fn vars() -> Map {
        Map(HashMap::from([
            ("a.b", Value::from("x")),
            ("n", Value::from(3)),
            (
                "v",
                Value::from("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            ),
        ]))
    }

    #[test]
    fn renders_literals_paths_and_calls() {
        let t = Template::parse("pre {{ a.b }} {{ repeat(\"ab\", n) }} post").unwrap();
        assert_eq!(t.render(&vars()).unwrap(), "pre x ababab post");
        let t = Template::parse("{{ s256(v) }}").unwrap();
        assert_eq!(
            t.render(&vars()).unwrap(),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn default_path_and_segment_prefix() {
        let t = Template::parse("{{ default(nope.x, a.b) }}|{{ default(a.b, nope) }}").unwrap();
        assert_eq!(t.render(&vars()).unwrap(), "x|x");
        let t =
            Template::parse("{{ path(\"https://h/mcp/\") }}|{{ path(\"https://h\") }}").unwrap();
        assert_eq!(t.render(&vars()).unwrap(), "/mcp|");
        let t = Template::parse(
            "{{ segment_prefix(\"https://h/mcp\", \"https://h/mcp/x\") }} {{ segment_prefix(\"https://h/mc\", \"https://h/mcp\") }}",
        )
        .unwrap();
        assert_eq!(t.render(&vars()).unwrap(), "true false");
    }

    #[test]
    fn single_expression_keeps_type() {
        let t = Template::parse("{{ n }}").unwrap();
        assert_eq!(t.render_value(&vars()).unwrap(), Value::from(3));
    }

    #[test]
    fn missing_variable_is_an_eval_error() {
        let t = Template::parse("{{ nope.x }}").unwrap();
        assert_eq!(t.render(&vars()), Err(EvalError::Missing("nope.x".into())));
    }

    /// Found while fuzzing the `template` target: nested repeats asked
    /// for 16 GiB (`repeat` bounded its count, not its result).
    #[test]
    fn regression_template_nested_repeat_exhausts_memory() {
        let t = Template::parse(r#"{{ repeat(repeat("aaaa", 65536), 65536) }}"#).unwrap();
        assert!(matches!(
            t.render(&vars()),
            Err(EvalError::Function {
                function: "repeat",
                ..
            })
        ));
        let ok = Template::parse(r#"{{ repeat(repeat("a", 1024), 1024) }}"#).unwrap();
        assert_eq!(ok.render(&vars()).map(|s| s.len()), Ok(1 << 20));
    }

    /// Found while fuzzing the `template` target: deeply nested calls
    /// overflowed the stack of the recursive parser.
    #[test]
    fn regression_template_deep_nesting_overflows_stack() {
        let n = 100_000;
        let text = format!("{{{{ {}\"a\"{} }}}}", "upper(".repeat(n), ")".repeat(n));
        assert!(matches!(
            Template::parse(&text),
            Err(TemplateError::Syntax(_))
        ));
        let fine = format!("{{{{ {}\"a\"{} }}}}", "upper(".repeat(32), ")".repeat(32));
        assert_eq!(
            Template::parse(&fine).unwrap().render(&vars()),
            Ok("A".into())
        );
    }

    #[test]
    fn parse_errors_are_precise() {
        assert_eq!(Template::parse("a {{ b"), Err(TemplateError::Unclosed(2)));
        assert!(matches!(
            Template::parse("{{ s265(x) }}"),
            Err(TemplateError::UnknownFunction {
                suggest: Some("s256"),
                ..
            })
        ));
        assert!(matches!(
            Template::parse("{{ s256(x, y) }}"),
            Err(TemplateError::Arity {
                expected: 1,
                got: 2,
                ..
            })
        ));
        assert!(Template::parse("{{ a..b }}").is_err());
    }
}
