//! The built-in step actions: each turns a step's parameters into requests,
//! sends them, and returns what the asserts judge and what the step captures.

use std::sync::atomic::{AtomicI64, Ordering};

use serde_json::{Map, Value, json};

use crate::core::{form, jsonrpc, pkce, url_canon};
use crate::http::{Client, Exchange, HttpError, Request, Response};
use crate::scenario::model::Action;
use crate::scenario::plan::{Step, StepSpec};
use crate::scenario::template::Template;

use super::RunContext;
use super::driver;
use super::target::ClockMode;
use super::vars::VarStore;

/// What a step produced.
#[derive(Debug, Default)]
pub struct Outcome {
    /// The value captured under the step's `as` name.
    pub capture: Value,
    /// The response asserts judge (status, headers, body).
    pub response: Option<Response>,
    /// The JSON asserts read: the JSON-RPC response for `mcp` steps, the
    /// body otherwise.
    pub json: Option<Value>,
    /// Every status, for `concurrent` steps.
    pub statuses: Vec<u16>,
    pub exchanges: Vec<Exchange>,
}

/// Why a step could not be carried out.
#[derive(Debug)]
pub struct StepError {
    pub message: String,
    pub exchanges: Vec<Exchange>,
}

impl StepError {
    fn new(message: impl Into<String>) -> Self {
        StepError {
            message: message.into(),
            exchanges: Vec::new(),
        }
    }
}

impl From<crate::scenario::template::EvalError> for StepError {
    fn from(e: crate::scenario::template::EvalError) -> Self {
        StepError::new(e.to_string())
    }
}

/// Runs steps for one scenario.
pub struct StepRunner<'a> {
    ctx: &'a RunContext,
    client: &'a Client,
    next_id: AtomicI64,
}

fn render(text: &str, vars: &VarStore) -> Result<String, StepError> {
    let t =
        Template::parse(text).map_err(|e| StepError::new(format!("bad template {text:?}: {e}")))?;
    Ok(t.render(vars)?)
}

/// Renders every string inside a JSON value (templates keep their type when
/// a string is a single expression).
fn render_json(v: &Value, vars: &VarStore) -> Result<Value, StepError> {
    Ok(match v {
        Value::String(s) => Template::parse(s)
            .map_err(|e| StepError::new(format!("bad template {s:?}: {e}")))?
            .render_value(vars)?,
        Value::Array(a) => Value::Array(
            a.iter()
                .map(|x| render_json(x, vars))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, x)| Ok((k.clone(), render_json(x, vars)?)))
                .collect::<Result<Map<_, _>, StepError>>()?,
        ),
        other => other.clone(),
    })
}

fn var_str(vars: &VarStore, path: &str) -> Option<String> {
    vars.get(path)
        .map(|v| crate::scenario::template::value_to_text(&v))
}

fn require(vars: &VarStore, path: &str) -> Result<String, StepError> {
    var_str(vars, path).ok_or_else(|| {
        StepError::new(format!(
            "`{path}` is not set (an earlier step did not produce it)"
        ))
    })
}

fn headers_json(resp: &Response) -> Value {
    let mut m = Map::new();
    for (n, v) in &resp.headers {
        m.entry(n.to_ascii_lowercase())
            .or_insert_with(|| Value::from(v.clone()));
    }
    Value::Object(m)
}

fn query_json(location: &str) -> Value {
    let mut m = Map::new();
    if let Ok(u) = url::Url::parse(location) {
        for (k, v) in u.query_pairs() {
            m.entry(k.into_owned())
                .or_insert_with(|| Value::from(v.into_owned()));
        }
    }
    Value::Object(m)
}

/// Copies the members of a JSON response body a step exposes directly
/// (`{{ tokens.access_token }}` rather than `{{ tokens.json.access_token }}`).
fn copy_members(cap: &mut Map<String, Value>, body: &Value, keys: &[&str]) {
    for key in keys {
        if let Some(v) = body.get(*key) {
            cap.insert((*key).into(), v.clone());
        }
    }
}

/// The base capture of any HTTP response.
fn response_capture(resp: &Response) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("status".into(), Value::from(resp.status));
    m.insert("headers".into(), headers_json(resp));
    if let Some(j) = resp.json() {
        m.insert("json".into(), j);
    }
    m.insert(
        "body".into(),
        Value::from(String::from_utf8_lossy(&resp.body).into_owned()),
    );
    if let Some(loc) = resp.header("location") {
        m.insert("location".into(), Value::from(loc));
        m.insert("query".into(), query_json(loc));
    }
    // The Bearer challenge's parameters (names lower-cased, first wins), so
    // a later step can follow `{{ x.challenge.resource_metadata }}`.
    let values: Vec<&str> = resp.headers_named("www-authenticate").collect();
    if let Ok(parsed) = crate::core::www_authenticate::parse_all(&values)
        && let Some(bearer) = crate::core::www_authenticate::bearer(&parsed)
    {
        let mut params = Map::new();
        for p in &bearer.params {
            params
                .entry(p.name.to_ascii_lowercase())
                .or_insert_with(|| Value::from(p.value.clone()));
        }
        m.insert("challenge".into(), Value::Object(params));
    }
    m
}

