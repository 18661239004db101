#!/usr/bin/env bash
# Builds the reference server in release mode and runs its load bench
# (reference-server/benches/load.rs), printing the machine and the figures:
# code exchanges/s, tools/call/s with p50/p99 latency, and the server's
# memory after 100,000 registrations.
#
# Knobs (environment): BENCH_SECS (5), BENCH_WARMUP_SECS (1), BENCH_WORKERS
# (32), BENCH_REGISTRATIONS (100000). Loopback only; the run stops by itself
# (about 30 s with the defaults). The generator shares the CPUs with the
# server, so other load on the machine lowers the figures: check `uptime`.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(uname -sr)"
echo "load before the run: $(cut -d' ' -f1-3 /proc/loadavg)"
# Build first, so compilation is not timed and its output stays separate.
cargo bench --quiet -p mcp-reference-server --bench load --no-run
cargo bench --quiet -p mcp-reference-server --bench load
