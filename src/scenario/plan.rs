//! Checking raw scenario files into a [`Suite`]: the plan the engine runs.
//!
//! Everything that can be known before sending a request is checked here:
//! TOML syntax and unknown keys (with "did you mean"), which fields each
//! action takes, that every assertion names an existing check and every
//! check has at least one assertion (a check that cannot fail is a defect),
//! unique ids, template syntax, that templates only read variables that
//! exist by the time their step runs, and `include` cycles. Errors carry the
//! file, line and column.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;
use toml::Spanned;

use super::diagnostic::{Diagnostic, SourceSet};
use super::model::*;
use super::template::Template;
use crate::suggest;

/// All scenarios, checked.
#[derive(Debug, Clone)]
pub struct Suite {
    pub scenarios: Vec<Scenario>,
}

/// A source position.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Location {
    pub file: String,
    pub line: usize,
    pub column: usize,
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

#[derive(Debug, Clone)]
pub struct Scenario {
    pub id: String,
    pub title: String,
    pub description: Option<String>,
    pub tags: Vec<String>,
    pub needs: Vec<Capability>,
    pub requires: Vec<Condition>,
    pub spec_versions: Vec<SpecVersion>,
    pub checks: Vec<Check>,
    pub steps: Vec<Step>,
    pub location: Location,
}

#[derive(Debug, Clone)]
pub struct Check {
    pub id: String,
    pub title: String,
    pub level: Level,
    pub requirements: Vec<String>,
    pub charged_to: ChargedTo,
    pub description: Option<String>,
    /// Versions the check applies to (never empty: defaults to all).
    pub spec_versions: Vec<SpecVersion>,
    pub tags: Vec<String>,
    pub requires: Vec<Condition>,
    pub location: Location,
}

