//! JSON-RPC 2.0 message parsing and validation, without I/O.
//!
//! [`parse_message`] turns one POST body into exactly one [`Message`]
//! (request, notification or response) or a [`JsonRpcError`] that carries
//! the JSON-RPC error code to answer with. Batches are detected and refused
//! here: MCP 2025-06-18 removed them (changelog, "Remove support for JSON-RPC
//! batching"), and the server answers them with -32600. For sessions on
//! 2025-03-26, where batches are allowed, [`parse_batch`] splits one.

use serde_json::{Map, Number, Value};

/// The JSON-RPC version string every message must carry.
pub const JSONRPC_VERSION: &str = "2.0";

/// Standard JSON-RPC 2.0 error codes (JSON-RPC 2.0 §5.1; MCP `schema.ts`).
pub mod codes {
    pub const PARSE_ERROR: i64 = -32700;
    pub const INVALID_REQUEST: i64 = -32600;
    pub const METHOD_NOT_FOUND: i64 = -32601;
    pub const INVALID_PARAMS: i64 = -32602;
    pub const INTERNAL_ERROR: i64 = -32603;
}

/// A request id: MCP's `RequestId = string | number` (null is not allowed,
/// MCP `basic/index` "Requests": "the ID MUST NOT be null").
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestId {
    String(String),
    Number(Number),
}

impl RequestId {
    fn from_value(v: &Value) -> Option<Self> {
        match v {
            Value::String(s) => Some(RequestId::String(s.clone())),
            // Only integers: a fractional or out-of-range number does not
            // survive JSON parsing exactly, so the response could not echo
            // the same id (found by the server_jsonrpc fuzz target).
            Value::Number(n) if n.is_i64() || n.is_u64() => Some(RequestId::Number(n.clone())),
            _ => None,
        }
    }

    /// The id as JSON, to echo back in the response.
    pub fn to_value(&self) -> Value {
        match self {
            RequestId::String(s) => Value::String(s.clone()),
            RequestId::Number(n) => Value::Number(n.clone()),
        }
    }
}

/// A request: has an id and expects a response.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub id: RequestId,
    pub method: String,
    /// `params`, when present: an object or an array (JSON-RPC 2.0 §4.2).
    pub params: Option<Value>,
}

/// A notification: a request without an id; never answered.
#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    pub method: String,
    pub params: Option<Value>,
}

/// The error object of an error response.
#[derive(Debug, Clone, PartialEq)]
pub struct ErrorObject {
    pub code: i64,
    pub message: String,
    pub data: Option<Value>,
}

/// A response sent by the client (to a server-initiated request).
#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    pub id: RequestId,
    pub outcome: Result<Value, ErrorObject>,
}

/// One JSON-RPC message.
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    Request(Request),
    Notification(Notification),
    Response(Response),
}

/// Why a body is not one valid JSON-RPC message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JsonRpcError {
    /// Not JSON (or not UTF-8, which JSON text must be: RFC 8259 §8.1).
    #[error("parse error: {0}")]
    Parse(String),
    /// A JSON array: a batch, which MCP no longer allows (25-06+).
    #[error("JSON-RPC batches are not supported")]
    Batch,
    /// JSON, but not a valid JSON-RPC 2.0 message.
    #[error("invalid request: {reason}")]
    InvalidRequest {
        /// The id, when one could be read, so the error can echo it.
        id: Option<RequestId>,
        reason: InvalidReason,
    },
}

/// What exactly is wrong with a message that is JSON but not JSON-RPC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum InvalidReason {
    #[error("the message is not a JSON object")]
    NotAnObject,
    #[error("\"jsonrpc\" is missing or not \"2.0\"")]
    BadVersion,
    #[error("\"method\" is not a string")]
    MethodNotString,
    #[error("\"params\" is neither an object nor an array")]
    BadParams,
    #[error("\"id\" is neither a string nor a number")]
    BadId,
    #[error("a response needs exactly one of \"result\" and \"error\"")]
    ResultAndError,
    #[error("the error object is malformed")]
    BadErrorObject,
    #[error("a message has either \"method\" or \"result\"/\"error\", not both")]
    MethodAndResult,
    #[error("the message has neither \"method\" nor \"result\"/\"error\"")]
    NotAMessage,
    #[error("an empty array is not a batch")]
    EmptyBatch,
}

