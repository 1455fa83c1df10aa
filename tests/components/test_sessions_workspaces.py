"""sessions.workspace efs under mocks (prod uses it): the encrypted file system, its lifecycle and
throughput, a mount target per session subnet in the workspace group, NFS only from the session
tasks, the file-system policy, the task role's mount grant and the session API's exact grants."""

from __future__ import annotations

import pytest

from components import workspaces
from components.config import ConfigError
from tests.conftest import build
from tools import program
from tools.mocks import ACCOUNT_ID

from .test_sessions import (ROLE, _dev_sessions, _env, _granting, _named, _one, _own, _policy, _sessions)

FS = "aws:efs/fileSystem:FileSystem"
MOUNT_TARGET = "aws:efs/mountTarget:MountTarget"
FS_POLICY = "aws:efs/fileSystemPolicy:FileSystemPolicy"
SG = "aws:ec2/securityGroup:SecurityGroup"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
EGRESS = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
ACCESS_POINTS = f"arn:aws:elasticfilesystem:us-east-1:{ACCOUNT_ID}:access-point/*"


@pytest.fixture(scope="module")
def prod():
    return build(_sessions, "prod")[0]


@pytest.fixture(scope="module")
def dev_efs():
    return build(_sessions, "dev", overrides=_dev_sessions(workspace="efs"))[0]


def _fs(monitor):
    [fs] = monitor.of_type(FS)
    return fs


def _vpc(monitor):
    [vpc] = monitor.of_type("awsx:ec2:Vpc")
    return vpc.outputs


def test_file_system_is_encrypted_elastic_with_ia_lifecycle_and_protected_in_prod(prod):
    fs = _fs(prod)
    inputs = fs.plain_inputs
    assert inputs["encrypted"] is True
    assert inputs["throughputMode"] == "elastic" and inputs["performanceMode"] == "generalPurpose"
    assert inputs["lifecyclePolicies"] == [{"transitionToIa": "AFTER_30_DAYS"},
                                           {"transitionToPrimaryStorageClass": "AFTER_1_ACCESS"}]
    assert fs.protect is True


@pytest.mark.parametrize("fixture, subnets", [("prod", "privateSubnetIds"), ("dev_efs", "publicSubnetIds")])
def test_a_mount_target_in_each_session_subnet_in_the_workspace_group(fixture, subnets, request):
    monitor = request.getfixturevalue(fixture)
    fs, vpc = _fs(monitor), _vpc(monitor)
    group = next(r for r in monitor.of_type(SG) if r.name == "network-workspaces")
    targets = monitor.of_type(MOUNT_TARGET)
    assert sorted(t.plain_inputs["subnetId"] for t in targets) == sorted(vpc[subnets])
    for t in targets:
        assert t.plain_inputs["fileSystemId"] == fs.id
        assert t.plain_inputs["securityGroups"] == [group.id]
    assert _fs(monitor).protect is (fixture == "prod")


def test_nfs_only_from_the_session_tasks(prod):
    workspace_sg = next(r for r in prod.of_type(SG) if r.name == "network-workspaces")
    session_sg = next(r for r in prod.of_type(SG) if r.name == "network-sessions")
    ingress = [r.plain_inputs for r in prod.of_type(INGRESS) if r.plain_inputs["securityGroupId"] == workspace_sg.id]
    assert ingress == [{"securityGroupId": workspace_sg.id, "ipProtocol": "tcp", "fromPort": 2049, "toPort": 2049,
                        "referencedSecurityGroupId": session_sg.id, "description": "NFS from IDE session tasks"}]
    assert not [r for r in prod.of_type(EGRESS) if r.plain_inputs["securityGroupId"] == workspace_sg.id]
    nfs_out = [r.plain_inputs for r in prod.of_type(EGRESS)
               if r.plain_inputs["securityGroupId"] == session_sg.id and r.plain_inputs["fromPort"] == 2049]
    assert nfs_out == [{"securityGroupId": session_sg.id, "ipProtocol": "tcp", "fromPort": 2049, "toPort": 2049,
                        "referencedSecurityGroupId": workspace_sg.id, "description": "NFS to the EFS workspaces"}]


def test_dev_has_no_workspace_resources():
    monitor = build(_sessions, "dev")[0]
    assert not monitor.of_type(FS) and not monitor.of_type(MOUNT_TARGET) and not monitor.of_type(FS_POLICY)
    assert not [r for r in monitor.of_type(SG) if r.name == "network-workspaces"]
    assert _env(monitor, "api")["WORKSPACE"] == "ephemeral"
    assert "FILE_SYSTEM_ID" not in _env(monitor, "api")


