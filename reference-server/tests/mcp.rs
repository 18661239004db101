//! HTTP-level tests of the protected resource and MCP half of the reference
//! server: PRM documents, the bearer check and its challenges, the
//! Streamable HTTP endpoint, sessions, tools, the test clock, and one test
//! per resource-server fault showing that its rule is really off.
//!
//! Tokens come from the server's own authorization server over HTTP
//! (register, authorize with PKCE S256 and auto-approval, token), exactly
//! as a client would get them.

#![cfg(feature = "server")]

use std::collections::BTreeMap;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use mcp_reference_server::config::{Config, Fault};
use mcp_reference_server::{RunningServer, start};
use rand_core::{OsRng, RngCore as _};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

type TestResult = Result<(), Box<dyn std::error::Error>>;

const REDIRECT_URI: &str = "http://127.0.0.1:9/callback";
const LATEST: &str = "2025-11-25";

/// A running server plus an HTTP client that never follows redirects.
struct Harness {
    _server: RunningServer,
    origin: String,
    http: reqwest::Client,
}

/// A registered public client.
struct OAuthClient {
    client_id: String,
}

/// A token response.
#[derive(Debug)]
struct Tokens {
    access: String,
    refresh: Option<String>,
}

/// A parsed `WWW-Authenticate: Bearer ...` challenge.
#[derive(Debug)]
struct Challenge {
    scheme: String,
    params: BTreeMap<String, String>,
}

impl Challenge {
    fn get(&self, k: &str) -> Option<&str> {
        self.params.get(k).map(String::as_str)
    }
}

fn parse_challenge(v: &str) -> Challenge {
    let (scheme, mut rest) = v.split_once(' ').unwrap_or((v, ""));
    let mut params = BTreeMap::new();
    while let Some(eq) = rest.find('=') {
        let name = rest[..eq].trim().to_owned();
        let after = rest[eq + 1..].strip_prefix('"').expect("quoted value");
        let close = after.find('"').expect("closing quote");
        assert!(
            params
                .insert(name.clone(), after[..close].to_owned())
                .is_none(),
            "parameter {name} repeated (WWW-07)"
        );
        rest = after[close + 1..].trim_start().trim_start_matches(',');
    }
    Challenge {
        scheme: scheme.to_owned(),
        params,
    }
}

fn challenge_of(resp: &reqwest::Response) -> Challenge {
    let value = resp
        .headers()
        .get("www-authenticate")
        .expect("a WWW-Authenticate header")
        .to_str()
        .expect("ASCII challenge");
    parse_challenge(value)
}

fn initialize_body(version: &str) -> Value {
    json!({
        "jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {
            "protocolVersion": version,
            "capabilities": {},
            "clientInfo": { "name": "mcp-reference-server-tests", "version": "1" }
        }
    })
}

