//! The raw shape of a scenario file, exactly as TOML deserialises it.
//!
//! Every struct denies unknown fields and nothing is `untagged` or
//! `flatten`ed, so a typo is an error that points at its line rather than a
//! silently ignored key. Meaning (which fields an action takes, whether a
//! check id exists, whether a template parses) is checked afterwards, in
//! [`super::plan`].

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use toml::Spanned;

/// One scenario file. A fragment file (reused through `include`) has only
/// `step`s and no `scenario` table.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawFile {
    pub scenario: Option<RawScenario>,
    #[serde(default)]
    #[schemars(with = "Vec<RawCheck>")]
    pub check: Vec<Spanned<RawCheck>>,
    #[serde(default)]
    #[schemars(with = "Vec<RawStep>")]
    pub step: Vec<Spanned<RawStep>>,
}

/// `[scenario]`: what the file is about.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawScenario {
    /// Unique id, such as `token/code-replay`; by default the file's path
    /// below the scenarios folder, without `.toml`.
    #[schemars(with = "Option<String>")]
    pub id: Option<Spanned<String>>,
    pub title: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    /// Capabilities the target must offer; without one, every check of the
    /// scenario is `skip` with the reason.
    #[serde(default)]
    pub needs: Vec<Capability>,
    /// Conditions on discovered values; when one does not hold, every check
    /// is `skip` with its reason.
    #[serde(default)]
    #[schemars(with = "Vec<RawCondition>")]
    pub requires: Vec<Spanned<RawCondition>>,
    /// Protocol versions the scenario applies to (default: all).
    #[serde(default)]
    pub spec_versions: Vec<SpecVersion>,
}

/// `[[check]]`: one verdict the scenario produces.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawCheck {
    /// Unique across the suite, such as `code-replay-rejected`.
    #[schemars(with = "String")]
    pub id: Spanned<String>,
    pub title: String,
    pub level: Level,
    /// Requirement ids from the catalogue (`CODE-01`, ...).
    #[schemars(with = "Vec<String>")]
    pub requirements: Vec<Spanned<String>>,
    pub charged_to: ChargedTo,
    /// Why the check exists and what a failure means (`mcp-conform explain`).
    #[serde(default)]
    pub description: Option<String>,
    /// Narrows the scenario's versions for this check.
    #[serde(default)]
    pub spec_versions: Vec<SpecVersion>,
    #[serde(default)]
    pub tags: Vec<String>,
    /// Extra conditions for this check alone (skip with reason when false).
    #[serde(default)]
    #[schemars(with = "Vec<RawCondition>")]
    pub requires: Vec<Spanned<RawCondition>>,
}

/// Requirement levels (RFC 2119 keywords folded to three).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize, JsonSchema)]
pub enum Level {
    /// A MUST or MUST NOT: broken means `fail`.
    #[serde(rename = "MUST")]
    Must,
    /// A SHOULD or SHOULD NOT: broken means `warn`.
    #[serde(rename = "SHOULD")]
    Should,
    /// A MAY or interop advice: broken is reported, never a failure.
    #[serde(rename = "MAY")]
    May,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Must => "MUST",
            Level::Should => "SHOULD",
            Level::May => "MAY",
        }
    }
}

/// Whose failure a check reports: the MCP server (resource server) or its
/// authorization server, which is often a third party.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize, JsonSchema)]
pub enum ChargedTo {
    #[serde(rename = "RS")]
    Rs,
    #[serde(rename = "AS")]
    As,
}

impl ChargedTo {
    pub fn as_str(self) -> &'static str {
        match self {
            ChargedTo::Rs => "RS",
            ChargedTo::As => "AS",
        }
    }
}

/// MCP protocol revisions the suite knows.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize, JsonSchema,
)]
pub enum SpecVersion {
    #[serde(rename = "2025-03-26")]
    V2025_03_26,
    #[serde(rename = "2025-06-18")]
    V2025_06_18,
    #[serde(rename = "2025-11-25")]
    V2025_11_25,
}

impl SpecVersion {
    pub const ALL: &'static [SpecVersion] = &[
        SpecVersion::V2025_03_26,
        SpecVersion::V2025_06_18,
        SpecVersion::V2025_11_25,
    ];
    pub const LATEST: SpecVersion = SpecVersion::V2025_11_25;

    pub fn as_str(self) -> &'static str {
        match self {
            SpecVersion::V2025_03_26 => "2025-03-26",
            SpecVersion::V2025_06_18 => "2025-06-18",
            SpecVersion::V2025_11_25 => "2025-11-25",
        }
    }

    pub fn parse(s: &str) -> Option<SpecVersion> {
        Self::ALL.iter().copied().find(|v| v.as_str() == s)
    }
}