impl<'a> StepRunner<'a> {
    pub fn new(ctx: &'a RunContext, client: &'a Client) -> Self {
        StepRunner {
            ctx,
            client,
            next_id: AtomicI64::new(1),
        }
    }

    pub async fn run(&mut self, step: &Step, vars: &VarStore) -> Result<Outcome, StepError> {
        let s = &step.spec;
        match step.action {
            Action::Include | Action::Discover => Ok(Outcome::default()),
            Action::Register => self.register(s, vars).await,
            Action::Authorize => self.authorize(s, vars, step.capture.as_deref()).await,
            Action::ExchangeCode => self.token(s, vars, TokenGrant::Code).await,
            Action::Refresh => self.token(s, vars, TokenGrant::Refresh).await,
            Action::Revoke => self.revoke(s, vars).await,
            Action::McpInitialize => self.mcp_initialize(s, vars).await,
            Action::Mcp => self.mcp(s, vars).await,
            Action::AdvanceClock => self.advance_clock(s).await,
            Action::Http => self.http(s, vars).await,
            Action::ObtainToken => self.obtain_token(s, vars, step.capture.as_deref()).await,
            Action::CimdFetches => {
                let counts = self
                    .ctx
                    .callback()
                    .map(|c| c.cimd_log.counts())
                    .unwrap_or(Value::Null);
                Ok(Outcome {
                    capture: counts.clone(),
                    json: Some(counts),
                    ..Outcome::default()
                })
            }
        }
    }

    async fn send(
        &self,
        req: &Request,
        exchanges: &mut Vec<Exchange>,
    ) -> Result<Response, StepError> {
        let outcome = self.client.send(req).await;
        exchanges.push(Exchange::record(req, &outcome));
        rate_limited(outcome, exchanges)
    }

    /// Sends `copies` identical requests at once.
    async fn send_concurrent(
        &self,
        req: &Request,
        copies: u32,
        exchanges: &mut Vec<Exchange>,
    ) -> Vec<Result<Response, HttpError>> {
        let futures = (0..copies).map(|_| self.client.send(req));
        let outcomes = futures_util::future::join_all(futures).await;
        for o in &outcomes {
            exchanges.push(Exchange::record(req, o));
        }
        outcomes
    }

    fn extra_headers(
        &self,
        s: &StepSpec,
        vars: &VarStore,
        headers: &mut Vec<(String, String)>,
    ) -> Result<(), StepError> {
        headers.retain(|(n, _)| !s.omit_headers.iter().any(|o| o.eq_ignore_ascii_case(n)));
        for (n, v) in &s.headers {
            let v = render(v, vars)?;
            // A header the step sets replaces the action's default one.
            headers.retain(|(h, _)| !h.eq_ignore_ascii_case(n));
            headers.push((n.clone(), v));
        }
        Ok(())
    }

    async fn register(&self, s: &StepSpec, vars: &VarStore) -> Result<Outcome, StepError> {
        let method = s
            .auth_method
            .as_deref()
            .map(|m| render(m, vars))
            .transpose()?
            .unwrap_or_else(|| "none".into());
        // Servers without DCR: the pre-registered client stands in.
        let Some(endpoint) = var_str(vars, "discovery.as.registration_endpoint") else {
            let Some(id) = &self.ctx.target.client_id else {
                return Err(StepError::new(
                    "the AS offers no registration_endpoint and no --client-id was given",
                ));
            };
            let secret = self.ctx.target.client_secret.clone();
            let auth = if secret.is_some() {
                "client_secret_basic"
            } else {
                "none"
            };
            return Ok(Outcome {
                capture: json!({"client_id": id, "client_secret": secret, "auth_method": auth,
                    "redirect_uri": self.ctx.redirect_uri, "preregistered": true}),
                ..Outcome::default()
            });
        };
        let mut doc = json!({
            "redirect_uris": [self.ctx.redirect_uri],
            "token_endpoint_auth_method": method,
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "client_name": "mcp-conform",
            "application_type": "native",
        });
        if let (Some(obj), Some(Value::Object(over))) = (doc.as_object_mut(), &s.metadata) {
            for (k, v) in over {
                obj.insert(k.clone(), render_json(v, vars)?);
            }
        }
        if let Some(obj) = doc.as_object_mut() {
            for o in &s.omit {
                obj.remove(o);
            }
        }
        let mut headers = vec![
            ("content-type".to_owned(), "application/json".to_owned()),
            ("accept".to_owned(), "application/json".to_owned()),
        ];
        self.extra_headers(s, vars, &mut headers)?;
        let req = Request {
            method: "POST".into(),
            url: endpoint,
            headers,
            body: doc.to_string().into_bytes(),
        };
        let mut exchanges = Vec::new();
        let resp = self.send(&req, &mut exchanges).await?;
        let mut cap = response_capture(&resp);
        let body = resp.json().unwrap_or(Value::Null);
        copy_members(
            &mut cap,
            &body,
            &[
                "client_id",
                "client_secret",
                "client_secret_expires_at",
                "token_endpoint_auth_method",
            ],
        );
        let assigned = body
            .get("token_endpoint_auth_method")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .unwrap_or(method);
        cap.insert("auth_method".into(), Value::from(assigned));
        let redirect = doc
            .pointer("/redirect_uris/0")
            .cloned()
            .unwrap_or(Value::Null);
        cap.insert("redirect_uri".into(), redirect);
        Ok(Outcome {
            json: resp.json(),
            capture: Value::Object(cap),
            response: Some(resp),
            exchanges,
            ..Outcome::default()
        })
    }

