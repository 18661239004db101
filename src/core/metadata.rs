//! Typed readers of the two discovery documents: protected resource metadata
//! (RFC 9728 §2) and authorization server metadata (RFC 8414 §2, with the
//! OpenID Connect Discovery members ASM-04 needs).
//!
//! These never fail on a wrongly typed member: the checks must report every
//! problem in a document (PRM-12, ASM-04 and friends), so a member of the
//! wrong type is left out of the typed view and described in `type_errors`,
//! and the rest of the document is still read. Only a body that is not a
//! JSON object is an error. `raw` keeps the whole document for checks that
//! look at members this module does not model.

use serde_json::{Map, Value};
use thiserror::Error;

/// Why a body is not a metadata document at all.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum MetadataError {
    #[error("not valid JSON at line {line}, column {column}: {reason}")]
    InvalidJson {
        line: usize,
        column: usize,
        reason: String,
    },
    /// RFC 9728 §3.2 and RFC 8414 §3.2: the body is a JSON object.
    #[error("the document is JSON but not an object (found {found})")]
    NotAnObject { found: &'static str },
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn parse_object(bytes: &[u8]) -> Result<Value, MetadataError> {
    let value: Value = serde_json::from_slice(bytes).map_err(|e| MetadataError::InvalidJson {
        line: e.line(),
        column: e.column(),
        reason: e.to_string(),
    })?;
    if !value.is_object() {
        return Err(MetadataError::NotAnObject {
            found: kind(&value),
        });
    }
    Ok(value)
}

/// Reads members off an object, recording type errors as it goes.
struct Reader<'a> {
    obj: &'a Map<String, Value>,
    errors: Vec<String>,
}

impl<'a> Reader<'a> {
    fn new(obj: &'a Map<String, Value>) -> Self {
        Reader {
            obj,
            errors: Vec::new(),
        }
    }

    fn mismatch(&mut self, name: &str, expected: &str, found: &Value) {
        self.errors.push(format!(
            "`{name}`: expected {expected}, found {}",
            kind(found)
        ));
    }

    fn string(&mut self, name: &str) -> Option<String> {
        match self.obj.get(name)? {
            Value::String(s) => Some(s.clone()),
            other => {
                self.mismatch(name, "a string", other);
                None
            }
        }
    }

    fn boolean(&mut self, name: &str) -> Option<bool> {
        match self.obj.get(name)? {
            Value::Bool(b) => Some(*b),
            other => {
                self.mismatch(name, "a boolean", other);
                None
            }
        }
    }

    /// An array of strings. Non-string elements are reported and skipped,
    /// so `["S256", 1]` still reads as containing `S256`.
    fn strings(&mut self, name: &str) -> Option<Vec<String>> {
        match self.obj.get(name)? {
            Value::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    match item {
                        Value::String(s) => out.push(s.clone()),
                        other => self.mismatch(&format!("{name}[{i}]"), "a string", other),
                    }
                }
                Some(out)
            }
            other => {
                self.mismatch(name, "an array of strings", other);
                None
            }
        }
    }
}

/// Members whose value is an empty array (RFC 9728 §3.2 and RFC 8414 §3.2:
/// "Claims with zero elements MUST be omitted from the response"; PRM-08).
fn empty_array_members(raw: &Value) -> Vec<String> {
    raw.as_object()
        .map(|obj| {
            obj.iter()
                .filter(|(_, v)| v.as_array().is_some_and(Vec::is_empty))
                .map(|(k, _)| k.clone())
                .collect()
        })
        .unwrap_or_default()
}

/// RFC 9728 §2 protected resource metadata.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ProtectedResourceMetadata {
    pub resource: Option<String>,
    /// Empty when absent or wrongly typed; see `raw` to tell which.
    pub authorization_servers: Vec<String>,
    pub jwks_uri: Option<String>,
    pub scopes_supported: Option<Vec<String>>,
    pub bearer_methods_supported: Option<Vec<String>>,
    pub resource_signing_alg_values_supported: Option<Vec<String>>,
    pub resource_name: Option<String>,
    pub resource_documentation: Option<String>,
    pub resource_policy_uri: Option<String>,
    pub resource_tos_uri: Option<String>,
    pub tls_client_certificate_bound_access_tokens: Option<bool>,
    pub authorization_details_types_supported: Option<Vec<String>>,
    pub dpop_signing_alg_values_supported: Option<Vec<String>>,
    pub dpop_bound_access_tokens_required: Option<bool>,
    pub signed_metadata: Option<String>,
    pub raw: Value,
    /// One line per wrongly typed member, e.g.
    /// ``"`scopes_supported`: expected an array of strings, found string"``.
    pub type_errors: Vec<String>,
}

