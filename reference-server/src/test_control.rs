//! Test controls, mounted only with `--test-control`: the virtual clock.

use axum::Router;

use crate::server::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
}