/// A condition with its skip reason.
#[derive(Debug, Clone)]
pub struct Condition {
    pub var: Vec<String>,
    pub test: ConditionTest,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ConditionTest {
    Present(bool),
    Contains(String),
    NotContains(String),
    Equals(String),
    /// A regex (checked to compile when the plan is built).
    Matches(String),
    NotMatches(String),
}

/// One step, with its parameters still raw (templates are re-parsed when
/// the step runs; they are known to parse).
#[derive(Debug, Clone)]
pub struct Step {
    pub action: Action,
    pub capture: Option<String>,
    pub name: Option<String>,
    pub spec: StepSpec,
    pub expects: Vec<Expect>,
    pub location: Location,
}

/// The parameters of a step (the fields of [`RawStep`] that the action takes).
#[derive(Debug, Clone, Default)]
pub struct StepSpec {
    pub auth_method: Option<String>,
    pub metadata: Option<Value>,
    pub client: Option<String>,
    pub grant: Option<String>,
    pub token: Option<String>,
    pub token_type_hint: Option<String>,
    pub user: Option<String>,
    pub expect_code: bool,
    pub params: BTreeMap<String, String>,
    pub omit: Vec<String>,
    pub client_auth: Option<String>,
    pub method: Option<String>,
    pub rpc_params: Option<Value>,
    pub session: Option<String>,
    pub protocol_version: Option<String>,
    pub seconds: Option<u64>,
    pub http_method: Option<String>,
    pub url: Option<String>,
    pub query: Vec<Pair>,
    pub headers: Vec<Pair>,
    pub omit_headers: Vec<String>,
    pub form: Option<Vec<Pair>>,
    pub json: Option<Value>,
    pub body: Option<String>,
    pub concurrent: Option<u32>,
}

/// A group of assertions on a step, charged to one check.
#[derive(Debug, Clone)]
pub struct Expect {
    /// Index into the scenario's `checks`.
    pub check: usize,
    pub because: Option<String>,
    pub asserts: Vec<Assert>,
    pub location: Location,
}

/// One assertion. Strings are templates (known to parse).
#[derive(Debug, Clone, PartialEq)]
pub enum Assert {
    Status(u16),
    StatusIn(Vec<u16>),
    StatusNotIn(Vec<u16>),
    StatusClass(u16),
    Header(String, String),
    HeaderContains(String, String),
    HeaderPresent(String),
    HeaderAbsent(String),
    Json(String, Value),
    JsonIn(String, Vec<Value>),
    JsonPresent(String),
    JsonAbsent(String),
    JsonType(String, JsonType),
    JsonContains(String, Value),
    JsonNotContains(String, Value),
    JsonObject,
    BodyMatches(String),
    BodyNotMatches(String),
    /// A template whose rendering must match (`true`) or not match a regex.
    ValueMatches(String, String, bool),
    ChallengeAbsent,
    ChallengeScheme(String),
    ChallengeHas(String),
    ChallengeLacks(String),
    ChallengeParam(String, String),
    ChallengeWellFormed,
    RedirectNone,
    RedirectTo(String),
    RedirectNotTo(String),
    RedirectQuery(String, String),
    RedirectQueryIn(String, Vec<String>),
    RedirectQueryPresent(String),
    RedirectQueryAbsent(String),
    RedirectQueryOnce(String),
    RedirectNoFragment,
    /// The inner redirect assert, judged only when there is a redirect
    /// (`redirect.optional`).
    IfRedirected(Box<Assert>),
    JwtClaim {
        token: String,
        claim: String,
        expected: Value,
    },
    Equal(Vec<String>),
    Distinct(Vec<String>),
    CountStatus {
        status: u16,
        equals: u32,
    },
    RpcResult,
    RpcNoResult,
    RpcErrorCode(Vec<i64>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonType {
    String,
    Number,
    Integer,
    Boolean,
    Array,
    Object,
    Null,
}

impl JsonType {
    fn parse(s: &str) -> Option<JsonType> {
        Some(match s {
            "string" => JsonType::String,
            "number" => JsonType::Number,
            "integer" => JsonType::Integer,
            "boolean" => JsonType::Boolean,
            "array" => JsonType::Array,
            "object" => JsonType::Object,
            "null" => JsonType::Null,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            JsonType::String => "string",
            JsonType::Number => "number",
            JsonType::Integer => "integer",
            JsonType::Boolean => "boolean",
            JsonType::Array => "array",
            JsonType::Object => "object",
            JsonType::Null => "null",
        }
    }

    pub fn matches(self, v: &Value) -> bool {
        match self {
            JsonType::String => v.is_string(),
            JsonType::Number => v.is_number(),
            JsonType::Integer => v.is_i64() || v.is_u64(),
            JsonType::Boolean => v.is_boolean(),
            JsonType::Array => v.is_array(),
            JsonType::Object => v.is_object(),
            JsonType::Null => v.is_null(),
        }
    }
}

/// Variable roots that exist before any step runs.
pub const BUILTIN_ROOTS: &[&str] = &["target", "run"];

/// Which fields each action takes (besides `as`, `name` and `expect`).
fn allowed_fields(action: Action) -> &'static [&'static str] {
    match action {
        Action::Include => &["file"],
        Action::Discover => &[],
        Action::Register => &["auth_method", "metadata", "omit", "headers"],
        Action::Authorize => &["client", "user", "expect_code", "params", "omit"],
        Action::ExchangeCode => &[
            "grant",
            "client",
            "params",
            "omit",
            "client_auth",
            "concurrent",
        ],
        Action::Refresh => &[
            "grant",
            "token",
            "client",
            "params",
            "omit",
            "client_auth",
            "concurrent",
        ],
        Action::Revoke => &[
            "token",
            "token_type_hint",
            "client",
            "client_auth",
            "params",
        ],
        Action::McpInitialize => &[
            "token",
            "protocol_version",
            "headers",
            "omit_headers",
            "url",
        ],
        Action::Mcp => &[
            "method",
            "rpc_params",
            "session",
            "token",
            "headers",
            "omit_headers",
            "url",
            "query",
            "body",
            "concurrent",
        ],
        Action::AdvanceClock => &["seconds"],
        Action::ObtainToken => &["user", "params"],
        Action::CimdFetches => &[],
        Action::Http => &[
            "http_method",
            "url",
            "query",
            "headers",
            "form",
            "json",
            "body",
            "token",
            "concurrent",
        ],
    }
}

/// The fields a raw step sets.
fn given_fields(s: &RawStep) -> Vec<&'static str> {
    let mut out = Vec::new();
    let mut add = |present: bool, name: &'static str| {
        if present {
            out.push(name);
        }
    };
    add(s.file.is_some(), "file");
    add(s.auth_method.is_some(), "auth_method");
    add(s.metadata.is_some(), "metadata");
    add(s.client.is_some(), "client");
    add(s.grant.is_some(), "grant");
    add(s.token.is_some(), "token");
    add(s.token_type_hint.is_some(), "token_type_hint");
    add(s.user.is_some(), "user");
    add(s.expect_code.is_some(), "expect_code");
    add(s.params.is_some(), "params");
    add(!s.omit.is_empty(), "omit");
    add(s.client_auth.is_some(), "client_auth");
    add(s.method.is_some(), "method");
    add(s.rpc_params.is_some(), "rpc_params");
    add(s.session.is_some(), "session");
    add(s.protocol_version.is_some(), "protocol_version");
    add(s.seconds.is_some(), "seconds");
    add(s.http_method.is_some(), "http_method");
    add(s.url.is_some(), "url");
    add(!s.query.is_empty(), "query");
    add(!s.headers.is_empty(), "headers");
    add(!s.omit_headers.is_empty(), "omit_headers");
    add(s.form.is_some(), "form");
    add(s.json.is_some(), "json");
    add(s.body.is_some(), "body");
    add(s.concurrent.is_some(), "concurrent");
    out
}

const CLIENT_AUTH: &[&str] = &["registered", "none", "basic", "post", "basic_and_post"];
const AUTH_METHODS: &[&str] = &["none", "client_secret_basic", "client_secret_post"];

/// Builds the suite from every scenario file in `sources` (fragments, files
/// under a folder starting with `_`, are only used through `include`).
pub fn build(sources: &SourceSet) -> Result<Suite, Vec<Diagnostic>> {
    let mut errors = Vec::new();
    let mut scenarios = Vec::new();
    for path in sources.paths() {
        if is_fragment(path) {
            // Fragments are checked where they are included; still make sure
            // they parse so a broken unused fragment is caught.
            if let Err(d) = parse_file(sources, path) {
                errors.push(d);
            }
            continue;
        }
        match build_scenario(sources, path) {
            Ok(s) => scenarios.push(s),
            Err(mut d) => errors.append(&mut d),
        }
    }
    // Ids are unique across the suite.
    let mut scenario_ids: BTreeMap<&str, &Location> = BTreeMap::new();
    let mut check_ids: BTreeMap<&str, &Location> = BTreeMap::new();
    for s in &scenarios {
        if let Some(prev) = scenario_ids.insert(&s.id, &s.location) {
            errors.push(Diagnostic::at(
                &s.location,
                sources,
                format!("scenario id `{}` is already used at {prev}", s.id),
            ));
        }
        for c in &s.checks {
            if let Some(prev) = check_ids.insert(&c.id, &c.location) {
                errors.push(Diagnostic::at(
                    &c.location,
                    sources,
                    format!("check id `{}` is already used at {prev}", c.id),
                ));
            }
        }
    }
    if errors.is_empty() {
        Ok(Suite { scenarios })
    } else {
        Err(errors)
    }
}

/// Files in a folder whose name starts with `_` are fragments.
pub fn is_fragment(path: &str) -> bool {
    path.split('/').any(|seg| seg.starts_with('_'))
}

fn parse_file(sources: &SourceSet, path: &str) -> Result<RawFile, Diagnostic> {
    let text = sources.get(path).unwrap_or_default();
    toml::from_str::<RawFile>(text).map_err(|err| Diagnostic::from_toml(path, text, &err))
}

struct Builder<'a> {
    sources: &'a SourceSet,
    errors: Vec<Diagnostic>,
}

