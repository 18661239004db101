//! Deterministic generation of hostile cases, one surface at a time.
//!
//! Every case is a function of `(seed, index)` alone: [`Rng::for_case`]
//! derives the case's own generator from both, so a run reproduces exactly
//! whatever the concurrency or timing, and a finding's case index is enough
//! to regenerate it. Each family mixes a valid request with one hostile
//! element, so the server gets past its first check and the element under
//! test is the one that decides.
//!
//! Values only the run knows at send time (a fresh authorization code and
//! its verifier, the access token, the session id) appear as placeholders
//! (`{{code}}`, `{{verifier}}`, `{{challenge}}`, `{{token}}`, `{{session}}`)
//! and are filled in when the case is sent; the curl command shows them as
//! shell variables, so no real credential of the run is ever printed.

use serde_json::{Value, json};

use super::{Body, Case, Endpoint, Env, Prep, Surface};
use crate::core::{jwt, pkce};

/// SplitMix64 (Steele, Lea, Flood 2014): tiny, fast, and good enough to
/// pick among hostile values. Not for anything secret.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The generator of case `index` of a run seeded with `seed`.
    pub fn for_case(seed: u64, index: u64) -> Rng {
        let mut r = Rng(seed ^ index.wrapping_mul(0xD1B5_4A32_D192_ED03));
        // Decorrelate neighbouring indexes.
        r.next_u64();
        r
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`; slight modulo bias is irrelevant here).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    /// True one time in `n`.
    pub fn one_in(&mut self, n: usize) -> bool {
        self.below(n) == 0
    }

    /// A string of `len` characters from `alphabet`.
    pub fn string(&mut self, len: usize, alphabet: &str) -> String {
        let chars: Vec<char> = alphabet.chars().collect();
        (0..len).map(|_| *self.pick(&chars)).collect()
    }

    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next_u64() as u8).collect()
    }
}

const UNRESERVED: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~";
const B64URL: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const NASTY: &str = "\"'<>&%;=+/\\{}[]|`^ \u{e9}\u{2028}\u{feff}\u{0430}";

/// Redirect URIs that DCR-07..10 say must never be registered.
pub const UNSAFE_REDIRECT_URIS: &[&str] = &[
    "javascript:alert(1)",
    "JavaScript:alert(document.domain)//",
    "data:text/html,<script>alert(1)</script>",
    "file:///etc/passwd",
    "vbscript:msgbox(1)",
    "http://evil.example/cb",
    "http://192.168.1.10/cb",
    "http://localhost.evil.example/cb",
    "http://127.0.0.1.nip.io/cb",
    "HTTP://evil.example/cb",
    "https://client.example/cb#frag",
    "http://127.0.0.1/cb#",
    "/callback",
    "callback",
    "//evil.example/cb",
    "not a uri",
    "",
    " https://client.example/cb",
    "https://client.example/cb\n",
    "https://client.example/c b",
    "http://127.0.0.1/cb\t",
];

/// Redirect URIs that are odd but not forbidden by a MUST (their outcome is
/// judged only for server errors and error format).
const ODD_REDIRECT_URIS: &[&str] = &[
    "https://user:pass@client.example/cb",
    "https://cl\u{0456}ent.example/cb",
    "https://xn--clent-3ve.example/cb",
    "com.example.app:/oauth/cb",
    "http://[::1]:8080/cb",
    "http://localhost/cb",
    "https://client.example/cb?x=1&x=2",
    "https://client.example/%2e%2e/cb",
    "https://client.example:65536/cb",
    "https://[::1/cb",
];

fn redirect_uri_list(rng: &mut Rng) -> Value {
    let hostile = if rng.one_in(4) {
        let base = *rng.pick(&["https://client.example/", "http://127.0.0.1/"]);
        format!("{base}{}", "a".repeat(1000 + rng.below(6000)))
    } else if rng.one_in(3) {
        (*rng.pick(ODD_REDIRECT_URIS)).to_owned()
    } else {
        (*rng.pick(UNSAFE_REDIRECT_URIS)).to_owned()
    };
    if rng.one_in(3) {
        json!(["http://127.0.0.1:8914/cb", hostile])
    } else {
        json!([hostile])
    }
}

fn base_dcr_doc() -> Value {
    json!({
        "redirect_uris": ["http://127.0.0.1:8914/cb"],
        "token_endpoint_auth_method": "none",
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "client_name": "mcp-conform fuzz",
        "application_type": "native",
    })
}

/// A value of the wrong JSON type for any metadata member.
fn wrong_type(rng: &mut Rng) -> Value {
    rng.pick(&[
        json!(null),
        json!(5),
        json!(-1.5e300),
        json!(true),
        json!("http://127.0.0.1/cb"),
        json!({}),
        json!({"a": [1]}),
        json!([5]),
        json!([null]),
        json!([[]]),
        json!([{}]),
        json!(""),
    ])
    .clone()
}

fn json_headers() -> Vec<(String, String)> {
    vec![
        ("content-type".into(), "application/json".into()),
        ("accept".into(), "application/json".into()),
    ]
}

fn dcr(rng: &mut Rng, env: &Env) -> Option<Case> {
    let url = env.registration_endpoint.clone()?;
    let mut doc = base_dcr_doc();
    let mut headers = json_headers();
    let family;
    let mut body = None;
    match rng.below(6) {
        0 | 1 => {
            family = "dcr.redirect_uri";
            doc["redirect_uris"] = redirect_uri_list(rng);
        }
        2 => {
            family = "dcr.wrong_type";
            let member = *rng.pick(&[
                "redirect_uris",
                "token_endpoint_auth_method",
                "grant_types",
                "response_types",
                "client_name",
                "scope",
                "application_type",
                "client_uri",
                "jwks",
                "contacts",
            ]);
            doc[member] = wrong_type(rng);
        }
        3 => {
            family = "dcr.missing_or_extra";
            let member = *rng.pick(&[
                "redirect_uris",
                "token_endpoint_auth_method",
                "grant_types",
                "response_types",
                "client_name",
            ]);
            if let Some(o) = doc.as_object_mut() {
                o.remove(member);
            }
            if rng.one_in(2) {
                let extras = [
                    ("token_endpoint_auth_method", json!("bogus_method")),
                    ("response_types", json!(["token"])),
                    ("grant_types", json!(["password", "implicit"])),
                    ("scope", json!("definitely-not-a-scope")),
                    ("client_id", json!("chosen-by-client")),
                    ("client_secret", json!("chosen-by-client")),
                    ("software_statement", json!("e30.e30.")),
                    ("__proto__", json!({"admin": true})),
                ];
                let extra = rng.pick(&extras);
                doc[extra.0] = extra.1.clone();
            }
        }
        4 => {
            family = "dcr.huge";
            let n = 200 + rng.below(3000);
            match rng.below(3) {
                0 => {
                    let uris: Vec<String> = (0..n)
                        .map(|i| format!("http://127.0.0.1:{}/cb", 1024 + i % 60000))
                        .collect();
                    doc["redirect_uris"] = json!(uris);
                }
                1 => doc["client_name"] = json!(rng.string(n * 20, NASTY)),
                _ => {
                    // Deep nesting, well within what a JSON parser must take.
                    let mut v = json!("x");
                    for _ in 0..(16 + rng.below(48)) {
                        v = json!([v]);
                    }
                    doc["jwks"] = v;
                }
            }
        }
        _ => {
            family = "dcr.body";
            match rng.below(6) {
                0 => {
                    body = Some(Body::Raw(
                        rng.pick(&[
                            "",
                            "{",
                            "null",
                            "[]",
                            "\"redirect_uris\"",
                            "{\"redirect_uris\":[\"http://127.0.0.1/cb\"]",
                            "{\"redirect_uris\":[\"http://127.0.0.1/cb\"]}}",
                            "\u{feff}{}",
                            "redirect_uris=http%3A%2F%2F127.0.0.1%2Fcb",
                        ])
                        .to_string(),
                    ))
                }
                1 => {
                    headers = vec![(
                        "content-type".into(),
                        (*rng.pick(&[
                            "text/plain",
                            "application/x-www-form-urlencoded",
                            "application/xml",
                            "",
                        ]))
                        .to_owned(),
                    )]
                }
                2 => headers.retain(|(n, _)| n != "content-type"),
                3 => {
                    headers[0].1 = "application/json; charset=utf-16".into();
                }
                4 => {
                    let raw = String::from_utf8_lossy(&{
                        let n = 1 + rng.below(200);
                        rng.bytes(n)
                    })
                    .into_owned();
                    body = Some(Body::Raw(raw));
                }
                _ => {
                    body = Some(Body::Raw(format!(
                        "{{\"redirect_uris\":[\"http://127.0.0.1/cb\"],\"redirect_uris\":{}}}",
                        json!([rng.pick(UNSAFE_REDIRECT_URIS)])
                    )));
                }
            }
        }
    }
    Some(Case {
        surface: Surface::Dcr,
        family,
        endpoint: Endpoint::Register,
        method: "POST".into(),
        url,
        query: Vec::new(),
        headers,
        body: body.unwrap_or(Body::Json(doc)),
        prep: Prep::None,
    })
}

fn random_verifier(rng: &mut Rng) -> String {
    let len = 43 + rng.below(86);
    rng.string(len, UNRESERVED)
}

fn authorize(rng: &mut Rng, env: &Env) -> Option<Case> {
    let client_id = env.client_id.clone()?;
    let verifier = random_verifier(rng);
    let mut q: Vec<(String, String)> = vec![
        ("response_type".into(), "code".into()),
        ("client_id".into(), client_id),
        ("redirect_uri".into(), env.redirect_uri.clone()),
        ("code_challenge".into(), pkce::s256_challenge(&verifier)),
        ("code_challenge_method".into(), "S256".into()),
        ("state".into(), rng.string(22, B64URL)),
        ("resource".into(), env.resource.clone()),
    ];
    if let Some(s) = &env.scope {
        q.push(("scope".into(), s.clone()));
    }
    let set = |q: &mut Vec<(String, String)>, k: &str, v: String| match q
        .iter_mut()
        .find(|(n, _)| n == k)
    {
        Some(slot) => slot.1 = v,
        None => q.push((k.to_owned(), v)),
    };
    let family;
    match rng.below(5) {
        0 | 1 => {
            family = "authorize.redirect_uri";
            let r = &env.redirect_uri;
            let (scheme_host, path) = split_origin(r);
            let variants = [
                format!("{r}/extra"),
                format!("{r}x"),
                format!("{r}/../evil"),
                format!("{r}?next=https://evil.example"),
                format!("{r}#frag"),
                format!("{r}%2F"),
                format!(
                    "{}{}",
                    scheme_host.replacen("127.0.0.1", "localhost", 1),
                    path
                ),
                format!("{}{}", scheme_host.replacen("http://", "https://", 1), path),
                format!("{}{}", scheme_host.replacen("://", "://evil@", 1), path),
                format!("{scheme_host}{}", &path[..path.len().saturating_sub(3)]),
                format!("{scheme_host}/"),
                r.to_ascii_uppercase(),
                "https://evil.example/cb".into(),
                format!("http://evil.example{path}"),
                "javascript:alert(1)".into(),
                "data:text/html,x".into(),
                "/callback".into(),
                String::new(),
            ];
            set(&mut q, "redirect_uri", rng.pick(&variants).clone());
        }
        2 => {
            family = "authorize.unknown_client";
            let id = match rng.below(4) {
                0 => rng.string(24, B64URL),
                1 => String::new(),
                2 => rng.string(300, NASTY),
                _ => format!("{}x", env.client_id.clone().unwrap_or_default()),
            };
            set(&mut q, "client_id", id);
            let target = *rng.pick(&[
                "https://attacker.example/cb",
                "http://evil.example/cb",
                "javascript:alert(1)",
            ]);
            set(&mut q, "redirect_uri", target.to_owned());
        }
        3 => {
            family = "authorize.pkce";
            match rng.below(9) {
                0 => {
                    set(&mut q, "code_challenge_method", "plain".into());
                    set(&mut q, "code_challenge", verifier.clone());
                }
                1 => q.retain(|(n, _)| n != "code_challenge_method"),
                2 => q.retain(|(n, _)| n != "code_challenge"),
                3 => set(&mut q, "code_challenge", String::new()),
                4 => set(
                    &mut q,
                    "code_challenge_method",
                    (*rng.pick(&["S512", "s256", "", "PLAIN", "S256 ", "none"])).to_owned(),
                ),
                5 => {
                    let len = *rng.pick(&[1, 42, 44, 129, 4000]);
                    set(&mut q, "code_challenge", rng.string(len, B64URL));
                }
                6 => {
                    let mut c = rng.string(43, B64URL);
                    let bad = *rng.pick(&["+", "/", "=", " ", "%"]);
                    c.replace_range(0..1, bad);
                    set(&mut q, "code_challenge", c);
                }
                7 => q.push(("code_challenge".into(), rng.string(43, B64URL))),
                _ => {
                    q.retain(|(n, _)| n != "code_challenge");
                    set(&mut q, "code_challenge_method", "plain".into());
                }
            }
        }
        _ => {
            family = "authorize.params";
            match rng.below(6) {
                0 => {
                    let i = rng.below(q.len());
                    let dup = q[i].clone();
                    q.push(dup);
                }
                1 => {
                    let i = rng.below(q.len());
                    q[i].1 = String::new();
                }
                2 => set(
                    &mut q,
                    "response_type",
                    (*rng.pick(&["token", "code id_token", "", "CODE", "code ", "none"]))
                        .to_owned(),
                ),
                3 => set(
                    &mut q,
                    "resource",
                    (*rng.pick(&[
                        "https://other.invalid/mcp",
                        "not a uri",
                        "https://client.example/mcp#frag",
                        "",
                        "urn:x:bogus",
                    ]))
                    .to_owned(),
                ),
                4 => set(&mut q, "scope", {
                    let n = 1 + rng.below(2000);
                    rng.string(n, NASTY)
                }),
                _ => set(&mut q, "state", {
                    let n = 2000 + rng.below(6000);
                    rng.string(n, B64URL)
                }),
            }
        }
    }
    Some(Case {
        surface: Surface::Authorize,
        family,
        endpoint: Endpoint::Authorize,
        method: "GET".into(),
        url: env.authorization_endpoint.clone(),
        query: q,
        headers: vec![("accept".into(), "text/html".into())],
        body: Body::Empty,
        prep: Prep::None,
    })
}

/// `http://host:port` and the rest of `url`.
fn split_origin(url: &str) -> (String, String) {
    let after = url.find("://").map(|i| i + 3).unwrap_or(0);
    match url[after..].find('/') {
        Some(j) => (url[..after + j].to_owned(), url[after + j..].to_owned()),
        None => (url.to_owned(), "/".to_owned()),
    }
}

fn form_headers() -> Vec<(String, String)> {
    vec![
        (
            "content-type".into(),
            "application/x-www-form-urlencoded".into(),
        ),
        ("accept".into(), "application/json".into()),
    ]
}

fn token(rng: &mut Rng, env: &Env) -> Option<Case> {
    let client_id = env
        .client_id
        .clone()
        .unwrap_or_else(|| rng.string(16, B64URL));
    let mut form: Vec<(String, String)> = vec![
        ("grant_type".into(), "authorization_code".into()),
        ("code".into(), "{{code}}".into()),
        ("redirect_uri".into(), env.redirect_uri.clone()),
        ("code_verifier".into(), "{{verifier}}".into()),
        ("client_id".into(), client_id),
        ("resource".into(), env.resource.clone()),
    ];
    let mut headers = form_headers();
    let mut method = "POST".to_owned();
    let mut body = None;
    let mut query = Vec::new();
    let set = |f: &mut Vec<(String, String)>, k: &str, v: String| match f
        .iter_mut()
        .find(|(n, _)| n == k)
    {
        Some(slot) => slot.1 = v,
        None => f.push((k.to_owned(), v)),
    };
    // Cases with a real code need a registered client and an authorization
    // the follow driver can complete.
    let fresh = env.client_id.is_some() && env.codes_available;
    let family;
    let mut prep = Prep::FreshCode;
    match rng.below(6) {
        0 | 1 if fresh => {
            family = "token.bad_verifier";
            match rng.below(8) {
                0 => form.retain(|(n, _)| n != "code_verifier"),
                1 => set(&mut form, "code_verifier", String::new()),
                2 => set(&mut form, "code_verifier", "{{challenge}}".into()),
                3 => {
                    // The right verifier's neighbour: one character more.
                    set(&mut form, "code_verifier", "{{verifier}}A".into());
                }
                4 => form.push(("code_verifier".into(), random_verifier(rng))),
                5 => {
                    let len = *rng.pick(&[1, 42, 129, 5000]);
                    set(&mut form, "code_verifier", rng.string(len, UNRESERVED));
                }
                6 => set(&mut form, "code_verifier", rng.string(64, NASTY)),
                _ => set(&mut form, "code_verifier", random_verifier(rng)),
            }
        }
        2 if fresh => {
            family = "token.code_binding";
            match rng.below(6) {
                0 => set(&mut form, "redirect_uri", format!("{}/x", env.redirect_uri)),
                1 => form.retain(|(n, _)| n != "redirect_uri"),
                2 => set(&mut form, "client_id", rng.string(20, B64URL)),
                3 => {
                    let i = rng.below(4);
                    let dup = form[i].clone();
                    form.push(dup);
                }
                4 => {
                    // The right parameters, as JSON (TOK-08).
                    let obj: serde_json::Map<String, Value> = form
                        .iter()
                        .map(|(k, v)| (k.clone(), Value::from(v.clone())))
                        .collect();
                    headers[0].1 = "application/json".into();
                    body = Some(Body::Json(Value::Object(obj)));
                }
                _ => {
                    method = "GET".into();
                    query = std::mem::take(&mut form);
                    headers.retain(|(n, _)| n != "content-type");
                    body = Some(Body::Empty);
                }
            }
        }
        3 => {
            family = "token.grant_type";
            prep = Prep::None;
            let gt = *rng.pick(&[
                "password",
                "implicit",
                "urn:x:bogus",
                "client_credentials",
                "",
                "AUTHORIZATION_CODE",
                "refresh_token",
                "urn:ietf:params:oauth:grant-type:device_code",
                "urn:ietf:params:oauth:grant-type:jwt-bearer",
            ]);
            form = vec![
                ("grant_type".into(), gt.to_owned()),
                ("client_id".into(), form[4].1.clone()),
            ];
            match gt {
                "password" => {
                    form.push(("username".into(), "alice".into()));
                    form.push(("password".into(), "alice".into()));
                }
                "refresh_token" => form.push(("refresh_token".into(), rng.string(43, B64URL))),
                "urn:ietf:params:oauth:grant-type:jwt-bearer" => {
                    form.push(("assertion".into(), "e30.e30.".into()))
                }
                _ => {}
            }
        }
        4 => {
            family = "token.bogus_code";
            prep = Prep::None;
            let code = match rng.below(5) {
                0 => rng.string(43, B64URL),
                1 => String::new(),
                2 => {
                    let n = 10_000 + rng.below(40_000);
                    rng.string(n, B64URL)
                }
                3 => rng.string(40, NASTY),
                _ => "null".into(),
            };
            set(&mut form, "code", code);
            set(&mut form, "code_verifier", random_verifier(rng));
        }
        _ => {
            family = "token.encoding";
            prep = Prep::None;
            set(&mut form, "code", rng.string(43, B64URL));
            set(&mut form, "code_verifier", random_verifier(rng));
            match rng.below(7) {
                0 => {
                    headers[0].1 = "application/json".into();
                    let obj: serde_json::Map<String, Value> = form
                        .iter()
                        .map(|(k, v)| (k.clone(), Value::from(v.clone())))
                        .collect();
                    body = Some(Body::Json(Value::Object(obj)));
                }
                1 => {
                    method = "GET".into();
                    query = std::mem::take(&mut form);
                    headers.retain(|(n, _)| n != "content-type");
                    body = Some(Body::Empty);
                }
                2 => headers.retain(|(n, _)| n != "content-type"),
                3 => headers[0].1 = (*rng.pick(&["text/plain", "multipart/form-data", ""])).into(),
                4 => headers.push((
                    "authorization".into(),
                    format!("Basic {}", rng.string(24, B64URL)),
                )),
                5 => form.push(("client_secret".into(), rng.string(32, B64URL))),
                _ => {
                    let raw = String::from_utf8_lossy(&{
                        let n = 1 + rng.below(300);
                        rng.bytes(n)
                    })
                    .into_owned();
                    body = Some(Body::Raw(raw));
                }
            }
        }
    }
    Some(Case {
        surface: Surface::Token,
        family,
        endpoint: Endpoint::Token,
        method,
        url: env.token_endpoint.clone(),
        query,
        headers,
        body: body.unwrap_or(Body::Form(form)),
        prep,
    })
}

fn initialize_body(env: &Env) -> Value {
    json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": env.version,
        "capabilities": {},
        "clientInfo": {"name": "mcp-conform-fuzz", "version": env!("CARGO_PKG_VERSION")},
    }})
}