def test_file_system_policy_requires_tls_and_access_points(prod):
    from components import iam
    fs = _fs(prod)
    [policy] = prod.of_type(FS_POLICY)
    assert policy.plain_inputs["fileSystemId"] == fs.id
    assert iam.statements(policy.plain_inputs["policy"]) == [
        {"Sid": "DenyWithoutTls", "Effect": "Deny", "Principal": {"AWS": "*"}, "Action": ["*"],
         "Resource": [fs.outputs["arn"]], "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
        {"Sid": "DenyMountsOutsideAccessPoints", "Effect": "Deny", "Principal": {"AWS": "*"},
         "Action": ["elasticfilesystem:ClientMount", "elasticfilesystem:ClientRootAccess",
                    "elasticfilesystem:ClientWrite"],
         "Resource": [fs.outputs["arn"]], "Condition": {"Null": {"elasticfilesystem:AccessPointArn": "true"}}},
    ]


def test_task_role_mounts_only_through_access_points(prod):
    fs = _fs(prod)
    mount = [s for s in _policy(prod, "sessions-task") if s["Sid"] == "MountOwnWorkspace"]
    assert mount == [{"Sid": "MountOwnWorkspace", "Effect": "Allow",
                      "Action": ["elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite"],
                      "Resource": [fs.outputs["arn"]],
                      "Condition": {"ArnLike": {"elasticfilesystem:AccessPointArn": ACCESS_POINTS},
                                    "Bool": {"elasticfilesystem:AccessedViaMountTarget": "true"}}}]


def test_session_api_gets_exactly_the_workspace_grants(prod):
    fs_arn = _fs(prod).outputs["arn"]
    family = f"arn:aws:ecs:us-east-1:{ACCOUNT_ID}:task-definition/aiplatform-prod-sessions:*"
    by_sid = {s["Sid"]: s for s in _policy(prod, "sessions-api")}
    assert by_sid["CreateUserAccessPoints"] == {
        "Sid": "CreateUserAccessPoints", "Effect": "Allow", "Action": ["elasticfilesystem:CreateAccessPoint"],
        "Resource": [fs_arn], "Condition": {"Null": {"aws:RequestTag/owner": "false"}}}
    assert by_sid["TagAccessPointsAtCreation"] == {
        "Sid": "TagAccessPointsAtCreation", "Effect": "Allow", "Action": ["elasticfilesystem:TagResource"],
        "Resource": [ACCESS_POINTS],
        "Condition": {"StringEquals": {"elasticfilesystem:CreateAction": "CreateAccessPoint"}}}
    assert by_sid["FindUserAccessPoints"]["Resource"] == [fs_arn]
    assert by_sid["RegisterWorkspaceRevisions"] == {
        "Sid": "RegisterWorkspaceRevisions", "Effect": "Allow", "Action": ["ecs:RegisterTaskDefinition"],
        "Resource": [family], "Condition": {"Bool": {"ecs:privileged": "false"}}}
    assert by_sid["TagWorkspaceRevisions"]["Condition"] == {
        "StringEquals": {"ecs:CreateAction": "RegisterTaskDefinition"}}
    assert by_sid["ReadBaseTaskDefinition"]["Resource"] == ["*"]
    # Registering a revision passes the same two roles RunTask does, to ECS tasks only.
    [pass_role] = _granting(list(by_sid.values()), "iam:PassRole")
    assert pass_role["Resource"] == [_named(prod, ROLE, "sessions-exec").outputs["arn"],
                                     _named(prod, ROLE, "sessions-task").outputs["arn"]]
    assert pass_role["Condition"] == {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}}
    # Only the API creates workspaces.
    for kind in ("task-state", "reaper"):
        assert not [s for s in _policy(prod, f"sessions-{kind}") if "elasticfilesystem:CreateAccessPoint" in s["Action"]]


def test_runtime_gets_the_file_system_and_the_base_revision(prod):
    env = _env(prod, "api")
    td = _one(prod, "aws:ecs/taskDefinition:TaskDefinition")
    assert env["WORKSPACE"] == "efs"
    assert env["FILE_SYSTEM_ID"] == _fs(prod).id
    assert env["BASE_TASK_DEFINITION"] == td.outputs["arn"]


def test_workspace_is_required_in_config():
    from components.config import parse
    sessions = _dev_sessions()
    del sessions["aiplatform:sessions"]["workspace"]
    raw, secrets = program.stack_config("dev", overrides=sessions)
    with pytest.raises(ConfigError, match="sessions.workspace"):
        parse(raw, "dev", secrets)
    raw, secrets = program.stack_config("dev", overrides=_dev_sessions(workspace="nfs"))
    with pytest.raises(ConfigError, match="must be one of ephemeral, efs"):
        parse(raw, "dev", secrets)


def test_builders_name_what_they_grant():
    assert workspaces.THROUGHPUT_MODE == "elastic"
    assert [s.sid for s in workspaces.file_system_policy_statements("arn:fs")] == [
        "DenyWithoutTls", "DenyMountsOutsideAccessPoints"]