impl Builder<'_> {
    fn loc(&self, file: &str, span: std::ops::Range<usize>) -> Location {
        self.sources.location(file, span.start)
    }

    fn error(&mut self, loc: &Location, message: impl Into<String>) {
        self.errors
            .push(Diagnostic::at(loc, self.sources, message.into()));
    }
}

fn build_scenario(sources: &SourceSet, path: &str) -> Result<Scenario, Vec<Diagnostic>> {
    let raw = parse_file(sources, path).map_err(|d| vec![d])?;
    let mut b = Builder {
        sources,
        errors: Vec::new(),
    };
    let file_loc = sources.location(path, 0);
    let Some(meta) = raw.scenario else {
        return Err(vec![Diagnostic::at(
            &file_loc,
            sources,
            "missing `[scenario]` table (a file without one must live in a folder starting with `_` to be a fragment)".into(),
        )]);
    };
    let id = match &meta.id {
        Some(id) => id.get_ref().clone(),
        None => path.trim_end_matches(".toml").to_owned(),
    };
    let scenario_versions = if meta.spec_versions.is_empty() {
        SpecVersion::ALL.to_vec()
    } else {
        meta.spec_versions.clone()
    };
    let requires: Vec<Condition> = meta
        .requires
        .iter()
        .filter_map(|c| condition(&mut b, path, c))
        .collect();

    let mut checks = Vec::new();
    for raw_check in &raw.check {
        let loc = b.loc(path, raw_check.span());
        let c = raw_check.get_ref();
        let check_id = c.id.get_ref().clone();
        if !valid_check_id(&check_id) {
            let l = b.loc(path, c.id.span());
            b.error(
                &l,
                format!("check id `{check_id}` must be lower-case letters, digits and `-`"),
            );
        }
        if c.requirements.is_empty() {
            b.error(&loc, format!("check `{check_id}` cites no requirement id"));
        }
        for r in &c.requirements {
            if !valid_requirement_id(r.get_ref()) {
                let l = b.loc(path, r.span());
                b.error(
                    &l,
                    format!("`{}` is not a requirement id (like `CODE-01`)", r.get_ref()),
                );
            }
        }
        let spec_versions = if c.spec_versions.is_empty() {
            scenario_versions.clone()
        } else {
            for v in &c.spec_versions {
                if !scenario_versions.contains(v) {
                    b.error(&loc, format!("check `{check_id}` names version {} that its scenario does not apply to", v.as_str()));
                }
            }
            c.spec_versions.clone()
        };
        let requires = c
            .requires
            .iter()
            .filter_map(|r| condition(&mut b, path, r))
            .collect();
        checks.push(Check {
            id: check_id,
            title: c.title.clone(),
            level: c.level,
            requirements: c.requirements.iter().map(|r| r.get_ref().clone()).collect(),
            charged_to: c.charged_to,
            description: c.description.clone(),
            spec_versions,
            tags: c.tags.clone(),
            requires,
            location: loc,
        });
    }
    if checks.is_empty() {
        b.error(&file_loc, "the scenario has no `[[check]]`");
    }

    let mut steps = Vec::new();
    let mut captures: BTreeMap<String, Action> = BTreeMap::new();
    let mut discovered = false;
    let mut stack = vec![path.to_owned()];
    expand_steps(
        &mut b,
        path,
        &raw.step,
        &checks,
        &mut steps,
        &mut captures,
        &mut discovered,
        &mut stack,
    );

    // A check with no assertion could never fail.
    let mut asserted = vec![false; checks.len()];
    for s in &steps {
        for e in &s.expects {
            asserted[e.check] = true;
        }
    }
    for (c, used) in checks.iter().zip(asserted) {
        if !used {
            b.error(
                &c.location,
                format!("check `{}` has no assertion, so it could never fail", c.id),
            );
        }
    }

    // Conditions read built-ins, discovery, or a capture of this scenario.
    let mut roots: Vec<&str> = BUILTIN_ROOTS.to_vec();
    roots.push("discovery");
    roots.extend(steps.iter().filter_map(|s| s.capture.as_deref()));
    let conditions = requires
        .iter()
        .chain(checks.iter().flat_map(|c| &c.requires));
    for c in conditions {
        let root = c.var[0].as_str();
        if !roots.contains(&root) {
            let hint = suggest::nearest(root, roots.iter().copied())
                .map(|s| format!(" (did you mean `{s}`?)"))
                .unwrap_or_default();
            b.error(
                &file_loc,
                format!(
                    "condition on `{}`: `{root}` is no variable of this scenario{hint}",
                    c.var.join(".")
                ),
            );
        }
    }

    if !b.errors.is_empty() {
        return Err(b.errors);
    }
    Ok(Scenario {
        id,
        title: meta.title,
        description: meta.description,
        tags: meta.tags,
        needs: meta.needs,
        requires,
        spec_versions: scenario_versions,
        checks,
        steps,
        location: file_loc,
    })
}

