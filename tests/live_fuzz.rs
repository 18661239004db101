//! `mcp-conform fuzz` against the embedded reference server: the clean
//! server yields no finding, and input-validation faults are each found,
//! with the right invariant and a curl command, in a few hundred requests
//! (far inside the default 60 s).

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_mcp-conform"))
}

fn report_path(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!(
        "mcp-conform-live-fuzz-{}-{name}.json",
        std::process::id()
    ))
}

/// Runs `fuzz` on the embedded server with `args`; returns the exit code,
/// stdout and the JSON report.
fn fuzz(name: &str, args: &[&str]) -> (i32, String, Value) {
    let path = report_path(name);
    let out = bin()
        .arg("fuzz")
        .args(args)
        .arg("--quiet")
        .arg("--report-json")
        .arg(&path)
        .output()
        .expect("run mcp-conform");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "no report at {}: {e}\nstdout:\n{stdout}\nstderr:\n{}",
            path.display(),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let _ = std::fs::remove_file(&path);
    let report: Value = serde_json::from_str(&text).expect("JSON report");
    (out.status.code().unwrap_or(-1), stdout, report)
}

#[test]
fn the_clean_reference_server_breaks_no_invariant() {
    let (code, stdout, report) = fuzz(
        "clean",
        &["--duration", "10s", "--max-requests", "1500", "--seed", "1"],
    );
    assert_eq!(code, 0, "{stdout}");
    assert_eq!(report["findings"], Value::Array(Vec::new()), "{stdout}");
    assert!(report["requests"].as_u64().unwrap() >= 500, "{stdout}");
    // Every surface was exercised, so a green run means something.
    for surface in [
        "dcr",
        "authorize",
        "token",
        "bearer",
        "mcp-headers",
        "json-rpc",
    ] {
        assert!(
            report["per_surface"][surface].as_u64().unwrap_or(0) > 50,
            "surface {surface} barely tested:\n{stdout}"
        );
    }
    assert!(report["notes"].as_array().unwrap().is_empty(), "{stdout}");
}

/// Fuzzes the server with `fault` switched on and asserts the run fails
/// with `invariant`, a curl command and the seed.
fn finds(fault: &str, invariant: &str, requirement: &str) {
    let (code, stdout, report) = fuzz(
        fault,
        &["--fault", fault, "--max-requests", "500", "--seed", "1"],
    );
    assert_eq!(code, 1, "{fault} not found:\n{stdout}");
    let findings = report["findings"].as_array().unwrap();
    let hit = findings
        .iter()
        .find(|f| f["invariant_id"] == invariant)
        .unwrap_or_else(|| panic!("{fault}: no {invariant} finding:\n{stdout}"));
    assert!(
        hit["requirements"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r == requirement),
        "{fault}: {hit}"
    );
    let curl = hit["curl"].as_str().unwrap();
    assert!(curl.starts_with("curl "), "{curl}");
    assert_eq!(hit["seed"], 1);
    assert!(
        stdout.contains(curl),
        "the text report shows the curl command"
    );
    assert!(stdout.contains("FINDING 1: "), "{stdout}");
}

#[test]
fn finds_unsafe_redirect_uris_accepted_by_dcr() {
    finds(
        "dcr-unsafe-redirect-accepted",
        "unsafe-redirect-registered",
        "DCR-09",
    );
}

#[test]
fn finds_a_token_endpoint_that_does_not_verify_pkce() {
    finds("pkce-not-verified", "bad-grant-redeemed", "PKCE-06");
}

#[test]
fn finds_a_resource_server_that_does_not_verify_signatures() {
    finds("signature-not-verified", "forged-token-accepted", "RS-12");
}

#[test]
fn finds_invalid_grant_answered_with_500() {
    finds("invalid-grant-as-500", "no-server-error", "TOK-02");
}

#[test]
fn finds_an_ignored_protocol_version_header() {
    finds("protocol-version-ignored", "bad-version-accepted", "MCP-06");
}

#[test]
fn finds_prefix_matching_of_redirect_uris() {
    finds("redirect-uri-prefix-match", "open-redirect", "AUTHZ-03");
}

#[test]
fn the_curl_command_never_contains_the_runs_token() {
    // Under token-in-query-accepted the finding's request carries the
    // real token; the command must name it as a variable instead.
    let (code, stdout, report) = fuzz(
        "query",
        &[
            "--fault",
            "token-in-query-accepted",
            "--max-requests",
            "500",
            "--seed",
            "1",
        ],
    );
    assert_eq!(code, 1, "{stdout}");
    let hit = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["invariant_id"] == "forged-token-accepted")
        .unwrap_or_else(|| panic!("{stdout}"));
    let curl = hit["curl"].as_str().unwrap();
    assert!(curl.contains("\"$ACCESS_TOKEN\""), "{curl}");
    assert!(!curl.contains("eyJ"), "a JWT leaked into {curl}");
}

#[test]
fn usage_errors_exit_with_2() {
    let out = bin().args(["fuzz", "--duration", "soon"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = bin()
        .args([
            "fuzz",
            "http://127.0.0.1:9/mcp",
            "--fault",
            "pkce-not-verified",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}
