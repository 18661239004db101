//! Shrinking a failing case to a minimal one that still breaks the same
//! invariant.
//!
//! Greedy, in the order that removes the most first: drop one query
//! parameter, header, form pair or JSON member/element at a time; then
//! simplify values (a string to its first half or to nothing, a number to
//! 0, a container to an empty one). A candidate replaces the current case
//! only when re-sending it breaks the same invariant, so the result is
//! always a real reproducer. Placeholders (`{{token}}`, ...) are never cut
//! into, and the attempts are bounded.

use std::future::Future;

use serde_json::Value;

use super::{Body, Case};

/// Every one-step simplification of `case`, most aggressive first.
pub fn candidates(case: &Case) -> Vec<Case> {
    let mut out = Vec::new();
    for i in 0..case.query.len() {
        let mut c = case.clone();
        c.query.remove(i);
        out.push(c);
    }
    for i in 0..case.headers.len() {
        let mut c = case.clone();
        c.headers.remove(i);
        out.push(c);
    }
    match &case.body {
        Body::Empty => {}
        Body::Form(pairs) => {
            for i in 0..pairs.len() {
                let mut p = pairs.clone();
                p.remove(i);
                out.push(with_body(case, Body::Form(p)));
            }
        }
        Body::Json(v) => {
            for smaller in json_removals(v) {
                out.push(with_body(case, Body::Json(smaller)));
            }
        }
        Body::Raw(s) => {
            if !s.is_empty() {
                out.push(with_body(case, Body::Raw(String::new())));
            }
        }
    }
    // Simplifications.
    for i in 0..case.query.len() {
        for s in shorter(&case.query[i].1) {
            let mut c = case.clone();
            c.query[i].1 = s;
            out.push(c);
        }
    }
    for i in 0..case.headers.len() {
        for s in shorter(&case.headers[i].1) {
            let mut c = case.clone();
            c.headers[i].1 = s;
            out.push(c);
        }
    }
    match &case.body {
        Body::Form(pairs) => {
            for i in 0..pairs.len() {
                for s in shorter(&pairs[i].1) {
                    let mut p = pairs.clone();
                    p[i].1 = s;
                    out.push(with_body(case, Body::Form(p)));
                }
            }
        }
        Body::Json(v) => {
            for simpler in json_simplifications(v) {
                out.push(with_body(case, Body::Json(simpler)));
            }
        }
        Body::Raw(s) => {
            for t in shorter(s) {
                out.push(with_body(case, Body::Raw(t)));
            }
        }
        Body::Empty => {}
    }
    out
}

fn with_body(case: &Case, body: Body) -> Case {
    let mut c = case.clone();
    c.body = body;
    c
}

/// Shorter versions of `s`: empty, its first half, without its last
/// character. Strings holding a placeholder are left alone.
pub fn shorter(s: &str) -> Vec<String> {
    if s.is_empty() || s.contains("{{") {
        return Vec::new();
    }
    let chars: Vec<char> = s.chars().collect();
    let mut out = vec![String::new()];
    if chars.len() >= 2 {
        out.push(chars[..chars.len() / 2].iter().collect());
    }
    if chars.len() >= 3 && chars.len() <= 64 {
        out.push(chars[..chars.len() - 1].iter().collect());
    }
    out
}

/// `v` with one member or element removed, anywhere in the tree.
fn json_removals(v: &Value) -> Vec<Value> {
    let mut out = Vec::new();
    match v {
        Value::Object(m) => {
            for k in m.keys() {
                let mut n = m.clone();
                n.remove(k);
                out.push(Value::Object(n));
            }
            for (k, child) in m {
                for smaller in json_removals(child) {
                    let mut n = m.clone();
                    n.insert(k.clone(), smaller);
                    out.push(Value::Object(n));
                }
            }
        }
        Value::Array(a) => {
            if a.len() > 8 {
                // Long arrays: halve first, or shrinking takes forever.
                out.push(Value::Array(a[..a.len() / 2].to_vec()));
            }
            for i in 0..a.len().min(16) {
                let mut n = a.clone();
                n.remove(i);
                out.push(Value::Array(n));
            }
            for (i, child) in a.iter().enumerate().take(16) {
                for smaller in json_removals(child) {
                    let mut n = a.clone();
                    n[i] = smaller;
                    out.push(Value::Array(n));
                }
            }
        }
        _ => {}
    }
    out
}

