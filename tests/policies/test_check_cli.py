"""`python -m policies.check`: exit codes, output formats, malformed inputs never crash it."""

from __future__ import annotations

import copy
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from policies import awstypes as t
from policies.check import run

from .cases import _budget
from .helpers import SECRET_SIG, allow, entry, export, policy_doc

ROOT = Path(__file__).resolve().parents[2]
CLEAN = export([entry(t.BUDGET, _budget(), "budget"),
                entry(t.LOG_GROUP, {"retentionInDays": 14.0}, "logs")])
DIRTY = export([entry(t.BUDGET, _budget(), "budget"),
                entry(t.ROLE_POLICY, {"role": "r", "policy": policy_doc(allow("*"))}, "admin"),
                entry(t.ECR_REPOSITORY, {"name": "ide"}, "repo")])


def _run(tmp_path, document, *args, raw=None):
    path = tmp_path / "state.json"
    path.write_text(raw if raw is not None else json.dumps(document))
    out, err = io.StringIO(), io.StringIO()
    fmt = "json" if "json" in args else "text"
    config = next((a.split("=", 1)[1] for a in args if a.startswith("config=")), None)
    stack = next((a.split("=", 1)[1] for a in args if a.startswith("stack=")), None)
    code = run(str(path), config, stack, fmt, out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_clean_stack_exits_0_and_prints_the_cost_estimate(tmp_path):
    code, out, err = _run(tmp_path, CLEAN)
    assert code == 0 and err == ""
    assert "Estimated fixed monthly cost: $0.00" in out and "0 mandatory" in out


def test_mandatory_violation_exits_1_with_json_list(tmp_path):
    code, out, _ = _run(tmp_path, DIRTY, "json")
    assert code == 1
    findings = json.loads(out)
    assert all(set(f) == {"policy", "urn", "type", "enforcement", "severity", "message"} for f in findings)
    admin = [f for f in findings if f["policy"] == "iam-no-wildcard-actions"]
    assert admin and admin[0]["type"] == t.ROLE_POLICY and admin[0]["enforcement"] == "mandatory"
    assert any(f["policy"] == "security-ecr-scan-on-push" and f["enforcement"] == "advisory" for f in findings)


def test_advisory_only_exits_0(tmp_path):
    doc = export([entry(t.BUDGET, _budget(), "budget"), entry(t.ECR_REPOSITORY, {"name": "ide"}, "repo")])
    code, out, _ = _run(tmp_path, doc)
    assert code == 0 and "[advisory] security-ecr-scan-on-push" in out


def test_stack_config_is_used(tmp_path):
    doc = export([entry(t.BUDGET, _budget(), "budget"), entry(t.ECR_REPOSITORY, {"name": "ide"}, "repo")])
    assert _run(tmp_path, doc, "stack=prod")[0] == 1  # the security baseline is mandatory in prod
    assert _run(tmp_path, doc, "stack=dev")[0] == 0


def _mutations():
    def drop(path):
        def f(d):
            node = d
            for key in path[:-1]:
                node = node[key]
            del node[path[-1]]
        return f

    def setv(path, value):
        def f(d):
            node = d
            for key in path[:-1]:
                node = node[key]
            node[path[-1]] = value
        return f
    res = ["deployment", "resources", 2]
    return [
        ("version 2", setv(["version"], 2), "unsupported stack export version 2"),
        ("version string", setv(["version"], "3"), "unsupported stack export version '3'"),
        ("no deployment", drop(["deployment"]), "needs 'version' and 'deployment'"),
        ("version 5", setv(["version"], 5), "unsupported stack export version 5"),
        ("version 3.0", setv(["version"], 3.0), "unsupported stack export version 3.0"),
        ("unknown feature", lambda d: d.update(version=4, features=["taint", "teleport"]), "feature(s) 'teleport'"),
        ("manifest time not a string", setv(["deployment", "manifest", "time"], 1), "deployment.manifest.time"),
        ("created not a string", setv(res + ["created"], 1.5), "resources[2].created: expected string"),
        ("resource without urn", drop(res + ["urn"]), "deployment.resources[2]"),
        ("resources not a list", setv(["deployment", "resources"], {}), "deployment.resources: expected array"),
        ("custom not boolean", setv(res + ["custom"], "yes"), "custom: expected boolean"),
        ("inputs not an object", setv(res + ["inputs"], "x"), "resources[2].inputs: expected object"),
        ("secret without payload", setv(res + ["inputs", "policy"], dict(SECRET_SIG)), "inputs.policy"),
        ("secret with both payloads", setv(res + ["inputs", "policy"], {**SECRET_SIG, "ciphertext": "a",
                                                                        "plaintext": "b"}), "inputs.policy"),
        ("unknown signature", setv(res + ["inputs", "policy"], {"4dabf18193072939515e22adb298388d": "zzz"}),
         "inputs.policy"),
        ("top level list", lambda d: None, None),
    ]


@pytest.mark.parametrize("name, mutate, fragment", _mutations(), ids=[m[0] for m in _mutations()])
def test_schema_violations_exit_2_with_one_line(tmp_path, name, mutate, fragment):
    doc = copy.deepcopy(DIRTY)
    if name == "top level list":
        doc, fragment = [doc], "top level must be a JSON object"
    else:
        mutate(doc)
    code, out, err = _run(tmp_path, doc)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and fragment in err, err
    assert "Traceback" not in err


@pytest.mark.parametrize("raw, fragment", [
    ('{"version": 3, "deployment": {"manifest": {', "not valid JSON"),
    ("", "not valid JSON"),
    ("\xff\xfe", "not valid JSON"),
])
def test_unparsable_input_exits_2(tmp_path, raw, fragment):
    code, _, err = _run(tmp_path, None, raw=raw)
    assert code == 2 and fragment in err and err.count("\n") == 1


def test_truncated_real_export_never_crashes(tmp_path):
    text = json.dumps(DIRTY)
    for cut in range(0, len(text), max(1, len(text) // 40)):
        code, _, err = _run(tmp_path, None, raw=text[:cut])
        assert code == 2 and "Traceback" not in err


def test_secrets_in_place_of_values_do_not_crash(tmp_path):
    sealed = {**SECRET_SIG, "ciphertext": "AAAA"}
    doc = export([entry(t.BUDGET, {**_budget(), "limitAmount": sealed, "notifications": sealed}, "budget"),
                  entry(t.ROLE, {"assumeRolePolicy": sealed, "inlinePolicies": [sealed], "tags": sealed}, "role"),
                  entry(t.LAMBDA_FUNCTION, {"role": sealed, "memorySize": sealed,
                                            "environment": {"variables": sealed}}, "fn"),
                  entry(t.DYNAMODB_TABLE, sealed and {"replicas": [sealed], "pointInTimeRecovery": sealed}, "tbl")])
    code, out, err = _run(tmp_path, doc, "json")
    assert code in (0, 1) and err == ""
    assert not [f for f in json.loads(out) if "could not evaluate" in f["message"]]


def test_missing_state_file_and_bad_config_exit_2(tmp_path):
    out, err = io.StringIO(), io.StringIO()
    assert run(str(tmp_path / "nope.json"), None, None, "text", out=out, err=err) == 2
    assert "file not found" in err.getvalue()
    (tmp_path / "cfg.json").write_text('{"cost-lambda-limits": "loud"}')
    code, _, err2 = _run(tmp_path, CLEAN, f"config={tmp_path / 'cfg.json'}")
    assert code == 2 and "enforcement level 'loud'" in err2
    code, _, err3 = _run(tmp_path, CLEAN, "stack=nosuchstack")
    assert code == 2 and "nosuchstack.json: file not found" in err3


def test_runner_needs_nothing_outside_the_pack(tmp_path):
    """policies/ copied alone (no repository beside it, no schema folder) still reads exports."""
    import shutil
    shutil.copytree(ROOT / "policies", tmp_path / "policies", ignore=shutil.ignore_patterns("__pycache__"))
    path = tmp_path / "state.json"
    path.write_text(json.dumps(CLEAN))
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": ""}
    proc = subprocess.run([sys.executable, "-m", "policies.check", str(path)], cwd=tmp_path, env=env,
                          capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stderr == "" and "0 mandatory" in proc.stdout, proc.stderr


def test_module_entry_point(tmp_path):
    path = tmp_path / "state.json"
    path.write_text(json.dumps(DIRTY))
    proc = subprocess.run([sys.executable, "-m", "policies.check", str(path), "--format", "json"],
                          cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 1 and json.loads(proc.stdout)


def _nested(depth: int) -> object:
    value: object = "x"
    for i in range(depth):
        value = [value] if i % 2 else {"k": value}
    return value


@pytest.mark.parametrize("depth, fragment", [
    (400, "values nested 405 levels deep (at deployment.resources[2].inputs.nested[0]"),  # valid JSON, too deep to check
    (5000, "too deep"),  # the parser or the validator stops it, depending on the interpreter's limits
])
def test_deeply_nested_values_exit_2_with_one_line(tmp_path, depth, fragment):
    path = tmp_path / "state.json"
    if depth < 900:
        path.write_text(json.dumps(export([entry(t.SQS_QUEUE, {"nested": _nested(depth)}, "q")])))
    else:  # json.dumps itself recurses: splice the nesting in as text
        hole = json.dumps(export([entry(t.SQS_QUEUE, {"nested": "HOLE"}, "q")]))
        path.write_text(hole.replace('"HOLE"', "[" * depth + "]" * depth))
    proc = subprocess.run([sys.executable, "-m", "policies.check", str(path)], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and fragment in proc.stderr and "Traceback" not in proc.stderr, proc.stderr


def test_moderately_nested_values_are_checked(tmp_path):
    doc = export([entry(t.BUDGET, _budget(), "budget"), entry(t.SQS_QUEUE, {"nested": _nested(40)}, "q")])
    code, _, err = _run(tmp_path, doc)
    assert code == 0 and err == ""


def test_wrong_typed_priced_values_never_crash(tmp_path):
    doc = export([entry(t.BUDGET, _budget(), "budget"),
                  entry(t.SECRET, {"replicas": 5.0}, "secret"),
                  entry(t.DYNAMODB_TABLE, {"billingMode": "PROVISIONED", "readCapacity": 1.0, "writeCapacity": 1.0,
                                           "globalSecondaryIndexes": [1.0]}, "table"),
                  entry(t.VPC_ENDPOINT, {"vpcEndpointType": "Interface", "subnetIds": 5.0, "serviceName": "s",
                                         "vpcId": "v"}, "endpoint"),
                  entry(t.METRIC_ALARM, {"metricQueries": 7.0, "comparisonOperator": "x", "evaluationPeriods": 1.0},
                        "alarm"),
                  entry(t.AWSX_VPC, {"availabilityZoneNames": 5.0}, "vpc", custom=False)])
    code, out, err = _run(tmp_path, doc)
    assert code in (0, 1) and err == "" and "Traceback" not in out
    for name in ("secret", "table", "endpoint", "alarm", "vpc"):
        assert any(line.startswith("    not priced: ") and line.split(" (", 1)[0].endswith(f"::{name}")
                   and "unexpected value" in line for line in out.splitlines()), name


WORKER = entry(t.LAMBDA_FUNCTION, {"name": "worker", "role": "r", "memorySize": 256.0}, "worker")
WORKER_LOGS = entry(t.LOG_GROUP, {"name": "/aws/lambda/worker", "retentionInDays": 14.0}, "worker-logs")
STALE = {"cost-lambda-limits": {"suppressions": [
    {"resource": "retired-*", "reason": "migration batch", "expires": "2020-01-01"}]}}


@pytest.mark.parametrize("level, exit_code", [(None, 0), ("mandatory", 1)])
def test_expired_suppression_matching_nothing_is_a_finding_in_json_and_exit_code(tmp_path, level, exit_code):
    config = dict(STALE, **({"pack-suppression-expired": level} if level else {}))
    (tmp_path / "cfg.json").write_text(json.dumps(config))
    code, out, _ = _run(tmp_path, export([entry(t.BUDGET, _budget(), "budget"), WORKER, WORKER_LOGS]), "json",
                        f"config={tmp_path / 'cfg.json'}")
    stale = [f for f in json.loads(out) if f["policy"] == "pack-suppression-expired"]
    assert code == exit_code and len(stale) == 1
    assert stale[0]["enforcement"] == (level or "advisory") and stale[0]["urn"] == ""
    assert "suppression 'retired-*' (migration batch, expired 2020-01-01)" in stale[0]["message"]


def test_text_output_lists_suppressed_findings_with_reasons(tmp_path):
    config = {"cost-lambda-limits": {"suppressions": [
        {"resource": "worker", "reason": "image unpacking needs 2 GB", "expires": "2999-01-01"}]}}
    (tmp_path / "cfg.json").write_text(json.dumps(config))
    big = entry(t.LAMBDA_FUNCTION, {"name": "worker", "role": "r", "memorySize": 2048.0}, "worker")
    code, out, _ = _run(tmp_path, export([entry(t.BUDGET, _budget(), "budget"), big, WORKER_LOGS]),
                        f"config={tmp_path / 'cfg.json'}")
    assert code == 0
    lines = out.splitlines()
    at = lines.index(next(line for line in lines if line.startswith("[suppressed] cost-lambda-limits")))
    assert lines[at + 1].strip() == "memorySize 2048 MB exceeds the cap of 1024 MB"
    assert lines[at + 2].strip() == "reason: image unpacking needs 2 GB (suppression 'worker', until 2999-01-01)"
    assert "1 suppressed" in out


def test_impossible_expiry_date_in_config_exits_2(tmp_path):
    (tmp_path / "cfg.json").write_text(json.dumps({"cost-lambda-limits": {"suppressions": [
        {"resource": "worker", "reason": "r", "expires": "2026-02-30"}]}}))
    code, out, err = _run(tmp_path, CLEAN, f"config={tmp_path / 'cfg.json'}")
    assert code == 2 and out == "" and "'2026-02-30' is not a calendar date" in err and err.count("\n") == 1
