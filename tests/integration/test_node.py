#!/usr/bin/env python3
"""Integration: ubcd on a net_tap port in a private network namespace, driven
through ubcctl and real packets from the namespace's kernel stack.

usage: test_node.py UBCD UBCCTL UBC_CLIENT UBC_LEDGER_OP   (77: skipped, needs root and ip)
"""
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from ubc_check import check, failures  # noqa: E402
from ubc_node_wait import wait_node  # noqa: E402

UBCD, UBCCTL, CLIENT, LEDGER_OP = sys.argv[1:5]
GUARDIAN_ACCOUNT = "dd" * 32  # the node's guardian multisig account id
NS = f"ubc-itest-{os.getpid()}"
NODE_IP, HOST_IP = "198.18.0.2", "198.18.0.1"
# The clients' account, credited at genesis so that their jobs can be escrowed.
OWNER = "c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1"
FUNDS = ["--set", f"ledger.genesis_account={OWNER}", "--set",
         "ledger.genesis_balance=1000000000000"]


def sh(*args, **kw):
    return subprocess.run(list(args), capture_output=True, text=True, timeout=30, **kw)


def ctl(sock, *args, user=None):
    cmd = [UBCCTL, "--socket", sock, *args]
    if user is not None:
        cmd = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups", *cmd]
    return sh(*cmd)


def ctl_json(sock, *args):
    result = ctl(sock, "--json", *args)
    assert result.returncode == 0, f"ubcctl {args}: {result.stderr}"
    return json.loads(result.stdout)


def guardian_keys():
    out = sh(LEDGER_OP, "keygen").stdout.split()
    return out[1], out[3]  # public, secret


GUARDIAN_PUBLIC, GUARDIAN_SECRET = guardian_keys()


def start_node(data, *extra):
    log = open(os.path.join(data, "ubcd.log"), "w")
    proc = subprocess.Popen(["ip", "netns", "exec", NS, UBCD, "--data-dir", data, *FUNDS, "--set",
                             f"ledger.guardian_key={GUARDIAN_PUBLIC}", *extra],
                            stdout=log, stderr=subprocess.STDOUT)
    sock = os.path.join(data, "ubcd.sock")
    if wait_node(proc, sock, UBCCTL):
        return proc, sock
    print(open(os.path.join(data, "ubcd.log")).read())
    raise SystemExit("ubcd did not start")


def queue0(sock):
    return ctl_json(sock, "ports")[0]["queues"][0]


def test_packets(sock):
    sh("ip", "-n", NS, "addr", "add", f"{HOST_IP}/24", "dev", "ubc0")
    sh("ip", "-n", NS, "link", "set", "ubc0", "up")
    ping = sh("ip", "netns", "exec", NS, "ping", "-c", "3", "-i", "0.2", "-W", "2", NODE_IP)
    check(ping.returncode == 0, "the node answers ARP and ping through DPDK")
    q = queue0(sock)
    check(q["arp_replies"] >= 1 and q["icmp_replies"] >= 3, "ARP and ICMP replies counted")
    probe = ("import socket,struct,sys\n"
             "s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.settimeout(2)\n"
             "for i in range(5): s.sendto(b'noise'*8,(sys.argv[1],7400))\n"
             "s.sendto(b'x',(sys.argv[1],7401))\n"
             "h=struct.pack('<IBBHHH',0x57434255,1,0,99,0,0)+bytes(28)\n"
             "s.sendto(h,(sys.argv[1],7400))\n"
             "d,_=s.recvfrom(2048); print(d.hex())\n")
    out = sh("ip", "netns", "exec", NS, "python3", "-c", probe, NODE_IP)
    check(out.returncode == 0, "a UBC sender with an unknown type gets an answer")
    reply = bytes.fromhex(out.stdout.strip()) if out.returncode == 0 else b""
    if len(reply) >= 56:
        magic, _, _, mtype = struct.unpack_from("<IBBH", reply, 0)
        error = struct.unpack_from("<H", reply, 48)[0]
        check(magic == 0x57434255 and mtype == 33 and error == 3,
              "the answer is a refusal with error unknown-type")
    q = queue0(sock)
    check(q["drops"]["wire"]["bad-magic"] == 5, "noise on the UBC port counted as bad-magic")
    check(q["drops"]["frame"]["udp-port"] == 1, "a datagram to another port counted")
    check(q["refusals_sent"] == 1, "one refusal sent")
    port = ctl_json(sock, "status")["port"]
    check(port["rx_packets"] > 0 and port["tx_packets"] > 0, "status shows port counters")
    test_malformed(sock)


