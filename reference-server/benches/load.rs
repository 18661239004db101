//! Load generator for the reference server: throughput, latency and memory
//! figures, printed as plain text.
//!
//! Run with `cargo bench -p mcp-reference-server --bench load` (the bench
//! profile is release) or `scripts/bench-reference-server.sh`. It spawns the
//! release `mcp-reference-server` binary as a child on `127.0.0.1:0` (so the
//! memory figures are the server's alone, not the generator's), drives it
//! over loopback and prints:
//!
//! 1. full authorization code exchanges per second: one client registered
//!    once, then per exchange `GET /authorize` (PKCE S256, auto-approved:
//!    302 with the code) and `POST /token`, from `BENCH_WORKERS` concurrent
//!    workers, each on its own keep-alive connection;
//! 2. authenticated `tools/call get_weather` per second: one initialize,
//!    then calls in parallel on that one session with the one token;
//! 3. p50 and p99 latency of both (an exchange is timed as a whole);
//! 4. the server's resident memory after `BENCH_REGISTRATIONS` dynamic
//!    client registrations (a fresh server process, so phases 1 and 2 leave
//!    nothing behind): `VmHWM` (peak) and `VmRSS` from `/proc/PID/status`.
//!
//! The generator and the server share the machine's cores, as the issue's
//! targets allow ("with the load generator on the same machine"). On a
//! machine that other work also uses, the rates drop with that load, so
//! phases 1 and 2 also print the CPU time (server and generator, from
//! `/proc/PID/stat`) per operation and the rate it implies for otherwise
//! idle cores: an estimate that assumes linear scaling, labelled as such. The
//! client is a bare hyper HTTP/1.1 connection per worker: reqwest's pool
//! and redirect machinery would cost CPU the server then cannot use.
//!
//! Bounded: every phase runs for a fixed time (`BENCH_SECS`, default 5,
//! after `BENCH_WARMUP_SECS`, default 1, unmeasured) or a fixed count, each
//! request has a timeout, and the child is killed when the bench ends or
//! fails. Any wrong answer counts as an error; the bench exits non-zero if
//! there was one, so a fast but broken server does not post a figure.