impl JsonRpcError {
    /// The JSON-RPC error code to answer with.
    pub fn code(&self) -> i64 {
        match self {
            JsonRpcError::Parse(_) => codes::PARSE_ERROR,
            JsonRpcError::Batch | JsonRpcError::InvalidRequest { .. } => codes::INVALID_REQUEST,
        }
    }

    /// The id to echo in the error response (`null` when unknown, JSON-RPC
    /// 2.0 §5).
    pub fn id(&self) -> Option<&RequestId> {
        match self {
            JsonRpcError::InvalidRequest { id, .. } => id.as_ref(),
            _ => None,
        }
    }
}

/// Parses one POST body as a single JSON-RPC 2.0 message.
pub fn parse_message(body: &[u8]) -> Result<Message, JsonRpcError> {
    // serde_json checks UTF-8 and bounds recursion (128 levels), so hostile
    // nesting is a parse error rather than a stack overflow.
    let value: Value =
        serde_json::from_slice(body).map_err(|e| JsonRpcError::Parse(e.to_string()))?;
    match value {
        Value::Array(_) => Err(JsonRpcError::Batch),
        Value::Object(obj) => validate_object(obj),
        _ => Err(invalid(None, InvalidReason::NotAnObject)),
    }
}

/// Parses a body as a JSON-RPC 2.0 batch (JSON-RPC 2.0 §6): a non-empty
/// array whose elements are judged one by one, so one bad element does not
/// spoil the others. A body that is not an array is an error; use
/// [`parse_message`] for those.
pub fn parse_batch(body: &[u8]) -> Result<Vec<Result<Message, JsonRpcError>>, JsonRpcError> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| JsonRpcError::Parse(e.to_string()))?;
    match value {
        Value::Array(items) if items.is_empty() => Err(invalid(None, InvalidReason::EmptyBatch)),
        Value::Array(items) => Ok(items
            .into_iter()
            .map(|item| match item {
                Value::Object(obj) => validate_object(obj),
                _ => Err(invalid(None, InvalidReason::NotAnObject)),
            })
            .collect()),
        _ => Err(invalid(None, InvalidReason::NotAnObject)),
    }
}

fn invalid(id: Option<RequestId>, reason: InvalidReason) -> JsonRpcError {
    JsonRpcError::InvalidRequest { id, reason }
}

fn validate_object(mut obj: Map<String, Value>) -> Result<Message, JsonRpcError> {
    // Read the id first, so later errors can still be correlated.
    let raw_id = obj.remove("id");
    let id = match &raw_id {
        None => None,
        Some(v) => match RequestId::from_value(v) {
            Some(id) => Some(id),
            None => return Err(invalid(None, InvalidReason::BadId)),
        },
    };
    if obj.get("jsonrpc").and_then(Value::as_str) != Some(JSONRPC_VERSION) {
        return Err(invalid(id, InvalidReason::BadVersion));
    }
    let has_result = obj.contains_key("result");
    let has_error = obj.contains_key("error");
    match obj.remove("method") {
        Some(method) => {
            let Value::String(method) = method else {
                return Err(invalid(id, InvalidReason::MethodNotString));
            };
            if has_result || has_error {
                return Err(invalid(id, InvalidReason::MethodAndResult));
            }
            let params = match obj.remove("params") {
                None => None,
                Some(p @ (Value::Object(_) | Value::Array(_))) => Some(p),
                Some(_) => return Err(invalid(id, InvalidReason::BadParams)),
            };
            Ok(match id {
                Some(id) => Message::Request(Request { id, method, params }),
                None => Message::Notification(Notification { method, params }),
            })
        }
        None => {
            let Some(id) = id else {
                return Err(invalid(None, InvalidReason::NotAMessage));
            };
            let outcome = match (obj.remove("result"), obj.remove("error")) {
                (Some(result), None) => Ok(result),
                (None, Some(error)) => Err(parse_error_object(error)
                    .ok_or_else(|| invalid(Some(id.clone()), InvalidReason::BadErrorObject))?),
                (Some(_), Some(_)) => {
                    return Err(invalid(Some(id), InvalidReason::ResultAndError));
                }
                (None, None) => return Err(invalid(Some(id), InvalidReason::NotAMessage)),
            };
            Ok(Message::Response(Response { id, outcome }))
        }
    }
}

