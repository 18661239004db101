//! Judging a step's outcome against its `expect` blocks.
//!
//! Every assertion is evaluated, not just up to the first failure, and each
//! failure says what was expected and what was seen. Values that may be
//! secrets (tokens, codes, anything under a secret-named key) are shown as
//! fingerprints when the failure is built.

use regex::Regex;
use serde_json::Value;

use crate::core::redact::{self, SECRET_KEYS};
use crate::core::{jwt, www_authenticate};
use crate::scenario::plan::{Assert, Expect};
use crate::scenario::template::Template;

use super::actions::Outcome;
use super::results::AssertFailure;
use super::vars::VarStore;

/// Evaluates one `expect` block; returns the failures (empty: all passed).
pub fn evaluate(expect: &Expect, outcome: &Outcome, vars: &VarStore) -> Evaluation {
    // The step's own capture is readable by its asserts.
    let mut out = Evaluation::default();
    for a in &expect.asserts {
        let Err((assertion, expected, actual)) = check(a, outcome, vars) else {
            continue;
        };
        if expected == CANNOT_EVALUATE {
            out.inconclusive.push(format!("{assertion}: {actual}"));
            continue;
        }
        out.failures.push(AssertFailure {
            assertion,
            expected,
            actual,
            location: expect.location.clone(),
            because: expect.because.clone(),
        });
    }
    out
}

/// What one `expect` block found.
#[derive(Debug, Default)]
pub struct Evaluation {
    pub failures: Vec<AssertFailure>,
    /// Assertions that could not be judged (a template read a value no
    /// earlier step produced): the check then ends as `error`, never as a
    /// `fail` charged to the server.
    pub inconclusive: Vec<String>,
}

/// The `expected` of a failure that is really "could not evaluate".
const CANNOT_EVALUATE: &str = "\u{0}cannot evaluate";

type Failure = (String, String, String);

fn render(t: &str, vars: &VarStore) -> Result<String, Failure> {
    Template::parse(t)
        .map_err(|e| {
            (
                format!("template {t:?}"),
                "a valid template".into(),
                e.to_string(),
            )
        })?
        .render(vars)
        .map_err(|e| {
            (
                format!("template {t:?}"),
                CANNOT_EVALUATE.into(),
                e.to_string(),
            )
        })
}

/// Renders a TOML-given expected JSON value: strings are templates.
fn expected_value(v: &Value, vars: &VarStore) -> Result<Value, Failure> {
    match v {
        Value::String(s) => Template::parse(s)
            .map_err(|e| {
                (
                    format!("template {s:?}"),
                    "a valid template".into(),
                    e.to_string(),
                )
            })?
            .render_value(vars)
            .map_err(|e| {
                (
                    format!("template {s:?}"),
                    CANNOT_EVALUATE.into(),
                    e.to_string(),
                )
            }),
        other => Ok(other.clone()),
    }
}

/// A JSON value for a message; members named like secrets are fingerprinted.
fn show(pointer: &str, v: &Value) -> String {
    let last = pointer.rsplit('/').next().unwrap_or_default();
    if SECRET_KEYS.contains(&last)
        && let Value::String(s) = v
    {
        return redact::fingerprint(s);
    }
    let shown = redact::redact_json(v, SECRET_KEYS).to_string();
    if shown.len() > 300 {
        format!("{}…", &shown[..shown.floor_char_boundary(300)])
    } else {
        shown
    }
}

fn show_opt(pointer: &str, v: Option<&Value>) -> String {
    v.map(|v| show(pointer, v))
        .unwrap_or_else(|| "nothing".into())
}

fn status_of(outcome: &Outcome) -> Option<u16> {
    outcome.response.as_ref().map(|r| r.status)
}