#[allow(clippy::too_many_arguments)]
fn expand_steps(
    b: &mut Builder<'_>,
    path: &str,
    raw_steps: &[Spanned<RawStep>],
    checks: &[Check],
    out: &mut Vec<Step>,
    captures: &mut BTreeMap<String, Action>,
    discovered: &mut bool,
    stack: &mut Vec<String>,
) {
    for raw in raw_steps {
        let loc = b.loc(path, raw.span());
        let s = raw.get_ref();
        let allowed = allowed_fields(s.action);
        for field in given_fields(s) {
            if !allowed.contains(&field) {
                b.error(
                    &loc,
                    format!(
                        "action `{}` does not take `{field}` (it takes: {})",
                        s.action.as_str(),
                        if allowed.is_empty() {
                            "nothing".to_owned()
                        } else {
                            allowed.join(", ")
                        }
                    ),
                );
            }
        }
        if s.action == Action::Include {
            let Some(file) = &s.file else {
                b.error(&loc, "`include` needs `file`");
                continue;
            };
            if stack.iter().any(|f| f == file) {
                b.error(
                    &loc,
                    format!("`include` cycle: {} -> {file}", stack.join(" -> ")),
                );
                continue;
            }
            if b.sources.get(file).is_none() {
                let suggestion = suggest::nearest(file, b.sources.paths());
                b.error(
                    &loc,
                    format!(
                        "included file `{file}` does not exist{}",
                        suggestion
                            .map(|s| format!(" (did you mean `{s}`?)"))
                            .unwrap_or_default()
                    ),
                );
                continue;
            }
            match parse_file(b.sources, file) {
                Ok(fragment) => {
                    if fragment.scenario.is_some() || !fragment.check.is_empty() {
                        b.error(&loc, format!("`{file}` is a scenario, not a fragment: fragments have only `[[step]]`s"));
                        continue;
                    }
                    stack.push(file.clone());
                    expand_steps(
                        b,
                        file,
                        &fragment.step,
                        checks,
                        out,
                        captures,
                        discovered,
                        stack,
                    );
                    stack.pop();
                }
                Err(d) => b.errors.push(d),
            }
            continue;
        }

        if !s.expect.is_empty() && s.action == Action::Discover {
            b.error(&loc, "`discover` is shared by the run and takes no `expect`; assert on an `http` step instead");
        }
        // Variable references must exist by the time this step runs.
        let known = |root: &str, captures: &BTreeMap<String, Action>, discovered: bool| {
            BUILTIN_ROOTS.contains(&root)
                || captures.contains_key(root)
                || (discovered && root == "discovery")
        };
        let check_template = |b: &mut Builder<'_>,
                              text: &str,
                              captures: &BTreeMap<String, Action>,
                              own: Option<&str>| {
            match Template::parse(text) {
                Ok(t) => {
                    for p in t.paths() {
                        let root = p[0].as_str();
                        if !(known(root, captures, *discovered) || Some(root) == own) {
                            let mut roots: Vec<&str> = BUILTIN_ROOTS.to_vec();
                            roots.extend(captures.keys().map(String::as_str));
                            if *discovered {
                                roots.push("discovery");
                            }
                            let hint = if root == "discovery" {
                                " (add a `discover` step before this one)".to_owned()
                            } else {
                                suggest::nearest(root, roots.iter().copied())
                                    .map(|s| format!(" (did you mean `{s}`?)"))
                                    .unwrap_or_default()
                            };
                            b.error(
                                &loc,
                                format!("`{}` is not set when this step runs{hint}", p.join(".")),
                            );
                        }
                    }
                }
                Err(e) => b.error(&loc, format!("bad template {text:?}: {e}")),
            }
        };
        // `authorize` parameters may read the PKCE pair and state the step
        // generates (`pkce.verifier`, `pkce.challenge`, `pkce.state`).
        let generated = (s.action == Action::Authorize).then_some("pkce");
        for text in step_templates(s) {
            check_template(b, text, captures, generated);
        }
        let reference = |b: &mut Builder<'_>,
                         name: &Option<String>,
                         what: &str,
                         kinds: &[Action],
                         captures: &BTreeMap<String, Action>| {
            if let Some(name) = name {
                match captures.get(name) {
                    Some(a) if kinds.contains(a) => {}
                    Some(a) => b.error(
                        &loc,
                        format!(
                            "`{what} = \"{name}\"` names a `{}` step, expected {}",
                            a.as_str(),
                            kinds
                                .iter()
                                .map(|k| format!("`{}`", k.as_str()))
                                .collect::<Vec<_>>()
                                .join(" or ")
                        ),
                    ),
                    None => b.error(
                        &loc,
                        format!("`{what} = \"{name}\"` names no earlier step's `as`"),
                    ),
                }
            }
        };
        reference(b, &s.client, "client", &[Action::Register], captures);
        // Without `client`, authorize uses the capture named "client", unless
        // `params.client_id` names a client of its own (a metadata document).
        if s.action == Action::Authorize
            && s.client.is_none()
            && !s
                .params
                .as_ref()
                .is_some_and(|p| p.contains_key("client_id"))
            && !captures.contains_key("client")
        {
            b.error(
                &loc,
                "`authorize` needs a client: an earlier `register` with `as = \"client\"`, `client = \"...\"`, or `params.client_id`",
            );
        }
        reference(
            b,
            &s.grant,
            "grant",
            &[
                Action::Authorize,
                Action::ExchangeCode,
                Action::Refresh,
                Action::ObtainToken,
            ],
            captures,
        );
        reference(b, &s.session, "session", &[Action::McpInitialize], captures);
        if let Some(ca) = &s.client_auth
            && !CLIENT_AUTH.contains(&ca.as_str())
        {
            b.error(
                &loc,
                format!(
                    "`client_auth = \"{ca}\"`: expected one of {}",
                    CLIENT_AUTH.join(", ")
                ),
            );
        }
        if let Some(m) = &s.auth_method
            && !AUTH_METHODS.contains(&m.as_str())
            && !m.contains("{{")
        {
            b.error(
                &loc,
                format!(
                    "`auth_method = \"{m}\"`: expected one of {}",
                    AUTH_METHODS.join(", ")
                ),
            );
        }
        let bodies = [s.form.is_some(), s.json.is_some(), s.body.is_some()]
            .iter()
            .filter(|x| **x)
            .count();
        if bodies > 1 {
            b.error(&loc, "give at most one of `form`, `json`, `body`");
        }
        match s.action {
            Action::Http if s.url.is_none() => b.error(&loc, "`http` needs `url`"),
            Action::Mcp if s.method.is_none() && s.body.is_none() => {
                b.error(&loc, "`mcp` needs `method` (or a raw `body`)")
            }
            Action::AdvanceClock if s.seconds.is_none() => {
                b.error(&loc, "`advance_clock` needs `seconds`")
            }
            _ => {}
        }
        if let Some(n) = s.concurrent
            && !(2..=256).contains(&n)
        {
            b.error(&loc, "`concurrent` must be between 2 and 256");
        }
        let own = s.capture.as_deref();
        let mut expects = Vec::new();
        for raw_e in &s.expect {
            let eloc = b.loc(path, raw_e.span());
            let e = raw_e.get_ref();
            let check = match (&e.check, checks.len()) {
                (Some(name), _) => match checks.iter().position(|c| &c.id == name) {
                    Some(i) => Some(i),
                    None => {
                        let hint = suggest::nearest(name, checks.iter().map(|c| c.id.as_str()))
                            .map(|s| format!(" (did you mean `{s}`?)"))
                            .unwrap_or_default();
                        b.error(
                            &eloc,
                            format!("`check = \"{name}\"` names no check of this scenario{hint}"),
                        );
                        None
                    }
                },
                (None, 1) => Some(0),
                (None, n) => {
                    b.error(
                        &eloc,
                        format!(
                            "this `expect` needs `check = \"...\"`: the scenario has {n} checks"
                        ),
                    );
                    None
                }
            };
            // Asserts may read this step's own capture (`{{ own.json... }}`).
            for text in expect_templates(e) {
                check_template(b, text, captures, own);
            }
            let asserts = asserts(b, &eloc, e);
            if asserts.is_empty() {
                b.error(&eloc, "this `expect` asserts nothing");
            }
            if let Some(check) = check {
                expects.push(Expect {
                    check,
                    because: e.because.clone(),
                    asserts,
                    location: eloc,
                });
            }
        }
        if s.action == Action::Discover {
            *discovered = true;
        }
        if let Some(name) = &s.capture {
            if BUILTIN_ROOTS.contains(&name.as_str()) || name == "discovery" {
                b.error(
                    &loc,
                    format!("`as = \"{name}\"` shadows a built-in variable"),
                );
            }
            captures.insert(name.clone(), s.action);
        }
        out.push(Step {
            action: s.action,
            capture: s.capture.clone(),
            name: s.name.clone(),
            spec: StepSpec {
                auth_method: s.auth_method.clone(),
                metadata: s
                    .metadata
                    .as_ref()
                    .map(|t| toml_to_json(&toml::Value::Table(t.clone()))),
                client: s.client.clone(),
                grant: s.grant.clone(),
                token: s.token.clone(),
                token_type_hint: s.token_type_hint.clone(),
                user: s.user.clone(),
                expect_code: s.expect_code.unwrap_or(true),
                params: s.params.clone().unwrap_or_default(),
                omit: s.omit.clone(),
                client_auth: s.client_auth.clone(),
                method: s.method.clone(),
                rpc_params: s
                    .rpc_params
                    .as_ref()
                    .map(|t| toml_to_json(&toml::Value::Table(t.clone()))),
                session: s.session.clone(),
                protocol_version: s.protocol_version.clone(),
                seconds: s.seconds,
                http_method: s.http_method.clone(),
                url: s.url.clone(),
                query: s.query.clone(),
                headers: s.headers.clone(),
                omit_headers: s.omit_headers.clone(),
                form: s.form.clone(),
                json: s.json.as_ref().map(toml_to_json),
                body: s.body.clone(),
                concurrent: s.concurrent,
            },
            expects,
            location: loc,
        });
    }
}

