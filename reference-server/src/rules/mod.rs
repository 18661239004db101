//! I/O-free rules: everything that judges untrusted input without touching
//! the network. Kept free of axum and tokio so fuzz targets and property
//! tests can call it directly.
