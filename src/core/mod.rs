//! The I/O-free core of the runner.
//!
//! Everything here is pure: no sockets, no clocks, no tokio, no TLS. The
//! `runner` feature gates all I/O, and this module builds without it
//! (`cargo check -p mcp-conform --no-default-features --lib`), so the fuzz
//! targets and the proptests link only this code.
//!
//! What each module owns:
//!
//! | module | owns |
//! |---|---|
//! | [`pkce`] | PKCE verifiers and S256 challenges (RFC 7636), random `state` values |
//! | [`www_authenticate`] | parsing and rendering `WWW-Authenticate` (RFC 9110 §11.6.1), RFC 6750 §3 parameter rules |
//! | [`sse`] | the incremental `text/event-stream` parser (WHATWG HTML §9.2) |
//! | [`jsonrpc`] | strict JSON-RPC 2.0 message shapes, and pulling messages out of an HTTP body (JSON or SSE) |
//! | [`url_canon`] | MCP canonical server URIs, segment-wise prefixes, the DISC-03 well-known candidate URLs |
//! | [`jwt`] | unverified JWT decoding and the forgeries negative tests send |
//! | [`redact`] | secrets redacted by construction, and redaction of form bodies, JSON, URLs and headers |
//! | [`form`] | `application/x-www-form-urlencoded` and RFC 6749 §2.3.1 Basic credentials |
//! | [`metadata`] | typed, non-panicking readers of RFC 9728 and RFC 8414 metadata documents |
//!
//! Every public entry point that takes bytes or strings from a server is a
//! fuzz entry point: it returns an error for bad input and never panics.
//! The fuzz targets (in `fuzz/`) are one line each and call these functions.
//!
//! Nothing here depends on the reference server (design.md, independence
//! rule): the two implementations check each other.

pub mod form;
pub mod jsonrpc;
pub mod jwt;
pub mod metadata;
pub mod pkce;
pub mod redact;
pub mod sse;
pub mod url_canon;
pub mod www_authenticate;
