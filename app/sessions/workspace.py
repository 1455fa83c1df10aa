"""Persistent workspaces (WORKSPACE=efs): each user's home is an EFS access point.

ECS volumes live on the task definition and RunTask cannot override them, so each user gets a
revision of the stack's task-definition family, derived from BASE_TASK_DEFINITION, that mounts the
user's access point as the IDE's home (IAM authorization and TLS in transit). Both are found again
next time: the access point by its creation token (a hash of the user id, so concurrent first starts
create one access point), the revision from the user's quota item, where it is cached together with
the base it was derived from (a new base after a deploy means a new revision).
"""

from __future__ import annotations

import hashlib
import re
from typing import Any, Callable

from botocore.exceptions import BotoCoreError, ClientError

from . import errors
from .ddb import Expr, error_code
from .observability import log

UID = 1000  # code-server's user "coder" in the session image
GID = 1000
ROOT_MODE = "0750"
USERS_ROOT = "/users"
VOLUME = "workspace"
CONTAINER_PATH = "/home/coder"
OWNER_TAG = "workspaceOwner"  # not "owner": RunTask's own owner tag must not meet a propagated one
# What RegisterTaskDefinition takes back from DescribeTaskDefinition (the rest is read-only state).
REGISTER_FIELDS = ("family", "taskRoleArn", "executionRoleArn", "networkMode", "containerDefinitions", "volumes",
                   "placementConstraints", "requiresCompatibilities", "cpu", "memory", "pidMode", "ipcMode",
                   "proxyConfiguration", "inferenceAccelerators", "ephemeralStorage", "runtimePlatform")
_OWNER_RE = re.compile(r"^[A-Za-z0-9-]{1,64}$")  # Cognito subs are UUIDs
AVAILABLE_POLLS = 10


def creation_token(owner: str) -> str:
    """EFS ClientToken (1-64 characters): the same for every start of this user."""
    return hashlib.sha256(owner.encode()).hexdigest()[:64]


def access_point_request(file_system_id: str, owner: str) -> dict[str, Any]:
    return {
        "ClientToken": creation_token(owner),
        "FileSystemId": file_system_id,
        # Every NFS call through this access point acts as the IDE user, whatever the client claims.
        "PosixUser": {"Uid": UID, "Gid": GID},
        "RootDirectory": {"Path": f"{USERS_ROOT}/{owner}",
                          "CreationInfo": {"OwnerUid": UID, "OwnerGid": GID, "Permissions": ROOT_MODE}},
        "Tags": [{"Key": "owner", "Value": owner}, {"Key": "Name", "Value": f"workspace-{owner}"}],
    }


def derived_task_definition(base: dict[str, Any], tags: list[dict[str, str]], container: str, file_system_id: str,
                            access_point_id: str, owner: str) -> dict[str, Any]:
    """RegisterTaskDefinition arguments: the base revision plus the user's volume and mount point."""
    args = {k: base[k] for k in REGISTER_FIELDS if base.get(k) not in (None, [], {})}
    volumes = [v for v in args.get("volumes", []) if v.get("name") != VOLUME]
    volumes.append({"name": VOLUME, "efsVolumeConfiguration": {
        "fileSystemId": file_system_id, "transitEncryption": "ENABLED",
        "authorizationConfig": {"accessPointId": access_point_id, "iam": "ENABLED"}}})
    args["volumes"] = volumes
    containers = []
    found = False
    for c in args["containerDefinitions"]:
        c = dict(c)
        if c.get("name") == container:
            found = True
            mounts = [m for m in c.get("mountPoints", []) if m.get("sourceVolume") != VOLUME]
            c["mountPoints"] = [*mounts, {"sourceVolume": VOLUME, "containerPath": CONTAINER_PATH, "readOnly": False}]
        containers.append(c)
    if not found:
        raise ValueError(f"the base task definition has no container named {container!r}")
    args["containerDefinitions"] = containers
    kept = [t for t in tags if t.get("key") not in (OWNER_TAG, "workspaceAccessPoint")]
    args["tags"] = [*kept, {"key": OWNER_TAG, "value": owner}, {"key": "workspaceAccessPoint", "value": access_point_id}]
    return args


