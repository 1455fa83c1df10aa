"""The deploy lint on the real dev and prod exports: clean as shipped, and every constraint kind it
claims is found when a mistake of that kind is seeded into a real export."""

from __future__ import annotations

import copy
import json

import pytest

from tools import export, program
from tools.deploylint import lint
from tools.deploylint.__main__ import main
from tools.deploylint.known import KNOWN, NAME_RULES
from tools.deploylint.mapping import NOT_AWS, TYPES


@pytest.fixture(scope="module")
def exports():
    return {stack: export.build(program.run(stack)) for stack in ("dev", "prod")}


def _resources(doc, type_):
    return [r for r in doc["deployment"]["resources"] if r["type"] == type_]


def _seed(doc, type_, change, name=None):
    """A copy of ``doc`` with ``change(inputs, resource)`` applied to one resource of ``type_``; its URN."""
    doc = copy.deepcopy(doc)
    res = next(r for r in _resources(doc, type_) if name is None or r["urn"].endswith(f"::{name}"))
    change(res["inputs"], res)
    return doc, res["urn"]


def _set(**values):
    return lambda inputs, _res: inputs.update(values)


def _rename(new_name):
    def change(_inputs, res):
        res["urn"] = res["urn"].rsplit("::", 1)[0] + f"::{new_name}"
    return change


def _container(**values):
    def change(inputs, _res):
        containers = json.loads(inputs["containerDefinitions"])
        containers[0].update(values)
        inputs["containerDefinitions"] = json.dumps(containers)
    return change


LAMBDA = "aws:lambda/function:Function"
ROLE = "aws:iam/role:Role"
# (constraint kind, resource type, seeded change, property path the finding must name)
SEEDS = [
    ("enum", "aws:cognito/userPool:UserPool", _set(mfaConfiguration="SOMETIMES"), "mfaConfiguration"),
    ("enum", "aws:ecs/taskDefinition:TaskDefinition", _container(essential=True, **{"logConfiguration": {"logDriver": "syslogd"}}),
     "containerDefinitions[0].logConfiguration.logDriver"),
    ("min", LAMBDA, _set(memorySize=64), "memorySize"),
    ("min", "aws:cognito/userPool:UserPool",
     lambda i, r: i["passwordPolicy"].update(minimumLength=4), "passwordPolicy.minimumLength"),
    ("max", LAMBDA, _set(timeout=99999), "timeout"),
    ("max", "aws:cognito/userPoolClient:UserPoolClient", _set(authSessionValidity=60), "authSessionValidity"),
    ("min-length", "aws:cognito/userGroup:UserGroup", _set(name=""), "name"),
    ("max-length", ROLE, _set(description="x" * 1001), "description"),
    # Reshaped by the provider (and by the lint's converter): notifications -> NotificationsWithSubscribers.
    ("max-items", "aws:budgets/budget:Budget",
     lambda i, r: i["notifications"][0].update(subscriberEmailAddresses=[f"a{n}@corp.test" for n in range(11)]),
     "notifications[0].Subscribers"),
    ("min", "aws:budgets/budget:Budget", lambda i, r: i["notifications"][0].update(threshold=-5),
     "notifications[0].Notification.threshold"),
    ("min-items", LAMBDA, _set(architectures=[]), "architectures"),
    ("max-items", LAMBDA, _set(architectures=["arm64", "x86_64"]), "architectures"),
    ("pattern", ROLE, _set(name="no spaces allowed"), "name"),
    ("pattern", "aws:iam/rolePolicy:RolePolicy", _set(policy="{\"Statement\": \"\u2603\"}"), "policy"),
    ("required", "aws:iam/rolePolicy:RolePolicy", lambda i, r: i.pop("policy"), "PolicyDocument"),
    ("required", "aws:dynamodb/table:Table", lambda i, r: i["attributes"][0].pop("type"), "attributes[0].AttributeType"),
    ("type", LAMBDA, _set(memorySize="lots"), "memorySize"),
    ("type", "aws:ecs/taskDefinition:TaskDefinition", _set(containerDefinitions="[not json"), "containerDefinitions"),
    ("retention-values", "aws:cloudwatch/logGroup:LogGroup", _set(retentionInDays=10), "retentionInDays"),
    ("fargate-size", "aws:ecs/taskDefinition:TaskDefinition", _set(cpu="2048", memory="3000"), "memory"),
    ("fargate-stop-timeout", "aws:ecs/taskDefinition:TaskDefinition", _container(stopTimeout=300),
     "containerDefinitions[0].stopTimeout"),
    ("alarm-window", "aws:cloudwatch/metricAlarm:MetricAlarm", _set(period=300, evaluationPeriods=300),
     "evaluationPeriods"),
    ("sqs-retention", "aws:sqs/queue:Queue", _set(messageRetentionSeconds=30), "messageRetentionSeconds"),
    ("sqs-visibility", "aws:sqs/queue:Queue", _set(visibilityTimeoutSeconds=50000), "visibilityTimeoutSeconds"),
    ("alb-idle-timeout", "aws:lb/loadBalancer:LoadBalancer", _set(idleTimeout=5000), "idleTimeout"),
    # Auto-named: Lambda's real 64 (the model says 140), and the model's own 64 for a role.
    ("name-length", LAMBDA, _rename("f" * 60), "name"),
    ("max-length", ROLE, _rename("r" * 60), "name"),
    ("name-pattern", "aws:lb/loadBalancer:LoadBalancer", _set(name="internal-editors"), "name"),
    ("enum", "aws:bedrock/guardrail:Guardrail",
     lambda i, r: i["contentPolicyConfig"]["filtersConfigs"][0].update(inputStrength="EXTREME"),
     "contentPolicyConfig.filtersConfigs[0].inputStrength"),
    ("pattern", "aws:bedrock/agentcoreAgentRuntime:AgentcoreAgentRuntime", _set(agentRuntimeName="magi-agents"),
     "agentRuntimeName"),
    ("max", "aws:bedrock/agentcoreAgentRuntime:AgentcoreAgentRuntime",
     lambda i, r: i["lifecycleConfigurations"][0].update(maxLifetime=10 ** 7), "lifecycleConfigurations.maxLifetime"),
]