use std::net::SocketAddr;
use std::process::{ExitCode, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http_body_util::{BodyExt as _, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1;
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use rand_core::{OsRng, RngCore as _};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};
use tokio::io::AsyncBufReadExt as _;
use tokio::net::TcpStream;
use tokio::process::{Child, Command};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Longest any single request may take before the bench gives up on it.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// The redirect URI of the bench client; never contacted (auto-approval
/// only puts it in `Location`).
const REDIRECT_URI: &str = "http://127.0.0.1:9/callback";
const PROTOCOL_VERSION: &str = "2025-11-25";

/// Knobs, from the environment so the script and a human can rerun with
/// other values without editing code.
#[derive(Debug, Clone)]
struct Settings {
    secs: f64,
    warmup_secs: f64,
    workers: usize,
    registrations: usize,
}

impl Settings {
    fn from_env() -> Result<Self, BoxError> {
        fn var<T: std::str::FromStr>(name: &str, default: T) -> Result<T, BoxError> {
            match std::env::var(name) {
                Ok(v) => v
                    .parse()
                    .map_err(|_| format!("{name}={v:?} is not a valid number").into()),
                Err(_) => Ok(default),
            }
        }
        let s = Self {
            secs: var("BENCH_SECS", 5.0)?,
            warmup_secs: var("BENCH_WARMUP_SECS", 1.0)?,
            workers: var("BENCH_WORKERS", 32)?,
            registrations: var("BENCH_REGISTRATIONS", 100_000)?,
        };
        // Keep the run bounded even with odd settings.
        if !(0.1..=600.0).contains(&s.secs) || !(0.0..=60.0).contains(&s.warmup_secs) {
            return Err("BENCH_SECS must be in 0.1..=600 and BENCH_WARMUP_SECS in 0..=60".into());
        }
        if !(1..=1024).contains(&s.workers) || s.registrations > 10_000_000 {
            return Err(
                "BENCH_WORKERS must be in 1..=1024 and BENCH_REGISTRATIONS at most 10^7".into(),
            );
        }
        Ok(s)
    }
}

/// The spawned server. Dropping it kills the process (`kill_on_drop`).
struct Server {
    child: Child,
    pid: u32,
    addr: SocketAddr,
    mcp_url: String,
}

impl Server {
    /// Starts the release binary on an ephemeral loopback port and reads
    /// the MCP URL from the first line of its stdout.
    async fn spawn(max_clients: usize) -> Result<Self, BoxError> {
        let exe = env!("CARGO_BIN_EXE_mcp-reference-server");
        let mut child = Command::new(exe)
            .args(["--bind", "127.0.0.1:0", "--max-clients"])
            .arg(max_clients.to_string())
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("failed to spawn {exe}: {e}"))?;
        let pid = child.id().ok_or("the server exited at once")?;
        let stdout = child.stdout.take().ok_or("no stdout pipe")?;
        let mut lines = tokio::io::BufReader::new(stdout).lines();
        let first = tokio::time::timeout(Duration::from_secs(10), lines.next_line())
            .await
            .map_err(|_| "the server printed no URL within 10 s")?
            .map_err(|e| format!("reading the server's stdout: {e}"))?
            .ok_or("the server closed stdout without printing its URL")?;
        let url = url::Url::parse(first.trim())
            .map_err(|e| format!("first stdout line {first:?} is not a URL: {e}"))?;
        let addr = url
            .socket_addrs(|| None)
            .map_err(|e| format!("no address in {url}: {e}"))?
            .into_iter()
            .next()
            .ok_or_else(|| format!("no address in {url}"))?;
        if !addr.ip().is_loopback() {
            return Err(format!("the server is not on loopback: {addr}").into());
        }
        // Keep draining stdout so the child never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(Self {
            child,
            pid,
            addr,
            mcp_url: url.to_string(),
        })
    }

    /// `VmHWM` (peak resident set) and `VmRSS` of the server, in KiB.
    fn memory_kib(&self) -> Result<(u64, u64), BoxError> {
        let path = format!("/proc/{}/status", self.pid);
        let status = std::fs::read_to_string(&path).map_err(|e| format!("reading {path}: {e}"))?;
        let field = |name: &str| -> Result<u64, BoxError> {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
                .ok_or_else(|| format!("no {name} in {path}").into())
        };
        Ok((field("VmHWM:")?, field("VmRSS:")?))
    }

    async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

/// An HTTP response, fully read.
struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl Reply {
    fn json(&self) -> Result<Value, BoxError> {
        serde_json::from_slice(&self.body).map_err(|e| {
            format!(
                "response body is not JSON ({e}): {}",
                String::from_utf8_lossy(&self.body)
            )
            .into()
        })
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// An error describing this reply, for unexpected statuses.
    fn unexpected(&self, what: &str) -> BoxError {
        format!(
            "{what}: HTTP {} {}",
            self.status,
            String::from_utf8_lossy(&self.body)
        )
        .into()
    }
}

/// One keep-alive HTTP/1.1 connection, used by one worker at a time.
struct Conn {
    tx: http1::SendRequest<Full<Bytes>>,
    host: HeaderValue,
}

impl Conn {
    async fn open(addr: SocketAddr) -> Result<Self, BoxError> {
        let stream = TcpStream::connect(addr)
            .await
            .map_err(|e| format!("connecting to {addr}: {e}"))?;
        stream.set_nodelay(true)?;
        let (tx, conn) = http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| format!("HTTP/1.1 handshake with {addr}: {e}"))?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(Self {
            tx,
            host: HeaderValue::from_str(&addr.to_string())?,
        })
    }

    async fn send(
        &mut self,
        method: Method,
        path: &str,
        headers: &[(header::HeaderName, &str)],
        body: Bytes,
    ) -> Result<Reply, BoxError> {
        let mut req = Request::builder().method(method).uri(path);
        let h = req.headers_mut().ok_or("bad request head")?;
        h.insert(header::HOST, self.host.clone());
        for (name, value) in headers {
            h.insert(name.clone(), HeaderValue::from_str(value)?);
        }
        let req = req.body(Full::new(body))?;
        let fut = async {
            self.tx.ready().await?;
            let resp = self.tx.send_request(req).await?;
            let (parts, body) = resp.into_parts();
            let body = body.collect().await?.to_bytes();
            Ok::<_, hyper::Error>(Reply {
                status: parts.status,
                headers: parts.headers,
                body,
            })
        };
        tokio::time::timeout(REQUEST_TIMEOUT, fut)
            .await
            .map_err(|_| format!("{path}: no response within {REQUEST_TIMEOUT:?}"))?
            .map_err(|e| format!("{path}: {e}").into())
    }
}

