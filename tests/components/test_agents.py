"""Agents component under mocks: the AgentCore runtime (image, authorizer, environment contract),
endpoint, memory, guardrail, the runtime's log groups, and an execution role that may invoke exactly
the configured models and touch exactly its own resources (nothing on "*" beyond what AWS's IAM
dataset says has no resource type)."""

from __future__ import annotations

import dataclasses
import json
from urllib.parse import unquote

import pytest

from components import agents as ag
from components import config
from components import iam
from components.agents import Agents, AgentsArgs
from policies.iamlib import action_index
from tests.conftest import build
from tools import program
from tools.mocks import ACCOUNT_ID

REGION = "us-east-1"
POOL_ID = "us-east-1_AbCdEfGhI"
CLIENT_ID = "4tq0examplewebclient0000"
GRAPHQL_URL = "https://abcdefghijklmnopqrstuvwxyz.appsync-api.us-east-1.amazonaws.com/graphql"
GRAPHQL_API_ARN = f"arn:aws:appsync:us-east-1:{ACCOUNT_ID}:apis/abcdefghijklmnopqrstuvwxyz"
USAGE_TABLE = "agentUsage-9f8e7d6"
USAGE_TABLE_ARN = f"arn:aws:dynamodb:us-east-1:{ACCOUNT_ID}:table/{USAGE_TABLE}"

RUNTIME = "aws:bedrock/agentcoreAgentRuntime:AgentcoreAgentRuntime"
ENDPOINT = "aws:bedrock/agentcoreAgentRuntimeEndpoint:AgentcoreAgentRuntimeEndpoint"
MEMORY = "aws:bedrock/agentcoreMemory:AgentcoreMemory"
GUARDRAIL = "aws:bedrock/guardrail:Guardrail"
GUARDRAIL_VERSION = "aws:bedrock/guardrailVersion:GuardrailVersion"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
REPO = "aws:ecr/repository:Repository"
LIFECYCLE = "aws:ecr/lifecyclePolicy:LifecyclePolicy"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"


def _agents(cfg, opts, agents_cfg=None):
    return Agents("agents", AgentsArgs(
        config=agents_cfg or cfg.agents, stack=cfg.stack, region=cfg.region,
        log_retention_days=cfg.log_retention_days, user_pool_id=POOL_ID, user_pool_client_id=CLIENT_ID,
        graphql_url=GRAPHQL_URL, graphql_api_arn=GRAPHQL_API_ARN, usage_table_name=USAGE_TABLE,
        usage_table_arn=USAGE_TABLE_ARN), opts)


@pytest.fixture(scope="module", params=["dev", "prod"])
def built(request):
    monitor, _ = build(_agents, stack=request.param)
    return request.param, monitor


def _one(monitor, type_):
    regs = monitor.of_type(type_)
    assert len(regs) == 1, f"expected one {type_}, got {len(regs)}"
    return regs[0]


def _statements(monitor):
    """Every statement of the runtime role's inline policies, as AWS receives them."""
    out = []
    for reg in monitor.of_type(ROLE_POLICY):
        if reg.name in ("agents-runtime", "agents-runtime-logs"):
            out += iam.statements(reg.plain_inputs["policy"])
    return out


def _granted(stmts, action):
    return sorted({r for s in stmts if action in s["Action"] for r in s["Resource"]})


def _cfg(stack):
    raw, secrets = program.stack_config(stack)
    return config.parse(raw, stack, secrets)


def _model_arns(models):
    """Written out independently of the component: what AWS's cross-Region inference guide says a
    role needs per configured model (profile in the stack's Region, the model in each destination)."""
    direct, routed = set(), set()
    for m in models.values():
        if m.profile_regions is None:
            direct.add(f"arn:aws:bedrock:{REGION}::foundation-model/{m.id}")
        else:
            direct.add(f"arn:aws:bedrock:{REGION}:{ACCOUNT_ID}:inference-profile/{m.id}")
            routed |= {f"arn:aws:bedrock:{r}::foundation-model/{m.model_id}" for r in ("us-east-1", "us-east-2", "us-west-2")}
    return direct, routed