fn mcp_headers() -> Vec<(String, String)> {
    vec![
        ("content-type".into(), "application/json".into()),
        (
            "accept".into(),
            "application/json, text/event-stream".into(),
        ),
    ]
}

/// A P-256 key from the case's generator, so foreign-signed tokens are as
/// reproducible as everything else.
fn seeded_key(rng: &mut Rng) -> p256::ecdsa::SigningKey {
    loop {
        let bytes = rng.bytes(32);
        if let Ok(k) = p256::ecdsa::SigningKey::from_slice(&bytes) {
            return k;
        }
    }
}

fn forged_token(rng: &mut Rng, env: &Env) -> String {
    let claims = env.token_claims.clone().unwrap_or_else(|| {
        json!({
            "iss": env.issuer, "aud": env.resource, "sub": "alice",
            "exp": 4_102_444_800u64, "iat": 1_700_000_000u64, "scope": env.scope,
            "jti": "mcp-conform-fuzz",
        })
    });
    let real = env.real_token.as_deref();
    match rng.below(9) {
        0 => match real.and_then(|t| jwt::with_alg_none(t).ok()) {
            Some(t) => t,
            None => {
                // An unsecured JWT built from scratch.
                use base64::Engine;
                let e = |v: &Value| {
                    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
                };
                format!(
                    "{}.{}.",
                    e(&json!({"alg": "none", "typ": "JWT"})),
                    e(&claims)
                )
            }
        },
        1 => {
            let key = seeded_key(rng);
            jwt::sign_es256(&claims, &key, jwt::FOREIGN_KID)
        }
        2 => {
            let key = seeded_key(rng);
            let mut c = claims.clone();
            c["exp"] = json!(1_000_000_000u64);
            jwt::sign_es256(&c, &key, jwt::FOREIGN_KID)
        }
        3 => {
            let key = seeded_key(rng);
            let mut c = claims.clone();
            c["aud"] = json!("https://other.invalid/mcp");
            jwt::sign_es256(&c, &key, "")
        }
        4 => match real {
            Some(t) => {
                let field = *rng.pick(&["scope", "sub", "exp", "aud", "iss", "jti"]);
                jwt::with_claims(t, |m| {
                    let v = match field {
                        "exp" => json!(4_102_444_800u64),
                        "aud" => json!("https://other.invalid/mcp"),
                        _ => json!("mcp:admin tampered"),
                    };
                    m.insert(field.to_owned(), v);
                })
                .unwrap_or_else(|_| jwt::flip_one_char(t))
            }
            None => rng.string(120, B64URL),
        },
        5 => match real {
            Some(t) => jwt::flip_one_char(t),
            None => rng.string(200, B64URL),
        },
        6 => match real {
            // Cut into the signature: never the whole token.
            Some(t) => t[..t.len() - 1 - rng.below(10.min(t.len() - 1))].to_owned(),
            None => "eyJhbGciOiJFUzI1NiJ9".into(),
        },
        7 => {
            let len = *rng.pick(&[1, 16, 43, 300, 7000]);
            rng.string(len, B64URL)
        }
        _ => (*rng.pick(&[
            "null",
            "undefined",
            "e30.e30.",
            "a.b.c",
            "....",
            "eyJhbGciOiJub25lIn0.eyJzdWIiOiJhZG1pbiJ9.",
            "\u{e9}t\u{e9}",
        ]))
        .to_owned(),
    }
}

