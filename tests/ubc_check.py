"""ubc_check.py: the Python tests' check list: one line per check, "ok" or "FAIL", and the
failures kept for the exit status (`return 1 if failures else 0`).
"""
failures = []


def check(condition, what):
    """Prints the check's outcome; a failed one is kept in `failures`."""
    print(("ok   " if condition else "FAIL ") + what, flush=True)
    if not condition:
        failures.append(what)
    return condition
