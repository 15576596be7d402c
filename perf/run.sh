#!/usr/bin/env bash
# `make bench`: runs every perf/ harness (meson benchmarks) one at a time,
# collects their JSON Lines into perf/results/results.jsonl, and writes
# perf/results/report.md (and PNG plots when matplotlib is present).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=$top/${BUILD:-build}
out=$top/perf/results
mkdir -p "$out"
: > "$out/results.jsonl"
export UBC_BENCH_OUT=$out/results.jsonl
echo "bench: running the harnesses (results in perf/results/)"
meson test -C "$build" --benchmark --no-rebuild --num-processes 1 --verbose \
    --timeout-multiplier 4 ${BENCH:+$BENCH} || echo "bench: a harness failed (see above)"
python3 "$top/perf/report.py" "$out/results.jsonl" "$out"