/// The endpoints and the registered client an exchange needs.
#[derive(Clone)]
struct FlowTarget {
    authorize_path: String,
    token_path: String,
    client_id: String,
    resource: String,
}

/// Path and query of an absolute URL on the server.
fn path_of(url: &str) -> Result<String, BoxError> {
    let u = url::Url::parse(url).map_err(|e| format!("{url:?}: {e}"))?;
    Ok(match u.query() {
        Some(q) => format!("{}?{q}", u.path()),
        None => u.path().to_owned(),
    })
}

/// Discovers the AS endpoints (RFC 8414) and registers one public client.
async fn prepare_flow(conn: &mut Conn, mcp_url: &str) -> Result<FlowTarget, BoxError> {
    let meta = conn
        .send(
            Method::GET,
            "/.well-known/oauth-authorization-server",
            &[],
            Bytes::new(),
        )
        .await?;
    if meta.status != StatusCode::OK {
        return Err(meta.unexpected("AS metadata"));
    }
    let meta = meta.json()?;
    let endpoint = |k: &str| -> Result<String, BoxError> {
        path_of(
            meta[k]
                .as_str()
                .ok_or_else(|| format!("AS metadata has no {k}"))?,
        )
    };
    let client_id = register(conn, &endpoint("registration_endpoint")?).await?;
    Ok(FlowTarget {
        authorize_path: endpoint("authorization_endpoint")?,
        token_path: endpoint("token_endpoint")?,
        client_id,
        resource: mcp_url.to_owned(),
    })
}

/// One dynamic client registration (RFC 7591); returns the `client_id`.
async fn register(conn: &mut Conn, path: &str) -> Result<String, BoxError> {
    let body = json!({
        "redirect_uris": [REDIRECT_URI],
        "token_endpoint_auth_method": "none",
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "client_name": "mcp-reference-server load bench",
    });
    let reply = conn
        .send(
            Method::POST,
            path,
            &[(header::CONTENT_TYPE, "application/json")],
            Bytes::from(body.to_string()),
        )
        .await?;
    if reply.status != StatusCode::CREATED {
        return Err(reply.unexpected("registration"));
    }
    reply.json()?["client_id"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| "registration response has no client_id".into())
}