fn bearer(rng: &mut Rng, env: &Env) -> Option<Case> {
    let mut headers = mcp_headers();
    let mut url = env.mcp_url.clone();
    let family;
    match rng.below(4) {
        0 | 1 => {
            family = "bearer.forged";
            headers.push((
                "authorization".into(),
                format!("Bearer {}", forged_token(rng, env)),
            ));
        }
        2 if env.real_token.is_some() => {
            family = "bearer.scheme";
            let v = *rng.pick(&[
                "bearer {{token}}",
                "BEARER {{token}}",
                "Bearer  {{token}}",
                "Bearer {{token}} ",
                "Bearer {{token}} extra",
                "Bearer {{token}},Bearer x",
                "Basic {{token}}",
                "Token {{token}}",
                "{{token}}",
                "Bearer",
                "Bearer ",
                "Bearer \"{{token}}\"",
            ]);
            headers.push(("authorization".into(), v.to_owned()));
            if rng.one_in(4) {
                headers.push((
                    "authorization".into(),
                    format!("Bearer {}", rng.string(43, B64URL)),
                ));
            }
        }
        _ if env.real_token.is_some() => {
            family = "bearer.query";
            let sep = if url.contains('?') { '&' } else { '?' };
            url = format!("{url}{sep}access_token={{{{token}}}}");
            if rng.one_in(3) {
                headers.push((
                    "authorization".into(),
                    format!("Bearer {}", rng.string(43, B64URL)),
                ));
            }
        }
        _ => {
            family = "bearer.forged";
            headers.push((
                "authorization".into(),
                format!("Bearer {}", forged_token(rng, env)),
            ));
        }
    }
    Some(Case {
        surface: Surface::Bearer,
        family,
        endpoint: Endpoint::Mcp,
        method: "POST".into(),
        url,
        query: Vec::new(),
        headers,
        body: Body::Json(initialize_body(env)),
        prep: Prep::None,
    })
}