fn check(a: &Assert, outcome: &Outcome, vars: &VarStore) -> Result<(), Failure> {
    let resp = outcome.response.as_ref();
    let status = status_of(outcome);
    let status_text = || {
        status
            .map(|s| s.to_string())
            .unwrap_or_else(|| "no response".into())
    };
    let header = |name: &str| resp.and_then(|r| r.header(name));
    let json = outcome.json.as_ref();
    let at = |p: &str| json.and_then(|j| j.pointer(p));
    let fail = |what: String, expected: String, actual: String| Err((what, expected, actual));
    // An assertion about the response is never true of a step that had no
    // single response (a concurrent step, a ready token, the clock): a
    // negative one ("no redirect", "header absent") would otherwise pass
    // vacuously.
    if resp.is_none() && reads_response(a) {
        return fail(
            describe_kind(a),
            "a response to judge".into(),
            "the step produced no single response".into(),
        );
    }
    match a {
        Assert::Status(want) => {
            if status == Some(*want) {
                return Ok(());
            }
            fail("status".into(), want.to_string(), status_text())
        }
        Assert::StatusIn(list) => {
            if status.is_some_and(|s| list.contains(&s)) {
                return Ok(());
            }
            fail("status".into(), format!("one of {list:?}"), status_text())
        }
        Assert::StatusNotIn(list) => {
            if status.is_some_and(|s| !list.contains(&s)) {
                return Ok(());
            }
            fail("status".into(), format!("none of {list:?}"), status_text())
        }
        Assert::StatusClass(class) => {
            if status.is_some_and(|s| s / 100 == *class) {
                return Ok(());
            }
            fail("status".into(), format!("{class}xx"), status_text())
        }
        Assert::Header(name, want) => {
            let want = render(want, vars)?;
            match header(name) {
                Some(v) if v == want => Ok(()),
                other => fail(
                    format!("header {name}"),
                    format!("{want:?}"),
                    shown_header(name, other),
                ),
            }
        }
        Assert::HeaderContains(name, want) => match header(name) {
            Some(v) if v.to_ascii_lowercase().contains(&want.to_ascii_lowercase()) => Ok(()),
            other => fail(
                format!("header {name}"),
                format!("to contain {want:?}"),
                shown_header(name, other),
            ),
        },
        Assert::HeaderPresent(name) => match header(name) {
            Some(_) => Ok(()),
            None => fail(format!("header {name}"), "present".into(), "absent".into()),
        },
        Assert::HeaderAbsent(name) => match header(name) {
            None => Ok(()),
            other => fail(
                format!("header {name}"),
                "absent".into(),
                shown_header(name, other),
            ),
        },
        Assert::Json(p, want) => {
            let want = expected_value(want, vars)?;
            let got = at(p);
            if got == Some(&want) {
                return Ok(());
            }
            fail(format!("JSON {p}"), show(p, &want), show_opt(p, got))
        }
        Assert::JsonIn(p, wants) => {
            let got = at(p);
            let wants = wants
                .iter()
                .map(|w| expected_value(w, vars))
                .collect::<Result<Vec<_>, _>>()?;
            if got.is_some_and(|g| wants.contains(g)) {
                return Ok(());
            }
            let list: Vec<String> = wants.iter().map(|w| show(p, w)).collect();
            fail(
                format!("JSON {p}"),
                format!("one of [{}]", list.join(", ")),
                show_opt(p, got),
            )
        }
        Assert::JsonPresent(p) => match at(p) {
            Some(v) if !v.is_null() => Ok(()),
            other => fail(format!("JSON {p}"), "present".into(), show_opt(p, other)),
        },
        Assert::JsonAbsent(p) => match at(p) {
            None => Ok(()),
            Some(v) => fail(format!("JSON {p}"), "absent".into(), show(p, v)),
        },
        Assert::JsonType(p, t) => match at(p) {
            Some(v) if t.matches(v) => Ok(()),
            other => fail(
                format!("JSON {p}"),
                format!("a {}", t.as_str()),
                show_opt(p, other),
            ),
        },
        Assert::JsonContains(p, want) | Assert::JsonNotContains(p, want) => {
            let want = expected_value(want, vars)?;
            let got = at(p);
            let contains = match got {
                Some(Value::Array(items)) => items.contains(&want),
                Some(Value::String(s)) => s.split(' ').any(|w| w == want),
                _ => false,
            };
            let positive = matches!(a, Assert::JsonContains(..));
            if contains == positive {
                return Ok(());
            }
            let verb = if positive {
                "to contain"
            } else {
                "not to contain"
            };
            fail(
                format!("JSON {p}"),
                format!("{verb} {}", show(p, &want)),
                show_opt(p, got),
            )
        }
        Assert::JsonObject => match json {
            Some(Value::Object(_)) => Ok(()),
            _ => {
                let body = resp.map(|r| excerpt(&r.body, 120)).unwrap_or_default();
                fail("body".into(), "a JSON object".into(), format!("{body:?}"))
            }
        },
        Assert::BodyMatches(re) | Assert::BodyNotMatches(re) => {
            let body = resp
                .map(|r| String::from_utf8_lossy(&r.body).into_owned())
                .unwrap_or_default();
            let Ok(re_c) = Regex::new(re) else {
                return fail("body".into(), format!("/{re}/"), "an invalid regex".into());
            };
            let positive = matches!(a, Assert::BodyMatches(_));
            if re_c.is_match(&body) == positive {
                return Ok(());
            }
            let shown = excerpt(body.as_bytes(), 160);
            fail(
                "body".into(),
                format!("{}matching /{re}/", if positive { "" } else { "not " }),
                format!("{shown:?}"),
            )
        }
        Assert::ValueMatches(t, re, positive) => {
            let text = render(t, vars)?;
            let Ok(re_c) = Regex::new(re) else {
                return fail(t.clone(), format!("/{re}/"), "an invalid regex".into());
            };
            if re_c.is_match(&text) == *positive {
                return Ok(());
            }
            let shown = excerpt(redact::redact_url_query(&text, SECRET_KEYS).as_bytes(), 200);
            fail(
                t.clone(),
                format!("{}matching /{re}/", if *positive { "" } else { "not " }),
                format!("{shown:?}"),
            )
        }
        Assert::ChallengeAbsent => match header("www-authenticate") {
            None => Ok(()),
            Some(v) => fail("WWW-Authenticate".into(), "absent".into(), format!("{v:?}")),
        },
        Assert::ChallengeScheme(_)
        | Assert::ChallengeHas(_)
        | Assert::ChallengeLacks(_)
        | Assert::ChallengeParam(..)
        | Assert::ChallengeWellFormed => challenge(a, resp, vars),
        Assert::RedirectNone => match redirect_location(outcome) {
            None => Ok(()),
            Some(l) => fail(
                "redirect".into(),
                "none".into(),
                redact::redact_url_query(&l, SECRET_KEYS),
            ),
        },
        Assert::RedirectTo(t) | Assert::RedirectNotTo(t) => {
            let target = render(t, vars)?;
            let loc = redirect_location(outcome);
            let goes = loc
                .as_deref()
                .is_some_and(|l| match matches!(a, Assert::RedirectTo(_)) {
                    true => super::driver::is_redirect_uri(l, &target),
                    false => redirects_under(l, &target),
                });
            let shown = loc
                .map(|l| redact::redact_url_query(&l, SECRET_KEYS))
                .unwrap_or_else(|| "no redirect".into());
            match a {
                Assert::RedirectTo(_) if goes => Ok(()),
                Assert::RedirectNotTo(_) if !goes => Ok(()),
                Assert::RedirectTo(_) => fail("redirect".into(), format!("to {target}"), shown),
                _ => fail("redirect".into(), format!("not to {target}"), shown),
            }
        }
        Assert::RedirectQuery(..)
        | Assert::RedirectQueryIn(..)
        | Assert::RedirectQueryPresent(_)
        | Assert::RedirectQueryAbsent(_)
        | Assert::RedirectQueryOnce(_)
        | Assert::RedirectNoFragment => redirect_query(a, outcome, vars),
        Assert::IfRedirected(inner) => match redirect_location(outcome) {
            None => Ok(()),
            Some(_) => check(inner, outcome, vars),
        },
        Assert::JwtClaim {
            token,
            claim,
            expected,
        } => {
            let token = render(token, vars)?;
            let want = expected_value(expected, vars)?;
            let decoded = jwt::decode_unverified(&token).map_err(|e| {
                (
                    format!("JWT claim {claim}"),
                    show("", &want),
                    format!("not a readable JWT ({e})"),
                )
            })?;
            let got = decoded.claims.get(claim);
            let matches = match got {
                Some(Value::Array(items)) => items.contains(&want) || got == Some(&want),
                g => g == Some(&want),
            };
            if matches {
                return Ok(());
            }
            fail(
                format!("JWT claim {claim}"),
                show("", &want),
                show_opt("", got),
            )
        }
        Assert::Equal(ts) | Assert::Distinct(ts) => {
            let values = ts
                .iter()
                .map(|t| render(t, vars))
                .collect::<Result<Vec<_>, _>>()?;
            let all_equal = values.windows(2).all(|w| w[0] == w[1]);
            let mut sorted = values.clone();
            sorted.sort();
            sorted.dedup();
            let all_distinct = sorted.len() == values.len();
            let shown: Vec<String> = values.iter().map(|v| redact::fingerprint(v)).collect();
            match a {
                Assert::Equal(_) if all_equal => Ok(()),
                Assert::Distinct(_) if all_distinct => Ok(()),
                Assert::Equal(_) => fail(
                    format!("{} equal", ts.join(" and ")),
                    "equal values".into(),
                    shown.join(" vs "),
                ),
                _ => fail(
                    format!("{} distinct", ts.join(" and ")),
                    "different values".into(),
                    shown.join(" vs "),
                ),
            }
        }
        Assert::CountStatus { status, equals } => {
            let n = u32::try_from(outcome.statuses.iter().filter(|s| *s == status).count())
                .unwrap_or(u32::MAX);
            if n == *equals {
                return Ok(());
            }
            fail(
                format!("responses with status {status}"),
                equals.to_string(),
                format!("{n} (statuses: {:?})", outcome.statuses),
            )
        }
        Assert::RpcResult => match json.and_then(|j| j.get("result")) {
            Some(_) => Ok(()),
            None => fail(
                "JSON-RPC result".into(),
                "a result".into(),
                show_opt("", json.and_then(|j| j.get("error")).or(json)),
            ),
        },
        Assert::RpcNoResult => match json.and_then(|j| j.get("result")) {
            None => Ok(()),
            Some(r) => fail(
                "JSON-RPC result".into(),
                "no result (no MCP data)".into(),
                show("", r),
            ),
        },
        Assert::RpcErrorCode(codes) => {
            let got = json
                .and_then(|j| j.pointer("/error/code"))
                .and_then(Value::as_i64);
            if got.is_some_and(|c| codes.contains(&c)) {
                return Ok(());
            }
            fail(
                "JSON-RPC error code".into(),
                format!("one of {codes:?}"),
                got.map(|c| c.to_string())
                    .unwrap_or_else(|| "no error".into()),
            )
        }
    }
}