/// A PKCE verifier (256 random bits) and its S256 challenge (RFC 7636 §4).
fn pkce_pair() -> (String, String) {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    let verifier = URL_SAFE_NO_PAD.encode(bytes);
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

/// One full authorization code exchange; returns the access token.
async fn exchange(conn: &mut Conn, t: &FlowTarget) -> Result<String, BoxError> {
    let (verifier, challenge) = pkce_pair();
    let mut state_bytes = [0u8; 12];
    OsRng.fill_bytes(&mut state_bytes);
    let state = URL_SAFE_NO_PAD.encode(state_bytes);
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("response_type", "code")
        .append_pair("client_id", &t.client_id)
        .append_pair("redirect_uri", REDIRECT_URI)
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256")
        .append_pair("state", &state)
        .append_pair("resource", &t.resource)
        .append_pair("scope", "mcp:tools")
        .finish();
    let reply = conn
        .send(
            Method::GET,
            &format!("{}?{query}", t.authorize_path),
            &[],
            Bytes::new(),
        )
        .await?;
    if reply.status != StatusCode::FOUND {
        return Err(reply.unexpected("authorize"));
    }
    let location = reply
        .header("location")
        .ok_or("authorize: 302 without Location")?;
    let location =
        url::Url::parse(location).map_err(|e| format!("authorize: bad Location: {e}"))?;
    let (mut code, mut echoed) = (None, None);
    for (k, v) in location.query_pairs() {
        match &*k {
            "code" => code = Some(v.into_owned()),
            "state" => echoed = Some(v.into_owned()),
            _ => {}
        }
    }
    if echoed.as_deref() != Some(state.as_str()) {
        return Err("authorize: state not echoed".into());
    }
    let code = code.ok_or("authorize: no code in Location")?;
    let form = form_urlencoded::Serializer::new(String::new())
        .append_pair("grant_type", "authorization_code")
        .append_pair("code", &code)
        .append_pair("redirect_uri", REDIRECT_URI)
        .append_pair("client_id", &t.client_id)
        .append_pair("code_verifier", &verifier)
        .append_pair("resource", &t.resource)
        .finish();
    let reply = conn
        .send(
            Method::POST,
            &t.token_path,
            &[(header::CONTENT_TYPE, "application/x-www-form-urlencoded")],
            Bytes::from(form),
        )
        .await?;
    if reply.status != StatusCode::OK {
        return Err(reply.unexpected("token"));
    }
    reply.json()?["access_token"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| "token response has no access_token".into())
}

/// What an MCP request needs besides its body.
#[derive(Clone)]
struct McpTarget {
    path: String,
    bearer: String,
    session: String,
}

/// Initializes a session and sends `notifications/initialized`.
async fn open_session(conn: &mut Conn, mcp_url: &str, token: &str) -> Result<McpTarget, BoxError> {
    let path = path_of(mcp_url)?;
    let bearer = format!("Bearer {token}");
    let init = json!({
        "jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {
            "protocolVersion": PROTOCOL_VERSION,
            "capabilities": {},
            "clientInfo": { "name": "mcp-reference-server load bench", "version": "1" }
        }
    });
    let reply = conn
        .send(
            Method::POST,
            &path,
            &[
                (header::AUTHORIZATION, &bearer),
                (header::CONTENT_TYPE, "application/json"),
                (header::ACCEPT, "application/json, text/event-stream"),
            ],
            Bytes::from(init.to_string()),
        )
        .await?;
    if reply.status != StatusCode::OK {
        return Err(reply.unexpected("initialize"));
    }
    let session = reply
        .header("mcp-session-id")
        .ok_or("initialize: no Mcp-Session-Id")?
        .to_owned();
    let target = McpTarget {
        path,
        bearer,
        session,
    };
    let reply = mcp_post(
        conn,
        &target,
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}).to_string(),
    )
    .await?;
    if reply.status != StatusCode::ACCEPTED {
        return Err(reply.unexpected("notifications/initialized"));
    }
    Ok(target)
}

async fn mcp_post(conn: &mut Conn, t: &McpTarget, body: String) -> Result<Reply, BoxError> {
    conn.send(
        Method::POST,
        &t.path,
        &[
            (header::AUTHORIZATION, &t.bearer),
            (header::CONTENT_TYPE, "application/json"),
            (header::ACCEPT, "application/json, text/event-stream"),
            (
                header::HeaderName::from_static("mcp-session-id"),
                &t.session,
            ),
            (
                header::HeaderName::from_static("mcp-protocol-version"),
                PROTOCOL_VERSION,
            ),
        ],
        Bytes::from(body),
    )
    .await
}