fn session_headers(env: &Env) -> Vec<(String, String)> {
    let mut h = mcp_headers();
    h.push(("authorization".into(), "Bearer {{token}}".into()));
    h.push(("mcp-session-id".into(), "{{session}}".into()));
    h.push(("mcp-protocol-version".into(), env.version.clone()));
    h
}

fn ping(rng: &mut Rng) -> Value {
    json!({"jsonrpc": "2.0", "id": 1 + rng.below(1000), "method": "ping"})
}

fn mcp_headers_case(rng: &mut Rng, env: &Env) -> Option<Case> {
    if env.real_token.is_none() || !env.has_session {
        return None;
    }
    let mut headers = session_headers(env);
    let set = |h: &mut Vec<(String, String)>, k: &str, v: String| {
        h.retain(|(n, _)| n != k);
        h.push((k.to_owned(), v));
    };
    let family;
    match rng.below(5) {
        0 | 1 => {
            family = "mcp.protocol_version";
            let v = match rng.below(10) {
                0 => "1999-01-01".into(),
                1 => "not-a-version".into(),
                2 => String::new(),
                3 => "2025-13-45".into(),
                4 => format!("{}x", env.version),
                5 => format!("{}{}", env.version, "0".repeat(200 + rng.below(2000))),
                6 => "9999-99-99".into(),
                7 => "\u{ff12}\u{ff10}\u{ff12}\u{ff15}-06-18".into(),
                8 => "2025-06-18, 2025-03-26".into(),
                _ => {
                    let n = 1 + rng.below(40);
                    rng.string(n, NASTY)
                }
            };
            set(&mut headers, "mcp-protocol-version", v);
        }
        2 => {
            family = "mcp.session_id";
            let v = match rng.below(6) {
                0 => rng.string(43, B64URL),
                1 => {
                    let n = 300 + rng.below(4000);
                    rng.string(n, B64URL)
                }
                2 => "s\u{e9}ssion".into(),
                3 => String::new(),
                4 => "{{session}} x".into(),
                _ => "{{session}}x".into(),
            };
            set(&mut headers, "mcp-session-id", v);
            if rng.one_in(4) {
                headers.push(("mcp-session-id".into(), "{{session}}".into()));
            }
        }
        _ => {
            family = "mcp.origin";
            let port = env
                .mcp_url
                .split(':')
                .nth(2)
                .and_then(|p| p.split('/').next());
            let v = match rng.below(5) {
                0 => "https://evil.example".into(),
                1 => "null".into(),
                2 => format!("http://evil.example:{}", port.unwrap_or("80")),
                3 => "http://127.0.0.1.evil.example".into(),
                _ => "https://attacker.invalid:8443".into(),
            };
            headers.push(("origin".into(), v));
        }
    }
    Some(Case {
        surface: Surface::McpHeaders,
        family,
        endpoint: Endpoint::Mcp,
        method: "POST".into(),
        url: env.mcp_url.clone(),
        query: Vec::new(),
        headers,
        body: Body::Json(ping(rng)),
        prep: Prep::None,
    })
}

