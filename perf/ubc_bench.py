"""ubc_bench.py: the result schema of common/ubc_bench.h for the Python harnesses.

emit(label, record) appends one JSON line to $UBC_BENCH_OUT (stdout when unset) and a
human line on stderr; QUICK is UBC_BENCH_QUICK (tiny runs for the perf-smoke tests).
"""
import json
import os
import sys

QUICK = os.environ.get("UBC_BENCH_QUICK", "") not in ("", "0")


def emit(label, record):
    line = json.dumps(record)
    out = os.environ.get("UBC_BENCH_OUT")
    if out:
        with open(out, "a") as f:
            f.write(line + "\n")
    else:
        print(line, flush=True)
    versus = ""
    if record.get("baseline") is not None and record.get("baseline_value"):
        versus = f" {record['baseline']}={record['baseline_value']:.4g} ratio={record['ratio']:.3g}x"
    print(f"{label:<10} {record['metric']:<34} {record['value']:>12.4g} {record['unit']:<10}"
          + versus, file=sys.stderr)
