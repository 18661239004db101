//! The engine: runs a planned [`Suite`] against a [`Target`].
//!
//! Each scenario runs in isolation (its own HTTP client and cookie jar, its
//! own registered clients and PKCE pairs), so scenarios run in parallel up to
//! `jobs`. Two things are shared by the run: discovery (read-only, done once)
//! and the target's clock. Scenarios that move the clock run afterwards, one
//! at a time, so no other scenario sees its tokens expire under it.
//!
//! Inside a scenario, steps run in order. A step that cannot be carried out
//! (a transport error, a variable an earlier step did not produce) stops the
//! scenario; checks whose assertions had not all run then end as `error`,
//! unless one of their assertions had already failed.

pub mod actions;
pub mod asserts;
pub mod cimd_host;
pub mod discovery;
pub mod driver;
pub mod results;
pub mod target;
pub mod vars;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::sync::{OnceCell, Semaphore};

use crate::http::{self, Exchange};
use crate::scenario::model::{Action, Level, SpecVersion};
use crate::scenario::plan::{Check, Condition, ConditionTest, Scenario, Suite};
use crate::scenario::template::{Vars, value_to_text};
use discovery::Discovery;
use driver::CallbackServer;
use results::{AssertFailure, CheckResult, Event, RunReport, Status, Summary};
use target::Target;
use vars::VarStore;

/// Run-wide settings.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub jobs: usize,
    pub http: http::Limits,
    /// Checks to run (by id), if filtered; `None` runs all.
    pub only_checks: Option<BTreeSet<String>>,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            jobs: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2),
            http: http::Limits::default(),
            only_checks: None,
        }
    }
}

/// What every scenario of a run shares.
pub struct RunContext {
    pub target: Target,
    pub spec_version: SpecVersion,
    pub options: RunOptions,
    /// `http://127.0.0.1:<port>/callback`: the loopback redirect URI.
    pub redirect_uri: String,
    discovery: OnceCell<Result<Arc<Discovery>, String>>,
    callback: Option<CallbackServer>,
}

/// Why a run could not start.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("failed to set up the HTTP client: {0}")]
    Http(#[from] http::HttpError),
    #[error("failed to listen on the loopback redirect URI: {0}")]
    Callback(std::io::Error),
    #[error("the target URL {url:?} is not an http(s) URL: {reason}")]
    BadTarget { url: String, reason: String },
}

impl RunContext {
    pub async fn new(target: Target, options: RunOptions) -> Result<Arc<RunContext>, RunError> {
        crate::core::url_canon::parse_http(&target.url).map_err(|e| RunError::BadTarget {
            url: target.url.clone(),
            reason: e.to_string(),
        })?;
        let spec_version = target.spec_version.unwrap_or(SpecVersion::LATEST);
        // The browser driver needs a live listener; the others only need a
        // port nobody else uses, which the same listener reserves.
        let callback = CallbackServer::start().await.map_err(RunError::Callback)?;
        let redirect_uri = format!("http://127.0.0.1:{}/callback", callback.port());
        Ok(Arc::new(RunContext {
            target,
            spec_version,
            options,
            redirect_uri,
            discovery: OnceCell::new(),
            callback: Some(callback),
        }))
    }

    /// Discovery, done once per run.
    pub async fn discovery(&self, client: &http::Client) -> Result<Arc<Discovery>, String> {
        self.discovery
            .get_or_init(|| async { discovery::discover(self, client).await.map(Arc::new) })
            .await
            .clone()
    }

    pub fn callback(&self) -> Option<&CallbackServer> {
        self.callback.as_ref()
    }

    fn base_vars(&self) -> VarStore {
        let mut v = VarStore::default();
        let t = &self.target;
        let origin = crate::core::url_canon::origin(&t.url).unwrap_or_default();
        v.set(
            "target",
            json!({
                "url": t.url,
                "origin": origin,
                "alt_resource": t.alt_resource,
                "second_user": t.second_user,
                "user": t.user,
                "step_up_tool": t.step_up_tool,
                "step_up_scope": t.step_up_scope,
                "foreign_resource": "https://other.invalid/mcp",
                "attacker_redirect_uri": "https://attacker.invalid/cb",
            }),
        );
        let alt_redirect = self.redirect_uri.replace("/callback", "/callback2");
        v.set(
            "run",
            json!({
                "redirect_uri": self.redirect_uri,
                "alt_redirect_uri": alt_redirect,
                "cimd_base": self.redirect_uri.replace("/callback", "/cimd"),
                "spec_version": self.spec_version.as_str(),
            }),
        );
        v
    }
}

