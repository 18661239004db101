//! Invariants of the strict server under generated request sequences, at
//! the HTTP level:
//!
//! - no sequence of requests makes it panic (the connection would drop) or
//!   answer 500;
//! - a registration with an unsafe redirect URI never succeeds, and every
//!   registration that does succeed echoes only safe redirect URIs.
//!
//! Requests come from a small grammar of endpoints, methods, headers and
//! bodies. Bodies and queries may name values an earlier response gave
//! (`{client_id}`, `{code}`, `{token}`, `{refresh}`, `{session}`), so a
//! sequence can register, authorize, exchange, refresh, open an MCP
//! session and call tools, and then misbehave in every order. Each case
//! runs against a fresh server, some with tiny storage limits so the
//! capacity paths run too.

use std::sync::OnceLock;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use mcp_reference_server::config::{Config, Fault, Limits};
use mcp_reference_server::start;
use proptest::prelude::*;
use proptest::sample::select;
use reqwest::Method;
use serde_json::Value;
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;
use url::{Host, Url};

const SAFE_REDIRECTS: &[&str] = &[
    "http://127.0.0.1:5555/callback",
    "http://localhost:5555/cb",
    "http://[::1]/cb",
    "https://client.example/cb?x=1",
];

const UNSAFE_REDIRECTS: &[&str] = &[
    "https://client.example/cb#frag",
    "https://client.example/cb#",
    "javascript:alert(1)",
    "JavaScript:alert(document.cookie)//https://client.example",
    "data:text/html,<script>alert(1)</script>",
    "file:///etc/passwd",
    "http://evil.example/cb",
    "http://127.0.0.2/cb",
    "http://localhost.evil.example/cb",
    "https://user:pass@client.example/cb",
    "https://client.example/c b",
    "/relative/cb",
    "custom-scheme:/cb",
    "",
];

const PATHS: &[&str] = &[
    "/mcp",
    "/mcp-alt",
    "/register",
    "/token",
    "/authorize",
    "/revoke",
    "/jwks",
    "/.well-known/oauth-authorization-server",
    "/.well-known/openid-configuration",
    "/.well-known/oauth-protected-resource",
    "/.well-known/oauth-protected-resource/mcp",
    "/.well-known/oauth-protected-resource/mcp-alt",
    "/nowhere",
];

const QUERIES: &[&str] = &[
    "",
    "response_type=code&client_id={client_id}&redirect_uri={redirect}&code_challenge={challenge}&code_challenge_method=S256&state=s&resource={resource}&scope=mcp%3Atools",
    "response_type=code&client_id={client_id}&redirect_uri={redirect}&code_challenge={challenge}",
    "response_type=code&client_id={client_id}&redirect_uri={redirect}&code_challenge={challenge}&code_challenge_method=plain",
    "response_type=code&client_id={client_id}&redirect_uri=https%3A%2F%2Fevil.example%2Fcb&code_challenge={challenge}",
    "response_type=token&client_id={client_id}&redirect_uri={redirect}",
    "response_type=code&client_id={client_id}&client_id=x&redirect_uri={redirect}",
    "response_type=code&client_id=https%3A%2F%2F127.0.0.1%2Fcimd.json&redirect_uri={redirect}&code_challenge={challenge}",
    "client_id=%zz",
    "scope=mcp%3Aadmin&client_id={client_id}&response_type=code&redirect_uri={redirect}&code_challenge={challenge}",
];

const BODIES: &[&str] = &[
    "",
    "{",
    "[]",
    "null",
    r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"p","version":"0"}}}"#,
    r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
    r#"{"jsonrpc":"2.0","id":"t","method":"tools/list"}"#,
    r#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"get_weather","arguments":{"city":"Paris"}}}"#,
    r#"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"list_files","arguments":{"path":"../../etc"}}}"#,
    r#"{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"get_user_profile","arguments":{}}}"#,
    r#"{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"nope","arguments":7}}"#,
    r#"[{"jsonrpc":"2.0","id":1,"method":"ping"},{"jsonrpc":"2.0","method":"x"}]"#,
    r#"{"jsonrpc":"2.0","id":null,"method":"ping"}"#,
    r#"{"jsonrpc":"1.0","id":1e400,"method":"ping"}"#,
    r#"{"jsonrpc":"2.0","id":9,"result":{}}"#,
    "grant_type=authorization_code&code={code}&redirect_uri={redirect}&code_verifier={verifier}&client_id={client_id}&resource={resource}",
    "grant_type=authorization_code&code={code}&redirect_uri={redirect}&code_verifier=wrong-verifier-wrong-verifier-wrong-verifier&client_id={client_id}",
    "grant_type=authorization_code&code={code}&code={code}&client_id={client_id}",
    "grant_type=refresh_token&refresh_token={refresh}&client_id={client_id}",
    "grant_type=refresh_token&refresh_token={refresh}&client_id={client_id}&scope=mcp%3Aadmin&resource={resource}",
    "grant_type=client_credentials&client_id={client_id}",
    "grant_type=password&username=a&password=b",
    "token={token}&token_type_hint=access_token&client_id={client_id}",
    "token={refresh}&client_id={client_id}",
    "grant_type=%E2%82&code=%",
    r#"{"client_id":"x","redirect_uris":"not a list"}"#,
    r#"{"redirect_uris":["http://127.0.0.1:5555/callback"],"grant_types":["refresh_token"],"response_types":[]}"#,
];

