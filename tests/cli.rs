//! The command line as users meet it: exit codes, diagnostics for bad
//! scenario files, and the JSON report contract.

use std::process::Command;

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_mcp-conform"));
    c.env("NO_COLOR", "1");
    c
}

/// A fresh scratch folder for one test (removed by the test at its end).
fn scratch_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("mcp-conform-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn fixture(name: &str) -> String {
    format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn run_against_the_embedded_server_exits_0() {
    let out = bin()
        .args([
            "run",
            "--quiet",
            "--id",
            "discovery/unauthenticated-challenge",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout:\n{stdout}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("0 failed"), "{stdout}");
}

#[test]
fn a_caught_fault_exits_1_and_names_the_requirement() {
    let out = bin()
        .args([
            "run",
            "--quiet",
            "--fault",
            "code-reusable",
            "--id",
            "token/code-replay",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("CODE-01"), "{stdout}");
    // The transcript is redacted by construction: no raw code or token.
    assert!(stdout.contains("‹secret sha256:"), "{stdout}");
}

#[test]
fn a_bad_scenario_file_exits_2_with_file_line_and_suggestion() {
    let out = bin()
        .args(["validate", &fixture("bad-scenario.toml")])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("bad-scenario.toml:15:1"), "{stderr}");
    assert!(stderr.contains("did you mean `status`?"), "{stderr}");
}

#[test]
fn unknown_filters_and_flags_exit_2() {
    let out = bin()
        .args(["run", "--id", "no-such-check"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no-such-check"));
    let out = bin().args(["run", "--no-such-flag"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = bin()
        .args(["run", "--fault", "code-reuseable"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("did you mean \"code-reusable\""));
}

#[test]
fn unreachable_target_errors_instead_of_hanging() {
    // Port 9 on loopback: nothing listens there; the run must end quickly
    // with errors (exit 1), not hang or claim success.
    let out = bin()
        .args(["run", "--quiet", "--timeout", "2", "http://127.0.0.1:9/mcp"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("errored"), "{stdout}");
}

#[test]
fn json_report_follows_the_contract() {
    let dir = scratch_dir("cli");
    let path = dir.join("report.json");
    let junit = dir.join("report.xml");
    let out = bin()
        .args([
            "run",
            "--quiet",
            "--id",
            "token/code-replay",
            "--report-json",
        ])
        .arg(&path)
        .arg("--report-junit")
        .arg(&junit)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    for key in ["pass", "fail", "warn", "skip", "error"] {
        assert!(report["summary"][key].is_u64(), "summary.{key}");
    }
    let results = report["results"].as_array().unwrap();
    assert!(!results.is_empty());
    for r in results {
        for key in [
            "id",
            "status",
            "level",
            "requirements",
            "charged_to",
            "message",
            "transcript",
        ] {
            assert!(r.get(key).is_some(), "result lacks {key}: {r}");
        }
    }
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        !text.contains("\"access_token\":\"ey"),
        "an access token leaked into the report"
    );
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(
        xml.contains("<testsuites") && xml.contains("code-replay-rejected"),
        "{xml}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn expected_failures_turn_a_known_failure_green_and_catch_stale_entries() {
    let dir = scratch_dir("xfail");
    let list = dir.join("expected.toml");
    std::fs::write(
        &list,
        "[[expected_failure]]\ncheck = \"code-replay-rejected\"\nreason = \"known\"\n",
    )
    .unwrap();
    let args = [
        "run",
        "--quiet",
        "--id",
        "code-replay-rejected",
        "--expected-failures",
    ];
    let out = bin()
        .args(args)
        .arg(&list)
        .args(["--fault", "code-reusable"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let out = bin().args(args).arg(&list).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("stale"), "{stdout}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_command_driver_gets_codes_from_a_user_program() {
    // The program gets the authorization URL and prints where it lands: here
    // curl, which does not follow the reference server's redirect.
    let dir = scratch_dir("driver");
    let script = dir.join("driver.sh");
    std::fs::write(
        &script,
        "#!/bin/sh\nexec curl -s -o /dev/null -w '%{redirect_url}\\n' \"$1\"\n",
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let out = bin()
        .args([
            "run",
            "--quiet",
            "--id",
            "token/code-replay",
            "--driver",
            "command",
            "--driver-command",
        ])
        .arg(&script)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("0 failed") && stdout.contains("0 errored"),
        "{stdout}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_ready_token_is_enough_for_resource_server_checks() {
    // With `--token`, scenarios that only need an access token use it instead
    // of running the flow. A bogus token makes the authenticated initialize
    // fail, which shows it was the token used.
    let out = bin()
        .args([
            "run",
            "--quiet",
            "--id",
            "transport/tool-calls",
            "--token",
            "not-a-real-token",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("initialize-with-token"), "{stdout}");
}
