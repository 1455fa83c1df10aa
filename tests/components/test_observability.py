"""Observability under mocks: alarm topic, alarms per function/table/API/sessions, dashboard, per stack."""

from __future__ import annotations

import dataclasses
import json
import math
import re

import pytest
import yaml

from app.sessions import observability as runtime
from components import iam
from components import observability as obs
from components.observability import FunctionRef, Observability, ObservabilityArgs
from tests.conftest import ROOT, build
from tools.mocks import ACCOUNT_ID

ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
DASHBOARD = "aws:cloudwatch/dashboard:Dashboard"
TOPIC = "aws:sns/topic:Topic"
TOPIC_POLICY = "aws:sns/topicPolicy:TopicPolicy"
SUBSCRIPTION = "aws:sns/topicSubscription:TopicSubscription"
COMPONENT = "aiplatform:observability:Observability"

# Stand-ins for what Sessions, Data and the API hand over: one function reserves concurrency.
FUNCTIONS = {
    "sessions-api": FunctionRef(name="aiplatform-x-sessions-api", timeout_seconds=30),
    "reaper": FunctionRef(name="aiplatform-x-reaper", timeout_seconds=300, reserved_concurrency=5),
}
TABLES = {"users": "users-x", "sessions": "sessions-x", "agentPresets": "agentPresets-x"}
TABLE_INDEXES = {"users": ("byEmail",), "sessions": ("byOwner", "byStatus")}  # agentPresets: none here
API_ID = "abcdefghijklmnopqrstuvwxyz"
CLUSTER = "aiplatform-x-sessions"
BUDGET_NAME = "aiplatform-x-monthly-cost"


def _args(cfg, **changes) -> ObservabilityArgs:
    args = ObservabilityArgs(
        config=cfg.observability, stack=cfg.stack, region=cfg.region,
        monthly_budget_usd=cfg.cost_guard.monthly_budget_usd, functions=FUNCTIONS, tables=TABLES,
        table_indexes=TABLE_INDEXES, graphql_api_id=API_ID, sessions_cluster_name=CLUSTER, budget_name=BUDGET_NAME)
    return dataclasses.replace(args, **changes)


def _declare(**changes):
    def declare(cfg, opts):
        return cfg, Observability("observability", _args(cfg, **changes), opts)
    return declare


@pytest.fixture(scope="module")
def dev():
    return build(_declare(), "dev")


@pytest.fixture(scope="module")
def prod():
    return build(_declare(), "prod")


def _alarms(monitor) -> dict[str, dict]:
    return {r.plain_inputs["name"]: r.plain_inputs for r in monitor.of_type(ALARM)}


def _topic_arn(monitor) -> str:
    return monitor.of_type(TOPIC)[0].outputs["arn"]


def _section(stack: str, key: str) -> dict:
    return yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())["config"][f"aiplatform:{key}"]


def _expected(cfg) -> dict[str, tuple]:
    """alarm name -> (AlarmSpec, threshold) the stack's config asks for."""
    o, s = cfg.observability, cfg.stack
    out = {}
    for key, fn in FUNCTIONS.items():
        if o.lambda_errors.enabled:
            out[f"{s}-{key}-errors"] = (o.lambda_errors, o.lambda_errors.threshold)
        if o.lambda_throttles.enabled:
            out[f"{s}-{key}-throttles"] = (o.lambda_throttles, o.lambda_throttles.threshold)
        if o.lambda_duration_p95_percent.enabled:
            spec = o.lambda_duration_p95_percent
            out[f"{s}-{key}-duration-p95"] = (spec, fn.timeout_seconds * 1000 * spec.threshold / 100)
        if o.lambda_concurrency_percent.enabled and fn.reserved_concurrency:
            spec = o.lambda_concurrency_percent
            limit = math.ceil(fn.reserved_concurrency * spec.threshold / 100)
            if limit < fn.reserved_concurrency:
                out[f"{s}-{key}-concurrency"] = (spec, limit)
        if o.lambda_concurrent_executions.enabled and not fn.reserved_concurrency:
            spec = o.lambda_concurrent_executions
            out[f"{s}-{key}-concurrency"] = (spec, spec.threshold)
    for key in TABLES:
        if o.dynamodb_throttles.enabled:
            out[f"{s}-{key}-ddb-throttles"] = (o.dynamodb_throttles, o.dynamodb_throttles.threshold)
        if o.dynamodb_system_errors.enabled:
            out[f"{s}-{key}-ddb-system-errors"] = (o.dynamodb_system_errors, o.dynamodb_system_errors.threshold)
    for name, spec in ((f"{s}-graphql-5xx", o.appsync_errors_5xx), (f"{s}-graphql-latency-p95", o.appsync_latency_p95_ms),
                       (f"{s}-session-failures", o.session_failures), (f"{s}-spot-interruptions", o.spot_interruptions)):
        if spec.enabled:
            out[name] = (spec, spec.threshold)
    return out


