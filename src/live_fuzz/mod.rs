//! Live fuzz mode (`mcp-conform fuzz`): hostile inputs against a running
//! target's auth surface, judged by invariants, failures shrunk and
//! reported with a seed and a curl command.
//!
//! What each file owns:
//!
//! | file | owns |
//! |---|---|
//! | `mod.rs` | setup (discovery, a client, a token and a session, through the engine), the loop, the budget, the report |
//! | [`generators`] | the seeded PRNG and the case families per surface |
//! | [`invariants`] | judging one exchange |
//! | [`shrink`] | shrinking a failing case |
//! | [`curl`] | the reproduction command |
//!
//! Requests go only to the target's origin and the origins discovery
//! accepted (the target's and its declared issuer's); the send path checks
//! every URL again before it goes out. The loop stops at the first of the
//! duration, the request count, or (never) running out of cases; at most
//! `concurrency` cases are in flight.

pub mod curl;
pub mod generators;
pub mod invariants;
pub mod shrink;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::{Value, json};

use crate::core::{form, jwt, url_canon};
use crate::engine::actions::StepRunner;
use crate::engine::target::Target;
use crate::engine::vars::VarStore;
use crate::engine::{RunContext, RunOptions};
use crate::http::{self, Client, Exchange, Request, Response};
use crate::scenario::model::Action;
use crate::scenario::plan::{Location, Step, StepSpec};
use invariants::{Facts, Invariant, Violation};

/// Which part of the auth surface a case attacks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Surface {
    Dcr,
    Authorize,
    Token,
    Bearer,
    McpHeaders,
    JsonRpc,
}

impl Surface {
    pub const ALL: [Surface; 6] = [
        Surface::Dcr,
        Surface::Authorize,
        Surface::Token,
        Surface::Bearer,
        Surface::McpHeaders,
        Surface::JsonRpc,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Surface::Dcr => "dcr",
            Surface::Authorize => "authorize",
            Surface::Token => "token",
            Surface::Bearer => "bearer",
            Surface::McpHeaders => "mcp-headers",
            Surface::JsonRpc => "json-rpc",
        }
    }
}

/// The endpoint a case is sent to (decides how it is judged).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Endpoint {
    Register,
    Authorize,
    Token,
    Mcp,
}

/// A case's body, kept structured so the shrinker can take it apart.
#[derive(Debug, Clone)]
pub enum Body {
    Empty,
    Form(Vec<(String, String)>),
    Json(Value),
    Raw(String),
}

/// What has to happen before a case is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prep {
    None,
    /// A fresh authorization code (and its verifier and challenge).
    FreshCode,
}

/// One generated input.
#[derive(Debug, Clone)]
pub struct Case {
    pub surface: Surface,
    pub family: &'static str,
    pub endpoint: Endpoint,
    pub method: String,
    pub url: String,
    /// Query parameters appended to `url`.
    pub query: Vec<(String, String)>,
    pub headers: Vec<(String, String)>,
    pub body: Body,
    pub prep: Prep,
}

/// What the generators know about the target.
#[derive(Debug, Clone, Default)]
pub struct Env {
    pub mcp_url: String,
    pub resource: String,
    pub issuer: String,
    pub scope: Option<String>,
    pub registration_endpoint: Option<String>,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub client_id: Option<String>,
    pub redirect_uri: String,
    /// The follow driver gets codes from the authorization endpoint.
    pub codes_available: bool,
    /// The run's access token (generators derive forgeries from it; cases
    /// refer to it only as `{{token}}`).
    pub real_token: Option<String>,
    pub token_claims: Option<Value>,
    pub has_session: bool,
    /// The negotiated protocol version.
    pub version: String,
}

/// The run's secret values, filled into placeholders at send time.
#[derive(Debug, Clone, Default)]
pub struct Secrets {
    pub token: Option<String>,
    pub session: Option<String>,
    pub code: Option<String>,
    pub verifier: Option<String>,
    pub challenge: Option<String>,
}

impl Secrets {
    fn fill(&self, s: &str) -> String {
        if !s.contains("{{") {
            return s.to_owned();
        }
        let mut out = s.to_owned();
        for (name, value) in [
            ("{{token}}", &self.token),
            ("{{session}}", &self.session),
            ("{{code}}", &self.code),
            ("{{verifier}}", &self.verifier),
            ("{{challenge}}", &self.challenge),
        ] {
            if let Some(v) = value {
                out = out.replace(name, v);
            }
        }
        out
    }