    async fn authorize(
        &self,
        s: &StepSpec,
        vars: &VarStore,
        own_capture: Option<&str>,
    ) -> Result<Outcome, StepError> {
        let endpoint = require(vars, "discovery.as.authorization_endpoint")?;
        let mut client = s.client.as_deref().unwrap_or("client");
        // `params.client_id` alone names a client without a registration (a
        // client ID metadata document URL): a public client, which this
        // step's own capture then stands for at the token endpoint.
        let client_id = match (s.params.get("client_id"), own_capture) {
            (Some(t), Some(own)) if vars.get(&format!("{client}.client_id")).is_none() => {
                client = own;
                render(t, vars)?
            }
            _ => require(vars, &format!("{client}.client_id"))?,
        };
        let registered_redirect = var_str(vars, &format!("{client}.redirect_uri"))
            .unwrap_or_else(|| self.ctx.redirect_uri.clone());
        let pair = pkce::generate();
        let state = pkce::random_token(32);
        let mut params: Vec<(String, String)> = vec![
            ("response_type".into(), "code".into()),
            ("client_id".into(), client_id.clone()),
            ("redirect_uri".into(), registered_redirect),
            ("code_challenge".into(), pair.challenge.clone()),
            ("code_challenge_method".into(), "S256".into()),
            ("state".into(), state.clone()),
        ];
        if let Some(resource) = var_str(vars, "discovery.resource") {
            params.push(("resource".into(), resource));
        }
        if let Some(scope) = var_str(vars, "discovery.scope") {
            params.push(("scope".into(), scope));
        }
        let user = match &s.user {
            Some(u) => Some(render(u, vars)?),
            None => self.ctx.target.user.clone(),
        };
        if let Some(u) = user {
            params.push(("login_hint".into(), u));
        }
        // Overrides may read the generated PKCE pair and state.
        let mut local = vars.clone();
        local.set(
            "pkce",
            json!({"verifier": pair.verifier, "challenge": pair.challenge, "state": state}),
        );
        for (k, v) in &s.params {
            let v = render(v, &local)?;
            match params.iter_mut().find(|(n, _)| n == k) {
                Some(slot) => slot.1 = v,
                None => params.push((k.clone(), v)),
            }
        }
        params.retain(|(n, _)| !s.omit.contains(n));
        let sep = if endpoint.contains('?') { '&' } else { '?' };
        let url = format!("{endpoint}{sep}{}", form::encode(&params));
        let redirect_uri = form::get(&params, "redirect_uri")
            .unwrap_or(&self.ctx.redirect_uri)
            .to_owned();
        let sent_state = form::get(&params, "state").unwrap_or_default().to_owned();
        let landing = driver::drive(
            &self.ctx.target.driver,
            self.client,
            &url,
            &redirect_uri,
            &sent_state,
            self.ctx.callback(),
        )
        .await
        .map_err(StepError::new)?;
        let mut cap = Map::new();
        cap.insert("status".into(), Value::from(landing.status));
        cap.insert("client_id".into(), Value::from(client_id));
        cap.insert("client".into(), Value::from(client));
        cap.insert("verifier".into(), Value::from(pair.verifier.clone()));
        cap.insert("challenge".into(), Value::from(pair.challenge.clone()));
        cap.insert("state".into(), Value::from(sent_state));
        cap.insert("redirect_uri".into(), Value::from(redirect_uri));
        cap.insert(
            "resource".into(),
            form::get(&params, "resource")
                .map(Value::from)
                .unwrap_or(Value::Null),
        );
        if let Some(loc) = &landing.location {
            cap.insert("location".into(), Value::from(loc.clone()));
            cap.insert("query".into(), query_json(loc));
            if landing.reached_redirect_uri
                && let Some(code) = query_json(loc).get("code")
            {
                cap.insert("code".into(), code.clone());
            }
        }
        // A page that is neither an error nor a redirect is a login or
        // consent page (requirements §4, class b): the follow driver cannot
        // get past it, and nothing can be judged from it either way.
        if !landing.reached_redirect_uri
            && landing.location.is_none()
            && (200..300).contains(&landing.status)
        {
            return Err(StepError {
                message: format!(
                    "the authorization endpoint answered {} with a page (a login or consent page?) \
                     that the {} driver cannot get past; use --driver browser or --driver command",
                    landing.status,
                    match self.ctx.target.driver {
                        super::target::Driver::Follow => "follow",
                        super::target::Driver::Browser { .. } => "browser",
                        super::target::Driver::Command { .. } => "command",
                    }
                ),
                exchanges: landing.exchanges,
            });
        }
        if s.expect_code && cap.get("code").is_none() {
            let where_ = landing
                .location
                .as_deref()
                .map(|l| {
                    format!(
                        "a redirect to {}",
                        crate::core::redact::redact_url_query(l, crate::core::redact::SECRET_KEYS)
                    )
                })
                .unwrap_or_else(|| format!("a {} page", landing.status));
            return Err(StepError {
                message: format!("the authorization request ended at {where_}, without a code"),
                exchanges: landing.exchanges,
            });
        }
        let response = Response {
            status: landing.status,
            headers: landing.headers.clone(),
            body: landing.body.clone(),
            truncated: false,
            elapsed: Default::default(),
        };
        Ok(Outcome {
            capture: Value::Object(cap),
            json: response.json(),
            response: Some(response),
            exchanges: landing.exchanges,
            ..Outcome::default()
        })
    }

