//! Client ID metadata documents served by the run itself (CIMD, requirements
//! §3.2), on the loopback listener that also receives redirects.
//!
//! A real AS fetches documents from a public HTTPS host, which a test run
//! cannot offer; an AS in development mode on the same machine may fetch
//! `http://127.0.0.1` documents (the reference server does with
//! `--allow-http-cimd`). Where the target declares it can (`cimd_loopback`
//! in the profile, always for the embedded server), the CIMD checks run
//! against these documents, and the fetch log shows what the AS requested.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use serde_json::json;

/// How many times each document was fetched, by case name.
#[derive(Debug, Clone, Default)]
pub struct FetchLog(Arc<Mutex<BTreeMap<String, u64>>>);

impl FetchLog {
    fn record(&self, case: &str) {
        if let Ok(mut log) = self.0.lock() {
            *log.entry(case.to_owned()).or_default() += 1;
        }
    }

    /// Fetch counts, every known case included (0 when never fetched).
    pub fn counts(&self) -> serde_json::Value {
        let log = self.0.lock().map(|l| l.clone()).unwrap_or_default();
        let mut out = serde_json::Map::new();
        for case in CASES {
            out.insert(
                (*case).to_owned(),
                json!(log.get(*case).copied().unwrap_or(0)),
            );
        }
        serde_json::Value::Object(out)
    }
}

/// The documents served, by case name (`/cimd/<case>.json`).
pub const CASES: &[&str] = &[
    "ok",
    "ok-cached",
    "mismatch",
    "missing-redirect-uris",
    "missing-client-name",
    "not-json",
    "redirect",
    "redirect-target",
    "not-found",
    "server-error",
    "secret-auth",
    "other-redirect",
];

/// A raw HTTP response.
pub struct Served {
    pub status: &'static str,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
}

/// The response for `path` (below the listener's origin `base`), or `None`
/// when the path is not a document of ours. Each case exercises one CIMD
/// rule; the redirect URI in the documents is the run's `redirect_uri`.
pub fn serve(path: &str, base: &str, redirect_uri: &str, log: &FetchLog) -> Option<Served> {
    let case = path
        .strip_prefix("/cimd/")?
        .split('?')
        .next()?
        .strip_suffix(".json")?;
    if !CASES.contains(&case) {
        return None;
    }
    log.record(case);
    let url = format!("{base}/cimd/{case}.json");
    let doc = |client_id: &str| {
        json!({
            "client_id": client_id,
            "client_name": "mcp-conform",
            "redirect_uris": [redirect_uri],
            "grant_types": ["authorization_code"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "none",
        })
    };
    let json_ok = |v: serde_json::Value| Served {
        status: "200 OK",
        headers: vec![("content-type", "application/json".into())],
        body: v.to_string(),
    };
    let drop_member = |name: &str| {
        let mut d = doc(&url);
        if let Some(o) = d.as_object_mut() {
            o.remove(name);
        }
        json_ok(d)
    };
    Some(match case {
        "ok" => json_ok(doc(&url)),
        "ok-cached" => {
            let mut s = json_ok(doc(&url));
            s.headers.push(("cache-control", "max-age=600".into()));
            s
        }
        // The document names another URL than the one it is served at.
        "mismatch" => json_ok(doc(&format!("{base}/cimd/other.json"))),
        "missing-redirect-uris" => drop_member("redirect_uris"),
        "missing-client-name" => drop_member("client_name"),
        "not-json" => Served {
            status: "200 OK",
            headers: vec![("content-type", "application/json".into())],
            body: "this is not JSON".into(),
        },
        // Only a 200 counts; redirects must not be followed (CIMD §4): the
        // target would serve a valid document for the redirecting URL.
        "redirect" => Served {
            status: "302 Found",
            headers: vec![("location", format!("{base}/cimd/redirect-target.json"))],
            body: String::new(),
        },
        "redirect-target" => json_ok(doc(&format!("{base}/cimd/redirect.json"))),
        "not-found" => Served {
            status: "404 Not Found",
            headers: vec![],
            body: String::new(),
        },
        "server-error" => Served {
            status: "500 Internal Server Error",
            headers: vec![],
            body: String::new(),
        },
        "secret-auth" => {
            let mut d = doc(&url);
            d["token_endpoint_auth_method"] = json!("client_secret_basic");
            json_ok(d)
        }
        // A valid document whose only redirect URI is another path than R.
        _ => {
            let mut d = doc(&url);
            d["redirect_uris"] = json!([redirect_uri.replace("/callback", "/elsewhere")]);
            json_ok(d)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serves_known_cases_and_logs_fetches() {
        let log = FetchLog::default();
        let s = serve(
            "/cimd/ok.json",
            "http://127.0.0.1:1",
            "http://127.0.0.1:1/callback",
            &log,
        )
        .unwrap();
        assert_eq!(s.status, "200 OK");
        assert!(s.body.contains("http://127.0.0.1:1/cimd/ok.json"));
        assert!(serve("/cimd/nope.json", "b", "r", &log).is_none());
        assert!(serve("/callback?code=x", "b", "r", &log).is_none());
        assert_eq!(log.counts()["ok"], 1);
        assert_eq!(log.counts()["redirect-target"], 0);
    }
}