/// What a scenario needs from the target beyond plain HTTP.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Capability {
    /// A client registration: DCR, or pre-registered credentials.
    Registration,
    /// Dynamic client registration itself (RFC 7591).
    Dcr,
    /// Authorization codes from a driver (a user's consent).
    Consent,
    /// A way to move past token and code lifetimes: the reference server's
    /// clock control, or permission to wait.
    Clock,
    /// A second protected resource on the same AS (audience checks).
    AltResource,
    /// A second user (`login_hint`) for session-binding checks.
    SecondUser,
    /// An operation that needs a scope the default token lacks.
    StepUpScope,
    /// Confidential clients (DCR with client_secret_basic).
    ConfidentialClient,
    /// An access token for the target: the ready `--token`, or one the
    /// run can obtain (registration and consent).
    Token,
    /// The AS can fetch client ID metadata documents the run serves on
    /// its loopback listener (a development-mode AS on the same machine).
    CimdLoopback,
}

impl Capability {
    pub fn as_str(self) -> &'static str {
        match self {
            Capability::Registration => "registration",
            Capability::Dcr => "dcr",
            Capability::Consent => "consent",
            Capability::Clock => "clock",
            Capability::AltResource => "alt_resource",
            Capability::SecondUser => "second_user",
            Capability::StepUpScope => "step_up_scope",
            Capability::ConfidentialClient => "confidential_client",
            Capability::Token => "token",
            Capability::CimdLoopback => "cimd_loopback",
        }
    }
}

/// A condition on a value: exactly one of the tests is given.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawCondition {
    /// A variable path such as `discovery.as.revocation_endpoint`.
    pub var: String,
    #[serde(default)]
    pub present: Option<bool>,
    /// `contains`, `not_contains` and `equals` compare with a text that may
    /// be a template (`{{ target.step_up_scope }}`).
    #[serde(default)]
    pub contains: Option<String>,
    #[serde(default)]
    pub not_contains: Option<String>,
    #[serde(default)]
    pub equals: Option<String>,
    /// A regex the value (as text) must match somewhere (`^...$` to anchor):
    /// a status class (`^2\\d\\d$`), a JWT-shaped token...
    #[serde(default)]
    pub matches: Option<String>,
    /// A regex the value (as text) must not match (an absent value holds).
    #[serde(default)]
    pub not_matches: Option<String>,
    /// Said in the `skip` message when the condition does not hold.
    pub reason: String,
}

/// The built-in actions a step can take.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Inline the steps of a fragment file.
    Include,
    /// Discover the PRM and AS metadata (cached for the run).
    Discover,
    /// Register a client (DCR), or use the pre-registered one.
    Register,
    /// Obtain an authorization code through the driver (PKCE S256).
    Authorize,
    /// Redeem a code at the token endpoint.
    ExchangeCode,
    /// Use a refresh token.
    Refresh,
    /// Revoke a token (RFC 7009).
    Revoke,
    /// MCP initialize (+ notifications/initialized).
    McpInitialize,
    /// One JSON-RPC request to the MCP endpoint.
    Mcp,
    /// Move the target's clock forward (or wait).
    AdvanceClock,
    /// A raw HTTP request, byte-exact.
    Http,
    /// An access token however the run can get one: the ready `--token`,
    /// else register, authorize and exchange a code.
    ObtainToken,
    /// How often the AS fetched each client ID metadata document the run
    /// serves (`{{ run.cimd_base }}/<case>.json`).
    CimdFetches,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Include => "include",
            Action::Discover => "discover",
            Action::Register => "register",
            Action::Authorize => "authorize",
            Action::ExchangeCode => "exchange_code",
            Action::Refresh => "refresh",
            Action::Revoke => "revoke",
            Action::McpInitialize => "mcp_initialize",
            Action::Mcp => "mcp",
            Action::AdvanceClock => "advance_clock",
            Action::Http => "http",
            Action::ObtainToken => "obtain_token",
            Action::CimdFetches => "cimd_fetches",
        }
    }
}

/// A name/value pair; an array keeps order and allows repeats (duplicated
/// parameters are a negative test in their own right).
pub type Pair = (String, String);