/// Every template string a step carries.
fn step_templates(s: &RawStep) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::new();
    out.extend(s.token.as_deref());
    out.extend(s.url.as_deref());
    out.extend(s.body.as_deref());
    out.extend(s.user.as_deref());
    out.extend(s.protocol_version.as_deref());
    if let Some(p) = &s.params {
        out.extend(p.values().map(String::as_str));
    }
    for (_, v) in s
        .query
        .iter()
        .chain(&s.headers)
        .chain(s.form.iter().flatten())
    {
        out.push(v);
    }
    for t in [&s.metadata, &s.rpc_params].into_iter().flatten() {
        t.values().for_each(|v| collect_toml_strings(v, &mut out));
    }
    if let Some(j) = &s.json {
        collect_toml_strings(j, &mut out);
    }
    out
}

fn collect_toml_strings<'a>(v: &'a toml::Value, out: &mut Vec<&'a str>) {
    match v {
        toml::Value::String(s) => out.push(s),
        toml::Value::Array(a) => a.iter().for_each(|x| collect_toml_strings(x, out)),
        toml::Value::Table(t) => t.values().for_each(|x| collect_toml_strings(x, out)),
        _ => {}
    }
}

fn expect_templates(e: &RawExpect) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::new();
    out.extend(e.header.values().map(String::as_str));
    out.extend(e.jwt_token.as_deref());
    out.extend(e.value_matches.keys().map(String::as_str));
    out.extend(e.value_not_matches.keys().map(String::as_str));
    out.extend(e.equal.iter().map(String::as_str));
    out.extend(e.distinct.iter().map(String::as_str));
    if let Some(w) = &e.www_authenticate {
        out.extend(w.params.values().map(String::as_str));
    }
    if let Some(r) = &e.redirect {
        out.extend(r.to.as_deref());
        out.extend(r.not_to.as_deref());
        out.extend(r.query.values().map(String::as_str));
    }
    let values = e
        .json
        .values()
        .chain(e.jwt_claims.values())
        .chain(e.json_contains.values())
        .chain(e.json_not_contains.values())
        .chain(e.json_in.values().flatten());
    for v in values {
        if let toml::Value::String(s) = v {
            out.push(s);
        }
    }
    if let Some(r) = &e.redirect {
        out.extend(r.query_in.values().flatten().map(String::as_str));
    }
    out
}