    /// The curl placeholders: real values of the run become variables.
    fn placeholders(&self) -> Vec<curl::Placeholder> {
        let mut out = Vec::new();
        for (value, var) in [
            (&self.token, "ACCESS_TOKEN"),
            (&self.session, "MCP_SESSION_ID"),
            (&self.code, "CODE"),
            (&self.verifier, "CODE_VERIFIER"),
        ] {
            if let Some(v) = value {
                out.push(curl::Placeholder {
                    value: v.clone(),
                    var,
                });
            }
        }
        out
    }
}

impl Case {
    /// The request as sent, with placeholders filled from `secrets`.
    pub fn request(&self, secrets: &Secrets) -> Request {
        let mut url = secrets.fill(&self.url);
        if !self.query.is_empty() {
            let pairs: Vec<(String, String)> = self
                .query
                .iter()
                .map(|(k, v)| (k.clone(), secrets.fill(v)))
                .collect();
            let sep = if url.contains('?') { '&' } else { '?' };
            url = format!("{url}{sep}{}", form::encode(&pairs));
        }
        let headers = self
            .headers
            .iter()
            .map(|(n, v)| (n.clone(), secrets.fill(v)))
            .collect();
        let body = match &self.body {
            Body::Empty => Vec::new(),
            Body::Form(pairs) => {
                let pairs: Vec<(String, String)> = pairs
                    .iter()
                    .map(|(k, v)| (k.clone(), secrets.fill(v)))
                    .collect();
                form::encode(&pairs).into_bytes()
            }
            Body::Json(v) => secrets.fill(&v.to_string()).into_bytes(),
            Body::Raw(s) => secrets.fill(s).into_bytes(),
        };
        Request {
            method: self.method.clone(),
            url,
            headers,
            body,
        }
    }
}

/// `req` in a few lines, the run's secret values shown as `$VAR`.
fn summary(req: &Request, placeholders: &[curl::Placeholder]) -> String {
    let hide = |s: &str| {
        placeholders
            .iter()
            .filter(|p| !p.value.is_empty())
            .fold(s.to_owned(), |acc, p| {
                acc.replace(&p.value, &format!("${}", p.var))
            })
    };
    let mut s = format!("{} {}", req.method, excerpt(&hide(&req.url), 600));
    for (n, v) in &req.headers {
        s.push_str(&format!("\n    {n}: {}", excerpt(&hide(v), 200)));
    }
    if !req.body.is_empty() {
        s.push_str(&format!(
            "\n    body: {}",
            excerpt(&hide(&String::from_utf8_lossy(&req.body)), 600)
        ));
    }
    s
}

fn excerpt(s: &str, max: usize) -> String {
    let n = s.chars().count();
    if n <= max {
        s.to_owned()
    } else {
        let cut: String = s.chars().take(max).collect();
        format!("{cut}… ({n} characters in all)")
    }
}

/// Settings of a fuzz run.
#[derive(Debug, Clone)]
pub struct FuzzOptions {
    pub seed: u64,
    pub duration: Duration,
    pub max_requests: u64,
    /// Requests per second, if limited.
    pub rate: Option<f64>,
    pub concurrency: usize,
    pub http: http::Limits,
    /// A liveness probe every this many cases.
    pub liveness_every: u64,
    /// Print a progress line on stderr.
    pub progress: bool,
}

impl Default for FuzzOptions {
    fn default() -> Self {
        FuzzOptions {
            seed: 0,
            duration: Duration::from_secs(60),
            max_requests: 20_000,
            rate: None,
            concurrency: 4,
            http: http::Limits {
                exchange_timeout: Duration::from_secs(10),
                ..Default::default()
            },
            liveness_every: 250,
            progress: false,
        }
    }
}

/// One broken invariant, shrunk.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub invariant: Invariant,
    pub invariant_id: &'static str,
    pub title: &'static str,
    pub requirements: Vec<&'static str>,
    pub surface: Surface,
    pub family: &'static str,
    pub seed: u64,
    pub case_index: u64,
    /// How many cases broke this invariant in this family.
    pub occurrences: u64,
    pub detail: String,
    /// The shrunk input, placeholders unfilled.
    pub input: String,
    pub status: Option<u16>,
    pub response_excerpt: String,
    pub curl: String,
    /// Shell variables the curl command reads, and what to put in them.
    pub variables: Vec<String>,
    pub shrink_attempts: usize,
    #[serde(skip)]
    pub exchange: Option<Exchange>,
}

