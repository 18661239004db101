//! Test controls, mounted only with `--test-control`: the virtual clock.
//!
//! `POST /_test/clock/advance` with `{"seconds": N}` moves [`Clock`] forward
//! (it never goes back), so expiry rules (tokens, codes, sessions) are
//! testable without waiting. `GET /_test/clock` reports the clock. There is
//! no authentication: these routes exist only on a server started for tests.
//!
//! [`Clock`]: crate::clock::Clock

use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::json;

use crate::server::AppState;

/// The most one call may advance: ten years, far beyond any lifetime the
/// server uses, and small enough that the offset cannot overflow in practice.
pub const MAX_ADVANCE_SECS: u64 = 10 * 365 * 24 * 3600;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/_test/clock", get(clock))
        .route("/_test/clock/advance", post(advance))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AdvanceRequest {
    seconds: u64,
}

/// Why an advance request was refused.
#[derive(Debug, thiserror::Error)]
pub enum AdvanceError {
    #[error("body must be JSON {{\"seconds\": N}} with N a non-negative integer: {0}")]
    Body(#[from] serde_json::Error),
    #[error("seconds must be at most {MAX_ADVANCE_SECS}")]
    TooFar,
}

/// Parses and bounds an advance request body.
pub fn parse_advance(body: &[u8]) -> Result<Duration, AdvanceError> {
    let req: AdvanceRequest = serde_json::from_slice(body)?;
    if req.seconds > MAX_ADVANCE_SECS {
        return Err(AdvanceError::TooFar);
    }
    Ok(Duration::from_secs(req.seconds))
}

async fn advance(State(state): State<AppState>, body: Bytes) -> Response {
    match parse_advance(&body) {
        Ok(by) => {
            state.clock.advance(by);
            axum::Json(json!({ "offset_seconds": state.clock.offset().as_secs() })).into_response()
        }
        Err(e) => (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({ "error": "invalid_request", "error_description": e.to_string() })),
        )
            .into_response(),
    }
}

async fn clock(State(state): State<AppState>) -> Response {
    axum::Json(json!({
        "now": state.clock.now_secs(),
        "offset_seconds": state.clock.offset().as_secs(),
    }))
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advance_bodies_are_validated() {
        assert_eq!(
            parse_advance(br#"{"seconds": 90}"#).unwrap(),
            Duration::from_secs(90)
        );
        for bad in [
            &br#"{"seconds": -1}"#[..],
            br#"{"seconds": 1.5}"#,
            br#"{"seconds": "1"}"#,
            br#"{}"#,
            br#"{"seconds": 1, "x": 2}"#,
            b"nope",
        ] {
            assert!(parse_advance(bad).is_err());
        }
        assert!(matches!(
            parse_advance(format!("{{\"seconds\": {}}}", MAX_ADVANCE_SECS + 1).as_bytes()),
            Err(AdvanceError::TooFar)
        ));
    }
}