def test_malformed(sock):
    """Every class of bad datagram is refused with its code and counted, a
    reply-type message is never answered, and the node keeps serving."""
    bad = sh("ip", "netns", "exec", NS, CLIENT, "--node", f"{NODE_IP}:7400", "malformed")
    check(bad.returncode == 0, "ubc-client malformed: every decode failure refused with its code")
    wire = queue0(sock)["drops"]["wire"]
    check(sum(1 for count in wire.values() if count > 0) >= 8,
          f"the node counts each class of bad datagram ({sum(wire.values())} in "
          f"{sum(1 for c in wire.values() if c)} classes)")
    probe = ("import socket,struct,sys\n"
             "s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.settimeout(0.5)\n"
             "h=struct.pack('<IBBHHHIQQQ',0x57434255,1,0,32,0,16,0,1,0,1)+bytes(16)\n"
             "s.sendto(h,(sys.argv[1],7400))\n"
             "try:\n  s.recvfrom(2048); print('answered')\n"
             "except socket.timeout:\n  print('silent')\n")
    out = sh("ip", "netns", "exec", NS, "python3", "-c", probe, NODE_IP)
    check(out.stdout.strip() == "silent", "an ack sent to the node is not answered (no reflection)")
    check(ctl(sock, "status").returncode == 0, "the node keeps serving after bad input")


def client(*args, wait=True):
    cmd = ["ip", "netns", "exec", NS, CLIENT, "--node", f"{NODE_IP}:7400", "--json", "--owner",
           OWNER, *args]
    if wait:
        return sh(*cmd)
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def test_jobs_end_to_end(sock):
    """Providers and a client on kernel sockets; jobs go through DPDK, the
    scheduler places them, providers run them and report, they validate."""
    agents = [client("provider", "--id", str(i), "--operator", str(i), "--cpu", "4000",
                     "--mem", "8192", "--heartbeat-ms", "100", "--work-ms", "50",
                     "--duration-s", "8", wait=False) for i in (1, 2)]
    try:
        time.sleep(1.0)
        submit = client("submit", "--job", "500", "--count", "5", "--tasks", "2",
                        "--redundancy", "2", "--cpu", "1000", "--mem", "1024", "--work-ms", "50")
        check(submit.returncode == 0, "five jobs submitted and acknowledged")
        validated = []
        for _ in range(50):
            validated = ctl_json(sock, "jobs", "state=validated")
            if len(validated) == 5:
                break
            time.sleep(0.2)
        check(len(validated) == 5, "all five jobs placed, run, reported and validated")
        providers = ctl_json(sock, "providers")
        check(len(providers) == 2 and all(p["health"] == "up" for p in providers),
              "both providers registered and up")
        stats = ctl_json(sock, "sched-stats")
        check(stats["decisions"] >= 20, "the scheduler counts its placements")
        poor = sh("ip", "netns", "exec", NS, CLIENT, "--node", f"{NODE_IP}:7400", "--json",
                  "--owner", "0d" * 32, "--retries", "0", "submit", "--job", "700")
        check(poor.returncode != 0 and '"funds"' in poor.stdout,
              "a job whose owner cannot pay its escrow is refused: funds")
        ledger = ctl_json(sock, "ledger", "supply")
        check(ledger["conserved"] and ledger["scan_matches"] and ledger["escrowed"] == 0,
              "the ledger's supply is conserved; the refused job holds no escrow")
        admission = ctl_json(sock, "stats")["admission"]
        check(admission["assignments_dropped"] >= 1 and admission["assignments_parked"] >= 1,
              "assignments wait for the escrow: the unpaid job's never reached a provider "
              f"({admission['assignments_parked']} parked, {admission['assignments_dropped']} "
              "dropped)")
        again = client("submit", "--job", "500", "--tasks", "2", "--redundancy", "2")
        check(again.returncode == 0 and '"ack"' in again.stdout,
              "the same owner submitting a job again (a retry) gets its ACK again")
        other = sh("ip", "netns", "exec", NS, CLIENT, "--node", f"{NODE_IP}:7400", "--json",
                   "--owner", "0e" * 32, "--retries", "0", "submit", "--job", "500")
        check(other.returncode != 0 and "duplicate" in other.stdout,
              "another owner reusing a known job id is refused as a duplicate")
        test_emergency_stop(sock)
    finally:
        for agent in agents:
            agent.kill()
            agent.wait()


