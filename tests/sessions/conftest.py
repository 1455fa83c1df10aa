"""Fixtures for the sessions runtime: a moto account with the VPC, ECS cluster, task definition
and sessions table the Sessions component provisions (plus, for private editor access, the
load balancer and its HTTPS listener), and helpers to drive and inspect it."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from typing import Any, Callable

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.core.botocore_stubber import BotocoreStubber
from moto.moto_api import state_manager

from app.sessions.service import SessionService
from app.sessions.settings import Settings

REGION = "us-east-1"
FAMILY = "code-server"
CONTAINER = "editor"
OWNER = "0f6c1f52-1111-4a8e-9c7e-000000000001"
OTHER = "0f6c1f52-2222-4a8e-9c7e-000000000002"
ADMIN = "0f6c1f52-3333-4a8e-9c7e-000000000003"
SIZE_PRESETS = {"small": {"cpu": 1024, "memory": 2048}, "large": {"cpu": 4096, "memory": 8192}}
EDITOR_DOMAIN = "ide.example.com"
LAUNCH_BUCKET = "sessions-launch-test"
USER_POOL_ARN = "arn:aws:cognito-idp:us-east-1:123456789012:userpool/us-east-1_AbCdEf123"
USER_POOL_CLIENT_ID = "4abcdefghijklmnopqrstu1234"
USER_POOL_DOMAIN = "aiplatform-test"
CAPACITY_REASON = "Capacity is unavailable at this time. Please try again later or in a different availability zone"


@dataclass
class Infra:
    ddb: Any
    ecs: Any
    ec2: Any
    elb: Any
    s3: Any
    vpc_id: str
    table: str
    cluster_arn: str
    subnets: list[str]
    security_group: str
    env: dict[str, str] = field(default_factory=dict)

    # --- inspection helpers -------------------------------------------------------------
    def item(self, sid: str) -> dict[str, Any] | None:
        from app.sessions.ddb import from_item

        return from_item(self.ddb.get_item(TableName=self.table, Key={"id": {"S": sid}}, ConsistentRead=True).get("Item"))

    def quota(self, owner: str = OWNER) -> dict[str, Any]:
        item = self.item(f"quota#{owner}") or {}
        return {"active": item.get("active", 0), "sessionIds": item.get("sessionIds", set())}

    def session_items(self) -> list[dict[str, Any]]:
        from app.sessions.ddb import from_item

        items = [from_item(i) for i in self.ddb.scan(TableName=self.table)["Items"]]
        return [i for i in items if not i["id"].startswith("quota#")]

    def running_tasks(self) -> list[dict[str, Any]]:
        arns = self.ecs.list_tasks(cluster=self.cluster_arn, desiredStatus="RUNNING")["taskArns"]
        if not arns:
            return []
        return self.ecs.describe_tasks(cluster=self.cluster_arn, tasks=arns, include=["TAGS"])["tasks"]

    def task(self, arn: str) -> dict[str, Any]:
        return self.ecs.describe_tasks(cluster=self.cluster_arn, tasks=[arn], include=["TAGS"])["tasks"][0]

    def assign_public_ip(self, task_arn: str) -> str:
        """Fargate gives the ENI a public IP; moto does not, so attach an EIP to it."""
        eni = _eni_of(self.task(task_arn))
        allocation = self.ec2.allocate_address(Domain="vpc")
        self.ec2.associate_address(AllocationId=allocation["AllocationId"], NetworkInterfaceId=eni)
        return allocation["PublicIp"]

    def event(self, task_arn: str, last: str, desired: str | None = None, stop_code: str | None = None,
              reason: str | None = None, cluster_arn: str | None = None) -> dict[str, Any]:
        """An EventBridge 'ECS Task State Change' event for a task, shaped like AWS sends it."""
        task = self.task(task_arn)
        detail: dict[str, Any] = {
            "clusterArn": cluster_arn or self.cluster_arn,
            "taskArn": task_arn,
            "taskDefinitionArn": task["taskDefinitionArn"],
            "startedBy": task.get("startedBy") or None,
            "lastStatus": last,
            "desiredStatus": desired or ("STOPPED" if last == "STOPPED" else "RUNNING"),
            "capacityProviderName": task.get("capacityProviderName"),
            "launchType": "FARGATE",
            "group": task.get("group"),
            "version": 3,
            "attachments": [
                {"id": a["id"], "type": "eni", "status": "ATTACHED", "details": a["details"]}
                for a in task.get("attachments", [])
            ],
        }
        if stop_code:
            detail["stopCode"] = stop_code
        if reason:
            detail["stoppedReason"] = reason
        return {
            "version": "0",
            "id": "6a7e4feb-b491-4cf7-a9f1-bf3703497718",
            "detail-type": "ECS Task State Change",
            "source": "aws.ecs",
            "account": "123456789012",
            "region": REGION,
            "resources": [task_arn],
            "detail": {k: v for k, v in detail.items() if v is not None},
        }


def _eni_of(task: dict[str, Any]) -> str:
    for attachment in task["attachments"]:
        for detail in attachment["details"]:
            if detail["name"] == "networkInterfaceId":
                return detail["value"]
    raise AssertionError("task has no ENI")


class Clock:
    def __init__(self, start: float = 1_800_000_000.0):
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class ScriptedELB:
    """The moto elbv2 client, with errors scripted per method (moto enforces no rule or target group
    quotas), hooks that run just before a call (to stage races), and every call recorded."""

    def __init__(self, real: Any):
        self.real = real
        self.failures: dict[str, list[BaseException]] = {}
        self.before: dict[str, Callable[[dict[str, Any]], None]] = {}
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.real, name)
        if not callable(attr):
            return attr

        def call(**kwargs: Any) -> Any:
            self.calls.append((name, kwargs))
            hook = self.before.get(name)
            if hook:
                hook(kwargs)
            queue = self.failures.get(name)
            if queue:
                raise queue.pop(0)
            return attr(**kwargs)

        return call

    def called(self, name: str) -> list[dict[str, Any]]:
        return [kwargs for method, kwargs in self.calls if method == name]


@dataclass
class EditorBalancer:
    """The private-mode load balancer as the Sessions component builds it: an internet-facing ALB in
    the VPC and an HTTPS listener whose default action answers 404."""

    elb: Any
    listener_arn: str
    vpc_id: str
    env: dict[str, str]

    def rules(self) -> list[dict[str, Any]]:
        return [r for r in self.elb.describe_rules(ListenerArn=self.listener_arn)["Rules"] if not r["IsDefault"]]

    def target_groups(self) -> list[dict[str, Any]]:
        return self.elb.describe_target_groups()["TargetGroups"]

    def targets(self, group_arn: str) -> list[tuple[str, int]]:
        health = self.elb.describe_target_health(TargetGroupArn=group_arn)["TargetHealthDescriptions"]
        return sorted((d["Target"]["Id"], d["Target"]["Port"]) for d in health)

    def tags(self, arn: str) -> dict[str, str]:
        [description] = self.elb.describe_tags(ResourceArns=[arn])["TagDescriptions"]
        return {t["Key"]: t["Value"] for t in description["Tags"]}


class ScriptedECS:
    """The moto ECS client, with RunTask answers optionally scripted (moto never reports
    capacity failures or denies access) and every RunTask/StopTask call recorded. RunTask honours
    clientToken as ECS does (moto ignores it): a repeated token returns the first launch's answer."""

    def __init__(self, real: Any):
        self.real = real
        self.script: list[Any] = []
        self.run_task_calls: list[dict[str, Any]] = []
        self.stop_task_calls: list[dict[str, Any]] = []
        self.before_run_task: Callable[[dict[str, Any]], None] | None = None
        # Runs after ECS launched the task, before the caller sees the answer (to stage crashes).
        self.after_run_task: Callable[[dict[str, Any]], None] | None = None
        self._launched: dict[str, dict[str, Any]] = {}

    def run_task(self, **kwargs: Any) -> dict[str, Any]:
        self.run_task_calls.append(kwargs)
        if self.before_run_task:
            self.before_run_task(kwargs)
        if self.script:
            step = self.script.pop(0)
            if isinstance(step, BaseException):
                raise step
            if step != "pass":
                return step
        token = kwargs.get("clientToken")
        if token in self._launched:
            return self._launched[token]
        response = self.real.run_task(**kwargs)
        if token:
            self._launched[token] = response
        if self.after_run_task:
            self.after_run_task(response)
        return response

    def list_tasks(self, **kwargs: Any) -> dict[str, Any]:
        # ECS (unlike moto): "When you specify startedBy as the filter, it must be the only filter".
        others = {"family", "desiredStatus", "serviceName", "containerInstance", "launchType"} & set(kwargs)
        if "startedBy" in kwargs and others:
            raise client_error("InvalidParameterException", f"startedBy cannot be combined with {sorted(others)}",
                               "ListTasks")
        return self.real.list_tasks(**kwargs)

    def stop_task(self, **kwargs: Any) -> dict[str, Any]:
        self.stop_task_calls.append(kwargs)
        return self.real.stop_task(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


def client_error(code: str, message: str, operation: str = "RunTask") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, operation)


