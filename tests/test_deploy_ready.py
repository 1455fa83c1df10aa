"""Deploy readiness of the whole program: placeholders refused by a real deploy (warned offline),
the account pin where data is protected, every stateful resource and its protection, and the cost
guard saying whether it can see spend."""

from __future__ import annotations

import json

import pytest
import yaml

from components import config as platform_config
from components import placeholders
from policies.engine import evaluate
from tools import export, preview, program

TABLE, POOL = "aws:dynamodb/table:Table", "aws:cognito/userPool:UserPool"
SECRET, REPOSITORY = "aws:secretsmanager/secret:Secret", "aws:ecr/repository:Repository"
MEMORY = "aws:bedrock/agentcoreMemory:AgentcoreMemory"


@pytest.fixture(scope="module")
def runs():
    return {stack: program.run(stack) for stack in ("dev", "prod")}


# --- placeholders ------------------------------------------------------------------------------
def _keys(found):
    return [line.split(" (", 1)[0] for line in found]


def test_shipped_placeholders_are_found_per_key():
    prod, _ = program.stack_config("prod")
    assert _keys(placeholders.find(prod)) == [
        "aiplatform:costGuard.alertEmails[0]", "aiplatform:costGuard.alertEmails[1]",
        "aiplatform:identity.callbackUrls[0]", "aiplatform:identity.logoutUrls[0]",
        "aiplatform:identity.email.sourceArn", "aiplatform:identity.email.fromAddress",
        "aiplatform:observability.alarmEmails[0]", "aiplatform:observability.alarmEmails[1]",
        "aiplatform:sessions.certificateArn", "aiplatform:sessions.editorDomain", "aws:allowedAccountIds[0]"]
    dev, _ = program.stack_config("dev")
    assert _keys(placeholders.find(dev)) == [
        "aiplatform:costGuard.alertEmails[0]", "aiplatform:observability.alarmEmails[0]",
        "aiplatform:sessions.allowedCidrs[0]"]


@pytest.mark.parametrize("value,why", [
    ("ops@example.com", "an example domain"), ("https://app.example.org/cb", "an example domain"),
    ("ide.example.net", "an example domain"), ("a@b.invalid", "an example domain"),
    ("arn:aws:iam::111122223333:role/x", "the documentation account 111122223333"),
    ("192.0.2.0/24", "RFC 5737"), ("198.51.100.7/32", "RFC 5737"), ("203.0.113.0/25", "RFC 5737"),
    ("2001:db8:1::/48", "RFC 3849"),
    ("arn:aws:acm:us-east-1:210987654321:certificate/00000000-0000-0000-0000-000000000000", "a dummy id"),
    ("arn:aws:acm:us-east-1:210987654321:certificate/11111111-1111-1111-1111-111111111111", "a dummy id"),
])
def test_documentation_values_are_recognised(value, why):
    assert any(why in r for r in placeholders.reasons(value)), placeholders.reasons(value)


@pytest.mark.parametrize("value", [
    "ops@examples.com", "http://localhost:3000/", "com.example.web", "81.2.69.0/24", "10.0.0.0/8",
    "arn:aws:acm:us-east-1:210987654321:certificate/3f1c9a52-7d4e-4b8a-9c1e-2a6f5d8b7e90", "1234567890123",
])
def test_real_values_are_not_placeholders(value):
    assert placeholders.reasons(value) == []


def _load_with(stack, overrides=None, real=True, monkeypatch=None):
    raw, secrets = program.stack_config(stack, overrides=overrides)
    result = {}
    monkeypatch.setattr(placeholders, "mocked", lambda: not real)
    program.run(stack, raw, secrets, program=lambda: result.update(cfg=platform_config.load()))
    return result["cfg"]


def test_a_real_deploy_refuses_placeholders_with_one_line_naming_each_key(monkeypatch):
    with pytest.raises(platform_config.ConfigError) as err:
        _load_with("prod", monkeypatch=monkeypatch)
    message = str(err.value)
    assert "\n" not in message and message.startswith("Pulumi.prod.yaml: documentation placeholder values")
    for key in ("aws:allowedAccountIds[0]", "aiplatform:sessions.certificateArn", "aiplatform:identity.email.sourceArn"):
        assert key in message


def test_under_mocks_placeholders_only_warn(monkeypatch, capsys):
    assert _load_with("prod", real=False, monkeypatch=monkeypatch).stack == "prod"
    monkeypatch.undo()
    assert preview.main(["--stack", "dev", "--no-policy"]) == 0
    err = capsys.readouterr().err
    assert "warning: placeholder (a real deploy refuses it): aiplatform:sessions.allowedCidrs[0]" in err


def test_a_real_deploy_with_real_values_proceeds(monkeypatch):
    dev = yaml.safe_load((program.ROOT / "Pulumi.dev.yaml").read_text())["config"]
    overrides = {
        "aiplatform:costGuard": {**dev["aiplatform:costGuard"], "alertEmails": ["finops@acme-corp.io"]},
        "aiplatform:observability": {**dev["aiplatform:observability"], "alarmEmails": ["oncall@acme-corp.io"]},
        "aiplatform:sessions": {**dev["aiplatform:sessions"], "allowedCidrs": ["81.2.69.0/24"]},
    }
    assert _load_with("dev", overrides, monkeypatch=monkeypatch).stack == "dev"


