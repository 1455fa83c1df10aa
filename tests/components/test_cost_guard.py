"""CostGuard under mocks: budget, alerts topic, budget action, anomaly detection, per stack."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi_aws as aws
import pytest
import yaml

from components import config as platform_config
from components import iam
from components.cost_guard import CostGuard, CostGuardArgs, validate
from tests.conftest import ROOT, build
from tools import program
from tools.mocks import ACCOUNT_ID

SESSION_START_ACTIONS = ("ecs:RunTask", "ecs:StartTask")
BUDGET = "aws:budgets/budget:Budget"
ACTION = "aws:budgets/budgetAction:BudgetAction"
TOPIC = "aws:sns/topic:Topic"
TOPIC_POLICY = "aws:sns/topicPolicy:TopicPolicy"
SUBSCRIPTION = "aws:sns/topicSubscription:TopicSubscription"
MONITOR = "aws:costexplorer/anomalyMonitor:AnomalyMonitor"
ANOMALY_SUBSCRIPTION = "aws:costexplorer/anomalySubscription:AnomalySubscription"
ROLE = "aws:iam/role:Role"
POLICY = "aws:iam/policy:Policy"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
# AWS Budgets: a notification takes at most 10 e-mail and 1 SNS subscriber; an action 1-11 subscribers.
MAX_EMAILS_PER_NOTIFICATION, MAX_SNS_PER_NOTIFICATION, MAX_ACTION_SUBSCRIBERS = 10, 1, 11


def _guard(roles: int = 1, deny=SESSION_START_ACTIONS):
    """A declare function: `roles` stand-in session-starter roles handed to the guard."""
    def declare(cfg, opts):
        throttled = [aws.iam.Role(f"session-starter-{i}", assume_role_policy=iam.trust_policy("lambda.amazonaws.com"),
                                  opts=opts) for i in range(roles)]
        return CostGuard("cost-guard", CostGuardArgs(config=cfg.cost_guard, stack=cfg.stack, tags=cfg.tags,
                                                     throttled_roles=throttled, deny_actions=deny), opts)
    return declare


def _cost_guard_override(stack: str, **changes) -> dict:
    """The stack file's costGuard section with some keys changed (overrides replace whole keys)."""
    section = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]["aiplatform:costGuard"]
    return {"aiplatform:costGuard": {**section, **changes}}


@pytest.fixture(scope="module")
def dev():
    return build(_guard(), "dev")[0]


@pytest.fixture(scope="module")
def prod():
    return build(_guard(roles=2), "prod")[0]


def _one(monitor, type_):
    regs = monitor.of_type(type_)
    assert len(regs) == 1, f"expected one {type_}, got {[r.name for r in regs]}"
    return regs[0]


def _topic_arn(monitor) -> str:
    return _one(monitor, TOPIC).outputs["arn"]


def _throttled_role_arns(monitor) -> list[str]:
    return sorted(r.outputs["arn"] for r in monitor.of_type(ROLE) if r.name.startswith("session-starter-"))


def _deny_policy(monitor):
    return _one(monitor, POLICY)


def _execution_role(monitor):
    return monitor.named("cost-guard-action") if any(
        r.name == "cost-guard-action" for r in monitor.of_type(ROLE)) else None


# ---------------------------------------------------------------------------------------------
# Budget
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("stack,amount", [("dev", "50.00"), ("prod", "1500.00")])
def test_monthly_cost_budget_in_usd_from_config(stack, amount, request):
    budget = _one(request.getfixturevalue(stack), BUDGET).plain_inputs
    assert (budget["budgetType"], budget["timeUnit"], budget["limitUnit"]) == ("COST", "MONTHLY", "USD")
    assert budget["limitAmount"] == amount
    assert budget["name"] == f"aiplatform-{stack}-monthly-cost"


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_budget_filters_on_the_environment_tag_only_with_the_tags_scope(stack, request):
    budget = _one(request.getfixturevalue(stack), BUDGET).plain_inputs
    if stack == "dev":  # scope: tags
        assert budget["costFilters"] == [{"name": "TagKeyValue", "values": ["user:environment$dev"]}]
    else:  # scope: account: the whole account's spend, visible from the first day
        assert "costFilters" not in budget


