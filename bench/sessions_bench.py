"""Sessions runtime benchmark: Lambda cold-import cost and start+stop throughput against moto.

    python bench/sessions_bench.py [--runs 9] [--cycles 200]

Import times are measured in fresh interpreters (what a Lambda cold start pays), alternating
`import boto3` and `import sessions.handlers` so both see the same machine state. The package is
imported from a copy holding only its .py files, the way components/sessions.py ships it: Lambda's
code directory is read-only, so a cold start compiles those sources (boto3 in the runtime comes
with bytecode). A precompiled copy is measured too, for comparison.
Target: the handler module adds < 30 % to boto3's own import time (judged on the shipped form).
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "app"
TARGET_RATIO = 0.30

_IMPORT_PROBE = """
import sys, time
sys.path.insert(0, {app!r})
t = time.perf_counter()
import {module}
print(time.perf_counter() - t)
"""

# Settings + the two clients every API call needs: what the first invocation adds after import.
_FIRST_CALL_PROBE = """
import os, sys, time
sys.path.insert(0, {app!r})
import sessions.handlers as h
os.environ.update({env!r})
t = time.perf_counter()
service = h._service()
service._ddb.meta, service._ecs.meta
print(time.perf_counter() - t)
"""

_DUMMY_ENV = {
    "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x", "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1",
    "SESSIONS_TABLE": "sessions", "CLUSTER_ARN": "arn:aws:ecs:us-east-1:123456789012:cluster/sessions",
    "TASK_DEFINITION": "code-server", "CONTAINER_NAME": "editor", "SUBNETS": "subnet-0123456789abcdef0",
    "SECURITY_GROUPS": "sg-0123456789abcdef0", "ASSIGN_PUBLIC_IP": "ENABLED", "MAX_SESSIONS_PER_USER": "2",
    "CAPACITY_PROVIDER_STRATEGY": '[{"capacityProvider": "FARGATE_SPOT", "weight": 1}]',
    "SIZE_PRESETS": '{"small": {"cpu": 1024, "memory": 2048}}', "DEFAULT_SIZE": "small", "EDITOR_ACCESS": "public",
    "LAUNCH_BUCKET": "sessions-launch-bench",
}


def _fresh(code: str) -> float:
    # No bytecode is written for our copies, so every "shipped" run compiles the sources again.
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True, cwd=ROOT, env=env)
    return float(out.stdout.strip().splitlines()[-1])


def _package_copy(root: Path, precompile: bool) -> Path:
    target = root / "sessions"
    target.mkdir(parents=True)
    for source in (APP / "sessions").glob("*.py"):
        shutil.copy2(source, target / source.name)
    if precompile:
        compileall.compile_dir(str(target), quiet=1)
    return root


def bench_imports(runs: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        shipped = _package_copy(Path(tmp) / "shipped", precompile=False)
        compiled = _package_copy(Path(tmp) / "compiled", precompile=True)
        probes = {
            "boto3": _IMPORT_PROBE.format(app=str(shipped), module="boto3"),
            "shipped": _IMPORT_PROBE.format(app=str(shipped), module="sessions.handlers"),
            "compiled": _IMPORT_PROBE.format(app=str(compiled), module="sessions.handlers"),
        }
        for probe in probes.values():
            _fresh(probe)  # page the interpreter and site-packages into the OS cache
        times: dict[str, list[float]] = {name: [] for name in probes}
        for _ in range(runs):
            for name, probe in probes.items():
                times[name].append(_fresh(probe))
        first_call = [_fresh(_FIRST_CALL_PROBE.format(app=str(compiled), env=_DUMMY_ENV))
                      for _ in range(max(3, runs // 3))]
    ms = {name: statistics.median(values) * 1000 for name, values in times.items()}
    return {
        "boto3_ms": ms["boto3"],
        "handler_ms": ms["shipped"],
        "handler_precompiled_ms": ms["compiled"],
        "added_ms": ms["shipped"] - ms["boto3"],
        "added_ratio": (ms["shipped"] - ms["boto3"]) / ms["boto3"],
        "added_precompiled_ratio": (ms["compiled"] - ms["boto3"]) / ms["boto3"],
        "first_call_setup_ms": statistics.median(first_call) * 1000,
    }


def bench_throughput(cycles: int) -> dict[str, float]:
    os.environ.update({"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": "us-east-1",
                       "AWS_DEFAULT_REGION": "us-east-1", "MOTO_EC2_LOAD_DEFAULT_AMIS": "false"})
    sys.path.insert(0, str(ROOT))
    from moto import mock_aws
    from moto.core.botocore_stubber import BotocoreStubber

    from app.sessions import handlers

    # moto's TransactWriteItems deep-copies the whole table per call, so raw throughput mostly
    # measures moto; time spent inside moto is accounted separately to show our own cost.
    in_moto = [0.0]
    original = BotocoreStubber.process_request

    def timed(self, request):
        t = time.perf_counter()
        try:
            return original(self, request)
        finally:
            in_moto[0] += time.perf_counter() - t

    BotocoreStubber.process_request = timed
    from tests.sessions.conftest import create_infra

    owner = "0f6c1f52-1111-4a8e-9c7e-000000000001"

    def event(field, arguments):
        return {"arguments": arguments, "identity": {"sub": owner, "claims": {"cognito:groups": []}},
                "info": {"fieldName": field, "parentTypeName": "Mutation"}}

    with mock_aws():
        infra = create_infra()
        os.environ.update(infra.env)
        handlers.reset()
        devnull = open(os.devnull, "w")
        stdout, sys.stdout = sys.stdout, devnull  # the handlers log every call
        try:
            handlers.api_handler(event("stopSession", {"id": handlers.api_handler(event("startSession", {"input": {}}), None)["id"]}), None)
            starts, stops = [], []
            in_moto[0] = 0.0
            began = time.perf_counter()
            for _ in range(cycles):
                t0 = time.perf_counter()
                session = handlers.api_handler(event("startSession", {"input": {}}), None)
                t1 = time.perf_counter()
                handlers.api_handler(event("stopSession", {"id": session["id"]}), None)
                t2 = time.perf_counter()
                starts.append(t1 - t0)
                stops.append(t2 - t1)
            elapsed = time.perf_counter() - began
        finally:
            sys.stdout = stdout
            devnull.close()
            BotocoreStubber.process_request = original
        handlers.reset()

    def pct(values, q):
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    return {
        "cycles": cycles,
        "cycles_per_s": cycles / elapsed,
        "moto_share": in_moto[0] / elapsed,
        "own_ms_per_cycle": (elapsed - in_moto[0]) / cycles * 1000,
        "start_p50_ms": pct(starts, 0.50),
        "start_p95_ms": pct(starts, 0.95),
        "stop_p50_ms": pct(stops, 0.50),
        "stop_p95_ms": pct(stops, 0.95),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9, help="fresh interpreters per import measurement")
    parser.add_argument("--cycles", type=int, default=200, help="start+stop cycles against moto")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    args = parser.parse_args()

    imports = bench_imports(args.runs)
    throughput = bench_throughput(args.cycles)
    if args.json:
        print(json.dumps({"imports": imports, "throughput": throughput}, indent=2))
        return
    verdict = "OK" if imports["added_ratio"] < TARGET_RATIO else "OVER TARGET"
    print(f"cold import (median of {args.runs} fresh interpreters)")
    print(f"  import boto3                  {imports['boto3_ms']:8.1f} ms")
    print(f"  import sessions.handlers      {imports['handler_ms']:8.1f} ms  (includes boto3; .py only, as shipped)")
    print(f"  added by sessions package     {imports['added_ms']:8.1f} ms  = {imports['added_ratio']:.1%} of boto3 "
          f"(target < {TARGET_RATIO:.0%}: {verdict})")
    print(f"  same, precompiled bytecode    {imports['handler_precompiled_ms']:8.1f} ms  = "
          f"{imports['added_precompiled_ratio']:.1%} added")
    print(f"  first invocation setup        {imports['first_call_setup_ms']:8.1f} ms  (settings + DynamoDB/ECS clients, "
          "paid once per container)")
    print(f"start+stop via api_handler against moto in-process ({throughput['cycles']} cycles)")
    print(f"  throughput                    {throughput['cycles_per_s']:8.1f} cycles/s "
          f"({throughput['moto_share']:.0%} of the time inside moto's backends)")
    print(f"  outside moto per cycle        {throughput['own_ms_per_cycle']:8.1f} ms  (sessions code + botocore "
          "serialization, 6 AWS calls)")
    print(f"  startSession p50 / p95        {throughput['start_p50_ms']:8.1f} / {throughput['start_p95_ms']:.1f} ms")
    print(f"  stopSession  p50 / p95        {throughput['stop_p50_ms']:8.1f} / {throughput['stop_p95_ms']:.1f} ms")


if __name__ == "__main__":
    main()
