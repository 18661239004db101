//! Client metadata (RFC 7591 §2): validation of a dynamic client
//! registration request body into the metadata the server stores and
//! echoes. Also used, with a different policy, for client ID metadata
//! documents (see [`crate::rules::cimd`]).
//!
//! Choices of the strict server, each with its source:
//! - `redirect_uris` must pass [`validate_redirect_uri`] (fault
//!   `dcr-unsafe-redirect-accepted` skips it); a client using the
//!   `authorization_code` grant must register at least one (RFC 7591 §2);
//! - `grant_types` ⊆ {authorization_code, refresh_token}, `response_types`
//!   ⊆ {code}, and the two must be consistent (RFC 7591 §2.1);
//! - `token_endpoint_auth_method` ∈ {none, client_secret_basic,
//!   client_secret_post}; absent means `client_secret_basic` (RFC 7591 §2);
//! - `scope` tokens must be known; `application_type` ∈ {native, web}
//!   (OIDC Registration 1.0 §2);
//! - unknown members are ignored (RFC 7591 §2: the AS MUST ignore metadata
//!   it does not understand), and so are not stored or echoed;
//! - sizes are bounded so a registration flood cannot exhaust memory.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::rules::redirect_uri::{RedirectUriError, validate_redirect_uri};
use crate::rules::scope::{ScopeError, parse_scope};

/// At most this many redirect URIs per client.
pub const MAX_REDIRECT_URIS: usize = 10;
/// Longest accepted value for any other string member.
pub const MAX_FIELD_LEN: usize = 1024;
/// At most this many `contacts`.
pub const MAX_CONTACTS: usize = 5;
/// Upper bound on the stored metadata of one client (sum of string bytes).
pub const MAX_METADATA_BYTES: usize = 8 * 1024;

/// How a client authenticates at the token endpoint (RFC 7591 §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMethod {
    None,
    ClientSecretBasic,
    ClientSecretPost,
}

impl AuthMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::ClientSecretBasic => "client_secret_basic",
            Self::ClientSecretPost => "client_secret_post",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        match s {
            "none" => Some(Self::None),
            "client_secret_basic" => Some(Self::ClientSecretBasic),
            "client_secret_post" => Some(Self::ClientSecretPost),
            _ => None,
        }
    }

    /// Whether the client holds a shared secret.
    pub fn is_confidential(self) -> bool {
        self != Self::None
    }
}

/// A grant type the server supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GrantType {
    AuthorizationCode,
    RefreshToken,
}

/// OIDC Registration `application_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ApplicationType {
    Native,
    Web,
}

/// Validated client metadata, as stored and echoed (RFC 7591 §3.2.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClientMetadata {
    pub redirect_uris: Vec<String>,
    pub token_endpoint_auth_method: AuthMethod,
    pub grant_types: Vec<GrantType>,
    /// Always `["code"]` once validated.
    pub response_types: Vec<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_uri: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logo_uri: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tos_uri: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy_uri: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contacts: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub application_type: Option<ApplicationType>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub software_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub software_version: Option<String>,
}

impl ClientMetadata {
    pub fn allows_grant(&self, grant: GrantType) -> bool {
        self.grant_types.contains(&grant)
    }
}

/// What a registration may contain.
#[derive(Debug, Clone, Copy)]
pub struct RegistrationPolicy<'a> {
    /// Scopes the server knows.
    pub known_scopes: &'a [&'a str],
    /// Skip every redirect URI check (fault `dcr-unsafe-redirect-accepted`).
    pub allow_unsafe_redirect_uris: bool,
    /// The method assigned when the request names none.
    pub default_auth_method: AuthMethod,
}

impl Default for RegistrationPolicy<'_> {
    fn default() -> Self {
        Self {
            known_scopes: crate::rules::scope::KNOWN_SCOPES,
            allow_unsafe_redirect_uris: false,
            default_auth_method: AuthMethod::ClientSecretBasic,
        }
    }
}

