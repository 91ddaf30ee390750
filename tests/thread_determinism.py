#!/usr/bin/env python3
"""The same logits for SUBQ_NUM_THREADS = 1, 2 and 8: `subq ppl --save-logits` on each model,
its saved distributions compared. Bit for bit, except where a model holds an op whose form the
thread count picks (README, "Threads and determinism": RWKV-6's and GLA's WKV run stepped when
batch x heads fill the threads, else chunked); there the log-probabilities must agree to within
the bound given after the model's path (MODEL:BOUND, in nats).
Usage: thread_determinism.py SUBQ TEXT MODEL[:BOUND]..."""
import os
import struct
import subprocess
import sys
import tempfile


def log_probs(path):
    """The saved file's log-probabilities (lm/divergence.hpp's layout: a 32-byte header of magic,
    vocab, k and count; per position the target, its log-probability, the log of the rest, the k
    ids when k < vocab and the k log-probabilities)."""
    data = open(path, "rb").read()
    vocab, k, count = struct.unpack_from("<qqq", data, 8)
    values, at = [], 32
    for _ in range(count):
        _, target_lp, _ = struct.unpack_from("<qdd", data, at)
        at += 24 + (4 * k if k < vocab else 0)
        values.append(target_lp)
        values.extend(struct.unpack_from(f"<{k}f", data, at))
        at += 4 * k
    return data, values


subq, text = sys.argv[1], sys.argv[2]
with tempfile.TemporaryDirectory() as out:
    short = os.path.join(out, "text.txt")
    with open(text, "rb") as f, open(short, "wb") as g:
        g.write(f.read(3000))  # a few windows: enough to cross every kernel's row split
    for spec in sys.argv[3:]:
        model, _, bound = spec.partition(":")
        runs = []
        for threads in (1, 2, 8):
            path = os.path.join(out, f"logits_{threads}.bin")
            subprocess.run([subq, "ppl", "--model", model, "--text", short, "--window", "256", "--save-logits", path],
                           env={**os.environ, "SUBQ_NUM_THREADS": str(threads)}, check=True, stdout=subprocess.DEVNULL)
            runs.append(log_probs(path))
        for threads, (data, values) in zip((2, 8), runs[1:]):
            if not bound:
                assert data == runs[0][0], f"{model}: {threads} threads' logits differ from 1 thread's"
                continue
            worst = max(abs(a - b) for a, b in zip(values, runs[0][1]))
            assert worst <= float(bound), f"{model}: {threads} threads differ from 1 by {worst:g} > {bound}"
            print(f"{model}: {threads} threads within {worst:.3g} nats of 1 thread")
        print(f"{model}: the same logits with 1, 2 and 8 threads" + (f" (to {bound})" if bound else " bit for bit"))
print("thread determinism: ok")
