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
        ("no manifest", drop(["deployment", "manifest"]), "missing required property 'manifest'"),
        ("manifest without time", drop(["deployment", "manifest", "time"]), "deployment.manifest"),
        ("resource without urn", drop(res + ["urn"]), "deployment.resources[2]"),
        ("resources not a list", setv(["deployment", "resources"], {}), "deployment.resources: expected array"),
        ("custom not boolean", setv(res + ["custom"], "yes"), "custom: expected boolean"),
        ("unknown resource field", setv(res + ["colour"], "red"), "unexpected property 'colour'"),
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


def test_missing_schemas_dir_exits_2(tmp_path):
    path = tmp_path / "state.json"
    path.write_text(json.dumps(CLEAN))
    env = {"PULUMI_SCHEMAS_DIR": str(tmp_path / "no-schemas"), "PATH": "/usr/bin:/bin"}
    proc = subprocess.run([sys.executable, "-m", "policies.check", str(path)], cwd=ROOT, env=env,
                          capture_output=True, text=True)
    assert proc.returncode == 2 and "not found" in proc.stderr and "Traceback" not in proc.stderr


def test_module_entry_point(tmp_path):
    path = tmp_path / "state.json"
    path.write_text(json.dumps(DIRTY))
    proc = subprocess.run([sys.executable, "-m", "policies.check", str(path), "--format", "json"],
                          cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 1 and json.loads(proc.stdout)
