#!/usr/bin/env python3
"""Checks that two JSON results agree on one figure (e.g. a context-parallel run against one
process, or against a golden file):

    tests/same_figure.py A.json B.json KEY TOLERANCE

Prints both values and "same figure: ok" when |A[KEY] - B[KEY]| <= TOLERANCE; else exits 1."""
import json
import sys

a_path, b_path, key, tolerance = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
a, b = (json.load(open(path))[key] for path in (a_path, b_path))
print(f"{key}: {a!r} in {a_path}, {b!r} in {b_path}, difference {abs(a - b):.3g} (tolerance {tolerance:g})")
if abs(a - b) > tolerance:
    sys.exit(1)
print("same figure: ok")