def test_both_stacks_are_clean_and_every_type_is_mapped(exports):
    for stack, doc in exports.items():
        report = lint(doc)
        assert report.findings == [], [f.message for f in report.findings]
        types = {r["type"] for r in doc["deployment"]["resources"] if r.get("custom")}
        assert types - set(NOT_AWS) == set(report.coverage.types), stack
        assert not report.coverage.unmapped
        # Real work was done: thousands of values, and each skip says why.
        assert report.coverage.checked > 500
        assert all(reason for (_t, _p, reason) in report.coverage.skipped)


@pytest.mark.parametrize("kind,type_,change,prop", SEEDS, ids=[f"{s[0]}-{s[1].split(':')[-1]}-{s[3]}" for s in SEEDS])
def test_seeded_mistake_is_found(exports, kind, type_, change, prop):
    doc, urn = _seed(exports["prod"], type_, change)
    report = lint(doc)
    hits = [(f.urn, f.property, f.kind) for f in report.findings]
    assert (urn, prop, kind) in hits, hits
    # Only the seeded resource is reported.
    assert {f.urn for f in report.findings} == {urn}


def test_every_claimed_kind_is_seeded():
    claimed = {"enum", "min", "max", "min-length", "max-length", "min-items", "max-items", "pattern", "required",
               "type", "name-length", "name-pattern"} | {k.kind for k in KNOWN}
    assert claimed == {s[0] for s in SEEDS}


def test_name_rules_and_mapping_only_name_types_that_exist():
    assert set(NAME_RULES) <= set(TYPES)


