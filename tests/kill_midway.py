#!/usr/bin/env python3
"""Interrupts `subq ppl` midway (SIGINT or SIGTERM, after the first progress) and checks that it
says so, prints what it had scored, exits 128 + the signal, and leaves no file in its output
folder: neither the --json and --save-logits outputs nor their temporaries.
Usage: kill_midway.py SUBQ MODEL TEXT SIGNAL"""
import os
import signal
import subprocess
import sys
import tempfile
import time

subq, model, text, name = sys.argv[1:5]
sig = getattr(signal, name)
with tempfile.TemporaryDirectory() as out:
    run = subprocess.Popen(
        [subq, "ppl", "--model", model, "--text", text, "--stream", "--window", "64",
         "--json", os.path.join(out, "result.json"), "--save-logits", os.path.join(out, "logits.bin")],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    # Midway: once the model is loaded and scoring (the saved distributions' temporary exists).
    deadline = time.time() + 60
    while time.time() < deadline and run.poll() is None and not os.listdir(out):
        time.sleep(0.05)
    time.sleep(1.0)
    assert run.poll() is None, "the run ended before it could be interrupted:\n" + run.stdout.read()
    run.send_signal(sig)
    output, _ = run.communicate(timeout=60)
    print(output)
    assert run.returncode == 128 + sig, f"exit {run.returncode}, expected {128 + sig}"
    assert f"interrupted by {name} after" in output, "no word of the interrupt"
    assert "tokens_scored" in output, "nothing of what was scored"
    left = os.listdir(out)
    assert not left, f"files left behind: {left}"
print(f"kill midway ({name}): ok")
