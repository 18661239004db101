//! JSON-RPC 2.0 messages as MCP uses them, parsed strictly, and the framing
//! of Streamable HTTP responses (requirements §7.1: a POST is answered with
//! `application/json` or a `text/event-stream` of JSON-RPC messages).
//!
//! Strict means the shape of the JSON-RPC 2.0 specification (§4, §5):
//! `"jsonrpc": "2.0"` exactly; a request has a string `method` and an id
//! that is a string or a number; a response has exactly one of `result` and
//! `error`; an error object has an integer `code` and a string `message`.
//! The checks (MCP-14, say) report these as violations, so the parser names
//! each one precisely instead of falling back to a generic "bad message".
//!
//! Ids are integers or strings. The suite only sends integer ids, and MCP's
//! `RequestId` is `string | number`; a fractional or out-of-range number is
//! rejected as an unsupported id rather than compared inexactly.

use std::fmt;

use serde_json::{Map, Value, json};
use thiserror::Error;

use super::sse;

/// A JSON-RPC id (JSON-RPC 2.0 §4; MCP `RequestId`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Id {
    Number(i64),
    String(String),
}

impl From<i64> for Id {
    fn from(n: i64) -> Self {
        Id::Number(n)
    }
}

impl From<i32> for Id {
    fn from(n: i32) -> Self {
        Id::Number(n.into())
    }
}

impl From<u32> for Id {
    fn from(n: u32) -> Self {
        Id::Number(n.into())
    }
}

impl From<&str> for Id {
    fn from(s: &str) -> Self {
        Id::String(s.to_owned())
    }
}

impl From<String> for Id {
    fn from(s: String) -> Self {
        Id::String(s)
    }
}

impl From<&Id> for Value {
    fn from(id: &Id) -> Self {
        match id {
            Id::Number(n) => Value::from(*n),
            Id::String(s) => Value::from(s.as_str()),
        }
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Id::Number(n) => write!(f, "{n}"),
            Id::String(s) => write!(f, "{s:?}"),
        }
    }
}

/// One JSON-RPC message.
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    Request {
        id: Id,
        method: String,
        params: Option<Value>,
    },
    Notification {
        method: String,
        params: Option<Value>,
    },
    Response {
        id: Id,
        result: Value,
    },
    /// An error response. `id` is `None` when the server sent `null` or
    /// omitted it (JSON-RPC 2.0 §5: null when the id could not be detected).
    Error {
        id: Option<Id>,
        code: i64,
        message: String,
        data: Option<Value>,
    },
}

impl Message {
    /// The id of a request or response.
    pub fn id(&self) -> Option<&Id> {
        match self {
            Message::Request { id, .. } | Message::Response { id, .. } => Some(id),
            Message::Error { id, .. } => id.as_ref(),
            Message::Notification { .. } => None,
        }
    }

    /// The method of a request or notification.
    pub fn method(&self) -> Option<&str> {
        match self {
            Message::Request { method, .. } | Message::Notification { method, .. } => Some(method),
            _ => None,
        }
    }

    pub fn is_response(&self) -> bool {
        matches!(self, Message::Response { .. } | Message::Error { .. })
    }

    /// The message as JSON, in the wire shape.
    pub fn to_value(&self) -> Value {
        match self {
            Message::Request { id, method, params } => request(id.clone(), method, params.clone()),
            Message::Notification { method, params } => notification(method, params.clone()),
            Message::Response { id, result } => {
                json!({ "jsonrpc": "2.0", "id": Value::from(id), "result": result })
            }
            Message::Error {
                id,
                code,
                message,
                data,
            } => {
                let mut error = Map::new();
                error.insert("code".into(), (*code).into());
                error.insert("message".into(), message.as_str().into());
                if let Some(data) = data {
                    error.insert("data".into(), data.clone());
                }
                json!({
                    "jsonrpc": "2.0",
                    "id": id.as_ref().map_or(Value::Null, Value::from),
                    "error": error,
                })
            }
        }
    }
}

/// The JSON type of a value, for error messages.
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

