#!/usr/bin/env python3
"""perf/node idle: what an idle node costs, and what its idle back-off costs
in wake-up latency, against pure busy polling (the baseline) in the same run.

Starts ubcd twice in a private network namespace on its net_tap port, once
with the default back-off and once with poll.busy=true, leaves each idle for
a few seconds, and measures (1) CPU consumed (cores, from /proc/PID/stat),
(2) ping round trips through the DPDK port while otherwise idle (the cost of
waking a sleeping lcore), and (3) the wake-up lateness the loops measure
themselves. Writes JSON Lines in the common/ubc_bench.h schema.

usage: bench_idle.py UBCD UBCCTL          (needs root; exit 77 otherwise)
"""
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import ubc_bench  # noqa: E402 (perf/ubc_bench.py: the result schema)
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests"))
from ubc_node_wait import wait_node  # noqa: E402

UBCD, UBCCTL = sys.argv[1], sys.argv[2]
QUICK = ubc_bench.QUICK
IDLE_SECONDS = 1.0 if QUICK else 5.0
PINGS = 5 if QUICK else 40
NS = f"ubc-bench-idle-{os.getpid()}"


def emit(record):
    ubc_bench.emit("idle", record)


def cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def run_node(busy):
    data = tempfile.mkdtemp(prefix="ubc-bench-idle-")
    sock = os.path.join(data, "ubcd.sock")
    extra = os.environ.get("UBC_BENCH_IDLE_SET", "").split()
    proc = subprocess.Popen(["ip", "netns", "exec", NS, UBCD, "--data-dir", data, "--set",
                             f"poll.busy={'true' if busy else 'false'}", *extra],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_node(proc, sock, UBCCTL)
        subprocess.run(["ip", "-n", NS, "addr", "add", "198.18.0.1/24", "dev", "ubc0"])
        subprocess.run(["ip", "-n", NS, "link", "set", "ubc0", "up"])
        time.sleep(0.5)
        before, t0 = cpu_seconds(proc.pid), time.monotonic()
        time.sleep(IDLE_SECONDS)
        cores = (cpu_seconds(proc.pid) - before) / (time.monotonic() - t0)
        rtts = ping_rtts()
        lcores = json.loads(subprocess.run([UBCCTL, "--socket", sock, "--json", "lcores"],
                                           capture_output=True, text=True).stdout)
        late = max(l["wake_late_us_avg"] for l in lcores)
        return cores, rtts, late
    finally:
        subprocess.run([UBCCTL, "--socket", sock, "shutdown"], capture_output=True)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        subprocess.run(["ip", "-n", NS, "addr", "flush", "dev", "lo"], capture_output=True)
        shutil.rmtree(data, ignore_errors=True)


def ping_rtts():
    """One ping every 50 ms: each finds the node idle, so each pays the wake-up."""
    out = subprocess.run(["ip", "netns", "exec", NS, "ping", "-c", str(PINGS), "-i", "0.05",
                          "-W", "1", "198.18.0.2"], capture_output=True, text=True).stdout
    return [float(l.split("time=")[1].split()[0]) * 1000 for l in out.splitlines() if "time=" in l]


def main():
    if os.geteuid() != 0 or shutil.which("ip") is None or shutil.which("ping") is None:
        print("skipped: needs root, iproute2 and ping")
        return 77
    subprocess.run(["ip", "netns", "add", NS], check=True)
    try:
        backoff_cores, backoff_rtts, backoff_late = run_node(busy=False)
        busy_cores, busy_rtts, _ = run_node(busy=True)
    finally:
        subprocess.run(["ip", "netns", "del", NS])
    if not backoff_rtts or not busy_rtts:
        print("no ping answered", file=sys.stderr)
        return 1
    params = {"lcores": 2, "roles": 5, "idle_s": IDLE_SECONDS}
    backoff_rtt = statistics.median(backoff_rtts)
    busy_rtt = statistics.median(busy_rtts)
    emit({"harness": "idle", "metric": "idle_cpu_cores", "value": backoff_cores,
          "unit": "cores", "params": params, "baseline": "busy_poll",
          "baseline_value": busy_cores, "ratio": busy_cores / max(backoff_cores, 1e-6),
          "samples": 1})
    emit({"harness": "idle", "metric": "idle_ping_rtt_p50", "value": backoff_rtt, "unit": "us",
          "params": {**params, "pings": len(backoff_rtts)}, "baseline": "busy_poll",
          "baseline_value": busy_rtt, "ratio": busy_rtt / backoff_rtt, "samples": PINGS})
    emit({"harness": "idle", "metric": "wake_late_avg", "value": backoff_late, "unit": "us",
          "params": params, "baseline": None, "baseline_value": None, "ratio": None,
          "samples": 1})
    return 0


if __name__ == "__main__":
    sys.exit(main())
