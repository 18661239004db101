//! `mcp-conform run [URL]`.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;

use super::{EXIT_FAILED, EXIT_USAGE, Filters, ScenarioSource, load_suite};
use crate::embedded::EmbeddedServer;
use crate::engine::target::{self, ClockMode, Driver, Profile, Target};
use crate::engine::{self, RunContext, RunOptions};
use crate::report::expected::ExpectedFailures;
use crate::report::{json, junit, terminal};

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The MCP endpoint to test (e.g. https://example.com/mcp). Without it,
    /// the embedded reference server starts in-process and is tested.
    url: Option<String>,

    #[command(flatten)]
    source: ScenarioSource,
    #[command(flatten)]
    filters: Filters,

    /// Scenarios run at once (default: the number of cores).
    #[arg(long, short = 'j', value_name = "N")]
    jobs: Option<usize>,
    /// Write the JSON report here.
    #[arg(long, value_name = "PATH")]
    report_json: Option<PathBuf>,
    /// Write a JUnit XML report here.
    #[arg(long, value_name = "PATH")]
    report_junit: Option<PathBuf>,
    /// Known failures that do not fail the run (TOML; see docs/ci.md).
    #[arg(long, value_name = "FILE")]
    expected_failures: Option<PathBuf>,
    /// Target profile (TOML): driver, credentials, second resource, clock...
    #[arg(long, value_name = "FILE")]
    profile: Option<PathBuf>,
    /// How to get authorization codes: follow, browser or command.
    #[arg(long, value_name = "DRIVER")]
    driver: Option<String>,
    /// Program for `--driver command`: gets the authorization URL as its
    /// argument and prints the final redirect URL.
    #[arg(long, value_name = "PROGRAM")]
    driver_command: Option<String>,
    /// Open the authorization URL in a browser (with `--driver browser`).
    #[arg(long)]
    open: bool,
    /// Pre-registered client id (servers without dynamic registration).
    #[arg(long, value_name = "ID")]
    client_id: Option<String>,
    /// Its secret, for a confidential pre-registered client.
    #[arg(
        long,
        value_name = "SECRET",
        env = "MCP_CONFORM_CLIENT_SECRET",
        hide_env_values = true
    )]
    client_secret: Option<String>,
    /// A ready access token for the target.
    #[arg(
        long,
        value_name = "TOKEN",
        env = "MCP_CONFORM_TOKEN",
        hide_env_values = true
    )]
    token: Option<String>,
    /// Another protected resource on the same authorization server.
    #[arg(long, value_name = "URL")]
    alt_resource: Option<String>,
    /// How to pass token lifetimes: control:<url>, wait:<seconds> or none.
    #[arg(long, value_name = "MODE")]
    clock: Option<String>,
    /// Origins (besides the target's and its issuer's) that metadata may
    /// point at (repeatable).
    #[arg(long = "allow-origin", value_name = "URL")]
    allow_origins: Vec<String>,
    /// Timeout for one HTTP exchange, in seconds.
    #[arg(long, default_value_t = 10, value_name = "SECS")]
    timeout: u64,
    /// Embedded server only: switch a rule off (repeatable), to see the
    /// checks catch it. `mcp-reference-server --list-faults` lists them.
    #[arg(long = "fault", value_name = "NAME")]
    faults: Vec<String>,
    /// Show every check, and warnings in detail.
    #[arg(long, short)]
    verbose: bool,
    /// No progress bar.
    #[arg(long, short)]
    quiet: bool,
}

pub fn run(args: RunArgs) -> ExitCode {
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: failed to start the async runtime: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    runtime.block_on(run_async(args))
}

fn usage(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(EXIT_USAGE)
}