/// Why a registration (or a client metadata document) was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistrationError {
    #[error("the request body is not valid JSON")]
    MalformedJson,
    #[error("the request body is not a JSON object")]
    NotAnObject,
    #[error("{field} must be {expected}")]
    WrongType {
        field: &'static str,
        expected: &'static str,
    },
    #[error("the authorization_code grant requires at least one redirect URI (RFC 7591 §2)")]
    MissingRedirectUris,
    #[error("at most {MAX_REDIRECT_URIS} redirect URIs may be registered")]
    TooManyRedirectUris,
    #[error("redirect URI {uri:?} is not allowed: {reason}")]
    InvalidRedirectUri {
        uri: String,
        reason: RedirectUriError,
    },
    #[error("grant type {0:?} is not supported")]
    UnsupportedGrantType(String),
    #[error("response type {0:?} is not supported")]
    UnsupportedResponseType(String),
    #[error("{0} must not be empty")]
    EmptyList(&'static str),
    #[error("grant_types and response_types are inconsistent: {0} (RFC 7591 §2.1)")]
    InconsistentTypes(&'static str),
    #[error("token_endpoint_auth_method {0:?} is not supported")]
    UnsupportedAuthMethod(String),
    #[error("invalid scope: {0}")]
    Scope(ScopeError),
    #[error("application_type {0:?} is not supported (expected native or web)")]
    UnknownApplicationType(String),
    #[error("{0} must be an absolute http(s) URL")]
    InvalidUrlField(&'static str),
    #[error("{0} is too long")]
    FieldTooLong(&'static str),
    #[error("at most {MAX_CONTACTS} contacts may be registered")]
    TooManyContacts,
    #[error("the client metadata is larger than {MAX_METADATA_BYTES} bytes")]
    TooLarge,
    // Client ID metadata documents only.
    #[error("the document's client_id does not equal its URL")]
    ClientIdMismatch,
    #[error("{0} is required in a client ID metadata document")]
    MissingField(&'static str),
    #[error("client ID metadata documents cannot use shared-secret authentication ({0})")]
    SharedSecretNotAllowed(&'static str),
}

impl RegistrationError {
    /// The RFC 7591 §3.2.2 error code.
    pub fn error_code(&self) -> &'static str {
        match self {
            Self::MissingRedirectUris
            | Self::TooManyRedirectUris
            | Self::InvalidRedirectUri { .. } => "invalid_redirect_uri",
            _ => "invalid_client_metadata",
        }
    }
}

/// Validates a registration request body (RFC 7591 §3.1). The entry point
/// for the `/register` endpoint and for fuzzing.
pub fn validate_registration(
    json_bytes: &[u8],
    policy: &RegistrationPolicy<'_>,
) -> Result<ClientMetadata, RegistrationError> {
    let value: Value =
        serde_json::from_slice(json_bytes).map_err(|_| RegistrationError::MalformedJson)?;
    let Value::Object(obj) = value else {
        return Err(RegistrationError::NotAnObject);
    };
    validate_metadata_object(&obj, policy)
}

/// Validates client metadata already parsed into a JSON object.
pub fn validate_metadata_object(
    obj: &Map<String, Value>,
    policy: &RegistrationPolicy<'_>,
) -> Result<ClientMetadata, RegistrationError> {
    // redirect_uris
    let raw_uris = string_array(obj, "redirect_uris")?.unwrap_or_default();
    if raw_uris.len() > MAX_REDIRECT_URIS {
        return Err(RegistrationError::TooManyRedirectUris);
    }
    let mut redirect_uris: Vec<String> = Vec::with_capacity(raw_uris.len());
    for uri in raw_uris {
        if policy.allow_unsafe_redirect_uris {
            // The fault stores anything, but the size bound still holds.
            if uri.len() > MAX_FIELD_LEN {
                return Err(RegistrationError::FieldTooLong("redirect_uris"));
            }
        } else if let Err(reason) = validate_redirect_uri(&uri) {
            return Err(RegistrationError::InvalidRedirectUri { uri, reason });
        }
        if !redirect_uris.contains(&uri) {
            redirect_uris.push(uri);
        }
    }

    // grant_types and response_types, RFC 7591 §2 defaults.
    let grant_types = match string_array(obj, "grant_types")? {
        None => vec![GrantType::AuthorizationCode],
        Some(list) if list.is_empty() => return Err(RegistrationError::EmptyList("grant_types")),
        Some(list) => {
            let mut out = Vec::new();
            for g in list {
                let grant = match g.as_str() {
                    "authorization_code" => GrantType::AuthorizationCode,
                    "refresh_token" => GrantType::RefreshToken,
                    _ => return Err(RegistrationError::UnsupportedGrantType(truncate(g))),
                };
                if !out.contains(&grant) {
                    out.push(grant);
                }
            }
            out
        }
    };
    let response_types = match string_array(obj, "response_types")? {
        None => vec!["code"],
        Some(list) if list.is_empty() => {
            return Err(RegistrationError::EmptyList("response_types"));
        }
        Some(list) => {
            for r in &list {
                if r != "code" {
                    return Err(RegistrationError::UnsupportedResponseType(truncate(
                        r.clone(),
                    )));
                }
            }
            vec!["code"]
        }
    };
    // RFC 7591 §2.1: authorization_code goes with the "code" response type.
    // Every supported response type is "code", so a client must use the
    // authorization_code grant (refresh_token alone could never be used).
    if !grant_types.contains(&GrantType::AuthorizationCode) {
        return Err(RegistrationError::InconsistentTypes(
            "response type \"code\" requires the authorization_code grant",
        ));
    }
    if redirect_uris.is_empty() {
        return Err(RegistrationError::MissingRedirectUris);
    }

    let token_endpoint_auth_method = match string(obj, "token_endpoint_auth_method")? {
        None => policy.default_auth_method,
        Some(m) => AuthMethod::parse(&m)
            .ok_or_else(|| RegistrationError::UnsupportedAuthMethod(truncate(m)))?,
    };

    let scope = match string(obj, "scope")? {
        None => None,
        Some(s) => Some(
            parse_scope(&s, policy.known_scopes)
                .map_err(RegistrationError::Scope)?
                .join(" "),
        ),
    };

    let application_type = match string(obj, "application_type")? {
        None => None,
        Some(t) => Some(match t.as_str() {
            "native" => ApplicationType::Native,
            "web" => ApplicationType::Web,
            _ => return Err(RegistrationError::UnknownApplicationType(truncate(t))),
        }),
    };

    let contacts = match string_array(obj, "contacts")? {
        None => None,
        Some(list) if list.len() > MAX_CONTACTS => return Err(RegistrationError::TooManyContacts),
        Some(list) => {
            if list.iter().any(|c| c.len() > MAX_FIELD_LEN) {
                return Err(RegistrationError::FieldTooLong("contacts"));
            }
            Some(list)
        }
    };

    let meta = ClientMetadata {
        redirect_uris,
        token_endpoint_auth_method,
        grant_types,
        response_types,
        client_name: bounded_string(obj, "client_name")?,
        client_uri: url_field(obj, "client_uri")?,
        logo_uri: url_field(obj, "logo_uri")?,
        tos_uri: url_field(obj, "tos_uri")?,
        policy_uri: url_field(obj, "policy_uri")?,
        contacts,
        scope,
        application_type,
        software_id: bounded_string(obj, "software_id")?,
        software_version: bounded_string(obj, "software_version")?,
    };
    if stored_size(&meta) > MAX_METADATA_BYTES {
        return Err(RegistrationError::TooLarge);
    }
    Ok(meta)
}

/// Approximate bytes of heap the metadata holds.
fn stored_size(m: &ClientMetadata) -> usize {
    let opt = |s: &Option<String>| s.as_ref().map_or(0, String::len);
    m.redirect_uris.iter().map(String::len).sum::<usize>()
        + opt(&m.client_name)
        + opt(&m.client_uri)
        + opt(&m.logo_uri)
        + opt(&m.tos_uri)
        + opt(&m.policy_uri)
        + m.contacts
            .as_ref()
            .map_or(0, |c| c.iter().map(String::len).sum())
        + opt(&m.scope)
        + opt(&m.software_id)
        + opt(&m.software_version)
}

/// Error messages quote client input; keep them short.
fn truncate(mut s: String) -> String {
    if s.len() > 64 {
        let mut cut = 64;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push('…');
    }
    s
}

/// An optional string member (`null` counts as absent).
pub(crate) fn string(
    obj: &Map<String, Value>,
    field: &'static str,
) -> Result<Option<String>, RegistrationError> {
    match obj.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(RegistrationError::WrongType {
            field,
            expected: "a string",
        }),
    }
}

fn bounded_string(
    obj: &Map<String, Value>,
    field: &'static str,
) -> Result<Option<String>, RegistrationError> {
    let s = string(obj, field)?;
    if s.as_ref().is_some_and(|s| s.len() > MAX_FIELD_LEN) {
        return Err(RegistrationError::FieldTooLong(field));
    }
    Ok(s)
}

/// A URL member shown to users (consent page links): http(s) only, so no
/// `javascript:` link can be planted.
fn url_field(
    obj: &Map<String, Value>,
    field: &'static str,
) -> Result<Option<String>, RegistrationError> {
    let Some(s) = bounded_string(obj, field)? else {
        return Ok(None);
    };
    match url::Url::parse(&s) {
        Ok(u) if matches!(u.scheme(), "https" | "http") => Ok(Some(s)),
        _ => Err(RegistrationError::InvalidUrlField(field)),
    }
}

/// An optional array of strings.
fn string_array(
    obj: &Map<String, Value>,
    field: &'static str,
) -> Result<Option<Vec<String>>, RegistrationError> {
    let wrong = || RegistrationError::WrongType {
        field,
        expected: "an array of strings",
    };
    match obj.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => {
            // Bound the work before copying anything.
            if items.len() > 64 {
                return Err(RegistrationError::FieldTooLong(field));
            }
            items
                .iter()
                .map(|v| v.as_str().map(str::to_owned).ok_or_else(wrong))
                .collect::<Result<Vec<_>, _>>()
                .map(Some)
        }
        Some(_) => Err(wrong()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn reg(body: serde_json::Value) -> Result<ClientMetadata, RegistrationError> {
        validate_registration(body.to_string().as_bytes(), &RegistrationPolicy::default())
    }

    #[test]
    fn canonical_registration() {
        let m = reg(serde_json::json!({
            "redirect_uris": ["http://127.0.0.1:5555/callback"],
            "token_endpoint_auth_method": "none",
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "client_name": "mcp-authz-conformance",
            "application_type": "native",
            "unknown_member": {"ignored": true}
        }))
        .unwrap();
        assert_eq!(m.token_endpoint_auth_method, AuthMethod::None);
        assert_eq!(m.application_type, Some(ApplicationType::Native));
        let echoed = serde_json::to_value(&m).unwrap();
        assert_eq!(
            echoed["grant_types"],
            serde_json::json!(["authorization_code", "refresh_token"])
        );
        assert_eq!(echoed["response_types"], serde_json::json!(["code"]));
        assert!(echoed.get("unknown_member").is_none());
    }

    #[test]
    fn default_auth_method_is_client_secret_basic() {
        let m = reg(serde_json::json!({"redirect_uris": ["https://c.example/cb"]})).unwrap();
        assert_eq!(m.token_endpoint_auth_method, AuthMethod::ClientSecretBasic);
        assert_eq!(m.grant_types, [GrantType::AuthorizationCode]);
    }

    #[test]
    fn error_codes() {
        let cases = [
            (
                serde_json::json!({"grant_types": ["authorization_code"]}),
                "invalid_redirect_uri",
            ),
            (
                serde_json::json!({"redirect_uris": ["http://evil.example/cb"]}),
                "invalid_redirect_uri",
            ),
            (
                serde_json::json!({"redirect_uris": ["https://c.example/cb#f"]}),
                "invalid_redirect_uri",
            ),
            (
                serde_json::json!({"redirect_uris": "https://c.example/cb"}),
                "invalid_client_metadata",
            ),
            (
                serde_json::json!({"redirect_uris": ["https://c.example/cb"], "grant_types": ["authorization_code"], "response_types": ["token"]}),
                "invalid_client_metadata",
            ),
            (
                serde_json::json!({"redirect_uris": ["https://c.example/cb"], "token_endpoint_auth_method": "bogus_method"}),
                "invalid_client_metadata",
            ),
            (
                serde_json::json!({"redirect_uris": ["https://c.example/cb"], "scope": "definitely-not-a-scope"}),
                "invalid_client_metadata",
            ),
            (
                serde_json::json!({"redirect_uris": ["https://c.example/cb"], "application_type": "bogus"}),
                "invalid_client_metadata",
            ),
            (
                serde_json::json!({"redirect_uris": ["https://c.example/cb"], "grant_types": ["password"]}),
                "invalid_client_metadata",
            ),
            (
                serde_json::json!({"redirect_uris": ["https://c.example/cb"], "client_uri": "javascript:alert(1)"}),
                "invalid_client_metadata",
            ),
        ];
        for (body, code) in cases {
            let err = reg(body.clone()).expect_err(&body.to_string());
            assert_eq!(err.error_code(), code, "{body}: {err}");
        }
    }

    #[test]
    fn malformed_bodies() {
        let p = RegistrationPolicy::default();
        assert_eq!(
            validate_registration(b"{", &p),
            Err(RegistrationError::MalformedJson)
        );
        assert_eq!(
            validate_registration(b"[]", &p),
            Err(RegistrationError::NotAnObject)
        );
    }

    #[test]
    fn unsafe_redirect_fault_skips_checks() {
        let p = RegistrationPolicy {
            allow_unsafe_redirect_uris: true,
            ..RegistrationPolicy::default()
        };
        let m = validate_registration(br#"{"redirect_uris":["javascript:alert(1)"]}"#, &p).unwrap();
        assert_eq!(m.redirect_uris, ["javascript:alert(1)"]);
    }

    fn unsafe_uri() -> impl Strategy<Value = String> {
        prop_oneof![
            "http://[a-z]{1,10}\\.(example|com)/[a-z]{0,6}",
            "https://[a-z]{1,10}\\.example/[a-z]{0,6}#[a-z]{0,4}",
            "(javascript|JAVASCRIPT|data|file|vbscript):[a-z/()]{0,10}",
            "/[a-z]{0,10}",
            "https://[a-z]{1,5}:[a-z]{1,5}@[a-z]{1,10}\\.example/cb",
            "[a-z]{2,8}\\.[a-z]{2,8}:/cb",
        ]
    }

    proptest! {
        #[test]
        fn an_unsafe_redirect_uri_never_registers(
            bad in unsafe_uri(),
            good in proptest::collection::vec("https://[a-z]{1,10}\\.example/cb", 0..3),
            pos in 0usize..4,
        ) {
            let mut uris = good;
            let at = pos.min(uris.len());
            uris.insert(at, bad);
            let body = serde_json::json!({"redirect_uris": uris, "token_endpoint_auth_method": "none"});
            prop_assert!(reg(body).is_err());
        }

        #[test]
        fn never_panics(body in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = validate_registration(&body, &RegistrationPolicy::default());
        }
    }
}