impl ProtectedResourceMetadata {
    pub fn from_json(bytes: &[u8]) -> Result<Self, MetadataError> {
        Ok(Self::from_object(parse_object(bytes)?))
    }

    /// Reads an already parsed document (not an object → error).
    pub fn from_value(value: Value) -> Result<Self, MetadataError> {
        if !value.is_object() {
            return Err(MetadataError::NotAnObject {
                found: kind(&value),
            });
        }
        Ok(Self::from_object(value))
    }

    fn from_object(raw: Value) -> Self {
        let empty = Map::new();
        let mut r = Reader::new(raw.as_object().unwrap_or(&empty));
        let doc = ProtectedResourceMetadata {
            resource: r.string("resource"),
            authorization_servers: r.strings("authorization_servers").unwrap_or_default(),
            jwks_uri: r.string("jwks_uri"),
            scopes_supported: r.strings("scopes_supported"),
            bearer_methods_supported: r.strings("bearer_methods_supported"),
            resource_signing_alg_values_supported: r
                .strings("resource_signing_alg_values_supported"),
            resource_name: r.string("resource_name"),
            resource_documentation: r.string("resource_documentation"),
            resource_policy_uri: r.string("resource_policy_uri"),
            resource_tos_uri: r.string("resource_tos_uri"),
            tls_client_certificate_bound_access_tokens: r
                .boolean("tls_client_certificate_bound_access_tokens"),
            authorization_details_types_supported: r
                .strings("authorization_details_types_supported"),
            dpop_signing_alg_values_supported: r.strings("dpop_signing_alg_values_supported"),
            dpop_bound_access_tokens_required: r.boolean("dpop_bound_access_tokens_required"),
            signed_metadata: r.string("signed_metadata"),
            raw: Value::Null,
            type_errors: Vec::new(),
        };
        let type_errors = r.errors;
        ProtectedResourceMetadata {
            raw,
            type_errors,
            ..doc
        }
    }

    /// Members present with `[]` (PRM-08).
    pub fn empty_array_members(&self) -> Vec<String> {
        empty_array_members(&self.raw)
    }

    /// The issuer the suite uses, `authorization_servers[0]` (requirements
    /// §0.3, `I`).
    pub fn first_authorization_server(&self) -> Option<&str> {
        self.authorization_servers.first().map(String::as_str)
    }
}

/// RFC 8414 §2 authorization server metadata, plus the OIDC Discovery
/// members ASM-04 checks when the document came from `openid-configuration`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AuthServerMetadata {
    pub issuer: Option<String>,
    pub authorization_endpoint: Option<String>,
    pub token_endpoint: Option<String>,
    pub registration_endpoint: Option<String>,
    pub revocation_endpoint: Option<String>,
    pub introspection_endpoint: Option<String>,
    pub jwks_uri: Option<String>,
    pub code_challenge_methods_supported: Option<Vec<String>>,
    pub grant_types_supported: Option<Vec<String>>,
    pub response_types_supported: Option<Vec<String>>,
    pub response_modes_supported: Option<Vec<String>>,
    pub token_endpoint_auth_methods_supported: Option<Vec<String>>,
    pub revocation_endpoint_auth_methods_supported: Option<Vec<String>>,
    pub scopes_supported: Option<Vec<String>>,
    pub authorization_response_iss_parameter_supported: Option<bool>,
    pub client_id_metadata_document_supported: Option<bool>,
    /// OIDC Discovery §3 (REQUIRED there).
    pub subject_types_supported: Option<Vec<String>>,
    /// OIDC Discovery §3 (REQUIRED there).
    pub id_token_signing_alg_values_supported: Option<Vec<String>>,
    pub raw: Value,
    pub type_errors: Vec<String>,
}

impl AuthServerMetadata {
    pub fn from_json(bytes: &[u8]) -> Result<Self, MetadataError> {
        Ok(Self::from_object(parse_object(bytes)?))
    }

    pub fn from_value(value: Value) -> Result<Self, MetadataError> {
        if !value.is_object() {
            return Err(MetadataError::NotAnObject {
                found: kind(&value),
            });
        }
        Ok(Self::from_object(value))
    }

