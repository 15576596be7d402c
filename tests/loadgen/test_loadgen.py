#!/usr/bin/env python3
"""Integration: ubc-loadgen drives a real ubcd over a DPDK link and its figures
agree with the node's own counters.

LINK memif: the node owns a net_memif server port, the loadgen the client end
(no kernel on the path). LINK veth: a veth pair in a private network
namespace, net_af_packet on each end (the kernel's path). For each: providers
register, jobs are submitted at an open-loop rate, every job is acknowledged,
assigned, run, reported and completed, nothing is lost, and the node's
sched-stats and port counters match the loadgen's; then a run whose owner has
no funds is refused, counted by reason.

usage: test_loadgen.py UBCD UBCCTL UBC_LOADGEN memif|veth   (77: skipped)
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from ubc_check import check, failures  # noqa: E402
from ubc_node_wait import wait_node  # noqa: E402

UBCD, UBCCTL, LOADGEN, LINK = sys.argv[1:5]
OWNER = "c1" * 32
RATE, SECONDS, PROVIDERS, CLIENTS = 2000, 3, 8, 500


def ctl_json(sock, *args):
    out = subprocess.run([UBCCTL, "--socket", sock, "--json", *args], capture_output=True,
                         text=True, timeout=30)
    assert out.returncode == 0, f"ubcctl {args}: {out.stderr}"
    return json.loads(out.stdout)


class Link:
    """The node's and the loadgen's port, and the command prefix they run under."""

    def __init__(self, kind, tmp):
        self.kind, self.ns = kind, None
        if kind == "memif":
            sock = os.path.join(tmp, "memif.sock")  # abstract socket name: unique per test
            self.node_port = f"net_memif0,role=server,socket={sock}"
            self.loadgen_port = f"net_memif0,role=client,socket={sock}"
            self.prefix = []
        else:
            self.ns = f"ubc-lg-{os.getpid()}"
            subprocess.run(["ip", "netns", "add", self.ns], check=True)
            subprocess.run(["ip", "-n", self.ns, "link", "add", "lgnode", "type", "veth", "peer",
                            "name", "lggen"], check=True)
            for dev in ("lgnode", "lggen"):
                # No IPv6 on the pair: the kernel's own solicitations would
                # make the frame counts differ from the loadgen's.
                subprocess.run(["ip", "netns", "exec", self.ns, "sysctl", "-qw",
                                f"net.ipv6.conf.{dev}.disable_ipv6=1"], check=True)
                subprocess.run(["ip", "-n", self.ns, "link", "set", dev, "up"], check=True)
            self.node_port = "net_af_packet0,iface=lgnode"
            self.loadgen_port = "net_af_packet0,iface=lggen"
            self.prefix = ["ip", "netns", "exec", self.ns]

    def close(self):
        if self.ns:
            subprocess.run(["ip", "netns", "del", self.ns])


def start_node(link, data):
    eal = ("--no-huge -m 512 --no-pci --no-shconf -l 0-1 --log-level=lib.*:warning "
           f"--vdev={link.node_port}")
    os.makedirs(data, exist_ok=True)
    log = open(os.path.join(data, "ubcd.log"), "w")
    proc = subprocess.Popen(link.prefix + [
        UBCD, "--data-dir", data, "--set", f"eal.args={eal}", "--set",
        f"net.port={link.node_port.split(',')[0]}", "--set", f"ledger.genesis_account={OWNER}",
        "--set", "ledger.genesis_balance=1000000000000000", "--set",
        "sched.quota_jobs_per_owner=100000"], stdout=log, stderr=subprocess.STDOUT)
    sock = os.path.join(data, "ubcd.sock")
    if wait_node(proc, sock, UBCCTL):
        return proc, sock
    print(open(os.path.join(data, "ubcd.log")).read())
    raise SystemExit("ubcd did not start")


def loadgen(link, *args):
    """Runs the loadgen; returns (exit code, {metric: value})."""
    # Long timeout and drain: on a loaded 2-core machine a reply can take
    # seconds; the drain ends as soon as everything is answered.
    out = subprocess.run(link.prefix + [LOADGEN, "--port", link.loadgen_port, "--json",
                                        "--label", link.kind, "--timeout-ms", "5000",
                                        "--drain", "15", *args],
                         capture_output=True, text=True, timeout=60)
    sys.stdout.write(out.stderr[-2500:])
    metrics = {}
    for line in out.stdout.splitlines():
        if line.startswith("{"):
            record = json.loads(line)
            metrics[record["metric"]] = record["value"]
    return out.returncode, metrics


def test_load(link, sock):
    rc, m = loadgen(link, "--rate", str(RATE), "--duration", str(SECONDS), "--clients",
                    str(CLIENTS), "--providers", str(PROVIDERS), "--work-ms", "2", "--ping", "20",
                    "--first-job", "1000")
    check(rc == 0, f"ubc-loadgen exits 0 (got {rc})")
    submitted = m.get("jobs_submitted", 0)
    check(abs(submitted - RATE * SECONDS) <= 1, f"open loop: {submitted} jobs sent at {RATE}/s")
    check(m.get("jobs_acked") == submitted, "every job acknowledged")
    check(m.get("assignments") == submitted, "every job assigned to one of our providers")
    check(m.get("results_acked") == submitted, "every task result accepted")
    check(m.get("jobs_completed") == submitted, "every job reported completed by the node")
    check(m.get("lost") == 0 and m.get("jobs_unassigned") == 0, "no lost or missing reply")
    check(m.get("submit_to_ack_p50", 0) > 0 and m.get("submit_to_assignment_p99", 0) > 0,
          "latency percentiles reported")
    check(m.get("ping_rtt_p50", 0) > 0, "the node answered the loadgen's pings")
    stats = ctl_json(sock, "sched-stats")
    check(stats["jobs_submitted"] == submitted and stats["jobs_accepted"] == submitted,
          f"node: {stats['jobs_submitted']} submitted, {stats['jobs_accepted']} accepted")
    check(stats["results"] == submitted, f"node: {stats['results']} results")
    finished = sum(stats["jobs_by_state"].get(s, 0) for s in ("completed", "validated"))
    check(finished == submitted, f"node: {finished} jobs completed or validated")
    check(stats["providers"]["total"] == 0, "providers deregistered at the end")
    q = ctl_json(sock, "ports")[0]["queues"][0]
    check(q["rx_packets"] == m.get("tx_frames"),
          f"node received what the loadgen sent ({q['rx_packets']} / {m.get('tx_frames')})")
    check(q["tx_packets"] == m.get("rx_frames"),
          f"loadgen received what the node sent ({m.get('rx_frames')} / {q['tx_packets']})")
    return submitted


def test_refusals(link, sock, first_job):
    rc, m = loadgen(link, "--rate", "200", "--duration", "1", "--clients", "10", "--providers",
                    "1", "--owner", "ab" * 32, "--first-job", str(first_job))
    check(rc == 0, f"refused run exits 0: nothing lost (got {rc})")
    check(m.get("jobs_submitted") == 200 and m.get("refused_funds") == 200,
          f"jobs of an owner without funds refused 'funds' ({m.get('refused_funds')})")
    admission = ctl_json(sock, "stats")["admission"]
    check(admission["refused_escrow"] == 200,
          f"node: {admission['refused_escrow']} jobs refused for their escrow")
    # The scheduler may place a job before the ledger answers its escrow; the
    # sched role holds the assignments until then, and drops them on a refusal.
    check(m.get("assignments", 0) == 0 and m.get("jobs_completed", 0) == 0,
          f"no provider received or ran a refused job ({m.get('assignments')} assigned, "
          f"{m.get('jobs_completed')} completed; node dropped "
          f"{admission['assignments_dropped']})")


def main():
    if os.geteuid() != 0 or (LINK == "veth" and shutil.which("ip") is None):
        print("skipped: needs root (and iproute2 for veth)")
        return 77
    tmp = tempfile.mkdtemp(prefix="ubc-lg-test-")
    link = Link(LINK, tmp)
    proc = None
    try:
        proc, sock = start_node(link, os.path.join(tmp, "data"))
        submitted = test_load(link, sock)
        test_refusals(link, sock, 1000 + submitted)
        subprocess.run([UBCCTL, "--socket", sock, "shutdown"], capture_output=True)
        check(proc.wait(timeout=20) == 0, "ubcd stops cleanly")
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
        link.close()
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"{len(failures)} failure(s)" if failures else "all checks passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
