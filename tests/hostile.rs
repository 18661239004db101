//! A deliberately misbehaving target: the runner must end every run with a
//! clear `error` or `fail` within its timeouts, never hang and never panic.
//!
//! The server below speaks just enough HTTP/1.1 to misbehave on purpose:
//! it never answers, streams an endless body, sends invalid JSON, or loops
//! redirects on its authorization endpoint.

use std::process::Command;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

#[derive(Clone, Copy)]
enum Misbehaviour {
    NeverAnswers,
    EndlessBody,
    InvalidJson,
    RedirectLoop,
}

fn response(status: &str, headers: &[(&str, String)], body: &str) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 {status}\r\ncontent-length: {}\r\nconnection: close\r\n",
        body.len()
    );
    for (n, v) in headers {
        out.push_str(&format!("{n}: {v}\r\n"));
    }
    out.push_str("\r\n");
    out.push_str(body);
    out.into_bytes()
}

async fn serve(listener: TcpListener, how: Misbehaviour) {
    let base = format!("http://{}", listener.local_addr().unwrap());
    loop {
        let Ok((mut sock, _)) = listener.accept().await else {
            return;
        };
        let base = base.clone();
        tokio::spawn(async move {
            let mut buf = vec![0u8; 16 * 1024];
            let Ok(n) = sock.read(&mut buf).await else {
                return;
            };
            let head = String::from_utf8_lossy(&buf[..n]).to_string();
            let path = head.split_whitespace().nth(1).unwrap_or("/").to_owned();
            let json = ("content-type", "application/json".to_owned());
            let out = match (how, path.as_str()) {
                (Misbehaviour::NeverAnswers, _) => {
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                    return;
                }
                (Misbehaviour::EndlessBody, _) => {
                    let _ = sock.write_all(b"HTTP/1.1 401 Unauthorized\r\ncontent-type: text/event-stream\r\nwww-authenticate: Bearer\r\n\r\n").await;
                    for _ in 0..100_000 {
                        if sock.write_all(b"data: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n").await.is_err() {
                            return;
                        }
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                    return;
                }
                (_, p) if p.starts_with("/mcp") => response(
                    "401 Unauthorized",
                    &[(
                        "www-authenticate",
                        format!(
                            "Bearer resource_metadata=\"{base}/.well-known/oauth-protected-resource/mcp\""
                        ),
                    )],
                    "",
                ),
                (Misbehaviour::InvalidJson, _) => {
                    response("200 OK", &[json], "{\"resource\": \"x\", oops")
                }
                (Misbehaviour::RedirectLoop, p)
                    if p.starts_with("/.well-known/oauth-protected-resource") =>
                {
                    response(
                        "200 OK",
                        &[json],
                        &format!(
                            "{{\"resource\":\"{base}/mcp\",\"authorization_servers\":[\"{base}\"]}}"
                        ),
                    )
                }
                (Misbehaviour::RedirectLoop, p)
                    if p.starts_with("/.well-known/oauth-authorization-server") =>
                {
                    response(
                        "200 OK",
                        &[json],
                        &format!(
                            "{{\"issuer\":\"{base}\",\"authorization_endpoint\":\"{base}/authorize\",\"token_endpoint\":\"{base}/token\",\
                         \"registration_endpoint\":\"{base}/register\",\"response_types_supported\":[\"code\"],\
                         \"code_challenge_methods_supported\":[\"S256\"]}}"
                        ),
                    )
                }
                (Misbehaviour::RedirectLoop, p) if p.starts_with("/register") => response(
                    "201 Created",
                    &[json],
                    "{\"client_id\":\"c1\",\"redirect_uris\":[\"http://127.0.0.1:1/callback\"],\"token_endpoint_auth_method\":\"none\"}",
                ),
                (Misbehaviour::RedirectLoop, p) if p.starts_with("/authorize") => response(
                    "302 Found",
                    &[("location", format!("{base}/authorize?again=1"))],
                    "",
                ),
                _ => response("404 Not Found", &[], ""),
            };
            let _ = sock.write_all(&out).await;
        });
    }
}

/// Starts the hostile server on a thread of its own and returns its MCP URL.
fn start(how: Misbehaviour) -> String {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(format!("http://{}/mcp", listener.local_addr().unwrap()))
                .unwrap();
            serve(listener, how).await;
        });
    });
    rx.recv().unwrap()
}

/// Runs the whole suite against the hostile target and returns (exit code,
/// stdout, wall time).
fn run_against(url: &str) -> (Option<i32>, String, Duration) {
    let started = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_mcp-conform"))
        .env("NO_COLOR", "1")
        .args(["run", "--quiet", "--timeout", "2", url])
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code(), text, started.elapsed())
}

fn assert_clean_failure(how: Misbehaviour, expect_in_output: &str) {
    let url = start(how);
    let (code, text, took) = run_against(&url);
    assert_eq!(code, Some(1), "{text}");
    assert!(!text.contains("panicked"), "{text}");
    assert!(
        text.contains(expect_in_output),
        "expected {expect_in_output:?} in:\n{text}"
    );
    assert!(took < Duration::from_secs(30), "took {took:?}");
}

#[test]
fn a_target_that_never_answers_times_out() {
    assert_clean_failure(Misbehaviour::NeverAnswers, "no complete response");
}

#[test]
fn an_endless_body_is_cut_and_reported() {
    assert_clean_failure(Misbehaviour::EndlessBody, "errored");
}

#[test]
fn invalid_json_metadata_is_reported() {
    assert_clean_failure(Misbehaviour::InvalidJson, "no protected resource metadata");
}

#[test]
fn a_redirect_loop_at_authorize_is_reported() {
    assert_clean_failure(Misbehaviour::RedirectLoop, "more than 10 redirects");
}
