"""Observability: one SNS alarm topic, CloudWatch alarms with thresholds from stack config, and one
dashboard per stack.

Decisions, each for something mocks would accept but AWS (or the pager) would not:

* The topic is not encrypted. CloudWatch can publish to an SSE topic only when the key policy lets
  cloudwatch.amazonaws.com use the key; the AWS managed ``alias/aws/sns`` key's policy cannot be
  changed, so with it every alarm notification would be dropped silently. A customer-managed key
  would work but costs $1/month per stack for messages that carry alarm names and metric values only.
* The topic policy lets only cloudwatch.amazonaws.com publish, only for this account
  (``aws:SourceAccount``) and only for this stack's alarms (``aws:SourceArn`` alarm:<stack>-*).
  Addresses subscribe once each and must confirm once; until then they receive nothing.
* Every alarm fires at >= its threshold, sends ALARM and OK to the topic, and chooses how missing
  data counts (reason next to each choice). Names are ``<stack>-<what>``: short, deterministic, and
  what a page shows.
* Concurrency: ConcurrentExecutions (Maximum) exists per function for every function. With a
  reservation the alarm is a share of it rounded up to whole executions, and none when that share
  is the whole reservation (at 1 reserved, 80 % would page on every run; the throttles alarm covers
  running out); without one, an absolute count from config.
* Lambda p95 duration uses ``extended_statistic`` (p95) and never ``statistic``: PutMetricAlarm
  takes exactly one of them. Its threshold is a share of each function's own timeout.
* DynamoDB publishes ThrottledRequests and SystemErrors only per (TableName, Operation) and
  Read/WriteThrottleEvents per TableName (the table itself) and per (TableName,
  GlobalSecondaryIndexName) (each index); an alarm on TableName alone would watch a metric that never
  exists, or miss every index throttle (the busiest reads go through indexes). Throttles are
  therefore the FILLed sum of reads + writes of the table and each of its indexes, system errors the
  FILLed sum over ``DYNAMODB_OPERATIONS`` (ten, CloudWatch's limit of metrics per alarm). FILL
  matters: CloudWatch treats missing AWS/DynamoDB data as "ignore" whatever the alarm says, and
  DynamoDB sends these metrics only when they are non-zero, so without it an alarm would stay in
  ALARM after the last throttle.
* Session alarms and charts watch the runtime's Embedded Metric Format metrics
  (app/sessions/observability.py), namespace ``AIPlatform/Sessions``: every metric under
  [ClusterName] (what alarms select), SessionStarted also under [ClusterName, CapacityProvider]. An
  alarm or chart must name exactly an emitted dimension set or it watches nothing.
* The dashboard's cost widget reads AWS/Billing EstimatedCharges, which exists only in us-east-1,
  only after "Receive Billing Alerts" is enabled in the account's billing preferences, and covers
  the whole account, not just this stack; the budget line is this stack's budget.
* The MAGI agent runtime (components/agents.py) is watched in AgentCore's ``AWS/Bedrock-AgentCore``
  namespace under the dimensions AgentCore publishes per runtime endpoint: Operation
  (InvokeAgentRuntime), Resource (the runtime ARN) and Name (``<runtime name>::<endpoint name>``); an
  alarm on Resource alone would never receive data (aws-cdk#38486 fixed exactly that in CDK's helpers).
* The dashboard charts Spot vs on-demand from SessionStarted per CapacityProvider (this stack's
  starts only; restarts after an interruption are not starts) and active sessions from the reaper's
  ActiveSessions gauge, which exists once per reaper run: the chart takes the hourly maximum, so it
  has no gaps with the default hourly schedule.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional, Sequence

import pulumi
import pulumi_aws as aws

from . import iam
from .config import PROJECT, AlarmSpec, ObservabilityConfig, partition_of

CLOUDWATCH_SERVICE = "cloudwatch.amazonaws.com"
# The runtime's EMF contract (app/sessions/observability.py); tests check these against it.
SESSIONS_NAMESPACE = "AIPlatform/Sessions"
SESSIONS_DIMENSION = "ClusterName"
SESSIONS_PROVIDER_DIMENSION = "CapacityProvider"
SESSION_COUNTERS = ("SessionStarted", "SessionFailed", "SpotInterruption", "SessionReaped")
SESSION_GAUGES = ("ActiveSessions",)
# The capacity providers the sessions cluster has (components/sessions.py attaches exactly these).
SPOT_PROVIDER = "FARGATE_SPOT"
ON_DEMAND_PROVIDER = "FARGATE"
HOURLY_SECONDS = 3600
# The data-plane operations the platform's code calls (Lambdas and AppSync resolvers), plus their
# batch/transaction siblings: exactly ten, the most metrics one alarm may reference.
DYNAMODB_OPERATIONS = (
    "GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "Scan",
    "BatchGetItem", "BatchWriteItem", "TransactGetItems", "TransactWriteItems",
)
MAX_ALARM_METRICS = 10
ALARM_NAME_MAX = 255
ALARM_WIDGET_MAX = 100  # alarms one dashboard alarm widget may list
BILLING_REGION = "us-east-1"
BILLING_PERIOD_SECONDS = 21600  # billing metrics arrive a few times a day
DASHBOARD_PERIOD_SECONDS = 300
COMPARISON = "GreaterThanOrEqualToThreshold"
# Keys become parts of alarm, resource and dashboard ids (Data's table keys, e.g. agentPresets, fit).
KEY_RE = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,39}$")
QUERY_ID_RE = re.compile(r"^[a-z][A-Za-z0-9_]*$")
RESERVED_NAMESPACE_PREFIX = "AWS/"
EXPRESSION_ID = "total"  # the metric math query an alarm watches
AGENTCORE_NAMESPACE = "AWS/Bedrock-AgentCore"
AGENTCORE_OPERATION = "InvokeAgentRuntime"


# ---------------------------------------------------------------------------------------------
# Arguments and bundle
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class FunctionRef:
    name: pulumi.Input[str]
    timeout_seconds: int
    # With a reservation the concurrency alarm is a share of it (lambdaConcurrencyPercent), without
    # one an absolute count (lambdaConcurrentExecutions).
    reserved_concurrency: Optional[int] = None


@dataclass(frozen=True)
class AgentRuntimeRef:
    """The agent runtime endpoint the web app invokes and its alarm triggers (agents.alarms)."""

    runtime_arn: pulumi.Input[str]
    name: str  # AgentCore's Name dimension: "<runtime name>::<endpoint name>"
    errors: AlarmSpec
    throttles: AlarmSpec
    latency_p95_ms: AlarmSpec

    def dimensions(self, runtime_arn: Any = None) -> dict[str, Any]:
        return {"Operation": AGENTCORE_OPERATION, "Resource": runtime_arn if runtime_arn is not None else self.runtime_arn,
                "Name": self.name}


@dataclass(frozen=True)
class ObservabilityArgs:
    config: ObservabilityConfig
    stack: str
    region: str
    # The line on the cost widget: the stack's monthly budget (CostGuardConfig.monthly_budget_usd).
    monthly_budget_usd: float
    # key -> function; keys are short names used in alarm names (e.g. "sessions-api").
    functions: Mapping[str, FunctionRef] = field(default_factory=dict)
    # key -> table name (e.g. Data's tables[key].name).
    tables: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    # key -> the table's global secondary index names (Data's tables[key].index_names): their
    # throttles are published under their own dimension and join the table's alarm and chart.
    table_indexes: Mapping[str, Sequence[str]] = field(default_factory=dict)
    graphql_api_id: Optional[pulumi.Input[str]] = None
    # The ECS cluster sessions run in: every runtime EMF metric carries it as a dimension.
    # Without it there are no session alarms or session widgets.
    sessions_cluster_name: Optional[pulumi.Input[str]] = None
    sessions_metrics_namespace: str = SESSIONS_NAMESPACE
    budget_name: Optional[pulumi.Input[str]] = None
    # The MAGI agent runtime (components/agents.py); None without agents.
    agent_runtime: Optional[AgentRuntimeRef] = None
    # Why the cost guard cannot see spend yet (CostGuardBundle.inert_note), shown on the dashboard.
    cost_guard_inert: Optional[str] = None


@dataclass(frozen=True)
class ObservabilityBundle:
    topic_arn: pulumi.Output[str]
    alarm_names: tuple[str, ...]
    alarm_arns: Mapping[str, pulumi.Output[str]]  # by alarm name
    dashboard_name: Optional[str]
    dashboard_arn: Optional[pulumi.Output[str]]


@dataclass(frozen=True)
class MetricRef:
    namespace: str
    metric_name: str
    dimensions: Mapping[str, pulumi.Input[str]]
    stat: str  # Sum | Maximum | p95

    @property
    def percentile(self) -> bool:
        return self.stat.startswith("p")


@dataclass(frozen=True)
class AlarmDef:
    """One alarm as data: either ``metric`` or ``inputs`` + ``expression`` (metric math)."""

    key: str  # "<thing>-<what>"; the alarm is named "<stack>-<key>"
    name: str
    description: str
    spec: AlarmSpec
    threshold: float
    treat_missing_data: str
    metric: Optional[MetricRef] = None
    inputs: Mapping[str, MetricRef] = field(default_factory=dict)
    expression: Optional[str] = None
    label: Optional[str] = None

    def __post_init__(self) -> None:
        if (self.metric is None) == (self.expression is None):
            raise ValueError(f"alarm {self.name}: needs exactly one of a metric or a metric math expression")
        if self.expression is not None:
            if not 1 <= len(self.inputs) <= MAX_ALARM_METRICS:
                raise ValueError(f"alarm {self.name}: metric math takes 1-{MAX_ALARM_METRICS} metrics, "
                                 f"got {len(self.inputs)}")
            bad = [i for i in self.inputs if not QUERY_ID_RE.fullmatch(i) or i == EXPRESSION_ID]
            if bad:
                raise ValueError(f"alarm {self.name}: metric ids {bad} must start with a lowercase letter, "
                                 f"use letters, digits and _ only, and differ from {EXPRESSION_ID!r}")
        if len(self.name) > ALARM_NAME_MAX:
            raise ValueError(f"alarm name {self.name!r} is longer than {ALARM_NAME_MAX} characters")


# ---------------------------------------------------------------------------------------------
# Pure builders
# ---------------------------------------------------------------------------------------------
def validate(args: ObservabilityArgs) -> None:
    """Reject args AWS would refuse or that would build alarms watching nothing, naming the field."""
    for what, keys in (("functions", args.functions), ("tables", args.tables)):
        for key in keys:
            if not KEY_RE.fullmatch(key):
                raise ValueError(f"ObservabilityArgs.{what} key {key!r} must be 1-40 letters, digits or "
                                 f"hyphens starting with a letter (it becomes part of alarm names)")
    for key, fn in args.functions.items():
        if not 1 <= fn.timeout_seconds <= 900:
            raise ValueError(f"ObservabilityArgs.functions[{key!r}].timeout_seconds must be 1-900 (Lambda's "
                             f"range), got {fn.timeout_seconds}")
        if fn.reserved_concurrency is not None and fn.reserved_concurrency < 1:
            raise ValueError(f"ObservabilityArgs.functions[{key!r}].reserved_concurrency must be at least 1 "
                             f"or None, got {fn.reserved_concurrency}")
    for key, indexes in args.table_indexes.items():
        if key not in args.tables:
            raise ValueError(f"ObservabilityArgs.table_indexes names table {key!r}, which is not in tables")
        if 2 * (1 + len(indexes)) > MAX_ALARM_METRICS:
            raise ValueError(f"ObservabilityArgs.table_indexes[{key!r}]: the throttle alarm sums reads and writes of "
                             f"the table and each index, at most {MAX_ALARM_METRICS} metrics: at most "
                             f"{MAX_ALARM_METRICS // 2 - 1} indexes, got {len(indexes)}")
    if not args.monthly_budget_usd > 0:
        raise ValueError(f"ObservabilityArgs.monthly_budget_usd must be above 0, got {args.monthly_budget_usd}")
    ns = args.sessions_metrics_namespace
    if not ns or ns.startswith(RESERVED_NAMESPACE_PREFIX):
        # CloudWatch refuses custom metrics in AWS/ namespaces, so the runtime cannot emit there.
        raise ValueError(f"ObservabilityArgs.sessions_metrics_namespace must be a custom namespace (not "
                         f"{RESERVED_NAMESPACE_PREFIX}...), got {ns!r}")
    seen: dict[str, str] = {}
    for d in alarm_definitions(args):
        if d.name in seen:
            raise ValueError(f"two alarms would be named {d.name!r}: rename a function or table key")
        seen[d.name] = d.key


def alarm_name(stack: str, key: str) -> str:
    return f"{stack}-{key}"


def dashboard_name(stack: str) -> str:
    return f"{PROJECT}-{stack}"


def _fmt(value: float) -> str:
    return f"{value:g}"


def _window(spec: AlarmSpec) -> str:
    minutes = spec.period_seconds / 60
    return f"in {spec.datapoints_to_alarm} of {spec.evaluation_periods} period(s) of {_fmt(minutes)} min"


def alarm_definitions(args: ObservabilityArgs) -> list[AlarmDef]:
    """Every alarm the config asks for, in a stable order."""
    cfg = args.config
    out: list[AlarmDef] = []

    def add(key: str, spec: AlarmSpec, what: str, threshold: Optional[float] = None, **kw: Any) -> None:
        value = spec.threshold if threshold is None else threshold
        out.append(AlarmDef(key=key, name=alarm_name(args.stack, key), spec=spec, threshold=value,
                            description=f"{args.stack}: {what} >= {_fmt(value)} {_window(spec)}", **kw))

    for fkey, fn in args.functions.items():
        dims = {"FunctionName": fn.name}
        if cfg.lambda_errors.enabled:
            # No invocations means no errors.
            add(f"{fkey}-errors", cfg.lambda_errors, f"Lambda {fkey} errors",
                metric=MetricRef("AWS/Lambda", "Errors", dims, "Sum"), treat_missing_data="notBreaching")
        if cfg.lambda_throttles.enabled:
            # Throttles are only reported when they happen.
            add(f"{fkey}-throttles", cfg.lambda_throttles, f"Lambda {fkey} throttles",
                metric=MetricRef("AWS/Lambda", "Throttles", dims, "Sum"), treat_missing_data="notBreaching")
        if cfg.lambda_duration_p95_percent.enabled:
            spec = cfg.lambda_duration_p95_percent
            ms = fn.timeout_seconds * 1000 * spec.threshold / 100
            # No invocations says nothing about latency: let the alarm go INSUFFICIENT_DATA.
            add(f"{fkey}-duration-p95", spec,
                f"Lambda {fkey} p95 duration (ms; {_fmt(spec.threshold)} % of its {fn.timeout_seconds} s timeout)",
                threshold=ms, metric=MetricRef("AWS/Lambda", "Duration", dims, "p95"), treat_missing_data="missing")
        concurrency = MetricRef("AWS/Lambda", "ConcurrentExecutions", dims, "Maximum")
        if fn.reserved_concurrency and cfg.lambda_concurrency_percent.enabled:
            spec = cfg.lambda_concurrency_percent
            limit = concurrency_threshold(fn.reserved_concurrency, spec.threshold)
            if limit is not None:
                # Nothing running means no concurrency pressure.
                add(f"{fkey}-concurrency", spec,
                    f"Lambda {fkey} concurrent executions ({_fmt(spec.threshold)} % of {fn.reserved_concurrency} "
                    f"reserved, rounded up)", threshold=limit, metric=concurrency, treat_missing_data="notBreaching")
        elif not fn.reserved_concurrency and cfg.lambda_concurrent_executions.enabled:
            spec = cfg.lambda_concurrent_executions
            # Lambda emits ConcurrentExecutions per function for every function, reserved or not.
            add(f"{fkey}-concurrency", spec, f"Lambda {fkey} concurrent executions (no reservation)",
                metric=concurrency, treat_missing_data="notBreaching")

    for tkey, table in args.tables.items():
        if cfg.dynamodb_throttles.enabled:
            inputs = {qid: MetricRef("AWS/DynamoDB", metric, dims, "Sum")
                      for qid, metric, dims in throttle_metrics(table, args.table_indexes.get(tkey, ()))}
            add(f"{tkey}-ddb-throttles", cfg.dynamodb_throttles,
                f"DynamoDB {tkey} read+write throttle events (table and indexes)", inputs=inputs,
                expression=" + ".join(f"FILL({i}, 0)" for i in inputs), label=f"{tkey} throttle events",
                # Throttles are reported only when they happen; CloudWatch applies "ignore" to DynamoDB
                # data anyway, which is why the expression FILLs the gaps with 0.
                treat_missing_data="notBreaching")
        if cfg.dynamodb_system_errors.enabled:
            ops = {op.lower(): MetricRef("AWS/DynamoDB", "SystemErrors", {"TableName": table, "Operation": op}, "Sum")
                   for op in DYNAMODB_OPERATIONS}
            add(f"{tkey}-ddb-system-errors", cfg.dynamodb_system_errors, f"DynamoDB {tkey} system errors (HTTP 500)",
                inputs=ops, expression=" + ".join(f"FILL({i}, 0)" for i in ops), label=f"{tkey} system errors",
                # As for throttles: reported only when non-zero, FILLed so the alarm can return to OK.
                treat_missing_data="notBreaching")

    if args.graphql_api_id is not None:
        dims = {"GraphQLAPIId": args.graphql_api_id}
        if cfg.appsync_errors_5xx.enabled:
            # No requests means no server errors.
            add("graphql-5xx", cfg.appsync_errors_5xx, "AppSync 5XX errors",
                metric=MetricRef("AWS/AppSync", "5XXError", dims, "Sum"), treat_missing_data="notBreaching")
        if cfg.appsync_latency_p95_ms.enabled:
            # No requests says nothing about latency.
            add("graphql-latency-p95", cfg.appsync_latency_p95_ms, "AppSync p95 latency (ms)",
                metric=MetricRef("AWS/AppSync", "Latency", dims, "p95"), treat_missing_data="missing")

    agent = args.agent_runtime
    if agent is not None:
        dims = agent.dimensions()
        if agent.errors.enabled:
            # Server-side (5xx) failures of the runtime, the agent's own crashes included; no requests, no errors.
            add("agent-errors", agent.errors, "AgentCore runtime system errors",
                metric=MetricRef(AGENTCORE_NAMESPACE, "SystemErrors", dims, "Sum"), treat_missing_data="notBreaching")
        if agent.throttles.enabled:
            add("agent-throttles", agent.throttles, "AgentCore runtime throttled requests (429)",
                metric=MetricRef(AGENTCORE_NAMESPACE, "Throttles", dims, "Sum"), treat_missing_data="notBreaching")
        if agent.latency_p95_ms.enabled:
            # No requests says nothing about latency.
            add("agent-latency-p95", agent.latency_p95_ms, "AgentCore runtime p95 latency (ms)",
                metric=MetricRef(AGENTCORE_NAMESPACE, "Latency", dims, "p95"), treat_missing_data="missing")

    if args.sessions_cluster_name is not None:
        dims = {SESSIONS_DIMENSION: args.sessions_cluster_name}
        ns = args.sessions_metrics_namespace
        if cfg.session_failures.enabled:
            # The runtime emits SessionFailed only when a session fails.
            add("session-failures", cfg.session_failures, "failed sessions",
                metric=MetricRef(ns, "SessionFailed", dims, "Sum"), treat_missing_data="notBreaching")
        if cfg.spot_interruptions.enabled:
            # Emitted only when Fargate Spot reclaims a session's task.
            add("spot-interruptions", cfg.spot_interruptions, "Fargate Spot interruptions",
                metric=MetricRef(ns, "SpotInterruption", dims, "Sum"), treat_missing_data="notBreaching")
    return out


def concurrency_threshold(reserved: int, percent: float) -> Optional[float]:
    """The alarm level for a function reserving ``reserved``: ``percent`` of it, rounded up to whole
    executions; None when that is the whole reservation (e.g. 1 or 2 reserved): running at its
    reservation is then normal, and the throttles alarm already pages when it is exceeded."""
    limit = math.ceil(reserved * percent / 100 - 1e-9)
    return float(limit) if limit < reserved else None


def throttle_metrics(table: Any, indexes: Sequence[str]) -> list[tuple[str, str, dict[str, Any]]]:
    """(query id, metric name, dimensions) of a table's read and write throttle events: the table's own,
    then each global secondary index's (published only under TableName + GlobalSecondaryIndexName)."""
    out: list[tuple[str, str, dict[str, Any]]] = [
        ("reads", "ReadThrottleEvents", {"TableName": table}), ("writes", "WriteThrottleEvents", {"TableName": table})]
    for i, index in enumerate(indexes):
        dims = {"TableName": table, "GlobalSecondaryIndexName": index}
        out += [(f"reads_gsi{i}", "ReadThrottleEvents", dims), (f"writes_gsi{i}", "WriteThrottleEvents", dims)]
    return out


