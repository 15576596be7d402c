#!/usr/bin/env python3
"""Crash test: every job the node acknowledged survives kill -9.

Each round starts ubcd on a journal that survives across rounds, submits
jobs from ubc-client (no providers: the jobs stay queued), kills the node
with SIGKILL at a random moment while submissions are in flight, restarts
it, and checks that every job the client saw acknowledged, in this round
and all earlier ones, is known to the node again (`ubcctl jobs`), and that
the ledger, rebuilt from its own journal, holds one escrow per known job with
its supply conserved.

Ledger checkpoints every 40 batches and 1 MiB segments make checkpoints (and the
retirement of ledger segments into the archive) happen between and during kills; at
the end `ubc-journal audit` replays the archive and the live journal from genesis and
must reach the node's height and state hash.

usage: test_crash.py UBCD UBCCTL UBC_CLIENT UBC_JOURNAL [ROUNDS]   (77: needs root)
"""
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from ubc_node_wait import wait_node  # noqa: E402

UBCD, UBCCTL, CLIENT, JOURNAL = sys.argv[1:5]
ROUNDS = int(sys.argv[5]) if len(sys.argv) > 5 else 5
NS = f"ubc-crash-{os.getpid()}"
NODE_IP = "198.18.0.2"
# The clients' account, credited at genesis so that their jobs can be escrowed.
OWNER = "c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1"
FUNDS = ["--set", f"ledger.genesis_account={OWNER}", "--set",
         "ledger.genesis_balance=1000000000000"]
# More config for a variant, e.g. "disk.chain_offload=true roles.chain=1".
EXTRA = [arg for item in os.environ.get("UBC_TEST_NODE_SETS", "").split()
         for arg in ("--set", item)]
OFFLOADED = []  # the jobs journal's batches chained by the chain role, per round
RECYCLED = []  # segments reused (disk.recycle_segments, the default), per round


def sh(*args, **kw):
    return subprocess.run(list(args), capture_output=True, text=True, timeout=60, **kw)


def start(data):
    # Snapshots every 150 records, so that kills land before, during and after
    # them and recovery starts from a snapshot as often as from the journal.
    proc = subprocess.Popen(["ip", "netns", "exec", NS, UBCD, "--data-dir", data, *FUNDS, "--set",
                             "disk.snapshot_records=150", "--set", "disk.segment_mib=1",
                             "--set", "ledger.checkpoint_batches=40", *EXTRA],
                            stdout=open(os.path.join(data, "ubcd.log"), "a"),
                            stderr=subprocess.STDOUT)
    sock = os.path.join(data, "ubcd.sock")
    if wait_node(proc, sock, UBCCTL):
        sh("ip", "-n", NS, "addr", "replace", "198.18.0.1/24", "dev", "ubc0")
        sh("ip", "-n", NS, "link", "set", "ubc0", "up")
        return proc, sock
    sys.stdout.write(open(os.path.join(data, "ubcd.log")).read())
    raise SystemExit("ubcd did not start")


def known_jobs(sock):
    out = sh(UBCCTL, "--socket", sock, "--json", "jobs")
    return {job["job"] for job in json.loads(out.stdout)}


def ledger_matches_jobs(sock, round_number, heights):
    """The ledger came back from its own journal: supply conserved, and every
    job the node knows holds exactly one escrow (no provider ran any), none
    locked twice and none for a job that is gone. The locks of jobs that were
    journaled but never acknowledged are re-sent at start: wait for them."""
    for _ in range(50):
        jobs = known_jobs(sock)
        ledger = json.loads(sh(UBCCTL, "--socket", sock, "--json", "ledger").stdout)
        if ledger["escrows"] == len(jobs):
            break
        time.sleep(0.1)
    supply = json.loads(sh(UBCCTL, "--socket", sock, "--json", "ledger", "supply").stdout)
    # What was durable after the last start is durable now: the height never goes back.
    ok = (ledger["escrows"] == len(jobs) and supply["conserved"] and supply["scan_matches"]
          and ledger["height"] >= max(heights, default=0))
    if not ok:
        print(f"round {round_number}: ledger escrows {ledger['escrows']} for {len(jobs)} jobs, "
              f"height {ledger['height']} after {heights[-1:]}, supply {supply}")
    heights.append(ledger["height"])
    return ok