def test_exactly_actual_50_80_100_and_forecasted_100(dev):
    notes = _one(dev, BUDGET).plain_inputs["notifications"]
    got = sorted((n["notificationType"], n["threshold"], n["thresholdType"], n["comparisonOperator"]) for n in notes)
    assert got == sorted([("ACTUAL", 50, "PERCENTAGE", "GREATER_THAN"), ("ACTUAL", 80, "PERCENTAGE", "GREATER_THAN"),
                          ("ACTUAL", 100, "PERCENTAGE", "GREATER_THAN"),
                          ("FORECASTED", 100, "PERCENTAGE", "GREATER_THAN")])


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_subscribers_stay_within_budgets_limits_and_nobody_is_mailed_twice(stack, request):
    monitor = request.getfixturevalue(stack)
    topic = _topic_arn(monitor)
    for note in _one(monitor, BUDGET).plain_inputs["notifications"]:
        emails = note.get("subscriberEmailAddresses") or []
        sns = note.get("subscriberSnsTopicArns") or []
        assert len(emails) <= MAX_EMAILS_PER_NOTIFICATION and len(sns) <= MAX_SNS_PER_NOTIFICATION
        assert sns == [topic]
        # E-mail goes through the topic only; addresses on the notification too would mail twice.
        assert emails == []
    action_subscribers = _one(monitor, ACTION).plain_inputs["subscribers"]
    assert 1 <= len(action_subscribers) <= MAX_ACTION_SUBSCRIBERS
    assert action_subscribers == [{"subscriptionType": "SNS", "address": topic}]
    configured = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]["aiplatform:costGuard"]
    subs = [s.plain_inputs for s in monitor.of_type(SUBSCRIPTION)]
    assert sorted(s["endpoint"] for s in subs) == sorted(configured["alertEmails"])
    assert all(s["protocol"] == "email" and s["topic"] == topic for s in subs)


def test_config_refuses_more_alert_emails_than_a_budget_notification_takes():
    emails = [f"ops{i}@example.com" for i in range(MAX_EMAILS_PER_NOTIFICATION + 1)]
    raw, secrets = program.stack_config("dev", overrides=_cost_guard_override("dev", alertEmails=emails))
    with pytest.raises(platform_config.ConfigError, match=r"costGuard\.alertEmails must have between 1 and 10"):
        platform_config.parse(raw, "dev", secrets)


