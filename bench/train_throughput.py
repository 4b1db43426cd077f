"""What the training-throughput benchmarks share: one run of `segkit train` or of a Python
peer script, each giving the images per second of its epochs and the share of their time the
step waited for data, the machine they ran on, and the alternating rounds that compare them
(the first epoch of every run is warm-up and left out)."""
import json
import os
import statistics
import subprocess
import tempfile

from machine import describe

HERE = os.path.dirname(os.path.abspath(__file__))


def segkit_rates(build, args):
    """`segkit train ARGS -o TMP`: each epoch's images/s and the share of its time the step
    waited for the batch makers (metrics.jsonl)."""
    with tempfile.TemporaryDirectory() as out:
        subprocess.run([os.path.join(build, "segkit"), "train"] + args + ["-o", out], check=True, capture_output=True)
        epochs = [json.loads(l) for l in open(os.path.join(out, "metrics.jsonl")) if l.strip()]
        return [(e["images_per_second"], e["data_wait_seconds"] / e["seconds"]) for e in epochs]


def peer_rates(script, args):
    """bench/SCRIPT ARGS under Debian's Python: each epoch's images/s and data-wait share (its
    last output line)."""
    out = subprocess.run(["/usr/bin/python3", os.path.join(HERE, script)] + args, check=True, capture_output=True,
                         text=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    return list(zip(result["images_per_second"], result["data_wait_share"]))


def compare(rounds, ours, theirs, digits=1):
    """Alternates ours() and theirs() ROUNDS times; prints each round, the medians' ratio and
    how much of each side's time its step waited for data (a starved loop, not a slow step)."""
    print(describe(), flush=True)
    mine, peer = [], []
    for r in range(rounds):
        s = ours()[1:]
        t = theirs()[1:]
        mine += s
        peer += t
        print(f"round {r + 1}: segkit {[round(x, digits) for x, _ in s]} img/s, "
              f"PyTorch {[round(x, digits) for x, _ in t]} img/s", flush=True)
    so, st = (statistics.median(x for x, _ in side) for side in (mine, peer))
    wo, wt = (statistics.median(w for _, w in side) for side in (mine, peer))
    print(f"median: segkit {so:.{digits}f} img/s, PyTorch eager {st:.{digits}f} img/s, ratio {so / st:.2f}x; "
          f"waiting for data: segkit {100 * wo:.1f}%, PyTorch {100 * wt:.1f}% of the time")
