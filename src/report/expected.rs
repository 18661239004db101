//! `--expected-failures FILE`: known gaps that do not fail the run.
//!
//! Semantics follow the official MCP conformance suite: a listed check that
//! fails (or errors) does not fail the run; a listed check that passes fails
//! the run as stale, so the list shrinks as the server improves. Entries name
//! a check id with a reason:
//!
//! ```toml
//! [[expected_failure]]
//! check = "dcr-rejects-http-redirect"
//! reason = "tracked in our issue #12"
//! ```

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use crate::engine::results::{RunReport, Status, Summary};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    expected_failure: Vec<Entry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    check: String,
    reason: String,
}

/// A loaded expected-failures list.
#[derive(Debug, Clone, Default)]
pub struct ExpectedFailures {
    entries: BTreeMap<String, String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ExpectedFailuresError {
    #[error("failed to read expected-failures file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("failed to parse expected-failures file {path}: {message}")]
    Parse { path: String, message: String },
    #[error("expected-failures file {path}: check `{check}` is listed twice")]
    Duplicate { path: String, check: String },
}

impl ExpectedFailures {
    pub fn load(path: &Path) -> Result<Self, ExpectedFailuresError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ExpectedFailuresError::Read {
            path: shown.clone(),
            source,
        })?;
        Self::parse(&text, &shown)
    }

    pub fn parse(text: &str, shown: &str) -> Result<Self, ExpectedFailuresError> {
        let file: File = toml::from_str(text).map_err(|e| ExpectedFailuresError::Parse {
            path: shown.to_owned(),
            message: e.to_string(),
        })?;
        let mut entries = BTreeMap::new();
        for e in file.expected_failure {
            if entries.insert(e.check.clone(), e.reason).is_some() {
                return Err(ExpectedFailuresError::Duplicate {
                    path: shown.to_owned(),
                    check: e.check,
                });
            }
        }
        Ok(Self { entries })
    }

    /// The listed check ids that no known check has (typos, removed checks).
    pub fn unknown_ids<'a>(&'a self, known: &'a [String]) -> Vec<&'a str> {
        self.entries
            .keys()
            .filter(|k| !known.contains(k))
            .map(String::as_str)
            .collect()
    }

    /// Applies the list: listed failures become `pass` with the reason kept,
    /// and listed checks that passed are reported as stale (the run fails).
    pub fn apply(&self, report: &mut RunReport) {
        for r in &mut report.results {
            let Some(reason) = self.entries.get(&r.id) else {
                continue;
            };
            match r.status {
                Status::Fail | Status::Error | Status::Warn => {
                    r.expected_failure = Some(reason.clone());
                    r.message = format!("expected failure ({reason}): {}", r.message);
                    r.status = Status::Pass;
                }
                Status::Pass => {
                    report.stale_expected_failures.push(r.id.clone());
                    r.status = Status::Fail;
                    r.message = format!(
                        "listed in the expected-failures file ({reason}) but it passes now: remove the entry"
                    );
                }
                Status::Skip => {}
            }
        }
        report.summary = Summary::of(&report.results);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::results::CheckResult;
    use crate::scenario::model::{ChargedTo, Level};
    use crate::scenario::plan::Location;

    fn result(id: &str, status: Status) -> CheckResult {
        CheckResult {
            id: id.into(),
            scenario: "s".into(),
            title: "t".into(),
            status,
            level: Level::Must,
            requirements: vec!["DCR-07".into()],
            charged_to: ChargedTo::As,
            message: "m".into(),
            failures: vec![],
            transcript: vec![],
            location: Location {
                file: "f".into(),
                line: 1,
                column: 1,
            },
            expected_failure: None,
            duration_ms: 0,
        }
    }

    #[test]
    fn listed_failure_passes_and_listed_pass_is_stale() {
        let list = ExpectedFailures::parse(
            "[[expected_failure]]\ncheck = \"a\"\nreason = \"known\"\n[[expected_failure]]\ncheck = \"b\"\nreason = \"fixed?\"\n",
            "x",
        )
        .unwrap();
        let mut report = RunReport {
            target: "t".into(),
            spec_version: "v".into(),
            summary: Summary::default(),
            results: vec![
                result("a", Status::Fail),
                result("b", Status::Pass),
                result("c", Status::Fail),
            ],
            stale_expected_failures: vec![],
            duration_ms: 0,
        };
        list.apply(&mut report);
        assert_eq!(report.results[0].status, Status::Pass);
        assert_eq!(report.results[1].status, Status::Fail);
        assert_eq!(report.stale_expected_failures, vec!["b".to_owned()]);
        assert_eq!(report.summary.fail, 2);
        assert!(report.failed());
    }

    #[test]
    fn duplicates_are_rejected() {
        let err = ExpectedFailures::parse(
            "[[expected_failure]]\ncheck = \"a\"\nreason = \"r\"\n[[expected_failure]]\ncheck = \"a\"\nreason = \"r\"\n",
            "x",
        )
        .unwrap_err();
        assert!(matches!(err, ExpectedFailuresError::Duplicate { .. }));
    }
}
