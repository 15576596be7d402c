#!/usr/bin/env python3
"""ubcctl against a test server (admin_testd): exit codes, one-line errors,
--json output, raw requests, a node that is not running. Exits 0 on success,
1 on the first failed check."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

UBCCTL, TESTD = sys.argv[1], sys.argv[2]
FAILURES = []


def as_nobody():
    os.setgroups([])
    os.setgid(65534)
    os.setuid(65534)


def run(*args, socket=None, env=None, timeout=20, nobody=False):
    full_env = dict(os.environ)
    full_env.pop("UBC_ADMIN_SOCKET", None)
    full_env.update(env or {})
    command = [UBCCTL] + (["--socket", socket] if socket else []) + list(args)
    done = subprocess.run(command, capture_output=True, text=True, env=full_env, timeout=timeout,
                          preexec_fn=as_nobody if nobody else None)
    return done.returncode, done.stdout, done.stderr


def check(name, condition, detail=""):
    if not condition:
        FAILURES.append(name)
        print(f"FAIL {name}: {detail}")
    else:
        print(f"ok   {name}")


def check_error(name, result, code, fragment):
    rc, out, err = result
    lines = err.splitlines()
    check(name, rc == code and len(lines) == 1 and err.startswith("ubcctl: ") and fragment in err,
          f"rc={rc} stderr={err!r}")


def main():
    work = tempfile.mkdtemp(prefix="ubcctl-test-")
    sock = os.path.join(work, "admin.sock")
    # No node yet: ENOENT, and the default path when nothing is given.
    check_error("no node (missing path)", run("status", socket=sock), 3, "no node at " + sock)
    check_error("no node (default path)", run("status"), 3, "./var/ubcd.sock")
    check_error("no node (env path)", run("status", env={"UBC_ADMIN_SOCKET": sock}), 3, sock)
    server = subprocess.Popen([TESTD, sock], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True)
    try:
        check("server ready", server.stdout.readline().strip() == "ready")
        cases(sock)
    finally:
        server.terminate()
        server.wait(timeout=10)
    check("server exit 0", server.returncode == 0, str(server.returncode))
    check("socket removed", not os.path.exists(sock))
    check_error("no node after stop", run("status", socket=sock), 3, "is ubcd running?")
    denied(work)
    # A stale socket file (server killed): still "no node", never a hang.
    server = subprocess.Popen([TESTD, sock], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True)
    server.stdout.readline()
    server.kill()
    server.wait()
    check_error("no node (stale socket)", run("status", socket=sock), 3, "no node at")
    shutil.rmtree(work)
    print(f"{len(FAILURES)} failed")
    return 1 if FAILURES else 0


def cases(sock):
    rc, out, err = run("--json", "status", socket=sock)
    result = json.loads(out) if rc == 0 else {}
    check("--json parses", rc == 0 and result.get("state") == "running", f"{rc} {out!r} {err!r}")
    check("--json roles", [r["role"] for r in result.get("roles", [])] == ["net", "sched"])
    rc, out, err = run("status", socket=sock)
    check("human status", rc == 0 and "rx_packets" in out and "1,234,567" in out
          and "9,876,543,210" in out and err == "", out)
    rc, out, err = run("--json", "echo", "n=5", "f=1.5", "s=abc", "b=true", "q=\"7\"", "neg=-3",
                       socket=sock)
    echoed = json.loads(out) if rc == 0 else {}
    check("args typed", echoed == {"n": 5, "f": 1.5, "s": "abc", "b": True, "q": "7", "neg": -3},
          out)
    rc, out, err = run("help", socket=sock)
    check("help table", rc == 0 and "command" in out and "version" in out and "sleep" in out, out)
    rc, out, err = run("--json", "help", "echo", socket=sock)
    check("help CMD", rc == 0 and json.loads(out).get("command") == "echo", out)
    rc, out, err = run("--json", "version", socket=sock)
    check("version", rc == 0 and json.loads(out)["version"] == "test-1.2.3", out)
    check_error("unknown command", run("nope", socket=sock), 1, "unknown-command")
    check_error("handler error", run("fail", socket=sock), 1, "bad-args: fail always fails")
    check_error("bad args to builtin", run("version", "x=1", socket=sock), 1, "bad-args")
    check_error("arg not key=value", run("echo", "first", "oops", socket=sock), 2,
                "not key=value")
    rc, out, err = run("--json", "echo", "supply", "n=5", socket=sock)
    check("leading bare word is what=WORD",
          rc == 0 and json.loads(out).get("what") == "supply" and json.loads(out).get("n") == 5,
          out)
    check_error("duplicate arg", run("echo", "a=1", "a=2", socket=sock), 2, "twice")
    check_error("bad option", run("--frobnicate", "status", socket=sock), 2, "option")
    check_error("no command", run(socket=sock), 2, "no command")
    check_error("path too long", run("status", socket="/tmp/" + "x" * 200), 2, "too long")
    check_error("bad watch", run("--watch", "0", "status", socket=sock), 2, "--watch")
    check_error("timeout", run("--timeout", "300", "sleep", "ms=2000", socket=sock), 5,
                "timeout")
    rc, out, err = run("raw", "{not json", socket=sock)
    reply = json.loads(out) if out else {}
    check("raw bad json", rc == 1 and reply.get("error", {}).get("code") == "bad-json"
          and len(err.splitlines()) == 1, f"{rc} {out!r} {err!r}")
    rc, out, err = run("raw", "{\"cmd\":\"version\",\"id\":42}", socket=sock)
    check("raw ok", rc == 0 and json.loads(out)["id"] == 42, out)
    check_error("raw oversized", run("raw", "{\"cmd\":\"" + "x" * 70000 + "\"}", socket=sock), 1,
                "too-large")
    watch(sock)
    rc, out, err = run("--json", "stats", socket=sock)
    admin = json.loads(out)["admin"] if rc == 0 else {}
    check("stats counters", admin.get("errors", {}).get("bad-json", 0) >= 1
          and admin.get("errors", {}).get("too-large", 0) >= 1, out)


def denied(work):
    """A peer that is not allowed: refused by the file mode, or by SO_PEERCRED."""
    if os.geteuid() != 0:
        print("skip denied peer: not root")
        return
    os.chmod(work, 0o755)
    for mode, fragment in (("0660", "no permission to connect"),
                           ("0666", "denied: peer credentials not allowed")):
        sock = os.path.join(work, f"denied-{mode}.sock")
        server = subprocess.Popen([TESTD, sock, mode], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True)
        try:
            server.stdout.readline()
            check_error(f"denied peer (mode {mode})", run("status", socket=sock, nobody=True), 4,
                        fragment)
            rc, out, err = run("--json", "stats", socket=sock)
            denied_count = json.loads(out)["admin"]["connections_denied"] if rc == 0 else -1
            check(f"denied counted (mode {mode})", denied_count == (1 if mode == "0666" else 0),
                  out)
        finally:
            server.terminate()
            server.wait(timeout=10)


def watch(sock):
    env = dict(os.environ)
    env.pop("UBC_ADMIN_SOCKET", None)
    proc = subprocess.Popen([UBCCTL, "--socket", sock, "--watch", "0.2", "status"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    time.sleep(1.0)
    proc.send_signal(2)
    out, err = proc.communicate(timeout=10)
    check("watch refreshes", proc.returncode == 0 and out.count("\033[2J") >= 3
          and out.count("rx_packets") >= 3, f"rc={proc.returncode} {err!r}")
    # Ctrl-C while a call waits on a slow node ends the watch at once, exit 0.
    proc = subprocess.Popen([UBCCTL, "--socket", sock, "--watch", "1", "sleep", "ms=3000"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    time.sleep(0.5)
    sent = time.monotonic()
    proc.send_signal(2)
    out, err = proc.communicate(timeout=10)
    waited = time.monotonic() - sent
    check("watch interrupted mid-call", proc.returncode == 0 and err == "" and waited < 2.0,
          f"rc={proc.returncode} waited={waited:.2f}s {err!r}")


if __name__ == "__main__":
    sys.exit(main())
