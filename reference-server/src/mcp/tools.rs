//! The tools (MCP `server/tools`): their definitions for `tools/list`, the
//! scopes each needs, argument validation and deterministic fake results.
//!
//! Argument problems are tool execution errors (`isError: true`), not
//! protocol errors: MCP 2025-11-25 (SEP-1303) wants input validation failures
//! reported that way so a model can correct itself. An unknown tool name is
//! a protocol error (-32602), as in the spec's example.

use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::Principal;
use crate::resource::{SCOPE_ADMIN, SCOPE_TOOLS};

/// Scopes every tool needs.
const BASE_SCOPES: &[&str] = &[SCOPE_TOOLS];
/// Scopes the admin tool needs: all of them, so one step-up suffices
/// (26-07 "Runtime Insufficient Scope Errors": all required scopes in one
/// challenge).
const ADMIN_SCOPES: &[&str] = &[SCOPE_TOOLS, SCOPE_ADMIN];

/// What `tools/call` comes to.
#[derive(Debug, Clone, PartialEq)]
pub enum CallOutcome {
    /// A `CallToolResult` (possibly with `isError: true`).
    Result(Value),
    /// No tool by that name.
    UnknownTool,
    /// The token lacks scopes; the value lists every scope the tool needs.
    MissingScopes(&'static [&'static str]),
}

/// Facts a tool may report that live outside the token.
#[derive(Debug, Clone, Copy)]
pub struct ServerFacts {
    pub active_sessions: usize,
}

struct Tool {
    name: &'static str,
    scopes: &'static [&'static str],
    definition: fn() -> Value,
}

const TOOLS: &[Tool] = &[
    Tool {
        name: "get_weather",
        scopes: BASE_SCOPES,
        definition: weather_definition,
    },
    Tool {
        name: "list_files",
        scopes: BASE_SCOPES,
        definition: list_files_definition,
    },
    Tool {
        name: "get_user_profile",
        scopes: BASE_SCOPES,
        definition: profile_definition,
    },
    Tool {
        name: "get_admin_report",
        scopes: ADMIN_SCOPES,
        definition: admin_definition,
    },
];

/// The scopes needed to list tools.
pub fn list_scopes() -> &'static [&'static str] {
    BASE_SCOPES
}

/// The `tools/list` result (one page: no `nextCursor`).
pub fn list() -> Value {
    let tools: Vec<Value> = TOOLS.iter().map(|t| (t.definition)()).collect();
    json!({ "tools": tools })
}

/// Runs tool `name`. `enforce_scopes` is false only under the
/// `scope-not-enforced` fault.
pub fn call(
    name: &str,
    arguments: &Map<String, Value>,
    principal: &Principal,
    facts: ServerFacts,
    enforce_scopes: bool,
) -> CallOutcome {
    let Some(tool) = TOOLS.iter().find(|t| t.name == name) else {
        return CallOutcome::UnknownTool;
    };
    if enforce_scopes && !tool.scopes.iter().all(|s| principal.has_scope(s)) {
        return CallOutcome::MissingScopes(tool.scopes);
    }
    let result = match name {
        "get_weather" => weather(arguments),
        "list_files" => list_files(arguments, principal),
        "get_user_profile" => no_arguments(arguments).map(|()| profile(principal)),
        "get_admin_report" => no_arguments(arguments).map(|()| admin_report(principal, facts)),
        _ => return CallOutcome::UnknownTool,
    };
    CallOutcome::Result(match result {
        Ok(structured) => success(structured),
        Err(message) => tool_error(&message),
    })
}

/// A result with `structuredContent` and, for clients without structured
/// output, the same JSON as text (tools "Structured Content": a tool that
/// returns structured content SHOULD also return it serialised in a text
/// block).
fn success(structured: Value) -> Value {
    json!({
        "content": [{ "type": "text", "text": structured.to_string() }],
        "structuredContent": structured,
        "isError": false,
    })
}

fn tool_error(message: &str) -> Value {
    json!({
        "content": [{ "type": "text", "text": message }],
        "isError": true,
    })
}

fn no_arguments(args: &Map<String, Value>) -> Result<(), String> {
    match args.keys().next() {
        None => Ok(()),
        Some(k) => Err(format!("unexpected argument {k:?}: this tool takes none")),
    }
}