def metric_alarm_args(d: AlarmDef, topic_arn: pulumi.Input[str]) -> dict[str, Any]:
    """Keyword arguments for aws.cloudwatch.MetricAlarm."""
    s = d.spec
    out: dict[str, Any] = dict(
        name=d.name, alarm_description=d.description, comparison_operator=COMPARISON, threshold=d.threshold,
        evaluation_periods=s.evaluation_periods, datapoints_to_alarm=s.datapoints_to_alarm,
        treat_missing_data=d.treat_missing_data, alarm_actions=[topic_arn], ok_actions=[topic_arn])
    if d.metric is not None:
        m = d.metric
        out.update(namespace=m.namespace, metric_name=m.metric_name, dimensions=dict(m.dimensions),
                   period=s.period_seconds)
        if m.percentile:
            out["extended_statistic"] = m.stat
            # A p95 over a handful of samples is the slowest one (a cold start, one slow call): do
            # not page on it. Lambda timeouts still page through the errors alarm.
            out["evaluate_low_sample_count_percentiles"] = "ignore"
        else:
            out["statistic"] = m.stat
    else:
        queries = [
            aws.cloudwatch.MetricAlarmMetricQueryArgs(
                id=qid, return_data=False,
                metric=aws.cloudwatch.MetricAlarmMetricQueryMetricArgs(
                    namespace=m.namespace, metric_name=m.metric_name, dimensions=dict(m.dimensions),
                    period=s.period_seconds, stat=m.stat))
            for qid, m in d.inputs.items()
        ]
        queries.append(aws.cloudwatch.MetricAlarmMetricQueryArgs(
            id=EXPRESSION_ID, expression=d.expression, label=d.label, return_data=True))
        out["metric_queries"] = queries
    return out


