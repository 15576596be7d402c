#!/usr/bin/env bash
# `make test`: every test class in its own build, then one closing line that
# adds them up: "make test: N passed, N failed, N skipped".
#   $1 normal build: suites fast, concurrent, integration, lint, perf-smoke
#   $2 ASan+UBSan build: suite fast
#   $3 TSan build: suite concurrent
#   $4 clang libFuzzer build: suite fuzz (bounded runs)
set -uo pipefail
normal=$1 asan=$2 tsan=$3 fuzz=$4
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
start=$(date +%s)
failed_steps=()

step() { # name command...
    local name=$1; shift
    echo "== $name"
    "$@" || failed_steps+=("$name")
}

setup() { # dir options...
    local dir=$1; shift
    [ -f "$dir/build.ninja" ] || meson setup "$dir" "$@" >/dev/null
}

mtest=(meson test --no-rebuild --print-errorlogs)

setup "$normal" --buildtype=debugoptimized
step "build ($normal)" ninja -C "$normal"
step "tests ($normal)" "${mtest[@]}" -C "$normal" --suite fast --suite concurrent --suite integration \
    --suite lint --suite perf-smoke

setup "$asan" --buildtype=debug -Db_sanitize=address,undefined -Db_lundef=false
step "build ($asan)" ninja -C "$asan"
step "tests ($asan: ASan+UBSan)" env UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    "${mtest[@]}" -C "$asan" --suite fast --timeout-multiplier 3

setup "$tsan" --buildtype=debugoptimized -Db_sanitize=thread -Db_lundef=false
step "build ($tsan)" ninja -C "$tsan"
step "tests ($tsan: TSan)" env TSAN_OPTIONS="halt_on_error=1 suppressions=$top/tests/tsan.supp" \
    "${mtest[@]}" -C "$tsan" --suite concurrent --timeout-multiplier 4

CC=clang setup "$fuzz" --buildtype=debugoptimized -Dfuzz=true -Db_sanitize=address,undefined \
    -Db_lundef=false
step "build ($fuzz)" ninja -C "$fuzz"
step "tests ($fuzz: libFuzzer)" "${mtest[@]}" -C "$fuzz" --suite fuzz

python3 tools/test-summary.py "$normal" "$asan" "$tsan" "$fuzz"
summary_rc=$?
echo "make test: took $(( $(date +%s) - start )) s"
if [ ${#failed_steps[@]} -gt 0 ]; then
    printf 'make test: failed step: %s\n' "${failed_steps[@]}"
    exit 1
fi
exit $summary_rc
