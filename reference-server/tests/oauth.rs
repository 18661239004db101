//! HTTP-level tests of the authorization server half of the reference
//! server: discovery, registration, authorize, token, refresh, revocation,
//! the negatives the conformance suite checks, and one test per AS-side
//! fault showing that its rule really is off.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use mcp_reference_server::config::{Config, ConsentMode, Fault};
use mcp_reference_server::tokens::{TokenRejection, verify_access_token};
use mcp_reference_server::{RunningServer, start};
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;

const REDIRECT: &str = "http://127.0.0.1:5555/callback";

struct Env {
    server: RunningServer,
    http: reqwest::Client,
    origin: String,
    issuer: String,
    mcp: String,
    mcp_alt: String,
}

struct TestClient {
    id: String,
    secret: Option<String>,
}

struct Pkce {
    verifier: String,
    challenge: String,
}

fn pkce() -> Pkce {
    let mut bytes = [0u8; 32];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut bytes);
    let verifier = URL_SAFE_NO_PAD.encode(bytes);
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    Pkce {
        verifier,
        challenge,
    }
}

fn with_faults(faults: &[Fault]) -> Config {
    Config {
        faults: faults.iter().copied().collect(),
        ..Config::default()
    }
}

async fn env(config: Config) -> Env {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = start(listener, config).await.unwrap();
    let urls = server.state.urls.clone();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    Env {
        server,
        http,
        origin: urls.origin,
        issuer: urls.issuer,
        mcp: urls.mcp,
        mcp_alt: urls.mcp_alt,
    }
}

fn query_of(location: &str) -> HashMap<String, String> {
    url::Url::parse(location)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect()
}

fn location(resp: &reqwest::Response) -> Option<String> {
    resp.headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_owned())
}

impl Env {
    fn at(&self, path: &str) -> String {
        format!("{}{path}", self.issuer)
    }

    async fn register(&self, body: Value) -> (StatusCode, Value, HeaderMap) {
        let resp = self
            .http
            .post(self.at("/register"))
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        (status, resp.json().await.unwrap_or(Value::Null), headers)
    }

    async fn client_with(&self, method: &str) -> TestClient {
        let (status, body, _) = self
            .register(json!({
                "redirect_uris": [REDIRECT],
                "token_endpoint_auth_method": method,
                "grant_types": ["authorization_code", "refresh_token"],
                "response_types": ["code"],
                "client_name": "test",
                "application_type": "native",
            }))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        TestClient {
            id: body["client_id"].as_str().unwrap().to_owned(),
            secret: body["client_secret"].as_str().map(str::to_owned),
        }
    }

    async fn public_client(&self) -> TestClient {
        self.client_with("none").await
    }

    async fn authorize(&self, params: &[(&str, &str)]) -> reqwest::Response {
        let query: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(params.iter())
            .finish();
        self.http
            .get(format!("{}?{query}", self.at("/authorize")))
            .send()
            .await
            .unwrap()
    }

    /// The base authorization request with `overrides` replacing or adding
    /// parameters (an empty value removes one).
    async fn authorize_with(
        &self,
        client: &TestClient,
        p: &Pkce,
        overrides: &[(&str, &str)],
    ) -> reqwest::Response {
        let mut params: Vec<(&str, &str)> = vec![
            ("response_type", "code"),
            ("client_id", &client.id),
            ("redirect_uri", REDIRECT),
            ("code_challenge", &p.challenge),
            ("code_challenge_method", "S256"),
            ("state", "st-123"),
            ("resource", &self.mcp),
            ("scope", "mcp:tools"),
        ];
        for (k, v) in overrides {
            params.retain(|(pk, _)| pk != k);
            if !v.is_empty() {
                params.push((k, v));
            }
        }
        self.authorize(&params).await
    }

    async fn code(&self, client: &TestClient, p: &Pkce) -> String {
        let resp = self.authorize_with(client, p, &[]).await;
        assert_eq!(resp.status(), StatusCode::FOUND);
        let q = query_of(&location(&resp).unwrap());
        q.get("code")
            .cloned()
            .unwrap_or_else(|| panic!("no code: {q:?}"))
    }

    async fn token_raw(
        &self,
        form: &[(&str, &str)],
        basic: Option<(&str, &str)>,
    ) -> (StatusCode, Value, HeaderMap) {
        let mut req = self.http.post(self.at("/token")).form(form);
        if let Some((id, secret)) = basic {
            let enc = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
            let creds = STANDARD.encode(format!("{}:{}", enc(id), enc(secret)));
            req = req.header("authorization", format!("Basic {creds}"));
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        (status, resp.json().await.unwrap_or(Value::Null), headers)
    }

    async fn redeem(
        &self,
        client: &TestClient,
        code: &str,
        p: &Pkce,
    ) -> (StatusCode, Value, HeaderMap) {
        self.token_raw(
            &[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", REDIRECT),
                ("code_verifier", &p.verifier),
                ("client_id", &client.id),
                ("resource", &self.mcp),
            ],
            None,
        )
        .await
    }

    async fn refresh(
        &self,
        client: &TestClient,
        rt: &str,
        extra: &[(&str, &str)],
    ) -> (StatusCode, Value, HeaderMap) {
        let mut form = vec![
            ("grant_type", "refresh_token"),
            ("refresh_token", rt),
            ("client_id", client.id.as_str()),
        ];
        form.extend_from_slice(extra);
        self.token_raw(&form, None).await
    }

    /// Registers a public client and runs the whole flow to tokens.
    async fn tokens(&self) -> (TestClient, Value) {
        let client = self.public_client().await;
        let p = pkce();
        let code = self.code(&client, &p).await;
        let (status, body, _) = self.redeem(&client, &code, &p).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        (client, body)
    }

    fn verify(
        &self,
        token: &str,
    ) -> Result<mcp_reference_server::tokens::AccessClaims, TokenRejection> {
        verify_access_token(&self.server.state, token, &self.mcp)
    }

    async fn revoke(&self, client: &TestClient, token: &str, hint: Option<&str>) -> StatusCode {
        let mut form = vec![("token", token), ("client_id", client.id.as_str())];
        if let Some(h) = hint {
            form.push(("token_type_hint", h));
        }
        self.http
            .post(self.at("/revoke"))
            .form(&form)
            .send()
            .await
            .unwrap()
            .status()
    }
}

fn error_of(body: &Value) -> &str {
    body["error"].as_str().unwrap_or("<none>")
}

// ---------------------------------------------------------------- discovery

#[tokio::test]
async fn metadata_documents_snapshot() {
    let e = env(Config {
        issuer_path: "/tenant1".into(),
        ..Config::default()
    })
    .await;
    let redact = |v: Value| -> Value {
        let s = v.to_string().replace(&e.origin, "http://127.0.0.1:[PORT]");
        serde_json::from_str(&s).unwrap()
    };
    let get = |url: String| {
        let http = e.http.clone();
        async move {
            let resp = http
                .get(url)
                .header("mcp-protocol-version", "2025-11-25")
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), StatusCode::OK);
            assert_eq!(
                resp.headers()["access-control-allow-origin"],
                "*",
                "metadata GET carries CORS"
            );
            assert!(
                resp.headers()["content-type"]
                    .to_str()
                    .unwrap()
                    .starts_with("application/json")
            );
            resp.json::<Value>().await.unwrap()
        }
    };
    let oauth = get(format!(
        "{}/.well-known/oauth-authorization-server/tenant1",
        e.origin
    ))
    .await;
    let oidc = get(format!(
        "{}/.well-known/openid-configuration/tenant1",
        e.origin
    ))
    .await;
    let oidc_appended = get(format!("{}/.well-known/openid-configuration", e.issuer)).await;
    assert_eq!(oauth["issuer"], e.issuer.as_str());
    assert_eq!(oidc, oidc_appended);
    // The root location would name another issuer (RFC 8414 §3.3).
    let root = e
        .http
        .get(format!(
            "{}/.well-known/oauth-authorization-server",
            e.origin
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(root.status(), StatusCode::NOT_FOUND);
    insta::with_settings!({snapshot_path => "../../snapshots/reference-server", prepend_module_to_snapshot => false}, {
        insta::assert_json_snapshot!("oauth_authorization_server_metadata", redact(oauth));
        insta::assert_json_snapshot!("openid_configuration", redact(oidc));
    });
}

#[tokio::test]
async fn metadata_answers_cors_preflight() {
    let e = env(Config::default()).await;
    let resp = e
        .http
        .request(
            reqwest::Method::OPTIONS,
            format!("{}/.well-known/oauth-authorization-server", e.origin),
        )
        .header("origin", "https://client.example")
        .header("access-control-request-method", "GET")
        .header("access-control-request-headers", "mcp-protocol-version")
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success());
    assert_eq!(resp.headers()["access-control-allow-origin"], "*");
    let allowed = resp.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap();
    assert!(allowed.contains("mcp-protocol-version"));
}