fn asserts(b: &mut Builder<'_>, loc: &Location, e: &RawExpect) -> Vec<Assert> {
    let mut out = Vec::new();
    if let Some(s) = e.status {
        out.push(Assert::Status(s));
    }
    if !e.status_in.is_empty() {
        out.push(Assert::StatusIn(e.status_in.clone()));
    }
    if !e.status_not_in.is_empty() {
        out.push(Assert::StatusNotIn(e.status_not_in.clone()));
    }
    if let Some(class) = &e.status_class {
        match class.as_bytes() {
            [d @ b'1'..=b'5', b'x', b'x'] => out.push(Assert::StatusClass(u16::from(d - b'0'))),
            _ => b.error(
                loc,
                format!("`status_class = \"{class}\"`: expected one of 1xx..5xx"),
            ),
        }
    }
    for (k, v) in &e.header {
        out.push(Assert::Header(k.to_ascii_lowercase(), v.clone()));
    }
    for (k, v) in &e.header_contains {
        out.push(Assert::HeaderContains(k.to_ascii_lowercase(), v.clone()));
    }
    out.extend(
        e.header_present
            .iter()
            .map(|h| Assert::HeaderPresent(h.to_ascii_lowercase())),
    );
    out.extend(
        e.header_absent
            .iter()
            .map(|h| Assert::HeaderAbsent(h.to_ascii_lowercase())),
    );
    let pointer = |b: &mut Builder<'_>, p: &str| {
        if !(p.is_empty() || p.starts_with('/')) {
            b.error(
                loc,
                format!("JSON pointer `{p}` must be empty or start with `/`"),
            );
        }
        p.to_owned()
    };
    for (p, v) in &e.json {
        out.push(Assert::Json(pointer(b, p), toml_to_json(v)));
    }
    for (p, vs) in &e.json_in {
        out.push(Assert::JsonIn(
            pointer(b, p),
            vs.iter().map(toml_to_json).collect(),
        ));
    }
    for p in &e.json_present {
        out.push(Assert::JsonPresent(pointer(b, p)));
    }
    for p in &e.json_absent {
        out.push(Assert::JsonAbsent(pointer(b, p)));
    }
    for (p, t) in &e.json_type {
        match JsonType::parse(t) {
            Some(t) => out.push(Assert::JsonType(pointer(b, p), t)),
            None => b.error(loc, format!("`{t}` is not a JSON type (string, number, integer, boolean, array, object, null)")),
        }
    }
    for (p, v) in &e.json_contains {
        out.push(Assert::JsonContains(pointer(b, p), toml_to_json(v)));
    }
    for (p, v) in &e.json_not_contains {
        out.push(Assert::JsonNotContains(pointer(b, p), toml_to_json(v)));
    }
    if e.json_object == Some(true) {
        out.push(Assert::JsonObject);
    }
    for (re, make) in [
        (&e.body_matches, Assert::BodyMatches as fn(String) -> Assert),
        (&e.body_not_matches, Assert::BodyNotMatches),
    ] {
        if let Some(re) = re {
            match regex::Regex::new(re) {
                Ok(_) => out.push(make(re.clone())),
                Err(err) => b.error(loc, format!("bad regex {re:?}: {err}")),
            }
        }
    }
    for (positive, map) in [(true, &e.value_matches), (false, &e.value_not_matches)] {
        for (t, re) in map {
            match regex::Regex::new(re) {
                Ok(_) => out.push(Assert::ValueMatches(t.clone(), re.clone(), positive)),
                Err(err) => b.error(loc, format!("bad regex {re:?}: {err}")),
            }
        }
    }
    if let Some(w) = &e.www_authenticate {
        if w.absent == Some(true) {
            out.push(Assert::ChallengeAbsent);
        }
        if let Some(s) = &w.scheme {
            out.push(Assert::ChallengeScheme(s.clone()));
        }
        out.extend(w.has.iter().map(|p| Assert::ChallengeHas(p.clone())));
        out.extend(w.lacks.iter().map(|p| Assert::ChallengeLacks(p.clone())));
        out.extend(
            w.params
                .iter()
                .map(|(k, v)| Assert::ChallengeParam(k.clone(), v.clone())),
        );
        if w.well_formed == Some(true) {
            out.push(Assert::ChallengeWellFormed);
        }
    }
    if let Some(r) = &e.redirect {
        let first = out.len();
        if r.none == Some(true) {
            out.push(Assert::RedirectNone);
        }
        out.extend(r.to.iter().map(|t| Assert::RedirectTo(t.clone())));
        out.extend(r.not_to.iter().map(|t| Assert::RedirectNotTo(t.clone())));
        out.extend(
            r.query
                .iter()
                .map(|(k, v)| Assert::RedirectQuery(k.clone(), v.clone())),
        );
        out.extend(
            r.query_in
                .iter()
                .map(|(k, v)| Assert::RedirectQueryIn(k.clone(), v.clone())),
        );
        out.extend(
            r.query_present
                .iter()
                .map(|k| Assert::RedirectQueryPresent(k.clone())),
        );
        out.extend(
            r.query_absent
                .iter()
                .map(|k| Assert::RedirectQueryAbsent(k.clone())),
        );
        out.extend(
            r.query_once
                .iter()
                .map(|k| Assert::RedirectQueryOnce(k.clone())),
        );
        if r.no_fragment == Some(true) {
            out.push(Assert::RedirectNoFragment);
        }
        if r.optional == Some(true) {
            let inner: Vec<Assert> = out.drain(first..).collect();
            out.extend(inner.into_iter().map(|a| Assert::IfRedirected(Box::new(a))));
        }
    }
    match (&e.jwt_token, e.jwt_claims.is_empty()) {
        (Some(token), false) => {
            for (claim, v) in &e.jwt_claims {
                out.push(Assert::JwtClaim {
                    token: token.clone(),
                    claim: claim.clone(),
                    expected: toml_to_json(v),
                });
            }
        }
        (Some(_), true) => b.error(loc, "`jwt_token` needs `jwt_claims`"),
        (None, false) => b.error(loc, "`jwt_claims` needs `jwt_token`"),
        (None, true) => {}
    }
    if !e.equal.is_empty() {
        if e.equal.len() < 2 {
            b.error(loc, "`equal` needs at least two values");
        }
        out.push(Assert::Equal(e.equal.clone()));
    }
    if !e.distinct.is_empty() {
        if e.distinct.len() < 2 {
            b.error(loc, "`distinct` needs at least two values");
        }
        out.push(Assert::Distinct(e.distinct.clone()));
    }
    match (e.count_status, e.count_equals) {
        (Some(status), Some(equals)) => out.push(Assert::CountStatus { status, equals }),
        (None, None) => {}
        _ => b.error(loc, "`count_status` and `count_equals` go together"),
    }
    match e.rpc_result {
        Some(true) => out.push(Assert::RpcResult),
        Some(false) => out.push(Assert::RpcNoResult),
        None => {}
    }
    let mut codes = e.rpc_error_code_in.clone();
    codes.extend(e.rpc_error_code);
    if !codes.is_empty() {
        out.push(Assert::RpcErrorCode(codes));
    }
    out
}

