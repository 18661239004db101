//! What a run produces: one [`CheckResult`] per check, and the events the
//! reporters consume while the run goes on.

use std::time::Duration;

use serde::Serialize;

use crate::http::Exchange;
use crate::scenario::model::{ChargedTo, Level};
use crate::scenario::plan::Location;

/// The verdict of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pass,
    /// A MUST was broken.
    Fail,
    /// A SHOULD was broken.
    Warn,
    /// Not applicable here, with the reason.
    Skip,
    /// Could not be tested: a prerequisite failed. Counts as a failure, so
    /// gaps never read as green.
    Error,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Fail => "fail",
            Status::Warn => "warn",
            Status::Skip => "skip",
            Status::Error => "error",
        }
    }

    /// Whether this status fails the run (exit code 1).
    pub fn is_failure(self) -> bool {
        matches!(self, Status::Fail | Status::Error)
    }
}

/// One failed assertion, with where it is written and what was seen.
#[derive(Debug, Clone, Serialize)]
pub struct AssertFailure {
    /// What was asserted, in words (`status is 400`).
    pub assertion: String,
    pub expected: String,
    pub actual: String,
    pub location: Location,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub because: Option<String>,
}

/// The result of one check.
#[derive(Debug, Clone, Serialize)]
pub struct CheckResult {
    pub id: String,
    pub scenario: String,
    pub title: String,
    pub status: Status,
    pub level: Level,
    pub requirements: Vec<String>,
    pub charged_to: ChargedTo,
    /// One line: why it failed, errored or was skipped; empty on pass.
    pub message: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub failures: Vec<AssertFailure>,
    /// The exchanges of the steps that carry this check's assertions
    /// (or of the step that errored), secrets redacted.
    pub transcript: Vec<Exchange>,
    pub location: Location,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected_failure: Option<String>,
    pub duration_ms: u64,
}

/// Counts per status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub pass: usize,
    pub fail: usize,
    pub warn: usize,
    pub skip: usize,
    pub error: usize,
}

impl Summary {
    pub fn add(&mut self, status: Status) {
        match status {
            Status::Pass => self.pass += 1,
            Status::Fail => self.fail += 1,
            Status::Warn => self.warn += 1,
            Status::Skip => self.skip += 1,
            Status::Error => self.error += 1,
        }
    }

    pub fn total(&self) -> usize {
        self.pass + self.fail + self.warn + self.skip + self.error
    }

    pub fn of<'a>(results: impl IntoIterator<Item = &'a CheckResult>) -> Summary {
        let mut s = Summary::default();
        for r in results {
            s.add(r.status);
        }
        s
    }
}

/// The whole run.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    pub target: String,
    pub spec_version: String,
    pub summary: Summary,
    pub results: Vec<CheckResult>,
    /// Expected-failures entries that name no check that ran.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub stale_expected_failures: Vec<String>,
    pub duration_ms: u64,
}

impl RunReport {
    /// Whether the run failed: a check failed or errored (after the
    /// expected-failures file had its say).
    pub fn failed(&self) -> bool {
        self.summary.fail > 0 || self.summary.error > 0 || !self.stale_expected_failures.is_empty()
    }
}

/// Progress events, in the order they happen.
#[derive(Debug, Clone)]
pub enum Event {
    RunStarted {
        target: String,
        scenarios: usize,
        checks: usize,
    },
    ScenarioFinished {
        id: String,
        results: Vec<CheckResult>,
        duration: Duration,
    },
}