class Workspaces:
    """Find or create a user's access point and task-definition revision (the session API only)."""

    def __init__(self, settings: Any, *, efs: Any, ecs: Any, dynamodb: Any, sleep: Callable[[float], None]):
        self._s = settings
        self._efs = efs
        self._ecs = ecs
        self._ddb = dynamodb
        self._sleep = sleep

    def task_definition(self, owner: str, quota_key: dict[str, Any]) -> str:
        """The user's task definition ARN; errors.SessionLaunchFailed when EFS or ECS refuse."""
        if not _OWNER_RE.match(owner):
            raise errors.SessionLaunchFailed("your user id cannot name a workspace directory; contact an administrator")
        try:
            cached = self._ddb.get_item(TableName=self._s.sessions_table, Key=quota_key, ConsistentRead=True,
                                        ProjectionExpression="workspaceTaskDefinition, workspaceBase").get("Item", {})
            if cached.get("workspaceBase", {}).get("S") == self._s.base_task_definition:
                return cached["workspaceTaskDefinition"]["S"]
            access_point = self.access_point(owner)
            arn = self._register(owner, access_point)
            # Last writer wins: two concurrent first starts each register a valid revision.
            e = Expr()
            update = e.update(set_={"workspaceTaskDefinition": arn, "workspaceAccessPoint": access_point,
                                    "workspaceBase": self._s.base_task_definition})
            self._ddb.update_item(TableName=self._s.sessions_table, Key=quota_key, UpdateExpression=update,
                                  **e.params())
        except (ClientError, BotoCoreError) as exc:
            code = error_code(exc) if isinstance(exc, ClientError) else type(exc).__name__
            log("ERROR", "workspace_failed", owner=owner, code=code, error=str(exc))
            raise errors.SessionLaunchFailed(f"your workspace could not be prepared ({code}); try again") from None
        log("INFO", "workspace_revision_registered", owner=owner, accessPointId=access_point, taskDefinition=arn)
        return arn

    def access_point(self, owner: str) -> str:
        """The user's access point id, created on the first start; waits until it is available."""
        found = self._find(owner)
        if found is None:
            try:
                found = self._efs.create_access_point(**access_point_request(self._s.file_system_id, owner))
                log("INFO", "workspace_access_point_created", owner=owner, accessPointId=found["AccessPointId"])
            except ClientError as exc:
                if error_code(exc) != "AccessPointAlreadyExists":
                    raise
                found = self._find(owner)  # a concurrent start created it with the same token
                if found is None:
                    raise
        for _ in range(AVAILABLE_POLLS):
            if found.get("LifeCycleState", "available") == "available":
                return found["AccessPointId"]
            self._sleep(0.5)
            found = self._efs.describe_access_points(AccessPointId=found["AccessPointId"])["AccessPoints"][0]
        raise errors.SessionLaunchFailed("your workspace is still being created; try again in a moment")

    def _find(self, owner: str) -> dict[str, Any] | None:
        token = creation_token(owner)
        params: dict[str, Any] = {"FileSystemId": self._s.file_system_id, "MaxResults": 100}
        while True:
            page = self._efs.describe_access_points(**params)
            for point in page.get("AccessPoints", []):
                if point.get("ClientToken") == token and point.get("LifeCycleState") not in ("deleting", "deleted"):
                    return point
            if not page.get("NextToken"):
                return None
            params["NextToken"] = page["NextToken"]

    def _register(self, owner: str, access_point: str) -> str:
        described = self._ecs.describe_task_definition(taskDefinition=self._s.base_task_definition, include=["TAGS"])
        args = derived_task_definition(described["taskDefinition"], described.get("tags", []), self._s.container_name,
                                       self._s.file_system_id, access_point, owner)
        return self._ecs.register_task_definition(**args)["taskDefinition"]["taskDefinitionArn"]
