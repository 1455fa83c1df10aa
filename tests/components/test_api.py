"""Api component: wiring from app/graphql under mocks (one resolver per field, scoped data-source roles),
auth modes and API key per stack, logging, limits, and the manifest / schema checks that run before
anything is declared."""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
from datetime import datetime, timedelta, timezone

import pulumi
import pulumi_aws as aws
import pytest

from components import api, appsync_code, iam
from components import sessions as sessions_component
from components.data import Data, DataArgs
from tests.api import test_schema as schema_checks
from tests.conftest import build
from tools.mocks import ACCOUNT_ID, SECRET_SIG

USER_POOL_ID = "us-east-1_TESTPOOL1"
SESSIONS_FN_NAME = "aiplatform-dev-sessions-api"
SESSIONS_FN_ARN = f"arn:aws:lambda:us-east-1:{ACCOUNT_ID}:function:{SESSIONS_FN_NAME}"
FROZEN = datetime(2026, 3, 10, 15, 42, 7, tzinfo=timezone.utc)
MANIFEST = schema_checks.MANIFEST
API_TYPE = "aws:appsync/graphQLApi:GraphQLApi"
RESOLVER = "aws:appsync/resolver:Resolver"
FUNCTION = "aws:appsync/function:Function"
DATA_SOURCE = "aws:appsync/dataSource:DataSource"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
KEYED = {"aiplatform:api": {"fieldLogLevel": "DEBUG", "introspection": False, "queryDepthLimit": 7,
                            "resolverCountLimit": 200, "xray": False,
                            "apiKey": {"enabled": True, "expiresInDays": 30}}}


def _api(cfg, opts, **extra):
    data = Data("data", DataArgs(config=cfg.data, region=cfg.region), opts)
    component = api.Api("api", api.ApiArgs(
        config=cfg.api, region=cfg.region, log_retention_days=cfg.log_retention_days, user_pool_id=USER_POOL_ID,
        tables=data.tables, sessions_function_arn=SESSIONS_FN_ARN, sessions_function_name=SESSIONS_FN_NAME,
        clock=lambda: FROZEN, **extra), opts)
    # What the publisher roles get (the sessions task-state role; the agent runtime's role).
    aws.iam.RolePolicy("publisher", role="sessions-task-state",
                       policy=iam.document(component.bundle.publish_statements("Mutation.publishSessionUpdate")),
                       opts=opts)
    aws.iam.RolePolicy("agent-publisher", role="agent-runtime",
                       policy=iam.document(component.bundle.publish_statements("Mutation.recordAgentReply")),
                       opts=opts)
    return component


@pytest.fixture(scope="module")
def dev():
    return build(_api, "dev")[0]


@pytest.fixture(scope="module")
def prod():
    return build(_api, "prod")[0]


@pytest.fixture(scope="module")
def keyed():
    return build(_api, "dev", overrides=KEYED)[0]


def _graphql_api(monitor):
    [reg] = monitor.of_type(API_TYPE)
    return reg


def _by_name(monitor, type_):
    return {r.name: r for r in monitor.of_type(type_)}


def _policy_of(monitor, role_reg):
    role_id = role_reg.id
    policies = [r for r in monitor.of_type(ROLE_POLICY) if r.plain_inputs["role"] == role_id]
    assert len(policies) == 1, f"{role_reg.name} should carry exactly one inline policy"
    return iam.statements(policies[0].plain_inputs["policy"])


def _table_arns(monitor):
    return {r.name.split("-", 1)[1]: r.outputs["arn"] for r in monitor.of_type("aws:dynamodb/table:Table")}


def _table_names(monitor):
    return {r.name.split("-", 1)[1]: r.outputs["name"] for r in monitor.of_type("aws:dynamodb/table:Table")}


# ---------------------------------------------------------------------------------------------
# Schema vs. resolvers, cross-checked with graphql-core on what AppSync receives
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("stack", ["dev", "prod", "keyed"])
def test_every_root_field_has_exactly_one_resolver(stack, request):
    monitor = request.getfixturevalue(stack)
    schema = schema_checks.build(_graphql_api(monitor).plain_inputs["schema"])
    resolvers = [(r.plain_inputs["type"], r.plain_inputs["field"]) for r in monitor.of_type(RESOLVER)]
    roots = [(root, name) for root, _, name in schema_checks.root_fields(schema)]
    assert len(roots) == 26
    for root in roots:
        assert resolvers.count(root) == 1, f"{root[0]}.{root[1]} has {resolvers.count(root)} resolvers"
    assert sorted(resolvers) == sorted(roots), "a resolver targets a field that is not a root field"