/// One `tools/call get_weather`, checked to be a successful tool result.
async fn call_weather(conn: &mut Conn, t: &McpTarget, id: u64) -> Result<(), BoxError> {
    let body = json!({
        "jsonrpc": "2.0", "id": id, "method": "tools/call",
        "params": { "name": "get_weather", "arguments": { "city": "Paris" } }
    });
    let reply = mcp_post(conn, t, body.to_string()).await?;
    if reply.status != StatusCode::OK {
        return Err(reply.unexpected("tools/call"));
    }
    let v = reply.json()?;
    if v["id"] != json!(id) || v["result"]["isError"] == json!(true) || v["result"].is_null() {
        return Err(format!("tools/call: unexpected result {v}").into());
    }
    Ok(())
}

/// What one phase measured.
#[derive(Default)]
struct Tally {
    /// Latencies of the measured operations, in microseconds.
    latencies_us: Vec<u32>,
    errors: u64,
    first_error: Option<String>,
}

impl Tally {
    fn merge(&mut self, other: Tally) {
        self.latencies_us.extend(other.latencies_us);
        self.errors += other.errors;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
    }

    fn record(&mut self, started: Instant, result: Result<(), BoxError>, measured: bool) {
        match result {
            Ok(()) if measured => {
                let us = started.elapsed().as_micros();
                self.latencies_us
                    .push(u32::try_from(us).unwrap_or(u32::MAX));
            }
            Ok(()) => {}
            Err(e) => {
                self.errors += 1;
                self.first_error.get_or_insert_with(|| e.to_string());
            }
        }
    }

    /// The `p`-th percentile latency (nearest rank), in milliseconds.
    fn percentile_ms(&mut self, p: f64) -> f64 {
        if self.latencies_us.is_empty() {
            return f64::NAN;
        }
        self.latencies_us.sort_unstable();
        let rank = ((p / 100.0) * self.latencies_us.len() as f64).ceil() as usize;
        let idx = rank.clamp(1, self.latencies_us.len()) - 1;
        f64::from(self.latencies_us[idx]) / 1000.0
    }

    fn report(&mut self, label: &str, unit: &str, secs: f64) {
        let n = self.latencies_us.len();
        println!(
            "{label}: {n} {unit} in {secs:.1} s = {:.0} {unit}/s; latency p50 {:.2} ms, p99 {:.2} ms; errors {}",
            n as f64 / secs,
            self.percentile_ms(50.0),
            self.percentile_ms(99.0),
            self.errors,
        );
        if let Some(e) = &self.first_error {
            println!("  first error: {e}");
        }
    }
}

/// Runs `op` in a loop on `workers` connections: warm-up first (not
/// measured), then `secs` of measurement. Each worker stops at the deadline
/// or after too many errors in a row.
async fn run_phase<T, F, Fut>(
    addr: SocketAddr,
    settings: &Settings,
    target: T,
    op: F,
) -> Result<Tally, BoxError>
where
    T: Clone + Send + Sync + 'static,
    F: Fn(Conn, T, u64) -> Fut + Copy + Send + Sync + 'static,
    Fut: std::future::Future<Output = (Conn, Result<(), BoxError>)> + Send,
{
    let start = Instant::now();
    let measure_from = start + Duration::from_secs_f64(settings.warmup_secs);
    let deadline = measure_from + Duration::from_secs_f64(settings.secs);
    let mut tasks = Vec::with_capacity(settings.workers);
    for w in 0..settings.workers {
        let mut conn = Conn::open(addr).await?;
        let target = target.clone();
        tasks.push(tokio::spawn(async move {
            let mut tally = Tally::default();
            let mut consecutive_errors = 0u32;
            let mut seq = (w as u64) << 32;
            loop {
                let started = Instant::now();
                if started >= deadline || consecutive_errors >= 100 {
                    break;
                }
                seq += 1;
                let (c, result) = op(conn, target.clone(), seq).await;
                conn = c;
                consecutive_errors = if result.is_ok() {
                    0
                } else {
                    consecutive_errors + 1
                };
                // An operation that started in the warm-up or ends after
                // the deadline is not counted, so the rate is exact.
                let measured = started >= measure_from && Instant::now() <= deadline;
                tally.record(started, result, measured);
                if consecutive_errors > 0 {
                    // A broken connection stays broken; open a new one.
                    if let Ok(c) = Conn::open(addr).await {
                        conn = c;
                    }
                }
            }
            tally
        }));
    }
    let mut total = Tally::default();
    for t in tasks {
        total.merge(t.await.map_err(|e| format!("worker panicked: {e}"))?);
    }
    Ok(total)
}