def test_a_real_exports_auto_names_and_encrypted_secrets(exports):
    # `pulumi stack export` records the provider's auto-name among the inputs and lists it in __defaults.
    doc, urn = _seed(exports["prod"], LAMBDA, _set(name="f" * 58 + "-1a2b3c4", __defaults=["name"]))
    [finding] = lint(doc).findings
    assert (finding.urn, finding.property, finding.kind) == (urn, "name", "name-length")
    assert "auto-name" in finding.constraint
    encrypted = {"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", "ciphertext": "AAAA"}
    doc, _ = _seed(exports["prod"], "aws:cognito/userPool:UserPool", _set(mfaConfiguration=encrypted))
    report = lint(doc)
    assert report.findings == []
    assert any(p == "mfaConfiguration" and "encrypted secret" in why for (_t, p, why) in report.coverage.skipped)


def test_secret_values_are_never_printed(exports):
    doc = copy.deepcopy(exports["prod"])
    pool = _resources(doc, "aws:cognito/userPool:UserPool")[0]
    pool["inputs"]["mfaConfiguration"] = {"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270",
                                          "value": "SOMETIMES"}
    [finding] = lint(doc).findings
    assert finding.kind == "enum" and finding.value == "[secret]"


def test_cli_exit_codes_and_json_shape(tmp_path, exports, capsys):
    clean = tmp_path / "prod.json"
    clean.write_text(json.dumps(exports["prod"]))
    assert main([str(clean)]) == 0
    out = capsys.readouterr().out
    assert "0 finding(s)" in out and "types mapped" in out and "Skipped properties" in out

    doc, urn = _seed(exports["prod"], LAMBDA, _set(memorySize=64))
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(doc))
    assert main([str(bad), "--format", "json"]) == 1
    [item] = json.loads(capsys.readouterr().out)
    assert set(item) == {"urn", "type", "property", "value", "constraint", "message"}
    assert (item["urn"], item["property"], item["value"]) == (urn, "memorySize", 64)

    for content, expected in (("{not json", "not JSON"), ('{"deployment": 3}', "not a stack export")):
        broken = tmp_path / "broken.json"
        broken.write_text(content)
        assert main([str(broken)]) == 2
        err = capsys.readouterr().err
        assert expected in err and len(err.strip().splitlines()) == 1
    assert main([str(tmp_path / "missing.json")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_the_offline_preview_runs_the_lint_after_the_pack_and_fails_on_findings(monkeypatch, capsys):
    import tools.deploylint as deploylint
    from tools import preview
    from tools.deploylint.core import Coverage, Finding, Report

    seen = {}

    def fake(doc):
        seen["resources"] = len(doc["deployment"]["resources"])
        return Report([Finding("urn:x", LAMBDA, "memorySize", 64, "min", "MemorySize: at least 128", "botocore")],
                      Coverage())

    monkeypatch.setattr(deploylint, "lint", fake)
    assert preview.main(["--stack", "dev"]) == 1
    out = capsys.readouterr().out
    assert seen["resources"] > 100
    assert out.index("Policy pack") < out.index("Deploy lint: 1 finding(s)")
    assert "memorySize = 64: MemorySize: at least 128" in out


@pytest.mark.parametrize("section,key,limit", [
    ("api", "queryDepthLimit", ("appsync", "CreateGraphqlApi", "QueryDepthLimit")),
    ("api", "resolverCountLimit", ("appsync", "CreateGraphqlApi", "ResolverCountLimit")),
])
def test_stack_config_and_the_lint_share_the_models_bounds(section, key, limit):
    """One source: the config refuses exactly what the model (and so the lint) refuses."""
    import yaml

    from components.config import ConfigError, parse
    from tools.deploylint.shapes import model_limit

    top = model_limit(*limit)
    current = yaml.safe_load((program.ROOT / "Pulumi.dev.yaml").read_text())["config"][f"aiplatform:{section}"]
    raw, secrets = program.stack_config("dev", overrides={f"aiplatform:{section}": {**current, key: top}})
    assert getattr(parse(raw, "dev", secrets).api, {"queryDepthLimit": "query_depth_limit",
                                                    "resolverCountLimit": "resolver_count_limit"}[key]) == top
    raw, secrets = program.stack_config("dev", overrides={f"aiplatform:{section}": {**current, key: top + 1}})
    with pytest.raises(ConfigError, match=f"{section}.{key} must be between 1 and {top}, got {top + 1}"):
        parse(raw, "dev", secrets)
