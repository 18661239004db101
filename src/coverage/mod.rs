//! Requirement coverage: which catalogue ids the checks test, which are
//! excluded (with the reason) and which are missing.
//!
//! The catalogue ([`requirements.toml`](requirements.toml)) and the
//! exclusions (`exclusions/*.toml`, one file per area group so they can be
//! edited independently) are compiled in. `mcp-conform coverage` prints the
//! table and `docs/coverage.md` is generated from it; a test fails when the
//! committed file is stale.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::scenario::Suite;

const REQUIREMENTS: &str = include_str!("requirements.toml");
const EXCLUSIONS: &[(&str, &str)] = &[
    ("discovery.toml", include_str!("exclusions/discovery.toml")),
    (
        "registration.toml",
        include_str!("exclusions/registration.toml"),
    ),
    ("authorize.toml", include_str!("exclusions/authorize.toml")),
    ("token.toml", include_str!("exclusions/token.toml")),
    ("resource.toml", include_str!("exclusions/resource.toml")),
    ("transport.toml", include_str!("exclusions/transport.toml")),
];

/// One catalogue entry.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Requirement {
    pub id: String,
    pub area: String,
    pub level: String,
    pub summary: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RequirementsFile {
    requirement: Vec<Requirement>,
}

/// Why an id is not tested.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ExclusionKind {
    /// Needs documentation, a human, or the server's cooperation.
    NotBlackBox,
    /// Needs a public HTTPS host the AS can fetch (CIMD).
    NeedsPublicHost,
    /// A rule for clients (the suite itself follows it), not for servers.
    ClientRule,
    /// A transport or version the suite does not test yet.
    NotSupportedYet,
    /// Another id checks exactly the same thing.
    Duplicate,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Exclusion {
    pub id: String,
    pub kind: ExclusionKind,
    pub reason: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExclusionsFile {
    #[serde(default)]
    exclusion: Vec<Exclusion>,
}

/// The state of one id.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "state", rename_all = "lowercase")]
pub enum State {
    Tested { checks: Vec<String> },
    Excluded { kind: ExclusionKind, reason: String },
    Missing,
}

#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub requirement: Requirement,
    #[serde(flatten)]
    pub state: State,
}

/// The whole coverage table.
#[derive(Debug, Clone, Serialize)]
pub struct Coverage {
    pub rows: Vec<Row>,
    /// Problems in the data itself (unknown ids, an id both tested and
    /// excluded): each one is an error for `mcp-conform coverage`.
    pub problems: Vec<String>,
}

/// Counts for a group of rows.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Counts {
    pub total: usize,
    pub tested: usize,
    pub excluded: usize,
    pub missing: usize,
}

impl Counts {
    pub fn percent_tested(&self) -> f64 {
        if self.total == 0 {
            0.0
        } else {
            100.0 * self.tested as f64 / self.total as f64
        }
    }
}

/// The catalogue.
pub fn requirements() -> Vec<Requirement> {
    toml::from_str::<RequirementsFile>(REQUIREMENTS)
        .map(|f| f.requirement)
        .unwrap_or_default()
}

/// Computes coverage of `suite` against the catalogue and the exclusions.
pub fn compute(suite: &Suite) -> Coverage {
    let mut problems = Vec::new();
    let reqs = match toml::from_str::<RequirementsFile>(REQUIREMENTS) {
        Ok(f) => f.requirement,
        Err(e) => {
            problems.push(format!("requirements.toml: {e}"));
            Vec::new()
        }
    };
    let known: BTreeSet<&str> = reqs.iter().map(|r| r.id.as_str()).collect();
    let mut exclusions: BTreeMap<String, Exclusion> = BTreeMap::new();
    for (file, text) in EXCLUSIONS {
        match toml::from_str::<ExclusionsFile>(text) {
            Ok(f) => {
                for e in f.exclusion {
                    if !known.contains(e.id.as_str()) {
                        problems.push(format!(
                            "exclusions/{file}: `{}` is not in the catalogue",
                            e.id
                        ));
                    }
                    if exclusions.insert(e.id.clone(), e.clone()).is_some() {
                        problems.push(format!("exclusions/{file}: `{}` is excluded twice", e.id));
                    }
                }
            }
            Err(e) => problems.push(format!("exclusions/{file}: {e}")),
        }
    }
    let mut tested: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for s in &suite.scenarios {
        for c in &s.checks {
            for r in &c.requirements {
                if !known.contains(r.as_str()) {
                    problems.push(format!(
                        "check `{}` ({}) cites `{r}`, which is not in the catalogue",
                        c.id, c.location
                    ));
                }
                tested.entry(r.as_str()).or_default().push(c.id.clone());
            }
        }
    }
    let rows = reqs
        .into_iter()
        .map(|r| {
            let state = match (tested.get(r.id.as_str()), exclusions.get(&r.id)) {
                (Some(checks), Some(_)) => {
                    problems.push(format!(
                        "`{}` is tested (by {}) and excluded: remove the exclusion",
                        r.id,
                        checks.join(", ")
                    ));
                    State::Tested {
                        checks: checks.clone(),
                    }
                }
                (Some(checks), None) => State::Tested {
                    checks: checks.clone(),
                },
                (None, Some(e)) => State::Excluded {
                    kind: e.kind,
                    reason: e.reason.clone(),
                },
                (None, None) => State::Missing,
            };
            Row {
                requirement: r,
                state,
            }
        })
        .collect();
    Coverage { rows, problems }
}