/// Whether `location` points at or below `prefix`: same scheme, host and
/// effective port (compared as URLs, so case and a default port do not hide
/// it), and a path under the prefix's path.
fn redirects_under(location: &str, prefix: &str) -> bool {
    match (url::Url::parse(location), url::Url::parse(prefix)) {
        (Ok(l), Ok(p)) => {
            l.scheme() == p.scheme()
                && l.host_str() == p.host_str()
                && l.port_or_known_default() == p.port_or_known_default()
                && l.path().starts_with(p.path().trim_end_matches('/'))
        }
        _ => location
            .to_ascii_lowercase()
            .starts_with(&prefix.to_ascii_lowercase()),
    }
}

/// A body excerpt for a message, secrets redacted whatever the media type.
fn excerpt(body: &[u8], chars: usize) -> String {
    let text = redact::redact_text(&String::from_utf8_lossy(body), SECRET_KEYS);
    text.chars().take(chars).collect()
}

/// Whether the assertion judges the HTTP response (rather than captured
/// values or the statuses of a concurrent step).
fn reads_response(a: &Assert) -> bool {
    !matches!(
        a,
        Assert::Json(..)
            | Assert::JsonIn(..)
            | Assert::JsonPresent(_)
            | Assert::JsonType(..)
            | Assert::JsonContains(..)
            | Assert::JwtClaim { .. }
            | Assert::Equal(_)
            | Assert::Distinct(_)
            | Assert::CountStatus { .. }
            | Assert::ValueMatches(..)
            | Assert::RpcResult
            | Assert::RpcErrorCode(_)
    )
}