/// Runs `suite` and returns the report; `on_event` sees progress as it
/// happens (reporters hang off it).
pub async fn run(
    ctx: Arc<RunContext>,
    suite: &Suite,
    on_event: Arc<dyn Fn(&Event) + Send + Sync>,
) -> RunReport {
    let started = Instant::now();
    let scenarios: Vec<Scenario> = suite
        .scenarios
        .iter()
        .filter(|s| {
            ctx.options
                .only_checks
                .as_ref()
                .is_none_or(|only| s.checks.iter().any(|c| only.contains(&c.id)))
        })
        .cloned()
        .collect();
    let checks = scenarios
        .iter()
        .map(|s| selected_checks(&ctx, s).len())
        .sum();
    on_event(&Event::RunStarted {
        target: ctx.target.url.clone(),
        scenarios: scenarios.len(),
        checks,
    });

    let (clocked, parallel): (Vec<_>, Vec<_>) = scenarios
        .into_iter()
        .partition(|s| s.steps.iter().any(|st| st.action == Action::AdvanceClock));
    let mut results: Vec<CheckResult> = Vec::new();

    let sem = Arc::new(Semaphore::new(ctx.options.jobs.max(1)));
    let mut tasks = tokio::task::JoinSet::new();
    for (index, scenario) in parallel.into_iter().enumerate() {
        let (ctx, sem, on_event) = (ctx.clone(), sem.clone(), on_event.clone());
        tasks.spawn(async move {
            let _permit = sem.acquire_owned().await;
            let out = run_guarded(&ctx, &scenario, &on_event).await;
            (index, out)
        });
    }
    let mut ordered = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(pair) => ordered.push(pair),
            // Only cancellation gets here (panics are caught per scenario).
            Err(e) => results.push(internal_error(&format!("a scenario task failed: {e}"))),
        }
    }
    ordered.sort_by_key(|(i, _)| *i);
    results.extend(ordered.into_iter().flat_map(|(_, r)| r));
    for scenario in clocked {
        results.extend(run_guarded(&ctx, &scenario, &on_event).await);
    }
    RunReport {
        target: ctx.target.url.clone(),
        spec_version: ctx.spec_version.as_str().to_owned(),
        summary: Summary::of(&results),
        results,
        stale_expected_failures: Vec::new(),
        duration_ms: millis(started.elapsed()),
    }
}

fn internal_error(message: &str) -> CheckResult {
    CheckResult {
        id: "internal".into(),
        scenario: "internal".into(),
        title: "mcp-conform itself".into(),
        status: Status::Error,
        level: Level::Must,
        requirements: Vec::new(),
        charged_to: crate::scenario::model::ChargedTo::Rs,
        message: message.to_owned(),
        failures: Vec::new(),
        transcript: Vec::new(),
        location: crate::scenario::plan::Location {
            file: String::new(),
            line: 0,
            column: 0,
        },
        expected_failure: None,
        duration_ms: 0,
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// The checks of `s` that this run selects (id filter and spec version).
fn selected_checks<'a>(ctx: &RunContext, s: &'a Scenario) -> Vec<(usize, &'a Check)> {
    s.checks
        .iter()
        .enumerate()
        .filter(|(_, c)| {
            ctx.options
                .only_checks
                .as_ref()
                .is_none_or(|o| o.contains(&c.id))
        })
        .filter(|(_, c)| c.spec_versions.contains(&ctx.spec_version))
        .collect()
}

/// Per-check state while a scenario runs.
struct CheckState {
    failures: Vec<AssertFailure>,
    expects_left: usize,
    transcript: Vec<Exchange>,
    /// The last step whose exchanges went into `transcript`.
    recorded_step: Option<usize>,
    /// Assertions that could not be judged (see [`asserts::Evaluation`]).
    inconclusive: Vec<String>,
    skip: Option<String>,
}

/// Runs one scenario; a panic inside it (a bug of ours) turns every
/// selected check of the scenario into an `error`, so no check silently
/// disappears from the report.
async fn run_guarded(
    ctx: &RunContext,
    scenario: &Scenario,
    on_event: &Arc<dyn Fn(&Event) + Send + Sync>,
) -> Vec<CheckResult> {
    use futures_util::FutureExt as _;
    match std::panic::AssertUnwindSafe(run_one(ctx, scenario, on_event))
        .catch_unwind()
        .await
    {
        Ok(results) => results,
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic".into());
            let st = CheckState {
                failures: Vec::new(),
                expects_left: 1,
                transcript: Vec::new(),
                recorded_step: None,
                inconclusive: Vec::new(),
                skip: None,
            };
            let message =
                format!("mcp-conform failed inside this scenario (a bug of ours): {what}");
            selected_checks(ctx, scenario)
                .into_iter()
                .map(|(_, check)| verdict(scenario, check, &st, Some(&message), 0))
                .collect()
        }
    }
}

