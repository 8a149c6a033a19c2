#!/usr/bin/env python3
"""csv_roundtrip.py RUNS_CSV EXPECTED: the text fields bench wrote come back unchanged.

EXPECTED holds one line per row: column=hex(UTF-8 value) pairs, space-separated, written by
tests/test_faults.c from the random values it gave the C writer. Every row is read twice:
by Python's csv module and by the scripts' own reader (cbresults.read_runs). Prints the first
mismatches and exits 1 if any, else one line and 0.
"""

import csv
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "scripts"))
import cbresults as R  # noqa: E402


def main(path, expected_path):
    with open(expected_path, encoding="ascii") as f:
        want = [dict((kv.split("=")[0], bytes.fromhex(kv.split("=")[1]).decode("utf-8"))
                     for kv in line.split()) for line in f if line.strip()]
    with open(path, newline="", encoding="utf-8") as f:
        by_csv = list(csv.DictReader(f, strict=True))
    by_reader = R.read_runs(path)
    bad = []
    for name, rows in (("csv module", by_csv), ("read_runs", by_reader)):
        if len(rows) != len(want):
            bad.append(f"{name}: {len(rows)} rows, {len(want)} written")
            continue
        for i, (got, exp) in enumerate(zip(rows, want)):
            for k, v in exp.items():
                if got[k] != v:
                    bad.append(f"{name}: row {i + 1} {k}: {got[k]!r} != {v!r}")
    for b in bad[:10]:
        print(b)
    if not bad:
        print(f"csv_roundtrip: {len(want)} rows x {len(want[0]) if want else 0} random text fields came back unchanged")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