def topic_policy_statements(topic_arn: pulumi.Input[str], account: pulumi.Input[str], region: str,
                            stack: str) -> list[iam.Statement]:
    alarms = pulumi.Output.concat("arn:", partition_of(region), ":cloudwatch:", region, ":", account, ":alarm:", stack, "-*")
    return [iam.Statement(
        actions=["SNS:Publish"], resources=[topic_arn], principals={"Service": CLOUDWATCH_SERVICE},
        conditions={"StringEquals": {"aws:SourceAccount": account}, "ArnLike": {"aws:SourceArn": alarms}},
        sid="AllowThisStacksAlarms")]


@dataclass(frozen=True)
class DashboardView:
    """What the dashboard shows, as plain values (Outputs resolved)."""

    stack: str
    region: str
    monthly_budget_usd: float
    functions: Mapping[str, str] = field(default_factory=dict)  # key -> function name
    tables: Mapping[str, str] = field(default_factory=dict)  # key -> table name
    table_indexes: Mapping[str, Sequence[str]] = field(default_factory=dict)  # key -> GSI names
    graphql_api_id: Optional[str] = None
    sessions_cluster_name: Optional[str] = None
    sessions_metrics_namespace: str = SESSIONS_NAMESPACE
    budget_name: Optional[str] = None
    alarm_arns: Sequence[str] = ()
    agent_runtime_arn: Optional[str] = None
    agent_name: Optional[str] = None  # AgentCore's Name dimension
    cost_guard_inert: Optional[str] = None


