//! The command line: `run`, `list`, `validate`, `explain`.
//!
//! Exit codes (README): 0 nothing failed or errored; 1 a check failed or
//! errored (or an expected failure went stale); 2 usage, configuration or
//! scenario-file error.

mod fuzz;
mod run;

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::scenario::model::SpecVersion;
use crate::scenario::{self, Diagnostic, SourceSet, Suite};

/// Exit code: a check failed or errored.
pub const EXIT_FAILED: u8 = 1;
/// Exit code: usage, configuration or scenario-file error.
pub const EXIT_USAGE: u8 = 2;

/// Conformance tests for MCP servers protected by OAuth.
#[derive(Debug, Parser)]
#[command(name = "mcp-conform", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the suite against URL (an MCP endpoint), or against the embedded
    /// reference server when no URL is given.
    Run(Box<run::RunArgs>),
    /// List the checks: id, level, requirement ids, title.
    List(ListArgs),
    /// Check scenario files without running them.
    Validate(ValidateArgs),
    /// Explain what a check does and why.
    Explain(ExplainArgs),
    /// Which requirement ids the checks test, which are excluded and why,
    /// and which are missing.
    Coverage(CoverageArgs),
    /// Send malformed and hostile inputs to the auth surface of URL (or of
    /// the embedded reference server) and check invariants.
    Fuzz(Box<fuzz::FuzzArgs>),
}

#[derive(Debug, Args)]
struct CoverageArgs {
    #[command(flatten)]
    source: ScenarioSource,
    /// Print the Markdown page (docs/coverage.md) instead of the table.
    #[arg(long, conflicts_with = "json")]
    markdown: bool,
    /// Print JSON.
    #[arg(long)]
    json: bool,
    /// List every id with its checks or its exclusion reason.
    #[arg(long)]
    detail: bool,
}

/// Where scenarios come from.
#[derive(Debug, Args, Clone)]
pub struct ScenarioSource {
    /// Scenario folder whose files add to (or replace, by path) the
    /// built-in ones.
    #[arg(long, value_name = "DIR")]
    scenarios: Option<PathBuf>,
    /// Use only the files of --scenarios, not the built-in set.
    #[arg(long, requires = "scenarios")]
    no_builtin: bool,
}

/// Which checks to select.
#[derive(Debug, Args, Clone, Default)]
pub struct Filters {
    /// Only these checks or scenarios (repeatable).
    #[arg(long = "id", value_name = "ID")]
    ids: Vec<String>,
    /// Only checks with this tag (their own or their scenario's; repeatable).
    #[arg(long = "tag", value_name = "TAG")]
    tags: Vec<String>,
    /// Leave out these checks, scenarios or tags (repeatable).
    #[arg(long = "skip", value_name = "ID|TAG")]
    skip: Vec<String>,
    /// Protocol version to test: 2025-03-26, 2025-06-18 or 2025-11-25
    /// (default: the latest).
    #[arg(long, value_name = "VERSION", value_parser = parse_spec_version)]
    spec_version: Option<SpecVersion>,
}

fn parse_spec_version(s: &str) -> Result<SpecVersion, String> {
    SpecVersion::parse(s).ok_or_else(|| {
        let known: Vec<&str> = SpecVersion::ALL.iter().map(|v| v.as_str()).collect();
        format!("unknown version {s:?}; known: {}", known.join(", "))
    })
}

impl Filters {
    /// The ids of the selected checks, and any filter that matched nothing.
    pub fn select(&self, suite: &Suite) -> (BTreeSet<String>, Vec<String>) {
        let mut selected = BTreeSet::new();
        let mut used: BTreeSet<&str> = BTreeSet::new();
        for s in &suite.scenarios {
            for c in &s.checks {
                let tags: Vec<&str> = s.tags.iter().chain(&c.tags).map(String::as_str).collect();
                let id_ok = self.ids.is_empty()
                    || self.ids.iter().any(|i| {
                        let hit = *i == c.id || *i == s.id;
                        if hit {
                            used.insert(i);
                        }
                        hit
                    });
                let tag_ok = self.tags.is_empty()
                    || self.tags.iter().any(|t| {
                        let hit = tags.contains(&t.as_str());
                        if hit {
                            used.insert(t);
                        }
                        hit
                    });
                let skipped = self.skip.iter().any(|k| {
                    let hit = *k == c.id || *k == s.id || tags.contains(&k.as_str());
                    if hit {
                        used.insert(k);
                    }
                    hit
                });
                if id_ok && tag_ok && !skipped {
                    selected.insert(c.id.clone());
                }
            }
        }
        let unmatched = self
            .ids
            .iter()
            .chain(&self.tags)
            .chain(&self.skip)
            .filter(|f| !used.contains(f.as_str()))
            .cloned()
            .collect();
        (selected, unmatched)
    }
}