#[tokio::test]
async fn jwks_publishes_the_signing_key() {
    let e = env(Config::default()).await;
    let jwks: Value = e
        .http
        .get(e.at("/jwks"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let key = &jwks["keys"][0];
    assert_eq!(key["kty"], "EC");
    assert_eq!(key["crv"], "P-256");
    assert_eq!(key["alg"], "ES256");
    assert_eq!(key["use"], "sig");
    // The access token's kid names this key and it verifies with it.
    let (_, tokens) = e.tokens().await;
    let at = tokens["access_token"].as_str().unwrap();
    let header = jsonwebtoken::decode_header(at).unwrap();
    assert_eq!(header.kid.as_deref(), key["kid"].as_str());
    let dk = jsonwebtoken::DecodingKey::from_ec_components(
        key["x"].as_str().unwrap(),
        key["y"].as_str().unwrap(),
    )
    .unwrap();
    let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
    v.set_audience(&[&e.mcp]);
    v.set_issuer(&[&e.issuer]);
    let data = jsonwebtoken::decode::<Value>(at, &dk, &v).unwrap();
    for claim in [
        "iss",
        "aud",
        "sub",
        "exp",
        "iat",
        "scope",
        "client_id",
        "jti",
    ] {
        assert!(data.claims.get(claim).is_some(), "missing {claim}");
    }
    assert_eq!(data.claims["sub"], "alice");
}

// ------------------------------------------------------------- happy path

#[tokio::test]
async fn full_flow_discovery_register_authorize_token_refresh_revoke() {
    let e = env(Config::default()).await;
    let meta: Value = e
        .http
        .get(format!(
            "{}/.well-known/oauth-authorization-server",
            e.origin
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(meta["registration_endpoint"], e.at("/register").as_str());
    let (status, reg, headers) = e
        .register(json!({
            "redirect_uris": [REDIRECT],
            "token_endpoint_auth_method": "none",
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "client_name": "mcp-authz-conformance",
            "application_type": "native",
        }))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    assert_eq!(reg["token_endpoint_auth_method"], "none");
    assert_eq!(reg["application_type"], "native");
    assert_eq!(reg["redirect_uris"], json!([REDIRECT]));
    assert!(reg["client_id_issued_at"].is_u64());
    assert!(reg.get("client_secret").is_none());
    let client = TestClient {
        id: reg["client_id"].as_str().unwrap().into(),
        secret: None,
    };

    let p = pkce();
    let resp = e.authorize_with(&client, &p, &[]).await;
    assert_eq!(resp.status(), StatusCode::FOUND);
    let loc = location(&resp).unwrap();
    assert!(loc.starts_with(REDIRECT));
    let q = query_of(&loc);
    assert_eq!(q["state"], "st-123");
    assert_eq!(q["iss"], e.issuer);
    assert!(!q.contains_key("error"));
    let code = q["code"].clone();
    assert_eq!(URL_SAFE_NO_PAD.decode(&code).unwrap().len(), 32);

    let (status, tok, headers) = e.redeem(&client, &code, &p).await;
    assert_eq!(status, StatusCode::OK, "{tok}");
    assert_eq!(headers["cache-control"], "no-store");
    assert_eq!(headers["pragma"], "no-cache");
    assert_eq!(tok["token_type"], "Bearer");
    assert_eq!(tok["scope"], "mcp:tools");
    assert_eq!(tok["expires_in"], 3600);
    let at1 = tok["access_token"].as_str().unwrap().to_owned();
    let rt1 = tok["refresh_token"].as_str().unwrap().to_owned();
    let claims = e.verify(&at1).unwrap();
    assert_eq!(claims.aud, e.mcp);
    assert_eq!(claims.client_id, client.id);
    assert_eq!(
        verify_access_token(&e.server.state, &at1, &e.mcp_alt).unwrap_err(),
        TokenRejection::WrongAudience
    );

    // Refresh rotates.
    let (status, tok2, _) = e.refresh(&client, &rt1, &[("resource", &e.mcp)]).await;
    assert_eq!(status, StatusCode::OK, "{tok2}");
    let rt2 = tok2["refresh_token"].as_str().unwrap().to_owned();
    let at2 = tok2["access_token"].as_str().unwrap().to_owned();
    assert_ne!(rt1, rt2);
    assert!(e.verify(&at2).is_ok());

    // Revoke the access token: refused at the resource afterwards.
    assert_eq!(
        e.revoke(&client, &at2, Some("access_token")).await,
        StatusCode::OK
    );
    assert_eq!(e.verify(&at2).unwrap_err(), TokenRejection::Revoked);
    assert!(e.verify(&at1).is_ok());

    // Revoke the refresh token: the family and its access tokens die.
    assert_eq!(
        e.revoke(&client, &rt2, Some("refresh_token")).await,
        StatusCode::OK
    );
    let (status, body, _) = e.refresh(&client, &rt2, &[]).await;
    assert_eq!(
        (status, error_of(&body)),
        (StatusCode::BAD_REQUEST, "invalid_grant")
    );
    assert_eq!(e.verify(&at1).unwrap_err(), TokenRejection::Revoked);
}

#[tokio::test]
async fn issuer_path_endpoints_live_under_the_issuer() {
    let e = env(Config {
        issuer_path: "/tenant1".into(),
        ..Config::default()
    })
    .await;
    assert!(e.issuer.ends_with("/tenant1"));
    let (client, tok) = e.tokens().await;
    assert!(e.verify(tok["access_token"].as_str().unwrap()).is_ok());
    assert_eq!(
        e.revoke(&client, tok["refresh_token"].as_str().unwrap(), None)
            .await,
        StatusCode::OK
    );
}

#[tokio::test]
async fn confidential_clients_basic_and_post() {
    let e = env(Config::default()).await;
    // Absent method: RFC 7591 default client_secret_basic, echoed.
    let (status, reg, headers) = e
        .register(json!({"redirect_uris": [REDIRECT], "grant_types": ["authorization_code", "refresh_token"]}))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(reg["token_endpoint_auth_method"], "client_secret_basic");
    assert_eq!(reg["client_secret_expires_at"], 0);
    assert_eq!(headers["cache-control"], "no-store");
    let basic = TestClient {
        id: reg["client_id"].as_str().unwrap().into(),
        secret: reg["client_secret"].as_str().map(str::to_owned),
    };
    let secret = basic.secret.clone().unwrap();

    // Basic, no client_id in the body (TOK-04).
    let p = pkce();
    let code = e.code(&basic, &p).await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
        ("code_verifier", p.verifier.as_str()),
    ];
    let (status, tok, _) = e.token_raw(&form, Some((&basic.id, &secret))).await;
    assert_eq!(status, StatusCode::OK, "{tok}");

    // Wrong secret via Basic: 401 invalid_client with a Basic challenge.
    let p = pkce();
    let code = e.code(&basic, &p).await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
        ("code_verifier", p.verifier.as_str()),
    ];
    let (status, body, headers) = e.token_raw(&form, Some((&basic.id, "wrong"))).await;
    assert_eq!(
        (status, error_of(&body)),
        (StatusCode::UNAUTHORIZED, "invalid_client")
    );
    assert!(
        headers["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Basic realm=")
    );

    // Basic plus client_secret in the body: two methods (TOK-06).
    let mut two = form.to_vec();
    two.push(("client_secret", &secret));
    let (status, body, _) = e.token_raw(&two, Some((&basic.id, &secret))).await;
    assert_eq!(
        (status, error_of(&body)),
        (StatusCode::BAD_REQUEST, "invalid_request")
    );

    // A basic client may not switch to client_secret_post.
    let mut post = form.to_vec();
    post.push(("client_id", &basic.id));
    post.push(("client_secret", &secret));
    let (_, body, _) = e.token_raw(&post, None).await;
    assert_eq!(error_of(&body), "invalid_client");

    // client_secret_post works for a post client (TOK-05).
    let post_client = e.client_with("client_secret_post").await;
    let psecret = post_client.secret.clone().unwrap();
    let p = pkce();
    let code = e.code(&post_client, &p).await;
    let (status, body, _) = e
        .token_raw(
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT),
                ("code_verifier", &p.verifier),
                ("client_id", &post_client.id),
                ("client_secret", &psecret),
            ],
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

// ------------------------------------------------------------------ DCR

#[tokio::test]
async fn registration_negatives() {
    let e = env(Config::default()).await;
    let cases = [
        (
            json!({"grant_types": ["authorization_code"]}),
            "invalid_redirect_uri",
        ),
        (
            json!({"redirect_uris": ["http://evil.example/cb"]}),
            "invalid_redirect_uri",
        ),
        (
            json!({"redirect_uris": ["https://client.example/cb#frag"]}),
            "invalid_redirect_uri",
        ),
        (
            json!({"redirect_uris": ["javascript:alert(1)"]}),
            "invalid_redirect_uri",
        ),
        (
            json!({"redirect_uris": ["data:text/html,x"]}),
            "invalid_redirect_uri",
        ),
        (
            json!({"redirect_uris": ["file:///etc/passwd"]}),
            "invalid_redirect_uri",
        ),
        (
            json!({"redirect_uris": ["vbscript:x"]}),
            "invalid_redirect_uri",
        ),
        (
            json!({"redirect_uris": ["/callback"]}),
            "invalid_redirect_uri",
        ),
        (
            json!({"redirect_uris": ["not a uri"]}),
            "invalid_redirect_uri",
        ),
        (
            json!({"redirect_uris": [REDIRECT], "grant_types": ["authorization_code"], "response_types": ["token"]}),
            "invalid_client_metadata",
        ),
        (
            json!({"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "bogus_method"}),
            "invalid_client_metadata",
        ),
        (
            json!({"redirect_uris": [REDIRECT], "scope": "definitely-not-a-scope"}),
            "invalid_client_metadata",
        ),
        (
            json!({"redirect_uris": [REDIRECT], "application_type": "bogus"}),
            "invalid_client_metadata",
        ),
    ];
    for (body, code) in cases {
        let (status, resp, headers) = e.register(body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(error_of(&resp), code, "{body}");
        assert!(resp["error_description"].is_string());
        assert!(
            headers["content-type"]
                .to_str()
                .unwrap()
                .starts_with("application/json")
        );
    }
    for ok in [
        "http://127.0.0.1:4000/cb",
        "http://[::1]:4000/cb",
        "http://localhost:4000/cb",
        "https://x.example/cb",
    ] {
        let (status, _, _) = e
            .register(json!({"redirect_uris": [ok], "token_endpoint_auth_method": "none"}))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{ok}");
    }
    // Malformed JSON and a non-JSON content type.
    let resp = e
        .http
        .post(e.at("/register"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        error_of(&resp.json().await.unwrap()),
        "invalid_client_metadata"
    );
    let resp = e
        .http
        .post(e.at("/register"))
        .form(&[("redirect_uris", REDIRECT)])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        error_of(&resp.json().await.unwrap()),
        "invalid_client_metadata"
    );
}

#[tokio::test]
async fn registrations_are_bounded() {
    let mut config = Config::default();
    config.limits.max_clients = 2;
    let e = env(config).await;
    e.public_client().await;
    e.public_client().await;
    let (status, body, _) = e
        .register(json!({"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none"}))
        .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(body["error"].is_string());
}

// ------------------------------------------------------------- authorize

#[tokio::test]
async fn authorize_refuses_to_redirect_to_untrusted_uris() {
    let e = env(Config::default()).await;
    let client = e.public_client().await;
    let p = pkce();
    // Unknown client (AUTHZ-02).
    let resp = e
        .authorize(&[
            ("response_type", "code"),
            ("client_id", "no-such-client"),
            ("redirect_uri", "https://attacker.example/cb"),
            ("code_challenge", &p.challenge),
            ("state", "s"),
        ])
        .await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert!(location(&resp).is_none());
    // Variants of the registered URI (AUTHZ-03).
    for variant in [
        "http://127.0.0.1:5555/callback2",
        "http://127.0.0.1:5555/callback/",
        "http://127.0.0.1:5555/callback?x=1",
        "https://127.0.0.1:5555/callback",
        "http://127.0.0.1:5555@evil.example/callback",
        "http://localhost:5555/callback",
        "http://127.0.0.1:5555/%63allback",
        "https://attacker.example/cb",
    ] {
        let resp = e
            .authorize_with(&client, &p, &[("redirect_uri", variant)])
            .await;
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{variant}");
        assert!(location(&resp).is_none(), "{variant}");
    }
    // Loopback port change is fine (AUTHZ-04) and the code goes to that port.
    let resp = e
        .authorize_with(
            &client,
            &p,
            &[("redirect_uri", "http://127.0.0.1:61000/callback")],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::FOUND);
    assert!(
        location(&resp)
            .unwrap()
            .starts_with("http://127.0.0.1:61000/callback?")
    );
    // Duplicated redirect_uri: error page (AUTHZ-07).
    let resp = e
        .authorize(&[
            ("response_type", "code"),
            ("client_id", &client.id),
            ("redirect_uri", REDIRECT),
            ("redirect_uri", REDIRECT),
            ("code_challenge", &p.challenge),
        ])
        .await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert!(location(&resp).is_none());
}

#[tokio::test]
async fn several_registered_uris_require_redirect_uri() {
    let e = env(Config::default()).await;
    let (_, reg, _) = e
        .register(json!({
            "redirect_uris": [REDIRECT, "http://127.0.0.1:5555/other"],
            "token_endpoint_auth_method": "none",
        }))
        .await;
    let client = TestClient {
        id: reg["client_id"].as_str().unwrap().into(),
        secret: None,
    };
    let p = pkce();
    let resp = e.authorize_with(&client, &p, &[("redirect_uri", "")]).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert!(location(&resp).is_none());
    // With one registered URI it may be omitted.
    let single = e.public_client().await;
    let resp = e.authorize_with(&single, &p, &[("redirect_uri", "")]).await;
    assert_eq!(resp.status(), StatusCode::FOUND);
}

#[tokio::test]
async fn authorize_error_redirects() {
    let e = env(Config::default()).await;
    let client = e.public_client().await;
    let p = pkce();
    let long = "a".repeat(129);
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (vec![("response_type", "")], "unsupported_response_type"),
        (
            vec![("response_type", "token")],
            "unsupported_response_type",
        ),
        (vec![("code_challenge", "")], "invalid_request"),
        (vec![("code_challenge_method", "plain")], "invalid_request"),
        (vec![("code_challenge_method", "S512")], "invalid_request"),
        (vec![("code_challenge", "tooshort")], "invalid_request"),
        (vec![("code_challenge", &long)], "invalid_request"),
        (vec![("scope", "__invalid__")], "invalid_scope"),
        (
            vec![("resource", "https://unrelated.example/mcp")],
            "invalid_target",
        ),
        (vec![("resource", "mcp")], "invalid_target"),
        (vec![("login_hint", "Not Valid")], "invalid_request"),
    ];
    for (overrides, code) in cases {
        let resp = e.authorize_with(&client, &p, &overrides).await;
        assert_eq!(resp.status(), StatusCode::FOUND, "{overrides:?}");
        let loc = location(&resp).unwrap();
        assert!(loc.starts_with(REDIRECT));
        let q = query_of(&loc);
        assert_eq!(
            q.get("error").map(String::as_str),
            Some(code),
            "{overrides:?}"
        );
        assert_eq!(q["state"], "st-123");
        assert_eq!(q["iss"], e.issuer);
        assert!(!q.contains_key("code"));
    }
    let frag = format!("{}#x", e.mcp);
    let resp = e.authorize_with(&client, &p, &[("resource", &frag)]).await;
    assert_eq!(
        query_of(&location(&resp).unwrap())["error"],
        "invalid_target"
    );
    // Duplicated state or code_challenge: invalid_request by redirect.
    for dup in ["state", "code_challenge"] {
        let mut params = vec![
            ("response_type", "code"),
            ("client_id", client.id.as_str()),
            ("redirect_uri", REDIRECT),
            ("code_challenge", p.challenge.as_str()),
            ("state", "s"),
        ];
        params.push((dup, "again"));
        let resp = e.authorize(&params).await;
        assert_eq!(resp.status(), StatusCode::FOUND);
        assert_eq!(
            query_of(&location(&resp).unwrap())["error"],
            "invalid_request"
        );
    }
}

#[tokio::test]
async fn authorize_accepts_variants_the_spec_allows() {
    let e = env(Config::default()).await;
    let client = e.public_client().await;
    let p = pkce();
    // Absent method means S256; unknown parameters are ignored; upper-case
    // scheme/host resource is accepted; scope omitted gets the default.
    let upper = e.mcp.replace("http://", "HTTP://");
    let resp = e
        .authorize_with(
            &client,
            &p,
            &[
                ("code_challenge_method", ""),
                ("foo", "bar"),
                ("resource", &upper),
                ("scope", ""),
                ("login_hint", "bob"),
            ],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::FOUND);
    let code = query_of(&location(&resp).unwrap())["code"].clone();
    let (status, tok, _) = e.redeem(&client, &code, &p).await;
    assert_eq!(status, StatusCode::OK, "{tok}");
    assert_eq!(tok["scope"], "mcp:tools");
    let claims = e.verify(tok["access_token"].as_str().unwrap()).unwrap();
    assert_eq!(claims.sub, "bob");
    assert_eq!(claims.aud, e.mcp);
    // POST authorization requests work too.
    let resp = e
        .http
        .post(e.at("/authorize"))
        .form(&[
            ("response_type", "code"),
            ("client_id", client.id.as_str()),
            ("redirect_uri", REDIRECT),
            ("code_challenge", p.challenge.as_str()),
            ("state", "s"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FOUND);
    assert!(query_of(&location(&resp).unwrap()).contains_key("code"));
}

#[tokio::test]
async fn consent_page_approve_and_deny() {
    let e = env(Config {
        consent: ConsentMode::Page,
        ..Config::default()
    })
    .await;
    let client = e.public_client().await;
    let p = pkce();
    let request_id = |html: &str| {
        let start = html.find("name=\"request_id\" value=\"").unwrap() + 25;
        html[start..].split('"').next().unwrap().to_owned()
    };
    let resp = e.authorize_with(&client, &p, &[]).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let html = resp.text().await.unwrap();
    assert!(html.contains("127.0.0.1"), "the redirect host is shown");
    let id = request_id(&html);
    let resp = e
        .http
        .post(e.at("/authorize"))
        .form(&[("request_id", id.as_str()), ("decision", "approve")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let q = query_of(&location(&resp).unwrap());
    assert_eq!(q["state"], "st-123");
    let (status, _, _) = e.redeem(&client, &q["code"], &p).await;
    assert_eq!(status, StatusCode::OK);
    // The request id is single use.
    let resp = e
        .http
        .post(e.at("/authorize"))
        .form(&[("request_id", id.as_str()), ("decision", "approve")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);

    let html = e
        .authorize_with(&client, &p, &[])
        .await
        .text()
        .await
        .unwrap();
    let resp = e
        .http
        .post(e.at("/authorize"))
        .form(&[
            ("request_id", request_id(&html).as_str()),
            ("decision", "deny"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        query_of(&location(&resp).unwrap())["error"],
        "access_denied"
    );
}

// ------------------------------------------------------------------ token

#[tokio::test]
async fn token_endpoint_negatives() {
    let e = env(Config::default()).await;
    let client = e.public_client().await;
    let other = e.public_client().await;
    let p = pkce();

    // Random code (CODE-07), with the TOK-02 error form.
    let (status, body, headers) = e.redeem(&client, "random-code", &p).await;
    assert_eq!(
        (status, error_of(&body)),
        (StatusCode::BAD_REQUEST, "invalid_grant")
    );
    assert_eq!(headers["cache-control"], "no-store");

    // Unsupported grant types (TOK-07).
    for g in ["password", "implicit", "client_credentials", "urn:x:bogus"] {
        let (status, body, _) = e
            .token_raw(
                &[
                    ("grant_type", g),
                    ("client_id", &client.id),
                    ("username", "a"),
                    ("password", "b"),
                ],
                None,
            )
            .await;
        assert_eq!(
            (status, error_of(&body)),
            (StatusCode::BAD_REQUEST, "unsupported_grant_type"),
            "{g}"
        );
        assert!(body.get("access_token").is_none());
    }

    // GET and JSON bodies issue nothing (TOK-08).
    let resp = e
        .http
        .get(format!("{}?grant_type=authorization_code", e.at("/token")))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);
    let code = e.code(&client, &p).await;
    let resp = e
        .http
        .post(e.at("/token"))
        .json(&json!({"grant_type": "authorization_code", "code": code, "code_verifier": p.verifier, "client_id": client.id, "redirect_uri": REDIRECT}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_of(&resp.json().await.unwrap()), "invalid_request");

    // Duplicated parameters (TOK-09).
    let (status, body, _) = e
        .token_raw(
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("code", &code),
                ("client_id", &client.id),
            ],
            None,
        )
        .await;
    assert_eq!(
        (status, error_of(&body)),
        (StatusCode::BAD_REQUEST, "invalid_request")
    );

    // Unknown client (TOK-03).
    let (status, body, _) = e
        .token_raw(
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("client_id", "nobody"),
            ],
            None,
        )
        .await;
    assert_eq!(
        (status, error_of(&body)),
        (StatusCode::UNAUTHORIZED, "invalid_client")
    );

    // Missing verifier (PKCE-07), wrong verifier (PKCE-06).
    let base = |extra: Vec<(&'static str, String)>| {
        let mut f: Vec<(&'static str, String)> = vec![
            ("grant_type", "authorization_code".into()),
            ("code", code.clone()),
            ("redirect_uri", REDIRECT.into()),
            ("client_id", client.id.clone()),
        ];
        f.extend(extra);
        f
    };
    let send = |f: Vec<(&'static str, String)>| {
        let e = &e;
        async move {
            let pairs: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
            e.token_raw(&pairs, None).await
        }
    };
    let (status, body, _) = send(base(vec![])).await;
    assert_eq!(
        (status, error_of(&body)),
        (StatusCode::BAD_REQUEST, "invalid_request")
    );
    let (_, body, _) = send(base(vec![("code_verifier", pkce().verifier)])).await;
    assert_eq!(error_of(&body), "invalid_grant");
    // The challenge itself is not a verifier (no plain downgrade, PKCE-03).
    let (_, body, _) = send(base(vec![("code_verifier", p.challenge.clone())])).await;
    assert_eq!(error_of(&body), "invalid_grant");

    // Another client (CODE-04), another redirect URI (CODE-05), another
    // resource (TOK-10).
    let (_, body, _) = e.redeem(&other, &code, &p).await;
    assert_eq!(error_of(&body), "invalid_grant");
    let mut f = base(vec![("code_verifier", p.verifier.clone())]);
    f.retain(|(k, _)| *k != "redirect_uri");
    f.push(("redirect_uri", "http://127.0.0.1:5556/callback".into()));
    let (_, body, _) = send(f).await;
    assert_eq!(error_of(&body), "invalid_grant");
    let (_, body, _) = send(base(vec![
        ("code_verifier", p.verifier.clone()),
        ("resource", "https://other.invalid/mcp".into()),
    ]))
    .await;
    assert_eq!(error_of(&body), "invalid_target");
    let (_, body, _) = send(base(vec![
        ("code_verifier", p.verifier.clone()),
        ("resource", e.mcp_alt.clone()),
    ]))
    .await;
    assert_eq!(error_of(&body), "invalid_target");

    // None of the failures consumed the code.
    let (status, body, _) = e.redeem(&client, &code, &p).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn code_expires_by_the_virtual_clock() {
    let e = env(Config::default()).await;
    let client = e.public_client().await;
    let p = pkce();
    let code = e.code(&client, &p).await;
    e.server.state.clock.advance(Duration::from_secs(301));
    let (_, body, _) = e.redeem(&client, &code, &p).await;
    assert_eq!(error_of(&body), "invalid_grant");
}

#[tokio::test]
async fn access_tokens_expire_by_the_virtual_clock() {
    let e = env(Config::default()).await;
    let (_, tok) = e.tokens().await;
    let at = tok["access_token"].as_str().unwrap();
    assert!(e.verify(at).is_ok());
    e.server.state.clock.advance(Duration::from_secs(3601));
    assert_eq!(e.verify(at).unwrap_err(), TokenRejection::Expired);
}

#[tokio::test]
async fn verify_rejects_garbage_and_forgeries() {
    let e = env(Config::default()).await;
    for garbage in ["", "abc", "a.b.c", "....", "\u{0}", &"x".repeat(20_000)] {
        assert!(e.verify(garbage).is_err());
    }
    let (_, tok) = e.tokens().await;
    let at = tok["access_token"].as_str().unwrap();
    let forged = alg_none(at);
    assert!(matches!(
        e.verify(&forged),
        Err(TokenRejection::Malformed | TokenRejection::BadSignature)
    ));
    let resigned = foreign_signed(at);
    assert_eq!(
        e.verify(&resigned).unwrap_err(),
        TokenRejection::BadSignature
    );
}

/// The same claims with `alg: none` and no signature.
fn alg_none(token: &str) -> String {
    let payload = token.split('.').nth(1).unwrap();
    format!(
        "{}.{payload}.",
        URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#)
    )
}

/// The same claims signed by a key the server never saw.
fn foreign_signed(token: &str) -> String {
    let payload = token.split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    let key = p256::SecretKey::random(&mut rand_core::OsRng);
    let der = p256::pkcs8::EncodePrivateKey::to_pkcs8_der(&key).unwrap();
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256),
        &claims,
        &jsonwebtoken::EncodingKey::from_ec_der(der.as_bytes()),
    )
    .unwrap()
}

#[tokio::test]
async fn code_replay_revokes_what_the_code_issued() {
    let e = env(Config::default()).await;
    let client = e.public_client().await;
    let p = pkce();
    let code = e.code(&client, &p).await;
    let (_, tok, _) = e.redeem(&client, &code, &p).await;
    let at = tok["access_token"].as_str().unwrap();
    let rt = tok["refresh_token"].as_str().unwrap();

    // A replay with a wrong verifier revokes nothing (CODE-02).
    let (_, body, _) = e.redeem(&client, &code, &pkce()).await;
    assert_eq!(error_of(&body), "invalid_grant");
    assert!(e.verify(at).is_ok());

    // A valid replay is refused and revokes the access and refresh tokens.
    let (status, body, _) = e.redeem(&client, &code, &p).await;
    assert_eq!(
        (status, error_of(&body)),
        (StatusCode::BAD_REQUEST, "invalid_grant")
    );
    assert_eq!(e.verify(at).unwrap_err(), TokenRejection::Revoked);
    let (_, body, _) = e.refresh(&client, rt, &[]).await;
    assert_eq!(error_of(&body), "invalid_grant");
}

#[tokio::test]
async fn concurrent_redemptions_have_exactly_one_winner() {
    let e = Arc::new(env(Config::default()).await);
    let client = Arc::new(e.public_client().await);
    let p = Arc::new(pkce());
    let code = Arc::new(e.code(&client, &p).await);
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let (e, client, p, code) = (e.clone(), client.clone(), p.clone(), code.clone());
        tasks.push(tokio::spawn(
            async move { e.redeem(&client, &code, &p).await.0 },
        ));
    }
    let mut ok = 0;
    for t in tasks {
        let status = t.await.unwrap();
        if status == StatusCode::OK {
            ok += 1;
        } else {
            assert_eq!(status, StatusCode::BAD_REQUEST);
        }
    }
    assert_eq!(ok, 1);
}

#[tokio::test]
async fn refresh_rules() {
    let e = env(Config::default()).await;
    let (client, tok) = e.tokens().await;
    let other = e.public_client().await;
    let rt1 = tok["refresh_token"].as_str().unwrap().to_owned();

    // Random RT (REF-06), another client's RT (REF-05), widening (REF-04),
    // another resource (REF-07): all refused without consuming rt1.
    let (status, body, _) = e.refresh(&client, "random", &[]).await;
    assert_eq!(
        (status, error_of(&body)),
        (StatusCode::BAD_REQUEST, "invalid_grant")
    );
    let (_, body, _) = e.refresh(&other, &rt1, &[]).await;
    assert_eq!(error_of(&body), "invalid_grant");
    let (_, body, _) = e
        .refresh(&client, &rt1, &[("scope", "mcp:tools mcp:admin")])
        .await;
    assert_eq!(error_of(&body), "invalid_scope");
    let (_, body, _) = e
        .refresh(&client, &rt1, &[("resource", "https://other.invalid/mcp")])
        .await;
    assert_eq!(error_of(&body), "invalid_target");

    // Rotation (REF-02) and reuse detection (REF-03).
    let (status, tok2, _) = e.refresh(&client, &rt1, &[("scope", "mcp:tools")]).await;
    assert_eq!(status, StatusCode::OK, "{tok2}");
    let rt2 = tok2["refresh_token"].as_str().unwrap().to_owned();
    let at2 = tok2["access_token"].as_str().unwrap().to_owned();
    assert_ne!(rt1, rt2);
    let (_, body, _) = e.refresh(&client, &rt1, &[]).await;
    assert_eq!(error_of(&body), "invalid_grant");
    let (_, body, _) = e.refresh(&client, &rt2, &[]).await;
    assert_eq!(error_of(&body), "invalid_grant", "the family is revoked");
    assert_eq!(e.verify(&at2).unwrap_err(), TokenRejection::Revoked);
}

#[tokio::test]
async fn scope_can_narrow_on_refresh() {
    let e = env(Config::default()).await;
    let client = e.public_client().await;
    let p = pkce();
    let resp = e
        .authorize_with(&client, &p, &[("scope", "mcp:tools mcp:admin")])
        .await;
    let code = query_of(&location(&resp).unwrap())["code"].clone();
    let (_, tok, _) = e.redeem(&client, &code, &p).await;
    assert_eq!(tok["scope"], "mcp:tools mcp:admin");
    let (status, tok2, _) = e
        .refresh(
            &client,
            tok["refresh_token"].as_str().unwrap(),
            &[("scope", "mcp:tools")],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(tok2["scope"], "mcp:tools");
    // The grant keeps its original scope: widening back is allowed.
    let (status, tok3, _) = e
        .refresh(
            &client,
            tok2["refresh_token"].as_str().unwrap(),
            &[("scope", "mcp:tools mcp:admin")],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{tok3}");
}

#[tokio::test]
async fn revocation_edge_cases() {
    let e = env(Config::default()).await;
    let (client, tok) = e.tokens().await;
    assert_eq!(
        e.revoke(&client, "unknown-token", None).await,
        StatusCode::OK
    );
    let at = tok["access_token"].as_str().unwrap();
    assert_eq!(
        e.revoke(&client, at, Some("bogus_hint")).await,
        StatusCode::OK
    );
    assert_eq!(e.verify(at).unwrap_err(), TokenRejection::Revoked);
    // Another client cannot revoke someone else's token.
    let other = e.public_client().await;
    let rt = tok["refresh_token"].as_str().unwrap();
    assert_eq!(e.revoke(&other, rt, None).await, StatusCode::OK);
    let (status, _, _) = e.refresh(&client, rt, &[]).await;
    assert_eq!(status, StatusCode::OK);
    // No client authentication: invalid_client.
    let resp = e
        .http
        .post(e.at("/revoke"))
        .form(&[("token", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
}

// ----------------------------------------------------------------- faults

#[tokio::test]
async fn fault_pkce_not_verified() {
    let e = env(with_faults(&[Fault::PkceNotVerified])).await;
    let client = e.public_client().await;
    let p = pkce();
    let code = e.code(&client, &p).await;
    let (status, body, _) = e.redeem(&client, &code, &pkce()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn fault_pkce_plain_accepted() {
    let e = env(with_faults(&[Fault::PkcePlainAccepted])).await;
    let client = e.public_client().await;
    let p = pkce();
    let resp = e
        .authorize_with(
            &client,
            &p,
            &[
                ("code_challenge", &p.verifier),
                ("code_challenge_method", "plain"),
            ],
        )
        .await;
    let code = query_of(&location(&resp).unwrap())["code"].clone();
    let (status, _, _) = e.redeem(&client, &code, &p).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn fault_pkce_missing_challenge_accepted() {
    let e = env(with_faults(&[Fault::PkceMissingChallengeAccepted])).await;
    let client = e.public_client().await;
    let p = pkce();
    let resp = e
        .authorize_with(
            &client,
            &p,
            &[("code_challenge", ""), ("code_challenge_method", "")],
        )
        .await;
    let code = query_of(&location(&resp).unwrap())["code"].clone();
    let (status, body, _) = e
        .token_raw(
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT),
                ("client_id", &client.id),
            ],
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn fault_pkce_absent_method_plain() {
    let e = env(with_faults(&[Fault::PkceAbsentMethodPlain])).await;
    let client = e.public_client().await;
    let p = pkce();
    let resp = e
        .authorize_with(&client, &p, &[("code_challenge_method", "")])
        .await;
    let code = query_of(&location(&resp).unwrap())["code"].clone();
    // The challenge string itself passes as a plain verifier.
    let plain = Pkce {
        verifier: p.challenge.clone(),
        challenge: p.challenge.clone(),
    };
    let (status, body, _) = e.redeem(&client, &code, &plain).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn fault_code_reusable() {
    let e = env(with_faults(&[Fault::CodeReusable])).await;
    let client = e.public_client().await;
    let p = pkce();
    let code = e.code(&client, &p).await;
    assert_eq!(e.redeem(&client, &code, &p).await.0, StatusCode::OK);
    assert_eq!(e.redeem(&client, &code, &p).await.0, StatusCode::OK);
}

#[tokio::test]
async fn fault_code_never_expires() {
    let e = env(with_faults(&[Fault::CodeNeverExpires])).await;
    let client = e.public_client().await;
    let p = pkce();
    let code = e.code(&client, &p).await;
    e.server.state.clock.advance(Duration::from_secs(3600));
    assert_eq!(e.redeem(&client, &code, &p).await.0, StatusCode::OK);
}

#[tokio::test]
async fn fault_redirect_uri_prefix_match() {
    let e = env(with_faults(&[Fault::RedirectUriPrefixMatch])).await;
    let client = e.public_client().await;
    let p = pkce();
    let evil = format!("{REDIRECT}.evil.example/x");
    let resp = e
        .authorize_with(&client, &p, &[("redirect_uri", &evil)])
        .await;
    assert_eq!(resp.status(), StatusCode::FOUND);
    assert!(location(&resp).unwrap().starts_with(&evil));
}

#[tokio::test]
async fn fault_redirect_uri_unchecked_at_token() {
    let e = env(with_faults(&[Fault::RedirectUriUncheckedAtToken])).await;
    let client = e.public_client().await;
    let p = pkce();
    let code = e.code(&client, &p).await;
    let (status, _, _) = e
        .token_raw(
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", "http://127.0.0.1:5555/elsewhere"),
                ("code_verifier", &p.verifier),
                ("client_id", &client.id),
            ],
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn fault_dcr_unsafe_redirect_accepted() {
    let e = env(with_faults(&[Fault::DcrUnsafeRedirectAccepted])).await;
    for uri in [
        "http://evil.example/cb",
        "javascript:alert(1)",
        "https://c.example/cb#f",
        "/callback",
    ] {
        let (status, _, _) = e
            .register(json!({"redirect_uris": [uri], "token_endpoint_auth_method": "none"}))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{uri}");
    }
}

#[tokio::test]
async fn fault_audience_not_checked() {
    let e = env(with_faults(&[Fault::AudienceNotChecked])).await;
    let (_, tok) = e.tokens().await;
    let at = tok["access_token"].as_str().unwrap();
    assert!(verify_access_token(&e.server.state, at, &e.mcp_alt).is_ok());
}

#[tokio::test]
async fn fault_expired_token_accepted() {
    let e = env(with_faults(&[Fault::ExpiredTokenAccepted])).await;
    let (_, tok) = e.tokens().await;
    e.server.state.clock.advance(Duration::from_secs(7200));
    assert!(e.verify(tok["access_token"].as_str().unwrap()).is_ok());
}

#[tokio::test]
async fn fault_signature_not_verified() {
    let e = env(with_faults(&[Fault::SignatureNotVerified])).await;
    let (_, tok) = e.tokens().await;
    let at = tok["access_token"].as_str().unwrap();
    assert!(e.verify(&alg_none(at)).is_ok());
    assert!(e.verify(&foreign_signed(at)).is_ok());
}

#[tokio::test]
async fn fault_s256_missing_from_metadata() {
    let e = env(with_faults(&[Fault::S256MissingFromMetadata])).await;
    let meta: Value = e
        .http
        .get(format!(
            "{}/.well-known/oauth-authorization-server",
            e.origin
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(meta.get("code_challenge_methods_supported").is_none());
}

#[tokio::test]
async fn fault_issuer_trailing_slash() {
    let e = env(with_faults(&[Fault::IssuerTrailingSlash])).await;
    let meta: Value = e
        .http
        .get(format!("{}/.well-known/openid-configuration", e.origin))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(meta["issuer"], format!("{}/", e.issuer));
}

#[tokio::test]
async fn fault_refresh_not_rotated() {
    let e = env(with_faults(&[Fault::RefreshNotRotated])).await;
    let (client, tok) = e.tokens().await;
    let rt = tok["refresh_token"].as_str().unwrap();
    let (status, tok2, _) = e.refresh(&client, rt, &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(tok2["refresh_token"], rt);
    assert_eq!(e.refresh(&client, rt, &[]).await.0, StatusCode::OK);
}

#[tokio::test]
async fn fault_refresh_reuse_not_detected() {
    let e = env(with_faults(&[Fault::RefreshReuseNotDetected])).await;
    let (client, tok) = e.tokens().await;
    let rt1 = tok["refresh_token"].as_str().unwrap();
    let (_, tok2, _) = e.refresh(&client, rt1, &[]).await;
    let rt2 = tok2["refresh_token"].as_str().unwrap();
    assert_eq!(e.refresh(&client, rt1, &[]).await.0, StatusCode::OK);
    assert_eq!(e.refresh(&client, rt2, &[]).await.0, StatusCode::OK);
}

#[tokio::test]
async fn fault_invalid_grant_as_500() {
    let e = env(with_faults(&[Fault::InvalidGrantAs500])).await;
    let client = e.public_client().await;
    let (status, body, _) = e.redeem(&client, "random-code", &pkce()).await;
    assert_eq!(
        (status, error_of(&body)),
        (StatusCode::INTERNAL_SERVER_ERROR, "server_error")
    );
}

#[tokio::test]
async fn fault_state_not_echoed() {
    let e = env(with_faults(&[Fault::StateNotEchoed])).await;
    let client = e.public_client().await;
    let p = pkce();
    let ok = query_of(&location(&e.authorize_with(&client, &p, &[]).await).unwrap());
    assert!(ok.contains_key("code") && !ok.contains_key("state"));
    let err = query_of(
        &location(
            &e.authorize_with(&client, &p, &[("scope", "__invalid__")])
                .await,
        )
        .unwrap(),
    );
    assert!(err.contains_key("error") && !err.contains_key("state"));
}

#[tokio::test]
async fn fault_code_not_bound_to_client() {
    let e = env(with_faults(&[Fault::CodeNotBoundToClient])).await;
    let a = e.public_client().await;
    let b = e.public_client().await;
    let p = pkce();
    let code = e.code(&a, &p).await;
    assert_eq!(e.redeem(&b, &code, &p).await.0, StatusCode::OK);
}

#[tokio::test]
async fn fault_no_cache_control() {
    let e = env(with_faults(&[Fault::NoCacheControl])).await;
    let client = e.public_client().await;
    let p = pkce();
    let code = e.code(&client, &p).await;
    let (status, _, headers) = e.redeem(&client, &code, &p).await;
    assert_eq!(status, StatusCode::OK);
    assert!(headers.get("cache-control").is_none());
    assert!(headers.get("pragma").is_none());
}

#[tokio::test]
async fn fault_error_redirect_unregistered() {
    let e = env(with_faults(&[Fault::ErrorRedirectUnregistered])).await;
    let resp = e
        .authorize(&[
            ("response_type", "code"),
            ("client_id", "no-such-client"),
            ("redirect_uri", "https://attacker.example/cb"),
            ("state", "s"),
        ])
        .await;
    assert_eq!(resp.status(), StatusCode::FOUND);
    assert!(
        location(&resp)
            .unwrap()
            .starts_with("https://attacker.example/cb?")
    );
}

#[tokio::test]
async fn fault_dcr_secret_without_expiry() {
    let e = env(with_faults(&[Fault::DcrSecretWithoutExpiry])).await;
    let (_, reg, _) = e
        .register(json!({"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "client_secret_basic"}))
        .await;
    assert!(reg["client_secret"].is_string());
    assert!(reg.get("client_secret_expires_at").is_none());
}

#[tokio::test]
async fn fault_basic_auth_broken() {
    let e = env(with_faults(&[Fault::BasicAuthBroken])).await;
    let client = e.client_with("client_secret_basic").await;
    let secret = client.secret.clone().unwrap();
    let p = pkce();
    let code = e.code(&client, &p).await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
        ("code_verifier", p.verifier.as_str()),
    ];
    let (status, body, _) = e.token_raw(&form, Some((&client.id, &secret))).await;
    assert_eq!(
        (status, error_of(&body)),
        (StatusCode::BAD_REQUEST, "invalid_request")
    );
}

#[tokio::test]
async fn fault_wrong_client_auth_error() {
    let e = env(with_faults(&[Fault::WrongClientAuthError])).await;
    let client = e.client_with("client_secret_basic").await;
    let p = pkce();
    let code = e.code(&client, &p).await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
        ("code_verifier", p.verifier.as_str()),
    ];
    let (_, body, _) = e.token_raw(&form, Some((&client.id, "wrong"))).await;
    assert_eq!(error_of(&body), "unauthorized_client");
}

#[tokio::test]
async fn fault_replay_not_revoking() {
    let e = env(with_faults(&[Fault::ReplayNotRevoking])).await;
    let client = e.public_client().await;
    let p = pkce();
    let code = e.code(&client, &p).await;
    let (_, tok, _) = e.redeem(&client, &code, &p).await;
    let (_, body, _) = e.redeem(&client, &code, &p).await;
    assert_eq!(error_of(&body), "invalid_grant");
    assert!(e.verify(tok["access_token"].as_str().unwrap()).is_ok());
    let (status, _, _) = e
        .refresh(&client, tok["refresh_token"].as_str().unwrap(), &[])
        .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn fault_resource_not_validated() {
    let e = env(with_faults(&[Fault::ResourceNotValidated])).await;
    let client = e.public_client().await;
    let p = pkce();
    let resp = e
        .authorize_with(
            &client,
            &p,
            &[("resource", "https://unrelated.example/mcp")],
        )
        .await;
    let q = query_of(&location(&resp).unwrap());
    assert!(q.contains_key("code"), "{q:?}");
}

#[tokio::test]
async fn fault_revocation_ignored() {
    let e = env(with_faults(&[Fault::RevocationIgnored])).await;
    let (client, tok) = e.tokens().await;
    let at = tok["access_token"].as_str().unwrap();
    assert_eq!(e.revoke(&client, at, None).await, StatusCode::OK);
    assert!(e.verify(at).is_ok());
}

// ------------------------------------------------------------------- CIMD

/// A tiny document host: serves client ID metadata documents and counts
/// requests per path.
struct DocHost {
    base: String,
    hits: Hits,
}

type Hits = Arc<std::sync::Mutex<HashMap<String, usize>>>;

impl DocHost {
    fn hits(&self, path: &str) -> usize {
        self.hits.lock().unwrap().get(path).copied().unwrap_or(0)
    }
}

async fn doc_host() -> DocHost {
    use axum::extract::{Path, State};
    use axum::response::IntoResponse;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let hits: Hits = Arc::default();
    let state = (base.clone(), hits.clone());
    let app = axum::Router::new()
        .route(
            "/cimd/{name}",
            axum::routing::get(
                |State((base, hits)): State<(String, Hits)>, Path(name): Path<String>| async move {
                    *hits
                        .lock()
                        .unwrap()
                        .entry(format!("/cimd/{name}"))
                        .or_default() += 1;
                    let url = format!("{base}/cimd/{name}");
                    let doc = |id: &str, extra: Value| {
                        let mut d = json!({
                            "client_id": id,
                            "client_name": "cimd-client",
                            "redirect_uris": [REDIRECT],
                            "grant_types": ["authorization_code"],
                            "response_types": ["code"],
                            "token_endpoint_auth_method": "none",
                        });
                        for (k, v) in extra.as_object().unwrap() {
                            d[k] = v.clone();
                        }
                        axum::Json(d).into_response()
                    };
                    match name.as_str() {
                        "ok.json" => doc(&url, json!({})),
                        "mismatch.json" => doc(&format!("{url}/"), json!({})),
                        "secret.json" => doc(
                            &url,
                            json!({"token_endpoint_auth_method": "client_secret_basic"}),
                        ),
                        "redirect.json" => (
                            axum::http::StatusCode::FOUND,
                            [("location", format!("{base}/cimd/ok.json"))],
                        )
                            .into_response(),
                        "html.json" => "<html></html>".into_response(),
                        _ => axum::http::StatusCode::NOT_FOUND.into_response(),
                    }
                },
            ),
        )
        .with_state(state);
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    DocHost { base, hits }
}

fn cimd_config() -> Config {
    Config {
        allow_http_cimd: true,
        ..Config::default()
    }
}

#[tokio::test]
async fn cimd_client_full_flow_and_cache() {
    let host = doc_host().await;
    let e = env(cimd_config()).await;
    let client = TestClient {
        id: format!("{}/cimd/ok.json", host.base),
        secret: None,
    };
    let p = pkce();
    let code = e.code(&client, &p).await;
    let (status, body, _) = e.redeem(&client, &code, &p).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // Authorize and token both used the cached document.
    assert_eq!(host.hits("/cimd/ok.json"), 1);
    // A redirect URI outside the document: error page, no redirect (CIMD-04).
    let resp = e
        .authorize_with(
            &client,
            &p,
            &[("redirect_uri", "http://127.0.0.1:5555/elsewhere")],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert!(location(&resp).is_none());
}

#[tokio::test]
async fn cimd_bad_documents_are_refused_without_redirect() {
    let host = doc_host().await;
    let e = env(cimd_config()).await;
    let p = pkce();
    for name in [
        "mismatch.json",
        "secret.json",
        "redirect.json",
        "html.json",
        "missing.json",
    ] {
        let client = TestClient {
            id: format!("{}/cimd/{name}", host.base),
            secret: None,
        };
        let resp = e.authorize_with(&client, &p, &[]).await;
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{name}");
        assert!(location(&resp).is_none(), "{name}");
    }
    // The redirect was not followed (CIMD-06), and errors are not cached.
    assert_eq!(host.hits("/cimd/ok.json"), 0);
    let client = TestClient {
        id: format!("{}/cimd/mismatch.json", host.base),
        secret: None,
    };
    e.authorize_with(&client, &p, &[]).await;
    assert_eq!(host.hits("/cimd/mismatch.json"), 2);
}

#[tokio::test]
async fn cimd_malformed_urls_are_never_fetched() {
    let host = doc_host().await;
    let e = env(cimd_config()).await;
    let p = pkce();
    for id in [
        format!("{}/cimd/ok.json#frag", host.base),
        format!("{}/cimd/../cimd/ok.json", host.base),
        format!("{}/cimd/./ok.json", host.base),
        host.base.replace("http://", "http://user:pw@") + "/cimd/ok.json",
        host.base.clone(),
    ] {
        let client = TestClient {
            id: id.clone(),
            secret: None,
        };
        let resp = e.authorize_with(&client, &p, &[]).await;
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{id}");
    }
    assert_eq!(host.hits("/cimd/ok.json"), 0);
    // Without allow_http_cimd, http URLs are refused outright (CIMD-07).
    let strict = env(Config::default()).await;
    let client = TestClient {
        id: format!("{}/cimd/ok.json", host.base),
        secret: None,
    };
    let resp = strict.authorize_with(&client, &p, &[]).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_eq!(host.hits("/cimd/ok.json"), 0);
}

#[tokio::test]
async fn fault_cimd_client_id_unchecked() {
    let host = doc_host().await;
    let e = env(Config {
        faults: [Fault::CimdClientIdUnchecked].into_iter().collect(),
        ..cimd_config()
    })
    .await;
    let client = TestClient {
        id: format!("{}/cimd/mismatch.json", host.base),
        secret: None,
    };
    let p = pkce();
    // The document names another URL, yet the request is accepted.
    let resp = e.authorize_with(&client, &p, &[]).await;
    assert_eq!(resp.status(), StatusCode::FOUND);
    assert!(location(&resp).is_some());
}
