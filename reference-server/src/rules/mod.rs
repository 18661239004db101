//! I/O-free rules: everything that judges untrusted input without touching
//! the network. Kept free of axum and tokio so fuzz targets and property
//! tests can call it directly.

pub mod bearer;
pub mod jsonrpc;
pub mod origin;

pub mod cimd;
pub mod dcr;
pub mod oauth_form;
pub mod pkce;
pub mod redirect_uri;
pub mod scope;
