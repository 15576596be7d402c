#!/usr/bin/env python3
"""perf/node wire-latency: what a client on the other side of the link sees.

Starts ubcd on its net_tap port in a private network namespace with eight
provider agents, measures the node's capacity for job submissions (a closed
loop, 256 requests in flight), then offers open-loop load at 10%, 50% and 90%
of it and reports submit-to-ack latency p50/p99/p99.9 as the client measures
it: across the kernel's UDP stack and the tap link, through the net role,
the scheduler, the journal (the ACK waits for the record to be durable) and
the ledger (and for the escrow). The baseline, measured in the same run, is
the link itself: a ping's round trip through the same port.
Writes JSON Lines (common/ubc_bench.h schema). UBC_BENCH_QUICK=1: short.

usage: bench_wire_latency.py UBCD UBCCTL UBC_CLIENT      (77: needs root)
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import ubc_bench  # noqa: E402 (perf/ubc_bench.py: the result schema)
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests"))
from ubc_node_wait import wait_node  # noqa: E402

UBCD, UBCCTL, CLIENT = sys.argv[1:4]
QUICK = ubc_bench.QUICK
NS = f"ubc-bench-wire-{os.getpid()}"
NODE = "198.18.0.2"
OWNER = "c1" * 32
SECONDS = 1 if QUICK else 4


def emit(record):
    ubc_bench.emit("wire", record)


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(p / 100 * len(values)))]


def submit(first, count, rate):
    """Returns (acked latencies in us, replies, seconds)."""
    start = time.monotonic()
    out = subprocess.run(["ip", "netns", "exec", NS, CLIENT, "--node", f"{NODE}:7400", "--json",
                          "--owner", OWNER, "--retries", "0", "--timeout-ms", "2000", "submit",
                          "--job", str(first), "--count", str(count), "--rate", str(rate),
                          "--tasks", "1", "--redundancy", "1", "--cpu", "100", "--mem", "64",
                          "--work-ms", "1"], capture_output=True, text=True).stdout
    elapsed = time.monotonic() - start
    replies = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    return [r["latency_us"] for r in replies if r["result"] == "ack"], replies, elapsed


def ping_rtts():
    out = subprocess.run(["ip", "netns", "exec", NS, "ping", "-c", "20", "-i", "0.01", "-W", "1",
                          NODE], capture_output=True, text=True).stdout
    return [float(l.split("time=")[1].split()[0]) * 1000 for l in out.splitlines() if "time=" in l]


def start(data):
    proc = subprocess.Popen(["ip", "netns", "exec", NS, UBCD, "--data-dir", data, "--set",
                             f"ledger.genesis_account={OWNER}", "--set",
                             "ledger.genesis_balance=1000000000000000", "--set",
                             "sched.quota_jobs_per_owner=100000", "--set",
                             "sched.max_jobs=100000"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    sock = os.path.join(data, "ubcd.sock")
    wait_node(proc, sock, UBCCTL)
    subprocess.run(["ip", "-n", NS, "addr", "add", "198.18.0.1/24", "dev", "ubc0"])
    subprocess.run(["ip", "-n", NS, "link", "set", "ubc0", "up"])
    agents = [subprocess.Popen(["ip", "netns", "exec", NS, CLIENT, "--node", f"{NODE}:7400",
                                "provider", "--id", str(i), "--operator", str(i), "--cpu",
                                "1000000", "--mem", "1000000", "--heartbeat-ms", "200",
                                "--work-ms", "1"], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL) for i in range(1, 9)]
    time.sleep(1)
    return proc, sock, agents


def measure():
    rtts = ping_rtts()
    _, replies, elapsed = submit(1, 2000 if QUICK else 20000, 0)
    capacity = sum(1 for r in replies if r["result"] == "ack") / elapsed
    emit({"harness": "wire", "metric": "submit_capacity", "value": capacity, "unit": "jobs/s",
          "params": {"in_flight": 256, "link": "net_tap"}, "baseline": None,
          "baseline_value": None, "ratio": None, "samples": 1})
    link = percentile(rtts, 50) if rtts else float("nan")
    first = 1000000
    for fraction in (0.1, 0.5, 0.9):
        rate = max(1, int(capacity * fraction))
        acked, replies, _ = submit(first, rate * SECONDS, rate)
        first += rate * SECONDS + 1
        if not acked:
            continue
        for name, p in (("p50", 50), ("p99", 99), ("p999", 99.9)):
            value = percentile(acked, p)
            emit({"harness": "wire", "metric": f"submit_to_ack_{name}", "value": value,
                  "unit": "us", "params": {"load_fraction": fraction, "offered_per_s": rate,
                                           "acked": len(acked), "replies": len(replies)},
                  "baseline": "ping_rtt_p50", "baseline_value": link,
                  "ratio": link / value if value else None, "samples": len(acked)})


def main():
    if os.geteuid() != 0 or shutil.which("ip") is None or shutil.which("ping") is None:
        print("skipped: needs root, iproute2 and ping")
        return 77
    data = tempfile.mkdtemp(prefix="ubc-bench-wire-")
    subprocess.run(["ip", "netns", "add", NS], check=True)
    proc, sock, agents = start(data)
    try:
        measure()
    finally:
        for agent in agents:
            agent.kill()
        subprocess.run([UBCCTL, "--socket", sock, "shutdown"], capture_output=True)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        subprocess.run(["ip", "netns", "del", NS])
        shutil.rmtree(data, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