fn jsonrpc(rng: &mut Rng, env: &Env) -> Option<Case> {
    env.real_token.as_ref()?;
    let mut headers = if env.has_session {
        session_headers(env)
    } else {
        let mut h = mcp_headers();
        h.push(("authorization".into(), "Bearer {{token}}".into()));
        h
    };
    let family;
    let body = match rng.below(5) {
        0 => {
            family = "jsonrpc.invalid_json";
            Body::Raw(
                (*rng.pick(&[
                    "",
                    "{",
                    "null",
                    "\"ping\"",
                    "1",
                    "{\"jsonrpc\":\"2.0\"",
                    "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}}",
                    "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\",}",
                    "\u{feff}{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}",
                    "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"p\\ud800\"}",
                ]))
                .to_owned(),
            )
        }
        1 => {
            family = "jsonrpc.batch";
            Body::Json(match rng.below(4) {
                0 => json!([]),
                1 => json!([ping(rng), ping(rng)]),
                2 => json!([1, "x", null]),
                _ => json!([initialize_body(env), ping(rng)]),
            })
        }
        2 => {
            family = "jsonrpc.wrong_type";
            let mut m = json!({"jsonrpc": "2.0", "id": 7, "method": "tools/list", "params": {}});
            let member = *rng.pick(&["jsonrpc", "id", "method", "params"]);
            if rng.one_in(3) {
                if let Some(o) = m.as_object_mut() {
                    o.remove(member);
                }
            } else {
                m[member] = wrong_type(rng);
            }
            Body::Json(m)
        }
        3 => {
            family = "jsonrpc.huge";
            let id = match rng.below(5) {
                0 => json!(u64::MAX),
                1 => json!(1e308),
                2 => json!(-9_223_372_036_854_775_808i64),
                3 => json!(rng.string(5000, B64URL)),
                _ => json!(0.5),
            };
            Body::Json(json!({"jsonrpc": "2.0", "id": id, "method": "ping"}))
        }
        _ => {
            family = "jsonrpc.nesting";
            let mut v = json!({});
            for _ in 0..(8 + rng.below(56)) {
                v = json!({"a": [v]});
            }
            let method = *rng.pick(&["tools/call", "tools/list", "ping", "no/such/method"]);
            Body::Json(json!({"jsonrpc": "2.0", "id": 3, "method": method,
                "params": {"name": "get_weather", "arguments": v}}))
        }
    };
    if rng.one_in(8) {
        headers.retain(|(n, _)| n != "accept");
    }
    Some(Case {
        surface: Surface::JsonRpc,
        family,
        endpoint: Endpoint::Mcp,
        method: "POST".into(),
        url: env.mcp_url.clone(),
        query: Vec::new(),
        headers,
        body,
        prep: Prep::None,
    })
}

