"""The AppSync schema (app/graphql/schema.graphql) and its wiring manifest (resolvers/manifest.json).

graphql-core validates the SDL with AppSync's built-in scalars and directives declared in a prelude
(appsync_prelude.py: AppSync provides them itself, so the schema must not declare them). The manifest is
what the API component builds data sources, IAM roles and resolvers from, so it is checked against the
schema, the files on disk, the shared data model and botocore's DynamoDB operation list.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path

import botocore.session
import pytest
from graphql import (
    GraphQLInputObjectType,
    GraphQLObjectType,
    GraphQLSchema,
    build_ast_schema,
    execute_sync,
    get_named_type,
    is_non_null_type,
    parse,
    validate,
)

from app.sessions import publisher as sessions_publisher
from app.sessions import service as sessions_service

from .appsync_prelude import build_appsync_schema

ROOT = Path(__file__).resolve().parents[2]
GRAPHQL = ROOT / "app" / "graphql"
RESOLVERS = GRAPHQL / "resolvers"
SCHEMA_TEXT = (GRAPHQL / "schema.graphql").read_text()
MANIFEST = json.loads((RESOLVERS / "manifest.json").read_text())
TABLES = {k: v for k, v in json.loads((GRAPHQL / "tests" / "tables.json").read_text()).items() if not k.startswith("_")}

AUTH_DIRECTIVES = {
    "aws_cognito_user_pools": "AMAZON_COGNITO_USER_POOLS",
    "aws_iam": "AWS_IAM",
    "aws_api_key": "API_KEY",
    "aws_oidc": "OPENID_CONNECT",
    "aws_lambda": "AWS_LAMBDA",
}
DEFAULT_MODE = MANIFEST["auth"]["default"]
ROOTS = ("Query", "Mutation", "Subscription")


def build(text: str) -> GraphQLSchema:
    return build_appsync_schema(text)


@lru_cache(maxsize=1)
def schema() -> GraphQLSchema:
    return build(SCHEMA_TEXT)


def without_api_key(text: str) -> str:
    """What the component deploys when the stack does not enable an API key (manifest auth.apiKey)."""
    return text.replace(MANIFEST["auth"]["apiKey"]["directive"], "")


def directives(node) -> dict[str, dict]:
    """{directive name: {argument: python value}} of an AST node (type or field definition)."""
    out = {}
    for d in (node.directives or []) if node else []:
        args = {}
        for a in d.arguments or ():
            value = a.value
            args[a.name.value] = [v.value for v in value.values] if hasattr(value, "values") else value.value
        out[d.name.value] = args
    return out


def type_modes(t: GraphQLObjectType) -> set[str]:
    modes = {AUTH_DIRECTIVES[d] for d in directives(t.ast_node) if d in AUTH_DIRECTIVES}
    return modes or {DEFAULT_MODE}


def field_modes(parent: GraphQLObjectType, name: str) -> set[str]:
    modes = {AUTH_DIRECTIVES[d] for d in directives(parent.fields[name].ast_node) if d in AUTH_DIRECTIVES}
    return modes or type_modes(parent)


def root_fields(s: GraphQLSchema):
    for root in ROOTS:
        t = s.get_type(root)
        for name in t.fields:
            yield root, t, name


def reachable_objects(t) -> set[str]:
    seen: set[str] = set()
    stack = [get_named_type(t)]
    while stack:
        named = stack.pop()
        if isinstance(named, GraphQLObjectType) and named.name not in seen:
            seen.add(named.name)
            stack.extend(get_named_type(f.type) for f in named.fields.values())
    return seen


# ---------------------------------------------------------------------------------------------
# Schema
# ---------------------------------------------------------------------------------------------
def test_schema_parses_and_validates_with_appsync_prelude():
    s = schema()
    assert {"Query", "Mutation", "Subscription"} <= set(s.type_map)
    assert s.query_type.name == "Query" and s.subscription_type.name == "Subscription"


def test_schema_does_not_declare_appsync_builtins():
    # AppSync rejects a schema that redefines its own scalars or directives.
    assert not re.search(r"^\s*scalar\s+AWS", SCHEMA_TEXT, re.M)
    assert not re.search(r"^\s*directive\s+@aws_", SCHEMA_TEXT, re.M)


def test_prelude_is_required_so_the_validation_is_real():
    with pytest.raises(Exception, match="AWSDateTime"):
        build_ast_schema(parse(SCHEMA_TEXT))


def test_models_carry_the_shared_data_model_fields():
    s = schema()
    expected = {
        "User": {"id", "email", "displayName", "role", "createdAt", "updatedAt"},
        "Session": {"id", "owner", "status", "taskArn", "capacityProvider", "editorUrl", "sizePreset",
                    "repositoryUrl", "createdAt", "updatedAt", "startedAt", "stoppedAt", "expiresAt",
                    "failureReason", "stopReason", "interruptions", "editorPassword"},
        "Conversation": {"id", "owner", "title", "agentPresetId", "status", "metadata", "createdAt", "updatedAt"},
        "Message": {"id", "conversationId", "owner", "role", "content", "agentResponses", "judgeResponse",
                    "traceId", "executionTimeMs", "createdAt", "updatedAt"},
        "AgentPreset": {"id", "owner", "name", "description", "configs", "isDefault", "visibility", "tags",
                        "createdAt", "updatedAt"},
        # The documents' TraceStep, plus the conversation and owner it belongs to (owner auth).
        "TraceStep": {"id", "messageId", "conversationId", "owner", "traceId", "stepNumber", "agentId", "action",
                      "toolsUsed", "citations", "duration", "errorCount", "metadata", "timestamp"},
    }
    for name, fields in expected.items():
        assert set(s.get_type(name).fields) == fields, name
    named = lambda t, f: get_named_type(s.get_type(t).fields[f].type).name  # noqa: E731
    assert [named("Message", f) for f in ("agentResponses", "judgeResponse", "executionTimeMs")] == ["AWSJSON", "AWSJSON", "Int"]
    assert named("Session", "expiresAt") == "AWSTimestamp"
    assert [str(s.get_type("Session").fields[f].type) for f in ("stopReason", "interruptions")] == ["String", "Int"]
    assert list(s.get_type("SessionStatus").values) == ["PROVISIONING", "RUNNING", "STOPPING", "STOPPED", "INTERRUPTED", "FAILED"]
    assert list(s.get_type("Visibility").values) == ["PUBLIC", "PRIVATE"]
    assert set(s.get_type("StartSessionInput").fields) == {"sizePreset", "repositoryUrl", "idempotencyToken"}


def test_every_list_field_paginates_with_limit_and_next_token():
    s = schema()
    for root, t, name in root_fields(s):
        if root == "Query" and name.startswith("list"):
            field = t.fields[name]
            assert str(field.args["limit"].type) == "Int" and str(field.args["nextToken"].type) == "String", name
            connection = get_named_type(field.type)
            assert str(connection.fields["nextToken"].type) == "String"
            assert is_non_null_type(connection.fields["items"].type), name


def test_subscriptions_follow_their_mutations():
    s = schema()
    mutation = s.mutation_type
    subscribed = {}
    for name, field in s.subscription_type.fields.items():
        d = directives(field.ast_node)
        assert "aws_subscribe" in d, f"Subscription.{name} has no @aws_subscribe"
        # The NONE resolver returns null at subscribe time: a non-null field would fail every subscription.
        assert not is_non_null_type(field.type), name
        for m in d["aws_subscribe"]["mutations"]:
            assert m in mutation.fields, f"Subscription.{name} names unknown mutation {m}"
            assert get_named_type(mutation.fields[m].type) == get_named_type(field.type), (name, m)
            subscribed.setdefault(name, []).append(m)
    assert subscribed == {"onSessionUpdated": ["publishSessionUpdate"],
                          "onMessageCreated": ["createMessage", "recordAgentReply"]}
    # Subscription arguments double as AppSync argument filters, so they must be fields of the payload.
    for name, field in s.subscription_type.fields.items():
        payload = get_named_type(field.type)
        assert set(field.args) <= set(payload.fields), name


def test_every_auth_mode_of_a_root_field_reaches_its_return_types():
    # AppSync checks the mode at each level: a type without the caller's mode is unauthorized even when
    # the root field allows it.
    s = schema()
    for root, t, name in root_fields(s):
        modes = field_modes(t, name)
        for obj in reachable_objects(t.fields[name].type):
            assert modes <= type_modes(s.get_type(obj)), f"{root}.{name} ({modes}) returns {obj} ({type_modes(s.get_type(obj))})"


def test_iam_reaches_only_the_publishers_and_the_session_tasks_activity_report():
    s = schema()
    iam_fields = [f"{root}.{name}" for root, t, name in root_fields(s) if "AWS_IAM" in field_modes(t, name)]
    assert iam_fields == ["Mutation.publishSessionUpdate", "Mutation.reportSessionActivity", "Mutation.recordAgentReply"]
    assert field_modes(s.mutation_type, "publishSessionUpdate") == {"AWS_IAM"}
    assert field_modes(s.mutation_type, "reportSessionActivity") == {"AWS_IAM"}
    assert field_modes(s.mutation_type, "recordAgentReply") == {"AWS_IAM"}
    assert field_modes(s.query_type, "listTraceSteps") == {"AMAZON_COGNITO_USER_POOLS"}
    assert field_modes(s.subscription_type, "onMessageCreated") == {"AMAZON_COGNITO_USER_POOLS"}
    assert type_modes(s.get_type("Session")) == {"AMAZON_COGNITO_USER_POOLS", "AWS_IAM"}
    assert field_modes(s.subscription_type, "onSessionUpdated") == {"AMAZON_COGNITO_USER_POOLS"}


def test_admin_only_queries_are_restricted_to_the_admin_group_in_the_schema():
    q = schema().query_type
    for name in ("listUsers", "getUserByEmail"):
        assert directives(q.fields[name].ast_node) == {"aws_cognito_user_pools": {"cognito_groups": ["ADMIN"]}}, name


def test_api_key_only_where_the_manifest_says_and_removable():
    s = schema()
    api_key = MANIFEST["auth"]["apiKey"]
    fields = sorted(f"{root}.{name}" for root, t, name in root_fields(s) if "API_KEY" in field_modes(t, name))
    types = sorted(n for n, t in s.type_map.items() if isinstance(t, GraphQLObjectType) and n not in ROOTS
                   and "API_KEY" in type_modes(t))
    assert fields == sorted(api_key["fields"])
    assert types == sorted(api_key["types"])
    # An API key caller must never learn who owns a public preset.
    assert field_modes(s.get_type("AgentPreset"), "owner") == {"AMAZON_COGNITO_USER_POOLS"}
    stripped = build(without_api_key(SCHEMA_TEXT))
    assert "aws_api_key" not in without_api_key(SCHEMA_TEXT)
    for root, t, name in root_fields(stripped):
        assert "API_KEY" not in field_modes(t, name)
    assert field_modes(stripped.query_type, "listPublicAgentPresets") == {"AMAZON_COGNITO_USER_POOLS"}


def test_client_inputs_cannot_set_owner_fields():
    s = schema()
    for root, t, name in root_fields(s):
        if root != "Mutation" or "AWS_IAM" in field_modes(t, name):
            continue
        for arg in t.fields[name].args.values():
            named = get_named_type(arg.type)
            if isinstance(named, GraphQLInputObjectType):
                assert not {"owner", "createdAt", "updatedAt"} & set(named.fields), f"Mutation.{name} input {named.name}"
        assert "owner" not in t.fields[name].args, name


def test_publisher_input_mirrors_session():
    s = schema()
    session, update = s.get_type("Session"), s.get_type("SessionUpdateInput")
    # editorPassword is only ever in startSession's answer to the owner: never published.
    assert set(update.fields) == set(session.fields) - {"editorPassword"}
    for name, field in update.fields.items():
        # Same type and nullability: what subscribers receive must be a valid Session.
        assert str(field.type) == str(session.fields[name].type), name


def publish(variables: dict, query: str | None = None, text: str = SCHEMA_TEXT) -> tuple[dict | None, list[str]]:
    """Run publishSessionUpdate the way its NONE-data-source resolver does (it returns the input as the
    Session; the Node tests prove that). The default query selects every Session field."""
    s = build(text)
    s.mutation_type.fields["publishSessionUpdate"].resolve = lambda _root, _info, input: input
    every = " ".join(s.get_type("Session").fields)
    document = parse(query or f"mutation($input: SessionUpdateInput!) {{ publishSessionUpdate(input: $input) {{ {every} }} }}")
    assert [e.message for e in validate(s, document)] == []
    result = execute_sync(s, document, variable_values=variables)
    return result.data, [e.message for e in result.errors or []]


def test_publish_session_update_can_return_every_session_field_from_the_required_input_alone():
    s = schema()
    update = s.get_type("SessionUpdateInput")
    samples = {"ID": "s-1", "SessionStatus": "RUNNING", "AWSDateTime": "2024-05-01T10:00:00.000Z"}
    required = {n: samples[get_named_type(f.type).name] for n, f in update.fields.items() if is_non_null_type(f.type)}
    assert set(required) == {"id", "owner", "status", "createdAt", "updatedAt"}
    data, errors = publish({"input": required})
    assert errors == []
    assert data["publishSessionUpdate"] == {name: required.get(name) for name in s.get_type("Session").fields}
    full = {**required, "stopReason": "stopped by the owner", "interruptions": 2, "expiresAt": 1714644000}
    assert publish({"input": full})[0]["publishSessionUpdate"] == {name: full.get(name) for name in s.get_type("Session").fields}
    # The check bites: an input lacking a non-null Session field cannot produce the Session.
    broken = SCHEMA_TEXT.replace("input SessionUpdateInput {\n  id: ID!\n  owner: ID!\n", "input SessionUpdateInput {\n  id: ID!\n")
    assert broken != SCHEMA_TEXT
    required.pop("owner")
    assert publish({"input": required}, text=broken)[1] == ["Cannot return null for non-nullable field Session.owner."]


def test_list_sessions_takes_the_arguments_the_lambda_serves():
    field = schema().query_type.fields["listSessions"]
    assert {name: str(arg.type) for name, arg in field.args.items()} == {
        "limit": "Int", "nextToken": "String", "owner": "ID", "all": "Boolean", "status": "SessionStatus",
    }
    # The Lambda refuses arguments it does not know, so it must know every one the schema lets through.
    assert set(field.args) == set(sessions_service._LIST_FIELDS)
    assert all(word in field.description for word in ("ADMIN only", "`owner`", "`all: true`", "Forbidden")), field.description


def test_the_sessions_lambda_returns_only_session_fields():
    # AppSync drops unknown result fields but rejects unknown input fields: what session_view builds
    # must be readable as a Session and publishable as a SessionUpdateInput.
    s = schema()
    assert set(sessions_service.SESSION_FIELDS) <= set(s.get_type("Session").fields)
    assert set(sessions_service.SESSION_FIELDS) <= set(s.get_type("SessionUpdateInput").fields)


def test_the_task_state_publishers_mutation_validates_and_its_input_is_accepted():
    s = schema()
    samples = {"String": "x", "ID": "s-1", "SessionStatus": "RUNNING", "AWSDateTime": "2024-05-01T10:00:00.000Z",
               "AWSURL": "https://ide.example.com/s-1", "AWSTimestamp": 1714644000, "Int": 1}
    item = {name: samples[get_named_type(f.type).name] for name, f in s.get_type("Session").fields.items()}
    data, errors = publish({"input": sessions_service.session_view(item)}, query=sessions_publisher.MUTATION)
    assert errors == []
    # onSessionUpdated filters on these: the publisher must select them.
    [entry] = [e for e in MANIFEST["subscriptions"] if e["field"] == "Subscription.onSessionUpdated"]
    assert set(entry["filterFields"]) <= set(data["publishSessionUpdate"])


# ---------------------------------------------------------------------------------------------
# Manifest
# ---------------------------------------------------------------------------------------------
def resolver_keys() -> list[str]:
    return [f"{r['typeName']}.{r['fieldName']}" for r in MANIFEST["resolvers"]]


def test_manifest_runtime_and_schema_path():
    assert MANIFEST["runtime"] == {"name": "APPSYNC_JS", "runtimeVersion": "1.0.0"}
    assert (RESOLVERS / MANIFEST["schema"]).resolve() == (GRAPHQL / "schema.graphql").resolve()


def test_every_root_field_has_exactly_one_resolver_and_every_entry_names_a_real_field():
    s = schema()
    keys = resolver_keys()
    duplicates = {k for k in keys if keys.count(k) > 1}
    assert not duplicates, duplicates
    fields = {f"{root}.{name}" for root, t, name in root_fields(s)}
    assert set(keys) == fields, {"missing": fields - set(keys), "unknown": set(keys) - fields}
    # No resolvers on non-root types: every nested field is plain data returned by its parent.
    assert {k.split(".")[0] for k in keys} <= set(ROOTS)


def test_manifest_entries_are_well_formed_and_files_exist():
    sources = MANIFEST["dataSources"]
    functions = {f["name"]: f for f in MANIFEST["functions"]}
    assert len(functions) == len(MANIFEST["functions"])
    for r in MANIFEST["resolvers"]:
        key = f"{r['typeName']}.{r['fieldName']}"
        assert (RESOLVERS / r["file"]).is_file(), key
        if r["kind"] == "UNIT":
            assert r["dataSource"] in sources and "functions" not in r, key
        else:
            assert r["kind"] == "PIPELINE" and "dataSource" not in r, key
            assert r["functions"] and all(f in functions for f in r["functions"]), key
        if r["typeName"] == "Subscription":
            assert sources[r["dataSource"]]["type"] == "NONE", key
    for f in MANIFEST["functions"]:
        assert (RESOLVERS / f["file"]).is_file() and f["dataSource"] in sources, f["name"]
    used_functions = {f for r in MANIFEST["resolvers"] for f in r.get("functions", [])}
    assert used_functions == set(functions)
    used_sources = {r["dataSource"] for r in MANIFEST["resolvers"] if "dataSource" in r} | {f["dataSource"] for f in MANIFEST["functions"]}
    assert used_sources == set(sources)
    # lib/ holds the helpers the bundler inlines into these files; it is never wired itself.
    on_disk = {p.relative_to(RESOLVERS).as_posix() for p in RESOLVERS.rglob("*.js")} - {
        p.relative_to(RESOLVERS).as_posix() for p in (RESOLVERS / "lib").glob("*.js")}
    assert on_disk == {r["file"] for r in MANIFEST["resolvers"]} | {f["file"] for f in MANIFEST["functions"]}


def test_dynamodb_data_sources_name_real_tables_indexes_and_actions():
    operations = set(botocore.session.get_session().get_service_model("dynamodb").operation_names)
    for name, source in MANIFEST["dataSources"].items():
        if source["type"] == "AMAZON_DYNAMODB":
            table = TABLES.get(source["table"])
            assert table is not None, f"{name}: unknown table {source['table']}"
            assert set(source) == {"type", "table", "tableActions", "indexes"}, name
            for action in source["tableActions"]:
                assert action.startswith("dynamodb:") and action.split(":", 1)[1] in operations, (name, action)
            assert source["tableActions"] == sorted(set(source["tableActions"])), name
            for index, actions in source["indexes"].items():
                assert index in table["indexes"], f"{name}: table {source['table']} has no index {index}"
                assert set(actions) <= {"dynamodb:Query", "dynamodb:Scan"}, (name, index, actions)
        elif source["type"] == "AWS_LAMBDA":
            assert source["actions"] == ["lambda:InvokeFunction"], name
        else:
            assert source == {"type": "NONE"}, name


def test_api_key_and_publisher_entries_name_real_fields():
    s = schema()
    for key in MANIFEST["auth"]["apiKey"]["fields"]:
        root, name = key.split(".")
        assert name in s.get_type(root).fields, key
    publishers = [p["field"] for p in MANIFEST["auth"]["iamPublishers"]]
    iam_fields = [f"{root}.{name}" for root, t, name in root_fields(s) if "AWS_IAM" in field_modes(t, name)]
    assert publishers == iam_fields


def test_subscription_entries_match_the_schema():
    s = schema()
    entries = {e["field"]: e for e in MANIFEST["subscriptions"]}
    assert set(entries) == {f"Subscription.{n}" for n in s.subscription_type.fields}
    for key, entry in entries.items():
        field = s.subscription_type.fields[key.split(".")[1]]
        assert entry["mutations"] == [f"Mutation.{m}" for m in directives(field.ast_node)["aws_subscribe"]["mutations"]]
        # AppSync evaluates filters on the published payload, i.e. the mutation's selection set:
        # publishers must select these, so they must at least be fields of the type.
        assert "owner" in entry["filterFields"] and set(entry["filterFields"]) <= set(get_named_type(field.type).fields), key


def test_agent_reply_input_carries_the_message_and_every_client_side_trace_step_field():
    s = schema()
    reply = s.get_type("AgentReplyInput")
    assert set(reply.fields) == {"conversationId", "owner", "content", "agentResponses", "judgeResponse", "traceId",
                                 "executionTimeMs", "steps"}
    assert str(reply.fields["steps"].type) == "[TraceStepInput!]!"
    step = set(s.get_type("TraceStepInput").fields)
    # The server sets the rest from the reply: id, messageId, conversationId, owner, traceId.
    assert step == set(s.get_type("TraceStep").fields) - {"id", "messageId", "conversationId", "owner", "traceId"}
    assert TABLES["traceSteps"]["hashKey"] == {"name": "messageId", "type": "S"}
    assert TABLES["traceSteps"]["rangeKey"] == {"name": "stepNumber", "type": "N"}
