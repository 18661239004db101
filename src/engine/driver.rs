//! Authorization drivers: how an authorization URL becomes the redirect
//! back to our loopback redirect URI (design.md, "Getting an authorization
//! code from any server").
//!
//! - `follow`: request the URL and follow redirects on the AS's own origin
//!   until one lands on the redirect URI (servers that auto-approve).
//! - `browser`: print (and optionally open) the URL; the user's browser
//!   comes back to the loopback listener (RFC 8252 §7.3).
//! - `command`: run a program with the URL; it prints the final redirect URL.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use crate::core::url_canon;
use crate::http::{Client, Exchange, Request};

use super::target::Driver;

/// Where the authorization request ended.
#[derive(Debug, Clone, Default)]
pub struct Landing {
    /// The last response's status (the redirect, or the page we stopped on).
    pub status: u16,
    /// The last `Location`, absolute.
    pub location: Option<String>,
    /// Whether `location` is our redirect URI.
    pub reached_redirect_uri: bool,
    pub exchanges: Vec<Exchange>,
    /// The last response body, for asserts on error pages.
    pub body: Vec<u8>,
    pub headers: Vec<(String, String)>,
}

/// The loopback listener the `browser` driver waits on. It also reserves
/// the redirect URI's port for the other drivers.
pub struct CallbackServer {
    port: u16,
    /// What the AS fetched of the CIMD documents this listener serves.
    pub cimd_log: super::cimd_host::FetchLog,
    waiters: Arc<Mutex<HashMap<String, oneshot::Sender<String>>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for CallbackServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl CallbackServer {
    pub async fn start() -> std::io::Result<CallbackServer> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let waiters: Arc<Mutex<HashMap<String, oneshot::Sender<String>>>> = Arc::default();
        let w = waiters.clone();
        let cimd_log = super::cimd_host::FetchLog::default();
        let log = cimd_log.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut sock, _)) = listener.accept().await else {
                    // Out of descriptors, say: back off instead of spinning.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                };
                let w = w.clone();
                let log = log.clone();
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 8192];
                    let n = match tokio::time::timeout(Duration::from_secs(10), sock.read(&mut buf))
                        .await
                    {
                        Ok(Ok(n)) => n,
                        _ => return,
                    };
                    let head = String::from_utf8_lossy(&buf[..n]);
                    let target = head.split_whitespace().nth(1).unwrap_or("/");
                    let base = format!("http://127.0.0.1:{port}");
                    let redirect_uri = format!("{base}/callback");
                    if let Some(doc) = super::cimd_host::serve(target, &base, &redirect_uri, &log) {
                        let mut resp = format!(
                            "HTTP/1.1 {}\r\ncontent-length: {}\r\nconnection: close\r\n",
                            doc.status,
                            doc.body.len()
                        );
                        for (n, v) in &doc.headers {
                            resp.push_str(&format!("{n}: {v}\r\n"));
                        }
                        resp.push_str("\r\n");
                        resp.push_str(&doc.body);
                        let _ = sock.write_all(resp.as_bytes()).await;
                        return;
                    }
                    let full = format!("http://127.0.0.1:{port}{target}");
                    let state = url::Url::parse(&full).ok().and_then(|u| {
                        u.query_pairs()
                            .find(|(k, _)| k == "state")
                            .map(|(_, v)| v.into_owned())
                    });
                    let delivered = state
                        .and_then(|s| w.lock().ok()?.remove(&s))
                        .map(|tx| tx.send(full).is_ok())
                        .unwrap_or(false);
                    let text = if delivered {
                        "mcp-conform received the authorization response; you can close this window."
                    } else {
                        "mcp-conform was not waiting for this authorization response."
                    };
                    let resp = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{text}",
                        text.len()
                    );
                    let _ = sock.write_all(resp.as_bytes()).await;
                });
            }
        });
        Ok(CallbackServer {
            port,
            cimd_log,
            waiters,
            task,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Registers interest in the callback carrying `state`.
    fn expect(&self, state: &str) -> oneshot::Receiver<String> {
        let (tx, rx) = oneshot::channel();
        if let Ok(mut w) = self.waiters.lock() {
            w.insert(state.to_owned(), tx);
        }
        rx
    }
}

/// Whether `location` is the redirect URI (scheme, host, port and path).
pub fn is_redirect_uri(location: &str, redirect_uri: &str) -> bool {
    let (Ok(a), Ok(b)) = (url::Url::parse(location), url::Url::parse(redirect_uri)) else {
        return false;
    };
    a.scheme() == b.scheme()
        && a.host_str() == b.host_str()
        && a.port_or_known_default() == b.port_or_known_default()
        && a.path() == b.path()
}

const MAX_HOPS: usize = 10;

/// Drives the authorization request at `url` to its landing.
pub async fn drive(
    driver: &Driver,
    client: &Client,
    url: &str,
    redirect_uri: &str,
    state: &str,
    callback: Option<&super::driver::CallbackServer>,
) -> Result<Landing, String> {
    match driver {
        Driver::Follow => follow(client, url, redirect_uri).await,
        Driver::Browser { open, timeout } => {
            let callback = callback.ok_or("the loopback listener is not running")?;
            let rx = callback.expect(state);
            eprintln!("\nmcp-conform: open this URL in a browser and approve:\n  {url}\n");
            if *open {
                let _ = std::process::Command::new(if cfg!(target_os = "macos") {
                    "open"
                } else {
                    "xdg-open"
                })
                .arg(url)
                .spawn();
            }
            let landed = tokio::time::timeout(*timeout, rx)
                .await
                .map_err(|_| format!("no browser came back to {redirect_uri} within {timeout:?}"))?
                .map_err(|_| "the loopback listener stopped".to_owned())?;
            Ok(Landing {
                status: 302,
                location: Some(landed),
                reached_redirect_uri: true,
                ..Landing::default()
            })
        }
        Driver::Command { program, timeout } => {
            let mut cmd = tokio::process::Command::new(program);
            cmd.arg(url)
                .kill_on_drop(true)
                .stdin(std::process::Stdio::null());
            let out = tokio::time::timeout(*timeout, cmd.output())
                .await
                .map_err(|_| {
                    format!("driver command {program:?} did not finish within {timeout:?}")
                })?
                .map_err(|e| format!("failed to run driver command {program:?}: {e}"))?;
            let stdout = String::from_utf8_lossy(&out.stdout);
            let landed = stdout
                .lines()
                .rev()
                .map(str::trim)
                .find(|l| l.starts_with("http://") || l.starts_with("https://"))
                .ok_or_else(|| {
                    format!(
                        "driver command {program:?} printed no URL (exit {})",
                        out.status
                    )
                })?;
            Ok(Landing {
                status: 302,
                reached_redirect_uri: is_redirect_uri(landed, redirect_uri),
                location: Some(landed.to_owned()),
                ..Landing::default()
            })
        }
    }
}

/// Follows redirects that stay on the authorization endpoint's origin.
async fn follow(client: &Client, url: &str, redirect_uri: &str) -> Result<Landing, String> {
    let home = url_canon::origin(url).map_err(|e| e.to_string())?;
    let mut landing = Landing::default();
    let mut next = url.to_owned();
    for _ in 0..MAX_HOPS {
        let req = Request {
            method: "GET".into(),
            url: next.clone(),
            headers: vec![("accept".into(), "text/html".into())],
            body: Vec::new(),
        };
        let outcome = client.send(&req).await;
        landing.exchanges.push(Exchange::record(&req, &outcome));
        let resp = outcome.map_err(|e| e.to_string())?;
        landing.status = resp.status;
        landing.body = resp.body.clone();
        landing.headers = resp.headers.clone();
        let location = resp
            .header("location")
            .filter(|_| (300..400).contains(&resp.status))
            .and_then(|l| url::Url::parse(&next).ok()?.join(l).ok())
            .map(|u| u.to_string());
        landing.location = location.clone();
        let Some(location) = location else {
            return Ok(landing); // a page (login, consent, error): stop here
        };
        if is_redirect_uri(&location, redirect_uri) {
            landing.reached_redirect_uri = true;
            return Ok(landing);
        }
        if url_canon::origin(&location).ok().as_deref() != Some(home.as_str()) {
            return Ok(landing); // leaving the AS: report where it wanted to go
        }
        next = location;
    }
    Err(format!(
        "more than {MAX_HOPS} redirects from the authorization endpoint"
    ))
}