def guardian_op(kind, nonce, secret):
    return sh(LEDGER_OP, "sign", "--kind", kind, "--account", GUARDIAN_ACCOUNT, "--nonce",
              str(nonce), "--secret", secret).stdout.strip()


def test_emergency_stop(sock):
    """The guardian pauses the ledger with a signed operation: new jobs cannot be
    escrowed and are refused; a stranger's signature is refused; resume."""
    stranger = sh(LEDGER_OP, "keygen").stdout.split()[3]
    forged = ctl_json(sock, "ledger", "submit", f"op={guardian_op('pause', 1, stranger)}")
    check(forged["result"] == "unauthorized" and not forged["paused"],
          "a pause signed by another key is refused")
    wrong = ctl(sock, "ledger", "resume", f"op={guardian_op('pause', 1, GUARDIAN_SECRET)}")
    check(wrong.returncode != 0 and "not resume" in wrong.stderr,
          "ledger resume refuses a signed pause (the op's kind is checked)")
    paused = ctl_json(sock, "ledger", "pause", f"op={guardian_op('pause', 1, GUARDIAN_SECRET)}")
    check(paused["result"] == "ok" and paused["paused"], "the guardian pauses the ledger")
    refused = client("submit", "--job", "801", "--retries", "0")
    check(refused.returncode != 0 and '"paused"' in refused.stdout,
          "while paused, a new job is refused: paused")
    resumed = ctl_json(sock, "ledger", "resume", f"op={guardian_op('resume', 2, GUARDIAN_SECRET)}")
    check(resumed["result"] == "ok" and not resumed["paused"], "the guardian resumes it")
    accepted = client("submit", "--job", "802")
    check(accepted.returncode == 0, "after resume, jobs are accepted again")
    stats = ctl_json(sock, "ledger", "stats")
    check(stats["batches_durable"] > 0 and stats["batches_durable"] <= stats["batches"]
          and stats["batches_failed"] == 0 and stats["by_kind"].get("pause", 0) >= 1,
          "ledger stats: batches journaled, the pause among them")
    params = ctl_json(sock, "ledger", "params")
    check(params.get("burn_rate_bps") == 500, "ledger params: the burn rate lives in the ledger")


def test_second_node(data):
    second = sh("ip", "netns", "exec", NS, UBCD, "--data-dir", data)
    check(second.returncode != 0 and "in use by another node" in second.stderr,
          "a second node on the same data directory refuses to start")