# ---------------------------------------------------------------------------------------------
# Alarms
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_alarms_exist_per_function_and_table_with_the_configured_thresholds(stack, request):
    monitor, (cfg, _) = request.getfixturevalue(stack)
    alarms = _alarms(monitor)
    expected = _expected(cfg)
    assert set(alarms) == set(expected)
    for name, (spec, threshold) in expected.items():
        a = alarms[name]
        assert a["threshold"] == pytest.approx(threshold), name
        assert a["evaluationPeriods"] == spec.evaluation_periods, name
        assert a["datapointsToAlarm"] == spec.datapoints_to_alarm, name
        period = a.get("period") or {q["metric"]["period"] for q in a["metricQueries"] if "metric" in q}.pop()
        assert period == spec.period_seconds, name
        assert a["comparisonOperator"] == "GreaterThanOrEqualToThreshold"


def test_dev_and_prod_thresholds_really_differ_and_dev_skips_costly_alarms(dev, prod):
    d, p = _alarms(dev[0]), _alarms(prod[0])
    assert d["dev-sessions-api-errors"]["threshold"] == 10 and p["prod-sessions-api-errors"]["threshold"] == 5
    assert p["prod-graphql-latency-p95"]["threshold"] == 1000
    # dev keeps its fixed cost under $5/month: no p95 or table-health alarms there.
    assert not [n for n in d if n.endswith(("-ddb-system-errors", "-ddb-throttles", "-p95"))]
    assert sorted(n for n in p if n.endswith("-ddb-system-errors")) == sorted(
        f"prod-{key}-ddb-system-errors" for key in TABLES)


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_alarm_pages_the_topic_on_alarm_and_on_recovery(stack, request):
    monitor = request.getfixturevalue(stack)[0]
    topic = _topic_arn(monitor)
    for name, a in _alarms(monitor).items():
        assert a["alarmActions"] == [topic] and a["okActions"] == [topic], name
        assert not a.get("insufficientDataActions"), name
        assert a["name"].startswith(f"{stack}-") and len(a["name"]) <= 255


def test_alarms_are_created_after_the_topic_policy_allows_them_to_publish(prod):
    policy = prod[0].of_type(TOPIC_POLICY)[0].urn
    for alarm in prod[0].of_type(ALARM):
        assert policy in alarm.dependencies, alarm.name


MISSING_DATA = {
    "-errors": "notBreaching", "-throttles": "notBreaching", "-concurrency": "notBreaching",
    "-duration-p95": "missing", "-ddb-throttles": "notBreaching", "-ddb-system-errors": "notBreaching",
    "-graphql-5xx": "notBreaching", "-graphql-latency-p95": "missing", "-session-failures": "notBreaching",
    "-spot-interruptions": "notBreaching",
}


def test_missing_data_treatment_is_chosen_per_alarm_kind(prod):
    for name, a in _alarms(prod[0]).items():
        suffix = max((s for s in MISSING_DATA if name.endswith(s)), key=len)
        assert a["treatMissingData"] == MISSING_DATA[suffix], name