fn pkce_pair() -> (String, String) {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    let verifier = URL_SAFE_NO_PAD.encode(bytes);
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

fn query_param(url: &str, name: &str) -> Option<String> {
    let url = url::Url::parse(url).ok()?;
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

async fn harness(faults: &[Fault]) -> Harness {
    harness_with(faults, |_| {}).await
}

async fn harness_with(faults: &[Fault], tweak: impl FnOnce(&mut Config)) -> Harness {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut config = Config {
        test_control: true,
        faults: faults.iter().copied().collect(),
        ..Config::default()
    };
    tweak(&mut config);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let server = start(listener, config).await.expect("server starts");
    let origin = format!("http://{}", server.addr);
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(20))
        .build()
        .expect("client");
    Harness {
        _server: server,
        origin,
        http,
    }
}

impl Harness {
    fn mcp(&self) -> String {
        format!("{}/mcp", self.origin)
    }

    fn mcp_alt(&self) -> String {
        format!("{}/mcp-alt", self.origin)
    }

    async fn as_metadata(&self) -> Value {
        self.http
            .get(format!(
                "{}/.well-known/oauth-authorization-server",
                self.origin
            ))
            .send()
            .await
            .expect("AS metadata")
            .json()
            .await
            .expect("AS metadata JSON")
    }

    async fn register(&self, meta: &Value) -> OAuthClient {
        let endpoint = meta["registration_endpoint"]
            .as_str()
            .expect("DCR endpoint");
        let resp = self
            .http
            .post(endpoint)
            .json(&json!({
                "redirect_uris": [REDIRECT_URI],
                "token_endpoint_auth_method": "none",
                "grant_types": ["authorization_code", "refresh_token"],
                "response_types": ["code"],
                "client_name": "mcp tests",
            }))
            .send()
            .await
            .expect("register");
        assert_eq!(resp.status(), StatusCode::CREATED, "registration");
        let body: Value = resp.json().await.expect("DCR JSON");
        OAuthClient {
            client_id: body["client_id"].as_str().expect("client_id").to_owned(),
        }
    }

    /// Authorization code flow with PKCE S256 and auto-approval.
    async fn authorize(
        &self,
        meta: &Value,
        client: &OAuthClient,
        resource: &str,
        scope: &str,
        user: Option<&str>,
    ) -> Tokens {
        let (verifier, challenge) = pkce_pair();
        let mut params = vec![
            ("response_type", "code"),
            ("client_id", client.client_id.as_str()),
            ("redirect_uri", REDIRECT_URI),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
            ("state", "st4te"),
            ("resource", resource),
            ("scope", scope),
        ];
        if let Some(u) = user {
            params.push(("login_hint", u));
        }
        let endpoint = meta["authorization_endpoint"].as_str().expect("authorize");
        let url = url::Url::parse_with_params(endpoint, &params).expect("authorize URL");
        let resp = self.http.get(url).send().await.expect("authorize");
        assert_eq!(resp.status(), StatusCode::FOUND, "authorize redirects");
        let location = resp.headers()["location"].to_str().expect("location");
        assert_eq!(query_param(location, "state").as_deref(), Some("st4te"));
        let code = query_param(location, "code").unwrap_or_else(|| panic!("no code in {location}"));
        let token_endpoint = meta["token_endpoint"].as_str().expect("token endpoint");
        let resp = self
            .http
            .post(token_endpoint)
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
                ("redirect_uri", REDIRECT_URI),
                ("client_id", client.client_id.as_str()),
                ("code_verifier", verifier.as_str()),
                ("resource", resource),
            ])
            .send()
            .await
            .expect("token");
        assert_eq!(resp.status(), StatusCode::OK, "token exchange");
        token_response(resp).await
    }

    async fn refresh(&self, meta: &Value, client: &OAuthClient, refresh: &str) -> Tokens {
        let resp = self
            .http
            .post(meta["token_endpoint"].as_str().expect("token endpoint"))
            .form(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh),
                ("client_id", client.client_id.as_str()),
            ])
            .send()
            .await
            .expect("refresh");
        assert_eq!(resp.status(), StatusCode::OK, "refresh");
        token_response(resp).await
    }

    /// A token for `/mcp` for `user` with `scope`.
    async fn token_for(&self, user: &str, scope: &str) -> String {
        let meta = self.as_metadata().await;
        let client = self.register(&meta).await;
        self.authorize(&meta, &client, &self.mcp(), scope, Some(user))
            .await
            .access
    }

    async fn token(&self) -> String {
        self.token_for("alice", "mcp:tools").await
    }

    /// A POST to `url` with the usual MCP headers.
    fn post_to(
        &self,
        url: &str,
        token: Option<&str>,
        session: Option<&str>,
    ) -> reqwest::RequestBuilder {
        let mut req = self
            .http
            .post(url)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream");
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        if let Some(s) = session {
            req = req
                .header("mcp-session-id", s)
                .header("mcp-protocol-version", LATEST);
        }
        req
    }

    fn post(&self, token: Option<&str>, session: Option<&str>) -> reqwest::RequestBuilder {
        self.post_to(&self.mcp(), token, session)
    }

    /// Initializes a session on `/mcp`; returns its id.
    async fn initialize(&self, token: &str) -> String {
        let resp = self
            .post(Some(token), None)
            .json(&initialize_body(LATEST))
            .send()
            .await
            .expect("initialize");
        assert_eq!(resp.status(), StatusCode::OK, "initialize");
        let sid = resp.headers()["mcp-session-id"]
            .to_str()
            .expect("session id")
            .to_owned();
        let resp = self
            .post(Some(token), Some(&sid))
            .json(&json!({"jsonrpc":"2.0","method":"notifications/initialized"}))
            .send()
            .await
            .expect("initialized");
        assert_eq!(resp.status(), StatusCode::ACCEPTED);
        sid
    }

    async fn call(&self, token: &str, sid: &str, body: Value) -> reqwest::Response {
        self.post(Some(token), Some(sid))
            .json(&body)
            .send()
            .await
            .expect("request")
    }

    async fn advance_clock(&self, seconds: u64) {
        let resp = self
            .http
            .post(format!("{}/_test/clock/advance", self.origin))
            .json(&json!({ "seconds": seconds }))
            .send()
            .await
            .expect("advance");
        assert_eq!(resp.status(), StatusCode::OK);
    }
}

async fn token_response(resp: reqwest::Response) -> Tokens {
    let body: Value = resp.json().await.expect("token JSON");
    Tokens {
        access: body["access_token"]
            .as_str()
            .expect("access_token")
            .to_owned(),
        refresh: body["refresh_token"].as_str().map(str::to_owned),
    }
}

fn tool_call(id: u64, name: &str, arguments: Value) -> Value {
    json!({"jsonrpc":"2.0","id":id,"method":"tools/call","params":{"name":name,"arguments":arguments}})
}

/// Asserts a 401/403 body carries no MCP data (RS-18).
async fn assert_no_mcp_data(resp: reqwest::Response) {
    assert!(resp.headers().get("mcp-session-id").is_none());
    let text = resp.text().await.expect("body");
    if !text.is_empty() {
        let body: Value = serde_json::from_str(&text).expect("JSON error body");
        assert!(body.get("error").is_some(), "{body}");
        assert!(body.get("result").is_none(), "{body}");
    }
}

// ---------------------------------------------------------------- the flow

