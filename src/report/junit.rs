//! `--report-junit PATH`: one test suite per scenario, one test case per
//! check. `fail` is a JUnit failure, `error` a JUnit error, `skip` skipped;
//! `warn` passes with the warning in system-out, so CI tools that only
//! know pass/fail do not block on a SHOULD.

use std::collections::BTreeMap;
use std::time::Duration;

use quick_junit::{NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestSuite};

use crate::engine::results::{RunReport, Status};

pub fn render(report: &RunReport) -> Result<String, quick_junit::SerializeError> {
    let mut junit = Report::new("mcp-conform");
    junit.set_time(Duration::from_millis(report.duration_ms));
    let mut suites: BTreeMap<&str, TestSuite> = BTreeMap::new();
    for r in &report.results {
        let suite = suites.entry(r.scenario.as_str()).or_insert_with(|| {
            let mut s = TestSuite::new(r.scenario.clone());
            s.add_property(Property::new("target", report.target.clone()));
            s
        });
        let mut status = match r.status {
            Status::Pass | Status::Warn => TestCaseStatus::success(),
            Status::Skip => {
                let mut s = TestCaseStatus::skipped();
                s.set_message(r.message.clone());
                s
            }
            Status::Fail | Status::Error => {
                let kind = if r.status == Status::Fail {
                    NonSuccessKind::Failure
                } else {
                    NonSuccessKind::Error
                };
                let mut s = TestCaseStatus::non_success(kind);
                s.set_message(r.message.clone());
                s.set_type(format!("{} {}", r.level.as_str(), r.requirements.join(",")));
                let details: Vec<String> = r
                    .failures
                    .iter()
                    .map(|f| {
                        format!(
                            "{}: expected {}, got {} ({})",
                            f.assertion, f.expected, f.actual, f.location
                        )
                    })
                    .collect();
                s.set_description(details.join("\n"));
                s
            }
        };
        let _ = &mut status;
        let mut case = TestCase::new(r.id.clone(), status);
        case.set_classname(format!("{}.{}", r.charged_to.as_str(), r.scenario));
        case.set_time(Duration::from_millis(r.duration_ms));
        case.add_property(Property::new("requirements", r.requirements.join(",")));
        case.add_property(Property::new("level", r.level.as_str()));
        if r.status == Status::Warn {
            case.set_system_out(format!("warn: {}", r.message));
        }
        if let Some(reason) = &r.expected_failure {
            case.add_property(Property::new("expected_failure", reason.clone()));
        }
        suite.add_test_case(case);
    }
    junit.add_test_suites(suites.into_values());
    junit.to_string()
}