def test_mocked_reads_the_runtime_monitor(runs, monkeypatch):
    from pulumi.runtime import settings

    assert placeholders.mocked()  # program.run left Pulumi's mocks installed
    monkeypatch.setattr(settings, "get_monitor", lambda: object())  # what a real engine's gRPC stub looks like
    assert not placeholders.mocked()


# --- the account pin -----------------------------------------------------------------------------
@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_stacks_with_deletion_protection_pin_their_account(stack):
    config = yaml.safe_load((program.ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]
    protected = config["aiplatform:data"]["deletionProtection"] or config["aiplatform:identity"]["deletionProtection"]
    assert protected == (stack == "prod")
    if protected:
        assert config.get("aws:allowedAccountIds"), f"Pulumi.{stack}.yaml must set aws:allowedAccountIds"


def test_deletion_protection_without_an_account_pin_is_refused():
    raw, secrets = program.stack_config("prod")
    del raw["aws:allowedAccountIds"]
    with pytest.raises(platform_config.ConfigError, match="aws:allowedAccountIds is required when deletionProtection"):
        platform_config.parse(raw, "prod", secrets)


# --- what cannot be rebuilt --------------------------------------------------------------------------
# Every stateful resource of the program and how it is protected; a new one must be added here.
STATEFUL = {
    # type: (logical names, check(registration, prod) -> protected as intended)
    TABLE: ({"data-users", "data-sessions", "data-conversations", "data-messages", "data-agentPresets",
             "data-agentUsage", "data-traceSteps"},
            lambda r, prod: r.protect == prod and r.plain_inputs["deletionProtectionEnabled"] == prod),
    POOL: ({"identity-users"},
           lambda r, prod: r.protect == prod and r.plain_inputs["deletionProtection"] == ("ACTIVE" if prod else "INACTIVE")),
    # Operator-set values: a deleted secret stays recoverable for the recovery window. Sessions share no
    # secret any more; the GitHub App's key (sessions-github-app-key) exists only with sessions.githubApp,
    # which neither stack sets (tests/components/test_sessions.py checks its recovery window).
    SECRET: (set(), lambda r, prod: r.plain_inputs["recoveryWindowInDays"] >= 7),
    # Per-launch environment files, disposable by design (expired after a day): emptied on delete.
    "aws:s3/bucket:Bucket": ({"sessions-launch"}, lambda r, prod: r.plain_inputs.get("forceDestroy") is True),
    # Pushed images: without forceDelete AWS refuses to delete a repository that still holds images.
    REPOSITORY: ({"sessions-repo", "agents-repo"}, lambda r, prod: not r.plain_inputs.get("forceDelete")),
    # Agent conversation context, short-lived by design: events expire, so a replacement loses at most
    # that window (30 days as configured), never durable data.
    MEMORY: ({"agents-memory"}, lambda r, prod: r.plain_inputs["eventExpiryDuration"] <= 30),
    # Users' homes (sessions.workspace efs, prod only): protected from the same setting as the tables.
    "aws:efs/fileSystem:FileSystem": (lambda stack: {"sessions-workspaces"} if stack == "prod" else set(),
                                      lambda r, prod: r.protect == prod and r.plain_inputs["encrypted"] is True),
}


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_stateful_resource_and_its_protection(runs, stack):
    monitor = runs[stack].monitor
    for type_, (names, protected) in STATEFUL.items():
        regs = monitor.of_type(type_)
        assert {r.name for r in regs} == (names(stack) if callable(names) else names), type_
        for r in regs:
            assert protected(r, stack == "prod"), (r.name, r.protect)


def test_the_hosted_ui_domain_is_deleted_before_it_is_replaced(runs):
    [domain] = runs["prod"].monitor.of_type("aws:cognito/userPoolDomain:UserPoolDomain")
    assert domain.options["deleteBeforeReplace"] is True


# --- the cost guard says whether it works ----------------------------------------------------------
def _dashboard(run) -> str:
    [board] = run.monitor.of_type("aws:cloudwatch/dashboard:Dashboard")
    return json.loads(board.plain_inputs["dashboardBody"])["widgets"][0]["properties"]["markdown"]


def test_tag_scoped_guard_is_shown_inert_in_outputs_and_dashboard(runs):
    dev, prod = runs["dev"], runs["prod"]
    assert dev.outputs["costGuardStatus"].startswith("inert until the cost-allocation tag 'environment' is active")
    assert _dashboard(dev).startswith("**Cost guard inert** until the cost-allocation tag 'environment' is active")
    assert prod.outputs["costGuardStatus"].startswith("active: ")
    assert "Cost guard inert" not in _dashboard(prod)


def test_the_packs_budget_rule_accepts_both_scopes(runs):
    for stack, run in runs.items():
        report = evaluate(export.build(run), stack=stack)
        assert report.resources > 100
        budget_rule = [v for v in report.violations + [s.violation for s in report.suppressed]
                       if v.policy == "cost-budget-required"]
        assert budget_rule == [], stack