#[tokio::test]
async fn full_flow_from_discovery_to_tools_and_refresh() -> TestResult {
    let h = harness(&[]).await;

    // 1. The unauthenticated request gets the challenge naming the PRM.
    let resp = h
        .post(None, None)
        .json(&initialize_body(LATEST))
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let challenge = challenge_of(&resp);
    assert_eq!(challenge.scheme, "Bearer");
    let prm_url = challenge
        .get("resource_metadata")
        .expect("resource_metadata")
        .to_owned();
    assert_eq!(
        prm_url,
        format!("{}/.well-known/oauth-protected-resource/mcp", h.origin)
    );

    // 2. PRM, 3. AS metadata from its issuer (RFC 8414 §3.1).
    let prm: Value = h.http.get(&prm_url).send().await?.json().await?;
    assert_eq!(prm["resource"], h.mcp());
    let issuer = prm["authorization_servers"][0]
        .as_str()
        .expect("issuer")
        .to_owned();
    let issuer_url = url::Url::parse(&issuer)?;
    let meta_url = format!(
        "{}/.well-known/oauth-authorization-server{}",
        issuer_url.origin().ascii_serialization(),
        issuer_url.path().trim_end_matches('/')
    );
    let meta: Value = h.http.get(meta_url).send().await?.json().await?;
    assert_eq!(meta["issuer"], issuer);

    // 4. Register, 5. authorize + token.
    let client = h.register(&meta).await;
    let tokens = h
        .authorize(&meta, &client, &h.mcp(), "mcp:tools mcp:admin", None)
        .await;

    // 6. initialize.
    let resp = h
        .post(Some(&tokens.access), None)
        .json(&initialize_body(LATEST))
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(
        resp.headers()["content-type"]
            .to_str()?
            .starts_with("application/json")
    );
    let sid = resp.headers()["mcp-session-id"].to_str()?.to_owned();
    assert!(sid.len() >= 43 && sid.bytes().all(|b| (0x21..=0x7e).contains(&b)));
    let init: Value = resp.json().await?;
    assert_eq!(init["id"], 1);
    assert_eq!(init["result"]["protocolVersion"], LATEST);
    assert!(init["result"]["capabilities"].is_object());
    assert!(init["result"]["serverInfo"]["name"].is_string());
    assert!(init["result"]["serverInfo"]["version"].is_string());

    // 7. notifications/initialized: 202, empty body.
    let resp = h
        .post(Some(&tokens.access), Some(&sid))
        .json(&json!({"jsonrpc":"2.0","method":"notifications/initialized"}))
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::ACCEPTED);
    assert!(resp.bytes().await?.is_empty());

    // 8. ping, tools/list.
    let ping: Value = h
        .call(
            &tokens.access,
            &sid,
            json!({"jsonrpc":"2.0","id":9,"method":"ping"}),
        )
        .await
        .json()
        .await?;
    assert_eq!(ping, json!({"jsonrpc":"2.0","id":9,"result":{}}));
    let list: Value = h
        .call(
            &tokens.access,
            &sid,
            json!({"jsonrpc":"2.0","id":2,"method":"tools/list","params":{}}),
        )
        .await
        .json()
        .await?;
    let tools = list["result"]["tools"].as_array().expect("tools");
    let names: Vec<&str> = tools.iter().filter_map(|t| t["name"].as_str()).collect();
    assert_eq!(
        names,
        [
            "get_weather",
            "list_files",
            "get_user_profile",
            "get_admin_report"
        ]
    );
    for t in tools {
        assert_eq!(t["inputSchema"]["type"], "object");
    }
    assert!(list["result"].get("nextCursor").is_none());

    // 9. Every tool.
    let calls = [
        ("get_weather", json!({"city": "Lyon"})),
        ("list_files", json!({})),
        ("get_user_profile", json!({})),
        ("get_admin_report", json!({})),
    ];
    for (i, (name, args)) in calls.into_iter().enumerate() {
        let resp = h
            .call(&tokens.access, &sid, tool_call(10 + i as u64, name, args))
            .await;
        assert_eq!(resp.status(), StatusCode::OK, "{name}");
        let body: Value = resp.json().await?;
        let result = &body["result"];
        assert_eq!(result["isError"], false, "{name}: {body}");
        assert_eq!(result["content"][0]["type"], "text");
        assert!(result["structuredContent"].is_object(), "{name}");
    }
    let profile: Value = h
        .call(
            &tokens.access,
            &sid,
            tool_call(20, "get_user_profile", json!({})),
        )
        .await
        .json()
        .await?;
    let p = &profile["result"]["structuredContent"];
    assert_eq!(p["sub"], "alice");
    assert_eq!(p["client_id"], client.client_id.as_str());
    assert_eq!(p["scope"], "mcp:tools mcp:admin");

    // 10. Refresh: the new token (same user) keeps the session (RS-19).
    let refreshed = h
        .refresh(
            &meta,
            &client,
            tokens.refresh.as_deref().expect("refresh token"),
        )
        .await;
    assert_ne!(refreshed.access, tokens.access);
    let resp = h
        .call(
            &refreshed.access,
            &sid,
            tool_call(21, "get_weather", json!({"city":"Oslo"})),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let body: Value = resp.json().await?;
    assert_eq!(body["result"]["structuredContent"]["city"], "Oslo");
    Ok(())
}

