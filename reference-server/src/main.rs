//! `mcp-reference-server`: runs the reference server until interrupted.
//!
//! The first line on stdout is the MCP endpoint URL, so scripts can start
//! the server on port 0 and read where it listens.

use std::collections::BTreeSet;
use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use mcp_reference_server::config::{Config, ConsentMode, Fault, Limits};

/// A strict MCP server with its own OAuth 2.1 authorization server.
#[derive(Debug, Parser)]
#[command(version, about, long_about = None)]
struct Cli {
    /// Address to listen on (loopback unless told otherwise).
    #[arg(long, default_value = "127.0.0.1:0")]
    bind: std::net::SocketAddr,

    /// Access token lifetime in seconds.
    #[arg(long, default_value_t = 3600, value_name = "SECS")]
    access_token_ttl: u64,

    /// Authorization code lifetime in seconds.
    #[arg(long, default_value_t = 300, value_name = "SECS")]
    code_ttl: u64,

    /// Refresh token lifetime in seconds.
    #[arg(long, default_value_t = 30 * 24 * 3600, value_name = "SECS")]
    refresh_token_ttl: u64,

    /// Path of the issuer below the origin (e.g. /tenant1), to exercise RFC
    /// 8414 path insertion. Empty: the issuer is the bare origin.
    #[arg(long, default_value = "", value_name = "PATH")]
    issuer_path: String,

    /// Public base URL (scheme://host:port) when behind a proxy.
    #[arg(long, value_name = "URL")]
    public_url: Option<String>,

    /// How /authorize gets consent: `auto` approves at once, `page` serves an
    /// approve/deny form.
    #[arg(long, default_value = "auto", value_name = "MODE")]
    consent: ConsentMode,

    /// Mount the /_test/* control routes (virtual clock).
    #[arg(long)]
    test_control: bool,

    /// Allow http:// loopback client ID metadata document URLs (tests only).
    #[arg(long)]
    allow_http_cimd: bool,

    /// Switch off one rule (repeatable); see --list-faults.
    #[arg(long = "fault", value_name = "NAME")]
    faults: Vec<Fault>,

    /// Print every fault with the requirement ids it breaks, and exit.
    #[arg(long)]
    list_faults: bool,

    /// Maximum number of registered clients.
    #[arg(long, default_value_t = Limits::default().max_clients)]
    max_clients: usize,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if cli.list_faults {
        let mut out = std::io::stdout().lock();
        for fault in Fault::ALL {
            let _ = writeln!(out, "{}\t{}", fault.name(), fault.requirements().join(","));
        }
        return ExitCode::SUCCESS;
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();

    let config = Config {
        access_token_ttl: Duration::from_secs(cli.access_token_ttl),
        code_ttl: Duration::from_secs(cli.code_ttl),
        refresh_token_ttl: Duration::from_secs(cli.refresh_token_ttl),
        issuer_path: cli.issuer_path,
        public_base_url: cli.public_url,
        consent: cli.consent,
        test_control: cli.test_control,
        allow_http_cimd: cli.allow_http_cimd,
        faults: cli.faults.into_iter().collect::<BTreeSet<_>>(),
        limits: Limits {
            max_clients: cli.max_clients,
            ..Limits::default()
        },
        ..Config::default()
    };

    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("error: failed to start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let listener = match tokio::net::TcpListener::bind(cli.bind).await {
            Ok(l) => l,
            Err(err) => {
                eprintln!("error: failed to bind {}: {err}", cli.bind);
                return ExitCode::from(2);
            }
        };
        let faults: Vec<_> = config.faults.iter().map(|f| f.name()).collect();
        let server = match mcp_reference_server::start(listener, config).await {
            Ok(s) => s,
            Err(err) => {
                eprintln!("error: {err}");
                return ExitCode::FAILURE;
            }
        };
        println!("{}", server.url);
        let _ = std::io::stdout().flush();
        tracing::info!(url = %server.url, ?faults, "mcp-reference-server listening");
        tokio::select! {
            res = tokio::signal::ctrl_c() => {
                if let Err(err) = res {
                    eprintln!("error: failed to wait for Ctrl-C: {err}");
                }
                tracing::info!("shutting down");
                let _ = server.shutdown().await;
                ExitCode::SUCCESS
            }
        }
    })
}