    /// Adds client authentication to a token-endpoint request.
    fn client_auth(
        &self,
        s: &StepSpec,
        vars: &VarStore,
        client: &str,
        form_pairs: &mut Vec<(String, String)>,
        headers: &mut Vec<(String, String)>,
    ) -> Result<(), StepError> {
        let id = require(vars, &format!("{client}.client_id"))?;
        let secret = var_str(vars, &format!("{client}.client_secret"));
        let registered =
            var_str(vars, &format!("{client}.auth_method")).unwrap_or_else(|| "none".into());
        let mode = match s.client_auth.as_deref().unwrap_or("registered") {
            "registered" => match registered.as_str() {
                "client_secret_basic" => "basic",
                "client_secret_post" => "post",
                _ => "none",
            },
            other => other,
        };
        let need_secret = || {
            secret
                .clone()
                .ok_or_else(|| StepError::new(format!("`{client}` has no client_secret")))
        };
        match mode {
            "none" => form_pairs.push(("client_id".into(), id)),
            "basic" => headers.push((
                "authorization".into(),
                form::basic_authorization(&id, &need_secret()?),
            )),
            "post" => {
                form_pairs.push(("client_id".into(), id));
                form_pairs.push(("client_secret".into(), need_secret()?));
            }
            _ => {
                let secret = need_secret()?;
                headers.push((
                    "authorization".into(),
                    form::basic_authorization(&id, &secret),
                ));
                form_pairs.push(("client_id".into(), id));
                form_pairs.push(("client_secret".into(), secret));
            }
        }
        Ok(())
    }

    async fn token(
        &self,
        s: &StepSpec,
        vars: &VarStore,
        grant: TokenGrant,
    ) -> Result<Outcome, StepError> {
        let endpoint = require(vars, "discovery.as.token_endpoint")?;
        let source = s.grant.as_deref().unwrap_or(match grant {
            TokenGrant::Code => "grant",
            TokenGrant::Refresh => "tokens",
        });
        let mut pairs: Vec<(String, String)> = Vec::new();
        let client = match grant {
            TokenGrant::Code => {
                pairs.push(("grant_type".into(), "authorization_code".into()));
                pairs.push(("code".into(), require(vars, &format!("{source}.code"))?));
                pairs.push((
                    "redirect_uri".into(),
                    require(vars, &format!("{source}.redirect_uri"))?,
                ));
                pairs.push((
                    "code_verifier".into(),
                    require(vars, &format!("{source}.verifier"))?,
                ));
                if let Some(r) = var_str(vars, &format!("{source}.resource")) {
                    pairs.push(("resource".into(), r));
                }
                s.client
                    .clone()
                    .or_else(|| var_str(vars, &format!("{source}.client")))
                    .unwrap_or_else(|| "client".into())
            }
            TokenGrant::Refresh => {
                pairs.push(("grant_type".into(), "refresh_token".into()));
                let rt = match &s.token {
                    Some(t) => render(t, vars)?,
                    None => require(vars, &format!("{source}.refresh_token"))?,
                };
                pairs.push(("refresh_token".into(), rt));
                if let Some(r) = var_str(vars, &format!("{source}.resource"))
                    .or_else(|| var_str(vars, "discovery.resource"))
                {
                    pairs.push(("resource".into(), r));
                }
                s.client
                    .clone()
                    .or_else(|| var_str(vars, &format!("{source}.client")))
                    .unwrap_or_else(|| "client".into())
            }
        };
        let mut headers = vec![
            (
                "content-type".to_owned(),
                "application/x-www-form-urlencoded".to_owned(),
            ),
            ("accept".to_owned(), "application/json".to_owned()),
        ];
        self.client_auth(s, vars, &client, &mut pairs, &mut headers)?;
        for (k, v) in &s.params {
            let v = render(v, vars)?;
            match pairs.iter_mut().find(|(n, _)| n == k) {
                Some(slot) => slot.1 = v,
                None => pairs.push((k.clone(), v)),
            }
        }
        pairs.retain(|(n, _)| !s.omit.contains(n));
        let resource = form::get(&pairs, "resource").map(str::to_owned);
        let req = Request {
            method: "POST".into(),
            url: endpoint,
            headers,
            body: form::encode(&pairs).into_bytes(),
        };
        let mut exchanges = Vec::new();
        if let Some(n) = s.concurrent {
            let outcomes = self.send_concurrent(&req, n, &mut exchanges).await;
            // The winner's tokens are captured, so a scenario can check what
            // became of them (the family revoked, say).
            let winner = outcomes.iter().flatten().find(|r| r.status == 200);
            let mut cap = winner.map(response_capture).unwrap_or_default();
            let mut outcome = race_outcome(&outcomes, exchanges);
            cap.insert("statuses".into(), outcome.capture["statuses"].take());
            outcome.capture = Value::Object(cap);
            return Ok(outcome);
        }
        let resp = self.send(&req, &mut exchanges).await?;
        let mut cap = response_capture(&resp);
        let body = resp.json().unwrap_or(Value::Null);
        copy_members(
            &mut cap,
            &body,
            &[
                "access_token",
                "refresh_token",
                "scope",
                "expires_in",
                "token_type",
                "error",
            ],
        );
        cap.insert("client".into(), Value::from(client));
        if let Some(r) = resource {
            cap.insert("resource".into(), Value::from(r));
        }
        Ok(Outcome {
            json: resp.json(),
            capture: Value::Object(cap),
            response: Some(resp),
            exchanges,
            ..Outcome::default()
        })
    }