def test_percentiles_use_extended_statistic_and_never_statistic(prod):
    for name, a in _alarms(prod[0]).items():
        if name.endswith("-p95"):
            assert a["extendedStatistic"] == "p95" and "statistic" not in a, name
            assert a["evaluateLowSampleCountPercentiles"] == "ignore", name
        elif "metricQueries" not in a:
            assert a["statistic"] in ("Sum", "Maximum") and "extendedStatistic" not in a, name


def test_lambda_alarms_watch_the_function_by_name(prod):
    alarms = _alarms(prod[0])
    for key, fn in FUNCTIONS.items():
        for kind, metric in (("errors", "Errors"), ("throttles", "Throttles"), ("duration-p95", "Duration")):
            a = alarms[f"prod-{key}-{kind}"]
            assert (a["namespace"], a["metricName"], a["dimensions"]) == ("AWS/Lambda", metric, {"FunctionName": fn.name})


def test_duration_threshold_is_the_configured_share_of_each_functions_timeout(prod):
    alarms = _alarms(prod[0])
    # prod: 80 % of 30 s and of 300 s, in milliseconds.
    assert alarms["prod-sessions-api-duration-p95"]["threshold"] == 24000
    assert alarms["prod-reaper-duration-p95"]["threshold"] == 240000


def test_concurrency_alarms_a_share_of_a_reservation_or_an_absolute_count_without_one(dev, prod):
    # dev: lambdaConcurrentExecutions is off (cost target), and 90 % of the reaper's 5 rounds up to
    # all 5, which is no alarm: running at the reservation is normal, its throttles alarm pages beyond.
    assert [n for n in _alarms(dev[0]) if n.endswith("-concurrency")] == []
    alarms = _alarms(prod[0])
    cfg = prod[1][0]
    assert sorted(n for n in alarms if n.endswith("-concurrency")) == ["prod-reaper-concurrency",
                                                                     "prod-sessions-api-concurrency"]
    reaper, api = alarms["prod-reaper-concurrency"], alarms["prod-sessions-api-concurrency"]
    assert reaper["threshold"] == 4  # ceil(5 * 80 %)
    assert api["threshold"] == cfg.observability.lambda_concurrent_executions.threshold == 50
    for a in (reaper, api):
        assert a["metricName"] == "ConcurrentExecutions" and a["statistic"] == "Maximum"
        assert a["dimensions"]["FunctionName"].startswith("aiplatform-x-")


@pytest.mark.parametrize("reserved, percent, expected", [
    (20, 80, 16.0), (10, 80, 8.0), (5, 90, None), (5, 80, 4.0), (1, 80, None), (2, 80, None), (3, 50, 2.0),
    (100, 33.3, 34.0)])
def test_concurrency_threshold_rounds_up_and_skips_the_whole_reservation(reserved, percent, expected):
    """At 1 reserved (the reaper, so runs never overlap) 80 % would alarm on every run."""
    assert obs.concurrency_threshold(reserved, percent) == expected


def _queries(alarm: dict) -> tuple[list[dict], dict]:
    queries = alarm["metricQueries"]
    returned = [q for q in queries if q.get("returnData")]
    assert len(returned) == 1, "exactly one query is the one the alarm watches"
    return [q for q in queries if "metric" in q], returned[0]


def test_table_throttles_sum_read_and_write_events_of_the_table_and_each_index_with_gaps_filled(prod):
    alarms = _alarms(prod[0])
    for key, table in TABLES.items():
        a = alarms[f"prod-{key}-ddb-throttles"]
        assert "metricName" not in a and "namespace" not in a and "statistic" not in a and "period" not in a
        metrics, expr = _queries(a)
        # Read/WriteThrottleEvents exist per TableName (the table) and per TableName +
        # GlobalSecondaryIndexName (each index, which TableName alone does not include).
        scopes = ["", *TABLE_INDEXES.get(key, ())]
        expected = sorted((metric, index) for index in scopes for metric in ("ReadThrottleEvents", "WriteThrottleEvents"))
        assert sorted((q["metric"]["metricName"], q["metric"]["dimensions"].get("GlobalSecondaryIndexName", ""))
                      for q in metrics) == expected
        assert all(q["metric"]["namespace"] == "AWS/DynamoDB" and q["metric"]["stat"] == "Sum"
                   and q["metric"]["dimensions"]["TableName"] == table
                   and set(q["metric"]["dimensions"]) <= {"TableName", "GlobalSecondaryIndexName"} for q in metrics)
        assert len(metrics) <= obs.MAX_ALARM_METRICS
        assert expr["expression"] == " + ".join(f"FILL({q['id']}, 0)" for q in metrics)