    fn from_object(raw: Value) -> Self {
        let empty = Map::new();
        let mut r = Reader::new(raw.as_object().unwrap_or(&empty));
        let doc = AuthServerMetadata {
            issuer: r.string("issuer"),
            authorization_endpoint: r.string("authorization_endpoint"),
            token_endpoint: r.string("token_endpoint"),
            registration_endpoint: r.string("registration_endpoint"),
            revocation_endpoint: r.string("revocation_endpoint"),
            introspection_endpoint: r.string("introspection_endpoint"),
            jwks_uri: r.string("jwks_uri"),
            code_challenge_methods_supported: r.strings("code_challenge_methods_supported"),
            grant_types_supported: r.strings("grant_types_supported"),
            response_types_supported: r.strings("response_types_supported"),
            response_modes_supported: r.strings("response_modes_supported"),
            token_endpoint_auth_methods_supported: r
                .strings("token_endpoint_auth_methods_supported"),
            revocation_endpoint_auth_methods_supported: r
                .strings("revocation_endpoint_auth_methods_supported"),
            scopes_supported: r.strings("scopes_supported"),
            authorization_response_iss_parameter_supported: r
                .boolean("authorization_response_iss_parameter_supported"),
            client_id_metadata_document_supported: r
                .boolean("client_id_metadata_document_supported"),
            subject_types_supported: r.strings("subject_types_supported"),
            id_token_signing_alg_values_supported: r
                .strings("id_token_signing_alg_values_supported"),
            raw: Value::Null,
            type_errors: Vec::new(),
        };
        let type_errors = r.errors;
        AuthServerMetadata {
            raw,
            type_errors,
            ..doc
        }
    }

    /// Members present with `[]`.
    pub fn empty_array_members(&self) -> Vec<String> {
        empty_array_members(&self.raw)
    }

    /// `grant_types_supported`, or RFC 8414 §2's default when absent:
    /// `["authorization_code", "implicit"]` (ASM-07 reports that as INFO).
    pub fn effective_grant_types(&self) -> Vec<String> {
        self.grant_types_supported
            .clone()
            .unwrap_or_else(|| vec!["authorization_code".to_owned(), "implicit".to_owned()])
    }

    /// `token_endpoint_auth_methods_supported`, or RFC 8414 §2's default
    /// `["client_secret_basic"]` when absent (ASM-08).
    pub fn effective_token_endpoint_auth_methods(&self) -> Vec<String> {
        self.token_endpoint_auth_methods_supported
            .clone()
            .unwrap_or_else(|| vec!["client_secret_basic".to_owned()])
    }

    /// Whether S256 is advertised (ASM-05).
    pub fn supports_s256(&self) -> bool {
        self.code_challenge_methods_supported
            .as_ref()
            .is_some_and(|m| m.iter().any(|x| x == "S256"))
    }

    /// Every endpoint URL present, with its member name (ASM-09 checks each
    /// is https).
    pub fn endpoint_urls(&self) -> Vec<(&'static str, &str)> {
        [
            ("authorization_endpoint", &self.authorization_endpoint),
            ("token_endpoint", &self.token_endpoint),
            ("registration_endpoint", &self.registration_endpoint),
            ("revocation_endpoint", &self.revocation_endpoint),
            ("introspection_endpoint", &self.introspection_endpoint),
            ("jwks_uri", &self.jwks_uri),
        ]
        .into_iter()
        .filter_map(|(name, v)| v.as_deref().map(|v| (name, v)))
        .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn prm_well_formed() {
        let doc = ProtectedResourceMetadata::from_json(
            br#"{"resource":"https://mcp.example.com/mcp","authorization_servers":["https://auth.example.com"],
                "scopes_supported":["mcp:tools"],"bearer_methods_supported":["header"],"resource_name":"Example"}"#,
        )
        .unwrap();
        assert_eq!(doc.resource.as_deref(), Some("https://mcp.example.com/mcp"));
        assert_eq!(
            doc.first_authorization_server(),
            Some("https://auth.example.com")
        );
        assert_eq!(doc.scopes_supported, Some(vec!["mcp:tools".to_string()]));
        assert_eq!(
            doc.bearer_methods_supported,
            Some(vec!["header".to_string()])
        );
        assert_eq!(doc.resource_name.as_deref(), Some("Example"));
        assert!(doc.type_errors.is_empty());
        assert!(doc.empty_array_members().is_empty());
        assert_eq!(doc.raw["resource_name"], "Example");
    }

