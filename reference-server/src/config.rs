//! Server configuration and the catalogue of faults.
//!
//! A [`Fault`] switches off exactly one rule, turning the reference server
//! into a known-broken server. The conformance suite's kill matrix runs every
//! check against every fault; each fault lists the requirement ids (from the
//! requirement catalogue) that it breaks, so the matrix can tell whether a
//! failing check caught the fault for the right reason.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// How `/authorize` obtains the resource owner's consent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ConsentMode {
    /// Approve at once and redirect with a code (the default: test clients
    /// can follow redirects without a browser).
    #[default]
    Auto,
    /// Serve an HTML approve/deny page; the form posts back to the server.
    Page,
}

impl FromStr for ConsentMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "auto" => Ok(Self::Auto),
            "page" => Ok(Self::Page),
            other => Err(format!(
                "unknown consent mode {other:?} (expected auto or page)"
            )),
        }
    }
}

/// Everything that shapes the server's behaviour. `Default` is the strict,
/// correct server with the usual lifetimes.
#[derive(Debug, Clone)]
pub struct Config {
    /// Access token lifetime.
    pub access_token_ttl: Duration,
    /// Authorization code lifetime (RFC 6749 §4.1.2 recommends at most 10 minutes).
    pub code_ttl: Duration,
    /// Refresh token lifetime.
    pub refresh_token_ttl: Duration,
    /// Lifetime of an idle MCP session.
    pub session_ttl: Duration,
    /// Path of the issuer below the server's origin, such as `/tenant1`
    /// (empty: the issuer is the bare origin). A non-empty path exercises
    /// RFC 8414 path insertion.
    pub issuer_path: String,
    /// Public base URL (scheme://host:port) when the server sits behind a
    /// proxy; `None` derives it from the bound address.
    pub public_base_url: Option<String>,
    pub consent: ConsentMode,
    /// Enables the `/_test/*` control routes (virtual clock). Off by default:
    /// without it no control route exists.
    pub test_control: bool,
    /// Allows `http://` loopback client ID metadata document URLs (tests only).
    pub allow_http_cimd: bool,
    /// Rules switched off.
    pub faults: BTreeSet<Fault>,
    /// Storage caps (a registration flood cannot exhaust memory).
    pub limits: Limits,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            access_token_ttl: Duration::from_secs(3600),
            code_ttl: Duration::from_secs(300),
            refresh_token_ttl: Duration::from_secs(30 * 24 * 3600),
            session_ttl: Duration::from_secs(3600),
            issuer_path: String::new(),
            public_base_url: None,
            consent: ConsentMode::Auto,
            test_control: false,
            allow_http_cimd: false,
            faults: BTreeSet::new(),
            limits: Limits::default(),
        }
    }
}

impl Config {
    /// Whether `fault` is switched on (the rule it names is off).
    pub fn has(&self, fault: Fault) -> bool {
        self.faults.contains(&fault)
    }
}

/// Caps on every store and on request sizes.
#[derive(Debug, Clone)]
pub struct Limits {
    pub max_clients: usize,
    pub max_codes: usize,
    pub max_refresh_tokens: usize,
    pub max_sessions: usize,
    pub max_body_bytes: usize,
    pub max_header_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_clients: 200_000,
            max_codes: 100_000,
            max_refresh_tokens: 200_000,
            max_sessions: 50_000,
            max_body_bytes: 64 * 1024,
            max_header_bytes: 16 * 1024,
        }
    }
}

