"""Cost guard: a monthly cost budget for this stack, alerts, a budget action that stops new spend,
and (config-gated) cost anomaly detection.

Decisions, each for a deploy-time failure mocks would not catch:

* One SNS topic carries every alert (budget notifications, the budget action, anomaly alerts) and
  the configured e-mail addresses subscribe to it once each. Addresses are therefore NOT also put on
  the budget notifications: people would get every budget alert twice. The price is that SNS asks
  each address to confirm its subscription once; until then it receives nothing.
* The topic is not encrypted: Budgets and Cost Anomaly Detection can publish to an SSE topic only
  when its customer-managed key's policy grants them, the AWS managed aws/sns key cannot, and the
  messages are spend figures only.
* The topic policy allows SNS:Publish to budgets.amazonaws.com (and costalerts.amazonaws.com only
  when anomaly detection is on), conditioned on this account; nothing else (same-account admins
  manage the topic through their IAM policies).
* ``scope`` (no default) says what the guard watches. ``account`` (one AWS account per stack, AWS's
  recommended layout): the budget has no filter and the anomaly monitor is the account's AWS-services
  monitor, so both work from the first day. ``tags``: the budget and a CUSTOM monitor filter on the
  cost-allocation tag ``user:environment$<stack>``, which Budgets sees only once it is activated (once
  per account, ``activateCostAllocationTags`` on exactly one stack, and only after the key has appeared
  in billing data, up to a day after the first tagged resource). Until then the budget reads $0 and
  the deny action never fires, silently, so the stack outputs and the dashboard say the guard is inert.
* The budget action attaches a customer-managed deny policy to the roles it is handed. Its execution
  role may attach/detach exactly that policy on exactly those roles. With AUTOMATIC approval the
  action runs as soon as actual spend passes the threshold, also right after creation if the month
  is already past it.
* An account has only one AWS-services (DIMENSIONAL) monitor: only the ``account`` scope, where the
  stack owns the account, creates it; with ``tags`` a CUSTOM monitor scoped to this stack's
  environment tag is per stack. IMMEDIATE alerts need an SNS subscriber, which the topic is.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Mapping, Optional, Protocol, Sequence

import pulumi
import pulumi_aws as aws

from tools.deploylint.shapes import model_limit

from . import iam
from .config import PROJECT, CostGuardConfig

# ACTUAL at 50/80/100 % and FORECASTED at 100 % of the monthly limit.
NOTIFICATIONS: tuple[tuple[str, float], ...] = (
    ("ACTUAL", 50.0), ("ACTUAL", 80.0), ("ACTUAL", 100.0), ("FORECASTED", 100.0),
)
# A budget action's IAM definition takes 1-100 roles (botocore's model, which the deploy lint checks too).
MAX_ACTION_ROLES = model_limit("budgets", "CreateBudgetAction", "Definition.IamActionDefinition.Roles")
BUDGETS_SERVICE = "budgets.amazonaws.com"
COST_ANOMALY_SERVICE = "costalerts.amazonaws.com"
FILTER_TAG = "environment"
IAM_ACTION_RE = re.compile(r"^[a-z0-9-]+:[A-Za-z0-9*]+$")


class RoleRef(Protocol):
    """What the guard needs of a role it may throttle (an aws.iam.Role fits)."""

    @property
    def name(self) -> pulumi.Input[str]: ...

    @property
    def arn(self) -> pulumi.Input[str]: ...


@dataclass(frozen=True)
class CostGuardArgs:
    config: CostGuardConfig
    stack: str
    # The stack's cost-allocation tags (PlatformConfig.tags); the budget and monitor filter on
    # tags[FILTER_TAG], and activation covers every key.
    tags: Mapping[str, str]
    # Roles that get the deny policy at the action threshold; none means no action at all.
    throttled_roles: Sequence[RoleRef] = ()
    # What the deny policy denies: the calls that start spend (for sessions ecs:RunTask, ecs:StartTask).
    deny_actions: Sequence[str] = ()


@dataclass(frozen=True)
class CostGuardBundle:
    budget_name: pulumi.Output[str]
    budget_arn: pulumi.Output[str]
    topic_arn: pulumi.Output[str]
    deny_policy_arn: Optional[pulumi.Output[str]]
    budget_action_id: Optional[pulumi.Output[str]]
    anomaly_monitor_arn: Optional[pulumi.Output[str]]
    anomaly_subscription_arn: Optional[pulumi.Output[str]]
    # What the guard watches and whether it works yet (stack output costGuardStatus, dashboard note).
    status: str = ""
    # Set while the guard cannot see any spend (tags scope): the dashboard shows it.
    inert_note: Optional[str] = None


# ---------------------------------------------------------------------------------------------
# Pure builders
# ---------------------------------------------------------------------------------------------
def validate(args: CostGuardArgs) -> None:
    """Reject args AWS would refuse at deploy time, naming the field."""
    env = args.tags.get(FILTER_TAG)
    if env is None:
        raise ValueError(f"CostGuardArgs.tags must include {FILTER_TAG!r}: the budget filters on it")
    if env != args.stack:
        raise ValueError(f"CostGuardArgs.tags[{FILTER_TAG!r}] is {env!r} but the stack is {args.stack!r}: "
                         f"the budget would watch another stack's spend")
    if len(args.throttled_roles) > MAX_ACTION_ROLES:
        raise ValueError(f"CostGuardArgs.throttled_roles has {len(args.throttled_roles)} roles; "
                         f"a budget action takes at most {MAX_ACTION_ROLES}")
    if args.throttled_roles and not args.deny_actions:
        raise ValueError("CostGuardArgs.deny_actions is empty: the budget action would attach a policy "
                         "that denies nothing")
    for action in args.deny_actions:
        if not IAM_ACTION_RE.fullmatch(action):
            raise ValueError(f"CostGuardArgs.deny_actions: {action!r} is not an IAM action (service:Action)")


def limit_amount(usd: float) -> str:
    """Budgets takes the limit as a decimal string."""
    return f"{usd:.2f}"


def usd_value(usd: float) -> str:
    """A dollar amount as Cost Explorer expression values want it: a plain number string."""
    return f"{usd:.2f}".rstrip("0").rstrip(".")


def budget_name(stack: str) -> str:
    # Budget names are unique per account: dev and prod in one account need different ones.
    return f"{PROJECT}-{stack}-monthly-cost"


def status(scope: str, environment: str) -> str:
    """One line for the stack outputs: what the guard watches, and whether it can see spend yet."""
    if scope == "account":
        return "active: the budget and the anomaly monitor watch this whole AWS account (one account per stack)"
    return f"inert until {inert_note(environment)}"


def inert_note(environment: str) -> str:
    return (f"the cost-allocation tag '{FILTER_TAG}' is active in this account's Billing console: the budget "
            f"filters on user:{FILTER_TAG}${environment} and reads $0 (its deny action never fires) until then; "
            f"README, 'Cost guard', lists the steps")


def cost_filters(scope: str, environment: str) -> Optional[list[aws.budgets.BudgetCostFilterArgs]]:
    return [tag_filter(environment)] if scope == "tags" else None


def tag_filter(environment: str) -> aws.budgets.BudgetCostFilterArgs:
    return aws.budgets.BudgetCostFilterArgs(name="TagKeyValue", values=[f"user:{FILTER_TAG}${environment}"])


def notifications(topic_arn: pulumi.Input[str]) -> list[aws.budgets.BudgetNotificationArgs]:
    return [
        aws.budgets.BudgetNotificationArgs(
            notification_type=kind, threshold=pct, threshold_type="PERCENTAGE",
            comparison_operator="GREATER_THAN", subscriber_sns_topic_arns=[topic_arn])
        for kind, pct in NOTIFICATIONS
    ]


def monitor_specification(environment: str) -> str:
    """A CUSTOM monitor's Expression: this stack's environment tag. Written the way the provider's
    documentation does (every member present, unused ones null) so it reads back unchanged."""
    return json.dumps({
        "And": None, "CostCategories": None, "Dimensions": None, "Not": None, "Or": None,
        "Tags": {"Key": f"user:{FILTER_TAG}", "MatchOptions": None, "Values": [environment]},
    })


def anomaly_threshold(usd: float) -> aws.costexplorer.AnomalySubscriptionThresholdExpressionArgs:
    return aws.costexplorer.AnomalySubscriptionThresholdExpressionArgs(
        dimension=aws.costexplorer.AnomalySubscriptionThresholdExpressionDimensionArgs(
            key="ANOMALY_TOTAL_IMPACT_ABSOLUTE", match_options=["GREATER_THAN_OR_EQUAL"],
            values=[usd_value(usd)]))


def topic_policy_statements(topic_arn: pulumi.Input[str], account: pulumi.Input[str],
                            anomaly: bool) -> list[iam.Statement]:
    services = [("AllowBudgetsPublish", BUDGETS_SERVICE)]
    if anomaly:
        services.append(("AllowCostAnomalyDetectionPublish", COST_ANOMALY_SERVICE))
    return [iam.Statement(actions=["SNS:Publish"], resources=[topic_arn], principals={"Service": service},
                          conditions={"StringEquals": {"aws:SourceAccount": account}}, sid=sid)
            for sid, service in services]


def execution_role_statements(role_arns: Sequence[pulumi.Input[str]],
                              deny_policy_arn: pulumi.Input[str]) -> list[iam.Statement]:
    return [iam.Statement(
        actions=["iam:AttachRolePolicy", "iam:DetachRolePolicy"], resources=list(role_arns),
        conditions={"ArnEquals": {"iam:PolicyARN": deny_policy_arn}}, sid="ToggleDenyPolicyOnThrottledRoles")]


def _email_key(address: str) -> str:
    # Stable per address (removing one does not replace the others) and keeps addresses out of URNs.
    return hashlib.sha256(address.strip().lower().encode()).hexdigest()[:8]


# ---------------------------------------------------------------------------------------------
# Component
# ---------------------------------------------------------------------------------------------
class CostGuard(pulumi.ComponentResource):
    bundle: CostGuardBundle

    def __init__(self, name: str, args: CostGuardArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("aiplatform:cost:CostGuard", name, None, opts)
        validate(args)
        cfg = args.config
        environment = args.tags[FILTER_TAG]
        child = pulumi.ResourceOptions(parent=self)
        account = aws.get_caller_identity_output(opts=pulumi.InvokeOptions(parent=self)).account_id

        self.topic = aws.sns.Topic(f"{name}-alerts", display_name=f"{PROJECT}-{args.stack} cost alerts",
                                   opts=child)
        self.topic_policy = aws.sns.TopicPolicy(
            f"{name}-alerts", arn=self.topic.arn,
            policy=iam.document(topic_policy_statements(self.topic.arn, account, cfg.anomaly.enabled)),
            opts=child)
        for address in cfg.alert_emails:
            aws.sns.TopicSubscription(f"{name}-email-{_email_key(address)}", topic=self.topic.arn,
                                      protocol="email", endpoint=address, opts=child)
        # Budgets and Cost Anomaly Detection check that they may publish when a subscriber is added.
        after_policy = pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[self.topic_policy]))

        if cfg.activate_cost_allocation_tags:
            for key in sorted(args.tags):
                aws.costexplorer.CostAllocationTag(f"{name}-tag-{key}", tag_key=key, status="Active", opts=child)

        self.budget = aws.budgets.Budget(
            f"{name}-monthly",
            name=budget_name(args.stack),
            budget_type="COST",
            time_unit="MONTHLY",
            limit_amount=limit_amount(cfg.monthly_budget_usd),
            limit_unit="USD",
            cost_filters=cost_filters(cfg.scope, environment),
            notifications=notifications(self.topic.arn),
            opts=after_policy)

        self.deny_policy: Optional[aws.iam.Policy] = None
        self.execution_role: Optional[aws.iam.Role] = None
        self.budget_action: Optional[aws.budgets.BudgetAction] = None
        if args.throttled_roles:
            self._budget_action(name, args, account, child, after_policy)

        self.anomaly_monitor: Optional[aws.costexplorer.AnomalyMonitor] = None
        self.anomaly_subscription: Optional[aws.costexplorer.AnomalySubscription] = None
        if cfg.anomaly.enabled:
            scoped = (dict(monitor_type="CUSTOM", monitor_specification=monitor_specification(environment))
                      if cfg.scope == "tags" else dict(monitor_type="DIMENSIONAL", monitor_dimension="SERVICE"))
            self.anomaly_monitor = aws.costexplorer.AnomalyMonitor(
                f"{name}-anomaly", name=f"{PROJECT}-{args.stack}-cost-anomalies", opts=child, **scoped)
            self.anomaly_subscription = aws.costexplorer.AnomalySubscription(
                f"{name}-anomaly", name=f"{PROJECT}-{args.stack}-cost-anomalies", frequency="IMMEDIATE",
                monitor_arn_lists=[self.anomaly_monitor.arn],
                subscribers=[aws.costexplorer.AnomalySubscriptionSubscriberArgs(type="SNS", address=self.topic.arn)],
                threshold_expression=anomaly_threshold(cfg.anomaly.daily_threshold_usd),
                opts=after_policy)

        self.bundle = CostGuardBundle(
            budget_name=self.budget.name,
            budget_arn=self.budget.arn,
            topic_arn=self.topic.arn,
            deny_policy_arn=self.deny_policy.arn if self.deny_policy else None,
            budget_action_id=self.budget_action.action_id if self.budget_action else None,
            anomaly_monitor_arn=self.anomaly_monitor.arn if self.anomaly_monitor else None,
            anomaly_subscription_arn=self.anomaly_subscription.arn if self.anomaly_subscription else None,
            status=status(cfg.scope, environment),
            inert_note=inert_note(environment) if cfg.scope == "tags" else None,
        )
        self.register_outputs({
            "budgetName": self.bundle.budget_name,
            "budgetArn": self.bundle.budget_arn,
            "alertTopicArn": self.bundle.topic_arn,
            "denyPolicyArn": self.bundle.deny_policy_arn,
            "budgetActionId": self.bundle.budget_action_id,
            "anomalyMonitorArn": self.bundle.anomaly_monitor_arn,
            "anomalySubscriptionArn": self.bundle.anomaly_subscription_arn,
            "status": self.bundle.status,
        })

    def _budget_action(self, name: str, args: CostGuardArgs, account: pulumi.Output[str],
                       child: pulumi.ResourceOptions, after_policy: pulumi.ResourceOptions) -> None:
        cfg = args.config
        self.deny_policy = aws.iam.Policy(
            f"{name}-deny",
            description=f"Attached by the {budget_name(args.stack)} budget action at "
                        f"{cfg.action_threshold_percent:g}% of the budget: no new spend",
            policy=iam.document([iam.Statement(actions=list(args.deny_actions), resources=["*"], effect="Deny",
                                               sid="DenyNewSpendOverBudget")]),
            opts=child)
        self.execution_role = aws.iam.Role(
            f"{name}-action",
            description="AWS Budgets attaches/detaches the cost guard's deny policy with this role",
            assume_role_policy=iam.trust_policy(BUDGETS_SERVICE, source_account=account),
            opts=child)
        role_policy = aws.iam.RolePolicy(
            f"{name}-action",
            role=self.execution_role.id,
            policy=iam.document(execution_role_statements([r.arn for r in args.throttled_roles],
                                                          self.deny_policy.arn)),
            opts=child)
        self.budget_action = aws.budgets.BudgetAction(
            f"{name}-action",
            budget_name=self.budget.name,
            action_type="APPLY_IAM_POLICY",
            approval_model="AUTOMATIC",
            notification_type="ACTUAL",
            action_threshold=aws.budgets.BudgetActionActionThresholdArgs(
                action_threshold_type="PERCENTAGE", action_threshold_value=cfg.action_threshold_percent),
            definition=aws.budgets.BudgetActionDefinitionArgs(
                iam_action_definition=aws.budgets.BudgetActionDefinitionIamActionDefinitionArgs(
                    policy_arn=self.deny_policy.arn, roles=[r.name for r in args.throttled_roles])),
            execution_role_arn=self.execution_role.arn,
            subscribers=[aws.budgets.BudgetActionSubscriberArgs(subscription_type="SNS", address=self.topic.arn)],
            # The role must hold its permissions before the action can first run.
            opts=pulumi.ResourceOptions.merge(after_policy, pulumi.ResourceOptions(depends_on=[role_policy])))
