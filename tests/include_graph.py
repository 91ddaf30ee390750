#!/usr/bin/env python3
"""Checks the include graph between the repository's folders: it has no cycle, and the op and
layer folders never include the model tier (lm/) or the programs above it. Prints the graph.

    tests/include_graph.py [repository root]

A folder is a node (tests/cuda_emulation apart from the test helpers in tests/); an edge A -> B is
a file under A that includes a file under B, by "B/..." or by a relative path. Unit tests
(*_test.cpp) stand above everything, beside the code they test, and are left out."""
import os
import re
import sys
from collections import defaultdict

ROOT = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), ".."))
SOURCES = (".hpp", ".cpp", ".cu", ".cuh")
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)
# The tiers below the model tier, and what none of them may include.
LOWER = {"core", "dist", "conformance", "scan", "conv", "ssm", "recurrent", "attention", "moe"}
UPPER = {"lm", "tools", "bench"}


def node(rel):
    parts = rel.split("/")
    if parts[0] == "tests" and len(parts) > 2 and parts[1] == "cuda_emulation":
        return "tests/cuda_emulation"
    return parts[0] if len(parts) > 1 else "."


def graph():
    edges = defaultdict(set)
    for top, dirs, files in os.walk(ROOT):
        dirs[:] = [d for d in dirs if not d.startswith((".", "build"))]
        for name in files:
            if not name.endswith(SOURCES) or name.endswith("_test.cpp"):
                continue
            path = os.path.join(top, name)
            rel = os.path.relpath(path, ROOT)
            for target in INCLUDE.findall(open(path, errors="replace").read()):
                resolved = os.path.normpath(os.path.join(os.path.dirname(rel), target))
                if not os.path.exists(os.path.join(ROOT, resolved)):
                    resolved = target  # a path from the repository root, or a generated header
                if not os.path.exists(os.path.join(ROOT, resolved)):
                    continue
                src, dst = node(rel), node(resolved)
                if src != dst:
                    edges[src].add(dst)
    return edges


def cycle(edges):
    """A cycle as a list of nodes, or None."""
    state, stack = {}, []

    def visit(n):
        state[n] = "open"
        stack.append(n)
        for m in sorted(edges.get(n, ())):
            if state.get(m) == "open":
                return stack[stack.index(m):] + [m]
            if m not in state and (found := visit(m)):
                return found
        state[n] = "done"
        stack.pop()
        return None

    for n in sorted(edges):
        if n not in state and (found := visit(n)):
            return found
    return None


def main():
    edges = graph()
    for n in sorted(edges):
        print(f"{n} -> {', '.join(sorted(edges[n]))}")
    problems = []
    if found := cycle(edges):
        problems.append("include cycle: " + " -> ".join(found))
    for n in sorted(LOWER):
        if wrong := edges.get(n, set()) & UPPER:
            problems.append(f"{n}/ includes the tier above it: {', '.join(sorted(wrong))}")
    if edges.get("core", set()) - {"."}:
        problems.append(f"core/ includes {', '.join(sorted(edges['core']))}: it must stand alone")
    for p in problems:
        print("FAIL:", p)
    print("include graph: " + ("ok, no cycle" if not problems else f"{len(problems)} problem(s)"))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