async fn run_one(
    ctx: &RunContext,
    scenario: &Scenario,
    on_event: &Arc<dyn Fn(&Event) + Send + Sync>,
) -> Vec<CheckResult> {
    let started = Instant::now();
    let results = run_scenario(ctx, scenario).await;
    on_event(&Event::ScenarioFinished {
        id: scenario.id.clone(),
        results: results.clone(),
        duration: started.elapsed(),
    });
    results
}

/// Runs one scenario and returns the results of its selected checks.
pub async fn run_scenario(ctx: &RunContext, scenario: &Scenario) -> Vec<CheckResult> {
    let started = Instant::now();
    let selected = selected_checks(ctx, scenario);
    if selected.is_empty() {
        return Vec::new();
    }
    let mut states: Vec<CheckState> = scenario
        .checks
        .iter()
        .enumerate()
        .map(|(i, _)| CheckState {
            failures: Vec::new(),
            expects_left: scenario
                .steps
                .iter()
                .flat_map(|s| &s.expects)
                .filter(|e| e.check == i)
                .count(),
            transcript: Vec::new(),
            recorded_step: None,
            inconclusive: Vec::new(),
            skip: None,
        })
        .collect();
    let finish = |states: Vec<CheckState>, stop: Option<String>| -> Vec<CheckResult> {
        let duration_ms = millis(started.elapsed());
        selected
            .iter()
            .map(|(i, check)| verdict(scenario, check, &states[*i], stop.as_deref(), duration_ms))
            .collect()
    };

    let client = match http::Client::new(ctx.options.http) {
        Ok(c) => c,
        Err(e) => return finish(states, Some(e.to_string())),
    };
    let mut vars = ctx.base_vars();

    // Discovery first when conditions read it, so they can be judged before
    // anything is sent.
    // Whether registration is possible is known only from discovery.
    let needs_discovery = scenario.steps.iter().any(|s| s.action == Action::Discover)
        || scenario.needs.iter().any(|n| {
            use crate::scenario::model::Capability as C;
            matches!(
                n,
                C::Registration | C::Dcr | C::ConfidentialClient | C::Token
            )
        });
    let mut dcr_offered = ctx.target.client_id.is_none();
    if needs_discovery {
        match ctx.discovery(&client).await {
            Ok(d) => {
                dcr_offered = d.registration_endpoint().is_some();
                vars.set("discovery", d.vars.clone());
            }
            Err(e) => return finish(states, Some(format!("discovery failed: {e}"))),
        }
    }
    for cap in &scenario.needs {
        if let Err(reason) = ctx.target.capability(*cap, dcr_offered) {
            for st in &mut states {
                st.skip = Some(reason.clone());
            }
            return finish(states, None);
        }
    }
    // Conditions on what exists before the steps run are judged now; those
    // on a step's capture right after that step.
    let captures: BTreeSet<&str> = scenario
        .steps
        .iter()
        .filter_map(|s| s.capture.as_deref())
        .collect();
    let upfront = |c: &&Condition| !captures.contains(c.var[0].as_str());
    if let Some(reason) = unmet(scenario.requires.iter().filter(upfront), &vars) {
        for st in &mut states {
            st.skip = Some(reason.clone());
        }
        return finish(states, None);
    }
    for (i, check) in scenario.checks.iter().enumerate() {
        if let Some(reason) = unmet(check.requires.iter().filter(upfront), &vars) {
            states[i].skip = Some(reason);
        }
    }
    if selected.iter().all(|(i, _)| states[*i].skip.is_some()) {
        return finish(states, None);
    }

    let mut runner = actions::StepRunner::new(ctx, &client);
    for (step_index, step) in scenario.steps.iter().enumerate() {
        if step.action == Action::Discover {
            continue; // done above, shared by the run
        }
        match runner.run(step, &vars).await {
            Ok(outcome) => {
                // Asserts may read the step's own capture.
                if let Some(name) = &step.capture {
                    vars.set(name.clone(), outcome.capture.clone());
                }
                for expect in &step.expects {
                    let st = &mut states[expect.check];
                    st.expects_left -= 1;
                    if st.recorded_step != Some(step_index) {
                        st.recorded_step = Some(step_index);
                        st.transcript.extend(outcome.exchanges.iter().cloned());
                    }
                    let found = asserts::evaluate(expect, &outcome, &vars);
                    st.failures.extend(found.failures);
                    st.inconclusive.extend(found.inconclusive);
                }
                if let Some(name) = &step.capture {
                    let on_this = |c: &&Condition| c.var[0] == *name;
                    if let Some(reason) = unmet(scenario.requires.iter().filter(on_this), &vars) {
                        for st in &mut states {
                            st.skip = Some(reason.clone());
                        }
                        return finish(states, None);
                    }
                    for (i, check) in scenario.checks.iter().enumerate() {
                        if let Some(reason) = unmet(check.requires.iter().filter(on_this), &vars) {
                            states[i].skip = Some(reason);
                        }
                    }
                }
            }
            Err(err) => {
                for st in &mut states {
                    if st.expects_left > 0 && st.failures.is_empty() {
                        st.transcript.extend(err.exchanges.iter().cloned());
                    }
                }
                let label = step
                    .name
                    .clone()
                    .unwrap_or_else(|| step.action.as_str().to_owned());
                return finish(
                    states,
                    Some(format!(
                        "step `{label}` ({}) could not run: {}",
                        step.location, err.message
                    )),
                );
            }
        }
    }
    finish(states, None)
}

