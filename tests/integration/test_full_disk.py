#!/usr/bin/env python3
"""A real full disk: ubcd's data directory on a 4 MiB tmpfs. Jobs are
submitted until the journal cannot grow; then the node must refuse new jobs
with the read-only reason, say so in `ubcctl status`, keep serving, and still
know every job it acknowledged.

The ledger's journal shares the full disk: after the stop, `ubc-journal audit` must still
replay it from genesis without a damaged record.

usage: test_full_disk.py UBCD UBCCTL UBC_CLIENT UBC_JOURNAL   (77: needs root and mount)
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

UBCD, UBCCTL, CLIENT, JOURNAL = sys.argv[1:5]
NS = f"ubc-full-{os.getpid()}"
OWNER = "c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1"
FUNDS = ["--set", f"ledger.genesis_account={OWNER}", "--set",
         "ledger.genesis_balance=1000000000000"]


def sh(*args):
    return subprocess.run(list(args), capture_output=True, text=True, timeout=120)


def submit(first, count):
    out = sh("ip", "netns", "exec", NS, CLIENT, "--node", "198.18.0.2:7400", "--json",
             "--owner", OWNER, "--retries", "2", "--timeout-ms", "1000", "submit", "--job", str(first),
             "--count", str(count), "--rate", "4000", "--tasks", "1", "--redundancy", "1")
    return [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]


def start(data):
    """ubcd on data, small segments so that a 4 MiB disk fills fast; returns (proc, sock)."""
    proc = subprocess.Popen(["ip", "netns", "exec", NS, UBCD, "--data-dir", data, *FUNDS, "--set",
                             "disk.segment_mib=1", "--set", "disk.batch_kib=64"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    sock = os.path.join(data, "ubcd.sock")
    check(wait_node(proc, sock, UBCCTL), "ubcd starts on the small disk")
    sh("ip", "-n", NS, "addr", "replace", "198.18.0.1/24", "dev", "ubc0")
    sh("ip", "-n", NS, "link", "set", "ubc0", "up")
    return proc, sock


def fill(limit):
    """Submits until the first read-only refusal; returns (acked, refused, unanswered)."""
    acked, refused, unanswered, first = set(), [], 0, 1
    while not refused and first < limit:
        for reply in submit(first, 2000):
            if reply.get("result") == "ack":
                acked.add(reply["id"])
            elif reply.get("error") == "read-only":
                refused.append(reply["id"])
            elif reply.get("result") == "timeout":
                unanswered += 1
        first += 2000
    return acked, refused, unanswered


def known_jobs(sock):
    return {j["job"] for j in json.loads(sh(UBCCTL, "--socket", sock, "--json", "jobs").stdout)}


def stop_and_audit(proc, sock, data, what):
    ledger = json.loads(sh(UBCCTL, "--socket", sock, "--json", "ledger", "stats").stdout)
    sh(UBCCTL, "--socket", sock, "shutdown")
    check(proc.wait(timeout=30) == 0, "the node still stops cleanly")
    audit = sh(JOURNAL, "audit", os.path.join(data, "ledger"), "--every", "0")
    check(audit.returncode == 0 and "audit OK" in audit.stdout,
          f"{what} audits clean ({ledger['batches_durable']} batches durable, "
          f"{ledger['batches_failed']} lost to the full disk): "
          f"{audit.stdout.strip().splitlines()[-1:]}")


def run(mount):
    data = os.path.join(mount, "node")
    os.mkdir(data)
    proc, sock = start(data)
    acked, refused, _ = fill(100000)
    check(len(acked) > 0 and len(refused) > 0, f"{len(acked)} jobs acknowledged, then "
          "refused with read-only once the disk was full")
    status = json.loads(sh(UBCCTL, "--socket", sock, "--json", "status").stdout)
    check(any("read-only" in alarm for alarm in status["alarms"]), "status shows the alarm")
    jobs = known_jobs(sock)
    check(acked <= jobs, f"every acknowledged job is still known ({len(acked)} acked, "
          f"{len(jobs)} listed, {len(acked - jobs)} missing)")
    again = submit(900000, 1)
    check(again and again[0].get("error") == "read-only", "new jobs keep being refused")
    stop_and_audit(proc, sock, data, "the ledger journal on the full disk")


def run_ledger_only(mount):
    """Only the ledger's journal fills (<data>/ledger is a link to the small tmpfs): the
    jobs whose escrow batch was lost are refused read-only rather than left waiting, new
    jobs are refused, every acknowledged job is still known, and the journal audits clean."""
    data = tempfile.mkdtemp(prefix="ubc-full-ledger-")
    ledger_dir = os.path.join(mount, "ledger")
    os.mkdir(ledger_dir)
    os.symlink(ledger_dir, os.path.join(data, "ledger"))
    proc, sock = start(data)
    acked, refused, unanswered = fill(200000)
    ledger = json.loads(sh(UBCCTL, "--socket", sock, "--json", "ledger", "stats").stdout)
    check(len(acked) > 0 and len(refused) > 0 and ledger["read_only"],
          f"ledger journal full: {len(acked)} jobs acknowledged, then refused read-only "
          f"(ledger read-only: {ledger['read_only']}, {ledger['batches_failed']} batches lost)")
    check(unanswered == 0, f"no job left without an answer ({unanswered} timed out)")
    check(acked <= known_jobs(sock),
          f"every acknowledged job is still known ({len(acked - known_jobs(sock))} missing)")
    stop_and_audit(proc, sock, data, "the full ledger journal")
    shutil.rmtree(data, ignore_errors=True)


def main():
    if os.geteuid() != 0 or shutil.which("ip") is None:
        print("skipped: needs root")
        return 77
    mount = tempfile.mkdtemp(prefix="ubc-full-")
    if sh("mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", mount).returncode != 0:
        print("skipped: cannot mount a tmpfs")
        return 77
    sh("ip", "netns", "add", NS)
    try:
        run(mount)
        sh("umount", mount)
        sh("mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", mount)
        run_ledger_only(mount)
    finally:
        sh("ip", "netns", "del", NS)
        sh("umount", mount)
        os.rmdir(mount)
    print(f"{len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