macro_rules! faults {
    ($( $(#[$doc:meta])* $variant:ident = $name:literal, [$($req:literal),+ $(,)?]; )+) => {
        /// A rule the server can be told to break (`--fault NAME`).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Fault {
            $( $(#[$doc])* $variant, )+
        }

        impl Fault {
            /// Every fault, in declaration order.
            pub const ALL: &'static [Fault] = &[ $( Fault::$variant, )+ ];

            /// The name used on the command line.
            pub fn name(self) -> &'static str {
                match self { $( Fault::$variant => $name, )+ }
            }

            /// The requirement ids whose rule this fault breaks.
            pub fn requirements(self) -> &'static [&'static str] {
                match self { $( Fault::$variant => &[$($req),+], )+ }
            }
        }
    };
}

faults! {
    /// The token endpoint does not check `code_verifier` against the challenge.
    PkceNotVerified = "pkce-not-verified", ["PKCE-06", "PKCE-07"];
    /// `code_challenge_method=plain` is accepted although only S256 is advertised.
    PkcePlainAccepted = "pkce-plain-accepted", ["PKCE-02"];
    /// An authorization request without `code_challenge` is accepted.
    PkceMissingChallengeAccepted = "pkce-missing-challenge-accepted", ["PKCE-01"];
    /// A code can be redeemed more than once.
    CodeReusable = "code-reusable", ["CODE-01", "CODE-02"];
    /// Codes never expire.
    CodeNeverExpires = "code-never-expires", ["CODE-03"];
    /// `/authorize` accepts any redirect URI that starts with a registered one.
    RedirectUriPrefixMatch = "redirect-uri-prefix-match", ["AUTHZ-03"];
    /// `/token` does not compare `redirect_uri` with the authorization request's.
    RedirectUriUncheckedAtToken = "redirect-uri-unchecked-at-token", ["CODE-05"];
    /// DCR accepts unsafe redirect URIs (non-loopback http, javascript:, data:, file:, fragments, relative).
    DcrUnsafeRedirectAccepted = "dcr-unsafe-redirect-accepted", ["DCR-07", "DCR-08", "DCR-09", "DCR-10"];
    /// The MCP endpoint accepts tokens issued for another resource.
    AudienceNotChecked = "audience-not-checked", ["RS-11", "TOK-14"];
    /// The MCP endpoint accepts expired access tokens.
    ExpiredTokenAccepted = "expired-token-accepted", ["RS-06"];
    /// The MCP endpoint does not verify token signatures (`alg: none` and foreign keys pass).
    SignatureNotVerified = "signature-not-verified", ["RS-05", "RS-12"];
    /// 401 responses carry no `WWW-Authenticate` header.
    NoWwwAuthenticate = "no-www-authenticate", ["WWW-02", "RS-01"];
    /// The challenge has no `resource_metadata` parameter.
    NoResourceMetadata = "no-resource-metadata", ["WWW-03"];
    /// The protected resource metadata names another resource.
    PrmResourceWrong = "prm-resource-wrong", ["PRM-04", "WWW-04"];
    /// AS metadata lacks `code_challenge_methods_supported: ["S256"]`.
    S256MissingFromMetadata = "s256-missing-from-metadata", ["ASM-05"];
    /// Refresh tokens are not rotated.
    RefreshNotRotated = "refresh-not-rotated", ["REF-02"];
    /// Reuse of a rotated-out refresh token is not detected (the family stays valid).
    RefreshReuseNotDetected = "refresh-reuse-not-detected", ["REF-02", "REF-03"];
    /// Tools that need an extra scope run without it.
    ScopeNotEnforced = "scope-not-enforced", ["RS-14"];
    /// An access token in the `access_token` query parameter is accepted.
    TokenInQueryAccepted = "token-in-query-accepted", ["RS-07"];
    /// `invalid_grant` errors are answered with 500 `server_error`.
    InvalidGrantAs500 = "invalid-grant-as-500", ["TOK-02", "CODE-07"];
    /// `state` is left out of redirects.
    StateNotEchoed = "state-not-echoed", ["AUTHZ-08"];
    /// A code issued to one client can be redeemed by another.
    CodeNotBoundToClient = "code-not-bound-to-client", ["CODE-04"];
    /// A request carrying a valid `Mcp-Session-Id` needs no token.
    SessionWithoutToken = "session-without-token", ["RS-03"];
    /// A foreign `Origin` is not refused.
    OriginNotValidated = "origin-not-validated", ["MCP-18"];
    /// The `MCP-Protocol-Version` header is not checked.
    ProtocolVersionIgnored = "protocol-version-ignored", ["MCP-06"];
    /// Token responses carry no `Cache-Control: no-store`.
    NoCacheControl = "no-cache-control", ["TOK-01"];
    /// Errors for an unknown client are redirected to the unverified `redirect_uri`.
    ErrorRedirectUnregistered = "error-redirect-unregistered", ["AUTHZ-02"];
    /// A session created by one user can be used with another user's token.
    SessionNotBoundToUser = "session-not-bound-to-user", ["RS-20"];
    /// An invalid bearer token gets 500 instead of 401.
    InvalidTokenAs500 = "invalid-token-as-500", ["RS-04"];
    /// `invalid_token` is sent in the challenge even when no credentials were sent.
    ErrorWithoutCredentials = "error-without-credentials", ["WWW-06"];
    /// The AS metadata `issuer` has a synthetic trailing slash.
    IssuerTrailingSlash = "issuer-trailing-slash", ["ASM-03"];
    /// The protected resource metadata sits behind the bearer check (401 without a token).
    PrmRequiresToken = "prm-requires-token", ["PRM-01", "PRM-09"];
    /// Confidential registrations get a secret without `client_secret_expires_at`.
    DcrSecretWithoutExpiry = "dcr-secret-without-expiry", ["DCR-04"];
    /// `client_secret_basic` is advertised but fails (a `client_id` in the body is required).
    BasicAuthBroken = "basic-auth-broken", ["TOK-04"];
    /// A wrong client secret gets `unauthorized_client` instead of `invalid_client`.
    WrongClientAuthError = "wrong-client-auth-error", ["TOK-03"];
    /// The 401/403 challenges carry no `scope` parameter.
    NoScopeInChallenge = "no-scope-in-challenge", ["WWW-05", "RS-14"];
    /// A code replay does not revoke the tokens the code issued.
    ReplayNotRevoking = "replay-not-revoking", ["CODE-02"];
    /// Unsupported or malformed protocol versions in `initialize` are echoed back.
    VersionNegotiationBroken = "version-negotiation-broken", ["MCP-22"];
    /// A code is issued at once to an unknown `resource` (no RFC 8707 check).
    ResourceNotValidated = "resource-not-validated", ["AUTHZ-11", "TOK-10"];
    /// Revoked access tokens are still accepted by the MCP endpoint.
    RevocationIgnored = "revocation-ignored", ["REV-01", "RS-17"];
    /// A client ID metadata document is accepted although its `client_id`
    /// is not the URL it was fetched from.
    CimdClientIdUnchecked = "cimd-client-id-unchecked", ["CIMD-03"];
    /// A challenge without `code_challenge_method` is taken as `plain` (RFC
    /// 7636 §4.3's old default) although only S256 is advertised: a silent
    /// downgrade (cloudflare/workers-oauth-provider#113).
    PkceAbsentMethodPlain = "pkce-absent-method-plain", ["PKCE-03"];
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An unknown fault name, with the closest known one.
#[derive(Debug, Clone, thiserror::Error)]
#[error("unknown fault {given:?}{}", suggestion.map(|s| format!(" (did you mean {s:?}?)")).unwrap_or_default())]
pub struct UnknownFault {
    pub given: String,
    pub suggestion: Option<&'static str>,
}

impl FromStr for Fault {
    type Err = UnknownFault;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Fault::ALL
            .iter()
            .copied()
            .find(|f| f.name() == s)
            .ok_or_else(|| UnknownFault {
                given: s.to_owned(),
                suggestion: Fault::ALL
                    .iter()
                    .map(|f| (edit_distance(s, f.name()), f.name()))
                    .filter(|(d, _)| *d <= 4)
                    .min()
                    .map(|(_, n)| n),
            })
    }
}

/// Levenshtein distance, for "did you mean" hints.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur.push((prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fault_names_round_trip_and_are_unique() {
        let mut seen = BTreeSet::new();
        for f in Fault::ALL {
            assert!(seen.insert(f.name()), "duplicate fault name {}", f.name());
            assert_eq!(f.name().parse::<Fault>().unwrap(), *f);
            assert!(!f.requirements().is_empty());
        }
    }

    #[test]
    fn unknown_fault_suggests_nearest() {
        let err = "code-reuseable".parse::<Fault>().unwrap_err();
        assert_eq!(err.suggestion, Some("code-reusable"));
    }
}