    async fn revoke(&self, s: &StepSpec, vars: &VarStore) -> Result<Outcome, StepError> {
        let endpoint = require(vars, "discovery.as.revocation_endpoint")?;
        let token = render(
            s.token.as_deref().unwrap_or("{{ tokens.access_token }}"),
            vars,
        )?;
        let mut pairs = vec![("token".to_owned(), token)];
        if let Some(h) = &s.token_type_hint {
            pairs.push(("token_type_hint".into(), render(h, vars)?));
        }
        let client = s.client.clone().unwrap_or_else(|| "client".into());
        let mut headers = vec![(
            "content-type".to_owned(),
            "application/x-www-form-urlencoded".to_owned(),
        )];
        self.client_auth(s, vars, &client, &mut pairs, &mut headers)?;
        for (k, v) in &s.params {
            pairs.push((k.clone(), render(v, vars)?));
        }
        let req = Request {
            method: "POST".into(),
            url: endpoint,
            headers,
            body: form::encode(&pairs).into_bytes(),
        };
        let mut exchanges = Vec::new();
        let resp = self.send(&req, &mut exchanges).await?;
        Ok(Outcome {
            json: resp.json(),
            capture: Value::Object(response_capture(&resp)),
            response: Some(resp),
            exchanges,
            ..Outcome::default()
        })
    }

    fn bearer(&self, url: &str, token: &str) -> Result<(String, String), StepError> {
        // Never hand a bearer token to another origin than the target's.
        let target = url_canon::origin(&self.ctx.target.url).unwrap_or_default();
        if url_canon::origin(url).ok().as_deref() != Some(target.as_str()) {
            return Err(StepError::new(format!(
                "refusing to send a bearer token to {url}, which is not on the target's origin"
            )));
        }
        Ok(("authorization".into(), format!("Bearer {token}")))
    }

