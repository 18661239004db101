//! Snapshots of the JSON report, transcripts included, for a few scenarios:
//! the report's shape and the redaction of secrets are pinned. Everything
//! that changes from run to run (ports, dates, timings, random ids and
//! secret fingerprints) is filtered out.

use mcp_conform::embedded::EmbeddedServer;
use mcp_conform::engine::results::{RunReport, Summary};
use mcp_conform::engine::{RunContext, RunOptions, run_scenario};
use mcp_conform::report::json;
use mcp_conform::scenario;

fn report_for(scenario_id: &str) -> String {
    let suite =
        scenario::build(&scenario::embedded::sources()).expect("the built-in scenarios plan");
    let s = suite
        .scenarios
        .iter()
        .find(|s| s.id == scenario_id)
        .expect("the scenario exists");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let server = EmbeddedServer::start(&[]).await.unwrap();
        let ctx = RunContext::new(
            server.target(),
            RunOptions {
                jobs: 1,
                ..RunOptions::default()
            },
        )
        .await
        .unwrap();
        let results = run_scenario(&ctx, s).await;
        json::render(&RunReport {
            target: ctx.target.url.clone(),
            spec_version: ctx.spec_version.as_str().to_owned(),
            summary: Summary::of(&results),
            results,
            stale_expected_failures: Vec::new(),
            duration_ms: 0,
        })
    })
}

macro_rules! snapshot {
    ($name:expr, $text:expr) => {
        insta::with_settings!({
            snapshot_path => "../snapshots/runner",
            prepend_module_to_snapshot => false,
            filters => vec![
                (r"127\.0\.0\.1:\d+", "127.0.0.1:[port]"),
                (r"127\.0\.0\.1%3A\d+", "127.0.0.1%3A[port]"),
                (r#""(elapsed_ms|duration_ms)": \d+"#, r#""$1": [ms]"#),
                (r"sha256:[0-9a-f]{8}", "sha256:[hash]"),
                (r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} GMT", "[date]"),
                (r"client_id=[A-Za-z0-9_-]{8,}", "client_id=[client_id]"),
                (r#"\\"client_id\\":\\"[A-Za-z0-9_-]{8,}\\""#, r#"\"client_id\":\"[client_id]\""#),
                (r#"\\"client_id_issued_at\\":\d+"#, r#"\"client_id_issued_at\":[time]"#),
                (r"(state|code_challenge)=[A-Za-z0-9_-]{20,}", "$1=[random]"),
                (r#"\["mcp-session-id", "[^"]+"\]"#, r#"["mcp-session-id", "[session]"]"#),
            ],
        }, {
            insta::assert_snapshot!($name, $text);
        });
    };
}

#[test]
fn report_of_the_challenge_scenario() {
    snapshot!(
        "report-unauthenticated-challenge",
        report_for("discovery/unauthenticated-challenge")
    );
}

#[test]
fn report_of_the_code_replay_scenario() {
    snapshot!("report-code-replay", report_for("token/code-replay"));
}