#[tokio::test]
async fn sse_framing_when_only_event_streams_are_accepted() -> TestResult {
    let h = harness(&[]).await;
    let token = h.token().await;
    let resp = h
        .http
        .post(h.mcp())
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .header("accept", "text/event-stream")
        .body(initialize_body(LATEST).to_string())
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(
        resp.headers()["content-type"]
            .to_str()?
            .starts_with("text/event-stream")
    );
    let text = resp.text().await?;
    let data = text
        .lines()
        .find_map(|l| l.strip_prefix("data: "))
        .expect("a data line");
    assert!(text.starts_with("event: message\n"));
    let msg: Value = serde_json::from_str(data)?;
    assert_eq!(msg["result"]["protocolVersion"], LATEST);
    Ok(())
}

// ---------------------------------------------------------------- PRM

#[tokio::test]
async fn prm_documents_are_public_and_correct() -> TestResult {
    let h = harness(&[]).await;
    for (path, resource) in [
        ("/.well-known/oauth-protected-resource/mcp", h.mcp()),
        ("/.well-known/oauth-protected-resource/mcp-alt", h.mcp_alt()),
        ("/.well-known/oauth-protected-resource", h.mcp()),
    ] {
        let resp = h
            .http
            .get(format!("{}{path}", h.origin))
            .header("mcp-protocol-version", LATEST)
            .header("accept", "application/json")
            .send()
            .await?;
        assert_eq!(resp.status(), StatusCode::OK, "{path}");
        assert!(
            resp.headers()["content-type"]
                .to_str()?
                .starts_with("application/json")
        );
        assert_eq!(resp.headers()["access-control-allow-origin"], "*");
        let doc: Value = resp.json().await?;
        assert_eq!(doc["resource"], resource, "{path}");
        assert_eq!(doc["authorization_servers"], json!([h.origin]));
        assert_eq!(doc["bearer_methods_supported"], json!(["header"]));
        assert_eq!(doc["scopes_supported"], json!(["mcp:tools", "mcp:admin"]));

        let pre = h
            .http
            .request(reqwest::Method::OPTIONS, format!("{}{path}", h.origin))
            .header("origin", "https://client.example")
            .header("access-control-request-method", "GET")
            .header("access-control-request-headers", "mcp-protocol-version")
            .send()
            .await?;
        assert!(pre.status().is_success(), "{path}");
        assert_eq!(pre.headers()["access-control-allow-origin"], "*");
        let allowed = pre.headers()["access-control-allow-headers"]
            .to_str()?
            .to_ascii_lowercase();
        assert!(allowed.contains("mcp-protocol-version"));
    }
    Ok(())
}

#[tokio::test]
async fn prm_snapshot() -> TestResult {
    let h = harness(&[]).await;
    let text = h
        .http
        .get(format!(
            "{}/.well-known/oauth-protected-resource/mcp",
            h.origin
        ))
        .send()
        .await?
        .text()
        .await?;
    // The port changes on every run.
    let doc: Value = serde_json::from_str(&text.replace(&h.origin, "http://127.0.0.1:[port]"))?;
    insta::with_settings!({ snapshot_path => "../../snapshots/reference-server", prepend_module_to_snapshot => false }, {
        insta::assert_json_snapshot!("prm_mcp", doc);
    });
    Ok(())
}

// ---------------------------------------------------------------- bearer

#[tokio::test]
async fn no_credentials_get_a_challenge_without_error() -> TestResult {
    let h = harness(&[]).await;
    for auth in [None, Some("Basic dXNlcjpwYXNz")] {
        let mut req = h.post(None, None).json(&initialize_body(LATEST));
        if let Some(a) = auth {
            req = req.header("authorization", a);
        }
        let resp = req.send().await?;
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "{auth:?}");
        let c = challenge_of(&resp);
        assert_eq!(c.scheme, "Bearer");
        assert_eq!(
            c.get("resource_metadata"),
            Some(format!("{}/.well-known/oauth-protected-resource/mcp", h.origin).as_str())
        );
        assert_eq!(c.get("scope"), Some("mcp:tools"));
        assert_eq!(
            c.get("error"),
            None,
            "RFC 6750 §3.1: no error without credentials"
        );
        let expose = resp.headers()["access-control-expose-headers"]
            .to_str()?
            .to_owned();
        assert!(expose.contains("WWW-Authenticate"));
        assert_no_mcp_data(resp).await;
    }
    // The alternate resource names its own metadata.
    let resp = h
        .post_to(&h.mcp_alt(), None, None)
        .json(&initialize_body(LATEST))
        .send()
        .await?;
    assert_eq!(
        challenge_of(&resp).get("resource_metadata"),
        Some(format!("{}/.well-known/oauth-protected-resource/mcp-alt", h.origin).as_str())
    );
    Ok(())
}

#[tokio::test]
async fn every_method_needs_a_token_but_preflight_does_not() -> TestResult {
    let h = harness(&[]).await;
    let get = h
        .http
        .get(h.mcp())
        .header("accept", "text/event-stream")
        .send()
        .await?;
    assert_eq!(get.status(), StatusCode::UNAUTHORIZED);
    let del = h.http.delete(h.mcp()).send().await?;
    assert_eq!(del.status(), StatusCode::UNAUTHORIZED);
    let pre = h
        .http
        .request(reqwest::Method::OPTIONS, h.mcp())
        .header("origin", &h.origin)
        .header("access-control-request-method", "POST")
        .send()
        .await?;
    assert_eq!(pre.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        pre.headers()["access-control-allow-origin"],
        h.origin.as_str()
    );
    // With a token, GET is 405 (no server-initiated stream).
    let token = h.token().await;
    let get = h
        .http
        .get(h.mcp())
        .bearer_auth(&token)
        .header("accept", "text/event-stream")
        .send()
        .await?;
    assert_eq!(get.status(), StatusCode::METHOD_NOT_ALLOWED);
    Ok(())
}

