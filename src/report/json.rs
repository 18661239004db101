//! `--report-json PATH`: the report contract of design.md
//! (`summary` counts and `results[]` with `id`, `status`, `level`,
//! `requirements`, `charged_to`, `message`, `transcript`, plus more fields).

use crate::engine::results::RunReport;

/// The report as pretty JSON.
pub fn render(report: &RunReport) -> String {
    serde_json::to_string_pretty(report)
        .unwrap_or_else(|e| format!("{{\"error\":\"failed to serialise the report: {e}\"}}"))
}