async fn run_async(args: RunArgs) -> ExitCode {
    let suite = match load_suite(&args.source) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let (selected, unmatched) = args.filters.select(&suite);
    if !unmatched.is_empty() {
        return usage(format!(
            "no check, scenario or tag matches: {}",
            unmatched.join(", ")
        ));
    }
    if selected.is_empty() {
        return usage("the filters select no check");
    }
    let expected = match &args.expected_failures {
        Some(path) => match ExpectedFailures::load(path) {
            Ok(e) => {
                let known: Vec<String> = suite
                    .scenarios
                    .iter()
                    .flat_map(|s| s.checks.iter().map(|c| c.id.clone()))
                    .collect();
                let unknown = e.unknown_ids(&known);
                if !unknown.is_empty() {
                    return usage(format!(
                        "{}: no such check: {}",
                        path.display(),
                        unknown.join(", ")
                    ));
                }
                Some(e)
            }
            Err(e) => return usage(e),
        },
        None => None,
    };

    // The profile first: its `url` decides whether the embedded server runs.
    let profile = match &args.profile {
        Some(path) => match Profile::load(path) {
            Ok(p) => Some((p, path.display().to_string())),
            Err(e) => return usage(e),
        },
        None => None,
    };
    let url = args
        .url
        .clone()
        .or_else(|| profile.as_ref().and_then(|(p, _)| p.url.clone()));
    if url.is_some() && !args.faults.is_empty() {
        return usage("--fault applies only to the embedded reference server (run without a URL)");
    }
    // The target: a given URL, or the embedded reference server.
    let mut embedded = None;
    let mut target = match &url {
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
    if let Some((p, shown)) = &profile
        && let Err(e) = p.apply(&mut target, shown)
    {
        return usage(e);
    }
    if let Some(d) = &args.driver {
        let timeout = Duration::from_secs(300);
        target.driver = match d.as_str() {
            "follow" => Driver::Follow,
            "browser" => Driver::Browser {
                open: args.open,
                timeout,
            },
            "command" => match &args.driver_command {
                Some(p) => Driver::Command {
                    program: p.clone(),
                    timeout,
                },
                None => return usage("--driver command needs --driver-command PROGRAM"),
            },
            other => {
                return usage(format!(
                    "unknown driver {other:?} (follow, browser or command)"
                ));
            }
        };
    }
    for (flag, value) in [
        (&mut target.client_id, &args.client_id),
        (&mut target.client_secret, &args.client_secret),
        (&mut target.token, &args.token),
        (&mut target.alt_resource, &args.alt_resource),
    ] {
        if value.is_some() {
            *flag = value.clone();
        }
    }
    if let Some(c) = &args.clock {
        match target::parse_clock(c) {
            Ok(mode) => target.clock = mode,
            Err(e) => return usage(e),
        }
    }
    target
        .allowed_origins
        .extend(args.allow_origins.iter().cloned());
    if args.filters.spec_version.is_some() {
        target.spec_version = args.filters.spec_version;
    }
    let interactive = !matches!(target.driver, Driver::Follow);
    let jobs = if interactive {
        1
    } else {
        args.jobs.unwrap_or_else(|| RunOptions::default().jobs)
    };
    let options = RunOptions {
        jobs,
        http: crate::http::Limits {
            exchange_timeout: Duration::from_secs(args.timeout.max(1)),
            ..Default::default()
        },
        only_checks: Some(selected),
    };
    if target.clock == ClockMode::None && !target.embedded {
        eprintln!("note: no clock given (--clock); expiry checks will be skipped");
    }
    let ctx = match RunContext::new(target, options).await {
        Ok(c) => c,
        Err(e) => return usage(e),
    };
    let progress = Arc::new(terminal::Progress::new(!args.quiet));
    let p = progress.clone();
    let mut report = engine::run(ctx, &suite, Arc::new(move |e| p.on_event(e))).await;
    progress.finish();
    if let Some(e) = &expected {
        e.apply(&mut report);
    }
    drop(embedded);

    let mut code = if report.failed() {
        ExitCode::from(EXIT_FAILED)
    } else {
        ExitCode::SUCCESS
    };
    if let Some(path) = &args.report_json
        && let Err(e) = std::fs::write(path, json::render(&report))
    {
        eprintln!(
            "error: failed to write the JSON report to {}: {e}",
            path.display()
        );
        code = ExitCode::from(EXIT_USAGE);
    }
    if let Some(path) = &args.report_junit {
        let written = junit::render(&report)
            .map_err(|e| e.to_string())
            .and_then(|xml| std::fs::write(path, xml).map_err(|e| e.to_string()));
        if let Err(e) = written {
            eprintln!(
                "error: failed to write the JUnit report to {}: {e}",
                path.display()
            );
            code = ExitCode::from(EXIT_USAGE);
        }
    }
    let mut out = std::io::stdout().lock();
    let _ = terminal::write_report(&mut out, &report, terminal::Palette::detect(), args.verbose);
    let _ = out.flush();
    code
}
