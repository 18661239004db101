//! mcp-conform: conformance checks for OAuth-protected MCP servers.
//!
//! The crate is split on the I/O boundary. Always built, and free of tokio
//! and TLS: [`core`] (PKCE, `WWW-Authenticate`, SSE, JSON-RPC, URLs, JWTs,
//! redaction) and [`scenario`] (the scenario format and its plan). Behind the
//! `runner` feature: the HTTP client, the engine, the reporters and the CLI.

pub mod core;
pub mod coverage;
pub mod scenario;
pub mod suggest;
// Fuzz entry points; I/O-free, so not behind `runner` (see fuzz/).
pub mod fuzzing;

#[cfg(feature = "runner")]
pub mod cli;
#[cfg(feature = "runner")]
pub mod embedded;
#[cfg(feature = "runner")]
pub mod engine;
#[cfg(feature = "runner")]
pub mod http;
#[cfg(feature = "runner")]
pub mod kill_matrix;
#[cfg(feature = "runner")]
pub mod live_fuzz;
#[cfg(feature = "runner")]
pub mod report;
