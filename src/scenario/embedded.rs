//! The built-in scenarios, compiled into the binary by `build.rs`.

use super::SourceSet;

include!(concat!(env!("OUT_DIR"), "/embedded_scenarios.rs"));

/// The built-in scenario files as a source set.
pub fn sources() -> SourceSet {
    let mut set = SourceSet::new();
    for (path, text) in EMBEDDED {
        set.insert(*path, format!("scenarios/{path}"), *text);
    }
    set
}
