"""Benchmark: wall time and peak memory of the whole offline preview, per stack, against its floor.

    .venv/bin/python bench/preview_bench.py [--runs 3]

Each run is a fresh interpreter (what a user or CI pays, imports included). Most of a preview is
importing the pulumi_aws modules the program uses, which no change here can avoid: that import
alone, in a fresh interpreter, is the floor, and the figure that matters is the preview of prod
as a multiple of it. Target: at most 1.2x the floor.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET_RATIO = 1.2
EXIT_CODES = "exit codes: 0 prod within the target ratio; 1 over it; 2 a preview failed"
# The floor: a fresh interpreter importing only the provider modules the program uses.
FLOOR = "from tools.preview import preload_provider_modules; preload_provider_modules()"
# Runs the preview in this interpreter and reports its own peak RSS, so each figure is one run's.
CHILD = """
import json, resource, runpy, sys
sys.argv = ["tools.preview", "--stack", sys.argv[1]]
try:
    runpy.run_module("tools.preview", run_name="__main__")
except SystemExit as exc:
    code = exc.code
else:
    code = 0
print(json.dumps({"code": code, "peak_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}), file=sys.stderr)
"""


def one_run(stack: str) -> tuple[float, float]:
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", CHILD, stack], cwd=ROOT, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True)
    elapsed = time.perf_counter() - start
    report = json.loads(proc.stderr.strip().splitlines()[-1])
    if report["code"] not in (0, 1):
        print(f"preview of {stack} failed:\n{proc.stderr}", file=sys.stderr)
        raise SystemExit(2)
    return elapsed, report["peak_kib"] / 1024


def floor_run() -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", FLOOR], cwd=ROOT, check=True)
    return time.perf_counter() - start


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="bench/preview_bench.py", description=__doc__.split("\n\n")[0],
                                     epilog=EXIT_CODES)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    print(f"offline preview, {args.runs} fresh-process runs per stack, {os.cpu_count()} cores")
    floor = statistics.median(floor_run() for _ in range(args.runs))
    print(f"floor (import the pulumi_aws modules the program uses): {floor:.2f} s")
    print(f"{'stack':6} {'median s':>9} {'max s':>7} {'peak MiB':>9} {'x floor':>8}")
    ratio = 0.0
    for stack in ("dev", "prod"):
        results = [one_run(stack) for _ in range(args.runs)]
        times = [t for t, _ in results]
        med = statistics.median(times)
        ratio = med / floor
        print(f"{stack:6} {med:9.2f} {max(times):7.2f} {max(m for _, m in results):9.1f} {ratio:7.2f}x")
    verdict = "ok" if ratio <= TARGET_RATIO else "OVER TARGET"
    print(f"prod / floor = {ratio:.2f}x (target <= {TARGET_RATIO}x): {verdict}")
    return 0 if ratio <= TARGET_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())