/// The first condition that does not hold, as its reason.
fn unmet<'a>(
    mut conditions: impl Iterator<Item = &'a Condition>,
    vars: &VarStore,
) -> Option<String> {
    conditions
        .find(|c| !holds(c, vars))
        .map(|c| c.reason.clone())
}

fn holds(c: &Condition, vars: &VarStore) -> bool {
    let value = vars.lookup(&c.var);
    let contains = |needle: &str| match &value {
        Some(Value::Array(a)) => a.iter().any(|v| value_to_text(v) == needle),
        Some(Value::String(s)) => s.split(' ').any(|w| w == needle),
        _ => false,
    };
    // The compared text may be a template (`{{ target.step_up_scope }}`);
    // one that cannot be rendered is compared as written.
    let text = |x: &str| -> String {
        if !x.contains("{{") {
            return x.to_owned();
        }
        crate::scenario::template::Template::parse(x)
            .ok()
            .and_then(|t| t.render(vars).ok())
            .unwrap_or_else(|| x.to_owned())
    };
    match &c.test {
        ConditionTest::Present(want) => value.is_some() == *want,
        ConditionTest::Contains(x) => contains(&text(x)),
        ConditionTest::NotContains(x) => !contains(&text(x)),
        ConditionTest::Equals(x) => {
            value.as_ref().map(value_to_text).as_deref() == Some(text(x).as_str())
        }
        ConditionTest::Matches(re) => value
            .as_ref()
            .is_some_and(|v| regex::Regex::new(re).is_ok_and(|re| re.is_match(&value_to_text(v)))),
        ConditionTest::NotMatches(re) => !value
            .as_ref()
            .is_some_and(|v| regex::Regex::new(re).is_ok_and(|re| re.is_match(&value_to_text(v)))),
    }
}

fn verdict(
    scenario: &Scenario,
    check: &Check,
    st: &CheckState,
    stop: Option<&str>,
    duration_ms: u64,
) -> CheckResult {
    let (status, message) = if let Some(reason) = &st.skip {
        (Status::Skip, reason.clone())
    } else if !st.failures.is_empty() {
        let first = &st.failures[0];
        let more = match st.failures.len() {
            1 => String::new(),
            n => format!(" (+{} more)", n - 1),
        };
        let text = format!(
            "{}: expected {}, got {}{more}",
            first.assertion, first.expected, first.actual
        );
        match check.level {
            Level::Must => (Status::Fail, text),
            Level::Should => (Status::Warn, text),
            // A MAY is informational: reported, never a failure.
            Level::May => (Status::Pass, format!("informational: {text}")),
        }
    } else if let Some(first) = st.inconclusive.first() {
        (Status::Error, format!("could not be judged: {first}"))
    } else if st.expects_left > 0 {
        (
            Status::Error,
            stop.unwrap_or("the scenario ended before this check's assertions ran")
                .to_owned(),
        )
    } else {
        (Status::Pass, String::new())
    };
    CheckResult {
        id: check.id.clone(),
        scenario: scenario.id.clone(),
        title: check.title.clone(),
        status,
        level: check.level,
        requirements: check.requirements.clone(),
        charged_to: check.charged_to,
        message,
        failures: st.failures.clone(),
        transcript: st.transcript.clone(),
        location: check.location.clone(),
        expected_failure: None,
        duration_ms,
    }
}