    async fn mcp_initialize(&self, s: &StepSpec, vars: &VarStore) -> Result<Outcome, StepError> {
        let url = match &s.url {
            Some(u) => render(u, vars)?,
            None => self.ctx.target.url.clone(),
        };
        let version = match &s.protocol_version {
            Some(v) => render(v, vars)?,
            None => self.ctx.spec_version.as_str().to_owned(),
        };
        let token = s.token.as_deref().map(|t| render(t, vars)).transpose()?;
        let body = jsonrpc::request(
            0,
            "initialize",
            json!({"protocolVersion": version, "capabilities": {},
                   "clientInfo": {"name": "mcp-conform", "version": env!("CARGO_PKG_VERSION")}}),
        );
        // Requirements §9.5: no MCP-Protocol-Version header on initialize.
        let mut headers = vec![
            ("content-type".to_owned(), "application/json".to_owned()),
            (
                "accept".to_owned(),
                "application/json, text/event-stream".to_owned(),
            ),
        ];
        if let Some(t) = &token {
            headers.push(self.bearer(&url, t)?);
        }
        self.extra_headers(s, vars, &mut headers)?;
        let req = Request {
            method: "POST".into(),
            url: url.clone(),
            headers: headers.clone(),
            body: body.to_string().into_bytes(),
        };
        let mut exchanges = Vec::new();
        let resp = self
            .send_rpc(&req, &jsonrpc::Id::Number(0), &mut exchanges)
            .await?;
        let rpc = rpc_response(&resp, &jsonrpc::Id::Number(0));
        let mut cap = response_capture(&resp);
        let session = resp.header("mcp-session-id").map(str::to_owned);
        let negotiated = rpc
            .as_ref()
            .and_then(|m| m.pointer("/result/protocolVersion"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        cap.insert(
            "session_id".into(),
            session.clone().map(Value::from).unwrap_or(Value::Null),
        );
        cap.insert(
            "protocol_version".into(),
            negotiated.clone().map(Value::from).unwrap_or(Value::Null),
        );
        cap.insert(
            "token".into(),
            token.clone().map(Value::from).unwrap_or(Value::Null),
        );
        cap.insert("url".into(), Value::from(url.clone()));
        if let Some(m) = &rpc {
            cap.insert("json".into(), m.clone());
            if let Some(r) = m.get("result") {
                cap.insert("result".into(), r.clone());
            }
        }
        // Complete the handshake when it succeeded.
        if resp.status == 200 && negotiated.is_some() {
            let mut h = vec![
                ("content-type".to_owned(), "application/json".to_owned()),
                (
                    "accept".to_owned(),
                    "application/json, text/event-stream".to_owned(),
                ),
            ];
            if let Some(v) = &negotiated {
                h.push(("mcp-protocol-version".into(), v.clone()));
            }
            if let Some(sid) = &session {
                h.push(("mcp-session-id".into(), sid.clone()));
            }
            if let Some(t) = &token {
                h.push(self.bearer(&url, t)?);
            }
            let note = Request {
                method: "POST".into(),
                url,
                headers: h,
                body: jsonrpc::notification("notifications/initialized", None)
                    .to_string()
                    .into_bytes(),
            };
            let n = self.send(&note, &mut exchanges).await?;
            cap.insert("initialized_status".into(), Value::from(n.status));
        }
        Ok(Outcome {
            json: rpc.or_else(|| resp.json()),
            capture: Value::Object(cap),
            response: Some(resp),
            exchanges,
            ..Outcome::default()
        })
    }

    /// Sends a JSON-RPC request, reading an SSE answer only until the
    /// response with `id` has arrived.
    async fn send_rpc(
        &self,
        req: &Request,
        id: &jsonrpc::Id,
        exchanges: &mut Vec<Exchange>,
    ) -> Result<Response, StepError> {
        let id = id.clone();
        let done = move |body: &[u8]| -> bool {
            jsonrpc::messages_from_http(Some("text/event-stream"), body)
                .map(|ms| jsonrpc::find_response(&ms, &id).is_some())
                .unwrap_or(false)
        };
        let outcome = self.client.send_until(req, Some(&done)).await;
        exchanges.push(Exchange::record(req, &outcome));
        rate_limited(outcome, exchanges)
    }

    async fn mcp(&self, s: &StepSpec, vars: &VarStore) -> Result<Outcome, StepError> {
        let session = s.session.as_deref();
        let url = match (&s.url, session) {
            (Some(u), _) => render(u, vars)?,
            (None, Some(sess)) => {
                var_str(vars, &format!("{sess}.url")).unwrap_or_else(|| self.ctx.target.url.clone())
            }
            (None, None) => self.ctx.target.url.clone(),
        };
        let url = if s.query.is_empty() {
            url
        } else {
            let pairs: Vec<(String, String)> = s
                .query
                .iter()
                .map(|(k, v)| Ok((k.clone(), render(v, vars)?)))
                .collect::<Result<_, StepError>>()?;
            format!(
                "{url}{}{}",
                if url.contains('?') { '&' } else { '?' },
                form::encode(&pairs)
            )
        };
        let id = jsonrpc::Id::Number(self.next_id.fetch_add(1, Ordering::Relaxed));
        let body = match &s.body {
            Some(raw) => render(raw, vars)?.into_bytes(),
            None => {
                let method = s.method.as_deref().unwrap_or("ping");
                let params = s
                    .rpc_params
                    .as_ref()
                    .map(|p| render_json(p, vars))
                    .transpose()?;
                jsonrpc::request(id.clone(), method, params)
                    .to_string()
                    .into_bytes()
            }
        };
        let mut headers = vec![
            ("content-type".to_owned(), "application/json".to_owned()),
            (
                "accept".to_owned(),
                "application/json, text/event-stream".to_owned(),
            ),
        ];
        if let Some(sess) = session {
            if let Some(v) = var_str(vars, &format!("{sess}.protocol_version")) {
                headers.push(("mcp-protocol-version".into(), v));
            }
            if let Some(sid) = var_str(vars, &format!("{sess}.session_id")) {
                headers.push(("mcp-session-id".into(), sid));
            }
        }
        let token = match (&s.token, session) {
            (Some(t), _) => Some(render(t, vars)?),
            (None, Some(sess)) => var_str(vars, &format!("{sess}.token")),
            (None, None) => None,
        };
        if let Some(t) = token.filter(|t| !t.is_empty()) {
            headers.push(self.bearer(&url, &t)?);
        }
        self.extra_headers(s, vars, &mut headers)?;
        let req = Request {
            method: "POST".into(),
            url,
            headers,
            body,
        };
        let mut exchanges = Vec::new();
        if let Some(n) = s.concurrent {
            let outcomes = self.send_concurrent(&req, n, &mut exchanges).await;
            return Ok(race_outcome(&outcomes, exchanges));
        }
        let resp = self.send_rpc(&req, &id, &mut exchanges).await?;
        let rpc = rpc_response(&resp, &id);
        let mut cap = response_capture(&resp);
        if let Some(m) = &rpc {
            cap.insert("json".into(), m.clone());
            for key in ["result", "error"] {
                if let Some(v) = m.get(key) {
                    cap.insert(key.into(), v.clone());
                }
            }
        }
        Ok(Outcome {
            json: rpc.or_else(|| resp.json()),
            capture: Value::Object(cap),
            response: Some(resp),
            exchanges,
            ..Outcome::default()
        })
    }

    async fn advance_clock(&self, s: &StepSpec) -> Result<Outcome, StepError> {
        let seconds = s.seconds.unwrap_or(0);
        match &self.ctx.target.clock {
            ClockMode::Control { url } => {
                let req = Request {
                    method: "POST".into(),
                    url: url.clone(),
                    headers: vec![("content-type".into(), "application/json".into())],
                    body: json!({"seconds": seconds}).to_string().into_bytes(),
                };
                let mut exchanges = Vec::new();
                let resp = self.send(&req, &mut exchanges).await?;
                if resp.status != 200 {
                    return Err(StepError {
                        message: format!("the clock control at {url} answered {}", resp.status),
                        exchanges,
                    });
                }
                Ok(Outcome {
                    capture: json!({"seconds": seconds}),
                    exchanges,
                    ..Outcome::default()
                })
            }
            ClockMode::Wait { max } => {
                let wanted = std::time::Duration::from_secs(seconds);
                if wanted > *max {
                    return Err(StepError::new(format!(
                        "this step needs {seconds}s of real waiting; the profile allows {max:?}"
                    )));
                }
                tokio::time::sleep(wanted).await;
                Ok(Outcome {
                    capture: json!({"seconds": seconds}),
                    ..Outcome::default()
                })
            }
            ClockMode::None => Err(StepError::new(
                "no clock: the target profile gives no clock control and no wait",
            )),
        }
    }

    /// A token for the target: the ready one (when no other user is asked
    /// for), else the whole flow with a fresh registration. `params` are
    /// authorization-request overrides (e.g. a `scope`).
    async fn obtain_token(
        &self,
        s: &StepSpec,
        vars: &VarStore,
        own_capture: Option<&str>,
    ) -> Result<Outcome, StepError> {
        if let (Some(token), None) = (&self.ctx.target.token, &s.user) {
            return Ok(Outcome {
                capture: json!({"access_token": token, "ready_token": true}),
                ..Outcome::default()
            });
        }
        let mut local = vars.clone();
        let mut exchanges = Vec::new();
        let plain = StepSpec {
            expect_code: true,
            ..StepSpec::default()
        };
        let reg = self.register(&plain, &local).await.map_err(|mut e| {
            e.message = format!("registering a client: {}", e.message);
            e
        })?;
        exchanges.extend(reg.exchanges);
        if reg.capture.get("client_id").is_none() {
            return Err(StepError {
                message: "the registration returned no client_id".into(),
                exchanges,
            });
        }
        local.set("client", reg.capture);
        let authz = StepSpec {
            user: s.user.clone(),
            params: s.params.clone(),
            ..plain.clone()
        };
        let grant = self
            .authorize(&authz, &local, None)
            .await
            .map_err(|mut e| {
                exchanges.append(&mut e.exchanges);
                StepError {
                    message: format!("authorizing: {}", e.message),
                    exchanges: exchanges.clone(),
                }
            })?;
        exchanges.extend(grant.exchanges);
        local.set("grant", grant.capture);
        let tokens = self
            .token(&plain, &local, TokenGrant::Code)
            .await
            .map_err(|mut e| {
                exchanges.append(&mut e.exchanges);
                StepError {
                    message: format!("exchanging the code: {}", e.message),
                    exchanges: exchanges.clone(),
                }
            })?;
        exchanges.extend(tokens.exchanges);
        if tokens.capture.get("access_token").is_none() {
            let status = tokens
                .response
                .as_ref()
                .map(|r| r.status)
                .unwrap_or_default();
            return Err(StepError {
                message: format!("the token endpoint answered {status} without an access_token"),
                exchanges,
            });
        }
        let mut capture = tokens.capture;
        if let Some(obj) = capture.as_object_mut() {
            obj.insert(
                "client_id".into(),
                local.get("client.client_id").unwrap_or(Value::Null),
            );
            obj.insert("ready_token".into(), Value::Bool(false));
            // The client is public and has no capture of its own: this
            // step's capture stands for it in later token requests.
            obj.insert("auth_method".into(), Value::from("none"));
            if let Some(own) = own_capture {
                obj.insert("client".into(), Value::from(own));
            }
        }
        Ok(Outcome {
            capture,
            json: tokens.json,
            response: tokens.response,
            exchanges,
            ..Outcome::default()
        })
    }

    async fn http(&self, s: &StepSpec, vars: &VarStore) -> Result<Outcome, StepError> {
        let mut url = render(s.url.as_deref().unwrap_or_default(), vars)?;
        if !s.query.is_empty() {
            let pairs: Vec<(String, String)> = s
                .query
                .iter()
                .map(|(k, v)| Ok((k.clone(), render(v, vars)?)))
                .collect::<Result<_, StepError>>()?;
            url = format!(
                "{url}{}{}",
                if url.contains('?') { '&' } else { '?' },
                form::encode(&pairs)
            );
        }
        let mut headers: Vec<(String, String)> = Vec::new();
        let body = if let Some(pairs) = &s.form {
            headers.push((
                "content-type".into(),
                "application/x-www-form-urlencoded".into(),
            ));
            let pairs: Vec<(String, String)> = pairs
                .iter()
                .map(|(k, v)| Ok((k.clone(), render(v, vars)?)))
                .collect::<Result<_, StepError>>()?;
            form::encode(&pairs).into_bytes()
        } else if let Some(j) = &s.json {
            headers.push(("content-type".into(), "application/json".into()));
            render_json(j, vars)?.to_string().into_bytes()
        } else if let Some(raw) = &s.body {
            render(raw, vars)?.into_bytes()
        } else {
            Vec::new()
        };
        if let Some(t) = &s.token {
            let t = render(t, vars)?;
            headers.push(self.bearer(&url, &t)?);
        }
        self.extra_headers(s, vars, &mut headers)?;
        let req = Request {
            method: s.http_method.clone().unwrap_or_else(|| "GET".into()),
            url,
            headers,
            body,
        };
        let mut exchanges = Vec::new();
        if let Some(n) = s.concurrent {
            let outcomes = self.send_concurrent(&req, n, &mut exchanges).await;
            return Ok(race_outcome(&outcomes, exchanges));
        }
        // A GET that asks for an event stream may open one that never ends
        // (transports, "Listening for Messages from the Server"): read only
        // the first chunk, enough for the status, headers and a short error
        // body or the first event.
        let wants_stream = req.method.eq_ignore_ascii_case("GET")
            && req
                .headers
                .iter()
                .any(|(n, v)| n.eq_ignore_ascii_case("accept") && v.contains("text/event-stream"));
        let resp = if wants_stream {
            let first_chunk = |_: &[u8]| true;
            let outcome = self.client.send_until(&req, Some(&first_chunk)).await;
            exchanges.push(Exchange::record(&req, &outcome));
            outcome.map_err(|e| StepError {
                message: e.to_string(),
                exchanges: exchanges.clone(),
            })?
        } else {
            self.send(&req, &mut exchanges).await?
        };
        Ok(Outcome {
            json: resp.json(),
            capture: Value::Object(response_capture(&resp)),
            response: Some(resp),
            exchanges,
            ..Outcome::default()
        })
    }
}

#[derive(Clone, Copy)]
enum TokenGrant {
    Code,
    Refresh,
}

/// The outcome of a `concurrent` step: the statuses (0 for a copy that got
/// no response), judged by `count_status`.
fn race_outcome(outcomes: &[Result<Response, HttpError>], exchanges: Vec<Exchange>) -> Outcome {
    let statuses: Vec<u16> = outcomes
        .iter()
        .map(|o| o.as_ref().map(|r| r.status).unwrap_or(0))
        .collect();
    Outcome {
        capture: json!({"statuses": statuses}),
        statuses,
        exchanges,
        ..Outcome::default()
    }
}

/// A transport error, or a 429 (requirements §9.6: limits on registrations
/// and token requests are legal), stops the step: neither tells anything
/// about the rule a check is after, so its checks end as `error`.
fn rate_limited(
    outcome: Result<Response, HttpError>,
    exchanges: &[Exchange],
) -> Result<Response, StepError> {
    match outcome {
        Ok(resp) if resp.status == 429 => Err(StepError {
            message: format!(
                "the target is rate limiting (429{}); rerun later or with fewer checks",
                resp.header("retry-after")
                    .map(|r| format!(", retry after {r}"))
                    .unwrap_or_default()
            ),
            exchanges: exchanges.to_vec(),
        }),
        Ok(resp) => Ok(resp),
        Err(e) => Err(StepError {
            message: e.to_string(),
            exchanges: exchanges.to_vec(),
        }),
    }
}

/// The JSON-RPC response with `id` in a JSON or SSE body.
fn rpc_response(resp: &Response, id: &jsonrpc::Id) -> Option<Value> {
    let messages = jsonrpc::messages_from_http(resp.header("content-type"), &resp.body).ok()?;
    jsonrpc::find_response(&messages, id).map(jsonrpc::Message::to_value)
}