impl Coverage {
    pub fn counts<'a>(rows: impl IntoIterator<Item = &'a Row>) -> Counts {
        let mut c = Counts::default();
        for r in rows {
            c.total += 1;
            match r.state {
                State::Tested { .. } => c.tested += 1,
                State::Excluded { .. } => c.excluded += 1,
                State::Missing => c.missing += 1,
            }
        }
        c
    }

    pub fn total(&self) -> Counts {
        Self::counts(&self.rows)
    }

    /// Rows grouped by area, in catalogue order.
    pub fn by_area(&self) -> Vec<(&str, Vec<&Row>)> {
        let mut out: Vec<(&str, Vec<&Row>)> = Vec::new();
        for row in &self.rows {
            match out.iter_mut().find(|(a, _)| *a == row.requirement.area) {
                Some((_, rows)) => rows.push(row),
                None => out.push((&row.requirement.area, vec![row])),
            }
        }
        out
    }

    /// The plain-text table `mcp-conform coverage` prints.
    pub fn render_text(&self, detail: bool) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{:<8} {:>5} {:>7} {:>9} {:>8}",
            "area", "ids", "tested", "excluded", "missing"
        );
        for (area, rows) in self.by_area() {
            let c = Self::counts(rows.iter().copied());
            let _ = writeln!(
                out,
                "{area:<8} {:>5} {:>7} {:>9} {:>8}",
                c.total, c.tested, c.excluded, c.missing
            );
        }
        let t = self.total();
        let _ = writeln!(
            out,
            "{:<8} {:>5} {:>7} {:>9} {:>8}   {:.1}% tested",
            "total",
            t.total,
            t.tested,
            t.excluded,
            t.missing,
            t.percent_tested()
        );
        if detail {
            let _ = writeln!(out);
            for row in &self.rows {
                let line = match &row.state {
                    State::Tested { checks } => format!("tested   by {}", checks.join(", ")),
                    State::Excluded { kind, reason } => {
                        format!("excluded ({}) {reason}", kind_name(*kind))
                    }
                    State::Missing => "MISSING".to_owned(),
                };
                let _ = writeln!(out, "{:<9} {line}", row.requirement.id);
            }
        }
        for p in &self.problems {
            let _ = writeln!(out, "problem: {p}");
        }
        out
    }

    /// `docs/coverage.md`.
    pub fn render_markdown(&self) -> String {
        let mut out = String::new();
        let t = self.total();
        let _ = writeln!(out, "# Requirement coverage\n");
        let _ = writeln!(
            out,
            "Generated by `mcp-conform coverage --markdown` (a test fails when this file is stale).\n\n\
             {} requirement ids: **{} tested ({:.1}%)**, {} excluded with a reason, {} missing.\n",
            t.total,
            t.tested,
            t.percent_tested(),
            t.excluded,
            t.missing
        );
        let _ = writeln!(
            out,
            "| area | ids | tested | excluded | missing |\n|---|---:|---:|---:|---:|"
        );
        for (area, rows) in self.by_area() {
            let c = Self::counts(rows.iter().copied());
            let _ = writeln!(
                out,
                "| {area} | {} | {} | {} | {} |",
                c.total, c.tested, c.excluded, c.missing
            );
        }
        let _ = writeln!(
            out,
            "| **total** | {} | {} | {} | {} |\n",
            t.total, t.tested, t.excluded, t.missing
        );
        for (area, rows) in self.by_area() {
            let _ = writeln!(
                out,
                "## {area}\n\n| id | level | state | checks or reason |\n|---|---|---|---|"
            );
            for row in rows {
                let (state, detail) = match &row.state {
                    State::Tested { checks } => (
                        "tested",
                        checks
                            .iter()
                            .map(|c| format!("`{c}`"))
                            .collect::<Vec<_>>()
                            .join(", "),
                    ),
                    State::Excluded { kind, reason } => {
                        ("excluded", format!("{}: {reason}", kind_name(*kind)))
                    }
                    State::Missing => ("**missing**", String::new()),
                };
                let level = if row.requirement.level.is_empty() {
                    "—"
                } else {
                    row.requirement.level.as_str()
                };
                let _ = writeln!(
                    out,
                    "| {} | {} | {state} | {} |",
                    row.requirement.id,
                    level.replace('|', "/"),
                    detail.replace('|', "/")
                );
            }
            let _ = writeln!(out);
        }
        out
    }
}

fn kind_name(k: ExclusionKind) -> &'static str {
    match k {
        ExclusionKind::NotBlackBox => "not black-box",
        ExclusionKind::NeedsPublicHost => "needs a public HTTPS host",
        ExclusionKind::ClientRule => "client rule",
        ExclusionKind::NotSupportedYet => "not supported yet",
        ExclusionKind::Duplicate => "duplicate",
    }
}