def _assert_bundled(code: str, file: str) -> None:
    """``code`` is the bundle of ``file``: one self-contained module within AppSync's size limit."""
    assert code == appsync_code.bundle(schema_checks.RESOLVERS / file, root=schema_checks.RESOLVERS), file
    assert re.findall(r"^import .*$", code, re.M) in ([], ["import { util } from '@aws-appsync/utils';"],
                                                    ["import { util, extensions } from '@aws-appsync/utils';"]), file
    assert not re.search(r"""from\s*['"]\.""", code), f"{file}: a relative import is left"
    assert len(code.encode()) <= api.MAX_CODE_BYTES, file


def test_resolvers_and_functions_run_the_bundled_files_from_disk_on_appsync_js(dev):
    runtime = {"name": "APPSYNC_JS", "runtimeVersion": "1.0.0"}
    resolvers = {(r.plain_inputs["type"], r.plain_inputs["field"]): r.plain_inputs for r in dev.of_type(RESOLVER)}
    inlined = set()
    for entry in MANIFEST["resolvers"]:
        inputs = resolvers[(entry["typeName"], entry["fieldName"])]
        assert inputs["runtime"] == runtime
        _assert_bundled(inputs["code"], entry["file"])
        assert inputs["kind"] == entry["kind"]
        if inputs["code"] != (schema_checks.RESOLVERS / entry["file"]).read_text():
            inlined.add(entry["file"])
    functions = {r.plain_inputs["name"]: r.plain_inputs for r in dev.of_type(FUNCTION)}
    assert set(functions) == {f["name"] for f in MANIFEST["functions"]}
    for entry in MANIFEST["functions"]:
        assert functions[entry["name"]]["runtime"] == runtime
        # Batch code gets its table's name for TABLE_TOKEN (test_batch_code_gets_...); compare as written.
        tables = {r.outputs["name"] for r in dev.of_type("aws:dynamodb/table:Table")}
        code = functions[entry["name"]]["code"]
        for table in tables:
            code = code.replace(f"'{table}'", f"'{api.TABLE_TOKEN}'")
        _assert_bundled(code, entry["file"])
        assert functions[entry["name"]]["dataSource"] == entry["dataSource"]
    # The check bites: most resolvers import lib/ helpers, and what is sent is not the file as written.
    assert {"Query.getUser.js", "Mutation.updateAgentPreset.js", "sessionsLambda.js"} <= inlined
    assert "function isAdmin(ctx)" in resolvers[("Query", "getConversation")]["code"]


def test_unit_resolvers_name_their_data_source_and_pipelines_their_functions_in_order(dev):
    resolvers = {(r.plain_inputs["type"], r.plain_inputs["field"]): r.plain_inputs for r in dev.of_type(RESOLVER)}
    function_ids = {r.plain_inputs["name"]: r.outputs["functionId"] for r in dev.of_type(FUNCTION)}
    pipelines = 0
    for entry in MANIFEST["resolvers"]:
        inputs = resolvers[(entry["typeName"], entry["fieldName"])]
        if entry["kind"] == "UNIT":
            assert inputs["dataSource"] == entry["dataSource"] and "pipelineConfig" not in inputs
        else:
            pipelines += 1
            assert "dataSource" not in inputs
            assert inputs["pipelineConfig"]["functions"] == [function_ids[f] for f in entry["functions"]]
    assert pipelines == 3


# ---------------------------------------------------------------------------------------------
# Auth modes and the API key
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("stack,additional", [("dev", ["AWS_IAM"]), ("prod", ["AWS_IAM"]),
                                              ("keyed", ["AWS_IAM", "API_KEY"])])
