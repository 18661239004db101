#!/usr/bin/env bash
# Interop check: the official MCP Python SDK (PyPI `mcp`) completes discovery,
# dynamic client registration, PKCE, token, initialize, tools/list and
# tools/call against the release mcp-reference-server. See interop/README.md.
#
# Needs python3 (>= 3.10) with venv and network access to PyPI; everything it
# installs goes into a temporary directory that is removed at exit.
# Exit status: 0 when the client succeeded, non-zero otherwise.
set -euo pipefail

# The SDK version this check was last run with; bump deliberately.
MCP_SDK_VERSION="${MCP_SDK_VERSION:-2.3.0}"

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work="$(mktemp -d "${TMPDIR:-/tmp}/mcp-interop.XXXXXX")"
server_pid=""

cleanup() {
    if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

echo "== building the release server"
cargo build --release --quiet -p mcp-reference-server --manifest-path "$root/Cargo.toml"
target_dir="$(cargo metadata --format-version 1 --no-deps --manifest-path "$root/Cargo.toml" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
server_bin="$target_dir/release/mcp-reference-server"

echo "== installing mcp==$MCP_SDK_VERSION into a temporary virtualenv"
python3 -m venv "$work/venv"
"$work/venv/bin/pip" install --quiet --disable-pip-version-check "mcp==$MCP_SDK_VERSION"
"$work/venv/bin/python" -c 'import importlib.metadata as m; print("mcp", m.version("mcp"), "httpx2", m.version("httpx2"))'

echo "== starting mcp-reference-server on a loopback ephemeral port"
mkfifo "$work/stdout"
# INTEROP_SERVER_ARGS (split on spaces on purpose), e.g. "--fault state-not-echoed",
# shows the check failing against a known-broken server.
# shellcheck disable=SC2086
"$server_bin" --bind 127.0.0.1:0 ${INTEROP_SERVER_ARGS:-} >"$work/stdout" 2>"$work/server.log" &
server_pid=$!
# The first stdout line is the MCP URL; keep the pipe drained afterwards.
exec 3<"$work/stdout"
if ! IFS= read -r -t 20 url <&3; then
    echo "error: the server printed no URL within 20 s; its log:" >&2
    cat "$work/server.log" >&2
    exit 1
fi
cat <&3 >/dev/null &
echo "server: $url"

echo "== running the Python SDK client"
status=0
timeout 120 "$work/venv/bin/python" "$root/interop/python_sdk_client.py" "$url" || status=$?
if [[ $status -ne 0 ]]; then
    echo "== FAILED (exit $status); server log:" >&2
    cat "$work/server.log" >&2
fi
exit "$status"
