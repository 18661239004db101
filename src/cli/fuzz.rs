//! `mcp-conform fuzz [URL]`: the live fuzz mode (see `crate::live_fuzz`).

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;

use super::{EXIT_FAILED, EXIT_USAGE};
use crate::embedded::EmbeddedServer;
use crate::engine::target::Target;
use crate::live_fuzz::{self, FuzzOptions};

#[derive(Debug, Args)]
pub struct FuzzArgs {
    /// The MCP endpoint to fuzz. Without it, the embedded reference server
    /// starts in-process and is fuzzed.
    url: Option<String>,
    /// Stop after this long: `60s`, `2m`, `1h` or plain seconds.
    #[arg(long, default_value = "60s", value_name = "DURATION", value_parser = parse_duration)]
    duration: Duration,
    /// Seed of the case generator (default: from the clock; always printed).
    #[arg(long, value_name = "N")]
    seed: Option<u64>,
    /// Stop after this many requests.
    #[arg(long, default_value_t = 20_000, value_name = "N")]
    max_requests: u64,
    /// At most this many requests per second.
    #[arg(long, value_name = "N")]
    rate: Option<f64>,
    /// Cases in flight at once.
    #[arg(long, default_value_t = 4, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=64))]
    concurrency: u64,
    /// Timeout for one HTTP exchange, in seconds (a hang is a finding).
    #[arg(long, default_value_t = 10, value_name = "SECS")]
    timeout: u64,
    /// Pre-registered client id (servers without dynamic registration).
    #[arg(long, value_name = "ID")]
    client_id: Option<String>,
    /// Origins (besides the target's and its issuer's) that metadata may
    /// point at (repeatable).
    #[arg(long = "allow-origin", value_name = "URL")]
    allow_origins: Vec<String>,
    /// Write the JSON report here.
    #[arg(long, value_name = "PATH")]
    report_json: Option<PathBuf>,
    /// Embedded server only: switch a rule off (repeatable).
    #[arg(long = "fault", value_name = "NAME")]
    faults: Vec<String>,
    /// No progress line.
    #[arg(long, short)]
    quiet: bool,
}

/// `60s`, `2m`, `1h`, `500ms` or plain seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = match s.find(|c: char| !c.is_ascii_digit() && c != '.') {
        Some(i) => (&s[..i], &s[i..]),
        None => (s, "s"),
    };
    let n: f64 = num
        .parse()
        .map_err(|_| format!("invalid duration {s:?}: expected e.g. 60s, 2m or 90"))?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return Err(format!("invalid duration unit in {s:?}: use ms, s, m or h")),
    };
    if !secs.is_finite() || secs <= 0.0 || secs > 7.0 * 24.0 * 3600.0 {
        return Err(format!("duration {s:?} out of range"));
    }
    Ok(Duration::from_secs_f64(secs))
}

fn usage(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(EXIT_USAGE)
}

pub fn run(args: FuzzArgs) -> ExitCode {
    match tokio::runtime::Runtime::new() {
        Ok(rt) => rt.block_on(run_async(args)),
        Err(e) => usage(format!("failed to start the async runtime: {e}")),
    }
}

async fn run_async(args: FuzzArgs) -> ExitCode {
    if args.url.is_some() && !args.faults.is_empty() {
        return usage("--fault applies only to the embedded reference server (fuzz without a URL)");
    }
    let mut embedded = None;
    let mut target = match &args.url {
        Some(url) => Target::new(url.clone()),
        None => match EmbeddedServer::start(&args.faults).await {
            Ok(server) => {
                let t = server.target();
                embedded = Some(server);
                t
            }
            Err(e) => return usage(e),
        },
    };
    target.client_id = args.client_id.clone();
    target.allowed_origins = args.allow_origins.clone();
    let seed = args.seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1)
    });
    eprintln!("mcp-conform fuzz: seed {seed}");
    let options = FuzzOptions {
        seed,
        duration: args.duration,
        max_requests: args.max_requests,
        rate: args.rate,
        concurrency: args.concurrency as usize,
        http: crate::http::Limits {
            exchange_timeout: Duration::from_secs(args.timeout.max(1)),
            ..Default::default()
        },
        progress: !args.quiet && std::io::stderr().is_terminal(),
        ..FuzzOptions::default()
    };
    let report = match live_fuzz::run(target, options).await {
        Ok(r) => r,
        Err(e) => return usage(format!("cannot fuzz the target: {e}")),
    };
    drop(embedded);
    let mut code = if report.findings.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_FAILED)
    };
    if let Some(path) = &args.report_json
        && let Err(e) = std::fs::write(path, live_fuzz::render_json(&report))
    {
        eprintln!(
            "error: failed to write the JSON report to {}: {e}",
            path.display()
        );
        code = ExitCode::from(EXIT_USAGE);
    }
    let mut out = std::io::stdout().lock();
    let _ = write!(out, "{}", live_fuzz::render_text(&report));
    let _ = out.flush();
    code
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_take_units_or_plain_seconds() {
        assert_eq!(parse_duration("60s"), Ok(Duration::from_secs(60)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert!(parse_duration("0").is_err());
        assert!(parse_duration("5 parsecs").is_err());
        assert!(parse_duration("").is_err());
    }
}