fn describe_kind(a: &Assert) -> String {
    let debug = format!("{a:?}");
    debug
        .split(['(', ' ', '{'])
        .next()
        .unwrap_or("assertion")
        .to_owned()
}

fn shown_header(name: &str, v: Option<&str>) -> String {
    match v {
        Some(v) => format!("{:?}", redact::redact_header(name, v)),
        None => "absent".into(),
    }
}

/// The absolute `Location` of a redirect response, if the response is one.
fn redirect_location(outcome: &Outcome) -> Option<String> {
    if let Some(loc) = outcome.capture.get("location").and_then(Value::as_str) {
        // `authorize` steps record where the driver landed.
        if outcome
            .response
            .as_ref()
            .is_none_or(|r| (300..400).contains(&r.status))
        {
            return Some(loc.to_owned());
        }
    }
    let r = outcome.response.as_ref()?;
    if !(300..400).contains(&r.status) {
        return None;
    }
    r.header("location").map(str::to_owned)
}

fn challenge(
    a: &Assert,
    resp: Option<&crate::http::Response>,
    vars: &VarStore,
) -> Result<(), Failure> {
    let values: Vec<&str> = resp
        .map(|r| r.headers_named("www-authenticate").collect())
        .unwrap_or_default();
    let what = "WWW-Authenticate".to_owned();
    if values.is_empty() {
        return Err((what, describe(a), "no WWW-Authenticate header".into()));
    }
    let parsed = www_authenticate::parse_all(&values).map_err(|e| {
        (
            what.clone(),
            describe(a),
            format!("unparseable header {:?}: {e}", values.join(", ")),
        )
    })?;
    if let Assert::ChallengeScheme(s) = a {
        return if parsed.iter().any(|c| c.is_scheme(s)) {
            Ok(())
        } else {
            Err((
                what,
                format!("a {s} challenge"),
                format!("{:?}", values.join(", ")),
            ))
        };
    }
    let Some(bearer) = www_authenticate::bearer(&parsed) else {
        return Err((
            what,
            "a Bearer challenge".into(),
            format!("{:?}", values.join(", ")),
        ));
    };
    let shown = || {
        format!(
            "{:?}",
            www_authenticate::render(std::slice::from_ref(bearer))
        )
    };
    match a {
        Assert::ChallengeHas(p) if bearer.param(p).is_some() => Ok(()),
        Assert::ChallengeHas(p) => Err((what, format!("parameter {p}"), shown())),
        Assert::ChallengeLacks(p) if bearer.param(p).is_none() => Ok(()),
        Assert::ChallengeLacks(p) => Err((what, format!("no parameter {p}"), shown())),
        Assert::ChallengeParam(p, want) => {
            let want = render(want, vars)?;
            if bearer.param(p) == Some(want.as_str()) {
                Ok(())
            } else {
                Err((what, format!("{p}={want:?}"), shown()))
            }
        }
        Assert::ChallengeWellFormed => {
            let v = www_authenticate::rfc6750_violations(bearer);
            if v.is_empty() {
                Ok(())
            } else {
                let list: Vec<String> = v.iter().map(|x| x.to_string()).collect();
                Err((what, "RFC 6750 §3 syntax".into(), list.join("; ")))
            }
        }
        _ => Ok(()),
    }
}

