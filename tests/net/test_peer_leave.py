#!/usr/bin/env python3
"""Integration: a node on a net_memif server port survives its peer leaving
mid-traffic, N times.

Each round starts ubc-loadgen (the memif client) on an ICMP echo flood (the
net role's busiest path: every frame is turned around on the lcore), lets it
run for a moment, then kills it with SIGKILL: the peer leaves mid-burst with
no goodbye, as a crashed or hostile client does. The node's memif driver
then tears the link down from its interrupt thread while the net lcore is
polling it (DPDK 22.11 unmaps the rings; docs/operations.md, "A peer leaving
a memif link"). After every round: ubcd is still running, and the next
client connects and is answered. At the end: the node's `ubcctl ports`
counts one link drop per round and its guard waited for the lcore each
time; a last normal load run is served in full.

usage: test_peer_leave.py UBCD UBCCTL UBC_LOADGEN [ROUNDS]   (77: skipped)
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from ubc_check import check, failures  # noqa: E402
from ubc_node_wait import wait_node  # noqa: E402

UBCD, UBCCTL, LOADGEN = sys.argv[1:4]
ROUNDS = int(sys.argv[4]) if len(sys.argv) > 4 else 10
OWNER = "c1" * 32


class NodeGone(Exception):
    pass


def ctl_json(sock, *args):
    out = subprocess.run([UBCCTL, "--socket", sock, "--json", *args], capture_output=True,
                         text=True, timeout=30)
    if out.returncode != 0:
        raise NodeGone(f"ubcctl {args}: {out.stderr.strip()}")
    return json.loads(out.stdout)


def start_node(data, memif):
    eal = ("--no-huge -m 512 --no-pci --no-shconf -l 0-1 --log-level=lib.*:warning "
           f"--vdev=net_memif0,role=server,socket={memif}")
    os.makedirs(data, exist_ok=True)
    log = open(os.path.join(data, "ubcd.log"), "w")
    proc = subprocess.Popen([
        UBCD, "--data-dir", data, "--set", f"eal.args={eal}", "--set", "net.port=net_memif0",
        "--set", f"ledger.genesis_account={OWNER}", "--set",
        "ledger.genesis_balance=1000000000000000"], stdout=log, stderr=subprocess.STDOUT)
    sock = os.path.join(data, "ubcd.sock")
    if wait_node(proc, sock, UBCCTL):
        return proc, sock
    print(open(os.path.join(data, "ubcd.log")).read())
    raise SystemExit("ubcd did not start")


def loadgen_cmd(memif, *args):
    return [LOADGEN, "--port", f"net_memif0,role=client,socket={memif}", "--json", *args]


def wait_link(sock, up, seconds=10.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if ctl_json(sock, "ports")[0]["link_up"] == up:
            return True
        time.sleep(0.05)
    return False


def kill_round(node, sock, memif, round_index):
    """One client that floods, then dies by SIGKILL mid-traffic."""
    # Even rounds: an open loop far beyond the node's capacity on 8192-slot
    # rings, so a slow backlog (decode, sched, journal) is still being read
    # when the client is gone: this is what crashed the unguarded node (an
    # owner without funds, or echo floods alone, did not in 16 to 20 rounds).
    # Odd rounds: an ICMP echo flood, 4096 in flight (the fast path).
    if round_index % 2 == 0:
        load = ["--rate", "200000", "--clients", "1000", "--providers", "4", "--first-job",
                str(1 + round_index * 10**7), "--provider-base", str(2000000 + round_index * 8)]
    else:
        load = ["--ping-flood", "4096"]
    flood = subprocess.Popen(loadgen_cmd(memif + ",rsize=13", *load, "--duration", "30",
                                         "--busy"),
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    linked = wait_link(sock, True)
    before = ctl_json(sock, "ports")[0]["rx_packets"]
    # Kill only once frames are flowing: the lcore is then inside its bursts.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and flood.poll() is None:
        if ctl_json(sock, "ports")[0]["rx_packets"] > before + 20000:
            break
        time.sleep(0.02)
    time.sleep(0.05 * (round_index % 4))  # vary where in the traffic it dies
    flood.send_signal(signal.SIGKILL)
    flood.wait()
    alive = node.poll() is None
    down = alive and wait_link(sock, False)
    check(linked and alive and down,
          f"round {round_index}: client killed mid-flood; node alive, link seen down")
    return alive


def loadgen_metrics(memif, *args):
    out = subprocess.run(loadgen_cmd(memif, *args), capture_output=True, text=True, timeout=120)
    metrics = {}
    for line in out.stdout.splitlines():
        if line.startswith("{"):
            record = json.loads(line)
            metrics[record["metric"]] = record["value"]
    sys.stdout.write(out.stderr[-1200:])
    return out.returncode, metrics


def final_checks(memif):
    """The node still serves a new client: its echo flood is answered, its
    providers register and every one of its submissions is answered (acked,
    or refused with a reason: the killed clients' orphan jobs hold up to
    the owner's quota, sched.quota_jobs_per_owner, until they time out)."""
    rc, m = loadgen_metrics(memif, "--ping-flood", "64", "--duration", "1")
    check(rc == 0 and m.get("echo_packets_per_s", 0) > 0,
          f"after {ROUNDS} killed clients, a new client's echo flood is answered "
          f"(rc {rc}, {m.get('echo_packets_per_s')} echoes/s)")
    rc, m = loadgen_metrics(memif, "--rate", "500", "--duration", "2", "--clients", "50",
                            "--providers", "4", "--ping", "20", "--timeout-ms", "5000",
                            "--first-job", "900000000", "--provider-base", "900000",
                            "--drain", "15")
    answered = m.get("jobs_acked", 0) + m.get("jobs_refused", 0)
    check(rc in (0, 1) and answered == 1000 and m.get("lost") == 0 and
          m.get("ping_rtt_p50", 0) > 0,
          f"after {ROUNDS} killed clients, a new client's 1000 jobs are all answered "
          f"(rc {rc}, acked {m.get('jobs_acked')}, refused {m.get('jobs_refused')}, lost "
          f"{m.get('lost')}, completed {m.get('jobs_completed')})")


def main():
    if os.geteuid() != 0:
        print("skipped: needs root (hugepage-free DPDK still wants /dev access)")
        return 77
    tmp = tempfile.mkdtemp(prefix="ubc-peer-leave-")
    memif = os.path.join(tmp, "memif.sock")
    node, sock = start_node(os.path.join(tmp, "data"), memif)
    try:
        before = ctl_json(sock, "ports")[0]
        for r in range(ROUNDS):
            try:
                if not kill_round(node, sock, memif, r):
                    break
            except NodeGone as gone:
                check(False, f"round {r}: the node answers its admin socket ({gone})")
                break
        if node.poll() is None:
            port = ctl_json(sock, "ports")[0]
            guard = port.get("peer_guard", {})
            drops = port.get("link_downs", 0) - before.get("link_downs", 0)
            check(drops == ROUNDS, f"ubcctl ports: link_downs {drops} (want {ROUNDS})")
            check(guard.get("hooked") is True, "the memif driver's teardown is guarded")
            check(guard.get("grace_periods", 0) >= ROUNDS,
                  f"the driver's teardown checked the net lcore: {guard.get('grace_periods')} "
                  f"grace periods, {guard.get('grace_waits')} found it inside a burst "
                  f"(longest wait {guard.get('grace_wait_us_max')} us)")
            final_checks(memif)
        check(node.poll() is None, "ubcd never crashed")
    finally:
        if node.poll() is None:
            node.send_signal(signal.SIGTERM)
            try:
                node.wait(timeout=30)
            except subprocess.TimeoutExpired:
                node.kill()
        else:
            print(open(os.path.join(tmp, "data", "ubcd.log")).read()[-3000:])
            print(f"ubcd exited with {node.returncode}")
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"{len(failures)} failed" if failures else "all passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