    #[test]
    fn prm_type_errors_are_collected_not_fatal() {
        let doc = ProtectedResourceMetadata::from_json(
            br#"{"resource":42,"authorization_servers":"https://as","scopes_supported":["a",1,null],
                "jwks_uri":null,"dpop_bound_access_tokens_required":"yes","bearer_methods_supported":[]}"#,
        )
        .unwrap();
        assert_eq!(doc.resource, None);
        assert!(doc.authorization_servers.is_empty());
        assert_eq!(doc.scopes_supported, Some(vec!["a".to_string()]));
        assert_eq!(doc.dpop_bound_access_tokens_required, None);
        assert_eq!(
            doc.type_errors,
            vec![
                "`resource`: expected a string, found number",
                "`authorization_servers`: expected an array of strings, found string",
                "`jwks_uri`: expected a string, found null",
                "`scopes_supported[1]`: expected a string, found number",
                "`scopes_supported[2]`: expected a string, found null",
                "`dpop_bound_access_tokens_required`: expected a boolean, found string",
            ]
        );
        assert_eq!(doc.empty_array_members(), vec!["bearer_methods_supported"]);
        assert_eq!(doc.bearer_methods_supported, Some(vec![]));
    }

    #[test]
    fn not_an_object_or_not_json() {
        assert_eq!(
            ProtectedResourceMetadata::from_json(b"[1]"),
            Err(MetadataError::NotAnObject { found: "array" })
        );
        assert!(matches!(
            AuthServerMetadata::from_json(b"<html>"),
            Err(MetadataError::InvalidJson { line: 1, .. })
        ));
        assert_eq!(
            AuthServerMetadata::from_value(json!("x")),
            Err(MetadataError::NotAnObject { found: "string" })
        );
    }

    #[test]
    fn as_metadata_and_defaults() {
        let doc = AuthServerMetadata::from_json(
            br#"{"issuer":"https://auth.example.com","authorization_endpoint":"https://auth.example.com/authorize",
                "token_endpoint":"https://auth.example.com/token","registration_endpoint":"http://127.0.0.1/register",
                "response_types_supported":["code"],"code_challenge_methods_supported":["S256"],
                "client_id_metadata_document_supported":true,"authorization_response_iss_parameter_supported":"true"}"#,
        )
        .unwrap();
        assert_eq!(doc.issuer.as_deref(), Some("https://auth.example.com"));
        assert!(doc.supports_s256());
        assert_eq!(doc.client_id_metadata_document_supported, Some(true));
        assert_eq!(doc.authorization_response_iss_parameter_supported, None);
        assert_eq!(
            doc.type_errors,
            vec![
                "`authorization_response_iss_parameter_supported`: expected a boolean, found string"
            ]
        );
        assert_eq!(
            doc.effective_grant_types(),
            vec!["authorization_code", "implicit"]
        );
        assert_eq!(
            doc.effective_token_endpoint_auth_methods(),
            vec!["client_secret_basic"]
        );
        assert_eq!(
            doc.endpoint_urls(),
            vec![
                (
                    "authorization_endpoint",
                    "https://auth.example.com/authorize"
                ),
                ("token_endpoint", "https://auth.example.com/token"),
                ("registration_endpoint", "http://127.0.0.1/register"),
            ]
        );
        let plain_only =
            AuthServerMetadata::from_value(json!({"code_challenge_methods_supported": ["plain"]}))
                .unwrap();
        assert!(!plain_only.supports_s256());
        assert!(!AuthServerMetadata::default().supports_s256());
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = ProtectedResourceMetadata::from_json(&body);
            let _ = AuthServerMetadata::from_json(&body);
        }

        #[test]
        fn any_member_types_are_read_without_failing(
            values in proptest::collection::vec(prop_oneof![
                Just(json!(null)), Just(json!(1)), Just(json!("s")), Just(json!(true)),
                Just(json!([])), Just(json!(["a", 2])), Just(json!({"k": "v"})),
            ], 6),
        ) {
            let names = ["issuer", "authorization_servers", "scopes_supported", "resource",
                         "code_challenge_methods_supported", "client_id_metadata_document_supported"];
            let obj: Map<String, Value> = names.iter().map(|n| n.to_string()).zip(values).collect();
            let prm = ProtectedResourceMetadata::from_value(Value::Object(obj.clone())).unwrap();
            let asm = AuthServerMetadata::from_value(Value::Object(obj)).unwrap();
            // Every member that is present but not read into the typed view
            // is explained in type_errors.
            if prm.raw.get("resource").is_some() && prm.resource.is_none() {
                prop_assert!(prm.type_errors.iter().any(|e| e.starts_with("`resource`")));
            }
            if asm.raw.get("issuer").is_some() && asm.issuer.is_none() {
                prop_assert!(asm.type_errors.iter().any(|e| e.starts_with("`issuer`")));
            }
        }
    }
}