fn condition(b: &mut Builder<'_>, path: &str, raw: &Spanned<RawCondition>) -> Option<Condition> {
    let loc = b.loc(path, raw.span());
    let c = raw.get_ref();
    let tests: Vec<ConditionTest> = [
        c.present.map(ConditionTest::Present),
        c.contains.clone().map(ConditionTest::Contains),
        c.not_contains.clone().map(ConditionTest::NotContains),
        c.equals.clone().map(ConditionTest::Equals),
        c.matches.clone().map(ConditionTest::Matches),
        c.not_matches.clone().map(ConditionTest::NotMatches),
    ]
    .into_iter()
    .flatten()
    .collect();
    if tests.len() != 1 {
        b.error(
            &loc,
            "a condition takes exactly one of `present`, `contains`, `not_contains`, `equals`, `matches`, `not_matches`",
        );
        return None;
    }
    if let Some(re) = c.matches.as_ref().or(c.not_matches.as_ref())
        && let Err(e) = regex::Regex::new(re)
    {
        b.error(&loc, format!("not a valid regex: {e}"));
        return None;
    }
    let var: Vec<String> = c.var.split('.').map(str::to_owned).collect();
    if var.iter().any(String::is_empty) {
        b.error(&loc, format!("`{}` is not a variable path", c.var));
        return None;
    }
    Some(Condition {
        var,
        test: tests.into_iter().next()?,
        reason: c.reason.clone(),
    })
}