# --- runtime ---------------------------------------------------------------------------------------
def test_runtime_runs_this_stacks_image_with_the_contract_environment(built):
    stack, monitor = built
    cfg = _cfg(stack).agents
    runtime, repo, memory = _one(monitor, RUNTIME), _one(monitor, REPO), _one(monitor, MEMORY)
    inputs = runtime.plain_inputs
    assert inputs["agentRuntimeName"] == f"aiplatform_{stack}_magi"
    assert inputs["agentRuntimeArtifact"] == {
        "containerConfiguration": {"containerUri": f"{repo.outputs['repositoryUrl']}:0.1.0"}}
    assert inputs["networkConfiguration"] == {"networkMode": "PUBLIC"}
    assert inputs["protocolConfiguration"] == {"serverProtocol": "HTTP"}
    assert inputs["lifecycleConfigurations"] == [{"idleRuntimeSessionTimeout": 900, "maxLifetime": 28800}]
    # The validated token reaches the agent, which takes the user from it (never from the body).
    assert inputs["requestHeaderConfiguration"] == {"requestHeaderAllowlists": ["Authorization"]}
    env = inputs["environmentVariables"]
    guardrail = monitor.of_type(GUARDRAIL)
    assert env == {
        "AGENT_MODELS": json.dumps({role: m.id for role, m in cfg.models.items()}, sort_keys=True),
        "AGENT_GUARDRAIL_ID": guardrail[0].outputs["guardrailId"] if guardrail else "",
        "AGENT_GUARDRAIL_VERSION": _one(monitor, GUARDRAIL_VERSION).outputs["version"] if guardrail else "",
        "AGENT_MEMORY_ID": memory.id,
        "AGENT_USAGE_TABLE": USAGE_TABLE,
        "AGENT_DAILY_INVOCATION_LIMIT": str(cfg.daily_invocations_per_user),
        "GRAPHQL_URL": GRAPHQL_URL,
        "AGENT_OBSERVABILITY_ENABLED": "true",
        "OTEL_PYTHON_DISTRO": "aws_distro",
        "OTEL_PYTHON_CONFIGURATOR": "aws_configurator",
        "OTEL_SERVICE_NAME": f"aiplatform_{stack}_magi",
    }
    assert set(json.loads(env["AGENT_MODELS"])) == {"solomon", "caspar", "balthasar", "melchior"}
    # AgentCore's limits: at most 50 variables, values of at most 5000 characters.
    assert len(env) <= 50 and all(len(v) <= 5000 for v in env.values())


def test_authorizer_accepts_only_the_pools_access_tokens_for_the_web_client(built):
    _, monitor = built
    jwt = _one(monitor, RUNTIME).plain_inputs["authorizerConfiguration"]["customJwtAuthorizer"]
    assert jwt == {"discoveryUrl": f"https://cognito-idp.{REGION}.amazonaws.com/{POOL_ID}/.well-known/openid-configuration",
                   "allowedClients": [CLIENT_ID]}  # no allowedAudience: Cognito access tokens carry no aud


def test_runtime_waits_for_its_grants_and_the_endpoint_for_its_logs(built):
    _, monitor = built
    runtime, endpoint = _one(monitor, RUNTIME), _one(monitor, ENDPOINT)
    policies = {r.name: r.urn for r in monitor.of_type(ROLE_POLICY)}
    assert policies["agents-runtime"] in runtime.dependencies
    assert policies["agents-runtime-logs"] in endpoint.dependencies
    assert endpoint.plain_inputs["name"] == "live"
    assert endpoint.plain_inputs["agentRuntimeId"] == runtime.outputs["agentRuntimeId"]


def test_repository_scans_pins_tags_and_expires_old_images(built):
    stack, monitor = built
    repo = _one(monitor, REPO).plain_inputs
    assert repo["imageScanningConfiguration"] == {"scanOnPush": True}
    assert repo["imageTagMutability"] == "IMMUTABLE"
    rule = json.loads(_one(monitor, LIFECYCLE).plain_inputs["policy"])["rules"][0]
    assert rule["selection"]["countNumber"] == _cfg(stack).agents.ecr_keep_images
    assert rule["action"] == {"type": "expire"}


def test_memory_expires_events_as_configured(built):
    stack, monitor = built
    memory = _one(monitor, MEMORY).plain_inputs
    assert memory["eventExpiryDuration"] == _cfg(stack).agents.memory_expiry_days
    assert memory["name"] == f"aiplatform_{stack}_magi_memory"