/// Checks that `args` holds only `allowed` keys (the schemas say
/// `additionalProperties: false`).
fn only_keys(args: &Map<String, Value>, allowed: &[&str]) -> Result<(), String> {
    match args.keys().find(|k| !allowed.contains(&k.as_str())) {
        None => Ok(()),
        Some(k) => Err(format!("unexpected argument {k:?}")),
    }
}

fn weather_definition() -> Value {
    json!({
        "name": "get_weather",
        "title": "Weather",
        "description": "Current weather for a city (deterministic test data).",
        "inputSchema": {
            "type": "object",
            "properties": {
                "city": { "type": "string", "minLength": 1, "maxLength": 100, "description": "City name" }
            },
            "required": ["city"],
            "additionalProperties": false
        },
        "outputSchema": {
            "type": "object",
            "properties": {
                "city": { "type": "string" },
                "temperature_celsius": { "type": "integer" },
                "conditions": { "type": "string", "enum": CONDITIONS },
                "humidity_percent": { "type": "integer", "minimum": 0, "maximum": 100 }
            },
            "required": ["city", "temperature_celsius", "conditions", "humidity_percent"],
            "additionalProperties": false
        }
    })
}

const CONDITIONS: [&str; 6] = ["sunny", "cloudy", "rain", "snow", "fog", "wind"];

fn weather(args: &Map<String, Value>) -> Result<Value, String> {
    only_keys(args, &["city"])?;
    let city = match args.get("city") {
        Some(Value::String(c)) => c.trim(),
        Some(_) => return Err("argument \"city\" must be a string".into()),
        None => return Err("missing required argument \"city\"".into()),
    };
    let len = city.chars().count();
    if len == 0 || len > 100 {
        return Err("argument \"city\" must be 1 to 100 characters".into());
    }
    // Deterministic: the same city always has the same weather, so tests
    // and snapshots are stable.
    let digest = Sha256::digest(city.to_lowercase().as_bytes());
    let temperature = i64::from(digest[0] % 56) - 15;
    let conditions = CONDITIONS[usize::from(digest[1]) % CONDITIONS.len()];
    let humidity = i64::from(digest[2] % 101);
    Ok(json!({
        "city": city,
        "temperature_celsius": temperature,
        "conditions": conditions,
        "humidity_percent": humidity,
    }))
}

fn list_files_definition() -> Value {
    json!({
        "name": "list_files",
        "title": "List files",
        "description": "Lists the calling user's files in a directory (fake data).",
        "inputSchema": {
            "type": "object",
            "properties": {
                "path": { "type": "string", "description": "Absolute directory path; defaults to /", "maxLength": 256 }
            },
            "additionalProperties": false
        },
        "outputSchema": {
            "type": "object",
            "properties": {
                "owner": { "type": "string" },
                "path": { "type": "string" },
                "entries": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "name": { "type": "string" },
                            "kind": { "type": "string", "enum": ["file", "directory"] },
                            "size_bytes": { "type": "integer", "minimum": 0 }
                        },
                        "required": ["name", "kind", "size_bytes"],
                        "additionalProperties": false
                    }
                }
            },
            "required": ["owner", "path", "entries"],
            "additionalProperties": false
        }
    })
}

fn list_files(args: &Map<String, Value>, principal: &Principal) -> Result<Value, String> {
    only_keys(args, &["path"])?;
    let path = match args.get("path") {
        None => "/",
        Some(Value::String(p)) => p.as_str(),
        Some(_) => return Err("argument \"path\" must be a string".into()),
    };
    if !path.starts_with('/') || path.len() > 256 || path.split('/').any(|seg| seg == "..") {
        return Err("argument \"path\" must be an absolute path without \"..\"".into());
    }
    let user = &principal.sub;
    let entries = if path == "/" {
        json!([
            { "name": "documents", "kind": "directory", "size_bytes": 0 },
            { "name": format!("notes-{user}.txt"), "kind": "file", "size_bytes": 1204 },
            { "name": "todo.md", "kind": "file", "size_bytes": 311 }
        ])
    } else {
        json!([])
    };
    Ok(json!({ "owner": user, "path": path, "entries": entries }))
}

