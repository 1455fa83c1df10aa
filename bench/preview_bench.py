"""Benchmark: wall time and peak memory of the whole offline preview, per stack.

    .venv/bin/python bench/preview_bench.py [--runs 3]

Each run is a fresh interpreter (what a user or CI pays, imports included), so figures include
Python start-up and the pulumi / pulumi-aws imports. Target (issue #2): prod under 3 s on 2 cores.
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
TARGET_SECONDS = 3.0
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
        raise SystemExit(f"preview of {stack} failed:\n{proc.stderr}")
    return elapsed, report["peak_kib"] / 1024


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print(f"offline preview, {args.runs} fresh-process runs per stack, {os.cpu_count()} cores")
    print(f"{'stack':6} {'median s':>9} {'max s':>7} {'peak MiB':>9}  target")
    for stack in ("dev", "prod"):
        results = [one_run(stack) for _ in range(args.runs)]
        times = [t for t, _ in results]
        med = statistics.median(times)
        verdict = "ok" if med < TARGET_SECONDS else "OVER TARGET"
        print(f"{stack:6} {med:9.2f} {max(times):7.2f} {max(m for _, m in results):9.1f}  "
              f"< {TARGET_SECONDS:.0f} s: {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
