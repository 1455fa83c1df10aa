"""Post-confirmation trigger against moto's Cognito and DynamoDB (in-process, no network)."""

from __future__ import annotations

import ast
import copy
import itertools
import json
import re
import subprocess
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from app.identity import post_confirmation as pc
from components.data import PLATFORM_TABLES, TableSpec

REGION = "us-east-1"
PACKAGE_DIR = Path(pc.__file__).resolve().parent
USERS = PLATFORM_TABLES["users"]  # the table shape the Data component deploys
AWS_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")


@dataclass
class World:
    """One moto account per module (pool creation is the slow part); each test gets its own table and user."""
    ddb: Any
    idp: Any
    pool_id: str
    table: str = ""
    user_name: str = ""

    def user(self, extra: dict | None = None, idp: Any = None, pool_id: str | None = None) -> dict:
        """Create this test's user; return the userAttributes Cognito would send for it."""
        idp, pool_id = idp or self.idp, pool_id or self.pool_id
        attrs = {"email": f"{self.user_name}@example.com", **(extra or {})}
        idp.admin_create_user(UserPoolId=pool_id, Username=self.user_name,
                              UserAttributes=[{"Name": k, "Value": v} for k, v in attrs.items()])
        got = idp.admin_get_user(UserPoolId=pool_id, Username=self.user_name)["UserAttributes"]
        return {**{a["Name"]: a["Value"] for a in got}, "email_verified": "true",
                "cognito:user_status": "CONFIRMED"}

    def event(self, attributes: dict, source: str = pc.CONFIRM_SIGN_UP, pool_id: str | None = None) -> dict:
        pool_id = pool_id or self.pool_id
        return {
            "version": "1", "region": pool_id.split("_")[0], "userPoolId": pool_id, "userName": self.user_name,
            "callerContext": {"awsSdkVersion": "aws-sdk-unknown-unknown", "clientId": "client123"},
            "triggerSource": source, "request": {"userAttributes": attributes}, "response": {},
        }

    def items(self) -> list[dict]:
        return self.ddb.scan(TableName=self.table)["Items"]

    def groups(self, idp: Any = None, pool_id: str | None = None) -> list[str]:
        return [g["GroupName"] for g in (idp or self.idp).admin_list_groups_for_user(
            UserPoolId=pool_id or self.pool_id, Username=self.user_name)["Groups"]]


def make_pool(region: str) -> tuple[Any, str]:
    idp = boto3.client("cognito-idp", region_name=region)
    pool_id = idp.create_user_pool(
        PoolName="users",
        Schema=[{"Name": "user_role", "AttributeDataType": "String", "Mutable": True}],
    )["UserPool"]["Id"]
    for group in ("ADMIN", "USER"):
        idp.create_group(UserPoolId=pool_id, GroupName=group)
    return idp, pool_id


@pytest.fixture(scope="module")
def account():
    with pytest.MonkeyPatch.context() as mp, mock_aws():
        for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                           "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": REGION,
                           "DEFAULT_GROUP": "USER"}.items():
            mp.setenv(key, value)
        mp.delenv("AWS_PROFILE", raising=False)
        # Clients the handler caches here belong to this mock and must not outlive it.
        mp.setattr(pc, "_clients", {})
        idp, pool_id = make_pool(REGION)
        yield World(ddb=boto3.client("dynamodb", region_name=REGION), idp=idp, pool_id=pool_id)


