"""One line naming what a benchmark's figures depend on, printed first by every runner in
bench/: sessions of this project run on different machines (AMD EPYC, Intel Sapphire Rapids),
and a ratio measured on one says little about another."""
import os
import subprocess


def describe():
    """The CPU, its bf16 units, the cores, the peer's torch (Debian's /usr/bin/python3)."""
    info = open("/proc/cpuinfo").read().splitlines()
    model = next((l.split(":", 1)[1].strip() for l in info if l.startswith("model name")), "?")
    flags = next((l for l in info if l.startswith("flags")), "").split()
    torch = subprocess.run(["/usr/bin/python3", "-c", "import torch; print(torch.__version__)"], capture_output=True,
                           text=True).stdout.strip()
    return (f"machine: {model}, {os.cpu_count()} cores, avx512_bf16 {'yes' if 'avx512_bf16' in flags else 'no'}, "
            f"amx_bf16 {'yes' if 'amx_bf16' in flags else 'no'}, peer torch {torch or '?'}")
