//! The MCP methods this server answers, and protocol version handling
//! (`basic/lifecycle` "Version Negotiation", transports "Protocol Version
//! Header"). Independent of HTTP: the transport decides statuses and
//! framing, this module decides JSON-RPC results and errors.

use serde_json::{Map, Value, json};

use super::Principal;
use super::tools::{self, CallOutcome, ServerFacts};
use crate::rules::jsonrpc::{Request, codes};

/// Supported protocol versions, newest first.
pub const SUPPORTED_VERSIONS: [&str; 3] = ["2025-11-25", "2025-06-18", "2025-03-26"];
/// What `initialize` offers a client whose version is not supported.
pub const LATEST_VERSION: &str = SUPPORTED_VERSIONS[0];
/// What a request without `MCP-Protocol-Version` is taken to speak
/// (2025-06-18 transports: "the server SHOULD assume protocol version
/// 2025-03-26").
pub const ASSUMED_WHEN_ABSENT: &str = "2025-03-26";
/// The only version whose transport allows JSON-RPC batches.
pub const BATCH_VERSION: &str = "2025-03-26";
/// Longer than any `YYYY-MM-DD` (or `draft`) value we could accept.
pub const MAX_VERSION_LEN: usize = 32;

/// Whether `v` has the shape of a protocol version (`YYYY-MM-DD`).
pub fn is_well_formed_version(v: &str) -> bool {
    let b = v.as_bytes();
    b.len() == 10
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            _ => c.is_ascii_digit(),
        })
}

/// The version `initialize` answers with: the client's when supported, else
/// the latest (lifecycle "Version Negotiation": "Otherwise, the server MUST
/// respond with another protocol version it supports"). `echo_anything` is
/// the `version-negotiation-broken` fault.
pub fn negotiate(requested: &str, echo_anything: bool) -> String {
    if echo_anything || SUPPORTED_VERSIONS.contains(&requested) {
        requested.to_owned()
    } else {
        LATEST_VERSION.to_owned()
    }
}

/// A JSON-RPC error to send back.
#[derive(Debug, Clone, PartialEq)]
pub struct RpcError {
    pub code: i64,
    pub message: String,
    pub data: Option<Value>,
}

impl RpcError {
    pub fn invalid_params(message: impl Into<String>) -> Self {
        Self {
            code: codes::INVALID_PARAMS,
            message: message.into(),
            data: None,
        }
    }
}

/// What a request comes to.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Result(Value),
    Error(RpcError),
    /// The token lacks scopes: the transport answers 403 (RS-14).
    MissingScopes(&'static [&'static str]),
}

/// The validated `initialize` parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitializeParams {
    pub protocol_version: String,
}

/// Validates `InitializeRequest.params` (schema: `protocolVersion` string,
/// `capabilities` object, `clientInfo` an `Implementation` with string
/// `name` and `version`).
pub fn parse_initialize(params: Option<&Value>) -> Result<InitializeParams, RpcError> {
    let p = params
        .and_then(Value::as_object)
        .ok_or_else(|| RpcError::invalid_params("initialize needs a params object"))?;
    let version = p
        .get("protocolVersion")
        .and_then(Value::as_str)
        .ok_or_else(|| RpcError::invalid_params("params.protocolVersion must be a string"))?;
    if !p.get("capabilities").is_some_and(Value::is_object) {
        return Err(RpcError::invalid_params(
            "params.capabilities must be an object",
        ));
    }
    let info_ok = p
        .get("clientInfo")
        .and_then(Value::as_object)
        .is_some_and(|i| {
            i.get("name").is_some_and(Value::is_string)
                && i.get("version").is_some_and(Value::is_string)
        });
    if !info_ok {
        return Err(RpcError::invalid_params(
            "params.clientInfo must have string name and version",
        ));
    }
    Ok(InitializeParams {
        protocol_version: version.to_owned(),
    })
}

/// The `InitializeResult` for the negotiated `version`.
pub fn initialize_result(version: &str) -> Value {
    json!({
        "protocolVersion": version,
        "capabilities": { "tools": { "listChanged": false } },
        "serverInfo": {
            "name": "mcp-reference-server",
            "title": "MCP reference server (mcp-conform)",
            "version": env!("CARGO_PKG_VERSION"),
        },
        "instructions": "A strict reference server for conformance testing. Tools return fake, deterministic data.",
    })
}

/// Per-request context for [`handle`].
pub struct Context<'a> {
    pub principal: &'a Principal,
    pub facts: ServerFacts,
    /// False under the `scope-not-enforced` fault.
    pub enforce_scopes: bool,
}

/// Answers a request inside a session (not `initialize`, which creates the
/// session and is handled by the transport).
pub fn handle(req: &Request, ctx: &Context<'_>) -> Outcome {
    match req.method.as_str() {
        "ping" => match params_object(req.params.as_ref()) {
            Ok(_) => Outcome::Result(json!({})),
            Err(e) => Outcome::Error(e),
        },
        "tools/list" => tools_list(req.params.as_ref(), ctx),
        "tools/call" => tools_call(req.params.as_ref(), ctx),
        "initialize" => Outcome::Error(RpcError {
            code: codes::INVALID_REQUEST,
            message: "the session is already initialized".into(),
            data: None,
        }),
        other => Outcome::Error(RpcError {
            code: codes::METHOD_NOT_FOUND,
            message: format!("method not found: {other}"),
            data: None,
        }),
    }
}

