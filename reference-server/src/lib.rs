//! mcp-reference-server: a strict MCP server with its own OAuth 2.1
//! authorization server, used as the known-good (and, with faults, the
//! known-broken) target of the conformance suite.
//!
//! Layout:
//! - [`config`]: configuration and the fault catalogue.
//! - [`rules`]: I/O-free validation (redirect URIs, DCR metadata, PKCE,
//!   OAuth form parsing, bearer headers, JSON-RPC messages). Builds without
//!   the `server` feature, which is what the fuzz targets link.
//! - `oauth` (authorization server: metadata, registration, authorize,
//!   token, revocation, JWKS), `tokens` and `keys` (JWT access tokens),
//!   `resource` (RFC 9728 metadata and the bearer check on MCP requests),
//!   `mcp` (Streamable HTTP endpoint, sessions, tools), `test_control`
//!   (virtual clock): the HTTP side, behind the `server` feature.
//!
//! It shares no code with the `mcp-conform` runner on purpose: two
//! independent implementations of the same specs check each other.

pub mod config;
pub mod rules;
// Fuzz entry points over `rules`; I/O-free, so not behind `server` (see fuzz/).
pub mod fuzzing;

#[cfg(feature = "server")]
pub mod clock;
#[cfg(feature = "server")]
pub mod keys;
#[cfg(feature = "server")]
pub mod mcp;
#[cfg(feature = "server")]
pub mod oauth;
#[cfg(feature = "server")]
pub mod resource;
#[cfg(feature = "server")]
mod server;
#[cfg(feature = "server")]
pub mod test_control;
#[cfg(feature = "server")]
pub mod tokens;

#[cfg(feature = "server")]
pub use server::{AppState, RunningServer, Shared, StartError, Urls, start};
