//! The terminal reporter: a progress bar while the run goes on (only on a
//! terminal), then every failure with its assertion, where it is written,
//! expected against actual, the requirement ids and the transcript, then a
//! summary line. Colours obey `NO_COLOR` and are off when not a terminal.

use std::io::{IsTerminal, Write};
use std::sync::Mutex;

use indicatif::{ProgressBar, ProgressStyle};

use crate::engine::results::{CheckResult, Event, RunReport, Status};
use crate::http::Exchange;

/// Colour codes, or nothing.
#[derive(Debug, Clone, Copy)]
pub struct Palette {
    on: bool,
}

impl Palette {
    pub fn detect() -> Palette {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Palette {
            on: !no_color && std::io::stdout().is_terminal(),
        }
    }

    pub fn plain() -> Palette {
        Palette { on: false }
    }

    fn paint(&self, code: &str, text: &str) -> String {
        if self.on {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }

    pub fn status(&self, s: Status) -> String {
        let text = format!("{:>5}", s.as_str().to_uppercase());
        match s {
            Status::Pass => self.paint("32", &text),
            Status::Fail => self.paint("1;31", &text),
            Status::Error => self.paint("1;35", &text),
            Status::Warn => self.paint("33", &text),
            Status::Skip => self.paint("2", &text),
        }
    }

    fn dim(&self, text: &str) -> String {
        self.paint("2", text)
    }

    fn bold(&self, text: &str) -> String {
        self.paint("1", text)
    }
}

/// Follows events with a progress bar.
pub struct Progress {
    bar: Mutex<Option<ProgressBar>>,
}

impl Progress {
    /// A progress bar on stderr when it is a terminal; otherwise silent.
    pub fn new(enabled: bool) -> Progress {
        let bar = (enabled && std::io::stderr().is_terminal()).then(|| {
            let bar = ProgressBar::new(0);
            bar.set_style(
                ProgressStyle::with_template(
                    "{spinner} [{elapsed}] {bar:30} {pos}/{len} checks {msg}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            bar
        });
        Progress {
            bar: Mutex::new(bar),
        }
    }

    pub fn on_event(&self, event: &Event) {
        let Ok(guard) = self.bar.lock() else { return };
        let Some(bar) = guard.as_ref() else { return };
        match event {
            Event::RunStarted { checks, .. } => bar.set_length(*checks as u64),
            Event::ScenarioFinished { id, results, .. } => {
                bar.inc(results.len() as u64);
                bar.set_message(id.clone());
            }
        }
    }

    pub fn finish(&self) {
        if let Ok(guard) = self.bar.lock()
            && let Some(bar) = guard.as_ref()
        {
            bar.finish_and_clear();
        }
    }
}

/// Writes the end-of-run report: problems in detail, then the summary.
pub fn write_report(
    out: &mut dyn Write,
    report: &RunReport,
    palette: Palette,
    verbose: bool,
) -> std::io::Result<()> {
    let mut problems: Vec<&CheckResult> = report
        .results
        .iter()
        .filter(|r| matches!(r.status, Status::Fail | Status::Error | Status::Warn))
        .collect();
    problems.sort_by_key(|r| {
        (
            r.status != Status::Fail,
            r.status != Status::Error,
            r.id.clone(),
        )
    });
    for r in &report.results {
        if verbose || r.status != Status::Pass {
            writeln!(
                out,
                "{} {} {} {}",
                palette.status(r.status),
                palette.bold(&r.id),
                palette.dim(&format!(
                    "[{} {} {}]",
                    r.level.as_str(),
                    r.charged_to.as_str(),
                    r.requirements.join(",")
                )),
                if r.message.is_empty() {
                    r.title.clone()
                } else {
                    r.message.clone()
                }
            )?;
        }
    }
    for r in problems
        .iter()
        .filter(|r| r.status != Status::Warn || verbose)
    {
        writeln!(out)?;
        writeln!(
            out,
            "{} {}: {}",
            palette.status(r.status),
            palette.bold(&r.id),
            r.title
        )?;
        writeln!(
            out,
            "  requirements: {} ({}, charged to {})",
            r.requirements.join(", "),
            r.level.as_str(),
            r.charged_to.as_str()
        )?;
        writeln!(out, "  check defined at {}", r.location)?;
        if r.failures.is_empty() {
            writeln!(out, "  {}", r.message)?;
        }
        for f in &r.failures {
            writeln!(out, "  {} at {}", f.assertion, f.location)?;
            writeln!(out, "    expected: {}", f.expected)?;
            writeln!(out, "    actual:   {}", f.actual)?;
            if let Some(b) = &f.because {
                writeln!(out, "    because:  {b}")?;
            }
        }
        if !r.transcript.is_empty() {
            writeln!(out, "  transcript:")?;
            for x in r.transcript.iter().take(6) {
                write_exchange(out, x, palette)?;
            }
            if r.transcript.len() > 6 {
                writeln!(
                    out,
                    "    … {} more exchanges (see --report-json)",
                    r.transcript.len() - 6
                )?;
            }
        }
    }
    if !report.stale_expected_failures.is_empty() {
        writeln!(out)?;
        writeln!(
            out,
            "stale expected failures (they pass now): {}",
            report.stale_expected_failures.join(", ")
        )?;
    }
    let s = &report.summary;
    writeln!(out)?;
    writeln!(
        out,
        "{} checks against {} (spec {}) in {:.2}s: {} passed, {} failed, {} warned, {} skipped, {} errored",
        s.total(),
        report.target,
        report.spec_version,
        report.duration_ms as f64 / 1000.0,
        s.pass,
        s.fail,
        s.warn,
        s.skip,
        s.error
    )
}

fn write_exchange(out: &mut dyn Write, x: &Exchange, palette: Palette) -> std::io::Result<()> {
    writeln!(out, "    > {} {}", x.request.method, x.request.url)?;
    for (n, v) in &x.request.headers {
        writeln!(out, "    > {n}: {v}")?;
    }
    if !x.request.body.is_empty() {
        writeln!(out, "    > {}", one_line(&x.request.body))?;
    }
    match (&x.response, &x.error) {
        (Some(resp), _) => {
            writeln!(
                out,
                "    < {} {}",
                resp.status,
                palette.dim(&format!("({} ms)", resp.elapsed_ms))
            )?;
            for (n, v) in &resp.headers {
                let n_l = n.to_ascii_lowercase();
                if matches!(
                    n_l.as_str(),
                    "content-type"
                        | "www-authenticate"
                        | "location"
                        | "cache-control"
                        | "mcp-session-id"
                ) {
                    writeln!(out, "    < {n}: {v}")?;
                }
            }
            if !resp.body.is_empty() {
                writeln!(out, "    < {}", one_line(&resp.body))?;
            }
        }
        (None, Some(e)) => writeln!(out, "    ! {e}")?,
        (None, None) => {}
    }
    Ok(())
}

fn one_line(s: &str) -> String {
    let flat: String = s
        .chars()
        .map(|c| if c == '\n' || c == '\r' { ' ' } else { c })
        .collect();
    if flat.chars().count() > 240 {
        format!("{}…", flat.chars().take(240).collect::<String>())
    } else {
        flat
    }
}
