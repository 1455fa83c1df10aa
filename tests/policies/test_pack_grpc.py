"""Start the real pack (policies/__main__.py) the way the Pulumi CLI does and talk gRPC to it.

The CLI runs the pack directory as a script and reads the analyzer port from its stdout; this
test does the same, then sends GetAnalyzerInfo, Configure, Analyze and AnalyzeStack requests with
camelCase properties and preview unknowns, as `pulumi preview --policy-pack policies` would.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import grpc
import pytest
from google.protobuf import empty_pb2, struct_pb2
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc

from policies import awstypes as t
from policies.rules import ALL_RULES

from .helpers import UNKNOWN, allow, policy_doc

PACK_DIR = Path(__file__).resolve().parents[2] / "policies"
URN = "urn:pulumi:dev::aiplatform::{type}::{name}"


def _struct(value: dict) -> struct_pb2.Struct:
    s = struct_pb2.Struct()
    s.update(value)
    return s


@pytest.fixture(scope="module")
def analyzer():
    proc = subprocess.Popen([sys.executable, "-c", "import runpy; runpy.run_path('.', run_name='__main__')"],
                            cwd=PACK_DIR, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": ""})
    try:
        port = proc.stdout.readline().strip()
        assert port.isdigit(), proc.stderr.read() if proc.poll() is not None else port
        channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        grpc.channel_ready_future(channel).result(timeout=20)
        yield analyzer_pb2_grpc.AnalyzerStub(channel)
        channel.close()
    finally:
        proc.kill()
        proc.wait(timeout=10)


def _provider(tags: dict) -> analyzer_pb2.AnalyzerProviderResource:
    return analyzer_pb2.AnalyzerProviderResource(
        type="pulumi:providers:aws", urn=URN.format(type="pulumi:providers:aws", name="aws"), name="aws",
        properties=_struct({"region": "us-east-1", "defaultTags": json.dumps({"tags": tags})}))


def _analyze(stub, type_: str, props: dict, name: str = "r", tags=None):
    request = analyzer_pb2.AnalyzeRequest(
        type=type_, urn=URN.format(type=type_, name=name), name=name, properties=_struct(props),
        provider=_provider(tags if tags is not None else {"project": "aiplatform", "environment": "dev"}))
    return list(stub.Analyze(request).diagnostics)


def test_analyzer_info_lists_every_rule_with_schema(analyzer):
    info = analyzer.GetAnalyzerInfo(empty_pb2.Empty())
    assert info.name == "aiplatform-guard"
    assert [p.name for p in info.policies] == [r.name for r in ALL_RULES]
    by_name = {p.name: p for p in info.policies}
    assert "suppressions" in by_name["cost-lambda-limits"].configSchema.properties
    assert by_name["iam-no-wildcard-actions"].enforcementLevel == analyzer_pb2.MANDATORY
    assert by_name["security-ecr-scan-on-push"].enforcementLevel == analyzer_pb2.ADVISORY


def test_analyze_reports_violations_and_skips_unknowns(analyzer):
    admin = _analyze(analyzer, t.ROLE_POLICY, {"role": "r", "policy": policy_doc(allow("*"))})
    assert {d.policyName for d in admin} >= {"iam-no-wildcard-actions", "iam-no-wildcard-resource"}
    assert all(d.enforcementLevel == analyzer_pb2.MANDATORY for d in admin)
    unknown = _analyze(analyzer, t.ROLE_POLICY, {"role": UNKNOWN, "policy": UNKNOWN})
    assert unknown == []  # no violation and no "can't run policy during preview" diagnostic either
    tagged = _analyze(analyzer, t.LOG_GROUP, {"retentionInDays": 14})
    assert tagged == []
    untagged = _analyze(analyzer, t.LOG_GROUP, {"retentionInDays": 14}, tags={})
    assert [d.policyName for d in untagged] == ["cost-required-tags"]


def test_configure_sets_levels_properties_and_suppressions(analyzer):
    fn = {"role": "r", "memorySize": 2048, "timeout": 30}
    assert [d.policyName for d in _analyze(analyzer, t.LAMBDA_FUNCTION, fn, "worker")] == ["cost-lambda-limits"]
    config = {
        "cost-lambda-limits": analyzer_pb2.PolicyConfig(
            enforcementLevel=analyzer_pb2.ADVISORY,
            properties=_struct({"suppressions": [{"resource": "worker", "reason": "batch job", "expires": "2999-01-01"}]})),
    }
    analyzer.Configure(analyzer_pb2.ConfigureAnalyzerRequest(policyConfig=config))
    assert _analyze(analyzer, t.LAMBDA_FUNCTION, fn, "worker") == []
    other = _analyze(analyzer, t.LAMBDA_FUNCTION, fn, "other")
    assert [(d.policyName, d.enforcementLevel) for d in other] == [("cost-lambda-limits", analyzer_pb2.ADVISORY)]


def test_analyze_stack_runs_stack_rules(analyzer):
    vpc = analyzer_pb2.AnalyzerResource(
        type=t.AWSX_VPC, urn=URN.format(type=t.AWSX_VPC, name="vpc"), name="vpc",
        properties=_struct({"natGateways": {"strategy": "OnePerAz"}, "numberOfAvailabilityZones": 3}))
    response = analyzer.AnalyzeStack(analyzer_pb2.AnalyzeStackRequest(resources=[vpc]))
    names = {d.policyName: d.message for d in response.diagnostics}
    assert "3 NAT gateways" in names["cost-nat-gateway-count"]
    assert "no aws:budgets/budget:Budget" in names["cost-budget-required"]


def test_unusable_config_is_reported_once_by_pack_config_valid(analyzer):
    # The CLI checks only the declared properties' types: an impossible date and a misspelled
    # property reach the pack, which must report them instead of failing every validate call.
    config = {
        "cost-lambda-limits": analyzer_pb2.PolicyConfig(
            enforcementLevel=analyzer_pb2.MANDATORY,
            properties=_struct({"suppressions": [{"resource": "worker", "reason": "batch", "expires": "2026-02-30"}]})),
        "cost-log-retention": analyzer_pb2.PolicyConfig(
            enforcementLevel=analyzer_pb2.MANDATORY, properties=_struct({"maxRetentionDay": 7})),
    }
    analyzer.Configure(analyzer_pb2.ConfigureAnalyzerRequest(policyConfig=config))
    try:
        fn = _analyze(analyzer, t.LAMBDA_FUNCTION, {"role": "r", "memorySize": 2048, "timeout": 30}, "worker")
        assert fn == []  # not evaluated with a broken entry, and no error diagnostic
        logs = _analyze(analyzer, t.LOG_GROUP, {"retentionInDays": 3653}, "logs")
        assert logs == []
        stack = analyzer.AnalyzeStack(analyzer_pb2.AnalyzeStackRequest(resources=[
            analyzer_pb2.AnalyzerResource(type=t.LAMBDA_FUNCTION, urn=URN.format(type=t.LAMBDA_FUNCTION, name="worker"),
                                          name="worker", properties=_struct({"role": "r"}))]))
        found = [d for d in stack.diagnostics if d.policyName == "pack-config-valid"]
        assert len(found) == 2 and all(d.enforcementLevel == analyzer_pb2.MANDATORY for d in found)
        messages = " | ".join(d.message for d in found)
        assert "'2026-02-30' is not a calendar date" in messages and "'maxRetentionDay' was unexpected" in messages
    finally:
        analyzer.Configure(analyzer_pb2.ConfigureAnalyzerRequest(policyConfig={}))