def test_table_system_errors_sum_every_operation_within_the_alarm_metric_limit(prod):
    alarms = _alarms(prod[0])
    for key, table in TABLES.items():
        metrics, expr = _queries(alarms[f"prod-{key}-ddb-system-errors"])
        assert len(metrics) <= obs.MAX_ALARM_METRICS
        # SystemErrors exists only per (TableName, Operation).
        assert sorted(q["metric"]["dimensions"]["Operation"] for q in metrics) == sorted(obs.DYNAMODB_OPERATIONS)
        assert all(q["metric"]["dimensions"]["TableName"] == table and q["metric"]["metricName"] == "SystemErrors"
                   for q in metrics)
        assert sorted(re.findall(r"FILL\((\w+), 0\)", expr["expression"])) == sorted(q["id"] for q in metrics)


APPSYNC_BATCH = {"BatchPutItem": "BatchWriteItem", "BatchDeleteItem": "BatchWriteItem"}


def test_system_error_operations_cover_every_dynamodb_call_the_platform_makes():
    """A new DynamoDB operation in app/ (boto3 or an AppSync resolver) must join DYNAMODB_OPERATIONS."""
    boto3_calls = re.compile(r"\.(get_item|put_item|update_item|delete_item|query|scan|batch_get_item|batch_write_item|"
                             r"transact_get_items|transact_write_items|execute_statement|batch_execute_statement|"
                             r"execute_transaction)\(")
    used = set()
    for path in (ROOT / "app").rglob("*.py"):
        used |= {"".join(p.title() for p in m.split("_")) for m in boto3_calls.findall(path.read_text())}
    for path in (ROOT / "app" / "graphql" / "resolvers").rglob("*.js"):
        # AppSync's batch request names are BatchWriteItem calls to DynamoDB.
        used |= {APPSYNC_BATCH.get(op, op) for op in re.findall(r"operation:\s*['\"](\w+)['\"]", path.read_text())} - {"Invoke"}
    assert {"GetItem", "PutItem", "Query"} <= used, "the scan found nothing: the patterns are stale"
    assert used <= set(obs.DYNAMODB_OPERATIONS), sorted(used - set(obs.DYNAMODB_OPERATIONS))


def test_appsync_alarms_watch_the_api_by_id(prod):
    alarms = _alarms(prod[0])
    assert (alarms["prod-graphql-5xx"]["metricName"], alarms["prod-graphql-5xx"]["statistic"]) == ("5XXError", "Sum")
    assert alarms["prod-graphql-latency-p95"]["metricName"] == "Latency"
    for name in ("prod-graphql-5xx", "prod-graphql-latency-p95"):
        assert alarms[name]["namespace"] == "AWS/AppSync" and alarms[name]["dimensions"] == {"GraphQLAPIId": API_ID}


def _emitted_sets(capsys, name: str, cluster: str, value: int = 1, **kwargs) -> list[dict]:
    """What the runtime's metric() emits, one entry per EMF dimension set (each is its own metric)."""
    runtime.metric(name, cluster, value, sessionId="s-1", **kwargs)
    record = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    (directive,) = record["_aws"]["CloudWatchMetrics"]
    return [{"namespace": directive["Namespace"], "metrics": [m["Name"] for m in directive["Metrics"]],
             "dimensions": {d: record[d] for d in dimension_set}} for dimension_set in directive["Dimensions"]]


def _emitted(capsys, name: str, cluster: str) -> dict:
    (emitted,) = _emitted_sets(capsys, name, cluster)
    return emitted


@pytest.mark.parametrize("metric,alarm", [("SessionFailed", "prod-session-failures"),
                                          ("SpotInterruption", "prod-spot-interruptions")])