/// The outcome of a run.
#[derive(Debug, Clone, Serialize)]
pub struct FuzzReport {
    pub target: String,
    pub seed: u64,
    pub requests: u64,
    pub cases: u64,
    pub shrink_requests: u64,
    pub duration_ms: u64,
    pub per_surface: BTreeMap<&'static str, u64>,
    /// What setup could not do, and so which surfaces were thinner.
    pub notes: Vec<String>,
    pub findings: Vec<Finding>,
}

impl FuzzReport {
    pub fn requests_per_second(&self) -> f64 {
        self.requests as f64 / (self.duration_ms.max(1) as f64 / 1000.0)
    }
}

/// Why a run could not start.
#[derive(Debug, thiserror::Error)]
pub enum FuzzError {
    #[error("{0}")]
    Setup(String),
}

fn step(action: Action, capture: &str, spec: StepSpec) -> Step {
    Step {
        action,
        capture: Some(capture.to_owned()),
        name: Some(format!("fuzz setup: {}", action.as_str())),
        spec,
        expects: Vec::new(),
        location: Location {
            file: "<live fuzz>".into(),
            line: 0,
            column: 0,
        },
    }
}

/// Shared state of a run.
struct Run {
    ctx: Arc<RunContext>,
    client: Client,
    env: Env,
    facts: Facts,
    secrets: Secrets,
    vars: VarStore,
    allowed_origins: Vec<String>,
    requests: AtomicU64,
    deadline: Instant,
    max_requests: u64,
}

impl Run {
    fn budget_left(&self) -> bool {
        Instant::now() < self.deadline && self.requests.load(Ordering::Relaxed) < self.max_requests
    }

    /// Sends one request, refusing any URL outside the allowed origins.
    async fn send(&self, req: &Request) -> Result<Response, http::HttpError> {
        let origin = url_canon::origin(&req.url).unwrap_or_default();
        if !self.allowed_origins.contains(&origin) {
            return Err(http::HttpError::InvalidRequest(format!(
                "refusing to send to {} (not the target's or its issuer's origin)",
                req.url
            )));
        }
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.client.send(req).await
    }

