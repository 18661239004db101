//! One trial per built-in scenario, each against its own in-process
//! reference server (so a scenario that moves the server's clock cannot
//! disturb another). A trial fails when any check of its scenario fails,
//! warns or errors: the reference server is strict, so every check must
//! pass there or be skipped with a reason.
//!
//! `cargo test --test scenarios -- --list` lists the trials.

use libtest_mimic::{Arguments, Failed, Trial};
use mcp_conform::embedded::EmbeddedServer;
use mcp_conform::engine::results::Status;
use mcp_conform::engine::{RunContext, RunOptions, run_scenario};
use mcp_conform::scenario::{self, plan::Scenario};

fn main() {
    let args = Arguments::from_args();
    let suite = match scenario::build(&scenario::embedded::sources()) {
        Ok(s) => s,
        Err(diags) => {
            for d in diags {
                eprintln!("{d}");
            }
            std::process::exit(2);
        }
    };
    let trials = suite
        .scenarios
        .into_iter()
        .map(|s| {
            let name = s.id.clone();
            Trial::test(name, move || run_one(&s))
        })
        .collect();
    libtest_mimic::run(&args, trials).exit();
}

fn run_one(scenario: &Scenario) -> Result<(), Failed> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("failed to build a runtime: {e}"))?;
    rt.block_on(async {
        let server = EmbeddedServer::start(&[])
            .await
            .map_err(|e| e.to_string())?;
        let options = RunOptions {
            jobs: 1,
            ..RunOptions::default()
        };
        let ctx = RunContext::new(server.target(), options)
            .await
            .map_err(|e| e.to_string())?;
        let results = run_scenario(&ctx, scenario).await;
        let bad: Vec<String> = results
            .iter()
            .filter(|r| !matches!(r.status, Status::Pass | Status::Skip))
            .map(|r| {
                let failures: Vec<String> = r
                    .failures
                    .iter()
                    .map(|f| {
                        format!(
                            "    {} at {}: expected {}, got {}",
                            f.assertion, f.location, f.expected, f.actual
                        )
                    })
                    .collect();
                format!(
                    "  {} {}: {}\n{}",
                    r.status.as_str(),
                    r.id,
                    r.message,
                    failures.join("\n")
                )
            })
            .collect();
        if bad.is_empty() {
            Ok(())
        } else {
            Err(format!("against the clean reference server:\n{}", bad.join("\n")).into())
        }
    })
}