/// Registers `n` clients from `workers` connections; returns the time taken
/// and the errors.
async fn register_many(
    addr: SocketAddr,
    path: String,
    n: usize,
    workers: usize,
) -> Result<(Duration, Tally), BoxError> {
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(workers);
    for w in 0..workers {
        let count = n / workers + usize::from(w < n % workers);
        let mut conn = Conn::open(addr).await?;
        let path = path.clone();
        tasks.push(tokio::spawn(async move {
            let mut tally = Tally::default();
            for _ in 0..count {
                let t = Instant::now();
                let r = register(&mut conn, &path).await.map(|_| ());
                let failed = r.is_err();
                tally.record(t, r, true);
                if failed && let Ok(c) = Conn::open(addr).await {
                    conn = c;
                }
            }
            tally
        }));
    }
    let mut total = Tally::default();
    for t in tasks {
        total.merge(t.await.map_err(|e| format!("worker panicked: {e}"))?);
    }
    Ok((started.elapsed(), total))
}

/// CPU time (user + system, all threads) `pid` has used, in seconds, from
/// `/proc/PID/stat` (fields 14 and 15, in clock ticks of 1/100 s: USER_HZ is
/// 100 on every Linux architecture this runs on).
fn cpu_secs(pid: u32) -> Result<f64, BoxError> {
    let path = format!("/proc/{pid}/stat");
    let stat = std::fs::read_to_string(&path).map_err(|e| format!("reading {path}: {e}"))?;
    // The command name (field 2) may contain spaces; fields after it are plain.
    let rest = stat
        .rsplit_once(')')
        .map(|(_, r)| r)
        .ok_or_else(|| format!("unexpected {path}"))?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // `rest` starts at field 3, so fields 14 and 15 are at 11 and 12.
    let tick = |i: usize| -> Result<f64, BoxError> {
        let v: u64 = fields
            .get(i)
            .and_then(|f| f.parse().ok())
            .ok_or_else(|| format!("no CPU times in {path}"))?;
        Ok(v as f64 / 100.0)
    };
    Ok(tick(11)? + tick(12)?)
}

/// CPU seconds the server and the generator used during the measured window
/// of a phase: sampled after the warm-up and again at the deadline.
fn spawn_cpu_sampler(
    server_pid: u32,
    settings: &Settings,
) -> tokio::task::JoinHandle<Result<(f64, f64), BoxError>> {
    let start = tokio::time::Instant::now();
    let from = start + Duration::from_secs_f64(settings.warmup_secs);
    let to = from + Duration::from_secs_f64(settings.secs);
    let me = std::process::id();
    tokio::spawn(async move {
        tokio::time::sleep_until(from).await;
        let (s0, g0) = (cpu_secs(server_pid)?, cpu_secs(me)?);
        tokio::time::sleep_until(to).await;
        let (s1, g1) = (cpu_secs(server_pid)?, cpu_secs(me)?);
        Ok((s1 - s0, g1 - g0))
    })
}

/// Prints the CPU cost per operation and what it implies for a machine
/// with `cpus` otherwise idle cores. On a shared machine the measured rate
/// depends on what else runs; the cost per operation much less so.
fn report_cpu(unit: &str, ops: usize, (server, generator): (f64, f64), cpus: usize) {
    if ops == 0 {
        return;
    }
    let per_op_us = |secs: f64| secs / ops as f64 * 1e6;
    let total = per_op_us(server + generator);
    println!(
        "  CPU per {unit}: server {:.0} µs + generator {:.0} µs; {cpus} otherwise idle CPUs would allow about {:.0} {unit}s/s (estimate)",
        per_op_us(server),
        per_op_us(generator),
        cpus as f64 * 1e6 / total,
    );
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, m)| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into())
}

