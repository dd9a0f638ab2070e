#!/usr/bin/env python3
"""A cold file-tier get of a 128 MiB float64 array, smartcache against joblib.

Installs numpy and joblib from PyPI into target/joblib-venv (once), times a
`joblib.Memory` hit of a 4096 x 4096 float64 array (the same array bench_codec
caches), then runs `cargo bench --bench bench_codec` for smartcache's cold get (a new
SmartCache instance reading the entry from the OS page cache), and prints both.

Run from the repository root:  python3 benches/joblib_compare.py
"""

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / "target" / "joblib-venv"
SIDE = 4096
RUNS = 15


def ensure_venv() -> Path:
    python = VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    probe = subprocess.run([str(python), "-c", "import numpy, joblib"], capture_output=True)
    if probe.returncode != 0:
        subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", "numpy", "joblib"], check=True
        )
    return python


JOBLIB_TIMING = r"""
import statistics, sys, tempfile, time
import joblib, numpy as np

side, runs = int(sys.argv[1]), int(sys.argv[2])
results = {}
for mode in (None, "r"):
    with tempfile.TemporaryDirectory() as location:
        memory = joblib.Memory(location=location, mmap_mode=mode, verbose=0)

        @memory.cache
        def make(seed):
            return np.arange(side * side, dtype=np.float64).reshape(side, side) * 0.5

        make(1)  # the miss: computes and writes the entry
        make(1)  # a first hit brings the file into the page cache
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            array = make(1)
            times.append(time.perf_counter() - start)
            del array
        results[mode or "load"] = statistics.median(times) * 1e3
print(f"{results['load']:.2f} {results['r']:.3f} {joblib.__version__} {np.__version__}")
"""


def joblib_ms(python: Path):
    out = subprocess.run(
        [str(python), "-c", JOBLIB_TIMING, str(SIDE), str(RUNS)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    return float(out[0]), float(out[1]), out[2], out[3]


def smartcache_ms():
    subprocess.run(
        ["cargo", "bench", "--all-features", "--bench", "bench_codec", "--", "array_128mib"],
        cwd=ROOT,
        check=True,
    )
    base = ROOT / "target" / "tmp" / "criterion"

    def mean(group, name):
        path = base / group / name / "new" / "estimates.json"
        return json.loads(path.read_text())["mean"]["point_estimate"] / 1e6

    return mean("array_128mib_cold_get", "smartcache"), mean("array_128mib_mapped", "smartcache")


def main():
    python = ensure_venv()
    load, mapped, joblib_version, numpy_version = joblib_ms(python)
    cold, ours_mapped = smartcache_ms()
    print()
    print(f"joblib {joblib_version}, numpy {numpy_version}, {SIDE}x{SIDE} float64 (128 MiB)")
    print(f"JOBLIB hit:                 {load:8.2f} ms   (mmap_mode='r': {mapped:.3f} ms)")
    print(f"SMARTCACHE cold get:        {cold:8.2f} ms   (get_mapped: {ours_mapped:.3f} ms)")
    print(f"RATIO cold get / joblib hit: {cold / load:.2f}x (target <= 1x)")


if __name__ == "__main__":
    main()
