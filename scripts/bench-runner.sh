#!/usr/bin/env bash
# Benchmark of the runner: wall time and peak RSS of `mcp-conform run`
# (release) over the built-in suite against the embedded reference server,
# and the mean time per scenario. Rerunnable; prints figures only.
#
#   scripts/bench-runner.sh [RUNS]     (default 5 runs)
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-5}"
cargo build --release --locked -q --bin mcp-conform
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
python3 - "$runs" <<'PY'
import json, os, resource, statistics, subprocess, sys, tempfile, time

runs = int(sys.argv[1])
walls, rss = [], []
per_scenario = {}
checks = 0
for i in range(runs):
    report = os.path.join(tempfile.mkdtemp(), "report.json")
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.perf_counter()
    p = subprocess.run(["target/release/mcp-conform", "run", "--quiet", "--report-json", report],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    walls.append(time.perf_counter() - t0)
    # ru_maxrss of children is the max over all children so far (KiB).
    rss.append(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    if p.returncode != 0:
        print(f"run {i}: exit {p.returncode} (the suite did not pass)")
    data = json.load(open(report))
    checks = len(data["results"])
    seen = {}
    for r in data["results"]:
        seen[r["scenario"]] = r["duration_ms"]
    for s, ms in seen.items():
        per_scenario.setdefault(s, []).append(ms)

print(f"checks: {checks}, scenarios: {len(per_scenario)}, runs: {runs}")
print(f"wall: median {statistics.median(walls):.3f}s  min {min(walls):.3f}s  max {max(walls):.3f}s")
print(f"peak RSS: {max(rss) / 1024:.1f} MiB")
means = {s: statistics.mean(v) for s, v in per_scenario.items()}
print(f"per-scenario mean: {statistics.mean(means.values()):.1f} ms (slowest: " +
      ", ".join(f"{s} {m:.0f} ms" for s, m in sorted(means.items(), key=lambda kv: -kv[1])[:5]) + ")")
PY
