//! The HTTP client every scenario request goes through, and the transcript
//! it writes.
//!
//! Rules the engine relies on: no automatic redirects and no retries (every
//! request sent is one a scenario asked for), a connect timeout and a timeout
//! on the whole exchange, response bodies capped, and each exchange recorded
//! with secrets redacted as the record is made (see [`crate::core::redact`]).

use std::time::{Duration, Instant};

use serde::Serialize;

use crate::core::redact;

/// Client limits.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub connect_timeout: Duration,
    /// The whole exchange, including reading the body.
    pub exchange_timeout: Duration,
    pub max_body_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(5),
            exchange_timeout: Duration::from_secs(10),
            max_body_bytes: 1024 * 1024,
        }
    }
}

/// A request exactly as it goes on the wire (headers in order, repeats kept).
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// A response, with the body possibly cut at the cap.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub truncated: bool,
    pub elapsed: Duration,
}

impl Response {
    /// The first value of a header (name case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every value of a header.
    pub fn headers_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }
}

/// Why an exchange produced no response.
#[derive(Debug, Clone, thiserror::Error)]
pub enum HttpError {
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    #[error("could not connect to {url}: {reason}")]
    Connect { url: String, reason: String },
    #[error("no complete response from {url} within {timeout:?}")]
    Timeout { url: String, timeout: Duration },
    #[error("the exchange with {url} failed: {reason}")]
    Transport { url: String, reason: String },
}

/// One redacted exchange, as reports show it.
#[derive(Debug, Clone, Serialize)]
pub struct Exchange {
    pub request: RecordedRequest,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response: Option<RecordedResponse>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RecordedRequest {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub body: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct RecordedResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub body: String,
    pub elapsed_ms: u64,
}

/// Bodies longer than this are cut in transcripts.
const TRANSCRIPT_BODY_CHARS: usize = 4096;

fn record_body(content_type: Option<&str>, body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let ct = content_type.unwrap_or_default().to_ascii_lowercase();
    // The media type picks the precise redaction; whatever it says, the
    // text is then also searched for secret-shaped fields, since a server
    // under test may send a token as text/plain (or truncated JSON).
    let redacted = if ct.contains("x-www-form-urlencoded") {
        redact::redact_form_body(&text, redact::SECRET_KEYS)
    } else if ct.contains("event-stream") {
        redact_sse(&text)
    } else {
        text.into_owned()
    };
    let redacted = redact::redact_text(&redacted, redact::SECRET_KEYS);
    if redacted.chars().count() > TRANSCRIPT_BODY_CHARS {
        let cut: String = redacted.chars().take(TRANSCRIPT_BODY_CHARS).collect();
        format!("{cut}… ({} bytes in all)", body.len())
    } else {
        redacted
    }
}

/// SSE `data:` lines carrying JSON get the JSON redaction.
fn redact_sse(text: &str) -> String {
    text.lines()
        .map(|line| match line.strip_prefix("data:") {
            Some(data) => match serde_json::from_str::<serde_json::Value>(data.trim_start()) {
                Ok(v) => format!("data: {}", redact::redact_json(&v, redact::SECRET_KEYS)),
                Err(_) => line.to_owned(),
            },
            None => line.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn record_headers(headers: &[(String, String)]) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(n, v)| (n.clone(), redact::redact_header(n, v)))
        .collect()
}

impl Exchange {
    pub fn record(req: &Request, outcome: &Result<Response, HttpError>) -> Exchange {
        let req_ct = req
            .headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("content-type"))
            .map(|(_, v)| v.as_str());
        let request = RecordedRequest {
            method: req.method.clone(),
            url: redact::redact_url_query(&req.url, redact::SECRET_KEYS),
            headers: record_headers(&req.headers),
            body: record_body(req_ct, &req.body),
        };
        match outcome {
            Ok(resp) => {
                let mut headers = record_headers(&resp.headers);
                for (n, v) in &mut headers {
                    if n.eq_ignore_ascii_case("location") {
                        *v = redact::redact_url_query(v, redact::SECRET_KEYS);
                    }
                }
                Exchange {
                    request,
                    response: Some(RecordedResponse {
                        status: resp.status,
                        headers,
                        body: record_body(resp.header("content-type"), &resp.body),
                        elapsed_ms: u64::try_from(resp.elapsed.as_millis()).unwrap_or(u64::MAX),
                    }),
                    error: None,
                }
            }
            Err(e) => Exchange {
                request,
                response: None,
                error: Some(e.to_string()),
            },
        }
    }
}

/// Says, given the body read so far, whether to stop reading.
pub type StopReading = dyn Fn(&[u8]) -> bool + Sync;

/// An HTTP client with its own cookie jar (one per scenario).
#[derive(Clone)]
pub struct Client {
    inner: reqwest::Client,
    limits: Limits,
}

/// Installs the ring crypto provider for rustls once per process.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

impl Client {
    pub fn new(limits: Limits) -> Result<Client, HttpError> {
        install_crypto_provider();
        let inner = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(limits.connect_timeout)
            .cookie_store(true)
            .no_proxy()
            .user_agent(concat!("mcp-conform/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| {
                HttpError::InvalidRequest(format!("failed to build the HTTP client: {e}"))
            })?;
        Ok(Client { inner, limits })
    }

