//! What the run knows about its target: the URL, what help it has
//! (pre-registered client, ready token, a second resource, a clock), and
//! which capabilities follow from that. A target profile file (TOML) can
//! hold all of it; CLI flags override the profile.

use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use crate::scenario::model::{Capability, SpecVersion};

/// How authorization codes are obtained.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Driver {
    /// Follow redirects from the authorization URL until one lands on our
    /// loopback redirect URI (servers that auto-approve).
    #[default]
    Follow,
    /// Print (and optionally open) the URL and wait on the loopback redirect
    /// URI for the browser to come back.
    Browser { open: bool, timeout: Duration },
    /// Run a program with the URL as its argument; it prints the final
    /// redirect URL on stdout.
    Command { program: String, timeout: Duration },
}

/// How expiry is reached.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ClockMode {
    /// No way: checks that need it are skipped.
    #[default]
    None,
    /// The reference server's test control (`POST {url}` with `{"seconds": N}`).
    Control { url: String },
    /// Really wait, up to this long per step.
    Wait { max: Duration },
}

/// Everything about the target.
#[derive(Debug, Clone)]
pub struct Target {
    /// The MCP endpoint URL.
    pub url: String,
    pub driver: Driver,
    pub clock: ClockMode,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    /// A ready access token for servers without any registration.
    pub token: Option<String>,
    /// Another protected resource on the same AS (audience checks).
    pub alt_resource: Option<String>,
    /// A second user's `login_hint`.
    pub second_user: Option<String>,
    /// The user the suite logs in as by default (`login_hint`), if any.
    pub user: Option<String>,
    /// A tool that needs a scope the default token lacks, and that scope.
    pub step_up_tool: Option<String>,
    pub step_up_scope: Option<String>,
    /// The scope to request by default (else the challenge's, else none).
    pub scope: Option<String>,
    /// Protocol version to test (None: the latest the suite knows, which is
    /// then narrowed to what the server negotiates).
    pub spec_version: Option<SpecVersion>,
    /// Origins besides the target's and its declared issuers' that
    /// metadata may point at.
    pub allowed_origins: Vec<String>,
    /// The embedded reference server: every capability.
    pub embedded: bool,
    /// The AS fetches `http://127.0.0.1` client ID metadata documents.
    pub cimd_loopback: bool,
}

impl Target {
    pub fn new(url: impl Into<String>) -> Target {
        Target {
            url: url.into(),
            driver: Driver::Follow,
            clock: ClockMode::None,
            client_id: None,
            client_secret: None,
            token: None,
            alt_resource: None,
            second_user: None,
            user: None,
            step_up_tool: None,
            step_up_scope: None,
            scope: None,
            spec_version: None,
            allowed_origins: Vec::new(),
            embedded: false,
            cimd_loopback: false,
        }
    }

    /// Whether the target has `cap`, and if not, why (for the skip message).
    /// DCR availability is known only after discovery, so it is passed in.
    pub fn capability(&self, cap: Capability, dcr_offered: bool) -> Result<(), String> {
        let ok = match cap {
            Capability::Dcr => dcr_offered,
            Capability::Registration => dcr_offered || self.client_id.is_some(),
            Capability::ConfidentialClient => dcr_offered,
            Capability::Token => self.token.is_some() || dcr_offered || self.client_id.is_some(),
            Capability::CimdLoopback => self.cimd_loopback,
            Capability::Consent => true,
            Capability::Clock => self.clock != ClockMode::None,
            Capability::AltResource => self.alt_resource.is_some(),
            Capability::SecondUser => self.second_user.is_some(),
            Capability::StepUpScope => self.step_up_tool.is_some() && self.step_up_scope.is_some(),
        };
        if ok {
            return Ok(());
        }
        Err(match cap {
            Capability::Dcr => "the authorization server offers no dynamic client registration".into(),
            Capability::Registration => {
                "no client registration: the AS offers no DCR and no --client-id was given".into()
            }
            Capability::ConfidentialClient => "confidential clients need dynamic client registration".into(),
            Capability::Token => "no access token: give --token, or a client registration (DCR or --client-id)".into(),
            Capability::CimdLoopback => "client ID metadata documents need a host the AS can fetch: a public HTTPS host, or `cimd_loopback = true` in the profile for a development AS on this machine".into(),
            Capability::Consent => unreachable!("consent is always attempted"),
            Capability::Clock => {
                "no way to pass token lifetimes: give `clock` in the target profile (control URL or wait)".into()
            }
            Capability::AltResource => "no second resource on the same AS: set `alt_resource` in the target profile".into(),
            Capability::SecondUser => "no second user: set `second_user` in the target profile".into(),
            Capability::StepUpScope => {
                "no step-up operation: set `step_up_tool` and `step_up_scope` in the target profile".into()
            }
        })
    }
}