/// Where a body or query goes and how it is dressed.
#[derive(Debug, Clone)]
struct Step {
    method: Method,
    path: &'static str,
    query: &'static str,
    body: Body,
    content_type: Option<&'static str>,
    auth: Auth,
    session: bool,
    origin: Option<&'static str>,
    protocol_version: Option<&'static str>,
    accept: Option<&'static str>,
}

#[derive(Debug, Clone)]
enum Body {
    Template(&'static str),
    /// A registration request built from chosen redirect URIs (safe ones
    /// and unsafe ones mixed) and an auth method.
    Register {
        redirect_uris: Vec<&'static str>,
        auth_method: Option<&'static str>,
    },
    Bytes(Vec<u8>),
}

#[derive(Debug, Clone)]
enum Auth {
    None,
    Token,
    Refresh,
    Raw(&'static str),
    Basic,
}

fn method() -> impl Strategy<Value = Method> {
    select(vec![
        Method::GET,
        Method::POST,
        Method::POST,
        Method::POST,
        Method::DELETE,
        Method::OPTIONS,
        Method::PUT,
    ])
}

fn body() -> impl Strategy<Value = Body> {
    let redirect = select(
        SAFE_REDIRECTS
            .iter()
            .chain(UNSAFE_REDIRECTS)
            .copied()
            .collect::<Vec<_>>(),
    );
    prop_oneof![
        4 => select(BODIES).prop_map(Body::Template),
        3 => (
            proptest::collection::vec(redirect, 0..4),
            select(vec![None, Some("none"), Some("client_secret_basic"), Some("client_secret_post"), Some("private_key_jwt")]),
        )
            .prop_map(|(redirect_uris, auth_method)| Body::Register { redirect_uris, auth_method }),
        1 => proptest::collection::vec(any::<u8>(), 0..48).prop_map(Body::Bytes),
    ]
}

fn auth() -> impl Strategy<Value = Auth> {
    prop_oneof![
        3 => Just(Auth::None),
        4 => Just(Auth::Token),
        1 => Just(Auth::Refresh),
        1 => Just(Auth::Basic),
        2 => select(vec![
            "Bearer",
            "Bearer ",
            "Bearer a b",
            "bearer eyJhbGciOiJub25lIn0.eyJhdWQiOiJ4In0.",
            "Basic Og==",
            "Bearer =====",
            "Bearer not.a.jwt",
            "DPoP abc",
        ])
        .prop_map(Auth::Raw),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    (
        (method(), select(PATHS), select(QUERIES), body()),
        (
            select(vec![
                None,
                Some("application/json"),
                Some("application/x-www-form-urlencoded"),
                Some("text/plain"),
                Some("application/json; charset=utf-8"),
            ]),
            auth(),
            any::<bool>(),
            select(vec![
                None,
                Some("http://evil.example"),
                Some("null"),
                Some("http://localhost:1"),
            ]),
            select(vec![
                None,
                Some("2025-11-25"),
                Some("2025-06-18"),
                Some("1999-01-01"),
            ]),
            select(vec![
                None,
                Some("application/json, text/event-stream"),
                Some("text/event-stream"),
                Some("application/json"),
                Some("text/html"),
            ]),
        ),
    )
        .prop_map(
            |(
                (method, path, query, body),
                (content_type, auth, session, origin, protocol_version, accept),
            )| Step {
                method,
                path,
                query,
                body,
                content_type,
                auth,
                session,
                origin,
                protocol_version,
                accept,
            },
        )
}

/// Values the sequence has obtained so far.
#[derive(Default)]
struct Captured {
    client_id: String,
    client_secret: String,
    code: String,
    token: String,
    refresh: String,
    session: String,
}

fn form_escape(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn is_safe_redirect(raw: &str) -> bool {
    let Ok(url) = Url::parse(raw) else {
        return false;
    };
    if raw.contains('#') || !url.username().is_empty() || url.password().is_some() {
        return false;
    }
    match url.scheme() {
        "https" => url.host_str().is_some_and(|h| !h.is_empty()),
        "http" => match url.host() {
            Some(Host::Ipv4(ip)) => ip.octets() == [127, 0, 0, 1],
            Some(Host::Ipv6(ip)) => ip.is_loopback(),
            Some(Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
            None => false,
        },
        _ => false,
    }
}

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a tokio runtime")
    })
}

async fn run_sequence(
    steps: Vec<Step>,
    tiny_limits: bool,
    faults: &[Fault],
) -> Result<Captured, TestCaseError> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut config = Config {
        faults: faults.iter().copied().collect(),
        ..Config::default()
    };
    if tiny_limits {
        config.limits = Limits {
            max_clients: 2,
            max_codes: 2,
            max_refresh_tokens: 2,
            max_sessions: 1,
            max_body_bytes: 512,
            max_header_bytes: 1024,
        };
    }
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = start(listener, config).await.unwrap();
    let origin = server.state.urls.origin.clone();
    let resource = server.state.urls.mcp.clone();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .build()
        .unwrap();
    let verifier = URL_SAFE_NO_PAD.encode([7u8; 32]);
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    let mut got = Captured::default();