    /// A fresh code through the engine's authorize step (follow driver).
    async fn fresh_code(&self) -> Option<Secrets> {
        let mut runner = StepRunner::new(&self.ctx, &self.client);
        let spec = StepSpec {
            expect_code: true,
            ..StepSpec::default()
        };
        self.requests.fetch_add(1, Ordering::Relaxed);
        let out = runner
            .run(&step(Action::Authorize, "grant", spec), &self.vars)
            .await
            .ok()?;
        let get = |k: &str| {
            out.capture
                .get(k)
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        Some(Secrets {
            code: get("code"),
            verifier: get("verifier"),
            challenge: get("challenge"),
            ..self.secrets.clone()
        })
    }

    /// Sends `case` (after its prep) and judges the answer.
    async fn execute(&self, case: &Case) -> Executed {
        let secrets = match case.prep {
            Prep::None => self.secrets.clone(),
            Prep::FreshCode => match self.fresh_code().await {
                Some(s) => s,
                None => {
                    return Executed {
                        request: case.request(&self.secrets),
                        secrets: self.secrets.clone(),
                        outcome: Err(http::HttpError::InvalidRequest(
                            "could not get a fresh authorization code".into(),
                        )),
                        violation: None,
                    };
                }
            },
        };
        let request = case.request(&secrets);
        let outcome = self.send(&request).await;
        let violation = match &outcome {
            Ok(resp) => invariants::judge(case.endpoint, &request, resp, &secrets, &self.facts),
            Err(http::HttpError::Timeout { .. }) => Some(Violation {
                invariant: Invariant::Liveness,
                detail: "no complete response within the timeout".into(),
            }),
            Err(_) => None,
        };
        Executed {
            request,
            secrets,
            outcome,
            violation,
        }
    }

    /// The unauthenticated request every OAuth-protected MCP endpoint
    /// answers with 401.
    async fn liveness(&self) -> Option<(Request, String, Option<Response>)> {
        let req = Request {
            method: "POST".into(),
            url: self.env.mcp_url.clone(),
            headers: vec![
                ("content-type".into(), "application/json".into()),
                (
                    "accept".into(),
                    "application/json, text/event-stream".into(),
                ),
            ],
            body: json!({"jsonrpc": "2.0", "id": 1, "method": "ping"})
                .to_string()
                .into_bytes(),
        };
        match self.send(&req).await {
            Ok(r) if r.status == 401 => None,
            Ok(r) => {
                let detail = format!("the probe got {} instead of 401", r.status);
                Some((req, detail, Some(r)))
            }
            Err(e) => Some((req, format!("the probe failed: {e}"), None)),
        }
    }
}

struct Executed {
    request: Request,
    secrets: Secrets,
    outcome: Result<Response, http::HttpError>,
    violation: Option<Violation>,
}

/// A first sighting, before shrinking.
struct Sighting {
    case: Case,
    index: u64,
    violation: Violation,
    count: u64,
}

/// Sets up against `target` and fuzzes it.
pub async fn run(target: Target, options: FuzzOptions) -> Result<FuzzReport, FuzzError> {
    let started = Instant::now();
    let run_options = RunOptions {
        jobs: 1,
        http: options.http,
        only_checks: None,
    };
    let ctx = RunContext::new(target, run_options)
        .await
        .map_err(|e| FuzzError::Setup(e.to_string()))?;
    let client = Client::new(options.http).map_err(|e| FuzzError::Setup(e.to_string()))?;
    let discovery = ctx
        .discovery(&client)
        .await
        .map_err(|e| FuzzError::Setup(format!("discovery failed: {e}")))?;
    let d = &discovery.vars;
    let s = |p: &str| d.pointer(p).and_then(Value::as_str).map(str::to_owned);
    let mcp_url = ctx.target.url.clone();
    let issuer = s("/issuer").unwrap_or_default();
    let mut allowed_origins =
        vec![url_canon::origin(&mcp_url).map_err(|e| FuzzError::Setup(e.to_string()))?];
    if let Ok(o) = url_canon::origin(&issuer)
        && !allowed_origins.contains(&o)
    {
        allowed_origins.push(o);
    }
    let mut notes = Vec::new();
    let mut env = Env {
        mcp_url: mcp_url.clone(),
        resource: s("/resource").unwrap_or_else(|| mcp_url.clone()),
        issuer,
        scope: s("/scope"),
        registration_endpoint: s("/as/registration_endpoint"),
        authorization_endpoint: s("/as/authorization_endpoint").unwrap_or_default(),
        token_endpoint: s("/as/token_endpoint").unwrap_or_default(),
        redirect_uri: ctx.redirect_uri.clone(),
        version: ctx.spec_version.as_str().to_owned(),
        ..Env::default()
    };
    let plain_offered = d
        .pointer("/as/code_challenge_methods_supported")
        .and_then(Value::as_array)
        .is_some_and(|a| a.iter().any(|m| m == "plain"));

    let mut run = Run {
        ctx: ctx.clone(),
        client: client.clone(),
        env: env.clone(),
        facts: Facts::default(),
        secrets: Secrets::default(),
        vars: VarStore::default(),
        allowed_origins,
        requests: AtomicU64::new(0),
        deadline: started + options.duration,
        max_requests: options.max_requests,
    };
    run.requests.fetch_add(4, Ordering::Relaxed); // discovery
    run.vars.set("discovery", d.clone());
    run.vars.set(
        "run",
        json!({"redirect_uri": ctx.redirect_uri, "spec_version": ctx.spec_version.as_str()}),
    );

    // Setup through the engine's own steps: register, authorize, exchange,
    // initialize.
    let mut setup_runner = StepRunner::new(&ctx, &client);
    if env.registration_endpoint.is_some() || ctx.target.client_id.is_some() {
        run.requests.fetch_add(1, Ordering::Relaxed);
        match setup_runner
            .run(
                &step(Action::Register, "client", StepSpec::default()),
                &run.vars,
            )
            .await
        {
            Ok(out)
                if out
                    .capture
                    .get("client_id")
                    .and_then(Value::as_str)
                    .is_some() =>
            {
                env.client_id = out
                    .capture
                    .get("client_id")
                    .and_then(Value::as_str)
                    .map(str::to_owned);
                run.vars.set("client", out.capture);
            }
            Ok(out) => notes.push(format!(
                "registering a public client got {}: authorize and token fuzzing is limited",
                out.response.map(|r| r.status).unwrap_or(0)
            )),
            Err(e) => notes.push(format!("registering a public client failed: {}", e.message)),
        }
    } else {
        notes.push("no registration endpoint and no --client-id: DCR, authorize and most token fuzzing are skipped".into());
    }
    if env.client_id.is_some() {
        run.env = env.clone();
        match run.fresh_code().await {
            Some(grant) => {
                env.codes_available = true;
                let spec = StepSpec {
                    grant: Some("grant".into()),
                    ..StepSpec::default()
                };
                let mut vars = run.vars.clone();
                vars.set(
                    "grant",
                    json!({"code": grant.code, "verifier": grant.verifier,
                           "redirect_uri": ctx.redirect_uri, "resource": env.resource,
                           "client": "client"}),
                );
                run.requests.fetch_add(1, Ordering::Relaxed);
                match setup_runner
                    .run(&step(Action::ExchangeCode, "tokens", spec), &vars)
                    .await
                {
                    Ok(out) => match out.capture.get("access_token").and_then(Value::as_str) {
                        Some(t) => {
                            env.real_token = Some(t.to_owned());
                            env.token_claims = jwt::decode_unverified(t).ok().map(|j| j.claims);
                        }
                        None => notes.push(format!(
                            "exchanging the code got {}: bearer fuzzing uses synthetic tokens only",
                            out.response.map(|r| r.status).unwrap_or(0)
                        )),
                    },
                    Err(e) => notes.push(format!("exchanging the code failed: {}", e.message)),
                }
            }
            None => notes.push(
                "the follow driver got no authorization code (consent needed?): cases that need a fresh code are skipped".into(),
            ),
        }
    }
    if let Some(token) = &env.real_token {
        let spec = StepSpec {
            token: Some(token.clone()),
            ..StepSpec::default()
        };
        run.requests.fetch_add(2, Ordering::Relaxed);
        match setup_runner
            .run(&step(Action::McpInitialize, "session", spec), &run.vars)
            .await
        {
            Ok(out) => {
                if let Some(v) = out.capture.get("protocol_version").and_then(Value::as_str) {
                    env.version = v.to_owned();
                }
                match out.capture.get("session_id").and_then(Value::as_str) {
                    Some(sid) => {
                        env.has_session = true;
                        run.secrets.session = Some(sid.to_owned());
                    }
                    None => notes.push(
                        "initialize returned no session id: session and version fuzzing is skipped"
                            .into(),
                    ),
                }
            }
            Err(e) => notes.push(format!("initialize failed: {}", e.message)),
        }
    }
    run.secrets.token = env.real_token.clone();
    run.facts = Facts {
        target_origin: url_canon::origin(&mcp_url).unwrap_or_default(),
        client_id: env.client_id.clone(),
        redirect_uri: ctx.redirect_uri.clone(),
        plain_offered,
    };
    run.env = env;
    let run = Arc::new(run);

    // The loop.
    let sightings: Arc<Mutex<BTreeMap<(Invariant, &'static str), Sighting>>> = Arc::default();
    let per_surface: Arc<Mutex<BTreeMap<&'static str, u64>>> = Arc::default();
    let stop_progress = Arc::new(AtomicBool::new(false));
    let progress = options.progress.then(|| {
        let (run, sightings, stop) = (run.clone(), sightings.clone(), stop_progress.clone());
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let found = sightings.lock().map(|s| s.len()).unwrap_or(0);
                eprint!(
                    "\rfuzzing: {} requests, {} finding(s), {:.0}s ",
                    run.requests.load(Ordering::Relaxed),
                    found,
                    started.elapsed().as_secs_f64()
                );
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            eprint!("\r{}\r", " ".repeat(60));
        })
    });
    let sem = Arc::new(tokio::sync::Semaphore::new(options.concurrency.max(1)));
    let mut tasks = tokio::task::JoinSet::new();
    let mut index: u64 = 0;
    let mut cases: u64 = 0;
    let mut empty_turns = 0u64;
    let loop_started = Instant::now();
    let mut liveness_failure = None;
    while run.budget_left() {
        if index > 0 && index.is_multiple_of(options.liveness_every.max(1)) {
            // Let in-flight cases land so a crash is pinned near its cause.
            let _ = sem
                .clone()
                .acquire_many_owned(options.concurrency.max(1) as u32)
                .await;
            if let Some(f) = run.liveness().await {
                liveness_failure = Some((index, f));
                break;
            }
        }
        if let Some(rate) = options.rate.filter(|r| *r > 0.0) {
            let due = loop_started
                + Duration::from_secs_f64(run.requests.load(Ordering::Relaxed) as f64 / rate);
            tokio::time::sleep_until(due.into()).await;
        }
        let i = index;
        index += 1;
        let Some(case) = generators::generate(options.seed, i, &run.env) else {
            empty_turns += 1;
            if empty_turns > 10_000 {
                break; // nothing to test at all
            }
            continue;
        };
        cases += 1;
        if let Ok(mut p) = per_surface.lock() {
            *p.entry(case.surface.as_str()).or_default() += 1;
        }
        let permit = match sem.clone().acquire_owned().await {
            Ok(p) => p,
            Err(_) => break,
        };
        let (run2, sightings2) = (run.clone(), sightings.clone());
        tasks.spawn(async move {
            let _permit = permit;
            let ex = run2.execute(&case).await;
            if let Some(v) = ex.violation
                && let Ok(mut s) = sightings2.lock()
            {
                s.entry((v.invariant, case.family))
                    .and_modify(|s| s.count += 1)
                    .or_insert(Sighting {
                        case,
                        index: i,
                        violation: v,
                        count: 1,
                    });
            }
        });
        while tasks.try_join_next().is_some() {}
    }
    while tasks.join_next().await.is_some() {}
    if liveness_failure.is_none()
        && let Some(f) = run.liveness().await
    {
        liveness_failure = Some((index, f));
    }
    stop_progress.store(true, Ordering::Relaxed);
    if let Some(p) = progress {
        let _ = p.await;
    }
    let requests = run.requests.load(Ordering::Relaxed);