def _metric_widget(title: str, region: str, metrics: list, stat: str = "Sum",
                   period: int = DASHBOARD_PERIOD_SECONDS, **extra: Any) -> dict:
    props = {"title": title, "region": region, "view": "timeSeries", "stacked": False, "stat": stat,
             "period": period, "metrics": metrics, "yAxis": {"left": {"min": 0}}}
    props.update(extra)
    return {"type": "metric", "properties": props}


def _starts_on(v: DashboardView, provider: str, qid: str, label: str) -> list:
    return [v.sessions_metrics_namespace, "SessionStarted", SESSIONS_DIMENSION, v.sessions_cluster_name,
            SESSIONS_PROVIDER_DIMENSION, provider, {"id": qid, "label": label}]


def dashboard_widgets(v: DashboardView) -> list[dict]:
    """The dashboard's widgets without positions, in reading order."""
    notes = [
        f"**{PROJECT} {v.stack}**: alarms notify the stack's alarm topic (ALARM and OK).",
        "Billing: AWS/Billing EstimatedCharges covers the whole account, exists only in us-east-1 and only "
        "after *Receive Billing Alerts* is enabled in the billing preferences; the line is this stack's budget.",
        "Sessions: Spot vs on-demand counts this stack's session starts per capacity provider; active sessions "
        "is the hourly maximum of what each reaper run saw PROVISIONING or RUNNING.",
    ]
    if v.cost_guard_inert:
        notes.insert(0, f"**Cost guard inert** until {v.cost_guard_inert}.")
    widgets: list[dict] = [{"type": "text", "width": 24, "height": 3 + bool(v.cost_guard_inert),
                            "properties": {"markdown": "\n\n".join(notes)}}]
    arns = list(v.alarm_arns)
    for i in range(0, len(arns), ALARM_WIDGET_MAX):
        widgets.append({"type": "alarm", "width": 24, "height": 4, "properties": {
            "title": "Alarms", "alarms": arns[i:i + ALARM_WIDGET_MAX], "sortBy": "stateUpdatedTimestamp"}})

    if v.sessions_cluster_name is not None:
        widgets.append(_metric_widget(
            "Sessions: started, failed, reaped, Spot interruptions (per 5 min)", v.region,
            [[v.sessions_metrics_namespace, m, SESSIONS_DIMENSION, v.sessions_cluster_name, {"label": m}]
             for m in SESSION_COUNTERS]))
        widgets.append(_metric_widget(
            "Active sessions (PROVISIONING + RUNNING, hourly max of the reaper's samples)", v.region,
            [[v.sessions_metrics_namespace, "ActiveSessions", SESSIONS_DIMENSION, v.sessions_cluster_name,
              {"label": "active sessions"}]],
            stat="Maximum", period=HOURLY_SECONDS))
        widgets.append(_metric_widget(
            "Session starts on Fargate Spot vs on-demand (per hour)", v.region,
            [_starts_on(v, SPOT_PROVIDER, "spot", "Spot starts"),
             _starts_on(v, ON_DEMAND_PROVIDER, "ondemand", "on-demand starts"),
             [{"expression": "100 * FILL(spot, 0) / (FILL(spot, 0) + FILL(ondemand, 0))", "label": "Spot share %",
               "id": "share", "yAxis": "right"}]],
            period=HOURLY_SECONDS,
            yAxis={"left": {"min": 0, "label": "starts"}, "right": {"min": 0, "max": 100, "label": "%"}}))
    if v.graphql_api_id is not None:
        api = ("GraphQLAPIId", v.graphql_api_id)
        widgets.append(_metric_widget(
            "GraphQL API: errors (sum) and p95 latency (ms)", v.region,
            [["AWS/AppSync", "5XXError", *api, {"label": "5XX"}],
             ["AWS/AppSync", "4XXError", *api, {"label": "4XX"}],
             ["AWS/AppSync", "Latency", *api, {"stat": "p95", "label": "p95 latency", "yAxis": "right"}]],
            yAxis={"left": {"min": 0, "label": "errors"}, "right": {"min": 0, "label": "ms"}}))
    if v.agent_runtime_arn is not None:
        agent = ("Operation", AGENTCORE_OPERATION, "Resource", v.agent_runtime_arn, "Name", v.agent_name)
        widgets.append(_metric_widget(
            "MAGI agents: invocations, errors, throttles (sum) and p95 latency (ms)", v.region,
            [[AGENTCORE_NAMESPACE, m, *agent, {"label": m}]
             for m in ("Invocations", "SystemErrors", "UserErrors", "Throttles")]
            + [[AGENTCORE_NAMESPACE, "Latency", *agent, {"stat": "p95", "label": "p95 latency", "yAxis": "right"}]],
            yAxis={"left": {"min": 0, "label": "requests"}, "right": {"min": 0, "label": "ms"}}))
    if v.functions:
        widgets.append(_metric_widget(
            "Lambda errors and throttles (sum)", v.region,
            [m for key, fname in v.functions.items() for m in (
                ["AWS/Lambda", "Errors", "FunctionName", fname, {"label": f"{key} errors"}],
                ["AWS/Lambda", "Throttles", "FunctionName", fname, {"label": f"{key} throttles"}])]))
    if v.tables:
        metrics: list = []
        for i, (key, tname) in enumerate(v.tables.items()):
            ids = []
            for qid, metric, dims in throttle_metrics(tname, v.table_indexes.get(key, ())):
                ids.append(f"{qid}_{i}")
                metrics.append(["AWS/DynamoDB", metric, *[x for kv in dims.items() for x in kv],
                                {"id": ids[-1], "visible": False}])
            metrics.append([{"expression": " + ".join(f"FILL({q}, 0)" for q in ids), "label": key, "id": f"t{i}"}])
        widgets.append(_metric_widget("DynamoDB throttle events per table, indexes included (read + write)",
                                      v.region, metrics))
    budget_label = f"budget {v.budget_name}" if v.budget_name else "budget"
    widgets.append(_metric_widget(
        f"Month-to-date estimated charges (USD, whole account) vs this stack's {budget_label}", BILLING_REGION,
        [["AWS/Billing", "EstimatedCharges", "Currency", "USD", {"label": "EstimatedCharges"}]],
        stat="Maximum", period=BILLING_PERIOD_SECONDS,
        annotations={"horizontal": [{"label": f"{budget_label} ${_fmt(v.monthly_budget_usd)}",
                                     "value": v.monthly_budget_usd}]}))
    return widgets