    for (i, step) in steps.iter().enumerate() {
        let fill = |template: &str, got: &Captured| {
            template
                .replace("{client_id}", &form_escape(&got.client_id))
                .replace("{code}", &form_escape(&got.code))
                .replace("{token}", &form_escape(&got.token))
                .replace("{refresh}", &form_escape(&got.refresh))
                .replace("{redirect}", &form_escape(SAFE_REDIRECTS[0]))
                .replace("{resource}", &form_escape(&resource))
                .replace("{verifier}", &verifier)
                .replace("{challenge}", &challenge)
        };
        let mut url = format!("{origin}{}", step.path);
        let query = fill(step.query, &got);
        if !query.is_empty() {
            url = format!("{url}?{query}");
        }
        let mut unsafe_registration = false;
        let body: Vec<u8> = match &step.body {
            Body::Template(t) => fill(t, &got).into_bytes(),
            Body::Bytes(b) => b.clone(),
            Body::Register {
                redirect_uris,
                auth_method,
            } => {
                unsafe_registration = redirect_uris.iter().any(|u| !is_safe_redirect(u));
                let mut obj = serde_json::json!({
                    "redirect_uris": redirect_uris,
                    "client_name": "proptest",
                });
                if let Some(m) = auth_method {
                    obj["token_endpoint_auth_method"] = (*m).into();
                }
                obj.to_string().into_bytes()
            }
        };
        let mut req = http.request(step.method.clone(), &url).body(body);
        if let Some(ct) = step.content_type {
            req = req.header("content-type", ct);
        }
        match &step.auth {
            Auth::None => {}
            Auth::Token => req = req.header("authorization", format!("Bearer {}", got.token)),
            Auth::Refresh => req = req.header("authorization", format!("Bearer {}", got.refresh)),
            Auth::Raw(v) => req = req.header("authorization", *v),
            Auth::Basic => req = req.basic_auth(&got.client_id, Some(&got.client_secret)),
        }
        if step.session {
            req = req.header("mcp-session-id", &got.session);
        }
        if let Some(o) = step.origin {
            req = req.header("origin", o);
        }
        if let Some(v) = step.protocol_version {
            req = req.header("mcp-protocol-version", v);
        }
        if let Some(a) = step.accept {
            req = req.header("accept", a);
        }

        let response = match req.send().await {
            Ok(r) => r,
            Err(e) => {
                return Err(TestCaseError::fail(format!(
                    "step {i} {} {url}: no response (a panic drops the connection): {e}",
                    step.method
                )));
            }
        };
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| TestCaseError::fail(format!("step {i} {url}: body cut off: {e}")))?;
        prop_assert_ne!(
            status.as_u16(),
            500,
            "step {} {} {} answered 500: {}",
            i,
            step.method,
            url,
            String::from_utf8_lossy(&bytes)
        );

        // Registration: an unsafe redirect URI never gets a client; what
        // does get one is echoed with safe redirect URIs only.
        let json: Option<Value> = serde_json::from_slice(&bytes).ok();
        if step.method == Method::POST && step.path == "/register" && status.is_success() {
            prop_assert!(
                !unsafe_registration,
                "step {}: registration with an unsafe redirect URI succeeded: {:?}",
                i,
                step.body
            );
            let uris = json
                .as_ref()
                .and_then(|j| j.get("redirect_uris"))
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            for u in uris {
                let u = u.as_str().unwrap_or_default();
                prop_assert!(is_safe_redirect(u), "registered unsafe {:?}", u);
            }
        }