# ---------------------------------------------------------------------------------------------
# Alerts topic
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("stack,services", [
    ("dev", ["budgets.amazonaws.com"]),
    ("prod", ["budgets.amazonaws.com", "costalerts.amazonaws.com"]),
])
def test_topic_policy_lets_only_budgets_and_anomaly_detection_of_this_account_publish(stack, services, request):
    monitor = request.getfixturevalue(stack)
    policy = _one(monitor, TOPIC_POLICY).plain_inputs
    topic = _topic_arn(monitor)
    assert policy["arn"] == topic
    statements = iam.statements(policy["policy"])
    assert sorted(s["Principal"]["Service"] for s in statements) == services
    for s in statements:
        assert set(s) == {"Sid", "Effect", "Principal", "Action", "Resource", "Condition"}
        assert s["Effect"] == "Allow"
        assert s["Action"] == ["SNS:Publish"]
        assert s["Resource"] == [topic]
        assert s["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT_ID}}


def test_topic_is_unencrypted_because_budgets_cannot_use_the_aws_managed_sns_key(dev):
    # SSE with alias/aws/sns would silently drop every budget alert (its key policy can't grant Budgets).
    assert "kmsMasterKeyId" not in _one(dev, TOPIC).plain_inputs


def test_publishers_are_created_after_the_topic_policy(prod):
    policy_urn = _one(prod, TOPIC_POLICY).urn
    for type_ in (BUDGET, ACTION, ANOMALY_SUBSCRIPTION):
        assert policy_urn in _one(prod, type_).dependencies, type_


# ---------------------------------------------------------------------------------------------
# Budget action
# ---------------------------------------------------------------------------------------------
def test_budget_action_applies_the_deny_policy_to_the_handed_roles_at_the_default_threshold(prod):
    action = _one(prod, ACTION).plain_inputs
    assert (action["actionType"], action["approvalModel"], action["notificationType"]) == (
        "APPLY_IAM_POLICY", "AUTOMATIC", "ACTUAL")
    assert action["actionThreshold"] == {"actionThresholdType": "PERCENTAGE", "actionThresholdValue": 90}
    assert action["budgetName"] == "aiplatform-prod-monthly-cost"
    definition = action["definition"]["iamActionDefinition"]
    assert definition["policyArn"] == _deny_policy(prod).outputs["arn"]
    names = sorted(r.outputs["name"] for r in prod.of_type(ROLE) if r.name.startswith("session-starter-"))
    assert sorted(definition["roles"]) == names and len(names) == 2
    assert action["executionRoleArn"] == _execution_role(prod).outputs["arn"]
    assert _one(prod, ROLE_POLICY).urn in _one(prod, ACTION).dependencies


def test_action_threshold_follows_config():
    monitor, _ = build(_guard(), "dev", _cost_guard_override("dev", actionThresholdPercent=75))
    assert _one(monitor, ACTION).plain_inputs["actionThreshold"]["actionThresholdValue"] == 75


def test_execution_role_is_trusted_by_budgets_of_this_account_only(prod):
    trust = iam.statements(_execution_role(prod).plain_inputs["assumeRolePolicy"])
    assert trust == [{"Effect": "Allow", "Principal": {"Service": "budgets.amazonaws.com"},
                      "Action": ["sts:AssumeRole"],
                      "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT_ID}}}]


def test_execution_role_may_only_toggle_the_deny_policy_on_exactly_the_throttled_roles(prod):
    role_policy = _one(prod, ROLE_POLICY).plain_inputs
    assert role_policy["role"] == _execution_role(prod).id
    statements = iam.statements(role_policy["policy"])
    assert len(statements) == 1
    s = statements[0]
    assert s["Effect"] == "Allow"
    assert s["Action"] == ["iam:AttachRolePolicy", "iam:DetachRolePolicy"]
    assert s["Resource"] == _throttled_role_arns(prod) and len(s["Resource"]) == 2
    assert s["Condition"] == {"ArnEquals": {"iam:PolicyARN": _deny_policy(prod).outputs["arn"]}}


def test_policy_arn_condition_is_one_iam_evaluates_for_both_actions():
    # A condition key an action does not support is ignored, which would widen the grant silently.
    from policy_sentry.querying.actions import get_action_data

    for action in ("AttachRolePolicy", "DetachRolePolicy"):
        rows = get_action_data("iam", action)["iam"]
        role_row = next(r for r in rows if ":role/" in r["resource_arn_format"])
        assert "iam:PolicyARN" in role_row["condition_keys"], action


def test_deny_policy_denies_the_callers_spend_starting_actions_everywhere(prod):
    statements = iam.statements(_deny_policy(prod).plain_inputs["policy"])
    assert [(s["Effect"], s["Action"], s["Resource"]) for s in statements] == [
        ("Deny", sorted(SESSION_START_ACTIONS), ["*"])]
    # Only the budget action attaches it.
    assert not prod.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")


def test_no_roles_means_no_action_no_deny_policy_and_no_execution_role():
    monitor, guard = build(_guard(roles=0, deny=()), "prod")
    assert not monitor.of_type(ACTION)
    assert not monitor.of_type(POLICY) and not monitor.of_type(ROLE_POLICY) and not monitor.of_type(ROLE)
    outputs = _one(monitor, "aiplatform:cost:CostGuard").outputs
    assert "denyPolicyArn" not in outputs and "budgetActionId" not in outputs
    assert guard.bundle.budget_action_id is None and guard.bundle.deny_policy_arn is None
    assert monitor.of_type(BUDGET)  # alerts still work


# ---------------------------------------------------------------------------------------------
# Anomaly detection
# ---------------------------------------------------------------------------------------------
def test_account_scope_monitors_the_accounts_services(prod):
    monitor = _one(prod, MONITOR).plain_inputs
    assert (monitor["monitorType"], monitor["monitorDimension"]) == ("DIMENSIONAL", "SERVICE")
    assert "monitorSpecification" not in monitor


def test_tags_scope_monitors_anomalies_with_a_custom_monitor_scoped_to_its_environment():
    prod, _ = build(_guard(), "prod", _cost_guard_override("prod", scope="tags"))
    monitor = _one(prod, MONITOR).plain_inputs
    assert monitor["monitorType"] == "CUSTOM"
    assert "monitorDimension" not in monitor
    spec = json.loads(monitor["monitorSpecification"])
    assert spec["Tags"] == {"Key": "user:environment", "MatchOptions": None, "Values": ["prod"]}
    assert all(spec[k] is None for k in ("And", "CostCategories", "Dimensions", "Not", "Or"))


def test_prod_anomaly_subscription_alerts_the_topic_immediately_above_the_daily_threshold(prod):
    sub = _one(prod, ANOMALY_SUBSCRIPTION).plain_inputs
    # IMMEDIATE is the one frequency that delivers to SNS (DAILY/WEEKLY are e-mail only).
    assert sub["frequency"] == "IMMEDIATE"
    assert sub["subscribers"] == [{"type": "SNS", "address": _topic_arn(prod)}]
    assert sub["monitorArnLists"] == [_one(prod, MONITOR).outputs["arn"]]
    assert sub["thresholdExpression"] == {"dimension": {
        "key": "ANOMALY_TOTAL_IMPACT_ABSOLUTE", "matchOptions": ["GREATER_THAN_OR_EQUAL"], "values": ["50"]}}


def test_anomaly_threshold_follows_config():
    overrides = _cost_guard_override("prod", anomaly={"enabled": True, "dailyThresholdUsd": 12.5})
    monitor, _ = build(_guard(), "prod", overrides)
    assert _one(monitor, ANOMALY_SUBSCRIPTION).plain_inputs["thresholdExpression"]["dimension"]["values"] == ["12.5"]


def test_dev_has_no_anomaly_detection(dev):
    assert not dev.of_type(MONITOR) and not dev.of_type(ANOMALY_SUBSCRIPTION)


def test_dev_and_prod_in_one_account_never_collide():
    # Sharing an account means the tags scope, even with anomaly detection on in both stacks: an account
    # has only one AWS-services (DIMENSIONAL) monitor, so neither stack may create one; budget names are
    # unique per account.
    dev_on, _ = build(_guard(), "dev", _cost_guard_override("dev", anomaly={"enabled": True}))
    prod_on, _ = build(_guard(), "prod", _cost_guard_override("prod", scope="tags"))
    monitors = [m.plain_inputs for run in (dev_on, prod_on) for m in run.of_type(MONITOR)]
    assert len(monitors) == 2
    assert all(m["monitorType"] == "CUSTOM" and "monitorDimension" not in m for m in monitors)
    assert len({m["name"] for m in monitors}) == 2
    assert sorted(json.loads(m["monitorSpecification"])["Tags"]["Values"][0] for m in monitors) == ["dev", "prod"]
    budgets = [_one(run, BUDGET).plain_inputs["name"] for run in (dev_on, prod_on)]
    assert len(set(budgets)) == 2


# ---------------------------------------------------------------------------------------------
# Cost allocation tags, structure, validation
# ---------------------------------------------------------------------------------------------
def test_only_the_owning_stack_activates_cost_allocation_tags(dev, prod):
    """Neither stack file activates them on a first deploy (AWS refuses keys not yet seen in billing
    data); the stack that owns them turns it on later."""
    import yaml

    assert not dev.of_type("aws:costexplorer/costAllocationTag:CostAllocationTag")
    assert not prod.of_type("aws:costexplorer/costAllocationTag:CostAllocationTag")
    section = yaml.safe_load((ROOT / "Pulumi.prod.yaml").read_text())["config"]["aiplatform:costGuard"]
    owner = build(_guard(roles=2), "prod", overrides={
        "aiplatform:costGuard": {**section, "activateCostAllocationTags": True}})[0]
    tags = [t.plain_inputs for t in owner.of_type("aws:costexplorer/costAllocationTag:CostAllocationTag")]
    assert sorted(t["tagKey"] for t in tags) == ["costCenter", "environment", "project", "team"]
    assert all(t["status"] == "Active" for t in tags)


def test_every_child_is_parented_to_the_component_and_outputs_are_registered(prod):
    guard = _one(prod, "aiplatform:cost:CostGuard")
    children = [r for r in prod.registrations.values() if r.urn.split("::")[2].startswith("aiplatform:cost:CostGuard$")]
    assert children and all(r.parent == guard.urn for r in children)
    assert {r.type for r in children} >= {TOPIC, TOPIC_POLICY, SUBSCRIPTION, BUDGET, ACTION, POLICY, ROLE,
                                          ROLE_POLICY, MONITOR, ANOMALY_SUBSCRIPTION}
    out = guard.outputs
    assert out["budgetName"] == "aiplatform-prod-monthly-cost"
    assert out["alertTopicArn"] == _topic_arn(prod)
    assert out["denyPolicyArn"] == _deny_policy(prod).outputs["arn"]
    assert out["budgetActionId"] == _one(prod, ACTION).outputs["actionId"]
    assert out["anomalyMonitorArn"] == _one(prod, MONITOR).outputs["arn"]


@dataclass(frozen=True)
class _Role:
    name: str
    arn: str


def _args(**changes) -> CostGuardArgs:
    cfg = platform_config.CostGuardConfig(monthly_budget_usd=10, alert_emails=("a@example.com",))
    base = dict(config=cfg, stack="dev", tags={"project": "aiplatform", "environment": "dev"},
                throttled_roles=[_Role("r", "arn:aws:iam::123456789012:role/r")], deny_actions=["ecs:RunTask"])
    return CostGuardArgs(**{**base, **changes})


@pytest.mark.parametrize("changes,message", [
    ({"deny_actions": []}, "deny_actions is empty"),
    ({"deny_actions": ["RunTask"]}, r"'RunTask' is not an IAM action"),
    ({"tags": {"project": "aiplatform"}}, "must include 'environment'"),
    ({"tags": {"environment": "prod"}}, "another stack's spend"),
    ({"throttled_roles": [_Role(f"r{i}", f"arn:aws:iam::123456789012:role/r{i}") for i in range(101)]},
     "at most 100"),
])
def test_bad_args_fail_with_a_named_reason(changes, message):
    with pytest.raises(ValueError, match=message):
        validate(_args(**changes))


def test_valid_args_pass_validation():
    validate(_args())
    validate(_args(throttled_roles=[], deny_actions=[]))


# ---------------------------------------------------------------------------------------------
# Scope: what the guard watches, and saying so while it cannot see spend
# ---------------------------------------------------------------------------------------------
def test_scope_has_no_default_and_takes_account_or_tags():
    section = yaml.safe_load((ROOT / "Pulumi.prod.yaml").read_text())["config"]["aiplatform:costGuard"]
    without = {k: v for k, v in section.items() if k != "scope"}
    for value, message in ((None, "costGuard.scope is required"),
                           ("everything", "costGuard.scope must be one of account, tags, got 'everything'")):
        raw, secrets = program.stack_config("prod", overrides={
            "aiplatform:costGuard": without if value is None else {**without, "scope": value}})
        with pytest.raises(platform_config.ConfigError, match=message):
            platform_config.parse(raw, "prod", secrets)


def test_status_says_the_tag_scoped_guard_is_inert_and_the_account_guard_active(dev, prod):
    dev_status = _one(dev, "aiplatform:cost:CostGuard").outputs["status"]
    assert dev_status.startswith("inert until the cost-allocation tag 'environment' is active")
    assert "user:environment$dev" in dev_status and "README" in dev_status
    assert _one(prod, "aiplatform:cost:CostGuard").outputs["status"].startswith("active: ")
