#!/usr/bin/env python3
"""The tidy step of the test suite (in the spirit of TigerBeetle's tidy.zig).

Checks every C file of the source folders:
  1. clang-format agrees with the file (.clang-format at the root);
  2. no function body is longer than 70 lines;
  3. hot-path folders (dataplane, scheduler, ledger, consensus, storage) call
     no allocator, lock, sleep or stdio function, except on a line that says
     why with a `lint:allow` comment (start-up code).
Prints one line per finding and exits 1 when there is any.
"""
import os
import re
import subprocess
import sys

ROOT = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", ".."))
SOURCE_DIRS = ["common", "control", "dataplane", "scheduler", "storage", "ledger",
               "consensus", "node", "tools", "perf", "tests"]
HOT_DIRS = ["dataplane", "scheduler", "ledger", "consensus", "storage"]
FUNCTION_LINES_MAX = 70
BANNED = re.compile(r"\b(malloc|calloc|realloc|free|aligned_alloc|posix_memalign|"
                    r"pthread_mutex_lock|pthread_spin_lock|pthread_rwlock_\w+lock|"
                    r"sleep|usleep|nanosleep|printf|puts|fopen)\s*\(")


def c_files():
    for top in SOURCE_DIRS:
        base = os.path.join(ROOT, top)
        for folder, dirs, files in os.walk(base):
            dirs[:] = [d for d in dirs if d not in ("corpus",)]
            for name in sorted(files):
                if name.endswith((".c", ".h")):
                    yield os.path.join(folder, name)


def check_format(path):
    result = subprocess.run(["clang-format", "--dry-run", "-Werror", "--style=file", path],
                            cwd=ROOT, capture_output=True, text=True)
    if result.returncode != 0:
        first = next((l for l in result.stderr.splitlines() if "error" in l), "differs")
        return [f"{rel(path)}: not clang-formatted ({first.strip()}); run `make format`"]
    return []


def strip_comments_and_strings(text):
    text = re.sub(r"/\*.*?\*/", lambda m: "\n" * m.group(0).count("\n"), text, flags=re.S)
    text = re.sub(r"//[^\n]*", "", text)
    return re.sub(r'"(\\.|[^"\\\n])*"', '""', text)


def check_function_length(path, text):
    findings = []
    lines = text.splitlines()
    start = None
    for number, line in enumerate(lines, 1):
        if line.startswith("{"):
            start = number
        elif line.startswith("}") and start is not None:
            length = number - start - 1
            if length > FUNCTION_LINES_MAX:
                findings.append(f"{rel(path)}:{start}: function body of {length} lines "
                                f"(at most {FUNCTION_LINES_MAX})")
            start = None
    return findings


def check_banned(path, raw):
    parts = os.path.relpath(path, ROOT).split(os.sep)
    if parts[0] not in HOT_DIRS:
        return []
    findings = []
    code = strip_comments_and_strings(raw).splitlines()
    for number, (line, original) in enumerate(zip(code, raw.splitlines()), 1):
        match = BANNED.search(line)
        if match and "lint:allow" not in original:
            findings.append(f"{rel(path)}:{number}: {match.group(1)}() in a hot-path folder "
                            "(add /* lint:allow <why> */ if this is start-up code)")
    return findings


def rel(path):
    return os.path.relpath(path, ROOT)


def main():
    findings = []
    count = 0
    for path in c_files():
        count += 1
        with open(path, encoding="utf-8", errors="replace") as handle:
            raw = handle.read()
        findings += check_format(path)
        findings += check_function_length(path, strip_comments_and_strings(raw))
        findings += check_banned(path, raw)
    for finding in findings:
        print(finding)
    print(f"lint: {count} files, {len(findings)} findings")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