def capacity_failure(cluster_arn: str) -> dict[str, Any]:
    return {"tasks": [], "failures": [{"arn": cluster_arn, "reason": CAPACITY_REASON}]}


def base_env(infra: Infra) -> dict[str, str]:
    return {
        "SESSIONS_TABLE": infra.table,
        "CLUSTER_ARN": infra.cluster_arn,
        "TASK_DEFINITION": FAMILY,
        "CONTAINER_NAME": CONTAINER,
        "SUBNETS": ",".join(infra.subnets),
        "SECURITY_GROUPS": infra.security_group,
        "ASSIGN_PUBLIC_IP": "ENABLED",
        "CAPACITY_PROVIDER_STRATEGY": json.dumps([{"capacityProvider": "FARGATE_SPOT", "weight": 1}]),
        "ON_DEMAND_FALLBACK": "false",
        "RESTART_ON_INTERRUPTION": "false",
        "MAX_SESSIONS_PER_USER": "2",
        "SIZE_PRESETS": json.dumps(SIZE_PRESETS),
        "DEFAULT_SIZE": "small",
        "EDITOR_ACCESS": "public",
        "AWS_REGION": REGION,
        "LAUNCH_BUCKET": LAUNCH_BUCKET,
    }


_sessions: list[boto3.session.Session] = []