fn valid_check_id(id: &str) -> bool {
    !id.is_empty()
        && id
            .bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
}

/// `AREA-NN` as in the requirement catalogue (`CODE-01`, `M26-03`).
pub fn valid_requirement_id(id: &str) -> bool {
    let Some((area, num)) = id.rsplit_once('-') else {
        return false;
    };
    !area.is_empty()
        && area
            .bytes()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
        && num.len() == 2
        && num.bytes().all(|c| c.is_ascii_digit())
}

/// TOML → JSON (datetimes become strings).
pub fn toml_to_json(v: &toml::Value) -> Value {
    match v {
        toml::Value::String(s) => Value::String(s.clone()),
        toml::Value::Integer(i) => Value::from(*i),
        toml::Value::Float(f) => serde_json::Number::from_f64(*f)
            .map(Value::Number)
            .unwrap_or(Value::Null),
        toml::Value::Boolean(b) => Value::Bool(*b),
        toml::Value::Datetime(d) => Value::String(d.to_string()),
        toml::Value::Array(a) => Value::Array(a.iter().map(toml_to_json).collect()),
        toml::Value::Table(t) => Value::Object(
            t.iter()
                .map(|(k, v)| (k.clone(), toml_to_json(v)))
                .collect(),
        ),
    }
}

/// The capture names a step may refer to, for tooling.
pub fn capture_names(s: &Scenario) -> BTreeSet<&str> {
    s.steps
        .iter()
        .filter_map(|st| st.capture.as_deref())
        .collect()
}
