#!/usr/bin/env python3
"""docs/operations.md holds the config reference ubcd prints: keep it true."""
import subprocess
import sys

ubcd, doc = sys.argv[1], sys.argv[2]
reference = subprocess.run([ubcd, "--config-reference"], capture_output=True, text=True,
                           check=True).stdout.splitlines()
text = open(doc).read()
missing = [line for line in reference if line not in text]
for line in missing:
    print(f"docs/operations.md lacks: {line}")
if missing:
    print("regenerate the table with: ubcd --config-reference")
sys.exit(1 if missing else 0)