async fn run(settings: Settings) -> Result<bool, BoxError> {
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!(
        "machine: {cpus} CPUs ({}); generator and server share them",
        cpu_model()
    );
    println!(
        "settings: {} workers, {} s per phase after {} s warm-up, {} registrations",
        settings.workers, settings.secs, settings.warmup_secs, settings.registrations
    );
    let mut ok = true;

    // Phases 1 and 2 on one server.
    let server = Server::spawn(200_000).await?;
    let mut setup = Conn::open(server.addr).await?;
    let flow = prepare_flow(&mut setup, &server.mcp_url).await?;

    println!("load average before the exchanges: {}", load_average());
    let sampler = spawn_cpu_sampler(server.pid, &settings);
    let mut tally = run_phase(
        server.addr,
        &settings,
        flow.clone(),
        |mut c, t, _| async move {
            let r = exchange(&mut c, &t).await.map(|_| ());
            (c, r)
        },
    )
    .await?;
    tally.report(
        "code exchanges (authorize + token, PKCE S256)",
        "exchanges",
        settings.secs,
    );
    let cpu = sampler.await.map_err(|e| format!("CPU sampler: {e}"))??;
    report_cpu("exchange", tally.latencies_us.len(), cpu, cpus);
    ok &= tally.errors == 0;

    let token = exchange(&mut setup, &flow).await?;
    let session = open_session(&mut setup, &server.mcp_url, &token).await?;
    println!("load average before the tool calls: {}", load_average());
    let sampler = spawn_cpu_sampler(server.pid, &settings);
    let mut tally = run_phase(server.addr, &settings, session, |mut c, t, id| async move {
        let r = call_weather(&mut c, &t, id).await;
        (c, r)
    })
    .await?;
    tally.report(
        "tools/call get_weather (one session, one token)",
        "calls",
        settings.secs,
    );
    let cpu = sampler.await.map_err(|e| format!("CPU sampler: {e}"))??;
    report_cpu("call", tally.latencies_us.len(), cpu, cpus);
    ok &= tally.errors == 0;
    server.stop().await;

    // Phase 3 on a fresh server, so only registrations are in its memory.
    let max_clients = settings.registrations.max(1) + 10;
    let server = Server::spawn(max_clients).await?;
    let mut setup = Conn::open(server.addr).await?;
    let meta = setup
        .send(
            Method::GET,
            "/.well-known/oauth-authorization-server",
            &[],
            Bytes::new(),
        )
        .await?
        .json()?;
    let reg_path = path_of(
        meta["registration_endpoint"]
            .as_str()
            .ok_or("AS metadata has no registration_endpoint")?,
    )?;
    drop(setup);
    let (_, before_rss) = server.memory_kib()?;
    let (took, mut tally) = register_many(
        server.addr,
        reg_path,
        settings.registrations,
        settings.workers,
    )
    .await?;
    let (hwm, rss) = server.memory_kib()?;
    let n = tally.latencies_us.len();
    println!(
        "registrations: {n} in {:.1} s = {:.0}/s; latency p50 {:.2} ms, p99 {:.2} ms; errors {}",
        took.as_secs_f64(),
        n as f64 / took.as_secs_f64(),
        tally.percentile_ms(50.0),
        tally.percentile_ms(99.0),
        tally.errors,
    );
    if let Some(e) = &tally.first_error {
        println!("  first error: {e}");
    }
    println!(
        "server memory: RSS {:.1} MiB before; after {n} registrations RSS {:.1} MiB, peak (VmHWM) {:.1} MiB",
        before_rss as f64 / 1024.0,
        rss as f64 / 1024.0,
        hwm as f64 / 1024.0,
    );
    ok &= tally.errors == 0;
    server.stop().await;
    Ok(ok)
}

fn main() -> ExitCode {
    // `cargo bench` passes `--bench`; a libtest filter would make no sense
    // here, so arguments are ignored.
    let settings = match Settings::from_env() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: failed to start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(settings)) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => {
            eprintln!("error: some requests failed (see `first error` above)");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
