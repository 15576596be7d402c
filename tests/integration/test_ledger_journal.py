#!/usr/bin/env python3
"""The ledger's journal: what the ledger answered survives a restart, and anyone can audit it.

A node with a funded genesis key applies signed operations (ubcctl ledger submit, answered
only once their batch is durable), stops; `ubc-journal audit <data>/ledger` replays the journal
from genesis and must reach the node's height and state hash; a restart rebuilds the same
ledger; a restart under another genesis is refused with a reason; a flipped byte in the
journal fails the audit.

usage: test_ledger_journal.py UBCD UBCCTL UBC_JOURNAL UBC_LEDGER_OP   (77: needs root)
"""
import glob
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

UBCD, UBCCTL, JOURNAL, LEDGER_OP = sys.argv[1:5]
NS = f"ubc-ljournal-{os.getpid()}"


def sh(*args):
    return subprocess.run(list(args), capture_output=True, text=True, timeout=60)


def keygen():
    out = sh(LEDGER_OP, "keygen").stdout.split()
    return out[1], out[3]


def start(data, genesis, balance):
    log = open(os.path.join(data, "ubcd.log"), "a")
    proc = subprocess.Popen(["ip", "netns", "exec", NS, UBCD, "--data-dir", data, "--set",
                             f"ledger.genesis_account={genesis}", "--set",
                             f"ledger.genesis_balance={balance}"],
                            stdout=log, stderr=subprocess.STDOUT)
    sock = os.path.join(data, "ubcd.sock")
    return proc, sock if wait_node(proc, sock, UBCCTL) else None


def ctl_json(sock, *args):
    out = sh(UBCCTL, "--socket", sock, "--json", *args)
    assert out.returncode == 0, f"ubcctl {args}: {out.stderr}"
    return json.loads(out.stdout)


def stop(proc, sock):
    sh(UBCCTL, "--socket", sock, "shutdown")
    return proc.wait(timeout=30)


def summary_hash_bytes(summary):
    """ubcctl prints the state hash as two u64 words; the journal holds their bytes."""
    h = summary["state_hash"]
    return (int(h[:16], 16).to_bytes(8, "little") + int(h[16:], 16).to_bytes(8, "little")).hex()


def apply_ops(sock, public, secret):
    other, other_secret = keygen()
    created = sh(LEDGER_OP, "sign", "--kind", "create-account", "--account", other, "--nonce",
                 "1", "--secret", other_secret).stdout.strip()
    results = [ctl_json(sock, "ledger", "submit", f"op={created}")["result"]]
    for nonce, (kind, extra) in enumerate([("transfer", ["--to", other, "--amount", "5000"]),
                                           ("stake", ["--amount", "100000"]),
                                           ("burn", ["--amount", "77"]),
                                           ("transfer", ["--to", other, "--amount", "1"])], 1):
        op = sh(LEDGER_OP, "sign", "--kind", kind, "--account", public, "--nonce", str(nonce),
                "--secret", secret, *extra).stdout.strip()
        results.append(ctl_json(sock, "ledger", "submit", f"op={op}")["result"])
    return results


def audit(data):
    return sh(JOURNAL, "audit", os.path.join(data, "ledger"), "--every", "1")


def main():
    if os.geteuid() != 0 or shutil.which("ip") is None:
        print("skipped: needs root and iproute2")
        return 77
    data = tempfile.mkdtemp(prefix="ubc-ljournal-")
    sh("ip", "netns", "add", NS)
    public, secret = keygen()
    try:
        proc, sock = start(data, public, 10**12)
        check(sock is not None, "ubcd starts with a funded genesis key")
        results = apply_ops(sock, public, secret)
        check(results == ["ok"] * 5, f"five signed operations applied once durable: {results}")
        before = ctl_json(sock, "ledger")
        check(stop(proc, sock) == 0, "ubcd stops")
        out = audit(data)
        check(out.returncode == 0 and "audit OK" in out.stdout,
              f"ubc-journal audit replays the journal from genesis: {out.stdout[-200:]}")
        final = [line for line in out.stdout.splitlines() if line.startswith("final")]
        check(len(final) == 1 and f"height {before['height']} " in final[0]
              and summary_hash_bytes(before) in final[0],
              "the audit reaches the node's height and state hash")
        check(out.stdout.count("checkpoint batch") >= 5, "a checkpoint per batch with --every 1")
        proc, sock = start(data, public, 10**12)
        after = ctl_json(sock, "ledger")
        check(after["height"] == before["height"] and after["state_hash"] == before["state_hash"]
              and after["supply"] == before["supply"],
              "a restart rebuilds the same ledger from its journal")
        stop(proc, sock)
        proc, sock = start(data, public, 10**12 + 1)
        log = open(os.path.join(data, "ubcd.log")).read()
        check(sock is None and proc.wait(timeout=30) != 0 and "another genesis" in log,
              "a restart under another genesis is refused, saying why")
        segment = sorted(glob.glob(os.path.join(data, "ledger", "*")))
        segment = [s for s in segment if os.path.isfile(s) and os.path.getsize(s) > 8192]
        with open(segment[0], "r+b") as f:
            f.seek(4096 + 200)
            byte = f.read(1)
            f.seek(4096 + 200)
            f.write(bytes([byte[0] ^ 0x40]))
        out = audit(data)
        check(out.returncode == 1, f"a flipped byte fails the audit: {out.stdout.strip()[-160:]}")
    finally:
        sh("ip", "netns", "del", NS)
        shutil.rmtree(data, ignore_errors=True)
    print(f"{len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