/// `[[step]]`: one action. Which fields an action accepts is checked in the
/// plan; unused fields are errors there.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawStep {
    pub action: Action,
    /// Name under which the step's outcome is captured (`{{ name.status }}`).
    #[serde(rename = "as", default)]
    pub capture: Option<String>,
    /// Human label for reports.
    #[serde(default)]
    pub name: Option<String>,
    /// `include`: the fragment file, relative to the scenarios folder.
    #[serde(default)]
    pub file: Option<String>,

    // --- protocol actions ---
    /// `register`: the auth method (`none`, `client_secret_basic`, `client_secret_post`).
    #[serde(default)]
    pub auth_method: Option<String>,
    /// `register`: JSON members merged over the canonical registration
    /// (a member set to `false`... is sent as given; use `omit` to drop one).
    #[serde(default)]
    #[schemars(with = "Option<serde_json::Map<String, serde_json::Value>>")]
    pub metadata: Option<toml::Table>,
    /// `authorize`/`exchange_code`/`refresh`/`revoke`/`mcp*`: capture names
    /// of the client, grant or tokens to use.
    #[serde(default)]
    pub client: Option<String>,
    #[serde(default)]
    pub grant: Option<String>,
    /// Template: the token to use (bearer, refresh or revoke).
    #[serde(default)]
    pub token: Option<String>,
    #[serde(default)]
    pub token_type_hint: Option<String>,
    /// `authorize`: the user to log in as (sent as `login_hint`).
    #[serde(default)]
    pub user: Option<String>,
    /// `authorize`: expect a code (default true); false for negative requests
    /// whose outcome the asserts judge.
    #[serde(default)]
    pub expect_code: Option<bool>,
    /// Parameters set over the action's defaults (query for authorize, form
    /// for token requests). Values are templates; an empty string is sent
    /// empty.
    #[serde(default)]
    pub params: Option<BTreeMap<String, String>>,
    /// Default parameters or metadata members to leave out.
    #[serde(default)]
    pub omit: Vec<String>,
    /// `exchange_code`/`refresh`/`revoke`: how the client authenticates:
    /// `registered` (default), `none`, `basic`, `post`, `basic_and_post`.
    #[serde(default)]
    pub client_auth: Option<String>,
    /// `mcp`: the JSON-RPC method and params.
    #[serde(default)]
    pub method: Option<String>,
    #[serde(default)]
    #[schemars(with = "Option<serde_json::Map<String, serde_json::Value>>")]
    pub rpc_params: Option<toml::Table>,
    /// `mcp`: the capture of an `mcp_initialize` whose session and version to use.
    #[serde(default)]
    pub session: Option<String>,
    /// `mcp_initialize`: the protocolVersion to offer (default: the run's version).
    #[serde(default)]
    pub protocol_version: Option<String>,
    /// `advance_clock`: seconds to move forward.
    #[serde(default)]
    pub seconds: Option<u64>,

    // --- raw HTTP (also header overrides for `mcp`) ---
    #[serde(rename = "http_method", default)]
    pub http_method: Option<String>,
    #[serde(default)]
    pub url: Option<String>,
    /// Query parameters appended to the URL, in order, repeats allowed.
    #[serde(default)]
    pub query: Vec<Pair>,
    /// Request headers, in order, repeats allowed.
    #[serde(default)]
    pub headers: Vec<Pair>,
    /// Headers the action would send that are to be left out.
    #[serde(default)]
    pub omit_headers: Vec<String>,
    /// Body: form pairs (x-www-form-urlencoded, repeats allowed)...
    #[serde(default)]
    pub form: Option<Vec<Pair>>,
    /// ...or a JSON value...
    #[serde(default)]
    #[schemars(with = "Option<serde_json::Value>")]
    pub json: Option<toml::Value>,
    /// ...or raw text sent byte-exact.
    #[serde(default)]
    pub body: Option<String>,
    /// Send this many copies of the request at the same time (races).
    #[serde(default)]
    pub concurrent: Option<u32>,

    /// Asserts on this step's outcome, each charged to a check.
    #[serde(default)]
    #[schemars(with = "Vec<RawExpect>")]
    pub expect: Vec<Spanned<RawExpect>>,
}