def test_admin(sock):
    trailing = ctl(sock, "status", "--json")  # as the README writes it: options after the command
    check(trailing.returncode == 0 and json.loads(trailing.stdout)["state"] == "running",
          "ubcctl status --json (options after the command)")
    status = ctl_json(sock, "status")
    check(status["state"] == "running", "status: running")
    roles = {r["role"]: r["lcore"] for r in status["roles"]}
    check(set(roles) == {"net", "sched", "ledger", "consensus", "disk", "verify", "chain"},
          "status: seven roles")
    stats = ctl_json(sock, "stats")
    check({"net>verify", "verify>ledger", "disk>ledger"} <= {r["ring"] for r in stats["rings"]}
          and stats["ports"][0]["rx_packets"] > 0,
          "stats: rings and non-zero port counters")
    check(all(l["iterations"] > 0 for l in stats["lcores"]), "stats: every lcore loops")
    levels = ctl_json(sock, "log-level", "module=net", "level=debug")
    check(levels["net"] == "debug" and levels["sched"] != "debug", "log-level sets one module")
    bad = ctl(sock, "no-such-command")
    check(bad.returncode != 0 and bad.stderr.count("\n") == 1 and "unknown" in bad.stderr,
          "an unknown command: one line, non-zero exit")
    bad = ctl(sock, "log-level", "level=loud")
    check(bad.returncode != 0 and "level" in bad.stderr, "a bad argument is refused")
    denied = ctl(sock, "status", user=65534)
    check(denied.returncode != 0 and denied.stderr.count("\n") == 1 and
          "no permission" in denied.stderr, "a user the socket's mode keeps out: one line")


def test_config_errors(data):
    rc = sh(UBCD, "--data-dir", data, "--set", "net.rx_desc=5")
    check(rc.returncode == 2 and "net.rx_desc" in rc.stderr and "64..32768" in rc.stderr,
          "a bad --set names the key and the range")
    path = os.path.join(data, "bad.ini")
    with open(path, "w") as f:
        f.write("[net]\nburst_size = 32\nbrust_size = 4\n")
    rc = sh(UBCD, "--config", path)
    check(rc.returncode == 2 and f"{path}:3: unknown key net.brust_size" in rc.stderr,
          "an unknown key names the file and line")
    rc = sh(UBCD, "--print-config")
    check(rc.returncode == 0 and "[net]" in rc.stdout, "--print-config prints the config")


def test_ledger_op_over_the_wire():
    """A client-signed ledger operation through DPDK: net -> verify -> ledger,
    and its LEDGER_RESULT back through the net instance that owns the peer."""
    public, secret = sh(LEDGER_OP, "keygen").stdout.split()[1::2]
    op = sh(LEDGER_OP, "sign", "--kind", "create-account", "--account", public, "--nonce", "1",
            "--secret", secret).stdout.strip()
    first = client("ledger-op", op)
    answer = json.loads(first.stdout or "{}")
    check(first.returncode == 0 and answer.get("result") == "applied",
          f"ubc-client ledger-op: a signed create-account is applied ({first.stdout.strip()})")
    again = json.loads(client("ledger-op", op).stdout or "{}")
    check(again.get("result") == "rejected" and again.get("ledger_result") == 8,
          "the same op again is rejected by the ledger: account exists")
    forged = op[:-2] + ("00" if op[-2:] != "00" else "01")  # args byte: signature no longer covers it
    bad = json.loads(client("ledger-op", forged).stdout or "{}")
    check(bad.get("result") == "rejected" and bad.get("ledger_result") == 3,
          "an op whose bytes differ from what was signed: bad signature")


def test_revocation(sock):
    """Cancelling a running job revokes its task: the net role sends the
    ASSIGNMENT with the REVOKE flag and the provider agent stops the task."""
    cmd = ["ip", "netns", "exec", NS, CLIENT, "--node", f"{NODE_IP}:7400", "--json", "provider",
           "--id", "77", "--operator", "77", "--heartbeat-ms", "100", "--work-ms", "60000",
           "--duration-s", "6"]
    agent = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        time.sleep(1.0)
        submit = client("submit", "--job", "910001", "--tasks", "1", "--work-ms", "60000")
        check(submit.returncode == 0, "a long job is submitted")
        running = []
        for _ in range(25):
            running = ctl_json(sock, "jobs", "state=running") + ctl_json(sock, "jobs",
                                                                          "state=assigned")
            if running:
                break
            time.sleep(0.2)
        cancel = client("cancel", "--job", "910001")
        check(cancel.returncode == 0, "the running job is cancelled")
        out, _ = agent.communicate(timeout=15)
        events = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
        revoked = [e for e in events if e.get("event") == "revoked"]
        check(any(e.get("job") == 910001 and e.get("was_running") for e in revoked),
              f"the provider agent got the revocation and stopped the task ({revoked})")
        sent = sum(q.get("revocations_sent", 0) for q in ctl_json(sock, "ports")[0]["queues"])
        check(sent >= 1, f"the net role counts the revocation it sent ({sent})")
    finally:
        if agent.poll() is None:
            agent.kill()
            agent.wait()