def test_runtime_log_groups_keep_the_stacks_retention(built):
    stack, monitor = built
    rid = _one(monitor, RUNTIME).outputs["agentRuntimeId"]
    groups = {r.plain_inputs["name"]: r.plain_inputs["retentionInDays"] for r in monitor.of_type(LOG_GROUP)}
    days = _cfg(stack).log_retention_days
    assert groups == {f"/aws/bedrock-agentcore/runtimes/{rid}-live": days,
                      f"/aws/bedrock-agentcore/runtimes/{rid}-DEFAULT": days}


def test_guardrail_only_where_configured_and_prompt_attacks_judged_on_input(built):
    stack, monitor = built
    if stack == "dev":
        assert not monitor.of_type(GUARDRAIL) and not monitor.of_type(GUARDRAIL_VERSION)
        return
    g = _one(monitor, GUARDRAIL).plain_inputs
    filters = {f["type"]: (f["inputStrength"], f["outputStrength"]) for f in g["contentPolicyConfig"]["filtersConfigs"]}
    assert filters == {**{t: ("HIGH", "HIGH") for t in ("SEXUAL", "VIOLENCE", "HATE", "INSULTS", "MISCONDUCT")},
                       "PROMPT_ATTACK": ("HIGH", "NONE")}
    assert g["blockedInputMessaging"] == g["blockedOutputsMessaging"] != ""
    version = _one(monitor, GUARDRAIL_VERSION).plain_inputs
    assert version["guardrailArn"] == _one(monitor, GUARDRAIL).outputs["guardrailArn"]


# --- execution role -------------------------------------------------------------------------------
def test_trust_is_agentcore_in_this_account_and_region_only(built):
    _, monitor = built
    [stmt] = iam.statements(_one(monitor, ROLE).plain_inputs["assumeRolePolicy"])
    assert stmt["Principal"] == {"Service": "bedrock-agentcore.amazonaws.com"}
    assert stmt["Action"] == ["sts:AssumeRole"]
    assert stmt["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT_ID},
                                 "ArnLike": {"aws:SourceArn": f"arn:aws:bedrock-agentcore:{REGION}:{ACCOUNT_ID}:*"}}


