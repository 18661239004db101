//! Scenario files: their raw TOML shape ([`model`]), templates
//! ([`template`]), the checked plan ([`plan`]) and diagnostics pointing at
//! file:line:col ([`diagnostic`]). All of it is I/O-free: sources come in as
//! text, so the fuzz targets can call [`plan::build`] directly.

pub mod diagnostic;
pub mod embedded;
pub mod model;
pub mod plan;
pub mod template;

pub use diagnostic::{Diagnostic, SourceSet};
pub use plan::{Suite, build};

/// Parses and plans one file given as text (a fuzz entry point): the suite
/// it makes, or the diagnostics.
pub fn plan_single(path: &str, text: &str) -> Result<Suite, Vec<Diagnostic>> {
    let mut sources = SourceSet::new();
    sources.insert(path, path, text);
    build(&sources)
}

/// The JSON Schema of the scenario file format (committed under `docs/`).
pub fn json_schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(model::RawFile)).unwrap_or_default()
}
