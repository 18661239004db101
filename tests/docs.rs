//! Generated documents stay in step with the code: `docs/coverage.md`,
//! `docs/scenario-schema.json` and the exit codes in the README.
//! `MCP_CONFORM_BLESS=1 cargo test --test docs` rewrites the generated files.

use std::path::{Path, PathBuf};

use mcp_conform::{coverage, scenario};

fn doc(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn check_generated(path: &str, fresh: &str) {
    let p = doc(path);
    if std::env::var_os("MCP_CONFORM_BLESS").is_some() {
        std::fs::write(&p, fresh).unwrap_or_else(|e| panic!("write {path}: {e}"));
        return;
    }
    let committed = std::fs::read_to_string(&p).unwrap_or_default();
    assert!(
        committed == fresh,
        "{path} is stale: rerun with MCP_CONFORM_BLESS=1 cargo test --test docs"
    );
}

#[test]
fn coverage_page_is_fresh_and_consistent() {
    let suite =
        scenario::build(&scenario::embedded::sources()).expect("the built-in scenarios plan");
    let cov = coverage::compute(&suite);
    assert!(
        cov.problems.is_empty(),
        "coverage data problems:\n{}",
        cov.problems.join("\n")
    );
    check_generated("docs/coverage.md", &cov.render_markdown());
}

#[test]
fn scenario_schema_is_fresh() {
    let schema =
        serde_json::to_string_pretty(&scenario::json_schema()).expect("schema serialises") + "\n";
    check_generated("docs/scenario-schema.json", &schema);
}

#[test]
fn readme_documents_the_exit_codes() {
    let readme = std::fs::read_to_string(doc("README.md")).expect("README.md");
    for code in ["`0`", "`1`", "`2`"] {
        assert!(
            readme.contains(code),
            "README.md does not document exit code {code}"
        );
    }
}
