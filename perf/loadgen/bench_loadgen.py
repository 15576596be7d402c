#!/usr/bin/env python3
"""perf/loadgen: ubcd driven by ubc-loadgen over a kernel-free link (net_memif).

wire-latency: measures the node's capacity for job submissions (closed loop,
256 in flight), then offers open-loop load at 10%, 50% and 90% of it and
reports submit-to-ack and submit-to-assignment p50/p99/p99.9 as the loadgen
timestamps them with the TSC (from each submission's scheduled send time).
Baseline, same run, same link: the ping round trip through the node's ICMP
responder (the link plus the net role, no scheduler, journal or ledger).

packets: the packets per second (both directions at the node's port) the node
sustains at capacity, against an ICMP echo flood on the same link with the
same window (the net role turning frames around without the scheduler).

The machine has 2 cores: the node runs on lcores 0-1 and the loadgen on CPU 0,
so they share the cores; compare ratios measured in one run.
Writes JSON Lines (common/ubc_bench.h schema). UBC_BENCH_QUICK=1: short.

usage: bench_loadgen.py wire-latency|packets UBCD UBCCTL UBC_LOADGEN   (77: needs root)
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

MODE, UBCD, UBCCTL, LOADGEN = sys.argv[1:5]
QUICK = ubc_bench.QUICK
OWNER = "c1" * 32
SECONDS = 0.5 if QUICK else 3
WARMUP = 0.1 if QUICK else 0.5  # latencies of the first WARMUP seconds are not recorded
REPEATS = 1 if QUICK else 5
WINDOW = 256
next_job = [1]
# The loadgen's own JSON lines come back on stdout, not into the results file.
CHILD_ENV = {k: v for k, v in os.environ.items() if k != "UBC_BENCH_OUT"}
SOCK = [None]


def emit(record):
    ubc_bench.emit("loadgen", record)


def start_node(tmp):
    data = os.path.join(tmp, "data")
    os.makedirs(data)
    sock_memif = os.path.join(tmp, "memif.sock")
    eal = ("--no-huge -m 1024 --no-pci --no-shconf -l 0-1 --log-level=lib.*:warning "
           f"--vdev=net_memif0,role=server,socket={sock_memif}")
    proc = subprocess.Popen([UBCD, "--data-dir", data, "--set", f"eal.args={eal}", "--set",
                             "net.port=net_memif0", "--set", f"ledger.genesis_account={OWNER}",
                             "--set", "ledger.genesis_balance=1000000000000000000", "--set",
                             "sched.quota_jobs_per_owner=1000000", "--set",
                             "sched.max_jobs=200000"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    sock = os.path.join(data, "ubcd.sock")
    if wait_node(proc, sock, UBCCTL):
        # 8192-slot rings (rsize=13): a descheduled loadgen loses no reply.
        return proc, sock, f"net_memif0,role=client,socket={sock_memif},rsize=13"
    raise SystemExit("ubcd did not start")


def settle(sock):
    """Waits until the node has no live task and an empty queue (the previous
    run's settlements done), so that runs do not overlap."""
    for _ in range(50):
        out = subprocess.run([UBCCTL, "--socket", sock, "--json", "sched-stats"],
                             capture_output=True, text=True)
        if out.returncode == 0:
            stats = json.loads(out.stdout)
            if stats["tasks_live"] == 0 and sum(stats["queue_depth_by_class"]) == 0:
                return
        time.sleep(0.1)


def loadgen(port, *args):
    """One loadgen run: {metric: value} of its JSON lines. A run that could
    not attach (exit 4: the memif server still held the previous client) is
    retried twice."""
    for attempt in range(3):
        settle(SOCK[0])
        metrics = loadgen_once(port, *args, last=attempt == 2)
        if metrics is not None:
            return metrics
        time.sleep(1)


def loadgen_once(port, *args, last):
    job_args = ["--first-job", str(next_job[0])]
    out = subprocess.run([LOADGEN, "--port", port, "--json", "--label", "memif", "--clients",
                          "1000", "--providers", "16", "--work-ms", "1", "--duration",
                          str(SECONDS), *job_args, *args], capture_output=True, text=True,
                         timeout=120, env=CHILD_ENV)
    metrics = {}
    for line in out.stdout.splitlines():
        if line.startswith("{"):
            record = json.loads(line)
            metrics[record["metric"]] = record["value"]
    next_job[0] += int(metrics.get("jobs_submitted", 0)) + 1
    if out.returncode == 4 and not last:
        sys.stderr.write("ubc-loadgen could not attach; retrying\n")
        return None
    if out.returncode not in (0, 1) or not metrics:
        sys.stderr.write(out.stderr[-2000:])
        raise SystemExit(f"ubc-loadgen failed ({out.returncode})")
    return metrics


def median_of(runs, metric):
    values = [r[metric] for r in runs if metric in r]
    return statistics.median(values) if values else None


def record(metric, value, unit, params, baseline=None, baseline_value=None, lower=True,
           samples=REPEATS):
    ratio = None
    if baseline_value and value:
        ratio = baseline_value / value if lower else value / baseline_value
    emit({"harness": "loadgen", "metric": metric, "value": value, "unit": unit,
          "params": {"link": "net_memif", "cores": "node 0-1, loadgen 0 (shared)", **params},
          "baseline": baseline, "baseline_value": baseline_value, "ratio": ratio,
          "samples": samples})


def capacity(port):
    runs = [loadgen(port, "--find-capacity", "--window", str(WINDOW)) for _ in range(REPEATS)]
    return runs, median_of(runs, "acked_per_s")


def wire_latency(port):
    runs, jobs_per_s = capacity(port)
    record("submit_capacity", jobs_per_s, "jobs/s", {"window": WINDOW}, lower=False)
    for fraction in (0.1, 0.5, 0.9):
        rate = max(1, int(jobs_per_s * fraction))
        runs = [loadgen(port, "--rate", str(rate), "--ping", "100", "--warmup", str(WARMUP))
                for _ in range(REPEATS)]
        ping = median_of(runs, "ping_rtt_p50")
        params = {"load_fraction": fraction, "offered_per_s": rate,
                  "lost": sum(r.get("lost", 0) for r in runs),
                  "refused": sum(r.get("jobs_refused", 0) for r in runs),
                  "late_sends": sum(r.get("late_sends", 0) for r in runs)}
        for what in ("submit_to_ack", "submit_to_assignment"):
            for p in ("p50", "p99", "p999"):
                value = median_of(runs, f"{what}_{p}")
                if value is not None:
                    record(f"{what}_{p}", value, "us", params, "ping_rtt_p50", ping)


def packets(port):
    runs, _ = capacity(port)
    node_pps = median_of(runs, "port_packets_per_s")
    echo = [loadgen(port, "--ping-flood", str(WINDOW)) for _ in range(REPEATS)]
    echo_pps = median_of(echo, "echo_packets_per_s")
    record("packets_per_s", node_pps, "packets/s",
           {"window": WINDOW, "jobs_per_s": median_of(runs, "acked_per_s"),
            "packets_per_job": 5}, "echo_flood_packets_per_s", echo_pps, lower=False)


def main():
    if os.geteuid() != 0:
        print("skipped: needs root (memif sockets, DPDK)")
        return 77
    tmp = tempfile.mkdtemp(prefix="ubc-bench-loadgen-")
    proc = None
    try:
        proc, sock, port = start_node(tmp)
        SOCK[0] = sock
        wire_latency(port) if MODE == "wire-latency" else packets(port)
    finally:
        if proc is not None:
            subprocess.run([UBCCTL, "--socket", sock, "shutdown"], capture_output=True)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