fn profile_definition() -> Value {
    json!({
        "name": "get_user_profile",
        "title": "User profile",
        "description": "Who the access token says you are: subject, client and scopes.",
        "inputSchema": { "type": "object", "properties": {}, "additionalProperties": false },
        "outputSchema": {
            "type": "object",
            "properties": {
                "sub": { "type": "string" },
                "client_id": { "type": "string" },
                "scope": { "type": "string" }
            },
            "required": ["sub", "client_id", "scope"],
            "additionalProperties": false
        }
    })
}

fn profile(principal: &Principal) -> Value {
    json!({
        "sub": principal.sub,
        "client_id": principal.client_id,
        "scope": principal.scope,
    })
}

fn admin_definition() -> Value {
    json!({
        "name": "get_admin_report",
        "title": "Admin report",
        "description": "Server statistics; needs the mcp:admin scope (step-up authorization).",
        "inputSchema": { "type": "object", "properties": {}, "additionalProperties": false },
        "outputSchema": {
            "type": "object",
            "properties": {
                "requested_by": { "type": "string" },
                "active_sessions": { "type": "integer", "minimum": 0 }
            },
            "required": ["requested_by", "active_sessions"],
            "additionalProperties": false
        }
    })
}

fn admin_report(principal: &Principal, facts: ServerFacts) -> Value {
    json!({
        "requested_by": principal.sub,
        "active_sessions": facts.active_sessions,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alice(scope: &str) -> Principal {
        Principal {
            sub: "alice".into(),
            client_id: "c1".into(),
            scope: scope.into(),
        }
    }

    fn args(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    const FACTS: ServerFacts = ServerFacts { active_sessions: 1 };

    #[test]
    fn every_tool_has_an_object_input_schema_and_an_output_schema() {
        let list = list();
        let tools = list["tools"].as_array().unwrap();
        assert_eq!(tools.len(), TOOLS.len());
        for t in tools {
            assert_eq!(t["inputSchema"]["type"], "object", "{t}");
            assert_eq!(t["outputSchema"]["type"], "object", "{t}");
        }
    }

    #[test]
    fn weather_is_deterministic() {
        let a = call(
            "get_weather",
            &args(json!({"city":"Paris"})),
            &alice("mcp:tools"),
            FACTS,
            true,
        );
        let b = call(
            "get_weather",
            &args(json!({"city":"paris"})),
            &alice("mcp:tools"),
            FACTS,
            true,
        );
        let (CallOutcome::Result(a), CallOutcome::Result(b)) = (a, b) else {
            panic!()
        };
        assert_eq!(a["isError"], false);
        assert_eq!(
            a["structuredContent"]["temperature_celsius"],
            b["structuredContent"]["temperature_celsius"]
        );
    }

    #[test]
    fn bad_arguments_are_tool_errors() {
        for bad in [
            json!({}),
            json!({"city": 3}),
            json!({"city": ""}),
            json!({"city":"x","y":1}),
        ] {
            let CallOutcome::Result(r) =
                call("get_weather", &args(bad), &alice("mcp:tools"), FACTS, true)
            else {
                panic!()
            };
            assert_eq!(r["isError"], true);
        }
        let CallOutcome::Result(r) = call(
            "list_files",
            &args(json!({"path":"/../etc"})),
            &alice("mcp:tools"),
            FACTS,
            true,
        ) else {
            panic!()
        };
        assert_eq!(r["isError"], true);
    }

    #[test]
    fn scopes_are_enforced_unless_told_not_to() {
        assert_eq!(
            call(
                "get_admin_report",
                &Map::new(),
                &alice("mcp:tools"),
                FACTS,
                true
            ),
            CallOutcome::MissingScopes(ADMIN_SCOPES)
        );
        assert!(matches!(
            call(
                "get_admin_report",
                &Map::new(),
                &alice("mcp:tools mcp:admin"),
                FACTS,
                true
            ),
            CallOutcome::Result(_)
        ));
        assert!(matches!(
            call(
                "get_admin_report",
                &Map::new(),
                &alice("mcp:tools"),
                FACTS,
                false
            ),
            CallOutcome::Result(_)
        ));
        assert_eq!(
            call("nope", &Map::new(), &alice("mcp:tools"), FACTS, true),
            CallOutcome::UnknownTool
        );
    }
}