#[derive(Debug, Args)]
struct ListArgs {
    #[command(flatten)]
    source: ScenarioSource,
    #[command(flatten)]
    filters: Filters,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct ValidateArgs {
    #[command(flatten)]
    source: ScenarioSource,
    /// Scenario files to check (default: every loaded scenario).
    files: Vec<PathBuf>,
}

#[derive(Debug, Args)]
struct ExplainArgs {
    #[command(flatten)]
    source: ScenarioSource,
    /// A check id (or a scenario id).
    id: String,
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Run(args) => run::run(*args),
        Command::List(args) => list(args),
        Command::Validate(args) => validate(args),
        Command::Explain(args) => explain(args),
        Command::Coverage(args) => coverage(args),
        Command::Fuzz(args) => fuzz::run(*args),
    }
}

/// Why scenarios could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("failed to read scenario folder {path}: {source}")]
    ReadDir {
        path: String,
        source: std::io::Error,
    },
    #[error("failed to read scenario file {path}: {source}")]
    ReadFile {
        path: String,
        source: std::io::Error,
    },
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Invalid(Vec<Diagnostic>),
}

fn walk(dir: &Path, root: &Path, set: &mut SourceSet) -> Result<(), LoadError> {
    let entries = std::fs::read_dir(dir).map_err(|source| LoadError::ReadDir {
        path: dir.display().to_string(),
        source,
    })?;
    let mut paths: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
    paths.sort();
    for path in paths {
        if path.is_dir() {
            walk(&path, root, set)?;
        } else if path.extension().is_some_and(|e| e == "toml") {
            let rel = path.strip_prefix(root).unwrap_or(&path);
            let key = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/");
            let text = std::fs::read_to_string(&path).map_err(|source| LoadError::ReadFile {
                path: path.display().to_string(),
                source,
            })?;
            set.insert(key, path.display().to_string(), text);
        }
    }
    Ok(())
}

/// The scenario sources the flags select.
pub fn load_sources(source: &ScenarioSource) -> Result<SourceSet, LoadError> {
    let mut set = if source.no_builtin {
        SourceSet::new()
    } else {
        scenario::embedded::sources()
    };
    if let Some(dir) = &source.scenarios {
        walk(dir, dir, &mut set)?;
    }
    Ok(set)
}

/// Loads and plans the suite, printing diagnostics on failure.
fn load_suite(source: &ScenarioSource) -> Result<Suite, ExitCode> {
    let sources = load_sources(source).map_err(|e| {
        eprintln!("error: {e}");
        ExitCode::from(EXIT_USAGE)
    })?;
    scenario::build(&sources).map_err(|diags| {
        print_diagnostics(&diags);
        ExitCode::from(EXIT_USAGE)
    })
}

fn print_diagnostics(diags: &[Diagnostic]) {
    let mut err = std::io::stderr().lock();
    for d in diags {
        let _ = writeln!(err, "{d}");
    }
    let _ = writeln!(
        err,
        "{} error(s) in scenario files; nothing was sent",
        diags.len()
    );
}

fn list(args: ListArgs) -> ExitCode {
    let suite = match load_suite(&args.source) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let (selected, _) = args.filters.select(&suite);
    let version = args.filters.spec_version;
    let rows: Vec<serde_json::Value> = suite
        .scenarios
        .iter()
        .flat_map(|s| s.checks.iter().map(move |c| (s, c)))
        .filter(|(_, c)| selected.contains(&c.id))
        .filter(|(_, c)| version.is_none_or(|v| c.spec_versions.contains(&v)))
        .map(|(s, c)| {
            serde_json::json!({
                "id": c.id, "scenario": s.id, "title": c.title, "level": c.level,
                "requirements": c.requirements, "charged_to": c.charged_to,
                "spec_versions": c.spec_versions,
                "tags": s.tags.iter().chain(&c.tags).collect::<Vec<_>>(),
                "needs": s.needs,
            })
        })
        .collect();
    let mut out = std::io::stdout().lock();
    if args.json {
        let _ = writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&rows).unwrap_or_default()
        );
    } else {
        for r in &rows {
            let reqs: Vec<&str> = r["requirements"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|v| v.as_str())
                .collect();
            let _ = writeln!(
                out,
                "{:<44} {:<6} {:<2} {:<22} {}",
                r["id"].as_str().unwrap_or_default(),
                r["level"].as_str().unwrap_or_default(),
                r["charged_to"].as_str().unwrap_or_default(),
                reqs.join(","),
                r["title"].as_str().unwrap_or_default()
            );
        }
        let _ = writeln!(out, "{} checks", rows.len());
    }
    ExitCode::SUCCESS
}