/// `v` with one value made simpler, anywhere in the tree.
fn json_simplifications(v: &Value) -> Vec<Value> {
    let mut out = Vec::new();
    match v {
        Value::String(s) => out.extend(shorter(s).into_iter().map(Value::from)),
        Value::Number(n) if n.as_i64() != Some(0) => out.push(Value::from(0)),
        Value::Bool(true) => out.push(Value::Bool(false)),
        Value::Object(m) => {
            for (k, child) in m {
                for simpler in json_simplifications(child) {
                    let mut n = m.clone();
                    n.insert(k.clone(), simpler);
                    out.push(Value::Object(n));
                }
            }
        }
        Value::Array(a) => {
            for (i, child) in a.iter().enumerate().take(16) {
                for simpler in json_simplifications(child) {
                    let mut n = a.clone();
                    n[i] = simpler;
                    out.push(Value::Array(n));
                }
            }
        }
        _ => {}
    }
    out
}

/// Shrinks `case`: `still_fails` re-sends a candidate and says whether it
/// breaks the same invariant. At most `max_attempts` candidates are tried.
/// Returns the smallest case found and the number of attempts made.
pub async fn shrink<F, Fut>(case: Case, max_attempts: usize, mut still_fails: F) -> (Case, usize)
where
    F: FnMut(Case) -> Fut,
    Fut: Future<Output = bool>,
{
    let mut current = case;
    let mut attempts = 0;
    'outer: while attempts < max_attempts {
        for candidate in candidates(&current) {
            if attempts >= max_attempts {
                break 'outer;
            }
            attempts += 1;
            if still_fails(candidate.clone()).await {
                current = candidate;
                continue 'outer;
            }
        }
        break;
    }
    (current, attempts)
}

#[cfg(test)]
mod tests {
    use super::super::{Endpoint, Prep, Surface};
    use super::*;
    use serde_json::json;

    fn case(body: Body) -> Case {
        Case {
            surface: Surface::Dcr,
            family: "test",
            endpoint: Endpoint::Register,
            method: "POST".into(),
            url: "http://127.0.0.1:9/register".into(),
            query: vec![("a".into(), "1".into())],
            headers: vec![
                ("content-type".into(), "application/json".into()),
                ("x-noise".into(), "noise".into()),
            ],
            body,
            prep: Prep::None,
        }
    }

    fn block_on<F: Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn shrinks_to_the_member_that_matters() {
        let start = case(Body::Json(json!({
            "redirect_uris": ["http://127.0.0.1/cb", "javascript:alert(1)"],
            "client_name": "a long name that does not matter",
            "grant_types": ["authorization_code"],
        })));
        // "Fails" while the body still holds a javascript: URI and the JSON
        // content type is sent.
        let (small, attempts) = block_on(shrink(start, 500, |c: Case| async move {
            let json_ct = c
                .headers
                .iter()
                .any(|(n, v)| n == "content-type" && v == "application/json");
            let Body::Json(v) = &c.body else { return false };
            json_ct && v.to_string().contains("javascript:")
        }));
        assert!(attempts < 500);
        assert!(small.query.is_empty());
        assert_eq!(
            small.headers,
            vec![("content-type".to_owned(), "application/json".to_owned())]
        );
        match small.body {
            Body::Json(v) => assert_eq!(v, json!({"redirect_uris": ["javascript:"]})),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn keeps_the_case_when_nothing_smaller_fails() {
        let start = case(Body::Form(vec![("code".into(), "{{code}}".into())]));
        let (same, _) = block_on(shrink(start.clone(), 100, |_| async { false }));
        assert_eq!(format!("{same:?}"), format!("{start:?}"));
    }

    #[test]
    fn placeholders_are_never_cut() {
        assert!(shorter("Bearer {{token}}").is_empty());
        assert_eq!(shorter("abcd"), vec!["", "ab", "abc"]);
    }

    #[test]
    fn attempts_are_bounded() {
        let members: serde_json::Map<String, Value> =
            (0..50).map(|i| (format!("m{i}"), json!(i))).collect();
        let start = case(Body::Json(Value::Object(members)));
        let (_, attempts) = block_on(shrink(start, 7, |_| async { true }));
        assert_eq!(attempts, 7);
    }
}
