"""ubc_node_wait.py: waiting for a ubcd that was just started, for the Python tests and
harnesses (tests/, perf/): one definition of "the node is up".
"""
import subprocess
import time


def wait_node(proc, sock, ubcctl, seconds=30.0):
    """True once `ubcctl status` answers on sock; False if ubcd exits or seconds pass."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if subprocess.run([ubcctl, "--socket", sock, "status"],
                          capture_output=True).returncode == 0:
            return True
        if proc.poll() is not None:
            return False
        time.sleep(0.2)
    return False