def test_role_may_invoke_exactly_the_configured_models(built):
    stack, monitor = built
    stmts = _statements(monitor)
    direct, routed = _model_arns(_cfg(stack).agents.models)
    invoke = [s for s in stmts if "bedrock:InvokeModel" in s["Action"]]
    assert all(sorted(s["Action"]) == ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"] for s in invoke)
    unconditional = {r for s in invoke if "Condition" not in s for r in s["Resource"]}
    through_profiles = [s for s in invoke if "Condition" in s]
    assert unconditional == direct
    assert {r for s in through_profiles for r in s["Resource"]} == routed
    # The destination-Region grants work only through the configured profiles.
    profiles = sorted(a for a in direct if ":inference-profile/" in a)
    assert [s["Condition"] for s in through_profiles] == [{"StringEquals": {"bedrock:InferenceProfileArn": profiles}}]


def test_role_touches_exactly_its_own_resources(built):
    stack, monitor = built
    stmts = _statements(monitor)
    repo, memory, runtime = _one(monitor, REPO), _one(monitor, MEMORY), _one(monitor, RUNTIME)
    rid = runtime.outputs["agentRuntimeId"]
    groups = f"arn:aws:logs:{REGION}:{ACCOUNT_ID}:log-group:/aws/bedrock-agentcore/runtimes/{rid}-*"
    assert _granted(stmts, "ecr:BatchGetImage") == _granted(stmts, "ecr:GetDownloadUrlForLayer") == [repo.outputs["arn"]]
    assert _granted(stmts, "logs:PutLogEvents") == [f"{groups}:log-stream:*"]
    assert _granted(stmts, "logs:CreateLogGroup") == [groups]
    for action in ag.MEMORY_ACTIONS:
        assert _granted(stmts, action) == [memory.outputs["arn"]]
    assert _granted(stmts, "dynamodb:UpdateItem") == [USAGE_TABLE_ARN]
    assert not [s for s in stmts for a in s["Action"] if a.startswith("dynamodb:") and a != "dynamodb:UpdateItem"]
    assert _granted(stmts, "appsync:GraphQL") == [f"{GRAPHQL_API_ARN}/types/Mutation/fields/recordAgentReply"]
    workload = runtime.outputs["workloadIdentityDetails"][0]["workloadIdentityArn"]
    assert _granted(stmts, "bedrock-agentcore:GetWorkloadAccessTokenForJWT") == sorted([
        f"arn:aws:bedrock-agentcore:{REGION}:{ACCOUNT_ID}:workload-identity-directory/default", workload])
    assert not _granted(stmts, "bedrock-agentcore:GetWorkloadAccessTokenForUserId")
    [metrics] = [s for s in stmts if "cloudwatch:PutMetricData" in s["Action"]]
    assert metrics["Condition"] == {"StringEquals": {"cloudwatch:namespace": "bedrock-agentcore"}}
    guardrail = monitor.of_type(GUARDRAIL)
    assert _granted(stmts, "bedrock:ApplyGuardrail") == ([guardrail[0].outputs["guardrailArn"]] if guardrail else [])


def test_nothing_on_star_but_what_the_iam_dataset_says_has_no_resource_type(built):
    _, monitor = built
    index = action_index()
    stmts = _statements(monitor)
    actions = {a for s in stmts for a in s["Action"]}
    assert all(index.expand(a) == (a.lower(),) for a in actions), "every action exists and is spelled out"
    on_star = {a for s in stmts if "*" in s["Resource"] for a in s["Action"]}
    assert on_star and not [a for a in on_star if index.resource_level(a)]
    assert not [a for a in on_star if a.split(":")[0] in ("bedrock", "bedrock-agentcore")]
    assert all(s["Effect"] == "Allow" and "NotAction" not in s and "NotResource" not in s for s in stmts)


# --- pure builders ---------------------------------------------------------------------------------
def _models(**ids):
    section = {"solomon": "amazon.nova-micro-v1:0", "caspar": "amazon.nova-micro-v1:0",
               "balthasar": "amazon.nova-micro-v1:0", "melchior": "amazon.nova-micro-v1:0", **ids}
    raw, secrets = program.stack_config("dev")
    agents = json.loads(raw["aiplatform:agents"])
    agents["models"] = section
    raw["aiplatform:agents"] = json.dumps(agents)
    return config.parse(raw, "dev", secrets).agents.models


def test_foundation_models_need_no_profile_statement():
    [stmt] = ag.model_grants(_models(), REGION, ACCOUNT_ID)
    assert list(stmt.resources) == [f"arn:aws:bedrock:{REGION}::foundation-model/amazon.nova-micro-v1:0"]


def test_a_global_profile_grants_the_regionless_model_arn_aws_documents():
    models = _models(solomon="global.anthropic.claude-sonnet-4-5-20250929-v1:0")
    direct, routed = ag.model_grants(models, REGION, ACCOUNT_ID)
    profile = f"arn:aws:bedrock:{REGION}:{ACCOUNT_ID}:inference-profile/global.anthropic.claude-sonnet-4-5-20250929-v1:0"
    assert profile in direct.resources
    assert list(routed.resources) == ["arn:aws:bedrock:::foundation-model/anthropic.claude-sonnet-4-5-20250929-v1:0",
                                      f"arn:aws:bedrock:{REGION}::foundation-model/anthropic.claude-sonnet-4-5-20250929-v1:0"]
    assert routed.conditions == {"StringEquals": {"bedrock:InferenceProfileArn": [profile]}}


def test_invocation_url_escapes_the_arn_as_one_path_segment():
    arn = f"arn:aws:bedrock-agentcore:{REGION}:{ACCOUNT_ID}:runtime/aiplatform_dev_magi-AbCdEf1234"
    url = ag.invocation_url(REGION, arn, "live")
    prefix = f"https://bedrock-agentcore.{REGION}.amazonaws.com/runtimes/"
    assert url.startswith(prefix) and url.endswith("/invocations?qualifier=live")
    segment = url[len(prefix):-len("/invocations?qualifier=live")]
    assert "/" not in segment and unquote(segment) == arn


def test_runtime_names_fit_agentcores_pattern_for_every_valid_stack_name():
    assert ag.runtime_name("prod-eu") == "aiplatform_prod_eu_magi"
    assert config.AGENTCORE_NAME_RE.fullmatch(ag.runtime_name("a" * 16))
    assert config.AGENTCORE_NAME_RE.fullmatch(ag.memory_name("a" * 16))
    assert ag.metric_name("aiplatform_dev_magi", "live") == "aiplatform_dev_magi::live"


def test_guardrail_args_follow_the_configured_strengths():
    cfg = dataclasses.replace(_cfg("prod").agents, guardrail=config.GuardrailConfig("LOW", "MEDIUM", "no"))
    args = ag.guardrail_args(cfg)
    assert args["blocked_input_messaging"] == "no"
    assert {f["type"]: f["input_strength"] for f in args["content_policy_config"]["filters_configs"]}["PROMPT_ATTACK"] == "MEDIUM"


def test_the_pack_rejects_the_design_documents_model_grants_and_passes_ours(built):
    """The design documents grant bedrock:InvokeModel (and friends) on "*"; the pack's wildcard rule
    refuses that on the same role shape, and accepts the component's own policies."""
    from policies.rules.iam import no_wildcard_resource
    from tests.policies.helpers import call

    _, monitor = built
    documents_grant = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"],
        "Resource": "*"}]})
    assert call(no_wildcard_resource, ROLE_POLICY, {"role": "r", "policy": documents_grant})
    for reg in monitor.of_type(ROLE_POLICY):
        assert reg.name in ("agents-runtime", "agents-runtime-logs")
        assert call(no_wildcard_resource, ROLE_POLICY, reg.plain_inputs) == [], reg.name