/// JSON-RPC 2.0 §5.1: `code` an integer, `message` a string, `data` any.
fn parse_error_object(v: Value) -> Option<ErrorObject> {
    let Value::Object(mut o) = v else { return None };
    let code = o.get("code").and_then(Value::as_i64)?;
    let Value::String(message) = o.remove("message")? else {
        return None;
    };
    Some(ErrorObject {
        code,
        message,
        data: o.remove("data"),
    })
}

/// A success response, ready to serialise.
pub fn success(id: &RequestId, result: Value) -> Value {
    serde_json::json!({ "jsonrpc": JSONRPC_VERSION, "id": id.to_value(), "result": result })
}

/// An error response; `id` is `null` when the request's id is unknown
/// (JSON-RPC 2.0 §5).
pub fn error(id: Option<&RequestId>, code: i64, message: &str, data: Option<Value>) -> Value {
    let mut err = serde_json::json!({ "code": code, "message": message });
    if let (Some(data), Some(obj)) = (data, err.as_object_mut()) {
        obj.insert("data".into(), data);
    }
    serde_json::json!({
        "jsonrpc": JSONRPC_VERSION,
        "id": id.map_or(Value::Null, RequestId::to_value),
        "error": err,
    })
}

#[cfg(test)]
mod regression_tests {
    use super::*;