def audit_matches(data, summary):
    """Checkpoints retired ledger segments into the archive; the audit still starts at
    genesis and reaches the node's last height and state hash."""
    live = set(os.listdir(os.path.join(data, "ledger")))
    archived = set(os.listdir(os.path.join(data, "ledger-archive")))
    out = sh(JOURNAL, "audit", os.path.join(data, "ledger"), "--every", "0")
    h = summary["state_hash"]
    state = (int(h[:16], 16).to_bytes(8, "little") + int(h[16:], 16).to_bytes(8, "little")).hex()
    final = [line for line in out.stdout.splitlines() if line.startswith("final")]
    ok = (out.returncode == 0 and "audit OK" in out.stdout and len(final) == 1
          and f"height {summary['height']} " in final[0] and state in final[0])
    print(f"audit: {len(archived - live)} segments only in the archive, {len(live)} live; "
          f"{(final or [out.stdout.strip()[-200:]])[0]}")
    return ok and len(archived - live) > 0


def one_round(data, round_number, acked, heights, rng):
    proc, sock = start(data)
    missing = acked - known_jobs(sock)
    if missing:
        print(f"round {round_number}: {len(missing)} acknowledged jobs lost: "
              f"{sorted(missing)[:10]}")
        return False
    if not ledger_matches_jobs(sock, round_number, heights):
        return False
    first = 1 + round_number * 100000
    client = subprocess.Popen(["ip", "netns", "exec", NS, CLIENT, "--node", f"{NODE_IP}:7400",
                               "--json", "--owner", OWNER, "--timeout-ms", "300", "--retries",
                               "0", "submit",
                               "--job", str(first), "--count", "400", "--rate", "400",
                               "--tasks", "1", "--redundancy", "1"],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    time.sleep(rng.uniform(0.1, 0.9))
    stats = json.loads(sh(UBCCTL, "--socket", sock, "--json", "stats").stdout or "{}")
    journal = stats.get("disk", {}).get("journal", {})
    OFFLOADED.append(journal.get("chain_batches_offloaded", 0))
    RECYCLED.append(journal.get("segments_recycled", 0))
    proc.kill()  # SIGKILL: no drain, no clean close
    proc.wait()
    out, _ = client.communicate(timeout=60)
    for line in out.splitlines():
        reply = json.loads(line)
        if reply.get("result") == "ack":
            acked.add(reply["id"])
    print(f"round {round_number}: killed with {len(acked)} jobs acknowledged so far", flush=True)
    return True


def main():
    if os.geteuid() != 0 or shutil.which("ip") is None:
        print("skipped: needs root and iproute2")
        return 77
    rng = random.Random(int(os.environ.get("UBC_TEST_SEED", "7")))
    data = tempfile.mkdtemp(prefix="ubc-crash-")
    sh("ip", "netns", "add", NS)
    acked = set()
    heights = []
    ok = True
    try:
        for round_number in range(ROUNDS):
            ok = one_round(data, round_number, acked, heights, rng) and ok
        proc, sock = start(data)
        missing = acked - known_jobs(sock)
        ok = ok and not missing and len(acked) > 0 and ledger_matches_jobs(sock, ROUNDS, heights)
        print(f"final: {len(acked)} acknowledged, {len(missing)} missing after {ROUNDS} kills; "
              f"ledger heights after each start {heights}")
        summary = json.loads(sh(UBCCTL, "--socket", sock, "--json", "ledger").stdout)
        sh(UBCCTL, "--socket", sock, "shutdown")
        proc.wait(timeout=20)
        ok = audit_matches(data, summary) and ok
        print(f"segments reused, per round: {RECYCLED}")
        if "disk.chain_offload=true" in EXTRA:
            # Informational: with nothing in flight the disk role chains the
            # next batch itself (lower latency), so on a loaded machine the
            # chain role may get none; journal_chain tests the chainer.
            print(f"batches chained by the chain role, per round: {OFFLOADED}")
    finally:
        sh("ip", "netns", "del", NS)
        shutil.rmtree(data, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