#[tokio::test]
async fn invalid_and_malformed_tokens() -> TestResult {
    let h = harness(&[]).await;
    let random = URL_SAFE_NO_PAD.encode([7u8; 32]);
    let resp = h
        .post(Some(&random), None)
        .json(&initialize_body(LATEST))
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let c = challenge_of(&resp);
    assert_eq!(c.get("error"), Some("invalid_token"));
    assert!(c.get("error_description").is_some());
    assert!(c.get("resource_metadata").is_some());
    assert_eq!(c.get("scope"), Some("mcp:tools"));
    assert_no_mcp_data(resp).await;

    // RFC 6750 §3.1: a malformed header is invalid_request, answered 400.
    for bad in ["Bearer", "Bearer a b", "Bearer ###"] {
        let resp = h
            .post(None, None)
            .header("authorization", bad)
            .json(&initialize_body(LATEST))
            .send()
            .await?;
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(challenge_of(&resp).get("error"), Some("invalid_request"));
    }
    Ok(())
}

#[tokio::test]
async fn scheme_is_case_insensitive() -> TestResult {
    let h = harness(&[]).await;
    let token = h.token().await;
    for scheme in ["bearer", "BEARER"] {
        let resp = h
            .post(None, None)
            .header("authorization", format!("{scheme} {token}"))
            .json(&initialize_body(LATEST))
            .send()
            .await?;
        assert_eq!(resp.status(), StatusCode::OK, "{scheme}");
    }
    Ok(())
}

#[tokio::test]
async fn wrong_audience_is_refused() -> TestResult {
    let h = harness(&[]).await;
    let meta = h.as_metadata().await;
    let client = h.register(&meta).await;
    let alt = h
        .authorize(&meta, &client, &h.mcp_alt(), "mcp:tools", None)
        .await;
    let resp = h
        .post(Some(&alt.access), None)
        .json(&initialize_body(LATEST))
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(challenge_of(&resp).get("error"), Some("invalid_token"));
    // The same token is fine where it belongs.
    let resp = h
        .post_to(&h.mcp_alt(), Some(&alt.access), None)
        .json(&initialize_body(LATEST))
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::OK);
    Ok(())
}

#[tokio::test]
async fn expired_token_is_refused() -> TestResult {
    let h = harness(&[]).await;
    let token = h.token().await;
    let sid = h.initialize(&token).await;
    h.advance_clock(3601).await;
    let resp = h
        .call(
            &token,
            &sid,
            json!({"jsonrpc":"2.0","id":2,"method":"tools/list"}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(challenge_of(&resp).get("error"), Some("invalid_token"));
    Ok(())
}

#[tokio::test]
async fn query_tokens_are_ignored() -> TestResult {
    let h = harness(&[]).await;
    let token = h.token().await;
    let resp = h
        .post_to(&format!("{}?access_token={token}", h.mcp()), None, None)
        .json(&initialize_body(LATEST))
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(challenge_of(&resp).get("error"), None);
    Ok(())
}

#[tokio::test]
async fn insufficient_scope_then_step_up() -> TestResult {
    let h = harness(&[]).await;
    let token = h.token().await;
    let sid = h.initialize(&token).await;
    let resp = h
        .call(&token, &sid, tool_call(5, "get_admin_report", json!({})))
        .await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let c = challenge_of(&resp);
    assert_eq!(c.get("error"), Some("insufficient_scope"));
    assert_eq!(c.get("scope"), Some("mcp:tools mcp:admin"));
    assert!(c.get("resource_metadata").is_some());
    assert_no_mcp_data(resp).await;

    // Step-up: re-authorize with the challenged scopes; the session stays.
    let wider = h.token_for("alice", "mcp:tools mcp:admin").await;
    let resp = h
        .call(&wider, &sid, tool_call(6, "get_admin_report", json!({})))
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let body: Value = resp.json().await?;
    assert_eq!(body["result"]["structuredContent"]["requested_by"], "alice");
    Ok(())
}

// ---------------------------------------------------------------- transport

#[tokio::test]
async fn foreign_origin_is_forbidden() -> TestResult {
    let h = harness(&[]).await;
    // No token needed to be refused: the Origin check comes first.
    let resp = h
        .post(None, None)
        .header("origin", "https://evil.example")
        .json(&initialize_body(LATEST))
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let token = h.token().await;
    let resp = h
        .post(Some(&token), None)
        .header("origin", "https://evil.example")
        .json(&initialize_body(LATEST))
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let resp = h
        .post(Some(&token), None)
        .header("origin", &h.origin)
        .json(&initialize_body(LATEST))
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        resp.headers()["access-control-allow-origin"],
        h.origin.as_str()
    );
    Ok(())
}

#[tokio::test]
async fn protocol_version_header_is_checked() -> TestResult {
    let h = harness(&[]).await;
    let token = h.token().await;
    let sid = h.initialize(&token).await;
    let list = json!({"jsonrpc":"2.0","id":2,"method":"tools/list"});
    for bad in ["1999-01-01", "not-a-version", "2025-06-18"] {
        let resp = h
            .http
            .post(h.mcp())
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .header("mcp-session-id", &sid)
            .header("mcp-protocol-version", bad)
            .json(&list)
            .send()
            .await?;
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{bad}");
    }
    // Missing: assumed 2025-03-26, which is supported.
    let resp = h
        .http
        .post(h.mcp())
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-session-id", &sid)
        .json(&list)
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::OK);
    // Over-long header values.
    let resp = h
        .post(Some(&token), Some(&sid))
        .header("mcp-protocol-version", "2".repeat(100))
        .json(&list)
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let resp = h
        .post(Some(&token), None)
        .header("mcp-session-id", "s".repeat(500))
        .header("mcp-protocol-version", LATEST)
        .json(&list)
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    Ok(())
}

