//! Discovery as a client does it (requirements DISC-03): the 401 challenge,
//! the protected resource metadata (header URL, then path-suffixed, then
//! root) and the authorization server metadata (RFC 8414 with path
//! insertion, then OpenID discovery). Done once per run; scenarios read the
//! result as `discovery.*`.
//!
//! Metadata may point anywhere; the run follows only URLs on the target's
//! origin, its declared issuer's origin, or an origin the user allowed.
//! Anything else stops discovery with a message naming the URL, rather
//! than sending requests (and credentials) somewhere nobody declared.

use serde_json::{Value, json};

use crate::core::metadata::{AuthServerMetadata, ProtectedResourceMetadata};
use crate::core::{jsonrpc, url_canon, www_authenticate};
use crate::http::{Client, Request};

use super::RunContext;

/// What discovery found.
#[derive(Debug, Clone)]
pub struct Discovery {
    /// The `discovery` variable root.
    pub vars: Value,
}

impl Discovery {
    pub fn registration_endpoint(&self) -> Option<&str> {
        self.vars
            .pointer("/as/registration_endpoint")
            .and_then(Value::as_str)
    }
}

pub async fn discover(ctx: &RunContext, client: &Client) -> Result<Discovery, String> {
    let url = &ctx.target.url;
    let target_origin = url_canon::origin(url).map_err(|e| format!("target URL: {e}"))?;

    // 1. The unauthenticated request and its challenge.
    let body = jsonrpc::request(
        1,
        "initialize",
        json!({
            "protocolVersion": ctx.spec_version.as_str(),
            "capabilities": {},
            "clientInfo": {"name": "mcp-conform", "version": env!("CARGO_PKG_VERSION")},
        }),
    );
    let req = Request {
        method: "POST".into(),
        url: url.clone(),
        headers: vec![
            ("content-type".into(), "application/json".into()),
            (
                "accept".into(),
                "application/json, text/event-stream".into(),
            ),
        ],
        body: body.to_string().into_bytes(),
    };
    let resp = client.send(&req).await.map_err(|e| e.to_string())?;
    if resp.status != 401 {
        return Err(format!(
            "an unauthenticated initialize got {} instead of 401: the target does not ask for OAuth here",
            resp.status
        ));
    }
    let challenges: Vec<_> = resp.headers_named("www-authenticate").collect();
    let parsed = www_authenticate::parse_all(&challenges).unwrap_or_default();
    let bearer = www_authenticate::bearer(&parsed);
    let header_prm = bearer
        .and_then(|c| c.param("resource_metadata"))
        .map(str::to_owned);
    let challenge_scope = bearer.and_then(|c| c.param("scope")).map(str::to_owned);
    let challenge_params: serde_json::Map<String, Value> = bearer
        .map(|c| {
            c.params
                .iter()
                .map(|p| (p.name.to_ascii_lowercase(), Value::from(p.value.clone())))
                .collect()
        })
        .unwrap_or_default();

    // 2. Protected resource metadata.
    let mut candidates = Vec::new();
    if let Some(h) = &header_prm {
        candidates.push(h.clone());
    }
    for c in url_canon::prm_candidates(url).map_err(|e| e.to_string())? {
        if !candidates.contains(&c) {
            candidates.push(c);
        }
    }
    let mut prm = None;
    let mut tried = Vec::new();
    for c in &candidates {
        if !same_origin_allowed(c, &[&target_origin], &ctx.target.allowed_origins) {
            tried.push(format!("{c} (not followed: another origin)"));
            continue;
        }
        let resp = get_json(client, c, ctx.spec_version.as_str()).await;
        match resp {
            Ok((200, Some(doc))) => {
                prm = Some((c.clone(), doc));
                break;
            }
            Ok((status, _)) => tried.push(format!("{c} ({status})")),
            Err(e) => tried.push(format!("{c} ({e})")),
        }
    }
    // 2025-03-26 has no PRM: the authorization base URL is the target's
    // origin (DISC-01). Later versions require one.
    let legacy = ctx.spec_version == crate::scenario::model::SpecVersion::V2025_03_26;
    let (prm_url, prm_doc, prm_meta, issuer) = match prm {
        Some((prm_url, prm_doc)) => {
            let meta = ProtectedResourceMetadata::from_json(prm_doc.to_string().as_bytes())
                .map_err(|e| format!("protected resource metadata at {prm_url}: {e}"))?;
            let issuer = meta.authorization_servers.first().cloned().ok_or_else(|| {
                format!("protected resource metadata at {prm_url} lists no authorization_servers")
            })?;
            (Some(prm_url), prm_doc, Some(meta), issuer)
        }
        None if legacy => (None, Value::Null, None, target_origin.clone()),
        None => {
            return Err(format!(
                "no protected resource metadata found; tried {}",
                tried.join(", ")
            ));
        }
    };
    let issuer_origin =
        url_canon::origin(&issuer).map_err(|e| format!("issuer {issuer:?}: {e}"))?;

    // 3. Authorization server metadata.
    let mut as_doc = None;
    let mut tried = Vec::new();
    for (c, _kind) in
        url_canon::as_metadata_candidates(&issuer).map_err(|e| format!("issuer {issuer:?}: {e}"))?
    {
        match get_json(client, &c, ctx.spec_version.as_str()).await {
            Ok((200, Some(doc))) => {
                as_doc = Some((c, doc));
                break;
            }
            // A 200 that is not a JSON object (an SPA's catch-all page) is
            // no metadata either: try the next URL.
            Ok((200, None)) => tried.push(format!("{c} (200, not a JSON object)")),
            Ok((status, _)) if (400..500).contains(&status) || status == 502 => {
                tried.push(format!("{c} ({status})"))
            }
            Ok((status, _)) => {
                return Err(format!(
                    "authorization server metadata at {c} answered {status}"
                ));
            }
            Err(e) => tried.push(format!("{c} ({e})")),
        }
    }
    let (as_url, as_doc) = match as_doc {
        Some(found) => found,
        // 2025-03-26 clients fall back to default endpoints on the origin.
        None if legacy && prm_url.is_none() => (
            String::new(),
            json!({
                "issuer": issuer,
                "authorization_endpoint": format!("{target_origin}/authorize"),
                "token_endpoint": format!("{target_origin}/token"),
                "registration_endpoint": format!("{target_origin}/register"),
            }),
        ),
        None => {
            return Err(format!(
                "no authorization server metadata for issuer {issuer}; tried {}",
                tried.join(", ")
            ));
        }
    };
    let as_meta = AuthServerMetadata::from_json(as_doc.to_string().as_bytes())
        .map_err(|e| format!("authorization server metadata at {as_url}: {e}"))?;

    // Endpoints must stay on declared origins before anything is sent there.
    let declared = [target_origin.as_str(), issuer_origin.as_str()];
    for (name, value) in [
        ("authorization_endpoint", &as_meta.authorization_endpoint),
        ("token_endpoint", &as_meta.token_endpoint),
        ("registration_endpoint", &as_meta.registration_endpoint),
        ("revocation_endpoint", &as_meta.revocation_endpoint),
    ] {
        if let Some(v) = value
            && !same_origin_allowed(v, &declared, &ctx.target.allowed_origins)
        {
            return Err(format!(
                "{name} {v} is on an origin that neither the target nor its issuer declared; \
                     add it with --allow-origin to follow it"
            ));
        }
    }
    if as_meta.authorization_endpoint.is_none() || as_meta.token_endpoint.is_none() {
        return Err(format!(
            "authorization server metadata at {as_url} lacks authorization_endpoint or token_endpoint"
        ));
    }

    let resource = prm_meta
        .as_ref()
        .and_then(|m| m.resource.clone())
        .unwrap_or_else(|| url.clone());
    // The scope to ask for: the profile's, else the challenge's, else all
    // the resource advertises (requirements §4 base request).
    let scope = ctx
        .target
        .scope
        .clone()
        .or(challenge_scope)
        .or_else(|| {
            prm_meta
                .as_ref()?
                .scopes_supported
                .as_ref()
                .map(|s| s.join(" "))
        })
        .filter(|s| !s.is_empty());
    Ok(Discovery {
        vars: json!({
            "resource": resource,
            "resource_metadata_url": header_prm,
            "prm_url": prm_url,
            "prm": prm_doc,
            "issuer": issuer,
            "as_url": as_url,
            "as": as_doc,
            "challenge": challenge_params,
            "scope": scope,
        }),
    })
}

async fn get_json(
    client: &Client,
    url: &str,
    version: &str,
) -> Result<(u16, Option<Value>), String> {
    let req = Request {
        method: "GET".into(),
        url: url.to_owned(),
        headers: vec![
            ("accept".into(), "application/json".into()),
            ("mcp-protocol-version".into(), version.to_owned()),
        ],
        body: Vec::new(),
    };
    let resp = client.send(&req).await.map_err(|e| e.to_string())?;
    let doc = serde_json::from_slice::<Value>(&resp.body)
        .ok()
        .filter(Value::is_object);
    Ok((resp.status, doc))
}

fn same_origin_allowed(url: &str, declared: &[&str], allowed: &[String]) -> bool {
    let Ok(origin) = url_canon::origin(url) else {
        return false;
    };
    declared.iter().any(|d| *d == origin)
        || allowed
            .iter()
            .any(|a| url_canon::origin(a).map(|o| o == origin).unwrap_or(false))
}