    /// Sends `req` once and reads the response (body capped, whole exchange
    /// timed out).
    pub async fn send(&self, req: &Request) -> Result<Response, HttpError> {
        self.send_until(req, None).await
    }

    /// As [`Client::send`], but stops reading the body as soon as `done`
    /// says the bytes so far are enough (an SSE stream that has delivered
    /// the awaited response and stays open).
    pub async fn send_until(
        &self,
        req: &Request,
        done: Option<&StopReading>,
    ) -> Result<Response, HttpError> {
        let method = reqwest::Method::from_bytes(req.method.as_bytes())
            .map_err(|_| HttpError::InvalidRequest(format!("bad method {:?}", req.method)))?;
        let url = reqwest::Url::parse(&req.url).map_err(|e| {
            HttpError::InvalidRequest(format!(
                "bad URL {:?}: {e}",
                redact::redact_url_query(&req.url, redact::SECRET_KEYS)
            ))
        })?;
        let mut builder = self.inner.request(method, url);
        for (name, value) in &req.headers {
            let name = reqwest::header::HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| HttpError::InvalidRequest(format!("bad header name {name:?}")))?;
            let value = reqwest::header::HeaderValue::from_bytes(value.as_bytes())
                .map_err(|_| HttpError::InvalidRequest(format!("bad value for header {name}")))?;
            builder = builder.header(name, value);
        }
        if !req.body.is_empty() {
            builder = builder.body(req.body.clone());
        }
        let timeout = self.limits.exchange_timeout;
        let max = self.limits.max_body_bytes;
        let started = Instant::now();
        // Errors name the URL with secrets in its query redacted (a token in
        // the query is itself a negative test), and reqwest's own message
        // is taken without its copy of the URL.
        let url = redact::redact_url_query(&req.url, redact::SECRET_KEYS);
        let work = async {
            let resp = builder.send().await.map_err(|e| {
                if e.is_connect() {
                    HttpError::Connect {
                        url: url.clone(),
                        reason: error_chain(&e.without_url()),
                    }
                } else {
                    HttpError::Transport {
                        url: url.clone(),
                        reason: error_chain(&e.without_url()),
                    }
                }
            })?;
            let status = resp.status().as_u16();
            let headers = resp
                .headers()
                .iter()
                .map(|(n, v)| {
                    (
                        n.as_str().to_owned(),
                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                    )
                })
                .collect();
            let mut body = Vec::new();
            let mut truncated = false;
            let mut resp = resp;
            while let Some(chunk) = resp.chunk().await.map_err(|e| HttpError::Transport {
                url: url.clone(),
                reason: error_chain(&e.without_url()),
            })? {
                let room = max.saturating_sub(body.len());
                if chunk.len() > room {
                    body.extend_from_slice(&chunk[..room]);
                    truncated = true;
                    break;
                }
                body.extend_from_slice(&chunk);
                if done.is_some_and(|done| done(&body)) {
                    break;
                }
            }
            Ok(Response {
                status,
                headers,
                body,
                truncated,
                elapsed: started.elapsed(),
            })
        };
        match tokio::time::timeout(timeout, work).await {
            Ok(r) => r,
            Err(_) => Err(HttpError::Timeout {
                url: redact::redact_url_query(&req.url, redact::SECRET_KEYS),
                timeout,
            }),
        }
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}
