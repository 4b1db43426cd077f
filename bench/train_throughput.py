"""What the training-throughput benchmarks share: one run of `segkit train` or of a Python
peer script, each giving the images per second of its epochs, and the alternating rounds
that compare them (the first epoch of every run is warm-up and left out)."""
import json
import os
import statistics
import subprocess
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))


def segkit_rates(build, args):
    """`segkit train ARGS -o TMP`: images/s of each epoch (metrics.jsonl)."""
    with tempfile.TemporaryDirectory() as out:
        subprocess.run([os.path.join(build, "segkit"), "train"] + args + ["-o", out], check=True, capture_output=True)
        return [json.loads(l)["images_per_second"] for l in open(os.path.join(out, "metrics.jsonl")) if l.strip()]


def peer_rates(script, args):
    """bench/SCRIPT ARGS under Debian's Python: images/s of each epoch (its last output line)."""
    out = subprocess.run(["/usr/bin/python3", os.path.join(HERE, script)] + args, check=True, capture_output=True,
                         text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])["images_per_second"]


def compare(rounds, ours, theirs, digits=1):
    """Alternates ours() and theirs() ROUNDS times; prints each round and the medians' ratio."""
    mine, peer = [], []
    for r in range(rounds):
        s = ours()[1:]
        t = theirs()[1:]
        mine += s
        peer += t
        print(f"round {r + 1}: segkit {[round(x, digits) for x in s]} img/s, "
              f"PyTorch {[round(x, digits) for x in t]} img/s", flush=True)
    so, st = statistics.median(mine), statistics.median(peer)
    print(f"median: segkit {so:.{digits}f} img/s, PyTorch eager {st:.{digits}f} img/s, ratio {so / st:.2f}x")