fn validate(args: ValidateArgs) -> ExitCode {
    let mut sources = match load_sources(&args.source) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    for file in &args.files {
        let text = match std::fs::read_to_string(file) {
            Ok(t) => t,
            Err(e) => {
                eprintln!(
                    "error: failed to read scenario file {}: {e}",
                    file.display()
                );
                return ExitCode::from(EXIT_USAGE);
            }
        };
        // Key the file as it sits below the scenarios folder when it does,
        // so includes and default ids resolve as they would in a run.
        let key = args
            .source
            .scenarios
            .as_deref()
            .and_then(|root| file.strip_prefix(root).ok())
            .map(|rel| {
                rel.components()
                    .map(|c| c.as_os_str().to_string_lossy())
                    .collect::<Vec<_>>()
                    .join("/")
            })
            .unwrap_or_else(|| {
                file.file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default()
            });
        sources.insert(key, file.display().to_string(), text);
    }
    match scenario::build(&sources) {
        Ok(suite) => {
            let checks: usize = suite.scenarios.iter().map(|s| s.checks.len()).sum();
            println!("ok: {} scenarios, {checks} checks", suite.scenarios.len());
            ExitCode::SUCCESS
        }
        Err(diags) => {
            print_diagnostics(&diags);
            ExitCode::from(EXIT_USAGE)
        }
    }
}

fn explain(args: ExplainArgs) -> ExitCode {
    let suite = match load_suite(&args.source) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let mut out = std::io::stdout().lock();
    for s in &suite.scenarios {
        for c in &s.checks {
            if c.id != args.id && s.id != args.id {
                continue;
            }
            let _ = writeln!(out, "{} — {}", c.id, c.title);
            let _ = writeln!(
                out,
                "  level:        {} (broken means {})",
                c.level.as_str(),
                match c.level {
                    crate::scenario::model::Level::Must => "fail",
                    crate::scenario::model::Level::Should => "warn",
                    crate::scenario::model::Level::May => "an informational note",
                }
            );
            let _ = writeln!(out, "  requirements: {}", c.requirements.join(", "));
            let _ = writeln!(out, "  charged to:   {}", c.charged_to.as_str());
            let versions: Vec<&str> = c.spec_versions.iter().map(|v| v.as_str()).collect();
            let _ = writeln!(out, "  versions:     {}", versions.join(", "));
            let _ = writeln!(
                out,
                "  scenario:     {} — {} ({})",
                s.id, s.title, c.location
            );
            if !s.needs.is_empty() {
                let needs: Vec<&str> = s.needs.iter().map(|n| n.as_str()).collect();
                let _ = writeln!(out, "  needs:        {}", needs.join(", "));
            }
            for text in [&c.description, &s.description].into_iter().flatten() {
                let _ = writeln!(out);
                for line in text.trim().lines() {
                    let _ = writeln!(out, "  {line}");
                }
            }
            let _ = writeln!(out);
            return ExitCode::SUCCESS;
        }
    }
    let ids = suite
        .scenarios
        .iter()
        .flat_map(|s| s.checks.iter().map(|c| c.id.as_str()));
    match crate::suggest::nearest(&args.id, ids) {
        Some(s) => eprintln!("error: no check `{}` (did you mean `{s}`?)", args.id),
        None => eprintln!("error: no check `{}` (see `mcp-conform list`)", args.id),
    }
    ExitCode::from(EXIT_USAGE)
}

fn coverage(args: CoverageArgs) -> ExitCode {
    let suite = match load_suite(&args.source) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let cov = crate::coverage::compute(&suite);
    let text = if args.markdown {
        cov.render_markdown()
    } else if args.json {
        serde_json::to_string_pretty(&cov).unwrap_or_default()
    } else {
        cov.render_text(args.detail)
    };
    let mut out = std::io::stdout().lock();
    let _ = write!(out, "{text}");
    if cov.problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        for p in &cov.problems {
            eprintln!("error: {p}");
        }
        ExitCode::from(EXIT_USAGE)
    }
}