#[tokio::test]
async fn version_negotiation() -> TestResult {
    let h = harness(&[]).await;
    let token = h.token().await;
    for (asked, got) in [
        ("2025-06-18", "2025-06-18"),
        ("2025-03-26", "2025-03-26"),
        ("1999-01-01", LATEST),
    ] {
        let body: Value = h
            .post(Some(&token), None)
            .json(&initialize_body(asked))
            .send()
            .await?
            .json()
            .await?;
        assert_eq!(body["result"]["protocolVersion"], got, "{asked}");
    }
    Ok(())
}

#[tokio::test]
async fn sessions_are_bound_to_their_user() -> TestResult {
    let h = harness(&[]).await;
    let alice = h.token().await;
    let bob = h.token_for("bob", "mcp:tools").await;
    let sid = h.initialize(&alice).await;
    let resp = h
        .call(
            &bob,
            &sid,
            json!({"jsonrpc":"2.0","id":2,"method":"tools/list"}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    assert!(resp.text().await?.find("get_weather").is_none());
    // The session still works for alice.
    let resp = h
        .call(
            &alice,
            &sid,
            json!({"jsonrpc":"2.0","id":3,"method":"tools/list"}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    Ok(())
}

#[tokio::test]
async fn session_lifecycle() -> TestResult {
    let h = harness_with(&[], |c| c.session_ttl = Duration::from_secs(60)).await;
    let token = h.token().await;
    let list = json!({"jsonrpc":"2.0","id":2,"method":"tools/list"});

    // Missing session: 400; unknown: 404.
    let resp = h.post(Some(&token), None).json(&list).send().await?;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let resp = h.call(&token, "no-such-session", list.clone()).await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);

    // DELETE ends it.
    let sid = h.initialize(&token).await;
    let resp = h
        .http
        .delete(h.mcp())
        .bearer_auth(&token)
        .header("mcp-session-id", &sid)
        .header("mcp-protocol-version", LATEST)
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        h.call(&token, &sid, list.clone()).await.status(),
        StatusCode::NOT_FOUND
    );

    // Idle expiry on the virtual clock.
    let sid = h.initialize(&token).await;
    h.advance_clock(61).await;
    assert_eq!(
        h.call(&token, &sid, list.clone()).await.status(),
        StatusCode::NOT_FOUND
    );

    // A session of one resource is unknown at the other.
    let sid = h.initialize(&token).await;
    let meta = h.as_metadata().await;
    let client = h.register(&meta).await;
    let alt = h
        .authorize(&meta, &client, &h.mcp_alt(), "mcp:tools", None)
        .await;
    let resp = h
        .post_to(&h.mcp_alt(), Some(&alt.access), Some(&sid))
        .json(&list)
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    Ok(())
}

#[tokio::test]
async fn batches_only_on_2025_03_26_sessions() -> TestResult {
    let h = harness(&[]).await;
    let token = h.token().await;
    let batch = json!([
        {"jsonrpc":"2.0","id":1,"method":"ping"},
        {"jsonrpc":"2.0","method":"notifications/initialized"},
        {"jsonrpc":"2.0","id":2,"method":"tools/list"},
        {"jsonrpc":"2.0","id":3,"method":"nope"}
    ]);
    // 2025-11-25 session: refused (batching was removed in 2025-06-18).
    let sid = h.initialize(&token).await;
    let resp = h.call(&token, &sid, batch.clone()).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_eq!(resp.json::<Value>().await?["error"]["code"], -32600);

    // 2025-03-26 session: answered as an array.
    let resp = h
        .post(Some(&token), None)
        .json(&initialize_body("2025-03-26"))
        .send()
        .await?;
    let old = resp.headers()["mcp-session-id"].to_str()?.to_owned();
    let resp = h
        .post_to(&h.mcp(), Some(&token), None)
        .header("mcp-session-id", &old)
        .header("mcp-protocol-version", "2025-03-26")
        .json(&batch)
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::OK);
    let body: Value = resp.json().await?;
    let ids: Vec<Value> = body
        .as_array()
        .expect("array")
        .iter()
        .map(|r| r["id"].clone())
        .collect();
    assert_eq!(ids, [json!(1), json!(2), json!(3)]);
    assert_eq!(body[2]["error"]["code"], -32601);
    // Notifications only: 202.
    let resp = h
        .post_to(&h.mcp(), Some(&token), None)
        .header("mcp-session-id", &old)
        .json(&json!([{"jsonrpc":"2.0","method":"notifications/initialized"}]))
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::ACCEPTED);
    Ok(())
}