/// The target profile file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    pub url: Option<String>,
    pub driver: Option<String>,
    pub driver_command: Option<String>,
    pub driver_timeout_secs: Option<u64>,
    pub open_browser: Option<bool>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub token: Option<String>,
    pub alt_resource: Option<String>,
    pub second_user: Option<String>,
    pub user: Option<String>,
    pub step_up_tool: Option<String>,
    pub step_up_scope: Option<String>,
    pub scope: Option<String>,
    /// `control:<url>`, `wait:<max seconds>`, or `none`.
    pub clock: Option<String>,
    #[serde(default)]
    pub allowed_origins: Vec<String>,
    /// The AS fetches client ID metadata documents from `http://127.0.0.1`.
    pub cimd_loopback: Option<bool>,
}

/// Why a profile could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error("failed to read target profile {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("failed to parse target profile {path}: {message}")]
    Parse { path: String, message: String },
    #[error("target profile {path}: {message}")]
    Invalid { path: String, message: String },
}

impl Profile {
    pub fn load(path: &Path) -> Result<Profile, ProfileError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ProfileError::Read {
            path: shown.clone(),
            source,
        })?;
        toml::from_str(&text).map_err(|e| ProfileError::Parse {
            path: shown,
            message: e.to_string(),
        })
    }

    /// Applies the profile's settings to `target` (fields the profile leaves
    /// out stay as they are).
    pub fn apply(&self, target: &mut Target, path: &str) -> Result<(), ProfileError> {
        let invalid = |message: String| ProfileError::Invalid {
            path: path.to_owned(),
            message,
        };
        let timeout = Duration::from_secs(self.driver_timeout_secs.unwrap_or(300));
        if let Some(d) = &self.driver {
            target.driver = match d.as_str() {
                "follow" => Driver::Follow,
                "browser" => Driver::Browser {
                    open: self.open_browser.unwrap_or(false),
                    timeout,
                },
                "command" => Driver::Command {
                    program: self.driver_command.clone().ok_or_else(|| {
                        invalid("driver = \"command\" needs driver_command".into())
                    })?,
                    timeout,
                },
                other => {
                    return Err(invalid(format!(
                        "unknown driver {other:?} (follow, browser or command)"
                    )));
                }
            };
        }
        if let Some(c) = &self.clock {
            target.clock = parse_clock(c).map_err(invalid)?;
        }
        macro_rules! copy {
            ($($f:ident),*) => { $( if self.$f.is_some() { target.$f = self.$f.clone(); } )* };
        }
        copy!(
            client_id,
            client_secret,
            token,
            alt_resource,
            second_user,
            user,
            step_up_tool,
            step_up_scope,
            scope
        );
        target
            .allowed_origins
            .extend(self.allowed_origins.iter().cloned());
        if let Some(c) = self.cimd_loopback {
            target.cimd_loopback = c;
        }
        Ok(())
    }
}

/// `control:<url>`, `wait:<seconds>` or `none`.
pub fn parse_clock(s: &str) -> Result<ClockMode, String> {
    if s == "none" {
        return Ok(ClockMode::None);
    }
    if let Some(url) = s.strip_prefix("control:") {
        return Ok(ClockMode::Control {
            url: url.to_owned(),
        });
    }
    if let Some(secs) = s.strip_prefix("wait:") {
        let secs: u64 = secs
            .parse()
            .map_err(|_| format!("clock {s:?}: wait needs whole seconds"))?;
        return Ok(ClockMode::Wait {
            max: Duration::from_secs(secs),
        });
    }
    Err(format!(
        "clock {s:?}: expected control:<url>, wait:<seconds> or none"
    ))
}
