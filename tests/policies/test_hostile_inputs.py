"""Hostile input: every export gets exit 0, 1 or 2 and at most one line on stderr, never a traceback.

Generated broadly (hypothesis): arbitrary JSON values in every position a rule or the estimate
reads, numbers at and beyond the float range, non-finite floats (as JSON tokens and as Pulumi's
float objects), wrong types for every export layer, deep nesting; plus a closed output pipe.
"""

from __future__ import annotations

import io
import json
import math
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from policies import awstypes as t
from policies.check import run
from policies.rules import ALL_RULES

from .cases import _budget
from .helpers import SECRET_SIG, allow, entry, export, policy_doc

ROOT = Path(__file__).resolve().parents[2]
SIG = "4dabf18193072939515e22adb298388d"
FLOAT_SIG = "8ad145fe-0d11-4827-bfd7-1abcbf086f5c"
TYPES = sorted({ty for r in ALL_RULES if r.types for ty in r.types} | {t.AWSX_VPC, t.DYNAMODB_TABLE, t.EIP})
PROPS = sorted({"policy", "assumeRolePolicy", "inlinePolicies", "managedPolicyArns", "tags", "readCapacity",
                "writeCapacity", "replicas", "globalSecondaryIndexes", "billingMode", "memorySize", "timeout",
                "environment", "numberOfAvailabilityZones", "natGateways", "subnetSpecs", "vpcEndpointSpecs",
                "subnetIds", "ingress", "cidrBlocks", "fromPort", "toPort", "protocol", "retentionInDays",
                "limitAmount", "notifications", "principal", "sourceArn", "containerDefinitions", "cpu", "memory",
                "capacityProviderStrategies", "period", "metricQueries", "loadBalancerType", "name"})


def _pulumi_float(value: float) -> dict:
    return {SIG: FLOAT_SIG, "value": struct.pack(">d", value).hex()}


numbers = st.one_of(
    st.integers(), st.integers(min_value=-10 ** 400, max_value=10 ** 400),
    st.floats(allow_nan=True, allow_infinity=True), st.just(1e308), st.just(10 ** 308),
    st.sampled_from([math.nan, math.inf, -math.inf, 0.0, -0.0]).map(_pulumi_float))
specials = st.one_of(
    st.builds(lambda k, v: {SIG: k, **v}, st.sampled_from(
        [SECRET_SIG[SIG], FLOAT_SIG, "803fd3297a5875dc03ca845dda5d2a98", "5cf8f73096256a8f31e491e813e4eb8e",
         "c44067f5952c0a294b673a41bacd8c17", "bogus"]),
        st.dictionaries(st.sampled_from(["ciphertext", "plaintext", "value", "urn", "id", "text", "hash"]),
                        st.one_of(st.text(max_size=20), numbers), max_size=3)),
    st.builds(lambda v: {**SECRET_SIG, "plaintext": json.dumps(v, allow_nan=True)},
              st.recursive(st.one_of(numbers, st.text(max_size=10)), lambda c: st.lists(c, max_size=3), max_leaves=5)))
leaves = st.one_of(st.none(), st.booleans(), numbers, st.text(max_size=30),
                   st.sampled_from(["*", "0.0.0.0/0", "::/0", "-1", "PROVISIONED", json.dumps(policy_doc(allow("*"))),
                                    "04da6b54-80e4-46f7-96ec-b56ff0331ba9"]), specials)
values = st.recursive(leaves, lambda children: st.one_of(
    st.lists(children, max_size=4),
    st.dictionaries(st.one_of(st.sampled_from(PROPS + ["Statement", "Effect", "Action", "Resource", "Principal",
                                                       "Condition", "type", "cpu", "memory"]),
                              st.text(max_size=8)), children, max_size=4)), max_leaves=25)
resources = st.builds(lambda ty, props, name: entry(ty, props, name),
                      st.sampled_from(TYPES), st.dictionaries(st.sampled_from(PROPS), values, max_size=6),
                      st.from_regex(r"[a-z]{1,8}", fullmatch=True))


def _check(tmp_path: Path, text: str) -> tuple[int, str, str]:
    path = tmp_path / "state.json"
    path.write_text(text)
    out, err = io.StringIO(), io.StringIO()
    code = run(str(path), None, None, "text", out=out, err=err)
    assert code in (0, 1, 2)
    assert "Traceback" not in err.getvalue() and "Traceback" not in out.getvalue()
    if code == 2:
        assert err.getvalue().count("\n") == 1 and out.getvalue() == "", err.getvalue()
    else:
        assert err.getvalue() == "", err.getvalue()
    return code, out.getvalue(), err.getvalue()


FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                        HealthCheck.too_slow])


@FAST
@given(st.lists(resources, min_size=1, max_size=4))
def test_arbitrary_values_in_every_read_position(tmp_path, entries):
    _check(tmp_path, json.dumps(export([entry(t.BUDGET, _budget(), "budget"), *entries]), allow_nan=True))


def _layers(doc: dict, where: str, value) -> dict:
    if where == "top":
        return value
    if where in ("version", "deployment", "features"):
        doc[where] = value
    elif where in ("resources", "manifest", "secrets_providers", "metadata", "pending_operations"):
        doc["deployment"][where] = value
    else:
        doc["deployment"]["resources"][-1][where] = value
    return doc


