"""Workspaces: the encrypted EFS file system behind ``sessions.workspace: efs``.

What it makes (a child of Sessions):

* one encrypted EFS file system, elastic throughput, files moved to Infrequent Access after 30 days
  without access and back on their first access;
* a mount target in each session subnet (the subnets the tasks run in for the editor-access mode),
  in the network's workspace security group (NFS in from the session tasks only);
* a file-system policy refusing any request without TLS and any mount that does not go through an
  access point.

The per-user access points and the task-definition revisions that mount them are created at run
time by the session API (app/sessions/workspace.py); this module also builds the IAM statements
that lets it do exactly that, and the task role's mount grant (components/README-sessions.md,
"Persistent workspaces", explains why the grant names no single access point).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional, Sequence

import pulumi
import pulumi_aws as aws

from . import iam
from .config import partition_of

TYPE = "aiplatform:sessions:Workspaces"

# Elastic: billed per GB read/written with no provisioned floor, and IDE traffic is bursty (npm
# install, git clone). Bursting ties the baseline to stored size (50 KiB/s per GiB), which for a few
# GiB of home directories throttles a clone once the burst credits are spent.
THROUGHPUT_MODE = "elastic"
TRANSITION_TO_IA = "AFTER_30_DAYS"
TRANSITION_TO_PRIMARY = "AFTER_1_ACCESS"
# code-server's image runs as coder (uid/gid 1000); every access point maps NFS calls to it.
WORKSPACE_UID = 1000
WORKSPACE_GID = 1000
WORKSPACE_MODE = "750"
# Where the access point is mounted: the IDE user's home (workspace, settings, extensions).
CONTAINER_PATH = "/home/coder"
CLIENT_ACTIONS = ("elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite")


@dataclass(frozen=True)
class WorkspacesArgs:
    subnet_ids: pulumi.Input[Sequence[str]]
    # How many subnets subnet_ids holds (one per AZ, known from config): the mount targets are
    # declared up front, not inside an apply, so previews show them.
    subnet_count: int
    security_group_id: pulumi.Input[str]
    # Mirrors data.deletionProtection: users' homes are as hard to rebuild as the tables.
    protect: bool = False


def lifecycle_policies() -> list[aws.efs.FileSystemLifecyclePolicyArgs]:
    # The provider takes one transition per block.
    return [aws.efs.FileSystemLifecyclePolicyArgs(transition_to_ia=TRANSITION_TO_IA),
            aws.efs.FileSystemLifecyclePolicyArgs(transition_to_primary_storage_class=TRANSITION_TO_PRIMARY)]


def file_system_policy_statements(file_system_arn: Any) -> list[iam.Statement]:
    """Deny-only: who may mount is the task role's own policy; these hold for every principal."""
    anyone = {"AWS": "*"}
    return [
        iam.Statement(effect="Deny", actions=["*"], resources=[file_system_arn], principals=anyone,
                      conditions={"Bool": {"aws:SecureTransport": "false"}}, sid="DenyWithoutTls"),
        iam.Statement(effect="Deny", actions=[*CLIENT_ACTIONS, "elasticfilesystem:ClientRootAccess"],
                      resources=[file_system_arn], principals=anyone,
                      conditions={"Null": {"elasticfilesystem:AccessPointArn": "true"}},
                      sid="DenyMountsOutsideAccessPoints"),
    ]


def access_points_arn(region: str, account: Any) -> pulumi.Output[str]:
    return pulumi.Output.concat("arn:", partition_of(region), ":elasticfilesystem:", region, ":", account,
                                ":access-point/*")


def task_mount_statements(file_system_arn: Any, region: str, account: Any) -> list[iam.Statement]:
    """The session task mounts and writes through an access point (never as root, never the root)."""
    return [iam.Statement(actions=list(CLIENT_ACTIONS), resources=[file_system_arn],
                          conditions={"ArnLike": {"elasticfilesystem:AccessPointArn": access_points_arn(region, account)},
                                      # from inside the VPC only (the task's mount target)
                                      "Bool": {"elasticfilesystem:AccessedViaMountTarget": "true"}},
                          sid="MountOwnWorkspace")]


def api_statements(file_system_arn: Any, region: str, account: Any, task_definitions: Any) -> list[iam.Statement]:
    """app/sessions/workspace.py: find or create the user's access point on this file system (tagged
    owner at creation), and register the task-definition revision that mounts it. PassRole for that
    registration is the launch grant's (same two roles, same service condition)."""
    points = access_points_arn(region, account)
    return [
        iam.Statement(actions=["elasticfilesystem:CreateAccessPoint"], resources=[file_system_arn],
                      conditions={"Null": {"aws:RequestTag/owner": "false"}}, sid="CreateUserAccessPoints"),
        iam.Statement(actions=["elasticfilesystem:TagResource"], resources=[points],
                      conditions={"StringEquals": {"elasticfilesystem:CreateAction": "CreateAccessPoint"}},
                      sid="TagAccessPointsAtCreation"),
        # Listed by file system (DescribeAccessPoints FileSystemId=...), which is authorized on it.
        iam.Statement(actions=["elasticfilesystem:DescribeAccessPoints"], resources=[file_system_arn],
                      sid="FindUserAccessPoints"),
        # Never a privileged container (Fargate refuses those anyway; the grant says so too).
        iam.Statement(actions=["ecs:RegisterTaskDefinition"], resources=[task_definitions],
                      conditions={"Bool": {"ecs:privileged": "false"}}, sid="RegisterWorkspaceRevisions"),
        iam.Statement(actions=["ecs:TagResource"], resources=[task_definitions],
                      conditions={"StringEquals": {"ecs:CreateAction": "RegisterTaskDefinition"}},
                      sid="TagWorkspaceRevisions"),
        # DescribeTaskDefinition has no resource type: "*" is the only valid resource.
        iam.Statement(actions=["ecs:DescribeTaskDefinition"], resources=["*"], sid="ReadBaseTaskDefinition"),
    ]


def _subnet(ids: Sequence[str], i: int, count: int) -> str:
    if len(ids) != count:
        raise ValueError(f"WorkspacesArgs.subnet_count is {count} but subnet_ids holds {len(ids)} subnets")
    return ids[i]


class Workspaces(pulumi.ComponentResource):
    file_system: aws.efs.FileSystem

    def __init__(self, name: str, args: WorkspacesArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(TYPE, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.file_system = aws.efs.FileSystem(
            name, encrypted=True, performance_mode="generalPurpose", throughput_mode=THROUGHPUT_MODE,
            lifecycle_policies=lifecycle_policies(),
            opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(protect=args.protect)))
        self.policy = aws.efs.FileSystemPolicy(
            name, file_system_id=self.file_system.id,
            policy=iam.document(file_system_policy_statements(self.file_system.arn)), opts=child)
        # One mount target per subnet (one per AZ): a task mounts the target in its own AZ.
        subnets = pulumi.Output.from_input(args.subnet_ids)
        self.mount_targets = [
            aws.efs.MountTarget(f"{name}-{i}", file_system_id=self.file_system.id,
                                subnet_id=subnets.apply(lambda ids, i=i: _subnet(ids, i, args.subnet_count)),
                                security_groups=[args.security_group_id], opts=child)
            for i in range(args.subnet_count)]
        self.file_system_id = self.file_system.id
        self.file_system_arn = self.file_system.arn
        self.register_outputs({"fileSystemId": self.file_system_id, "fileSystemArn": self.file_system_arn})
