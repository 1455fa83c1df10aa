"""Persistent workspaces (WORKSPACE=efs) against moto's EFS and ECS: one access point per user
(POSIX identity, root directory, owner tag, creation token), one task-definition revision per user
that mounts it with TLS and IAM, reuse on later starts, a concurrent first start, and the launch
with that revision."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from app.sessions import errors, workspace
from app.sessions.service import Caller
from app.sessions.settings import ConfigurationError, Settings

from .conftest import CONTAINER, FAMILY, OTHER, OWNER, _boto_session

alice, bob = Caller(OWNER), Caller(OTHER)


class RacingEFS:
    """moto's EFS client; `race` makes the next CreateAccessPoint behave as when a concurrent start
    with the same creation token won: the access point exists and AWS answers AccessPointAlreadyExists."""

    def __init__(self, real):
        self.real = real
        self.race = False
        self.missing = False
        self.creates = 0

    def create_access_point(self, **kwargs):
        self.creates += 1
        if self.race:
            self.race = False
            self.real.create_access_point(**kwargs)
            raise ClientError({"Error": {"Code": "AccessPointAlreadyExists", "Message": "exists"}}, "CreateAccessPoint")
        return self.real.create_access_point(**kwargs)

    def describe_access_points(self, **kwargs):
        if self.missing:  # what EFS answers for a file system that is gone (moto does not check)
            raise ClientError({"Error": {"Code": "FileSystemNotFound", "Message": "not found"}}, "DescribeAccessPoints")
        return self.real.describe_access_points(**kwargs)

    def __getattr__(self, name):
        return getattr(self.real, name)


@pytest.fixture
def efs(infra):
    client = _boto_session().client("efs")
    fs = client.create_file_system(CreationToken="workspaces", Encrypted=True, ThroughputMode="elastic")
    base = infra.ecs.describe_task_definition(taskDefinition=FAMILY)["taskDefinition"]["taskDefinitionArn"]
    env = {"WORKSPACE": "efs", "FILE_SYSTEM_ID": fs["FileSystemId"], "BASE_TASK_DEFINITION": base}
    return RacingEFS(client), env


def _points(efs_client, fs_id):
    return efs_client.real.describe_access_points(FileSystemId=fs_id)["AccessPoints"]


def test_first_start_creates_the_users_access_point_and_revision(infra, make_service, efs):
    client, env = efs
    service = make_service(efs=client, **env)
    session = service.start(alice, {"sizePreset": "small"})

    [point] = _points(client, env["FILE_SYSTEM_ID"])
    assert point["ClientToken"] == workspace.creation_token(OWNER) != workspace.creation_token(OTHER)
    assert point["PosixUser"] == {"Uid": 1000, "Gid": 1000}
    assert point["RootDirectory"] == {"Path": f"/users/{OWNER}", "CreationInfo": {
        "OwnerUid": 1000, "OwnerGid": 1000, "Permissions": "0750"}}
    assert {"Key": "owner", "Value": OWNER} in point["Tags"]

    item = infra.item(session["id"])
    revision = infra.ecs.describe_task_definition(taskDefinition=item["taskDefinition"], include=["TAGS"])
    td = revision["taskDefinition"]
    assert td["family"] == FAMILY and td["taskDefinitionArn"] != env["BASE_TASK_DEFINITION"]
    [volume] = td["volumes"]
    assert volume["name"] == "workspace"
    config = volume["efsVolumeConfiguration"]
    assert config["fileSystemId"] == env["FILE_SYSTEM_ID"] and config["transitEncryption"] == "ENABLED"
    assert config["authorizationConfig"] == {"accessPointId": point["AccessPointId"], "iam": "ENABLED"}
    [container] = td["containerDefinitions"]
    assert container["name"] == CONTAINER
    assert container["mountPoints"] == [{"sourceVolume": "workspace", "containerPath": "/home/coder", "readOnly": False}]
    assert {"key": "workspaceOwner", "value": OWNER} in revision["tags"]

    [task] = infra.running_tasks()
    assert task["taskDefinitionArn"] == item["taskDefinition"]  # launched with the user's revision


def test_later_starts_reuse_the_access_point_and_revision(infra, make_service, efs):
    client, env = efs
    service = make_service(efs=client, **env)
    first = infra.item(service.start(alice, {"sizePreset": "small"})["id"])
    second = infra.item(service.start(alice, {"sizePreset": "small"})["id"])
    assert client.creates == 1 and len(_points(client, env["FILE_SYSTEM_ID"])) == 1
    assert first["taskDefinition"] == second["taskDefinition"]
    # Another user gets their own access point and revision.
    other = infra.item(service.start(bob, {"sizePreset": "small"})["id"])
    assert other["taskDefinition"] != first["taskDefinition"]
    assert len(_points(client, env["FILE_SYSTEM_ID"])) == 2


def test_a_new_base_revision_gets_a_new_user_revision_on_the_same_access_point(infra, make_service, efs):
    client, env = efs
    first = infra.item(make_service(efs=client, **env).start(alice, {"sizePreset": "small"})["id"])
    new_base = infra.ecs.register_task_definition(
        family=FAMILY, networkMode="awsvpc", requiresCompatibilities=["FARGATE"], cpu="1024", memory="2048",
        containerDefinitions=[{"name": CONTAINER, "image": "codercom/code-server:5", "memory": 2048, "essential": True}],
    )["taskDefinition"]["taskDefinitionArn"]
    service = make_service(efs=client, **{**env, "BASE_TASK_DEFINITION": new_base})
    second = infra.item(service.start(alice, {"sizePreset": "small"})["id"])
    assert second["taskDefinition"] != first["taskDefinition"]
    td = infra.ecs.describe_task_definition(taskDefinition=second["taskDefinition"])["taskDefinition"]
    assert td["containerDefinitions"][0]["image"] == "codercom/code-server:5"
    assert client.creates == 1  # the access point was found by its creation token


def test_a_concurrent_first_start_finds_the_access_point_the_other_created(infra, make_service, efs):
    client, env = efs
    client.race = True
    session = make_service(efs=client, **env).start(alice, {"sizePreset": "small"})
    [point] = _points(client, env["FILE_SYSTEM_ID"])
    td = infra.ecs.describe_task_definition(taskDefinition=infra.item(session["id"])["taskDefinition"])
    assert td["taskDefinition"]["volumes"][0]["efsVolumeConfiguration"]["authorizationConfig"]["accessPointId"] == \
        point["AccessPointId"]


def test_an_efs_refusal_fails_the_start_before_any_quota_is_taken(infra, make_service, efs):
    client, env = efs
    client.missing = True
    service = make_service(efs=client, **env)
    with pytest.raises(errors.SessionLaunchFailed, match=r"your workspace could not be prepared \(FileSystemNotFound\)"):
        service.start(alice, {"sizePreset": "small"})
    assert infra.quota()["active"] == 0 and infra.session_items() == [] and infra.running_tasks() == []


def test_ephemeral_sessions_run_the_family(infra, make_service):
    session = make_service().start(alice, {"sizePreset": "small"})
    assert "taskDefinition" not in infra.item(session["id"])
    [task] = infra.running_tasks()
    assert task["taskDefinitionArn"].endswith(f":task-definition/{FAMILY}:1")


@pytest.mark.parametrize("overrides, message", [
    ({"WORKSPACE": "efs"}, "FILE_SYSTEM_ID"),
    ({"WORKSPACE": "efs", "FILE_SYSTEM_ID": "fs-0123456789abcdef0"}, "BASE_TASK_DEFINITION"),
    ({"WORKSPACE": "efs", "FILE_SYSTEM_ID": "fs-0123456789abcdef0",
      "BASE_TASK_DEFINITION": "arn:aws:ecs:us-east-1:123456789012:task-definition/other:3"}, "BASE_TASK_DEFINITION"),
    ({"WORKSPACE": "efs", "FILE_SYSTEM_ID": "fs-0123456789abcdef0",
      "BASE_TASK_DEFINITION": f"arn:aws:ecs:us-east-1:123456789012:task-definition/{FAMILY}"}, "BASE_TASK_DEFINITION"),
    ({"FILE_SYSTEM_ID": "fs-0123456789abcdef0"}, "FILE_SYSTEM_ID"),
    ({"WORKSPACE": "nfs"}, "WORKSPACE"),
])
def test_workspace_settings_are_validated(infra, overrides, message):
    with pytest.raises(ConfigurationError, match=message):
        Settings.from_env({**infra.env, **overrides})


def test_derived_revision_refuses_a_base_without_the_container():
    base = {"family": FAMILY, "containerDefinitions": [{"name": "other"}]}
    with pytest.raises(ValueError, match="no container named 'editor'"):
        workspace.derived_task_definition(base, [], CONTAINER, "fs-1", "fsap-1", OWNER)


def test_a_spot_restart_mounts_the_same_workspace(infra, make_service, efs):
    client, env = efs
    service = make_service(efs=client, RESTART_ON_INTERRUPTION="true", **env)
    session = service.start(alice, {"sizePreset": "small"})
    revision = infra.item(session["id"])["taskDefinition"]
    service.handle_task_event(infra.event(session["taskArn"], "RUNNING"))
    outcome = service.handle_task_event(infra.event(session["taskArn"], "RUNNING", desired="STOPPED",
                                                    stop_code="SpotInterruption", reason="Your Spot Task was interrupted."))
    assert outcome["action"] == "restarted"
    replacement = infra.item(session["id"])["taskArn"]
    assert replacement != session["taskArn"]
    assert infra.task(replacement)["taskDefinitionArn"] == revision
    assert service.scripted_ecs.run_task_calls[-1]["taskDefinition"] == revision


def test_requests_fit_the_real_service_models():
    """The access point request and the derived revision against botocore's EFS and ECS models
    (types, required members, lengths) and EFS's documented path and mode patterns."""
    import re

    import botocore.session
    from botocore.validate import ParamValidator

    models = botocore.session.get_session()
    efs_model = models.get_service_model("efs")
    request = workspace.access_point_request("fs-0123456789abcdef0", OWNER)
    report = ParamValidator().validate(request, efs_model.operation_model("CreateAccessPoint").input_shape)
    assert not report.has_errors(), report.generate_report()
    assert re.fullmatch(efs_model.shape_for("Path").metadata["pattern"], request["RootDirectory"]["Path"])
    assert re.fullmatch(efs_model.shape_for("Permissions").metadata["pattern"],
                        request["RootDirectory"]["CreationInfo"]["Permissions"])
    base = {"family": FAMILY, "networkMode": "awsvpc", "requiresCompatibilities": ["FARGATE"], "cpu": "1024",
            "memory": "2048", "taskDefinitionArn": "arn:aws:ecs:us-east-1:123456789012:task-definition/x:1",
            "revision": 1, "status": "ACTIVE", "registeredAt": "2026-01-01",
            "containerDefinitions": [{"name": CONTAINER, "image": "i", "mountPoints": []}]}
    args = workspace.derived_task_definition(base, [{"key": "project", "value": "aiplatform"}], CONTAINER,
                                             "fs-0123456789abcdef0", "fsap-0123456789abcdef0", OWNER)
    ecs_model = models.get_service_model("ecs")
    report = ParamValidator().validate(args, ecs_model.operation_model("RegisterTaskDefinition").input_shape)
    assert not report.has_errors(), report.generate_report()
    assert {"key": "project", "value": "aiplatform"} in args["tags"]  # the base's cost tags are kept
