//! The kill matrix (design.md): the catalogue against the clean reference
//! server passes, and every fault is caught by a check that cites a
//! requirement id the fault breaks. Also keeps `docs/kill-matrix.md` in step
//! (`MCP_CONFORM_BLESS=1` rewrites it).

use mcp_conform::kill_matrix;
use mcp_conform::scenario;

#[test]
fn every_fault_is_caught_and_the_clean_server_passes() {
    let suite =
        scenario::build(&scenario::embedded::sources()).expect("the built-in scenarios plan");
    let rt = tokio::runtime::Runtime::new().expect("a runtime");
    let matrix = rt
        .block_on(kill_matrix::compute(&suite, 4))
        .expect("the kill matrix runs");

    assert!(
        matrix.clean_failures.is_empty(),
        "checks that do not pass against the clean server:\n{}",
        matrix.clean_failures.join("\n")
    );
    let missed: Vec<String> = matrix
        .rows
        .iter()
        .filter(|r| !r.caught())
        .map(|r| {
            format!(
                "{} (breaks {}; other failures: {})",
                r.fault,
                r.breaks.join(", "),
                r.also_failing.join(", ")
            )
        })
        .collect();
    assert!(
        missed.is_empty(),
        "faults no check catches:\n{}",
        missed.join("\n")
    );

    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/kill-matrix.md");
    let fresh = matrix.render_markdown();
    if std::env::var_os("MCP_CONFORM_BLESS").is_some() {
        std::fs::write(&path, &fresh).expect("write docs/kill-matrix.md");
    } else {
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == fresh,
            "docs/kill-matrix.md is stale: rerun with MCP_CONFORM_BLESS=1"
        );
    }
}