    /// Found by the `server_jsonrpc` fuzz target in a CI smoke run: a 43-digit
    /// id parsed as a float that did not round-trip, so the id echoed in the
    /// response would differ from the request's.
    #[test]
    fn regression_jsonrpc_huge_numeric_id_is_refused() {
        let body = br#"{"jsonrpc":"2.0","id":3333333333333333333333333333333333333333331,"method":"ping"}"#;
        assert!(parse_message(body).is_err());
        assert!(parse_message(br#"{"jsonrpc":"2.0","id":1.5,"method":"ping"}"#).is_err());
        assert!(parse_message(br#"{"jsonrpc":"2.0","id":7,"method":"ping"}"#).is_ok());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn parse(v: Value) -> Result<Message, JsonRpcError> {
        parse_message(v.to_string().as_bytes())
    }

    #[test]
    fn parses_requests_notifications_and_responses() {
        assert_eq!(
            parse(json!({"jsonrpc":"2.0","id":1,"method":"ping"})),
            Ok(Message::Request(Request {
                id: RequestId::Number(1.into()),
                method: "ping".into(),
                params: None
            }))
        );
        assert_eq!(
            parse(json!({"jsonrpc":"2.0","method":"notifications/initialized","params":{}})),
            Ok(Message::Notification(Notification {
                method: "notifications/initialized".into(),
                params: Some(json!({}))
            }))
        );
        assert_eq!(
            parse(json!({"jsonrpc":"2.0","id":"a","result":{}})),
            Ok(Message::Response(Response {
                id: RequestId::String("a".into()),
                outcome: Ok(json!({}))
            }))
        );
        assert!(matches!(
            parse(json!({"jsonrpc":"2.0","id":"a","error":{"code":-1,"message":"m"}})),
            Ok(Message::Response(Response {
                outcome: Err(ErrorObject { code: -1, .. }),
                ..
            }))
        ));
    }

    #[test]
    fn rejects_invalid_messages_with_the_right_code() {
        assert_eq!(parse_message(b"{").unwrap_err().code(), codes::PARSE_ERROR);
        assert_eq!(
            parse_message(b"\xff").unwrap_err().code(),
            codes::PARSE_ERROR
        );
        assert_eq!(parse(json!([])), Err(JsonRpcError::Batch));
        assert_eq!(
            parse(json!([{"jsonrpc":"2.0","id":1,"method":"ping"}])),
            Err(JsonRpcError::Batch)
        );
        let cases = [
            (json!(5), None, InvalidReason::NotAnObject),
            (
                json!({"id":1,"method":"ping"}),
                Some(1),
                InvalidReason::BadVersion,
            ),
            (
                json!({"jsonrpc":"1.0","id":1,"method":"ping"}),
                Some(1),
                InvalidReason::BadVersion,
            ),
            (
                json!({"jsonrpc":"2.0","id":null,"method":"ping"}),
                None,
                InvalidReason::BadId,
            ),
            (
                json!({"jsonrpc":"2.0","id":{},"method":"ping"}),
                None,
                InvalidReason::BadId,
            ),
            (
                json!({"jsonrpc":"2.0","id":1,"method":5}),
                Some(1),
                InvalidReason::MethodNotString,
            ),
            (
                json!({"jsonrpc":"2.0","id":1,"method":"x","params":3}),
                Some(1),
                InvalidReason::BadParams,
            ),
            (
                json!({"jsonrpc":"2.0","id":1,"method":"x","result":3}),
                Some(1),
                InvalidReason::MethodAndResult,
            ),
            (
                json!({"jsonrpc":"2.0","id":1,"result":1,"error":{}}),
                Some(1),
                InvalidReason::ResultAndError,
            ),
            (
                json!({"jsonrpc":"2.0","id":1,"error":{"code":"x","message":"m"}}),
                Some(1),
                InvalidReason::BadErrorObject,
            ),
            (
                json!({"jsonrpc":"2.0","id":1}),
                Some(1),
                InvalidReason::NotAMessage,
            ),
            (json!({"jsonrpc":"2.0"}), None, InvalidReason::NotAMessage),
        ];
        for (input, id, reason) in cases {
            let err = parse(input.clone()).unwrap_err();
            assert_eq!(err.code(), codes::INVALID_REQUEST, "{input}");
            assert_eq!(
                err,
                JsonRpcError::InvalidRequest {
                    id: id.map(|n: i64| RequestId::Number(n.into())),
                    reason
                },
                "{input}"
            );
        }
    }

    #[test]
    fn batches_are_split_element_by_element() {
        let items = parse_batch(
            br#"[{"jsonrpc":"2.0","id":1,"method":"ping"},5,{"jsonrpc":"2.0","method":"n"}]"#,
        )
        .unwrap();
        assert_eq!(items.len(), 3);
        assert!(matches!(items[0], Ok(Message::Request(_))));
        assert!(items[1].is_err());
        assert!(matches!(items[2], Ok(Message::Notification(_))));
        assert_eq!(
            parse_batch(b"[]").unwrap_err().code(),
            codes::INVALID_REQUEST
        );
        assert_eq!(
            parse_batch(b"{}").unwrap_err().code(),
            codes::INVALID_REQUEST
        );
        assert_eq!(parse_batch(b"[").unwrap_err().code(), codes::PARSE_ERROR);
    }

    #[test]
    fn renders_responses() {
        let id = RequestId::String("x".into());
        assert_eq!(
            success(&id, json!({})),
            json!({"jsonrpc":"2.0","id":"x","result":{}})
        );
        assert_eq!(
            error(None, codes::PARSE_ERROR, "bad", Some(json!({"k":1}))),
            json!({"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"bad","data":{"k":1}}})
        );
    }

    proptest! {
        #[test]
        fn parser_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = parse_message(&bytes);
        }

        #[test]
        fn parser_never_panics_on_json_shaped_input(s in r#"[\[\]{}",:0-9a-z. -]{0,200}"#) {
            let _ = parse_message(s.as_bytes());
            let _ = parse_batch(s.as_bytes());
        }

        #[test]
        fn request_round_trips(id in any::<i64>(), method in "[a-z/]{1,20}") {
            let body = json!({"jsonrpc":"2.0","id":id,"method":method,"params":{}}).to_string();
            match parse_message(body.as_bytes()) {
                Ok(Message::Request(r)) => {
                    prop_assert_eq!(r.id, RequestId::Number(id.into()));
                    prop_assert_eq!(r.method, method);
                }
                other => prop_assert!(false, "unexpected {:?}", other),
            }
        }
    }
}