/// `[[step.expect]]`: assertions on the step's outcome. Every field given is
/// one assertion; every failing one is reported.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawExpect {
    /// The check this assertion belongs to (optional when the scenario has
    /// exactly one check).
    #[serde(default)]
    pub check: Option<String>,
    /// A note said when the assertion fails.
    #[serde(default)]
    pub because: Option<String>,

    #[serde(default)]
    pub status: Option<u16>,
    #[serde(default)]
    pub status_in: Vec<u16>,
    #[serde(default)]
    pub status_not_in: Vec<u16>,
    /// `2xx`, `4xx`, ...
    #[serde(default)]
    pub status_class: Option<String>,

    /// Header name → exact value (templates allowed).
    #[serde(default)]
    pub header: BTreeMap<String, String>,
    /// Header name → substring (case-insensitive).
    #[serde(default)]
    pub header_contains: BTreeMap<String, String>,
    #[serde(default)]
    pub header_present: Vec<String>,
    #[serde(default)]
    pub header_absent: Vec<String>,

    /// JSON pointer → expected value (a TOML value compared as JSON; strings
    /// are templates).
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, serde_json::Value>")]
    pub json: BTreeMap<String, toml::Value>,
    /// JSON pointer → allowed values.
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, Vec<serde_json::Value>>")]
    pub json_in: BTreeMap<String, Vec<toml::Value>>,
    #[serde(default)]
    pub json_present: Vec<String>,
    #[serde(default)]
    pub json_absent: Vec<String>,
    /// JSON pointer → `string`, `number`, `integer`, `boolean`, `array`, `object`, `null`.
    #[serde(default)]
    pub json_type: BTreeMap<String, String>,
    /// JSON pointer → value the array there must contain.
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, serde_json::Value>")]
    pub json_contains: BTreeMap<String, toml::Value>,
    /// JSON pointer → value the array there must not contain.
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, serde_json::Value>")]
    pub json_not_contains: BTreeMap<String, toml::Value>,
    /// The body is a JSON object.
    #[serde(default)]
    pub json_object: Option<bool>,

    /// Regexes on the body.
    #[serde(default)]
    pub body_matches: Option<String>,
    #[serde(default)]
    pub body_not_matches: Option<String>,
    /// Template → regex the rendered text must (not) match: judges a
    /// captured value, or several joined in one template
    /// (`"{{ a.status }} {{ b.status }}" = "\\b200\\b"`: either was 200).
    #[serde(default)]
    pub value_matches: BTreeMap<String, String>,
    #[serde(default)]
    pub value_not_matches: BTreeMap<String, String>,

    /// Asserts on the `WWW-Authenticate` challenge.
    #[serde(default)]
    pub www_authenticate: Option<RawChallengeExpect>,

    /// Asserts on the redirect (`Location`) of the response.
    #[serde(default)]
    pub redirect: Option<RawRedirectExpect>,

    /// JWT claims of the token given by `jwt_token` (a template).
    #[serde(default)]
    pub jwt_token: Option<String>,
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, serde_json::Value>")]
    pub jwt_claims: BTreeMap<String, toml::Value>,

    /// Templates that must all be equal / pairwise different.
    #[serde(default)]
    pub equal: Vec<String>,
    #[serde(default)]
    pub distinct: Vec<String>,

    /// For `concurrent` steps: how many responses had this status.
    #[serde(default)]
    pub count_status: Option<u16>,
    #[serde(default)]
    pub count_equals: Option<u32>,

    /// `mcp`: the JSON-RPC outcome.
    #[serde(default)]
    pub rpc_result: Option<bool>,
    #[serde(default)]
    pub rpc_error_code: Option<i64>,
    #[serde(default)]
    pub rpc_error_code_in: Vec<i64>,
}

/// Asserts on a `WWW-Authenticate` header.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawChallengeExpect {
    /// The header is there and has a challenge with this scheme
    /// (case-insensitive).
    #[serde(default)]
    pub scheme: Option<String>,
    /// Parameters that must be present.
    #[serde(default)]
    pub has: Vec<String>,
    /// Parameters that must be absent.
    #[serde(default)]
    pub lacks: Vec<String>,
    /// Parameter → exact value (template).
    #[serde(default)]
    pub params: BTreeMap<String, String>,
    /// RFC 6750 §3 syntax: no repeated parameter, allowed characters.
    #[serde(default)]
    pub well_formed: Option<bool>,
    /// The header must be absent.
    #[serde(default)]
    pub absent: Option<bool>,
}

/// Asserts on the response's `Location`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawRedirectExpect {
    /// No redirect at all (no `Location`, or a non-3xx status).
    #[serde(default)]
    pub none: Option<bool>,
    /// The redirect goes to this URL (scheme, host, port and path; the
    /// query is ignored). Template.
    #[serde(default)]
    pub to: Option<String>,
    /// The redirect does not go to a URL starting with this. Template.
    #[serde(default)]
    pub not_to: Option<String>,
    /// Query parameter → exact value (template).
    #[serde(default)]
    pub query: BTreeMap<String, String>,
    /// Query parameter → allowed values.
    #[serde(default)]
    pub query_in: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    pub query_present: Vec<String>,
    #[serde(default)]
    pub query_absent: Vec<String>,
    /// Parameter names that must appear exactly once.
    #[serde(default)]
    pub query_once: Vec<String>,
    /// Nothing may come in the fragment (no token leaked there).
    #[serde(default)]
    pub no_fragment: Option<bool>,
    /// The asserts of this table hold vacuously when the response is no
    /// redirect at all (an error page): for requests where RFC 6749
    /// §4.1.2.1 allows an error page instead of an error redirect.
    #[serde(default)]
    pub optional: Option<bool>,
}