/// Case `index` of the run seeded with `seed`: surfaces take turns (so each
/// is hit within the first few cases), families are picked at random.
/// `None` when the target offers nothing to test on that turn's surface.
pub fn generate(seed: u64, index: u64, env: &Env) -> Option<Case> {
    let mut rng = Rng::for_case(seed, index);
    let surface = Surface::ALL[(index % Surface::ALL.len() as u64) as usize];
    match surface {
        Surface::Dcr => dcr(&mut rng, env),
        Surface::Authorize => authorize(&mut rng, env),
        Surface::Token => token(&mut rng, env),
        Surface::Bearer => bearer(&mut rng, env),
        Surface::McpHeaders => mcp_headers_case(&mut rng, env),
        Surface::JsonRpc => jsonrpc(&mut rng, env),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_and_index_give_the_same_values() {
        let mut a = Rng::for_case(7, 3);
        let mut b = Rng::for_case(7, 3);
        let xs: Vec<u64> = (0..5).map(|_| a.next_u64()).collect();
        let ys: Vec<u64> = (0..5).map(|_| b.next_u64()).collect();
        assert_eq!(xs, ys);
        assert_ne!(
            Rng::for_case(7, 4).next_u64(),
            Rng::for_case(7, 3).next_u64()
        );
    }

    #[test]
    fn split_origin_splits_at_the_path() {
        assert_eq!(
            split_origin("http://127.0.0.1:9/callback"),
            ("http://127.0.0.1:9".to_owned(), "/callback".to_owned())
        );
    }
}

#[cfg(test)]
mod determinism {
    use super::*;

    fn env() -> Env {
        Env {
            mcp_url: "http://127.0.0.1:9/mcp".into(),
            resource: "http://127.0.0.1:9/mcp".into(),
            issuer: "http://127.0.0.1:9".into(),
            registration_endpoint: Some("http://127.0.0.1:9/register".into()),
            authorization_endpoint: "http://127.0.0.1:9/authorize".into(),
            token_endpoint: "http://127.0.0.1:9/token".into(),
            client_id: Some("c1".into()),
            redirect_uri: "http://127.0.0.1:7/callback".into(),
            codes_available: true,
            has_session: true,
            real_token: Some("eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln".into()),
            version: "2025-11-25".into(),
            ..Env::default()
        }
    }

    #[test]
    fn a_seed_and_an_index_name_exactly_one_case() {
        let env = env();
        for i in 0..300 {
            let a = generate(42, i, &env).map(|c| format!("{c:?}"));
            let b = generate(42, i, &env).map(|c| format!("{c:?}"));
            assert_eq!(a, b, "case {i}");
        }
    }

    #[test]
    fn every_surface_comes_up_in_the_first_cases() {
        let env = env();
        let surfaces: std::collections::BTreeSet<_> = (0..12)
            .filter_map(|i| generate(1, i, &env).map(|c| c.surface))
            .collect();
        assert_eq!(surfaces.len(), Surface::ALL.len());
    }
}