    // Shrink each distinct finding (bounded in attempts and time).
    let mut findings = Vec::new();
    let sightings: Vec<Sighting> = std::mem::take(
        &mut *sightings
            .lock()
            .map_err(|_| FuzzError::Setup("poisoned".into()))?,
    )
    .into_values()
    .collect();
    let shrink_deadline = Instant::now() + Duration::from_secs(20);
    for sighting in sightings.into_iter().take(16) {
        findings.push(shrink_and_report(&run, sighting, options.seed, shrink_deadline).await);
    }
    if let Some((index, (req, detail, resp))) = liveness_failure {
        let exchange = Exchange::record(
            &req,
            &resp
                .clone()
                .ok_or(http::HttpError::InvalidRequest(String::new())),
        );
        findings.push(Finding {
            invariant: Invariant::Liveness,
            invariant_id: Invariant::Liveness.id(),
            title: Invariant::Liveness.title(),
            requirements: Invariant::Liveness.requirements(Endpoint::Mcp).to_vec(),
            surface: Surface::JsonRpc,
            family: "liveness",
            seed: options.seed,
            case_index: index,
            occurrences: 1,
            detail: format!(
                "{detail}, after case #{index} (the cases just before it are the suspects)"
            ),
            input: format!("{} {}", req.method, req.url),
            status: resp.as_ref().map(|r| r.status),
            response_excerpt: exchange
                .response
                .map(|r| excerpt(&r.body, 500))
                .unwrap_or_default(),
            curl: curl::command(&req, &[]),
            variables: Vec::new(),
            shrink_attempts: 0,
            exchange: None,
        });
    }
    let shrink_requests = run.requests.load(Ordering::Relaxed) - requests;
    let per_surface = per_surface.lock().map(|p| p.clone()).unwrap_or_default();
    Ok(FuzzReport {
        target: mcp_url,
        seed: options.seed,
        requests,
        cases,
        shrink_requests,
        duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        per_surface,
        notes,
        findings,
    })
}