# --- alarms and dashboard (components/observability.py) -------------------------------------------
def _observability_args(stack):
    from components.observability import AgentRuntimeRef, ObservabilityArgs
    cfg = _cfg(stack)
    a = cfg.agents
    ref = AgentRuntimeRef(runtime_arn=RUNTIME_ARN, name=ag.metric_name(ag.runtime_name(stack), a.endpoint_name),
                          errors=a.alarm_errors, throttles=a.alarm_throttles, latency_p95_ms=a.alarm_latency_p95_ms)
    return ObservabilityArgs(config=cfg.observability, stack=stack, region=REGION, monthly_budget_usd=50,
                             agent_runtime=ref)


RUNTIME_ARN = f"arn:aws:bedrock-agentcore:{REGION}:{ACCOUNT_ID}:runtime/aiplatform_prod_magi-AbCdEf1234"


@pytest.mark.parametrize("stack, expected", [
    ("prod", {"agent-errors": ("SystemErrors", "Sum", 5, "notBreaching"),
              "agent-throttles": ("Throttles", "Sum", 1, "notBreaching"),
              "agent-latency-p95": ("Latency", "p95", 30000, "missing")}),
    # dev keeps only the errors alarm (its fixed-cost target).
    ("dev", {"agent-errors": ("SystemErrors", "Sum", 10, "notBreaching")}),
])
def test_runtime_alarms_watch_the_dimensions_agentcore_publishes(stack, expected):
    from components.observability import alarm_definitions, metric_alarm_args
    defs = {d.key: d for d in alarm_definitions(_observability_args(stack)) if d.key.startswith("agent-")}
    assert {k: (d.metric.metric_name, d.metric.stat, d.threshold, d.treat_missing_data) for k, d in defs.items()} == expected
    for d in defs.values():
        args = metric_alarm_args(d, "arn:aws:sns:us-east-1:123456789012:alarms")
        assert args["namespace"] == "AWS/Bedrock-AgentCore"
        assert args["dimensions"] == {"Operation": "InvokeAgentRuntime", "Resource": RUNTIME_ARN,
                                      "Name": f"aiplatform_{stack}_magi::live"}
        assert args["name"] == f"{stack}-{d.key}"