def test_session_alarms_select_exactly_what_the_runtime_emits(metric, alarm, prod, capsys):
    emitted = _emitted(capsys, metric, CLUSTER)
    a = _alarms(prod[0])[alarm]
    assert a["namespace"] == emitted["namespace"]
    assert emitted["metrics"] == [a["metricName"]]
    # An EMF metric exists only under its exact dimension set.
    assert a["dimensions"] == emitted["dimensions"]
    assert a["statistic"] == "Sum"


def test_component_constants_are_the_runtimes():
    from app.sessions.settings import ON_DEMAND_PROVIDER
    from components.config import CapacityStrategyItem

    assert obs.SESSIONS_NAMESPACE == runtime.NAMESPACE
    assert (obs.SESSION_COUNTERS, obs.SESSION_GAUGES) == (runtime.COUNTERS, runtime.GAUGES)
    assert (obs.SESSIONS_DIMENSION, obs.SESSIONS_PROVIDER_DIMENSION) == (runtime.CLUSTER_DIMENSION,
                                                                        runtime.PROVIDER_DIMENSION)
    assert obs.ON_DEMAND_PROVIDER == ON_DEMAND_PROVIDER
    assert CapacityStrategyItem(obs.SPOT_PROVIDER, 1).as_dict()["capacityProvider"] == "FARGATE_SPOT"


def test_without_api_or_cluster_there_are_no_such_alarms_or_widgets():
    monitor, _ = build(_declare(graphql_api_id=None, sessions_cluster_name=None), "prod")
    names = set(_alarms(monitor))
    assert not [n for n in names if "graphql" in n or "session-failures" in n or "spot" in n]
    body = json.loads(monitor.of_type(DASHBOARD)[0].plain_inputs["dashboardBody"])
    namespaces = {m[0] for w in body["widgets"] for m in w["properties"].get("metrics", []) if isinstance(m[0], str)}
    assert "AWS/AppSync" not in namespaces and obs.SESSIONS_NAMESPACE not in namespaces