fn describe(a: &Assert) -> String {
    match a {
        Assert::ChallengeScheme(s) => format!("a {s} challenge"),
        Assert::ChallengeHas(p) => format!("parameter {p}"),
        Assert::ChallengeLacks(p) => format!("no parameter {p}"),
        Assert::ChallengeParam(p, v) => format!("{p}={v:?}"),
        _ => "a well-formed challenge".into(),
    }
}

fn redirect_query(a: &Assert, outcome: &Outcome, vars: &VarStore) -> Result<(), Failure> {
    let Some(loc) = redirect_location(outcome) else {
        return Err((
            "redirect".into(),
            "a redirect".into(),
            format!(
                "status {}",
                status_of(outcome)
                    .map(|s| s.to_string())
                    .unwrap_or_default()
            ),
        ));
    };
    let url = url::Url::parse(&loc)
        .map_err(|e| ("redirect".into(), "an absolute URL".into(), e.to_string()))?;
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let shown = |k: &str| match get(k) {
        Some(v) if SECRET_KEYS.contains(&k) => redact::fingerprint(v),
        Some(v) => format!("{v:?}"),
        None => "absent".into(),
    };
    let what = |k: &str| format!("redirect parameter {k}");
    match a {
        Assert::RedirectQuery(k, want) => {
            let want = render(want, vars)?;
            if get(k) == Some(want.as_str()) {
                Ok(())
            } else {
                Err((what(k), format!("{want:?}"), shown(k)))
            }
        }
        Assert::RedirectQueryIn(k, wants) => {
            if get(k).is_some_and(|v| wants.iter().any(|w| w == v)) {
                Ok(())
            } else {
                Err((what(k), format!("one of {wants:?}"), shown(k)))
            }
        }
        Assert::RedirectQueryPresent(k) => {
            if get(k).is_some() {
                Ok(())
            } else {
                Err((what(k), "present".into(), "absent".into()))
            }
        }
        Assert::RedirectQueryAbsent(k) => {
            if get(k).is_none() {
                Ok(())
            } else {
                Err((what(k), "absent".into(), shown(k)))
            }
        }
        Assert::RedirectQueryOnce(k) => {
            let n = pairs.iter().filter(|(n, _)| n == k).count();
            if n == 1 {
                Ok(())
            } else {
                Err((what(k), "exactly once".into(), format!("{n} times")))
            }
        }
        Assert::RedirectNoFragment => match url.fragment() {
            None | Some("") => Ok(()),
            Some(f) => Err((
                "redirect fragment".into(),
                "empty".into(),
                redact::redact_form_body(f, SECRET_KEYS),
            )),
        },
        _ => Ok(()),
    }
}