/// Why bytes are not a JSON-RPC 2.0 message (or batch, or HTTP body of
/// messages).
#[derive(Debug, Clone, PartialEq, Error)]
pub enum JsonRpcParseError {
    #[error("not valid JSON at line {line}, column {column}: {reason}")]
    InvalidJson {
        line: usize,
        column: usize,
        reason: String,
    },
    #[error("a JSON-RPC message must be an object, found {found}")]
    NotAnObject { found: &'static str },
    #[error("the `jsonrpc` member is missing")]
    MissingVersion,
    #[error("`jsonrpc` must be the string \"2.0\", found {found}")]
    WrongVersion { found: String },
    #[error("`method` must be a string, found {found}")]
    MethodNotString { found: &'static str },
    #[error("`params` must be an object or an array, found {found}")]
    InvalidParams { found: &'static str },
    #[error("a message with `method` must not have `result` or `error`")]
    MethodWithResult,
    #[error("`id` must be a string or a number, found {found}")]
    InvalidId { found: &'static str },
    #[error("`id` {found} is not an integer in the signed 64-bit range")]
    UnsupportedIdNumber { found: String },
    #[error("a response must have an `id`")]
    MissingId,
    #[error("a response must not have both `result` and `error`")]
    ResultAndError,
    #[error("the message has none of `method`, `result` and `error`")]
    NoMethodResultOrError,
    #[error("`error` must be an object, found {found}")]
    ErrorNotObject { found: &'static str },
    #[error("`error.code` is missing")]
    ErrorCodeMissing,
    #[error("`error.code` must be an integer, found {found}")]
    ErrorCodeNotInteger { found: String },
    #[error("`error.message` is missing")]
    ErrorMessageMissing,
    #[error("`error.message` must be a string, found {found}")]
    ErrorMessageNotString { found: &'static str },
    /// JSON-RPC 2.0 §6: an empty array is not a valid batch.
    #[error("an empty array is not a valid batch")]
    EmptyBatch,
    #[error("batch element {index}: {source}")]
    BatchElement {
        index: usize,
        source: Box<JsonRpcParseError>,
    },
    #[error("no Content-Type on a response that should carry JSON-RPC")]
    MissingContentType,
    #[error("Content-Type {content_type:?} is neither application/json nor text/event-stream")]
    UnsupportedContentType { content_type: String },
    #[error("SSE event {index}: {source}")]
    SseEvent {
        index: usize,
        source: Box<JsonRpcParseError>,
    },
}

impl From<serde_json::Error> for JsonRpcParseError {
    fn from(e: serde_json::Error) -> Self {
        JsonRpcParseError::InvalidJson {
            line: e.line(),
            column: e.column(),
            reason: e.to_string(),
        }
    }
}

/// Parses one message.
pub fn parse_message(bytes: &[u8]) -> Result<Message, JsonRpcParseError> {
    let value: Value = serde_json::from_slice(bytes)?;
    message_from_value(&value)
}

/// Reads one message from a parsed value.
pub fn message_from_value(value: &Value) -> Result<Message, JsonRpcParseError> {
    use JsonRpcParseError as E;
    let Value::Object(obj) = value else {
        return Err(E::NotAnObject { found: kind(value) });
    };
    match obj.get("jsonrpc") {
        None => return Err(E::MissingVersion),
        Some(Value::String(v)) if v == "2.0" => {}
        Some(other) => {
            return Err(E::WrongVersion {
                found: other.to_string(),
            });
        }
    }
    let result = obj.get("result");
    let error = obj.get("error");
    if let Some(method) = obj.get("method") {
        let Value::String(method) = method else {
            return Err(E::MethodNotString {
                found: kind(method),
            });
        };
        if result.is_some() || error.is_some() {
            return Err(E::MethodWithResult);
        }
        // JSON-RPC 2.0 §4.2: params, if present, is a structured value.
        let params = match obj.get("params") {
            None => None,
            Some(p @ (Value::Object(_) | Value::Array(_))) => Some(p.clone()),
            Some(p) => return Err(E::InvalidParams { found: kind(p) }),
        };
        let method = method.clone();
        // A request with `"id": null` is allowed by JSON-RPC but not by
        // MCP (`RequestId` is string | number): reject it.
        return Ok(match obj.get("id") {
            None => Message::Notification { method, params },
            Some(id) => Message::Request {
                id: parse_id(id)?,
                method,
                params,
            },
        });
    }
    match (result, error) {
        (Some(_), Some(_)) => Err(E::ResultAndError),
        (None, None) => Err(E::NoMethodResultOrError),
        (Some(result), None) => {
            let id = obj.get("id").ok_or(E::MissingId)?;
            Ok(Message::Response {
                id: parse_id(id)?,
                result: result.clone(),
            })
        }
        (None, Some(error)) => {
            let id = match obj.get("id") {
                None | Some(Value::Null) => None,
                Some(id) => Some(parse_id(id)?),
            };
            let Value::Object(err) = error else {
                return Err(E::ErrorNotObject { found: kind(error) });
            };
            let code = match err.get("code") {
                None => return Err(E::ErrorCodeMissing),
                Some(Value::Number(n)) if n.as_i64().is_some() => n.as_i64().unwrap_or_default(),
                Some(other) => {
                    return Err(E::ErrorCodeNotInteger {
                        found: other.to_string(),
                    });
                }
            };
            let message = match err.get("message") {
                None => return Err(E::ErrorMessageMissing),
                Some(Value::String(m)) => m.clone(),
                Some(other) => {
                    return Err(E::ErrorMessageNotString { found: kind(other) });
                }
            };
            Ok(Message::Error {
                id,
                code,
                message,
                data: err.get("data").cloned(),
            })
        }
    }
}

fn parse_id(id: &Value) -> Result<Id, JsonRpcParseError> {
    match id {
        Value::String(s) => Ok(Id::String(s.clone())),
        Value::Number(n) => {
            n.as_i64()
                .map(Id::Number)
                .ok_or_else(|| JsonRpcParseError::UnsupportedIdNumber {
                    found: n.to_string(),
                })
        }
        other => Err(JsonRpcParseError::InvalidId { found: kind(other) }),
    }
}

/// Parses a body holding one message or a batch (JSON-RPC 2.0 §6; MCP
/// 2025-03-26 allowed batches, requirements MCP-16).
pub fn parse_body(bytes: &[u8]) -> Result<Vec<Message>, JsonRpcParseError> {
    let value: Value = serde_json::from_slice(bytes)?;
    match &value {
        Value::Array(items) if items.is_empty() => Err(JsonRpcParseError::EmptyBatch),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(index, item)| {
                message_from_value(item).map_err(|e| JsonRpcParseError::BatchElement {
                    index,
                    source: Box::new(e),
                })
            })
            .collect(),
        single => message_from_value(single).map(|m| vec![m]),
    }
}

/// A request object. `params` may be a `Value` or an `Option<Value>`.
pub fn request(id: impl Into<Id>, method: &str, params: impl Into<Option<Value>>) -> Value {
    let mut obj = Map::new();
    obj.insert("jsonrpc".into(), "2.0".into());
    obj.insert("id".into(), Value::from(&id.into()));
    obj.insert("method".into(), method.into());
    if let Some(params) = params.into() {
        obj.insert("params".into(), params);
    }
    Value::Object(obj)
}

/// A notification object (no id).
pub fn notification(method: &str, params: impl Into<Option<Value>>) -> Value {
    let mut obj = Map::new();
    obj.insert("jsonrpc".into(), "2.0".into());
    obj.insert("method".into(), method.into());
    if let Some(params) = params.into() {
        obj.insert("params".into(), params);
    }
    Value::Object(obj)
}

/// The response (result or error) to request `id`.
pub fn find_response<'a>(messages: &'a [Message], id: &Id) -> Option<&'a Message> {
    messages
        .iter()
        .find(|m| m.is_response() && m.id() == Some(id))
}

/// The media type of a `Content-Type` value: before any `;`, trimmed,
/// lowercased (RFC 9110 §8.3.1: type and subtype are case-insensitive).
pub fn media_type(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

/// The JSON-RPC messages in an HTTP response body, by its content type:
///
/// * `application/json`: one message or a batch;
/// * `text/event-stream`: the events of type `message` (the default type)
///   each hold one message or batch as JSON. Events with empty data are
///   skipped: MCP 2025-11-25 servers open a stream with a priming event that
///   has an id and empty data (requirements MCP-15). Other event types are
///   not JSON-RPC and are skipped. An unterminated final event is not
///   dispatched (WHATWG), so it yields nothing.
pub fn messages_from_http(
    content_type: Option<&str>,
    body: &[u8],
) -> Result<Vec<Message>, JsonRpcParseError> {
    let Some(content_type) = content_type else {
        return Err(JsonRpcParseError::MissingContentType);
    };
    match media_type(content_type).as_str() {
        "application/json" => parse_body(body),
        "text/event-stream" => {
            let mut out = Vec::new();
            for (index, event) in sse::parse_all(body).iter().enumerate() {
                if event.event != "message" || event.data.trim().is_empty() {
                    continue;
                }
                let messages =
                    parse_body(event.data.as_bytes()).map_err(|e| JsonRpcParseError::SseEvent {
                        index,
                        source: Box::new(e),
                    })?;
                out.extend(messages);
            }
            Ok(out)
        }
        _ => Err(JsonRpcParseError::UnsupportedContentType {
            content_type: content_type.to_owned(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use JsonRpcParseError as E;
    use proptest::prelude::*;

    fn parse(s: &str) -> Result<Message, JsonRpcParseError> {
        parse_message(s.as_bytes())
    }

    #[test]
    fn the_four_shapes() {
        assert_eq!(
            parse(r#"{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{}}"#),
            Ok(Message::Request {
                id: Id::Number(1),
                method: "tools/list".into(),
                params: Some(json!({}))
            })
        );
        assert_eq!(
            parse(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#),
            Ok(Message::Notification {
                method: "notifications/initialized".into(),
                params: None
            })
        );
        assert_eq!(
            parse(r#"{"jsonrpc":"2.0","id":"a","result":{"tools":[]}}"#),
            Ok(Message::Response {
                id: Id::String("a".into()),
                result: json!({"tools": []})
            })
        );
        assert_eq!(
            parse(
                r#"{"jsonrpc":"2.0","id":3,"error":{"code":-32602,"message":"Unknown tool","data":{"x":1}}}"#
            ),
            Ok(Message::Error {
                id: Some(Id::Number(3)),
                code: -32602,
                message: "Unknown tool".into(),
                data: Some(json!({"x": 1}))
            })
        );
        assert_eq!(
            parse(r#"{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"Parse error"}}"#)
                .unwrap()
                .id(),
            None
        );
    }

    #[test]
    fn strictness() {
        let cases: &[(&str, JsonRpcParseError)] = &[
            ("[1]", E::NotAnObject { found: "array" }),
            (r#"{"id":1,"result":{}}"#, E::MissingVersion),
            (
                r#"{"jsonrpc":"1.0","id":1,"result":{}}"#,
                E::WrongVersion {
                    found: "\"1.0\"".into(),
                },
            ),
            (
                r#"{"jsonrpc":2.0,"id":1,"result":{}}"#,
                E::WrongVersion {
                    found: "2.0".into(),
                },
            ),
            (
                r#"{"jsonrpc":"2.0","id":1,"method":5}"#,
                E::MethodNotString { found: "number" },
            ),
            (
                r#"{"jsonrpc":"2.0","id":1,"method":"m","params":"x"}"#,
                E::InvalidParams { found: "string" },
            ),
            (
                r#"{"jsonrpc":"2.0","id":1,"method":"m","result":1}"#,
                E::MethodWithResult,
            ),
            (
                r#"{"jsonrpc":"2.0","id":null,"method":"m"}"#,
                E::InvalidId { found: "null" },
            ),
            (
                r#"{"jsonrpc":"2.0","id":true,"result":1}"#,
                E::InvalidId { found: "boolean" },
            ),
            (
                r#"{"jsonrpc":"2.0","id":1.5,"result":1}"#,
                E::UnsupportedIdNumber {
                    found: "1.5".into(),
                },
            ),
            (r#"{"jsonrpc":"2.0","result":1}"#, E::MissingId),
            (
                r#"{"jsonrpc":"2.0","id":null,"result":1}"#,
                E::InvalidId { found: "null" },
            ),
            (
                r#"{"jsonrpc":"2.0","id":1,"result":1,"error":{}}"#,
                E::ResultAndError,
            ),
            (r#"{"jsonrpc":"2.0","id":1}"#, E::NoMethodResultOrError),
            (
                r#"{"jsonrpc":"2.0","id":1,"error":"boom"}"#,
                E::ErrorNotObject { found: "string" },
            ),
            (
                r#"{"jsonrpc":"2.0","id":1,"error":{"message":"m"}}"#,
                E::ErrorCodeMissing,
            ),
            (
                r#"{"jsonrpc":"2.0","id":1,"error":{"code":-32600.0,"message":"m"}}"#,
                E::ErrorCodeNotInteger {
                    found: "-32600.0".into(),
                },
            ),
            (
                r#"{"jsonrpc":"2.0","id":1,"error":{"code":"x","message":"m"}}"#,
                E::ErrorCodeNotInteger {
                    found: "\"x\"".into(),
                },
            ),
            (
                r#"{"jsonrpc":"2.0","id":1,"error":{"code":1}}"#,
                E::ErrorMessageMissing,
            ),
            (
                r#"{"jsonrpc":"2.0","id":1,"error":{"code":1,"message":null}}"#,
                E::ErrorMessageNotString { found: "null" },
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(&parse(input).unwrap_err(), expected, "{input}");
        }
        assert!(matches!(parse("{"), Err(E::InvalidJson { line: 1, .. })));
        assert!(matches!(parse(""), Err(E::InvalidJson { .. })));
        // A result of null is a result (JSON-RPC: "REQUIRED on success").
        assert!(matches!(
            parse(r#"{"jsonrpc":"2.0","id":1,"result":null}"#),
            Ok(Message::Response { .. })
        ));
    }

    #[test]
    fn batches() {
        let msgs =
            parse_body(br#"[{"jsonrpc":"2.0","id":1,"result":1},{"jsonrpc":"2.0","method":"n"}]"#)
                .unwrap();
        assert_eq!(msgs.len(), 2);
        assert_eq!(parse_body(b"[]"), Err(E::EmptyBatch));
        assert_eq!(
            parse_body(br#"[{"jsonrpc":"2.0","id":1,"result":1}, 7]"#),
            Err(E::BatchElement {
                index: 1,
                source: Box::new(E::NotAnObject { found: "number" })
            })
        );
        assert_eq!(
            parse_body(br#"{"jsonrpc":"2.0","id":1,"result":1}"#)
                .unwrap()
                .len(),
            1
        );
    }

    #[test]
    fn builders_round_trip() {
        let r = request(1, "initialize", json!({"protocolVersion": "2025-06-18"}));
        assert_eq!(
            r,
            json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18"}})
        );
        assert_eq!(
            request("x", "ping", None),
            json!({"jsonrpc":"2.0","id":"x","method":"ping"})
        );
        assert_eq!(
            notification("notifications/initialized", None),
            json!({"jsonrpc":"2.0","method":"notifications/initialized"})
        );
        for m in [
            Message::Request {
                id: Id::Number(-4),
                method: "m".into(),
                params: Some(json!([1])),
            },
            Message::Notification {
                method: "n".into(),
                params: None,
            },
            Message::Response {
                id: "s".into(),
                result: json!(null),
            },
            Message::Error {
                id: None,
                code: -32700,
                message: "Parse error".into(),
                data: None,
            },
            Message::Error {
                id: Some(Id::Number(2)),
                code: 1,
                message: "".into(),
                data: Some(json!("d")),
            },
        ] {
            assert_eq!(message_from_value(&m.to_value()), Ok(m));
        }
    }

    #[test]
    fn find_response_ignores_requests_with_same_id() {
        let msgs = parse_body(
            br#"[{"jsonrpc":"2.0","id":2,"method":"sampling/createMessage","params":{}},
                 {"jsonrpc":"2.0","method":"notifications/progress","params":{}},
                 {"jsonrpc":"2.0","id":2,"result":{"ok":true}}]"#,
        )
        .unwrap();
        let found = find_response(&msgs, &Id::Number(2)).unwrap();
        assert!(matches!(found, Message::Response { .. }));
        assert!(find_response(&msgs, &Id::String("2".into())).is_none());
    }

    #[test]
    fn http_json_and_sse() {
        let body = br#"{"jsonrpc":"2.0","id":1,"result":{}}"#;
        assert_eq!(
            messages_from_http(Some("Application/JSON; charset=utf-8"), body)
                .unwrap()
                .len(),
            1
        );
        let sse = b"id: p0\ndata:\n\n: keepalive\n\nevent: message\nid: 1\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\",\ndata: \"params\":{}}\n\nevent: other\ndata: not json\n\ndata: {\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}\n\n";
        let msgs = messages_from_http(Some("text/event-stream"), sse).unwrap();
        assert_eq!(msgs.len(), 2);
        assert_eq!(msgs[0].method(), Some("notifications/progress"));
        assert!(find_response(&msgs, &Id::Number(1)).is_some());
        let err = messages_from_http(Some("text/event-stream"), b"data: {oops\n\n").unwrap_err();
        assert!(
            matches!(&err, E::SseEvent { index: 0, source } if matches!(**source, E::InvalidJson { line: 1, column: 2, .. })),
            "{err:?}"
        );
        assert_eq!(messages_from_http(None, body), Err(E::MissingContentType));
        assert!(matches!(
            messages_from_http(Some("text/html"), body),
            Err(E::UnsupportedContentType { .. })
        ));
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = parse_body(&body);
            let _ = messages_from_http(Some("text/event-stream"), &body);
        }

        #[test]
        fn arbitrary_json_never_panics(s in r#"[\[\]{}":,0-9a-z\- .]{0,80}"#) {
            let _ = parse_body(s.as_bytes());
        }

        #[test]
        fn sse_framing_round_trips(
            ids in proptest::collection::vec(any::<i64>(), 1..5),
            texts in proptest::collection::vec(any::<String>(), 1..5),
            crlf in any::<bool>(),
        ) {
            // Pretty-printed JSON spans several `data:` lines; the parser
            // must join them with LF and get every message back in order.
            let eol = if crlf { "\r\n" } else { "\n" };
            let mut body = format!("id: prime{eol}data:{eol}{eol}");
            let mut expected = Vec::new();
            for (i, id) in ids.iter().enumerate() {
                let text = texts[i % texts.len()].clone();
                let m = Message::Response { id: Id::Number(*id), result: json!({ "text": text }) };
                let pretty = serde_json::to_string_pretty(&m.to_value()).unwrap();
                body.push_str(&format!(": comment{eol}event: message{eol}"));
                for line in pretty.lines() {
                    body.push_str(&format!("data: {line}{eol}"));
                }
                body.push_str(eol);
                expected.push(m);
            }
            prop_assert_eq!(messages_from_http(Some("text/event-stream; charset=utf-8"), body.as_bytes()), Ok(expected));
        }

        #[test]
        fn ids_round_trip(n in any::<i64>(), s in any::<String>(), method in any::<String>()) {
            for id in [Id::Number(n), Id::String(s.clone())] {
                let bytes = serde_json::to_vec(&request(id.clone(), &method, None)).unwrap();
                prop_assert_eq!(
                    parse_message(&bytes),
                    Ok(Message::Request { id, method: method.clone(), params: None })
                );
            }
        }
    }
}