#[tokio::test]
async fn session_cap_is_enforced() -> TestResult {
    let h = harness_with(&[], |c| c.limits.max_sessions = 2).await;
    let token = h.token().await;
    h.initialize(&token).await;
    h.initialize(&token).await;
    let resp = h
        .post(Some(&token), None)
        .json(&initialize_body(LATEST))
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    Ok(())
}

#[tokio::test]
async fn json_rpc_errors() -> TestResult {
    let h = harness(&[]).await;
    let token = h.token().await;
    let sid = h.initialize(&token).await;

    let send_raw = |body: &'static str| h.post(Some(&token), Some(&sid)).body(body).send();
    let resp = send_raw("{not json").await?;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_eq!(resp.json::<Value>().await?["error"]["code"], -32700);
    let resp = send_raw(r#"[{"jsonrpc":"2.0","id":1,"method":"ping"}]"#).await?;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_eq!(resp.json::<Value>().await?["error"]["code"], -32600);
    let resp = send_raw(r#"{"jsonrpc":"1.0","id":4,"method":"ping"}"#).await?;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let body: Value = resp.json().await?;
    assert_eq!(
        (body["error"]["code"].clone(), body["id"].clone()),
        (json!(-32600), json!(4))
    );

    let body: Value = h
        .call(
            &token,
            &sid,
            json!({"jsonrpc":"2.0","id":"m","method":"nope/nope"}),
        )
        .await
        .json()
        .await?;
    assert_eq!(
        (body["id"].clone(), body["error"]["code"].clone()),
        (json!("m"), json!(-32601))
    );
    let body: Value = h
        .call(&token, &sid, tool_call(7, "no_such_tool", json!({})))
        .await
        .json()
        .await?;
    assert_eq!(body["error"]["code"], -32602);
    let body: Value = h
        .call(
            &token,
            &sid,
            tool_call(8, "get_weather", json!({"city": 42})),
        )
        .await
        .json()
        .await?;
    assert_eq!(body["result"]["isError"], true);

    // A POSTed response is accepted with 202.
    let resp = h
        .call(&token, &sid, json!({"jsonrpc":"2.0","id":"x","result":{}}))
        .await;
    assert_eq!(resp.status(), StatusCode::ACCEPTED);
    Ok(())
}

#[tokio::test]
async fn media_types_are_checked() -> TestResult {
    let h = harness(&[]).await;
    let token = h.token().await;
    for ct in [
        None,
        Some("text/plain"),
        Some("application/json; charset=latin1"),
    ] {
        let mut req = h
            .http
            .post(h.mcp())
            .bearer_auth(&token)
            .header("accept", "application/json, text/event-stream");
        if let Some(ct) = ct {
            req = req.header("content-type", ct);
        }
        let resp = req.body(initialize_body(LATEST).to_string()).send().await?;
        assert_eq!(resp.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE, "{ct:?}");
    }
    // Two Content-Type fields are not one media type.
    let resp = h
        .post(Some(&token), None)
        .header("content-type", "text/plain")
        .body(initialize_body(LATEST).to_string())
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let resp = h
        .http
        .post(h.mcp())
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .header("accept", "text/html")
        .body(initialize_body(LATEST).to_string())
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::NOT_ACCEPTABLE);
    Ok(())
}

// ---------------------------------------------------------------- test clock

#[tokio::test]
async fn test_clock_controls() -> TestResult {
    let h = harness(&[]).await;
    let before: Value = h
        .http
        .get(format!("{}/_test/clock", h.origin))
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(before["offset_seconds"], 0);
    let resp = h
        .http
        .post(format!("{}/_test/clock/advance", h.origin))
        .json(&json!({"seconds": 90}))
        .send()
        .await?;
    assert_eq!(resp.json::<Value>().await?["offset_seconds"], 90);
    let after: Value = h
        .http
        .get(format!("{}/_test/clock", h.origin))
        .send()
        .await?
        .json()
        .await?;
    assert!(after["now"].as_u64() >= before["now"].as_u64().map(|n| n + 90));
    for bad in [json!({"seconds": -1}), json!({"seconds": "x"}), json!({})] {
        let resp = h
            .http
            .post(format!("{}/_test/clock/advance", h.origin))
            .json(&bad)
            .send()
            .await?;
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{bad}");
    }
    // Without --test-control the routes do not exist.
    let plain = harness_with(&[], |c| c.test_control = false).await;
    let resp = plain
        .http
        .get(format!("{}/_test/clock", plain.origin))
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    Ok(())
}

// ---------------------------------------------------------------- faults
// One test per resource-server fault: the rule it names is really off.

#[tokio::test]
async fn fault_prm_resource_wrong() -> TestResult {
    let h = harness(&[Fault::PrmResourceWrong]).await;
    let doc: Value = h
        .http
        .get(format!(
            "{}/.well-known/oauth-protected-resource/mcp",
            h.origin
        ))
        .send()
        .await?
        .json()
        .await?;
    assert_ne!(doc["resource"], h.mcp());
    Ok(())
}

#[tokio::test]
async fn fault_prm_requires_token() -> TestResult {
    let h = harness(&[Fault::PrmRequiresToken]).await;
    let resp = h
        .http
        .get(format!(
            "{}/.well-known/oauth-protected-resource/mcp",
            h.origin
        ))
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    Ok(())
}

#[tokio::test]
async fn fault_token_in_query_accepted() -> TestResult {
    let h = harness(&[Fault::TokenInQueryAccepted]).await;
    let token = h.token().await;
    let resp = h
        .post_to(&format!("{}?access_token={token}", h.mcp()), None, None)
        .json(&initialize_body(LATEST))
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::OK);
    Ok(())
}