def test_auth_modes_per_stack_with_user_pools_as_default(stack, additional, request):
    monitor = request.getfixturevalue(stack)
    inputs = _graphql_api(monitor).plain_inputs
    assert inputs["authenticationType"] == "AMAZON_COGNITO_USER_POOLS"
    assert [p["authenticationType"] for p in inputs["additionalAuthenticationProviders"]] == additional
    # With additional modes AppSync insists on ALLOW.
    assert inputs["userPoolConfig"] == {"userPoolId": USER_POOL_ID, "awsRegion": "us-east-1", "defaultAction": "ALLOW"}
    outputs = monitor.of_type(api.TYPE)[0].outputs
    assert outputs["defaultAuthMode"] == "AMAZON_COGNITO_USER_POOLS"
    assert outputs["authModes"] == ["AMAZON_COGNITO_USER_POOLS", *additional]


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_without_api_key_there_is_no_key_and_no_api_key_directive(stack, request):
    monitor = request.getfixturevalue(stack)
    assert not monitor.of_type("aws:appsync/apiKey:ApiKey")
    text = _graphql_api(monitor).plain_inputs["schema"]
    assert "@aws_api_key" not in text
    # The other directives survive the stripping; only the token went.
    assert text == schema_checks.SCHEMA_TEXT.replace("@aws_api_key", "")
    schema = schema_checks.build(text)
    assert schema_checks.field_modes(schema.get_type("Query"), "listPublicAgentPresets") == {"AMAZON_COGNITO_USER_POOLS"}
    outputs = monitor.of_type(api.TYPE)[0].outputs
    assert outputs.get("apiKey") is None and outputs.get("apiKeyExpires") is None


def test_enabled_api_key_reaches_only_the_public_fields_and_expires_within_30_days(keyed):
    [key] = keyed.of_type("aws:appsync/apiKey:ApiKey")
    expires = key.plain_inputs["expires"]
    assert expires == api.api_key_expiry(FROZEN, 30)
    ahead = datetime.fromisoformat(expires.replace("Z", "+00:00")) - FROZEN
    assert timedelta(days=15) < ahead <= timedelta(days=30)
    assert key.plain_inputs["apiId"] == _graphql_api(keyed).id
    schema = schema_checks.build(_graphql_api(keyed).plain_inputs["schema"])
    public = sorted(f"{root}.{name}" for root, t, name in schema_checks.root_fields(schema)
                    if "API_KEY" in schema_checks.field_modes(t, name))
    assert public == MANIFEST["auth"]["apiKey"]["fields"]
    outputs = keyed.of_type(api.TYPE)[0].outputs
    assert outputs["apiKey"][SECRET_SIG], "the key must leave the component as a secret"
    assert outputs["apiKeyExpires"] == expires