def dashboard_body(v: DashboardView) -> dict:
    """The dashboard body: widgets laid out on CloudWatch's 24-column grid, half-width charts in pairs."""
    placed, x, y, row_height = [], 0, 0, 0
    for w in dashboard_widgets(v):
        width, height = w.pop("width", 12), w.pop("height", 6)
        if x + width > 24:
            x, y, row_height = 0, y + row_height, 0
        placed.append({**w, "x": x, "y": y, "width": width, "height": height})
        x, row_height = x + width, max(row_height, height)
    return {"widgets": placed}


def _email_key(address: str) -> str:
    # Stable per address (removing one does not replace the others) and keeps addresses out of URNs.
    return hashlib.sha256(address.strip().lower().encode()).hexdigest()[:8]


# ---------------------------------------------------------------------------------------------
# Component
# ---------------------------------------------------------------------------------------------
class Observability(pulumi.ComponentResource):
    bundle: ObservabilityBundle

    def __init__(self, name: str, args: ObservabilityArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("aiplatform:observability:Observability", name, None, opts)
        validate(args)
        cfg = args.config
        child = pulumi.ResourceOptions(parent=self)
        account = aws.get_caller_identity_output(opts=pulumi.InvokeOptions(parent=self)).account_id

        self.topic = aws.sns.Topic(f"{name}-alarms", display_name=f"{PROJECT}-{args.stack} alarms", opts=child)
        self.topic_policy = aws.sns.TopicPolicy(
            f"{name}-alarms", arn=self.topic.arn,
            policy=iam.document(topic_policy_statements(self.topic.arn, account, args.region, args.stack)),
            opts=child)
        for address in cfg.alarm_emails:
            aws.sns.TopicSubscription(f"{name}-email-{_email_key(address)}", topic=self.topic.arn,
                                      protocol="email", endpoint=address, opts=child)

        # An alarm that changes state right after creation must already be allowed to publish.
        after_policy = pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[self.topic_policy]))
        self.alarms: dict[str, aws.cloudwatch.MetricAlarm] = {}
        for d in alarm_definitions(args):
            self.alarms[d.name] = aws.cloudwatch.MetricAlarm(
                f"{name}-{d.key}", **metric_alarm_args(d, self.topic.arn), opts=after_policy)

        self.dashboard: Optional[aws.cloudwatch.Dashboard] = None
        if cfg.dashboard:
            self.dashboard = aws.cloudwatch.Dashboard(
                f"{name}-dashboard", dashboard_name=dashboard_name(args.stack),
                dashboard_body=self._body(args), opts=child)

        self.bundle = ObservabilityBundle(
            topic_arn=self.topic.arn,
            alarm_names=tuple(self.alarms),
            alarm_arns={n: a.arn for n, a in self.alarms.items()},
            dashboard_name=dashboard_name(args.stack) if self.dashboard else None,
            dashboard_arn=self.dashboard.dashboard_arn if self.dashboard else None,
        )
        self.register_outputs({
            "alarmTopicArn": self.bundle.topic_arn,
            "alarmNames": list(self.bundle.alarm_names),
            "dashboardName": self.bundle.dashboard_name,
            "dashboardArn": self.bundle.dashboard_arn,
        })

    def _body(self, args: ObservabilityArgs) -> pulumi.Output[str]:
        fkeys, tkeys = list(args.functions), list(args.tables)
        agent = args.agent_runtime
        resolved = pulumi.Output.all(
            [args.functions[k].name for k in fkeys], [args.tables[k] for k in tkeys], args.graphql_api_id,
            args.sessions_cluster_name, args.budget_name, [a.arn for a in self.alarms.values()],
            agent.runtime_arn if agent else None)

        def render(r: list) -> str:
            fnames, tnames, api, cluster, budget, arns, agent_arn = r
            return json.dumps(dashboard_body(DashboardView(
                stack=args.stack, region=args.region, monthly_budget_usd=args.monthly_budget_usd,
                functions=dict(zip(fkeys, fnames)), tables=dict(zip(tkeys, tnames)),
                table_indexes={k: tuple(v) for k, v in args.table_indexes.items()}, graphql_api_id=api,
                sessions_cluster_name=cluster, sessions_metrics_namespace=args.sessions_metrics_namespace,
                budget_name=budget, alarm_arns=arns, agent_runtime_arn=agent_arn,
                agent_name=agent.name if agent else None, cost_guard_inert=args.cost_guard_inert)), sort_keys=True)

        return resolved.apply(render)