/// MCP params are objects (or absent, for methods whose params are
/// optional); an array is valid JSON-RPC but not valid MCP.
fn params_object(params: Option<&Value>) -> Result<Option<&Map<String, Value>>, RpcError> {
    match params {
        None => Ok(None),
        Some(Value::Object(o)) => Ok(Some(o)),
        Some(_) => Err(RpcError::invalid_params("params must be an object")),
    }
}

fn tools_list(params: Option<&Value>, ctx: &Context<'_>) -> Outcome {
    let params = match params_object(params) {
        Ok(p) => p,
        Err(e) => return Outcome::Error(e),
    };
    if ctx.enforce_scopes
        && !tools::list_scopes()
            .iter()
            .all(|s| ctx.principal.has_scope(s))
    {
        return Outcome::MissingScopes(tools::list_scopes());
    }
    // One page only, so no cursor we issued can exist (server/utilities
    // pagination: an invalid cursor SHOULD get -32602).
    if params.is_some_and(|p| p.get("cursor").is_some_and(|c| !c.is_null())) {
        return Outcome::Error(RpcError::invalid_params("invalid cursor"));
    }
    Outcome::Result(tools::list())
}

fn tools_call(params: Option<&Value>, ctx: &Context<'_>) -> Outcome {
    let Ok(Some(params)) = params_object(params) else {
        return Outcome::Error(RpcError::invalid_params("tools/call needs a params object"));
    };
    let Some(name) = params.get("name").and_then(Value::as_str) else {
        return Outcome::Error(RpcError::invalid_params("params.name must be a string"));
    };
    let empty = Map::new();
    let arguments = match params.get("arguments") {
        None | Some(Value::Null) => &empty,
        Some(Value::Object(a)) => a,
        Some(_) => {
            return Outcome::Error(RpcError::invalid_params(
                "params.arguments must be an object",
            ));
        }
    };
    match tools::call(
        name,
        arguments,
        ctx.principal,
        ctx.facts,
        ctx.enforce_scopes,
    ) {
        CallOutcome::Result(r) => Outcome::Result(r),
        CallOutcome::MissingScopes(s) => Outcome::MissingScopes(s),
        // tools "Error Handling": unknown tools are protocol errors.
        CallOutcome::UnknownTool => {
            Outcome::Error(RpcError::invalid_params(format!("unknown tool: {name}")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::jsonrpc::RequestId;

    #[test]
    fn negotiation_keeps_supported_versions_and_offers_the_latest_otherwise() {
        assert_eq!(negotiate("2025-06-18", false), "2025-06-18");
        assert_eq!(negotiate("2025-03-26", false), "2025-03-26");
        assert_eq!(negotiate("1999-01-01", false), LATEST_VERSION);
        assert_eq!(negotiate("garbage", false), LATEST_VERSION);
        assert_eq!(negotiate("1999-01-01", true), "1999-01-01");
    }

    #[test]
    fn version_shape() {
        assert!(is_well_formed_version("2025-06-18"));
        for bad in [
            "not-a-version",
            "2025-6-18",
            "2025_06_18",
            "",
            "2025-06-18x",
        ] {
            assert!(!is_well_formed_version(bad), "{bad}");
        }
    }

    #[test]
    fn initialize_params_are_validated() {
        let ok = json!({"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"n","version":"1"}});
        assert_eq!(
            parse_initialize(Some(&ok)).map(|p| p.protocol_version),
            Ok("2025-06-18".into())
        );
        for bad in [
            json!({}),
            json!({"protocolVersion":1,"capabilities":{},"clientInfo":{"name":"n","version":"1"}}),
            json!({"protocolVersion":"x","clientInfo":{"name":"n","version":"1"}}),
            json!({"protocolVersion":"x","capabilities":{},"clientInfo":{"name":"n"}}),
            json!([1]),
        ] {
            assert_eq!(
                parse_initialize(Some(&bad)).unwrap_err().code,
                codes::INVALID_PARAMS,
                "{bad}"
            );
        }
        assert!(parse_initialize(None).is_err());
    }

    #[test]
    fn methods_dispatch() {
        let principal = Principal {
            sub: "alice".into(),
            client_id: "c".into(),
            scope: "mcp:tools".into(),
        };
        let ctx = Context {
            principal: &principal,
            facts: ServerFacts { active_sessions: 0 },
            enforce_scopes: true,
        };
        let req = |method: &str, params: Option<Value>| Request {
            id: RequestId::Number(1.into()),
            method: method.into(),
            params,
        };
        assert_eq!(handle(&req("ping", None), &ctx), Outcome::Result(json!({})));
        assert!(matches!(
            handle(&req("nope", None), &ctx),
            Outcome::Error(RpcError {
                code: codes::METHOD_NOT_FOUND,
                ..
            })
        ));
        assert!(matches!(
            handle(&req("tools/call", Some(json!({"name":"nope"}))), &ctx),
            Outcome::Error(RpcError {
                code: codes::INVALID_PARAMS,
                ..
            })
        ));
        assert!(matches!(
            handle(
                &req(
                    "tools/call",
                    Some(json!({"name":"get_weather","arguments":[]}))
                ),
                &ctx
            ),
            Outcome::Error(RpcError {
                code: codes::INVALID_PARAMS,
                ..
            })
        ));
        assert!(matches!(
            handle(&req("tools/list", Some(json!({"cursor":"x"}))), &ctx),
            Outcome::Error(RpcError {
                code: codes::INVALID_PARAMS,
                ..
            })
        ));
        assert!(matches!(
            handle(
                &req("tools/call", Some(json!({"name":"get_admin_report"}))),
                &ctx
            ),
            Outcome::MissingScopes(_)
        ));
    }
}