async fn shrink_and_report(run: &Arc<Run>, s: Sighting, seed: u64, deadline: Instant) -> Finding {
    let want = s.violation.invariant;
    let (small, attempts) = if want == Invariant::Liveness {
        (s.case.clone(), 0)
    } else {
        shrink::shrink(s.case.clone(), 150, |c: Case| {
            let run = run.clone();
            async move {
                if Instant::now() >= deadline {
                    return false;
                }
                run.execute(&c)
                    .await
                    .violation
                    .is_some_and(|v| v.invariant == want)
            }
        })
        .await
    };
    // One more send of the final case, for the response shown.
    let mut ex = run.execute(&small).await;
    let (case, ex) = if ex.violation.as_ref().is_some_and(|v| v.invariant == want) {
        (small, ex)
    } else {
        // Flaky (a timeout that did not repeat, say): show the original.
        ex = run.execute(&s.case).await;
        (s.case.clone(), ex)
    };
    let detail = ex
        .violation
        .as_ref()
        .filter(|v| v.invariant == want)
        .map(|v| v.detail.clone())
        .unwrap_or_else(|| format!("{} (did not repeat on re-sending)", s.violation.detail));
    let exchange = Exchange::record(&ex.request, &ex.outcome);
    let placeholders = ex.secrets.placeholders();
    let curl = curl::command(&ex.request, &placeholders);
    let mut variables = Vec::new();
    for p in &placeholders {
        if curl.contains(&format!("${}", p.var)) {
            variables.push(
                match p.var {
                    "ACCESS_TOKEN" => "ACCESS_TOKEN: a valid access token for the target",
                    "MCP_SESSION_ID" => "MCP_SESSION_ID: the Mcp-Session-Id of an initialized session (with ACCESS_TOKEN)",
                    "CODE" => "CODE: a fresh authorization code for the client, redirect URI and PKCE pair of the command",
                    _ => "CODE_VERIFIER: the PKCE verifier of the authorization that produced CODE",
                }
                .to_owned(),
            );
        }
    }
    Finding {
        invariant: want,
        invariant_id: want.id(),
        title: want.title(),
        requirements: want.requirements(case.endpoint).to_vec(),
        surface: case.surface,
        family: case.family,
        seed,
        case_index: s.index,
        occurrences: s.count,
        detail,
        input: summary(&ex.request, &placeholders),
        status: ex.outcome.as_ref().ok().map(|r| r.status),
        response_excerpt: exchange
            .response
            .as_ref()
            .map(|r| excerpt(&r.body, 500))
            .or(exchange.error.clone())
            .unwrap_or_default(),
        curl,
        variables,
        shrink_attempts: attempts,
        exchange: Some(exchange),
    }
}