# ---------------------------------------------------------------------------------------------
# Topic
# ---------------------------------------------------------------------------------------------
def test_topic_policy_lets_only_this_stacks_cloudwatch_alarms_publish(prod):
    monitor = prod[0]
    policy = monitor.of_type(TOPIC_POLICY)[0].plain_inputs
    topic = _topic_arn(monitor)
    assert policy["arn"] == topic
    (stmt,) = iam.statements(policy["policy"])
    assert stmt["Effect"] == "Allow" and stmt["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert stmt["Action"] == ["SNS:Publish"] and stmt["Resource"] == [topic]
    assert stmt["Condition"] == {
        "StringEquals": {"aws:SourceAccount": ACCOUNT_ID},
        "ArnLike": {"aws:SourceArn": f"arn:aws:cloudwatch:us-east-1:{ACCOUNT_ID}:alarm:prod-*"}}
    # The pattern covers every alarm of the stack, and only those.
    for name in _alarms(monitor):
        assert re.fullmatch(stmt["Condition"]["ArnLike"]["aws:SourceArn"].replace("*", ".*"),
                            f"arn:aws:cloudwatch:us-east-1:{ACCOUNT_ID}:alarm:{name}")


def test_topic_is_not_encrypted_with_a_key_cloudwatch_cannot_use(prod):
    topic = prod[0].of_type(TOPIC)[0].plain_inputs
    assert not topic.get("kmsMasterKeyId")


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_one_email_subscription_per_configured_address(stack, request):
    monitor, (cfg, _) = request.getfixturevalue(stack)
    subs = [r.plain_inputs for r in monitor.of_type(SUBSCRIPTION)]
    assert sorted(s["endpoint"] for s in subs) == sorted(cfg.observability.alarm_emails)
    assert all(s["protocol"] == "email" and s["topic"] == _topic_arn(monitor) for s in subs)


# ---------------------------------------------------------------------------------------------
# Dashboard
# ---------------------------------------------------------------------------------------------
def _view(**changes) -> obs.DashboardView:
    view = obs.DashboardView(stack="dev", region="eu-west-1", monthly_budget_usd=50, functions={"api": "fn-api"},
                             tables={"users": "users-x", "sessions": "sessions-x"}, graphql_api_id=API_ID,
                             sessions_cluster_name=CLUSTER, budget_name=BUDGET_NAME,
                             alarm_arns=[f"arn:aws:cloudwatch:eu-west-1:{ACCOUNT_ID}:alarm:dev-a"])
    return dataclasses.replace(view, **changes)


def _widget(body: dict, title_part: str) -> dict:
    (w,) = [w for w in body["widgets"] if title_part in w["properties"].get("title", "")]
    return w["properties"]


def test_dashboard_widgets_fit_the_grid_without_overlapping():
    cells = set()
    for w in obs.dashboard_body(_view())["widgets"]:
        assert 0 <= w["x"] and w["x"] + w["width"] <= 24 and w["height"] > 0
        mine = {(x, y) for x in range(w["x"], w["x"] + w["width"]) for y in range(w["y"], w["y"] + w["height"])}
        assert not cells & mine, w["properties"].get("title")
        cells |= mine


def _charted(metric: list) -> dict:
    """A dashboard metric array [namespace, name, dim, value, ..., {options}] as the emitted shape."""
    plain = metric[:-1] if isinstance(metric[-1], dict) else metric
    return {"namespace": plain[0], "metrics": [plain[1]], "dimensions": dict(zip(plain[2::2], plain[3::2]))}


def test_dashboard_charts_session_counts_from_the_runtimes_metrics(capsys):
    p = _widget(obs.dashboard_body(_view()), "Sessions: started")
    assert [_charted(m) for m in p["metrics"]] == [
        next(e for e in _emitted_sets(capsys, name, CLUSTER, **({"capacity_provider": "FARGATE"}
                                                                  if name == "SessionStarted" else {}))
             if set(e["dimensions"]) == {"ClusterName"})
        for name in runtime.COUNTERS]
    assert p["region"] == "eu-west-1" and p["stat"] == "Sum"


def test_dashboard_spot_share_charts_starts_per_capacity_provider_as_the_runtime_emits_them(capsys):
    p = _widget(obs.dashboard_body(_view()), "Spot vs on-demand")
    charted = {m[-1]["id"]: _charted(m) for m in p["metrics"] if isinstance(m[0], str)}
    for qid, provider in (("spot", "FARGATE_SPOT"), ("ondemand", "FARGATE")):
        emitted = _emitted_sets(capsys, "SessionStarted", CLUSTER, capacity_provider=provider)
        # The chart must name exactly the emitted [ClusterName, CapacityProvider] metric.
        assert charted[qid] in emitted and charted[qid]["dimensions"] == {"ClusterName": CLUSTER,
                                                                          "CapacityProvider": provider}
    (share,) = [m[0] for m in p["metrics"] if isinstance(m[0], dict)]
    assert share["expression"] == "100 * FILL(spot, 0) / (FILL(spot, 0) + FILL(ondemand, 0))"
    assert share["yAxis"] == "right" and p["stat"] == "Sum" and p["period"] == 3600
    assert "AWS/Usage" not in json.dumps(obs.dashboard_body(_view()))  # the old account-wide stand-in


def test_dashboard_charts_the_reapers_active_sessions_gauge(capsys):
    p = _widget(obs.dashboard_body(_view()), "Active sessions")
    ([metric],) = [p["metrics"]]
    (emitted,) = _emitted_sets(capsys, "ActiveSessions", CLUSTER, 3)
    assert _charted(metric) == emitted
    # A gauge sampled once per reaper run (hourly by default): the hourly maximum has no gaps, a
    # 5-minute sum would add samples up.
    assert (p["stat"], p["period"]) == ("Maximum", 3600)


def test_dashboard_api_widget_shows_5xx_and_p95_latency_of_the_api():
    p = _widget(obs.dashboard_body(_view()), "GraphQL API")
    by_name = {m[1]: m for m in p["metrics"]}
    assert set(by_name) >= {"5XXError", "Latency"}
    assert all(m[0] == "AWS/AppSync" and m[2:4] == ["GraphQLAPIId", API_ID] for m in by_name.values())
    assert by_name["Latency"][4]["stat"] == "p95"


def test_dashboard_table_throttles_are_one_filled_sum_per_table_indexes_included():
    p = _widget(obs.dashboard_body(_view(table_indexes={"sessions": ("byOwner", "byStatus")})), "DynamoDB throttle")
    expressions = [m[0] for m in p["metrics"] if isinstance(m[0], dict)]
    assert [e["label"] for e in expressions] == ["users", "sessions"]
    hidden = {m[-1]["id"]: (m[1], dict(zip(m[2:-1:2], m[3:-1:2]))) for m in p["metrics"] if isinstance(m[0], str)}
    for e in expressions:
        ids = re.findall(r"FILL\((\w+), 0\)", e["expression"])
        assert {hidden[i][1]["TableName"] for i in ids} == {f"{e['label']}-x"}
        got = sorted((hidden[i][0], hidden[i][1].get("GlobalSecondaryIndexName", "")) for i in ids)
        indexes = {"users": [""], "sessions": ["", "byOwner", "byStatus"]}[e["label"]]
        assert got == sorted((m, x) for x in indexes for m in ("ReadThrottleEvents", "WriteThrottleEvents"))
    assert all(m[-1]["visible"] is False for m in p["metrics"] if isinstance(m[0], str))


def test_dashboard_cost_widget_reads_billing_in_us_east_1_against_the_budget():
    p = _widget(obs.dashboard_body(_view(monthly_budget_usd=1500)), "estimated charges")
    assert p["region"] == "us-east-1"  # billing metrics exist only there, whatever the stack's region
    assert p["metrics"][0][:4] == ["AWS/Billing", "EstimatedCharges", "Currency", "USD"]
    (line,) = p["annotations"]["horizontal"]
    assert line["value"] == 1500 and BUDGET_NAME in line["label"]


def test_dashboard_lists_every_alarm_in_widgets_of_at_most_100():
    arns = [f"arn:aws:cloudwatch:eu-west-1:{ACCOUNT_ID}:alarm:dev-{i}" for i in range(150)]
    widgets = [w for w in obs.dashboard_body(_view(alarm_arns=arns))["widgets"] if w["type"] == "alarm"]
    assert [len(w["properties"]["alarms"]) for w in widgets] == [100, 50]
    assert sum((w["properties"]["alarms"] for w in widgets), []) == arns


def test_deployed_dashboard_is_the_pure_body_of_the_resolved_inputs(dev):
    monitor, (cfg, component) = dev
    dash = monitor.of_type(DASHBOARD)[0].plain_inputs
    assert dash["dashboardName"] == "aiplatform-dev"
    by_name = {r.plain_inputs["name"]: r.outputs["arn"] for r in monitor.of_type(ALARM)}
    arns = [by_name[n] for n in component.bundle.alarm_names]
    expected = obs.dashboard_body(obs.DashboardView(
        stack="dev", region=cfg.region, monthly_budget_usd=cfg.cost_guard.monthly_budget_usd,
        functions={k: f.name for k, f in FUNCTIONS.items()}, tables=TABLES, table_indexes=TABLE_INDEXES,
        graphql_api_id=API_ID,
        sessions_cluster_name=CLUSTER, budget_name=BUDGET_NAME, alarm_arns=arns))
    assert json.loads(dash["dashboardBody"]) == expected


def test_dashboard_is_behind_config():
    section = {**_section("dev", "observability"), "dashboard": False}
    monitor, _ = build(_declare(), "dev", {"aiplatform:observability": section})
    assert not monitor.of_type(DASHBOARD)
    outputs = monitor.of_type(COMPONENT)[0].outputs
    assert outputs.get("dashboardName") is None and outputs.get("dashboardArn") is None
    assert monitor.of_type(ALARM)  # alarms do not depend on the dashboard


# ---------------------------------------------------------------------------------------------
# Stacks differ only through config
# ---------------------------------------------------------------------------------------------
def _normalised(monitor, stack: str) -> dict:
    """Every observability resource's inputs, keyed by logical name, with the stack name neutralised."""
    out = {}
    for reg in monitor.registrations.values():
        if reg.type.startswith("pulumi:providers:"):
            continue
        text = json.dumps(reg.plain_inputs, sort_keys=True)
        out[reg.name] = json.loads(re.sub(rf"\b{stack}\b", "STACK", text))
    return out


def test_dev_and_prod_differ_only_through_config(dev):
    # prod, given dev's observability and budget config, declares exactly what dev declares.
    overrides = {f"aiplatform:{k}": _section("dev", k) for k in ("observability", "costGuard")}
    prod_as_dev, _ = build(_declare(), "prod", overrides)
    assert _normalised(prod_as_dev, "prod") == _normalised(dev[0], "dev")


# ---------------------------------------------------------------------------------------------
# Structure and validation
# ---------------------------------------------------------------------------------------------
def test_every_child_is_parented_to_the_component_and_outputs_are_registered(prod):
    monitor, (cfg, component) = prod
    parent = monitor.of_type(COMPONENT)[0]
    for reg in monitor.registrations.values():
        if reg.type not in (COMPONENT, "pulumi:providers:aws"):
            assert reg.parent == parent.urn, reg.urn
            assert reg.name.startswith("observability-")
    outputs = parent.outputs
    assert outputs["alarmTopicArn"] == _topic_arn(monitor)
    assert sorted(outputs["alarmNames"]) == sorted(_alarms(monitor)) == sorted(component.bundle.alarm_names)
    assert outputs["dashboardName"] == "aiplatform-prod"


def _valid_args(**changes) -> ObservabilityArgs:
    from components import config
    from tools import program

    raw, secrets = program.stack_config("prod")
    return _args(config.parse(raw, "prod", secrets), **changes)


@pytest.mark.parametrize("changes,message", [
    ({"functions": {"Sessions_API": FUNCTIONS["reaper"]}}, "functions key 'Sessions_API' must be 1-40 letters, digits or hyphens"),
    ({"tables": {"9users": "t"}}, "tables key '9users' must be 1-40 letters"),
    ({"table_indexes": {"nope": ("byX",)}}, "table_indexes names table 'nope', which is not in tables"),
    ({"table_indexes": {"users": ("a1x", "b1x", "c1x", "d1x", "e1x")}}, "at most 4 indexes, got 5"),
    ({"functions": {"api": FunctionRef("f", 901)}}, "functions['api'].timeout_seconds must be 1-900"),
    ({"functions": {"api": FunctionRef("f", 30, 0)}}, "functions['api'].reserved_concurrency must be at least 1"),
    ({"monthly_budget_usd": 0}, "monthly_budget_usd must be above 0"),
    ({"sessions_metrics_namespace": "AWS/Sessions"}, "sessions_metrics_namespace must be a custom namespace"),
    # function "users-ddb" throttles and table "users" throttles would share a name.
    ({"functions": {"users-ddb": FUNCTIONS["reaper"]}, "tables": {"users": "t"}, "table_indexes": {}},
     "two alarms would be named 'prod-users-ddb-throttles'"),
])
def test_bad_args_fail_with_a_named_reason(changes, message):
    with pytest.raises(ValueError) as err:
        obs.validate(_valid_args(**changes))
    assert message in str(err.value)


def test_valid_args_pass_validation():
    obs.validate(_valid_args())


def test_metric_math_alarm_refuses_more_metrics_than_cloudwatch_allows():
    metric = obs.MetricRef("AWS/DynamoDB", "SystemErrors", {"TableName": "t"}, "Sum")
    spec = _valid_args().config.dynamodb_system_errors
    with pytest.raises(ValueError, match="metric math takes 1-10 metrics, got 11"):
        obs.AlarmDef(key="k", name="n", description="d", spec=spec, threshold=1, treat_missing_data="notBreaching",
                     inputs={f"m{i}": metric for i in range(11)}, expression="m0")