def test_dashboard_charts_the_runtime_endpoint():
    from components.observability import DashboardView, dashboard_widgets
    view = DashboardView(stack="prod", region=REGION, monthly_budget_usd=50, agent_runtime_arn=RUNTIME_ARN,
                         agent_name="aiplatform_prod_magi::live")
    [widget] = [w for w in dashboard_widgets(view) if "MAGI" in w.get("properties", {}).get("title", "")]
    metrics = widget["properties"]["metrics"]
    assert [m[1] for m in metrics] == ["Invocations", "SystemErrors", "UserErrors", "Throttles", "Latency"]
    assert all(m[0] == "AWS/Bedrock-AgentCore" and m[2:8] == ["Operation", "InvokeAgentRuntime", "Resource",
                                                             RUNTIME_ARN, "Name", "aiplatform_prod_magi::live"]
               for m in metrics)
    assert not [w for w in dashboard_widgets(DashboardView(stack="dev", region=REGION, monthly_budget_usd=5))
                if "MAGI" in w.get("properties", {}).get("title", "")]


# --- the whole program: what __main__.py wires into the runtime -------------------------------------
@pytest.fixture(scope="module", params=["dev", "prod"])
def program_run(request):
    return request.param, program.run(request.param)


def test_program_wires_the_runtime_to_this_stacks_pool_api_table_and_alarms(program_run):
    stack, run = program_run
    m = run.monitor
    runtime = _one(m, RUNTIME)
    # The identity's app client (private session editors have a load balancer client of their own).
    [client] = [c for c in m.of_type("aws:cognito/userPoolClient:UserPoolClient") if c.name != "sessions-editor"]
    pool = _one(m, "aws:cognito/userPool:UserPool")
    api = _one(m, "aws:appsync/graphQLApi:GraphQLApi")
    [usage] = [t for t in m.of_type("aws:dynamodb/table:Table") if t.name == "data-agentUsage"]
    inputs = runtime.plain_inputs
    assert inputs["authorizerConfiguration"]["customJwtAuthorizer"] == {
        "discoveryUrl": f"https://cognito-idp.{REGION}.amazonaws.com/{pool.id}/.well-known/openid-configuration",
        "allowedClients": [client.id]}
    env = inputs["environmentVariables"]
    assert env["GRAPHQL_URL"] == api.outputs["uris"]["GRAPHQL"]
    assert env["AGENT_USAGE_TABLE"] == usage.outputs["name"]
    stmts = _statements(m)
    assert _granted(stmts, "dynamodb:UpdateItem") == [usage.outputs["arn"]]
    assert _granted(stmts, "appsync:GraphQL") == [f"{api.outputs['arn']}/types/Mutation/fields/recordAgentReply"]
    # The alarms watch this runtime's endpoint and notify the stack's alarm topic.
    [topic] = [t for t in m.of_type("aws:sns/topic:Topic") if t.name == "observability-alarms"]
    alarms = [a for a in m.of_type("aws:cloudwatch/metricAlarm:MetricAlarm") if a.name.startswith("observability-agent-")]
    assert alarms and all(a.plain_inputs["dimensions"] == {
        "Operation": "InvokeAgentRuntime", "Resource": runtime.outputs["agentRuntimeArn"],
        "Name": f"aiplatform_{stack}_magi::live"} and a.plain_inputs["alarmActions"] == [topic.outputs["arn"]]
        for a in alarms)
    outputs = {k: v for k, v in run.outputs.items() if k.startswith("agent")}
    assert outputs["agentRuntimeArn"] == runtime.outputs["agentRuntimeArn"]
    assert outputs["agentAuthorizerClientId"] == client.id


def test_no_bedrock_or_agentcore_action_on_star_anywhere_in_the_stack(program_run):
    """Across every IAM document the program declares: a bedrock:* or bedrock-agentcore:* action on
    "*" only where AWS's IAM dataset lists the action without a resource type."""
    _, run = program_run
    index = action_index()
    found = []
    for reg in run.registrations:
        for key in ("policy", "assumeRolePolicy"):
            doc = reg.plain_inputs.get(key)
            if not isinstance(doc, str) or not doc.lstrip().startswith("{"):
                continue
            for s in iam.statements(doc):
                if "*" not in s.get("Resource", []):
                    continue
                for pattern in s.get("Action", []):
                    for action in index.expand(pattern) or (pattern.lower(),):
                        if action.split(":")[0] in ("bedrock", "bedrock-agentcore"):
                            found.append((reg.name, action, index.resource_level(action)))
    assert not [f for f in found if f[2]], found