def create_table_args(spec: TableSpec) -> dict:
    """CreateTable arguments for a platform table spec (the moto stand-in for what Data deploys)."""
    def keys(hash_key: str, range_key: str | None) -> list[dict]:
        return [{"AttributeName": hash_key, "KeyType": "HASH"}] + (
            [{"AttributeName": range_key, "KeyType": "RANGE"}] if range_key else [])

    args: dict = {
        "AttributeDefinitions": [{"AttributeName": a, "AttributeType": t} for a, t in spec.attributes.items()],
        "KeySchema": keys(spec.hash_key, spec.range_key),
        "BillingMode": "PAY_PER_REQUEST",
        "StreamSpecification": {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    }
    if spec.gsis:
        args["GlobalSecondaryIndexes"] = [
            {"IndexName": g.name, "KeySchema": keys(g.hash_key, g.range_key),
             "Projection": {"ProjectionType": g.projection}} for g in spec.gsis]
    return args


_serial = itertools.count()


@pytest.fixture
def aws(account, monkeypatch):
    n = next(_serial)
    world = replace(account, table=f"users-{n}", user_name=f"user{n}")
    world.ddb.create_table(TableName=world.table, **create_table_args(USERS))
    monkeypatch.setenv("USERS_TABLE", world.table)
    return world


class Context:
    aws_request_id = "req-1"


def log_lines(capsys) -> list[dict]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_sign_up_creates_user_item_and_joins_default_group(aws, capsys):
    attrs = aws.user({"name": "Alice Liddell"})
    event = aws.event(attrs)
    before = copy.deepcopy(event)

    result = pc.handler(event, Context())

    assert result is event and event == before  # Cognito needs the event back unchanged
    [item] = aws.items()
    created = item["createdAt"]["S"]
    assert AWS_DATETIME.match(created)
    assert item == {"id": {"S": attrs["sub"]}, "email": {"S": attrs["email"]},
                    "displayName": {"S": "Alice Liddell"}, "role": {"S": "USER"},
                    "createdAt": {"S": created}, "updatedAt": {"S": created}}
    assert aws.groups() == ["USER"]
    [log] = log_lines(capsys)
    assert log["outcome"] == "created" and log["sub"] == attrs["sub"] and log["requestId"] == "req-1"
    assert log["userPoolId"] == aws.pool_id and log["group"] == "USER"
    assert attrs["email"] not in json.dumps(log)  # no e-mail addresses in logs


def test_second_invocation_does_not_overwrite_and_completes_group_membership(aws, capsys, monkeypatch):
    attrs = aws.user({"name": "Alice"})
    monkeypatch.setattr(pc, "timestamp", lambda: "2025-01-01T00:00:00.000Z")
    pc.handler(aws.event(attrs), Context())
    [first] = aws.items()
    # A retry after a first attempt that wrote the item but failed before the group call.
    aws.idp.admin_remove_user_from_group(UserPoolId=aws.pool_id, Username=aws.user_name, GroupName="USER")
    monkeypatch.setattr(pc, "timestamp", lambda: "2025-06-01T12:00:00.000Z")
    retry = aws.event({**attrs, "name": "Someone Else", "custom:user_role": "RESEARCHER"})

    assert pc.handler(retry, Context()) is retry

    assert aws.items() == [first]
    assert first["createdAt"] == {"S": "2025-01-01T00:00:00.000Z"} and first["displayName"] == {"S": "Alice"}
    assert aws.groups() == ["USER"]
    assert [line["outcome"] for line in log_lines(capsys)] == ["created", "already_exists"]


@pytest.mark.parametrize("extra, display_name, role", [
    ({"name": "Alice L", "preferred_username": "ali"}, "Alice L", "USER"),
    ({"preferred_username": "ali"}, "ali", "USER"),
    ({"name": "   "}, None, "USER"),  # blank counts as absent
    ({}, None, "USER"),  # None: the e-mail local part
    ({"custom:user_role": "RESEARCHER"}, None, "RESEARCHER"),
])
def test_display_name_and_role_derivation(aws, extra, display_name, role):
    pc.handler(aws.event(aws.user(extra)), Context())
    [item] = aws.items()
    assert (item["displayName"]["S"], item["role"]["S"]) == (display_name or aws.user_name, role)


def test_forgot_password_confirmation_is_a_no_op(aws, capsys):
    event = aws.event(aws.user(), source=pc.CONFIRM_FORGOT_PASSWORD)
    before = copy.deepcopy(event)

    assert pc.handler(event, Context()) is event and event == before
    assert aws.items() == []
    assert aws.groups() == []
    assert [line["outcome"] for line in log_lines(capsys)] == ["skipped"]


def test_user_pool_in_another_region_is_called_in_its_region(aws):
    idp, pool_id = make_pool("eu-west-1")
    pc.handler(aws.event(aws.user(idp=idp, pool_id=pool_id), pool_id=pool_id), Context())
    assert aws.groups(idp, pool_id) == ["USER"]
    assert len(aws.items()) == 1  # the table stays in the function's own region


def test_clients_are_created_lazily_and_reused(aws, monkeypatch):
    monkeypatch.setattr(pc, "_clients", {})
    event = aws.event(aws.user())
    with pytest.raises(pc.InvalidEventError):
        pc.handler({"triggerSource": pc.CONFIRM_SIGN_UP}, Context())
    assert pc._clients == {}
    pc.handler(event, Context())
    cached = dict(pc._clients)
    assert set(cached) == {("dynamodb", None), ("cognito-idp", REGION)}
    pc.handler(event, Context())
    assert all(pc._clients[key] is client for key, client in cached.items())


def _without(path: tuple):
    def edit(event):
        *parents, last = path
        for key in parents:
            event = event[key]
        del event[last]
    return edit


def _setting(path: tuple, value):
    def edit(event):
        *parents, last = path
        for key in parents:
            event = event[key]
        event[last] = value
    return edit


ATTRS = ("request", "userAttributes")
MALFORMED = [
    ("triggerSource", _without(("triggerSource",)), "is missing"),
    ("triggerSource", _setting(("triggerSource",), "PreSignUp_SignUp"), "must be PostConfirmation_"),
    ("triggerSource", _setting(("triggerSource",), 7), "must be a string, got int"),
    ("userPoolId", _without(("userPoolId",)), "is missing"),
    ("userPoolId", _setting(("userPoolId",), ["us-east-1_abc"]), "must be a string, got list"),
    ("userPoolId", _setting(("userPoolId",), "not-a-pool"), "is not a user pool id"),
    ("userName", _without(("userName",)), "is missing"),
    ("userName", _setting(("userName",), ""), "is empty"),
    ("userName", _setting(("userName",), None), "must be a string, got NoneType"),
    ("request", _without(("request",)), "is missing"),
    ("request", _setting(("request",), "x"), "must be an object, got str"),
    ("request.userAttributes", _without(ATTRS), "is missing"),
    ("request.userAttributes", _setting(ATTRS, [["sub", "x"]]), "must be an object, got list"),
    ("request.userAttributes.sub", _without(ATTRS + ("sub",)), "is missing"),
    ("request.userAttributes.sub", _setting(ATTRS + ("sub",), 123), "must be a string, got int"),
    ("request.userAttributes.sub", _setting(ATTRS + ("sub",), " "), "is empty"),
    ("request.userAttributes.email", _without(ATTRS + ("email",)), "is missing"),
    ("request.userAttributes.email", _setting(ATTRS + ("email",), {"v": 1}), "must be a string, got dict"),
    ("request.userAttributes.email", _setting(ATTRS + ("email",), "alice"), "is not an email address"),
    ("request.userAttributes.email", _setting(ATTRS + ("email",), "@example.com"), "is not an email address"),
    ("request.userAttributes.name", _setting(ATTRS + ("name",), 5), "must be a string, got int"),
    ("request.userAttributes.custom:user_role", _setting(ATTRS + ("custom:user_role",), True),
     "must be a string, got bool"),
]


@pytest.mark.parametrize("field, edit, problem", MALFORMED, ids=[f"{f}:{p}" for f, _, p in MALFORMED])
def test_malformed_event_names_the_field(aws, capsys, field, edit, problem):
    event = aws.event(aws.user())
    edit(event)

    with pytest.raises(pc.InvalidEventError) as info:
        pc.handler(event, Context())

    assert info.value.field == field
    assert f"{field} {problem}" in str(info.value)
    assert aws.items() == [] and aws.groups() == []
    [log] = log_lines(capsys)
    assert log["outcome"] == "failed" and log["error"] == "InvalidEventError"


@pytest.mark.parametrize("event", [None, "text", ["list"]])
def test_event_that_is_not_an_object(event):
    with pytest.raises(pc.InvalidEventError, match=r"event must be an object") as info:
        pc.handler(event, Context())
    assert info.value.field == "event"


@pytest.mark.parametrize("variable", ["USERS_TABLE", "DEFAULT_GROUP"])
@pytest.mark.parametrize("blank", [False, True], ids=["unset", "blank"])
def test_missing_configuration_names_the_variable(aws, monkeypatch, variable, blank):
    event = aws.event(aws.user())
    if blank:
        monkeypatch.setenv(variable, "  ")
    else:
        monkeypatch.delenv(variable)

    with pytest.raises(pc.ConfigurationError, match=rf"environment variable {variable} is not set") as info:
        pc.handler(event, Context())

    assert info.value.variable == variable
    assert aws.items() == [] and aws.groups() == []


def test_aws_failure_propagates_so_cognito_reports_it(aws, monkeypatch, capsys):
    event = aws.event(aws.user())
    monkeypatch.setenv("DEFAULT_GROUP", "NO_SUCH_GROUP")

    with pytest.raises(ClientError) as info:
        pc.handler(event, Context())

    assert info.value.response["Error"]["Code"] == "ResourceNotFoundException"
    [log] = log_lines(capsys)
    assert log["outcome"] == "failed" and log["error"] == "ResourceNotFoundException"
    assert log["sub"] == event["request"]["userAttributes"]["sub"]


def test_package_uses_only_relative_stdlib_and_boto_imports():
    allowed = set(sys.stdlib_module_names) | {"boto3", "botocore"}
    for source in PACKAGE_DIR.glob("*.py"):
        for node in ast.walk(ast.parse(source.read_text(), str(source))):
            if isinstance(node, ast.Import):
                roots = [alias.name.split(".")[0] for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                roots = [node.module.split(".")[0]]
            else:
                continue
            assert set(roots) <= allowed, f"{source.name} imports {roots}"


def test_package_imports_as_top_level_lambda_package():
    # Lambda puts the packaged app/identity directory on the path as ``identity``.
    code = "import identity.post_confirmation as m; print(callable(m.handler))"
    done = subprocess.run([sys.executable, "-c", code], cwd=PACKAGE_DIR.parent, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "True"