@FAST
@given(st.sampled_from(["top", "version", "deployment", "features", "resources", "manifest", "secrets_providers",
                        "metadata", "pending_operations", "urn", "type", "inputs", "custom", "provider", "parent",
                        "created", "delete", "customTimeouts", "hideDiff"]), values)
def test_wrong_types_in_every_export_layer(tmp_path, where, value):
    doc = export([entry(t.BUDGET, _budget(), "budget"), entry(t.ROLE_POLICY, {"role": "r", "policy": "{}"}, "p")])
    _check(tmp_path, json.dumps(_layers(doc, where, value), allow_nan=True))


@FAST
@given(st.binary(max_size=200).map(lambda b: b.decode("latin-1")))
def test_arbitrary_bytes(tmp_path, text):
    _check(tmp_path, text)


def _table(read_capacity_text: str) -> str:
    doc = export([entry(t.BUDGET, _budget(), "budget"),
                  entry(t.DYNAMODB_TABLE, {"billingMode": "PROVISIONED", "readCapacity": "CAP", "writeCapacity": 1},
                        "table")])
    return json.dumps(doc).replace('"CAP"', read_capacity_text)


@pytest.mark.parametrize("number, fragment", [
    ("1" * 400, "a 400-digit integer is beyond the range of a 64-bit float"),
    ("-" + "9" * 400, "a 400-digit integer is beyond the range"),
    ("1" + "0" * 309, "is beyond the range of a 64-bit float"),
    ("1e400", "number 1e400 is beyond the range of a 64-bit float"),
    ("-1e400", "beyond the range"),
    ("NaN", "NaN is not a JSON number"),
    ("Infinity", "Infinity is not a JSON number"),
    ("1" * 5000, "5000-digit integer"),
])
def test_named_numbers_beyond_what_pulumi_reads_exit_2(tmp_path, number, fragment):
    code, _, err = _check(tmp_path, _table(number))
    assert code == 2 and fragment in err


@pytest.mark.parametrize("value", [_pulumi_float(math.inf), _pulumi_float(math.nan), 1e308, 10 ** 300, -5, "many"])
@pytest.mark.parametrize("prop", ["numberOfAvailabilityZones", "natGateways"])
def test_extreme_az_counts_are_judged_or_reported(tmp_path, prop, value):
    vpc = entry(t.AWSX_VPC, {prop: value if prop != "natGateways" else {"strategy": "OnePerAz"},
                             "numberOfAvailabilityZones": value}, "vpc", custom=False)
    code, out, _ = _check(tmp_path, json.dumps(export([entry(t.BUDGET, _budget(), "budget"), vpc])))
    assert code in (0, 1) and "$nan" not in out
    if isinstance(value, float) or value == 10 ** 300:  # absurdly many NAT gateways: over any budget
        assert code == 1 and "cost-fixed-monthly-estimate" in out


def test_huge_but_readable_capacity_is_priced_or_reported(tmp_path):
    code, out, _ = _check(tmp_path, _table(str(10 ** 300)))
    assert code in (0, 1) and "Estimated fixed monthly cost" in out or "[skipped estimate]" in out


def test_closed_output_pipe_keeps_the_verdict_and_prints_no_traceback(tmp_path):
    # Far more output than a pipe buffers (64 KiB), so the runner is still writing when head exits.
    repos = [entry(t.ECR_REPOSITORY, {"name": f"r{i}"}, f"repo{i}") for i in range(1500)]
    admin = entry(t.ROLE_POLICY, {"role": "r", "policy": policy_doc(allow("*"))}, "admin")
    path = tmp_path / "state.json"
    path.write_text(json.dumps(export([entry(t.BUDGET, _budget(), "budget"), admin, *repos])))
    script = f'"{sys.executable}" -m policies.check "{path}" | head -1; exit ${{PIPESTATUS[0]}}'
    proc = subprocess.run(["bash", "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.stdout.count("\n") == 1 and proc.stdout.startswith("[mandatory]")
    assert proc.returncode == 1 and proc.stderr == "", proc.stderr


@pytest.mark.parametrize("number", ["NaN", "1e400", "-Infinity", "1" * 400])
def test_config_numbers_beyond_what_pulumi_reads_exit_2(tmp_path, number):
    (tmp_path / "cfg.json").write_text('{"cost-lambda-limits": {"maxMemoryMb": %s}}' % number)
    path = tmp_path / "state.json"
    path.write_text(json.dumps(export([entry(t.BUDGET, _budget(), "budget")])))
    out, err = io.StringIO(), io.StringIO()
    assert run(str(path), str(tmp_path / "cfg.json"), None, "text", out=out, err=err) == 2
    assert err.getvalue().count("\n") == 1 and "cfg.json" in err.getvalue() and out.getvalue() == ""


def test_help_lists_the_exit_codes():
    proc = subprocess.run([sys.executable, "-m", "policies.check", "--help"], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0 and "exit codes: 0 " in proc.stdout and "1 mandatory" in proc.stdout and "2 the" in proc.stdout
