//! Replays every committed fuzz input through the fuzz entry points in an
//! ordinary `cargo test`: the seed corpus under `fuzz/corpus/<target>/` and
//! the crashes found so far under `fuzz/regressions/<target>/`. A crash
//! found once stays fixed even where nobody runs the fuzzer, and the
//! properties the entry points assert are checked on real documents.
//!
//! One test per cargo-fuzz target, named after it; the entry point is the
//! same function the target calls (`fuzz/fuzz_targets/<target>.rs`).

use std::path::{Path, PathBuf};

use mcp_conform::fuzzing as runner;
use mcp_reference_server::fuzzing as server;

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

/// Runs `entry` on every corpus and regression file of `target`; the corpus
/// must not be empty (an empty one would make the test pass vacuously).
fn replay(target: &str, entry: fn(&[u8])) {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let corpus = files_under(&fuzz.join("corpus").join(target));
    assert!(
        !corpus.is_empty(),
        "fuzz/corpus/{target}/ has no seed files"
    );
    let regressions = files_under(&fuzz.join("regressions").join(target));
    for path in corpus.iter().chain(&regressions) {
        let data = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let outcome = std::panic::catch_unwind(|| entry(&data));
        assert!(outcome.is_ok(), "{} fails its fuzz target", path.display());
    }
}

/// Runs one regression input (a file under `fuzz/regressions/<target>/`).
fn regression(target: &str, name: &str, entry: fn(&[u8])) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/regressions")
        .join(target)
        .join(name);
    let data = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    entry(&data);
}

macro_rules! corpus_tests {
    ($($target:ident => $entry:path;)+) => {
        $(
            #[test]
            fn $target() {
                replay(stringify!($target), $entry);
            }
        )+

        /// Every target in `fuzz/fuzz_targets/` has a replay test here.
        #[test]
        fn every_fuzz_target_is_replayed() {
            let known = [$(stringify!($target)),+];
            let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/fuzz_targets");
            for file in files_under(&dir) {
                let name = file.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
                assert!(known.contains(&name), "fuzz target {name} has no replay test");
            }
        }
    };
}

corpus_tests! {
    scenario => runner::scenario;
    template => runner::template;
    www_authenticate => runner::www_authenticate;
    sse => runner::sse;
    jsonrpc => runner::jsonrpc;
    jwt => runner::jwt;
    url => runner::url;
    prm_metadata => runner::prm_metadata;
    as_metadata => runner::as_metadata;
    form => runner::form;
    server_dcr => server::dcr;
    server_cimd => server::cimd;
    server_redirect_uri => server::redirect_uri;
    server_pkce => server::pkce;
    server_token_request => server::token_request;
    server_authorize_request => server::authorize_request;
    server_bearer => server::bearer;
    server_jsonrpc => server::jsonrpc;
    server_origin => server::origin;
}

// Regression tests: one per crash the fuzzer found, named after it (the
// input is in fuzz/regressions/<target>/<name>).

/// `https://http.0.s:?//ce`: the CIMD URL check took the `/` in the query
/// for a path, so a client ID URL without a path passed
/// (reference-server/src/rules/cimd.rs).
#[test]
fn regression_cimd_slash_in_query_is_not_a_path() {
    regression("server_cimd", "slash-in-query-is-not-a-path", server::cimd);
}

/// `https://client.example/a\..\meta.json`: `\` is a path separator in an
/// https URL, so this holds a dot segment the check did not see.
#[test]
fn regression_cimd_backslash_dot_segment() {
    regression("server_cimd", "backslash-dot-segment", server::cimd);
}

/// `https:///p`: parsed as `https://p/` (no path) while the raw text seemed
/// to have the path `/p`, so the CIMD URL check let it through.
#[test]
fn regression_cimd_empty_authority_hides_missing_path() {
    regression(
        "server_cimd",
        "empty-authority-hides-missing-path",
        server::cimd,
    );
}