/// The report as text.
pub fn render_text(report: &FuzzReport) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "mcp-conform fuzz: {} (seed {})\n",
        report.target, report.seed
    ));
    for n in &report.notes {
        out.push_str(&format!("note: {n}\n"));
    }
    for (i, f) in report.findings.iter().enumerate() {
        out.push_str(&format!(
            "\nFINDING {}: {} [{}]\n  {}\n  {}\n  surface {}, family {}, case #{} of seed {}, seen {} time(s); shrunk in {} attempt(s)\n",
            i + 1,
            f.invariant_id,
            f.requirements.join(", "),
            f.title,
            f.detail,
            f.surface.as_str(),
            f.family,
            f.case_index,
            f.seed,
            f.occurrences,
            f.shrink_attempts,
        ));
        out.push_str(&format!("  input: {}\n", f.input));
        out.push_str(&format!(
            "  response: {} {}\n",
            f.status
                .map(|s| s.to_string())
                .unwrap_or_else(|| "(none)".into()),
            f.response_excerpt
        ));
        if !f.variables.is_empty() {
            out.push_str("  reproduce (set first:");
            for v in &f.variables {
                out.push_str(&format!("\n    {v}"));
            }
            out.push_str(")\n");
        } else {
            out.push_str("  reproduce:\n");
        }
        out.push_str(&format!("    {}\n", f.curl));
    }
    let surfaces: Vec<String> = report
        .per_surface
        .iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect();
    out.push_str(&format!(
        "\n{} requests ({} cases) in {:.1}s, {:.0} requests/s; {} more to shrink\nper surface: {}\n{} finding(s)\n",
        report.requests,
        report.cases,
        report.duration_ms as f64 / 1000.0,
        report.requests_per_second(),
        report.shrink_requests,
        surfaces.join(", "),
        report.findings.len()
    ));
    out
}

/// The JSON report (`--report-json`).
pub fn render_json(report: &FuzzReport) -> String {
    let mut v = serde_json::to_value(report).unwrap_or(Value::Null);
    v["summary"] = json!({
        "requests": report.requests,
        "cases": report.cases,
        "findings": report.findings.len(),
        "requests_per_second": report.requests_per_second(),
    });
    serde_json::to_string_pretty(&v).unwrap_or_default()
}