@pytest.mark.parametrize("days", [3, 4, 7, 14, 29, 30])
def test_api_key_expiry_moves_only_per_window_and_stays_in_aws_bounds(days):
    start = datetime(2025, 12, 30, 0, 0, tzinfo=timezone.utc)
    seen = []
    for hour in range(0, 24 * 90, 1):
        now = start + timedelta(hours=hour, minutes=37)
        expires = datetime.fromisoformat(api.api_key_expiry(now, days).replace("Z", "+00:00"))
        ahead = expires - now
        # AWS: at least one day ahead at update time (a margin of more than a day for the deploy itself),
        # and never more than the configured lifetime.
        assert timedelta(days=days - days // 2) < ahead <= timedelta(days=days), (now, expires)
        assert expires.hour == expires.minute == expires.second == 0
        if not seen or seen[-1] != expires:
            seen.append(expires)
    # 90 days of hourly deploys move the expiry once per window (by one window), not once per deploy.
    window = timedelta(days=days // 2)
    assert all(later - earlier == window for earlier, later in zip(seen, seen[1:]))
    assert len(seen) <= -(-90 // (days // 2)) + 1


def test_api_key_expiry_is_a_pure_function_of_the_clock():
    assert api.api_key_expiry(datetime(2026, 3, 10, 15, 42, tzinfo=timezone.utc), 30) == \
        api.api_key_expiry(datetime(2026, 3, 10, 23, 59, tzinfo=timezone.utc), 30)
    # Non-UTC clocks give the same instant's answer.
    tokyo = timezone(timedelta(hours=9))
    assert api.api_key_expiry(datetime(2026, 3, 11, 0, 42, tzinfo=tokyo), 30) == \
        api.api_key_expiry(datetime(2026, 3, 10, 15, 42, tzinfo=timezone.utc), 30)
    with pytest.raises(ValueError, match="timezone-aware"):
        api.api_key_expiry(datetime(2026, 3, 10), 30)
    with pytest.raises(ValueError, match="expiresInDays must be between 3 and 30, got 31"):
        api.api_key_expiry(FROZEN, 31)


# ---------------------------------------------------------------------------------------------
# Introspection, limits, X-Ray, logging
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("stack,introspection,depth,count,xray", [
    ("dev", "ENABLED", 10, 1000, True), ("prod", "DISABLED", 10, 1000, True), ("keyed", "DISABLED", 7, 200, False)])
def test_introspection_limits_and_xray_follow_config(stack, introspection, depth, count, xray, request):
    inputs = _graphql_api(request.getfixturevalue(stack)).plain_inputs
    assert inputs["introspectionConfig"] == introspection
    assert inputs["queryDepthLimit"] == depth
    assert inputs["resolverCountLimit"] == count
    assert inputs.get("xrayEnabled", False) is xray


@pytest.mark.parametrize("stack,level,retention", [("dev", "ERROR", 14), ("prod", "ERROR", 90), ("keyed", "DEBUG", 14)])
def test_logging_to_the_apis_own_group_with_retention_and_a_scoped_role(stack, level, retention, request):
    monitor = request.getfixturevalue(stack)
    graphql = _graphql_api(monitor)
    roles = _by_name(monitor, ROLE)
    log_role = roles["api-logs"]
    assert graphql.plain_inputs["logConfig"] == {
        "cloudwatchLogsRoleArn": log_role.outputs["arn"], "fieldLogLevel": level, "excludeVerboseContent": True}
    [group] = monitor.of_type("aws:cloudwatch/logGroup:LogGroup")
    assert group.plain_inputs["name"] == f"/aws/appsync/apis/{graphql.id}"
    assert group.plain_inputs["retentionInDays"] == retention
    group_arn = group.outputs["arn"]
    grants = {(tuple(s["Action"]), tuple(s["Resource"])) for s in _policy_of(monitor, log_role)}
    assert grants == {(("logs:CreateLogGroup",), (group_arn,)),
                      (("logs:CreateLogStream", "logs:PutLogEvents"), (f"{group_arn}:log-stream:*",))}
    [trust] = iam.statements(log_role.plain_inputs["assumeRolePolicy"])
    assert trust["Principal"] == {"Service": "appsync.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT_ID},
                                  "ArnLike": {"aws:SourceArn": f"arn:aws:appsync:us-east-1:{ACCOUNT_ID}:apis/*"}}


# ---------------------------------------------------------------------------------------------
# Data sources and their roles
# ---------------------------------------------------------------------------------------------
def _expected_grants(spec, table_arn):
    grants = {(tuple(sorted(spec["tableActions"])), (table_arn,))}
    for index, actions in spec["indexes"].items():
        grants.add((tuple(sorted(actions)), (f"{table_arn}/index/{index}",)))
    return grants


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_each_dynamodb_data_source_has_its_own_role_with_exactly_the_manifest_grants(stack, request):
    monitor = request.getfixturevalue(stack)
    graphql = _graphql_api(monitor)
    sources = {r.plain_inputs["name"]: r.plain_inputs for r in monitor.of_type(DATA_SOURCE)}
    roles = _by_name(monitor, ROLE)
    table_arns, table_names = _table_arns(monitor), _table_names(monitor)
    dynamo = {n: s for n, s in MANIFEST["dataSources"].items() if s["type"] == "AMAZON_DYNAMODB"}
    assert dynamo, "the manifest declares DynamoDB data sources"
    role_arns = set()
    for name, spec in dynamo.items():
        ds = sources[name]
        role = roles[f"api-ds-{name}"]
        assert ds["type"] == "AMAZON_DYNAMODB"
        assert ds["dynamodbConfig"]["tableName"] == table_names[spec["table"]]
        assert ds["dynamodbConfig"]["region"] == "us-east-1"
        assert ds["serviceRoleArn"] == role.outputs["arn"]
        role_arns.add(role.outputs["arn"])
        statements = _policy_of(monitor, role)
        granted = {(tuple(sorted(s["Action"])), tuple(s["Resource"])) for s in statements}
        assert granted == _expected_grants(spec, table_arns[spec["table"]]), name
        resources = [r for s in statements for r in s["Resource"]]
        assert not any("*" in r for r in resources) and all(s["Effect"] == "Allow" for s in statements)
        [trust] = iam.statements(role.plain_inputs["assumeRolePolicy"])
        assert trust["Principal"] == {"Service": "appsync.amazonaws.com"}
        assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT_ID},
                                      "ArnLike": {"aws:SourceArn": graphql.outputs["arn"]}}
    assert len(role_arns) == len(dynamo)


def test_lambda_data_source_invokes_only_the_sessions_function_and_is_admitted_by_this_api(dev):
    graphql = _graphql_api(dev)
    [lam] = [r.plain_inputs for r in dev.of_type(DATA_SOURCE) if r.plain_inputs["type"] == "AWS_LAMBDA"]
    assert lam["name"] == "sessionsLambda"
    assert lam["lambdaConfig"] == {"functionArn": SESSIONS_FN_ARN}
    role = _by_name(dev, ROLE)["api-ds-sessionsLambda"]
    assert lam["serviceRoleArn"] == role.outputs["arn"]
    [stmt] = _policy_of(dev, role)
    assert (stmt["Action"], stmt["Resource"]) == (["lambda:InvokeFunction"], [SESSIONS_FN_ARN])
    [permission] = dev.of_type("aws:lambda/permission:Permission")
    p = permission.plain_inputs
    assert (p["action"], p["function"], p["principal"]) == ("lambda:InvokeFunction", SESSIONS_FN_NAME,
                                                            "appsync.amazonaws.com")
    assert p["sourceArn"] == graphql.outputs["arn"] and p["sourceAccount"] == ACCOUNT_ID


def test_none_data_source_serves_local_resolvers_without_a_role(dev):
    [none] = [r.plain_inputs for r in dev.of_type(DATA_SOURCE) if r.plain_inputs["type"] == "NONE"]
    assert "serviceRoleArn" not in none
    local = {f"{e['typeName']}.{e['fieldName']}" for e in MANIFEST["resolvers"] if e.get("dataSource") == none["name"]}
    assert "Mutation.publishSessionUpdate" in local and "Subscription.onSessionUpdated" in local


def test_data_sources_wait_for_their_grants(dev):
    policies = {r.name: r.urn for r in dev.of_type(ROLE_POLICY)}
    for reg in dev.of_type(DATA_SOURCE):
        name = reg.plain_inputs["name"]
        if reg.plain_inputs["type"] != "NONE":
            assert policies[f"api-ds-{name}"] in reg.dependencies, name


def test_publish_grant_is_appsync_graphql_on_exactly_the_iam_publisher_field(dev):
    graphql = _graphql_api(dev)
    statements = iam.statements(_by_name(dev, ROLE_POLICY)["publisher"].plain_inputs["policy"])
    arn = graphql.outputs["arn"]
    assert statements == [{"Sid": "PublishToApi", "Effect": "Allow", "Action": ["appsync:GraphQL"],
                           "Resource": [f"{arn}/types/Mutation/fields/publishSessionUpdate"]}]
    # The Sessions component grants the same field by its own constant: both must name one field.
    assert [f"{arn}/{sessions_component.PUBLISH_FIELD}"] == statements[0]["Resource"]
    assert [p["field"] for p in MANIFEST["auth"]["iamPublishers"]] == ["Mutation.publishSessionUpdate",
                                                                       "Mutation.reportSessionActivity",
                                                                       "Mutation.recordAgentReply"]
    agent = iam.statements(_by_name(dev, ROLE_POLICY)["agent-publisher"].plain_inputs["policy"])
    assert agent == [{"Sid": "PublishToApi", "Effect": "Allow", "Action": ["appsync:GraphQL"],
                      "Resource": [f"{arn}/types/Mutation/fields/recordAgentReply"]}]


def test_publish_grant_names_one_iam_publisher_field_only():
    bundle = api.ApiBundle(api_id="id", arn="arn:api", graphql_url="u", realtime_url="r",
                           default_auth_mode="AMAZON_COGNITO_USER_POOLS", auth_modes=(), log_group_name="g",
                           publish_fields=("Mutation.publishSessionUpdate", "Mutation.recordAgentReply"))
    with pytest.raises(api.WiringError, match="Mutation.createMessage is not an IAM publisher field"):
        bundle.publish_statements("Mutation.createMessage")


def test_batch_code_gets_its_data_sources_physical_table_name(dev):
    functions = {r.plain_inputs["name"]: r.plain_inputs for r in dev.of_type(FUNCTION)}
    tables = {r.name: r for r in dev.of_type("aws:dynamodb/table:Table")}
    code = functions["putTraceSteps"]["code"]
    table_name = tables["data-traceSteps"].outputs["name"]
    assert api.TABLE_TOKEN not in code and f"const TABLE = '{table_name}';" in code
    source = appsync_code.bundle(schema_checks.RESOLVERS / "functions/putTraceSteps.js", root=schema_checks.RESOLVERS)
    assert code == source.replace(api.TABLE_TOKEN, table_name)


def test_the_table_token_is_refused_where_no_table_replaces_it(graphql_copy):
    path, _ = graphql_copy
    target = path.parent / "Mutation.publishSessionUpdate.js"
    target.write_text(target.read_text() + f"\nexport const T = '{api.TABLE_TOKEN}';\n")
    with pytest.raises(api.WiringError, match="resolvers Mutation.publishSessionUpdate uses __DATA_SOURCE_TABLE__"):
        api.load_wiring(path)


# ---------------------------------------------------------------------------------------------
# Component shape
# ---------------------------------------------------------------------------------------------
def test_every_child_is_parented_to_the_component(keyed):
    component = keyed.of_type(api.TYPE)[0]
    data_urns = {r.urn for r in keyed.registrations.values() if r.type.startswith("aiplatform:data:")
                 or r.type == "aws:dynamodb/table:Table"}
    children = [r for r in keyed.registrations.values()
                if r.urn not in data_urns and r.type not in (api.TYPE, "pulumi:providers:aws")
                and r.name not in ("publisher", "agent-publisher")]
    assert len(children) > 40
    for reg in children:
        assert reg.parent == component.urn, reg.urn
        assert reg.urn.split("::")[2].startswith(f"{api.TYPE}$")


def test_outputs_are_registered(dev):
    graphql = _graphql_api(dev)
    outputs = dev.of_type(api.TYPE)[0].outputs
    assert outputs["apiId"] == graphql.id and outputs["arn"] == graphql.outputs["arn"]
    assert outputs["graphqlUrl"] == graphql.outputs["uris"]["GRAPHQL"]
    assert outputs["realtimeUrl"] == graphql.outputs["uris"]["REALTIME"]
    assert outputs["logGroupName"] == f"/aws/appsync/apis/{graphql.id}"
    assert graphql.plain_inputs["name"] == "aiplatform_dev_api"


def test_the_sessions_function_may_come_later_through_a_deferred_output():
    """The sessions Lambdas need the API's URL and the API needs the function: no resource cycle."""
    def program(cfg, opts):
        arn, resolve_arn = pulumi.deferred_output()
        name, resolve_name = pulumi.deferred_output()
        data = Data("data", DataArgs(config=cfg.data, region=cfg.region), opts)
        component = api.Api("api", api.ApiArgs(
            config=cfg.api, region=cfg.region, log_retention_days=cfg.log_retention_days, user_pool_id=USER_POOL_ID,
            tables=data.tables, sessions_function_arn=arn, sessions_function_name=name), opts)
        fn = aws.lambda_.Function(
            "sessions-api", role=f"arn:aws:iam::{ACCOUNT_ID}:role/sessions-api", runtime="python3.12",
            handler="sessions.handlers.api", code=pulumi.AssetArchive({}),
            environment=aws.lambda_.FunctionEnvironmentArgs(variables={"GRAPHQL_URL": component.bundle.graphql_url}),
            opts=opts)
        resolve_arn(fn.arn)
        resolve_name(fn.name)

    monitor, _ = build(program, "dev")
    fn = _by_name(monitor, "aws:lambda/function:Function")["sessions-api"]
    [lam] = [r.plain_inputs for r in monitor.of_type(DATA_SOURCE) if r.plain_inputs["type"] == "AWS_LAMBDA"]
    assert lam["lambdaConfig"]["functionArn"] == fn.outputs["arn"]
    assert fn.plain_inputs["environment"]["variables"]["GRAPHQL_URL"].startswith("https://")


# ---------------------------------------------------------------------------------------------
# Manifest, schema and argument checks (before anything is declared)
# ---------------------------------------------------------------------------------------------
@pytest.fixture
def graphql_copy(tmp_path):
    """A writable copy of app/graphql; returns (manifest path, load/save helpers)."""
    root = tmp_path / "graphql"
    shutil.copytree(schema_checks.GRAPHQL / "resolvers", root / "resolvers")
    shutil.copy(schema_checks.GRAPHQL / "schema.graphql", root / "schema.graphql")
    path = root / "resolvers" / "manifest.json"

    def edit(change):
        data = json.loads(path.read_text())
        change(data)
        path.write_text(json.dumps(data))
        return path

    return path, edit


def _resolver(data, field):
    type_name, field_name = field.split(".")
    return next(r for r in data["resolvers"] if (r["typeName"], r["fieldName"]) == (type_name, field_name))


BAD_MANIFESTS = [
    (lambda d: d["resolvers"].remove(_resolver(d, "Query.getUser")), "no resolver for Query.getUser"),
    (lambda d: d["resolvers"].append(dict(_resolver(d, "Query.getUser"))), "second resolver for Query.getUser"),
    (lambda d: d["resolvers"].append(dict(_resolver(d, "Query.getUser"), fieldName="getUsers")),
     "resolvers for Query.getUsers, which ../schema.graphql does not define"),
    (lambda d: _resolver(d, "Query.getUser").update(dataSource="usersTable"),
     "resolvers[0].dataSource 'usersTable' is not a data source"),
    (lambda d: _resolver(d, "Query.listMessages").update(functions=["authorizeConversationRead", "nope"]),
     "functions names nope, not declared in functions"),
    (lambda d: _resolver(d, "Query.listMessages").update(dataSource="messages"),
     "dataSource does not apply to PIPELINE resolvers"),
    (lambda d: _resolver(d, "Query.getUser").update(file="../../schema.graphql"), "points outside"),
    (lambda d: _resolver(d, "Query.getUser").update(file="Query.missing.js"), "'Query.missing.js', which does not exist"),
    (lambda d: d["dataSources"]["users"]["indexes"].update(byEmail=["dynamodb:GetItem"]),
     "dataSources.users.indexes.byEmail must grant dynamodb:Query or dynamodb:Scan only"),
    (lambda d: d["dataSources"]["users"].update(tableActions=["dynamodb:*"]), "must hold dynamodb:<Action> names"),
    (lambda d: d["dataSources"].update({"users-table": d["dataSources"].pop("users")}),
     "dataSources.users-table must match [_A-Za-z][_0-9A-Za-z]*"),
    (lambda d: d["dataSources"]["sessionsLambda"].update(actions=["lambda:*"]),
     "dataSources.sessionsLambda.actions must be ['lambda:InvokeFunction']"),
    (lambda d: d.update(runtime={"name": "APPSYNC_JS", "runtimeVersion": "2.0.0"}), "runtime must be"),
    (lambda d: d["auth"].update(default="API_KEY"), "auth.default must be AMAZON_COGNITO_USER_POOLS"),
    (lambda d: d["auth"].update(additional=["AWS_IAM", "API_KEY"]), "auth.additional must not list API_KEY"),
    (lambda d: d["auth"]["apiKey"].update(fields=["Query.listPublicAgentPresets", "Query.getAgentPreset"]),
     "but ../schema.graphql marks fields ['Query.listPublicAgentPresets']"),
    (lambda d: d["auth"]["iamPublishers"][0].update(field="Mutation.startSession"),
     "names Mutation.startSession, but ../schema.graphql does not allow @aws_iam on it"),
    (lambda d: d.update(version=2), "version must be 1"),
]


@pytest.mark.parametrize("change,message", BAD_MANIFESTS, ids=[m[:50] for _, m in BAD_MANIFESTS])
def test_bad_manifest_fails_with_specific_message(graphql_copy, change, message):
    _, edit = graphql_copy
    with pytest.raises(api.WiringError) as err:
        api.load_wiring(edit(change))
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_resolver_code_over_32_kb_is_refused_at_build_time(graphql_copy):
    path, _ = graphql_copy
    target = path.parent / "Query.getUser.js"
    target.write_text(target.read_text() + "\n// " + "x" * api.MAX_CODE_BYTES)
    with pytest.raises(api.WiringError, match=r"'Query.getUser.js' bundles to \d+ bytes; AppSync accepts at most 32768"):
        api.load_wiring(path)


def test_the_size_limit_applies_to_the_bundle_not_the_file(graphql_copy):
    """Each file stays small, but a large lib module makes every bundle importing it too big."""
    path, _ = graphql_copy
    lib = path.parent / "lib" / "pages.js"
    lib.write_text(lib.read_text() + "\n// " + "x" * (api.MAX_CODE_BYTES - 2000))
    assert all(len(f.read_bytes()) <= api.MAX_CODE_BYTES for f in path.parent.rglob("*.js"))
    with pytest.raises(api.WiringError, match=r"functions\[1\] 'functions/queryMessages.js' bundles to \d+ bytes; "
                                              r"AppSync accepts at most 32768"):
        api.load_wiring(path)


def test_code_that_cannot_be_bundled_is_refused_with_the_entry_and_the_reason(graphql_copy):
    path, _ = graphql_copy
    target = path.parent / "Query.getUser.js"
    target.write_text(target.read_text().replace("import { selfOrAdmin }", "import { selfOrAdmin, ownerOf }"))
    with pytest.raises(api.WiringError) as err:
        api.load_wiring(path)
    assert str(err.value) == ("manifest.json: resolvers[0] 'Query.getUser.js' cannot be bundled for AppSync: "
                              "Query.getUser.js:2: imports ownerOf from lib/auth.js, which does not export it "
                              "(exports: callerSub, groups, isAdmin, requireIamRole, selfOrAdmin)")


def test_schema_that_does_not_parse_is_refused(graphql_copy):
    path, _ = graphql_copy
    (path.parent.parent / "schema.graphql").write_text("type Query { broken(: Int }")
    with pytest.raises(api.WiringError, match=r"\.\./schema\.graphql does not parse"):
        api.load_wiring(path)


@pytest.mark.parametrize("old,new,message", [
    ('mutations: ["createMessage", "recordAgentReply"]', 'mutations: ["createMessage", "createConversation"]',
     "Subscription.onMessageCreated subscribes to createConversation, which must be a mutation returning Message "
     "(got Conversation)"),
    ('mutations: ["createMessage", "recordAgentReply"]', 'mutations: ["postMessage"]', "got no such mutation"),
])
def test_subscriptions_must_follow_mutations_of_their_type(graphql_copy, old, new, message):
    path, _ = graphql_copy
    schema = path.parent.parent / "schema.graphql"
    assert old in schema.read_text()
    schema.write_text(schema.read_text().replace(old, new))
    with pytest.raises(api.WiringError) as err:
        api.load_wiring(path)
    assert message in str(err.value)


def test_the_shipped_manifest_loads():
    wiring = api.load_wiring()
    assert len(wiring.resolvers) == len(MANIFEST["resolvers"])
    assert wiring.iam_publishers == ("Mutation.publishSessionUpdate", "Mutation.reportSessionActivity",
                                     "Mutation.recordAgentReply")


def test_api_key_directive_is_stripped_only_as_a_whole_token():
    wiring = dataclasses.replace(api.load_wiring(), schema="type Q @aws_api_key @aws_api_keys { a: Int @aws_api_key }")
    assert api.deployed_schema(wiring, False) == "type Q  @aws_api_keys { a: Int  }"
    assert api.deployed_schema(wiring, True) == wiring.schema
    with pytest.raises(api.WiringError, match="marks no field as public"):
        api.deployed_schema(dataclasses.replace(wiring, api_key_fields=()), True)


class _Table:
    def __init__(self, key, index_names=()):
        self.name = f"{key}-table"
        self.arn = f"arn:aws:dynamodb:us-east-1:{ACCOUNT_ID}:table/{key}"
        self.index_names = index_names


def _args(tables):
    from components import config
    cfg = config.ApiConfig(field_log_level="ERROR", introspection=False)
    return api.ApiArgs(config=cfg, region="us-east-1", log_retention_days=14, user_pool_id=USER_POOL_ID,
                       tables=tables, sessions_function_arn=SESSIONS_FN_ARN, sessions_function_name=SESSIONS_FN_NAME)


def test_args_must_provide_every_table_and_index_the_manifest_uses():
    wiring = api.load_wiring()
    indexes = {"users": ("byEmail",), "conversations": ("byOwner",), "messages": (),
               "agentPresets": ("byOwner", "byVisibility"), "traceSteps": ()}
    full = {k: _Table(k, v) for k, v in indexes.items()}
    api.validate("api", _args(full), wiring)
    without = {k: v for k, v in full.items() if k != "messages"}
    with pytest.raises(ValueError, match="ApiArgs.tables has no 'messages' table, which data source messages uses"):
        api.validate("api", _args(without), wiring)
    renamed = dict(full, agentPresets=_Table("agentPresets", ("byOwner",)))
    with pytest.raises(ValueError, match="data source agentPresets: table agentPresets has no index byVisibility"):
        api.validate("api", _args(renamed), wiring)
    with pytest.raises(ValueError, match="Api component name .* is too long"):
        api.validate("a" * 50, _args(full), wiring)