#[tokio::test]
async fn fault_error_without_credentials() -> TestResult {
    let h = harness(&[Fault::ErrorWithoutCredentials]).await;
    let resp = h
        .post(None, None)
        .json(&initialize_body(LATEST))
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(challenge_of(&resp).get("error"), Some("invalid_token"));
    Ok(())
}

#[tokio::test]
async fn fault_no_www_authenticate() -> TestResult {
    let h = harness(&[Fault::NoWwwAuthenticate]).await;
    let resp = h
        .post(None, None)
        .json(&initialize_body(LATEST))
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert!(resp.headers().get("www-authenticate").is_none());
    Ok(())
}

#[tokio::test]
async fn fault_no_resource_metadata() -> TestResult {
    let h = harness(&[Fault::NoResourceMetadata]).await;
    let resp = h
        .post(None, None)
        .json(&initialize_body(LATEST))
        .send()
        .await?;
    let c = challenge_of(&resp);
    assert_eq!(c.get("resource_metadata"), None);
    assert_eq!(c.get("scope"), Some("mcp:tools"));
    Ok(())
}

#[tokio::test]
async fn fault_no_scope_in_challenge() -> TestResult {
    let h = harness(&[Fault::NoScopeInChallenge]).await;
    let resp = h
        .post(None, None)
        .json(&initialize_body(LATEST))
        .send()
        .await?;
    assert_eq!(challenge_of(&resp).get("scope"), None);
    let token = h.token().await;
    let sid = h.initialize(&token).await;
    let resp = h
        .call(&token, &sid, tool_call(5, "get_admin_report", json!({})))
        .await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let c = challenge_of(&resp);
    assert_eq!(c.get("error"), Some("insufficient_scope"));
    assert_eq!(c.get("scope"), None);
    Ok(())
}

#[tokio::test]
async fn fault_invalid_token_as_500() -> TestResult {
    let h = harness(&[Fault::InvalidTokenAs500]).await;
    let resp = h
        .post(Some("bm90LWEtdG9rZW4"), None)
        .json(&initialize_body(LATEST))
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::INTERNAL_SERVER_ERROR);
    Ok(())
}

#[tokio::test]
async fn fault_version_negotiation_broken() -> TestResult {
    let h = harness(&[Fault::VersionNegotiationBroken]).await;
    let token = h.token().await;
    let body: Value = h
        .post(Some(&token), None)
        .json(&initialize_body("1999-01-01"))
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(body["result"]["protocolVersion"], "1999-01-01");
    Ok(())
}

#[tokio::test]
async fn fault_protocol_version_ignored() -> TestResult {
    let h = harness(&[Fault::ProtocolVersionIgnored]).await;
    let token = h.token().await;
    let sid = h.initialize(&token).await;
    let resp = h
        .http
        .post(h.mcp())
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .header("accept", "application/json")
        .header("mcp-session-id", &sid)
        .header("mcp-protocol-version", "1999-01-01")
        .json(&json!({"jsonrpc":"2.0","id":2,"method":"tools/list"}))
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::OK);
    Ok(())
}

#[tokio::test]
async fn fault_session_not_bound_to_user() -> TestResult {
    let h = harness(&[Fault::SessionNotBoundToUser]).await;
    let alice = h.token().await;
    let bob = h.token_for("bob", "mcp:tools").await;
    let sid = h.initialize(&alice).await;
    let resp = h
        .call(
            &bob,
            &sid,
            json!({"jsonrpc":"2.0","id":2,"method":"tools/list"}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    Ok(())
}

#[tokio::test]
async fn fault_session_without_token() -> TestResult {
    let h = harness(&[Fault::SessionWithoutToken]).await;
    let token = h.token().await;
    let sid = h.initialize(&token).await;
    let resp = h
        .post(None, Some(&sid))
        .json(&json!({"jsonrpc":"2.0","id":2,"method":"tools/list"}))
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::OK);
    let body: Value = resp.json().await?;
    assert!(body["result"]["tools"].is_array());
    // Without a session there is still a challenge.
    let resp = h
        .post(None, None)
        .json(&initialize_body(LATEST))
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    Ok(())
}

#[tokio::test]
async fn fault_origin_not_validated() -> TestResult {
    let h = harness(&[Fault::OriginNotValidated]).await;
    let token = h.token().await;
    let resp = h
        .post(Some(&token), None)
        .header("origin", "https://evil.example")
        .json(&initialize_body(LATEST))
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::OK);
    Ok(())
}

#[tokio::test]
async fn fault_scope_not_enforced() -> TestResult {
    let h = harness(&[Fault::ScopeNotEnforced]).await;
    let token = h.token().await;
    let sid = h.initialize(&token).await;
    let resp = h
        .call(&token, &sid, tool_call(5, "get_admin_report", json!({})))
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let body: Value = resp.json().await?;
    assert_eq!(body["result"]["isError"], false);
    Ok(())
}
