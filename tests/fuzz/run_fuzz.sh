#!/bin/sh
# run_fuzz.sh FUZZER SEED_CORPUS WORK_DIR SECONDS: a bounded libFuzzer run.
# New inputs go to WORK_DIR (in the build tree); the committed seed corpus is
# only read. A crash leaves its reproducer in WORK_DIR and fails the test.
set -eu
fuzzer=$1
seeds=$2
work=$3
seconds=$4
mkdir -p "$work"
exec "$fuzzer" -max_total_time="$seconds" -seed=1 -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$work/" "$work" "$seeds"