def _boto_session() -> boto3.session.Session:
    """One botocore session for the whole run: it caches the service models, so creating the
    clients of each test costs milliseconds instead of re-parsing JSON models."""
    if not _sessions:
        _sessions.append(boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing",
                                               aws_session_token="testing", region_name=REGION))
    return _sessions[0]


def create_infra() -> Infra:
    session = _boto_session()
    ec2, ecs, ddb, elb, s3 = (session.client(name) for name in ("ec2", "ecs", "dynamodb", "elbv2", "s3"))
    s3.create_bucket(Bucket=LAUNCH_BUCKET)
    vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    # moto names task ENIs from the VPC's DNS hostnames (as AWS does); without it RunTask fails.
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=cidr, AvailabilityZone=az)["Subnet"]["SubnetId"]
        for cidr, az in (("10.20.1.0/24", "us-east-1a"), ("10.20.2.0/24", "us-east-1b"))
    ]
    sg = ec2.create_security_group(GroupName="sessions", Description="code-server tasks", VpcId=vpc)["GroupId"]
    cluster_arn = ecs.create_cluster(clusterName="sessions", capacityProviders=["FARGATE", "FARGATE_SPOT"])["cluster"]["clusterArn"]
    for family in (FAMILY, "unrelated-batch-job"):
        ecs.register_task_definition(
            family=family,
            networkMode="awsvpc",
            requiresCompatibilities=["FARGATE"],
            cpu="1024",
            memory="2048",
            # moto >= 5.2.5 requires container-level memory.
            containerDefinitions=[{"name": CONTAINER, "image": "codercom/code-server:4", "memory": 2048, "essential": True,
                                   "portMappings": [{"containerPort": 8080}]}],
        )
    table = "sessions-test"
    ddb.create_table(
        TableName=table,
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": n, "AttributeType": "S"} for n in ("id", "owner", "createdAt", "status", "updatedAt")],
        GlobalSecondaryIndexes=[
            {"IndexName": "byOwner", "Projection": {"ProjectionType": "ALL"},
             "KeySchema": [{"AttributeName": "owner", "KeyType": "HASH"}, {"AttributeName": "createdAt", "KeyType": "RANGE"}]},
            {"IndexName": "byStatus", "Projection": {"ProjectionType": "ALL"},
             "KeySchema": [{"AttributeName": "status", "KeyType": "HASH"}, {"AttributeName": "updatedAt", "KeyType": "RANGE"}]},
        ],
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    ddb.update_time_to_live(TableName=table, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expiresAt"})
    infra = Infra(ddb=ddb, ecs=ecs, ec2=ec2, elb=elb, s3=s3, vpc_id=vpc, table=table, cluster_arn=cluster_arn, subnets=subnets,
                  security_group=sg)
    infra.env = base_env(infra)
    return infra


@pytest.fixture
def aws_env(monkeypatch):
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "MOTO_EC2_LOAD_DEFAULT_AMIS": "false",  # ~0.3 s per test we never use
    }.items():
        monkeypatch.setenv(key, value)
    # moto advances a task's lastStatus on every DescribeTasks by default; real tasks stay
    # RUNNING until stopped, so tasks only move when a test stops them.
    state_manager.set_transition("ecs::task", {"progression": "manual", "times": 10**9})
    yield
    state_manager.unset_transition("ecs::task")


@pytest.fixture
def infra(aws_env):
    with mock_aws():
        yield create_infra()


@pytest.fixture
def editor_lb(infra) -> EditorBalancer:
    """Private editor access: the ALB, its HTTPS listener, and the env overrides that select it."""
    lb_sg = infra.ec2.create_security_group(GroupName="editor-lb", Description="editor load balancer",
                                            VpcId=infra.vpc_id)["GroupId"]
    lb = infra.elb.create_load_balancer(Name="sessions-editor-1a2b3c4", Subnets=infra.subnets, SecurityGroups=[lb_sg],
                                        Scheme="internet-facing", Type="application")["LoadBalancers"][0]
    # The certificate covers the editor domain: sessions are paths on it.
    certificate = _boto_session().client("acm").request_certificate(
        DomainName=EDITOR_DOMAIN, ValidationMethod="DNS")["CertificateArn"]
    listener = infra.elb.create_listener(
        LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTPS", Port=443, SslPolicy="ELBSecurityPolicy-TLS13-1-2-2021-06",
        Certificates=[{"CertificateArn": certificate}],
        DefaultActions=[{"Type": "fixed-response", "FixedResponseConfig": {
            "StatusCode": "404", "ContentType": "text/plain", "MessageBody": "No such session"}}])["Listeners"][0]
    env = {"EDITOR_ACCESS": "private", "ASSIGN_PUBLIC_IP": "DISABLED", "EDITOR_DOMAIN": EDITOR_DOMAIN,
           "LISTENER_ARN": listener["ListenerArn"], "VPC_ID": infra.vpc_id, "USER_POOL_ARN": USER_POOL_ARN,
           "USER_POOL_CLIENT_ID": USER_POOL_CLIENT_ID, "USER_POOL_DOMAIN": USER_POOL_DOMAIN}
    return EditorBalancer(elb=infra.elb, listener_arn=listener["ListenerArn"], vpc_id=infra.vpc_id, env=env)


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def make_service(infra, clock):
    """Build a SessionService over the moto clients; env overrides go through Settings.from_env."""

    def make(publisher: Any = None, rng: Callable[[], float] | None = None, github: Any = None, efs: Any = None,
             **overrides: str) -> SessionService:
        settings = Settings.from_env({**infra.env, **overrides})
        ecs = ScriptedECS(infra.ecs)
        elb = ScriptedELB(infra.elb)
        service = SessionService(settings, dynamodb=infra.ddb, ecs=ecs, ec2=infra.ec2, elb=elb, s3=infra.s3,
                                 github=github, publisher=publisher, efs=efs,
                                 clock=clock, sleep=lambda _s: None, **({"rng": rng} if rng else {}))
        service.scripted_ecs = ecs  # type: ignore[attr-defined]
        service.scripted_elb = elb  # type: ignore[attr-defined]
        return service

    return make


@pytest.fixture
def atomic_moto(monkeypatch):
    """Make each mocked AWS call atomic, as every real DynamoDB request is.

    moto's in-process backends are not thread-safe: TransactWriteItems snapshots whole tables and
    restores them on cancellation, so concurrent requests can clobber each other's writes. A lock
    around moto's request dispatch models AWS's per-request atomicity while our code still runs
    concurrently between calls (which is where quota races would live)."""
    lock = threading.RLock()
    original = BotocoreStubber.process_request

    def process_request(self, request):
        with lock:
            return original(self, request)

    monkeypatch.setattr(BotocoreStubber, "process_request", process_request)


def json_lines(text: str) -> list[dict[str, Any]]:
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("{"):
            out.append(json.loads(line))
    return out


def metrics(text: str, name: str) -> list[dict[str, Any]]:
    return [r for r in json_lines(text) if "_aws" in r and name in r]


def events(text: str, event: str) -> list[dict[str, Any]]:
    return [r for r in json_lines(text) if r.get("event") == event]