def test_net_instances(data):
    """Two net instances on two lcores, each owning one of the tap's two
    queues: requests from several client ports spread over both queues, and
    each instance answers the peers that arrived on its queue."""
    proc, sock = start_node(data, "--set", "net.instances=2", "--set", "net.rx_queues=2",
                            "--set", "roles.net_lcores=1,0")
    try:
        sh("ip", "-n", NS, "addr", "add", f"{HOST_IP}/24", "dev", "ubc0")
        sh("ip", "-n", NS, "link", "set", "ubc0", "up")
        sh("ip", "netns", "exec", NS, "ping", "-c", "1", "-W", "2", NODE_IP)
        for job in range(16):  # one process, one source port each
            client("status", "--job", str(900000 + job))
        port = ctl_json(sock, "ports")[0]
        instances = port["net_instances"]
        check(len(instances) == 2 and [i["queues"] for i in instances] == [[0], [1]],
              "two net instances, one queue each")
        queries = [q["rx_by_type"].get("job-query", 0) for q in port["queues"]]
        answers = [q["tx_by_type"].get("refusal", 0) for q in port["queues"]]
        check(sum(queries) == 16 and min(queries) > 0,
              f"both queues see client traffic (job queries per queue: {queries})")
        check(answers == queries, f"each instance answers its own peers ({answers})")
        lcores = {entry["lcore"]: entry["roles"] for entry in ctl_json(sock, "lcores")}
        check("net1" in lcores.get(0, []) and "net" in lcores.get(1, []),
              "the second net instance runs on its own lcore")
        test_ledger_op_over_the_wire()
        test_revocation(sock)
    finally:
        test_stop(proc, sock, "shutdown")


def test_stop(proc, sock, how):
    if how == "signal":
        subprocess.run(["kill", "-TERM", str(proc.pid)])
        # ip netns exec execs ubcd, so the pid is ubcd's own.
    else:
        ctl(sock, "shutdown")
    try:
        rc = proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        rc = None
    check(rc == 0, f"ubcd exits 0 after {how}")
    check(not os.path.exists(sock), f"the admin socket is removed after {how}")
    after = ctl(sock, "status")
    check(after.returncode != 0 and "no node" in after.stderr, "ubcctl against a stopped node")


def main():
    if os.geteuid() != 0 or shutil.which("ip") is None:
        print("skipped: needs root and iproute2")
        return 77
    data = tempfile.mkdtemp(prefix="ubc-itest-")
    os.chmod(data, 0o755)  # other users reach the socket; its mode and credentials decide
    sh("ip", "netns", "add", NS)
    try:
        test_config_errors(data)
        proc, sock = start_node(data)
        try:
            test_second_node(data)
            test_admin(sock)
            test_packets(sock)
            test_jobs_end_to_end(sock)
        finally:
            test_stop(proc, sock, "shutdown")
        test_net_instances(data)
        proc, sock = start_node(data, "--set", "node.admin_socket_mode=0666")
        denied = ctl(sock, "status", user=65534)
        check(denied.returncode != 0 and "peer credentials not allowed" in denied.stderr,
              "a peer not in the allowed lists is denied by its credentials")
        test_stop(proc, sock, "signal")
        proc, sock = start_node(data, "--set", "node.admin_socket_group=65534", "--set",
                                "node.admin_allowed_gids=65534")
        member = ctl(sock, "status", user=65534)
        check(member.returncode == 0, "a member of the socket's allowed group gets in")
        test_stop(proc, sock, "shutdown")
    finally:
        sh("ip", "netns", "del", NS)
        shutil.rmtree(data, ignore_errors=True)
    print(f"{len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