        // Remember what later steps may use.
        if let Some(j) = &json {
            let take = |name: &str, slot: &mut String| {
                if let Some(v) = j.get(name).and_then(Value::as_str) {
                    *slot = v.to_owned();
                }
            };
            take("client_id", &mut got.client_id);
            take("client_secret", &mut got.client_secret);
            take("access_token", &mut got.token);
            take("refresh_token", &mut got.refresh);
        }
        if let Some(loc) = headers.get("location").and_then(|v| v.to_str().ok())
            && let Ok(loc) = Url::parse(loc)
            && let Some((_, code)) = loc.query_pairs().find(|(k, _)| k == "code")
        {
            got.code = code.into_owned();
        }
        if let Some(s) = headers.get("mcp-session-id").and_then(|v| v.to_str().ok()) {
            got.session = s.to_owned();
        }
    }
    // Still serving after the whole sequence.
    let alive = http
        .get(format!("{origin}/.well-known/oauth-authorization-server"))
        .send()
        .await
        .map_err(|e| TestCaseError::fail(format!("server gone: {e}")))?;
    prop_assert!(alive.status().is_success());
    server.shutdown().await.ok();
    Ok(got)
}

/// The opening a sequence needs to get anywhere: register a client, get a
/// code, exchange it, open an MCP session. Generated steps follow it.
fn happy_path() -> Vec<Step> {
    let base = Step {
        method: Method::POST,
        path: "/register",
        query: "",
        body: Body::Register {
            redirect_uris: vec![SAFE_REDIRECTS[0]],
            auth_method: Some("none"),
        },
        content_type: Some("application/json"),
        auth: Auth::None,
        session: false,
        origin: None,
        protocol_version: None,
        accept: None,
    };
    vec![
        base.clone(),
        Step {
            method: Method::GET,
            path: "/authorize",
            query: QUERIES[1],
            body: Body::Template(""),
            content_type: None,
            ..base.clone()
        },
        Step {
            path: "/token",
            body: Body::Template(BODIES[15]),
            content_type: Some("application/x-www-form-urlencoded"),
            ..base.clone()
        },
        Step {
            path: "/mcp",
            body: Body::Template(BODIES[4]),
            auth: Auth::Token,
            accept: Some("application/json, text/event-stream"),
            ..base
        },
    ]
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 64,
        // Shrinking replays whole sequences against fresh servers; bound it.
        max_shrink_iters: 256,
        ..ProptestConfig::default()
    })]

    #[test]
    fn no_request_sequence_breaks_the_server(
        opening in any::<bool>(),
        tiny_limits in any::<bool>(),
        steps in proptest::collection::vec(step(), 1..16),
    ) {
        let mut all = if opening { happy_path() } else { Vec::new() };
        all.extend(steps);
        runtime().block_on(run_sequence(all, tiny_limits, &[]))?;
    }
}

/// The opening alone must work, or the generated sequences would never get
/// past registration: a guard against the grammar going stale.
#[test]
fn the_opening_reaches_an_mcp_session() {
    let got = runtime()
        .block_on(run_sequence(happy_path(), false, &[]))
        .unwrap();
    assert!(!got.client_id.is_empty(), "registration failed");
    assert!(!got.code.is_empty(), "no authorization code");
    assert!(!got.token.is_empty(), "no access token");
    assert!(!got.session.is_empty(), "no MCP session");
}

/// Runs the generator against a server with `fault` and returns the
/// message of the first broken invariant.
fn first_failure_under(fault: Fault) -> String {
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: 128,
        max_shrink_iters: 0,
        failure_persistence: None,
        ..ProptestConfig::default()
    });
    let outcome = runner.run(&proptest::collection::vec(step(), 1..16), |steps| {
        let mut all = happy_path();
        all.extend(steps);
        runtime()
            .block_on(run_sequence(all, false, &[fault]))
            .map(drop)
    });
    match outcome {
        Err(proptest::test_runner::TestError::Fail(reason, _)) => reason.message().to_owned(),
        other => panic!("no sequence broke an invariant under {fault:?}: {other:?}"),
    }
}

/// The invariants bite: with the rule each one guards switched off by its
/// fault, the same generator finds a sequence that breaks it.
#[test]
fn the_invariants_bite_under_their_faults() {
    let message = first_failure_under(Fault::DcrUnsafeRedirectAccepted);
    assert!(message.contains("unsafe"), "{message}");
    let message = first_failure_under(Fault::InvalidTokenAs500);
    assert!(message.contains("answered 500"), "{message}");
}
