"""Sessions component under mocks: capacity strategy and cluster per stack, the task definition (sizes,
secrets, health check, logs), ECR, every role's trust and policy scoped to what app/sessions calls,
the Lambdas and their events, editor access per mode, and the runtime's env contract end to end."""

from __future__ import annotations

import ast
import copy
import dataclasses
import fnmatch
import importlib
import json
import re
import uuid

import pulumi
import pulumi_aws as aws
import pytest
import yaml
from policy_sentry.querying.actions import get_action_data

from app.sessions.routing import target_group_name, target_group_prefix
from app.sessions.settings import Settings
from components import iam
from components import sessions as sess
from components.config import parse
from components.network import Network, NetworkArgs
from components.sessions import Sessions, SessionsArgs
from tests.conftest import ROOT, build
from tools import program
from tools.mocks import ACCOUNT_ID

TABLE_NAME = "sessions-1a2b3c4"
TABLE_ARN = f"arn:aws:dynamodb:us-east-1:{ACCOUNT_ID}:table/{TABLE_NAME}"
GRAPHQL_URL = "https://abcdefghijklmnopqrstuvwxyz.appsync-api.us-east-1.amazonaws.com/graphql"
GRAPHQL_API_ARN = f"arn:aws:appsync:us-east-1:{ACCOUNT_ID}:apis/abcdefghijklmnopqrstuvwxyz"
CERT = "arn:aws:acm:us-east-1:123456789012:certificate/11111111-2222-3333-4444-555555555555"
USER_POOL_ID = "us-east-1_AbCdEf123"
USER_POOL_ARN = f"arn:aws:cognito-idp:us-east-1:{ACCOUNT_ID}:userpool/{USER_POOL_ID}"

CLUSTER = "aws:ecs/cluster:Cluster"
TASK_DEF = "aws:ecs/taskDefinition:TaskDefinition"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
FUNCTION = "aws:lambda/function:Function"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
RULE = "aws:cloudwatch/eventRule:EventRule"
TARGET = "aws:cloudwatch/eventTarget:EventTarget"
PERMISSION = "aws:lambda/permission:Permission"
SECRET = "aws:secretsmanager/secret:Secret"
LB = "aws:lb/loadBalancer:LoadBalancer"
LISTENER = "aws:lb/listener:Listener"
QUEUE = "aws:sqs/queue:Queue"
KINDS = ("api", "task-state", "reaper")
SECRETISH = re.compile(r"PASS|SECRET|TOKEN|CREDENTIAL|PRIVATE|API_?KEY", re.I)


def _sessions(cfg, opts, wire_private=True, **extra):
    """As the program wires it; wire_private=False leaves out vpc_id / editor_domain (their defaults)."""
    s = cfg.sessions
    network = Network("network", NetworkArgs(
        config=cfg.network, region=cfg.region, log_retention_days=cfg.log_retention_days,
        editor_port=s.editor_port, editor_access=s.editor_access, editor_allowed_cidrs=s.allowed_cidrs,
        efs_workspace=s.efs_workspace), opts)
    if s.efs_workspace:
        extra = {"workspace_security_group_id": network.workspace_security_group_id,
                 "session_subnet_count": cfg.network.azs, "protect_workspaces": cfg.data.deletion_protection, **extra}
    if s.editor_access == "private":
        extra = {"user_pool_id": USER_POOL_ID, "user_pool_arn": USER_POOL_ARN, "user_pool_domain": "aiplatform-prod",
                 **extra}
    if s.editor_access == "private" and wire_private:
        extra = {"vpc_id": network.vpc_id, "editor_domain": s.editor_domain, **extra}
    return Sessions("sessions", SessionsArgs(
        config=s, region=cfg.region, log_retention_days=cfg.log_retention_days,
        public_subnet_ids=network.public_subnet_ids, private_subnet_ids=network.private_subnet_ids,
        session_security_group_id=network.session_security_group_id,
        load_balancer_security_group_id=network.load_balancer_security_group_id,
        sessions_table_name=TABLE_NAME, sessions_table_arn=TABLE_ARN, **extra), opts)


def _wired(cfg, opts):
    """As the program wires it: the budget guard's deny policy needs the starter role and the API
    needs the policy's ARN; a deferred output breaks the cycle."""
    deny_arn, resolve = pulumi.deferred_output()
    component = _sessions(cfg, opts, graphql_url=GRAPHQL_URL, graphql_api_arn=GRAPHQL_API_ARN,
                          budget_deny_policy_arn=deny_arn)
    stand_in = aws.iam.Policy(  # CostGuard's deny policy, which is declared with the starter roles
        "guard-deny", description=pulumi.Output.all(*[r.name for r in component.starter_roles]).apply(
            lambda names: f"budget action targets {','.join(names)}"),
        policy=iam.document([iam.Statement(actions=["ecs:RunTask", "ecs:StartTask"], resources=["*"],
                                           effect="Deny")]), opts=opts)
    resolve(stand_in.arn)
    return component


def _dev_sessions(**changes) -> dict:
    data = yaml.safe_load((ROOT / "Pulumi.dev.yaml").read_text())["config"]["aiplatform:sessions"]
    data = copy.deepcopy(data)
    data.update(changes)
    return {"aiplatform:sessions": data}


@pytest.fixture(scope="module")
def dev():
    return build(_sessions, "dev")[0]


@pytest.fixture(scope="module")
def prod():
    return build(_sessions, "prod")[0]


@pytest.fixture(scope="module")
def wired():
    return build(_wired, "dev")[0]


@pytest.fixture(scope="module")
def reserved():
    return build(_sessions, "dev", overrides=_dev_sessions(**{"lambda": {"reservedConcurrency": 5}}))[0]


@pytest.fixture(scope="module")
def prod_program():
    """The whole prod program (__main__.py): how the component is wired to CostGuard and Observability."""
    return program.run("prod")


# --- helpers -------------------------------------------------------------------------------------
def _own(monitor, type_):
    return [r for r in monitor.of_type(type_) if "aiplatform:sessions:Sessions$" in r.urn]


def _one(monitor, type_):
    regs = _own(monitor, type_)
    assert len(regs) == 1, f"expected one {type_}, got {[r.name for r in regs]}"
    return regs[0]


def _named(monitor, type_, name):
    return next(r for r in _own(monitor, type_) if r.name == name)


def _container(monitor) -> dict:
    defs = json.loads(_one(monitor, TASK_DEF).plain_inputs["containerDefinitions"])
    assert len(defs) == 1
    return defs[0]


def _policy(monitor, role_name) -> list[dict]:
    docs = [r.plain_inputs["policy"] for r in _own(monitor, ROLE_POLICY) if r.name == role_name]
    assert len(docs) == 1, f"{role_name} should have exactly one inline policy"
    return iam.statements(docs[0])


def _actions(stmts) -> set[str]:
    return {a for s in stmts if s["Effect"] == "Allow" for a in s["Action"]}


def _granting(stmts, action) -> list[dict]:
    return [s for s in stmts if action in s["Action"]]


def _env(monitor, kind) -> dict:
    return _named(monitor, FUNCTION, f"sessions-{kind}").plain_inputs["environment"]["variables"]


def _cluster_arn(monitor) -> str:
    return _one(monitor, CLUSTER).outputs["arn"]


def _cluster_name(monitor) -> str:
    return _one(monitor, CLUSTER).outputs["name"]


def _requires_star(action: str) -> bool:
    """True when IAM defines no resource type for the action: '*' is then the only valid resource."""
    service, name = action.split(":")
    rows = [r for rs in get_action_data(service, name).values() for r in rs if r["action"].lower() == action.lower()]
    assert rows, f"policy_sentry does not know {action}"
    return all(r["resource_arn_format"] == "*" for r in rows)


# --- cluster and capacity -------------------------------------------------------------------------
@pytest.mark.parametrize("stack,strategy", [
    ("dev", [{"capacityProvider": "FARGATE_SPOT", "weight": 1, "base": 0}]),
    ("prod", [{"capacityProvider": "FARGATE", "weight": 1, "base": 1},
              {"capacityProvider": "FARGATE_SPOT", "weight": 3, "base": 0}]),
])
def test_default_capacity_strategy_follows_stack(stack, strategy, request):
    providers = _one(request.getfixturevalue(stack), "aws:ecs/clusterCapacityProviders:ClusterCapacityProviders")
    inputs = providers.plain_inputs
    assert inputs["defaultCapacityProviderStrategies"] == strategy
    # Both are attached in every stack: the runtime's on-demand fallback and restarts use FARGATE.
    assert sorted(inputs["capacityProviders"]) == ["FARGATE", "FARGATE_SPOT"]
    assert inputs["clusterName"] == _cluster_name(request.getfixturevalue(stack))


@pytest.mark.parametrize("stack,value", [("dev", "disabled"), ("prod", "enabled")])
def test_container_insights_follows_config(stack, value, request):
    settings = _one(request.getfixturevalue(stack), CLUSTER).plain_inputs["settings"]
    assert settings == [{"name": "containerInsights", "value": value}]


# --- task definition ------------------------------------------------------------------------------
@pytest.mark.parametrize("stack,cpu,memory", [("dev", "1024", "2048"), ("prod", "2048", "4096")])
def test_task_definition_is_fargate_awsvpc_with_config_size_and_architecture(stack, cpu, memory, request):
    td = _one(request.getfixturevalue(stack), TASK_DEF).plain_inputs
    assert (td["cpu"], td["memory"]) == (cpu, memory)
    assert td["requiresCompatibilities"] == ["FARGATE"] and td["networkMode"] == "awsvpc"
    assert td["runtimePlatform"] == {"operatingSystemFamily": "LINUX", "cpuArchitecture": "X86_64"}
    assert td["family"] == f"aiplatform-{stack}-sessions"
    assert "ephemeralStorage" not in td  # Fargate's default 20 GiB


def test_arm64_architecture_reaches_the_task_definition():
    monitor, _ = build(_sessions, "dev", overrides=_dev_sessions(architecture="ARM64"))
    assert _one(monitor, TASK_DEF).plain_inputs["runtimePlatform"]["cpuArchitecture"] == "ARM64"


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_container_never_caps_memory_below_or_above_a_size_preset(stack, request):
    # RunTask overrides task cpu/memory per preset: a hard container limit would break that.
    monitor = request.getfixturevalue(stack)
    container = _container(monitor)
    presets = json.loads(_env(monitor, "api")["SIZE_PRESETS"])
    assert "memory" not in container and "cpu" not in container
    assert container["memoryReservation"] <= min(p["memory"] for p in presets.values())


def test_image_is_the_public_reference_in_dev_and_this_stacks_repository_in_prod(dev, prod):
    # dev: Docker Hub, pulled through the task's public IP (no NAT, nothing to push first).
    assert _container(dev)["image"] == "codercom/code-server:4.96.4"
    # prod: "ecr:4.96.4" = the stack's own repository (scanned, immutable tags, pull scoped to it).
    repository = _one(prod, "aws:ecr/repository:Repository").outputs["repositoryUrl"]
    assert re.fullmatch(rf"{ACCOUNT_ID}\.dkr\.ecr\.us-east-1\.amazonaws\.com/[\w-]+", repository)
    assert _container(prod)["image"] == f"{repository}:4.96.4"
    [pull] = [s for s in _policy(prod, "sessions-exec") if s.get("Sid") == "PullSessionImage"]
    assert pull["Resource"] == [_one(prod, "aws:ecr/repository:Repository").outputs["arn"]]


def test_ecr_image_form_works_in_dev_too():
    monitor, _ = build(_sessions, "dev", overrides=_dev_sessions(image="ecr:v1.2_rc-3"))
    repository = _one(monitor, "aws:ecr/repository:Repository").outputs["repositoryUrl"]
    assert _container(monitor)["image"] == f"{repository}:v1.2_rc-3"


def test_container_port_health_check_and_stop_timeout(dev):
    c = _container(dev)
    assert c["name"] == sess.CONTAINER_NAME and c["essential"] is True
    assert c["image"] == "codercom/code-server:4.96.4"
    assert c["portMappings"] == [{"containerPort": 8080, "hostPort": 8080, "protocol": "tcp", "name": "editor"}]
    check = c["healthCheck"]
    assert check["command"][0] == "CMD-SHELL" and "http://127.0.0.1:8080/healthz" in check["command"][1]
    assert check["startPeriod"] >= 30
    # Spot gives two minutes' warning; Fargate allows at most 120 s between SIGTERM and SIGKILL.
    assert c["stopTimeout"] == 120
    assert c["linuxParameters"] == {"initProcessEnabled": True}
    assert {"name": "PORT", "value": "8080"} in c["environment"]


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_no_platform_wide_secret_reaches_any_container(stack, request):
    """Every session brings its own credentials (a launch file per task): the task definition has no
    secrets, and nothing secret-looking in its environment; no secret value is in code or state."""
    monitor = request.getfixturevalue(stack)
    c = _container(monitor)
    assert "secrets" not in c
    for var in c["environment"]:
        assert not SECRETISH.search(var["name"]), var
    assert [r.name for r in _own(monitor, SECRET)] == []  # neither stack configures a GitHub App
    assert not monitor.of_type("aws:secretsmanager/secretVersion:SecretVersion")


def test_container_environment_selects_the_editor_auth_per_mode(dev, prod):
    assert {e["name"]: e["value"] for e in _container(dev)["environment"]} == {
        "AWS_REGION": "us-east-1", "EDITOR_AUTH": "password", "PORT": "8080"}
    env = {e["name"]: e["value"] for e in _container(prod)["environment"]}
    assert env["EDITOR_AUTH"] == "alb" and env["ALB_ARN"] == _one(prod, LB).outputs["arn"]
    assert env["USER_POOL_ISSUER"] == f"https://cognito-idp.us-east-1.amazonaws.com/{USER_POOL_ID}"


def test_launch_bucket_is_private_encrypted_and_expires_launch_files(dev):
    bucket = _one(dev, "aws:s3/bucket:Bucket")
    block = _one(dev, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock").plain_inputs
    assert all(block[k] for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"))
    sse = _one(dev, "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration")
    assert sse.plain_inputs["rules"][0]["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "AES256"
    [rule] = _one(dev, "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration").plain_inputs["rules"]
    assert rule["status"] == "Enabled" and rule["expiration"]["days"] == 1 and rule["filter"]["prefix"] == "sessions/"
    assert _env(dev, "api")["LAUNCH_BUCKET"] == bucket.id


def test_a_configured_github_app_gets_a_valueless_key_secret_only_launchers_read():
    monitor = build(_sessions, "dev", overrides=_dev_sessions(githubApp={"appId": 123456, "installationId": 4242}))[0]
    [secret] = _own(monitor, SECRET)
    assert secret.plain_inputs["recoveryWindowInDays"] == 7
    assert not monitor.of_type("aws:secretsmanager/secretVersion:SecretVersion")
    env = _env(monitor, "api")
    assert (env["GITHUB_APP_ID"], env["GITHUB_APP_INSTALLATION_ID"]) == ("123456", "4242")
    assert env["GITHUB_APP_KEY_SECRET_ARN"] == secret.outputs["arn"]
    readers = [k for k in KINDS if _granting(_policy(monitor, f"sessions-{k}"), "secretsmanager:GetSecretValue")]
    assert readers == ["api"]  # dev does not restart interrupted sessions
    assert not _granting(_policy(monitor, "sessions-exec"), "secretsmanager:GetSecretValue")


@pytest.mark.parametrize("stack,retention", [("dev", 14), ("prod", 90)])
def test_container_logs_go_to_its_own_group_with_retention(stack, retention, request):
    monitor = request.getfixturevalue(stack)
    group = _named(monitor, LOG_GROUP, "sessions-ide").plain_inputs
    assert group["name"] == f"/aiplatform/{stack}/sessions/ide" and group["retentionInDays"] == retention
    log = _container(monitor)["logConfiguration"]
    assert log["logDriver"] == "awslogs"
    assert log["options"]["awslogs-group"] == group["name"]
    assert log["options"]["awslogs-region"] == "us-east-1"
    assert log["options"]["awslogs-stream-prefix"] == "ide"


# --- ECR ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("stack,keep,mutability", [("dev", 5, "MUTABLE"), ("prod", 20, "IMMUTABLE")])
def test_repository_scans_on_push_keeps_last_images_and_immutability_per_stack(stack, keep, mutability, request):
    monitor = request.getfixturevalue(stack)
    repo = _one(monitor, "aws:ecr/repository:Repository").plain_inputs
    assert repo["imageScanningConfiguration"] == {"scanOnPush": True}
    assert repo["imageTagMutability"] == mutability
    rules = json.loads(_one(monitor, "aws:ecr/lifecyclePolicy:LifecyclePolicy").plain_inputs["policy"])["rules"]
    assert rules == [{"rulePriority": 1, "description": f"Keep the last {keep} images",
                      "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": keep},
                      "action": {"type": "expire"}}]


# --- roles: trust ---------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", KINDS)
def test_lambda_roles_are_assumable_only_by_lambda_in_this_account(dev, kind):
    trust = iam.statements(_named(dev, ROLE, f"sessions-{kind}").plain_inputs["assumeRolePolicy"])
    assert trust == [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": ["sts:AssumeRole"],
                      "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT_ID}}}]


def test_task_role_is_assumable_only_by_ecs_tasks_of_this_account_and_region(dev):
    trust = iam.statements(_named(dev, ROLE, "sessions-task").plain_inputs["assumeRolePolicy"])
    assert trust == [{"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"},
                      "Action": ["sts:AssumeRole"],
                      "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT_ID},
                                    "ArnLike": {"aws:SourceArn": f"arn:aws:ecs:us-east-1:{ACCOUNT_ID}:*"}}}]


def test_execution_role_trusts_ecs_tasks_without_undocumented_conditions(dev):
    # AWS documents source conditions for the task role only; one the agents do not send would stop
    # every task from starting (see the comment in components/sessions.py).
    trust = iam.statements(_named(dev, ROLE, "sessions-exec").plain_inputs["assumeRolePolicy"])
    assert trust == [{"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"},
                      "Action": ["sts:AssumeRole"]}]


def test_task_definition_uses_the_two_task_roles(dev):
    td = _one(dev, TASK_DEF).plain_inputs
    assert td["executionRoleArn"] == _named(dev, ROLE, "sessions-exec").outputs["arn"]
    assert td["taskRoleArn"] == _named(dev, ROLE, "sessions-task").outputs["arn"]


# --- roles: policies ------------------------------------------------------------------------------
def test_task_role_has_no_permissions_at_all(dev):
    task_role = _named(dev, ROLE, "sessions-task")
    attached = [r for r in dev.registrations.values()
                if r.type in (ROLE_POLICY, "aws:iam/rolePolicyAttachment:RolePolicyAttachment")
                and r.plain_inputs.get("role") in (task_role.id, task_role.outputs["name"])]
    assert attached == []
    assert not task_role.plain_inputs.get("managedPolicyArns") and not task_role.plain_inputs.get("inlinePolicies")


def test_execution_role_pulls_only_the_repository_logs_only_its_group_reads_only_launch_files(dev):
    stmts = _policy(dev, "sessions-exec")
    repo_arn = _one(dev, "aws:ecr/repository:Repository").outputs["arn"]
    group_arn = _named(dev, LOG_GROUP, "sessions-ide").outputs["arn"]
    bucket_arn = _one(dev, "aws:s3/bucket:Bucket").outputs["arn"]
    by_sid = {s["Sid"]: s for s in stmts}
    assert by_sid["RegistryLogin"]["Action"] == ["ecr:GetAuthorizationToken"]
    assert by_sid["PullSessionImage"]["Resource"] == [repo_arn]
    assert set(by_sid["PullSessionImage"]["Action"]) == {
        "ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"}
    assert by_sid["WriteOwnLogs"]["Resource"] == [f"{group_arn}:log-stream:*"]
    # environmentFiles: ECS reads the object RunTask names, and locates its bucket.
    assert by_sid["ReadLaunchFiles"] == {"Sid": "ReadLaunchFiles", "Effect": "Allow", "Action": ["s3:GetObject"],
                                         "Resource": [f"{bucket_arn}/sessions/*"]}
    assert by_sid["LocateLaunchBucket"]["Resource"] == [bucket_arn]
    assert len(stmts) == 5


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_run_task_only_for_this_family_in_this_cluster(stack, request):
    monitor = request.getfixturevalue(stack)
    stmts = _policy(monitor, "sessions-api")
    [run] = _granting(stmts, "ecs:RunTask")
    assert run["Action"] == ["ecs:RunTask"]
    assert run["Resource"] == [f"arn:aws:ecs:us-east-1:{ACCOUNT_ID}:task-definition/aiplatform-{stack}-sessions:*"]
    assert run["Condition"] == {"ArnEquals": {"ecs:cluster": _cluster_arn(monitor)}}
    [tag] = [s for s in _granting(stmts, "ecs:TagResource") if s["Sid"] == "TagTasksAtLaunch"]
    assert tag["Condition"] == {"StringEquals": {"ecs:CreateAction": "RunTask"}}
    assert tag["Resource"] == [f"arn:aws:ecs:us-east-1:{ACCOUNT_ID}:task/{_cluster_name(monitor)}/*"]


@pytest.mark.parametrize("kind", KINDS)
def test_stop_and_describe_only_tasks_of_this_cluster(prod, kind):
    tasks = f"arn:aws:ecs:us-east-1:{ACCOUNT_ID}:task/{_cluster_name(prod)}/*"
    stmts = _policy(prod, f"sessions-{kind}")
    for action in ("ecs:StopTask", "ecs:DescribeTasks"):
        for s in _granting(stmts, action):
            assert s["Resource"] == [tasks]
            assert s["Condition"] == {"ArnEquals": {"ecs:cluster": _cluster_arn(prod)}}
    for s in _granting(stmts, "ecs:ListTasks"):
        assert s["Condition"] == {"ArnEquals": {"ecs:cluster": _cluster_arn(prod)}}


def test_pass_role_only_the_two_task_roles_only_to_ecs_tasks(prod):
    expected = sorted(_named(prod, ROLE, n).outputs["arn"] for n in ("sessions-exec", "sessions-task"))
    for kind in KINDS:
        for s in _granting(_policy(prod, f"sessions-{kind}"), "iam:PassRole"):
            assert s["Action"] == ["iam:PassRole"]
            assert s["Resource"] == expected
            assert s["Condition"] == {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}}
    assert _granting(_policy(prod, "sessions-api"), "iam:PassRole")


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_dynamodb_only_on_the_sessions_table_and_its_indexes(stack, request):
    monitor = request.getfixturevalue(stack)
    allowed = {TABLE_ARN, f"{TABLE_ARN}/index/byOwner", f"{TABLE_ARN}/index/byStatus"}
    for kind in KINDS:
        stmts = [s for s in _policy(monitor, f"sessions-{kind}") if any(a.startswith("dynamodb:") for a in s["Action"])]
        assert stmts
        for s in stmts:
            assert all(a.startswith("dynamodb:") for a in s["Action"])
            assert set(s["Resource"]) <= allowed, s
            if any(r.endswith(("/index/byOwner", "/index/byStatus")) for r in s["Resource"]):
                assert s["Action"] == ["dynamodb:Query"]  # indexes are only queried


def test_only_the_api_and_restarting_task_state_handler_may_start_tasks(dev, prod):
    assert "ecs:RunTask" in _actions(_policy(dev, "sessions-api"))
    assert "ecs:RunTask" not in _actions(_policy(dev, "sessions-task-state"))  # restartOnInterruption off
    assert "ecs:RunTask" in _actions(_policy(prod, "sessions-task-state"))  # restartOnInterruption on
    for monitor in (dev, prod):
        reaper = _actions(_policy(monitor, "sessions-reaper"))
        assert not {"ecs:RunTask", "iam:PassRole", "ecs:TagResource"} & reaper


def test_public_ip_lookup_only_in_public_mode(dev, prod):
    for kind in ("task-state", "reaper"):
        [eni] = _granting(_policy(dev, f"sessions-{kind}"), "ec2:DescribeNetworkInterfaces")
        assert eni["Condition"] == {"StringEquals": {"ec2:Region": "us-east-1"}}
        assert "ec2:DescribeNetworkInterfaces" not in _actions(_policy(prod, f"sessions-{kind}"))
    assert "ec2:DescribeNetworkInterfaces" not in _actions(_policy(dev, "sessions-api"))


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_no_wildcard_resource_except_where_iam_offers_no_resource_type(stack, request):
    monitor = request.getfixturevalue(stack)
    for policy in _own(monitor, ROLE_POLICY):
        for s in iam.statements(policy.plain_inputs["policy"]):
            assert s["Effect"] == "Allow"
            if "*" not in s["Resource"]:
                assert not any(r.endswith(":*:*") or r == "arn:aws:ecs:*" for r in s["Resource"])
                continue
            assert s["Resource"] == ["*"], s
            for action in s["Action"]:
                if action == "ecs:ListTasks":
                    # IAM lists a container-instance type, but Fargate tasks have none and ECS
                    # authorizes ListTasks against "*"; the cluster condition scopes it instead.
                    assert s["Condition"] == {"ArnEquals": {"ecs:cluster": _cluster_arn(monitor)}}
                else:
                    assert _requires_star(action), f"{policy.name}: {action} has a resource type, scope it"


def test_requires_star_is_a_real_check():
    assert _requires_star("xray:PutTraceSegments") and _requires_star("ecr:GetAuthorizationToken")
    assert _requires_star("ec2:DescribeNetworkInterfaces")
    assert not _requires_star("ecs:RunTask") and not _requires_star("ecs:ListTasks")


# Per class of app/sessions: its boto3 client attributes, and attributes holding another class.
_CLASSES = {
    ("service.py", "SessionService"): {"clients": {"_ddb": "dynamodb", "_ecs": "ecs", "_ec2": "ec2"},
                                       "objects": {"_routes": "EditorRoutes", "_access": "SessionAccess",
                                                   "_workspaces": "Workspaces"}},
    ("workspace.py", "Workspaces"): {"clients": {"_efs": "elasticfilesystem", "_ecs": "ecs", "_ddb": "dynamodb"},
                                     "objects": {}},
    ("routing.py", "EditorRoutes"): {"clients": {"_elb": "elasticloadbalancing"}, "objects": {}},
    ("access.py", "SessionAccess"): {"clients": {"_s3": "s3"}, "objects": {"_github": "GitHubApp"}},
    ("credentials.py", "GitHubApp"): {"clients": {"_secrets": "secretsmanager"}, "objects": {}},
}
_MIXINS = {"SessionService": (("launch.py", "Launching"), ("events.py", "TaskEvents"), ("reaper.py", "Reaping"))}
_ITEM_OPS = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem", "ConditionCheck": "ConditionCheckItem"}
# Calls that need a second permission: RunTask with tags and task roles, creations with tags.
_IMPLIED = {"ecs:RunTask": {"ecs:TagResource", "iam:PassRole"},
            "elasticloadbalancing:CreateTargetGroup": {"elasticloadbalancing:AddTags"},
            "elasticloadbalancing:CreateRule": {"elasticloadbalancing:AddTags"},
            "elasticfilesystem:CreateAccessPoint": {"elasticfilesystem:TagResource"},
            "ecs:RegisterTaskDefinition": {"ecs:TagResource", "iam:PassRole"}}
GATED_SERVICES = ("dynamodb", "ecs", "ec2", "iam", "elasticloadbalancing", "s3", "secretsmanager", "elasticfilesystem")


def _iam_action(service: str, method: str) -> str:
    return f"{service}:{''.join(p.capitalize() for p in method.split('_'))}"


def _self_attr(node: ast.AST) -> str | None:
    """'x' for self.x, else None."""
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "self":
        return node.attr
    return None


def _handler_calls() -> dict[str, set[str]]:
    """IAM actions each Lambda's code path can reach: a static call graph from the handler's entry
    points through SessionService (and the EditorRoutes it holds) to every boto3 client call.
    TransactWriteItems has no IAM action of its own (it is authorized per item operation), so the
    Put/Update/Delete items the code builds count."""
    methods: dict[str, dict[str, ast.FunctionDef]] = {}
    for (module, cls), _ in _CLASSES.items():
        methods[cls] = {}
        # SessionService's methods live in it and in its mixins (launch.py, events.py, reaper.py).
        for part, part_cls in ((module, cls), *_MIXINS.get(cls, ())):
            tree = ast.parse((sess.PACKAGE / part).read_text())
            node = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == part_cls)
            methods[cls].update({f.name: f for f in node.body if isinstance(f, ast.FunctionDef)})
    direct: dict[tuple[str, str], set[str]] = {}
    calls: dict[tuple[str, str], set[tuple[str, str]]] = {}
    for (_, cls), spec in _CLASSES.items():
        for name, fn in methods[cls].items():
            key = (cls, name)
            direct[key], calls[key] = set(), set()
            for node in ast.walk(fn):
                if isinstance(node, ast.Attribute) and _self_attr(node.value) in spec["clients"] \
                        and node.attr != "transact_write_items":
                    direct[key].add(_iam_action(spec["clients"][_self_attr(node.value)], node.attr))
                elif isinstance(node, ast.Attribute) and _self_attr(node.value) in spec["objects"]:
                    other = spec["objects"][_self_attr(node.value)]
                    if node.attr in methods[other]:
                        calls[key].add((other, node.attr))
                elif _self_attr(node) in methods[cls]:
                    calls[key].add((cls, node.attr))
                elif isinstance(node, ast.Dict):
                    keys = {k.value for k in node.keys if isinstance(k, ast.Constant)}
                    direct[key] |= {f"dynamodb:{_ITEM_OPS[k]}" for k in keys & set(_ITEM_OPS)}

    def reach(entry: tuple[str, str], seen: set) -> set[str]:
        if entry in seen:
            return set()
        seen.add(entry)
        out = set(direct[entry])
        for callee in calls[entry]:
            out |= reach(callee, seen)
        return out

    handlers = ast.parse((sess.PACKAGE / "handlers.py").read_text())
    result = {}
    for kind, handler in sess.HANDLERS.items():
        fn = next(n for n in handlers.body if isinstance(n, ast.FunctionDef) and n.name == handler.rsplit(".", 1)[1])
        entries = {("SessionService", n.attr) for n in ast.walk(fn)
                   if isinstance(n, ast.Attribute) and n.attr in methods["SessionService"]}
        assert entries, f"{handler} calls no SessionService method"
        actions = set().union(*(reach(e, set()) for e in entries))
        for action, implied in _IMPLIED.items():
            if action in actions:
                actions |= implied
        result[kind] = actions
    return result


def test_call_graph_finds_the_calls_it_should():
    calls = _handler_calls()
    assert {"dynamodb:PutItem", "dynamodb:Query", "ecs:RunTask", "iam:PassRole"} <= calls["api"]
    assert {"ecs:DescribeTasks", "dynamodb:Scan"} <= calls["reaper"]
    # Through EditorRoutes: the API only removes routings, the task-state handler also creates them.
    assert {a for a in calls["api"] if a.startswith("elasticloadbalancing:")} == {
        "elasticloadbalancing:DeleteRule", "elasticloadbalancing:DeleteTargetGroup"}
    assert {"elasticloadbalancing:CreateRule", "elasticloadbalancing:AddTags",
            "elasticloadbalancing:RegisterTargets"} <= calls["task-state"]
    assert "elasticloadbalancing:DescribeTags" in calls["reaper"] - calls["task-state"]
    # Launch credentials: the launch file and the GitHub App's key, where tasks are launched.
    assert {"s3:PutObject", "secretsmanager:GetSecretValue"} <= calls["api"] & calls["task-state"]
    assert "s3:PutObject" not in calls["reaper"]


@pytest.mark.parametrize("stack", ["dev", "prod"])
@pytest.mark.parametrize("kind", KINDS)
def test_each_lambda_is_granted_exactly_the_calls_its_code_path_makes(stack, kind, request):
    monitor = request.getfixturevalue(stack)
    granted = {a for a in _actions(_policy(monitor, f"sessions-{kind}")) if a.split(":")[0] in GATED_SERVICES}
    expected = _handler_calls()[kind]
    # Paths the component gates by config: relaunching interrupted sessions (prod only), the
    # public-IP lookup (public access, dev only) and load-balancer routing (private access, prod only).
    if kind == "task-state" and stack == "dev":
        expected -= {"ecs:RunTask", "ecs:TagResource", "iam:PassRole", "ecs:ListTasks", "s3:PutObject"}
    # Minting Git tokens (the App's key) only with sessions.githubApp, which neither stack sets.
    expected -= {"secretsmanager:GetSecretValue"}
    if stack == "prod":
        expected -= {"ec2:DescribeNetworkInterfaces"}
    if stack == "dev":
        expected = {a for a in expected if not a.startswith("elasticloadbalancing:")}
        # Persistent workspaces (sessions.workspace efs) are prod's only.
        expected = {a for a in expected if not a.startswith("elasticfilesystem:")} - {
            "ecs:DescribeTaskDefinition", "ecs:RegisterTaskDefinition"}
    assert granted == expected


def test_lambdas_write_only_their_own_logs_traces_and_dead_letters(dev):
    dlq = _one(dev, QUEUE).outputs["arn"]
    for kind in KINDS:
        stmts = {s.get("Sid"): s for s in _policy(dev, f"sessions-{kind}")}
        group = _named(dev, LOG_GROUP, f"sessions-{kind}").outputs["arn"]
        assert stmts["WriteOwnLogs"]["Resource"] == [f"{group}:log-stream:*"]
        assert stmts["XRayWrite"]["Action"] == ["xray:PutTelemetryRecords", "xray:PutTraceSegments"]
        assert stmts["DeadLetterQueue"] == {"Sid": "DeadLetterQueue", "Effect": "Allow",
                                            "Action": ["sqs:SendMessage"], "Resource": [dlq]}
        assert "PublishSessionUpdates" not in stmts  # no GraphQL API given


def test_publishing_is_granted_only_on_the_publish_field_when_an_api_is_given(wired):
    for kind in KINDS:
        [s] = _granting(_policy(wired, f"sessions-{kind}"), "appsync:GraphQL")
        assert s["Resource"] == [f"{GRAPHQL_API_ARN}/types/Mutation/fields/publishSessionUpdate"]
        assert _env(wired, kind)["GRAPHQL_URL"] == GRAPHQL_URL


def _run_task_roles(monitor) -> list[str]:
    """Names of the roles whose policy grants ecs:RunTask, in KINDS order."""
    return [_named(monitor, ROLE, f"sessions-{kind}").outputs["name"] for kind in KINDS
            if "ecs:RunTask" in _actions(_policy(monitor, f"sessions-{kind}"))]


def test_starter_roles_are_every_role_that_may_run_tasks(wired, prod):
    # dev: only the API starts tasks; the deferred deny policy is declared with exactly its role.
    stand_in = next(r for r in wired.of_type("aws:iam/policy:Policy") if r.name == "guard-deny")
    assert stand_in.plain_inputs["description"] == f"budget action targets {','.join(_run_task_roles(wired))}"
    assert _run_task_roles(wired) == [_named(wired, ROLE, "sessions-api").outputs["name"]]
    # prod restarts interrupted sessions, so the task-state role launches tasks too.
    outputs = prod.of_type("aiplatform:sessions:Sessions")[0].outputs
    assert outputs["starterRoleArns"] == [_named(prod, ROLE, f"sessions-{k}").outputs["arn"] for k in ("api", "task-state")]
    assert len(_run_task_roles(prod)) == 2


def test_the_budget_action_denies_every_role_that_may_run_tasks(prod_program):
    monitor = prod_program.monitor
    [action] = monitor.of_type("aws:budgets/budgetAction:BudgetAction")
    roles = action.plain_inputs["definition"]["iamActionDefinition"]["roles"]
    assert roles == _run_task_roles(monitor) and len(roles) == 2


# --- Lambdas --------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", KINDS)
def test_lambda_runtime_tracing_logging_and_dead_letter(dev, kind):
    fn = _named(dev, FUNCTION, f"sessions-{kind}").plain_inputs
    group = _named(dev, LOG_GROUP, f"sessions-{kind}").plain_inputs
    assert fn["runtime"] == "python3.12" and fn["architectures"] == ["arm64"]
    assert fn["handler"] == sess.HANDLERS[kind]
    assert fn["tracingConfig"] == {"mode": "Active"}
    assert fn["loggingConfig"]["logGroup"] == group["name"] == f"/aiplatform/dev/sessions/{kind}"
    # The runtime writes JSON lines and EMF metric documents itself; EMF needs them unwrapped.
    assert fn["loggingConfig"]["logFormat"] == "Text"
    assert group["retentionInDays"] == 14
    assert fn["deadLetterConfig"] == {"targetArn": _one(dev, QUEUE).outputs["arn"]}
    assert (fn["memorySize"], fn["timeout"]) == (256, {"api": 30, "task-state": 60, "reaper": 300}[kind])
    assert "vpcConfig" not in fn  # outside the VPC: no NAT needed to reach ECS and DynamoDB
    assert fn["role"] == _named(dev, ROLE, f"sessions-{kind}").outputs["arn"]


def test_reserved_concurrency_only_when_configured(dev, reserved):
    for kind in KINDS:
        assert "reservedConcurrentExecutions" not in _named(dev, FUNCTION, f"sessions-{kind}").plain_inputs
        # The single-number form reserves the same for all three.
        assert _named(reserved, FUNCTION, f"sessions-{kind}").plain_inputs["reservedConcurrentExecutions"] == 5


def test_reserved_concurrency_per_function(prod):
    reserved = {kind: _named(prod, FUNCTION, f"sessions-{kind}").plain_inputs.get("reservedConcurrentExecutions")
                for kind in KINDS}
    assert reserved == {"api": 20, "task-state": 10, "reaper": 1}  # Pulumi.prod.yaml; reaper runs never overlap
    monitor, _ = build(_sessions, "dev", overrides=_dev_sessions(**{"lambda": {"reservedConcurrency": {"reaper": 1}}}))
    partial = {kind: _named(monitor, FUNCTION, f"sessions-{kind}").plain_inputs.get("reservedConcurrentExecutions")
               for kind in KINDS}
    assert partial == {"api": None, "task-state": None, "reaper": 1}


def test_observability_sizes_concurrency_alarms_from_each_functions_own_reservation(prod_program):
    alarms = {r.plain_inputs["name"]: r.plain_inputs for r in prod_program.monitor.of_type(
        "aws:cloudwatch/metricAlarm:MetricAlarm") if r.plain_inputs["name"].endswith("-concurrency")}
    thresholds = {name.split("sessions-", 1)[1]: a["threshold"] for name, a in alarms.items() if "sessions-" in name}
    # Pulumi.prod.yaml: lambdaConcurrencyPercent 80 % of api 20 / taskState 10. The reaper reserves 1
    # (runs never overlap): 80 % of it rounds up to the whole reservation, so no alarm would ever
    # clear between runs; its throttles alarm covers an overlap.
    assert thresholds == {"api-concurrency": 16, "task-state-concurrency": 8}


def test_lambda_code_is_the_sessions_package_and_the_handlers_exist(dev):
    code = _named(dev, FUNCTION, "sessions-api").inputs["code"]
    package = code["assets"]["sessions"]["assets"]
    assert {"__init__.py", "handlers.py", "settings.py", "service.py"} <= set(package)
    assert not any("__pycache__" in k or k.endswith(".pyc") for k in package)
    # The Fargate size table ships from its one source, the policy pack, beside settings.py.
    from policies import fargate
    assert package["fargate.py"]["path"] == str(fargate.__file__)
    assert package["data/fargate-sizes.json"]["path"] == str(fargate.DATA_FILE)
    for handler in sess.HANDLERS.values():
        module, _, attr = handler.rpartition(".")
        assert callable(getattr(importlib.import_module(f"app.{module}"), attr))


def test_async_invocations_retry_then_dead_letter(dev):
    invoke_configs = _own(dev, "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig")
    configs = {r.name: r.plain_inputs for r in invoke_configs}
    # AppSync calls the API synchronously; only the EventBridge-driven functions are invoked async.
    assert set(configs) == {"sessions-task-state", "sessions-reaper"}
    for name, cfg in configs.items():
        assert cfg["functionName"] == _named(dev, FUNCTION, name).outputs["name"]
        assert cfg["maximumRetryAttempts"] == 2


def test_dead_letter_queue_is_encrypted_and_accepts_only_our_rules(dev):
    queue = _one(dev, QUEUE).plain_inputs
    assert queue["sqsManagedSseEnabled"] is True and queue["messageRetentionSeconds"] == 1209600
    [stmt] = iam.statements(_one(dev, "aws:sqs/queuePolicy:QueuePolicy").plain_inputs["policy"])
    rules = sorted(r.outputs["arn"] for r in _own(dev, RULE))
    assert stmt["Principal"] == {"Service": "events.amazonaws.com"}
    assert stmt["Action"] == ["sqs:SendMessage"] and stmt["Resource"] == [_one(dev, QUEUE).outputs["arn"]]
    assert sorted(stmt["Condition"]["ArnEquals"]["aws:SourceArn"]) == rules


# --- events ---------------------------------------------------------------------------------------
def test_task_state_rule_matches_this_clusters_task_changes(dev):
    rule = _named(dev, RULE, "sessions-task-state").plain_inputs
    assert json.loads(rule["eventPattern"]) == {"source": ["aws.ecs"], "detail-type": ["ECS Task State Change"],
                                                "detail": {"clusterArn": [_cluster_arn(dev)]}}


def test_reaper_runs_on_the_configured_schedule(dev):
    # Idle timeouts and the launch grace are measured by the reaper: at least every 10 minutes.
    assert _named(dev, RULE, "sessions-reaper").plain_inputs["scheduleExpression"] == "rate(10 minutes)"


@pytest.mark.parametrize("kind", ["task-state", "reaper"])
def test_rules_target_their_function_with_a_permission_bound_to_the_rule(dev, kind):
    rule = _named(dev, RULE, f"sessions-{kind}")
    fn = _named(dev, FUNCTION, f"sessions-{kind}")
    target = _named(dev, TARGET, f"sessions-{kind}").plain_inputs
    assert target["arn"] == fn.outputs["arn"] and target["rule"] == rule.outputs["name"]
    assert target["deadLetterConfig"] == {"arn": _one(dev, QUEUE).outputs["arn"]}
    perm = _named(dev, PERMISSION, f"sessions-{kind}").plain_inputs
    assert perm["principal"] == "events.amazonaws.com" and perm["action"] == "lambda:InvokeFunction"
    assert perm["sourceArn"] == rule.outputs["arn"] and perm["function"] == fn.outputs["name"]
    assert perm["sourceAccount"] == ACCOUNT_ID
    assert len(_own(dev, PERMISSION)) == 2  # AppSync's permission on the API belongs to the API component


# --- editor access --------------------------------------------------------------------------------
def test_public_mode_has_no_load_balancer_and_tasks_get_public_ips(dev):
    assert not dev.of_type(LB) and not dev.of_type(LISTENER)
    env = _env(dev, "api")
    assert env["ASSIGN_PUBLIC_IP"] == "ENABLED" and "EDITOR_BASE_URL" not in env
    vpc = dev.of_type("awsx:ec2:Vpc")[0].outputs
    assert env["SUBNETS"].split(",") == vpc["publicSubnetIds"]


def test_private_mode_serves_tls_from_the_configured_certificate(prod):
    lb = _one(prod, LB).plain_inputs
    assert lb["internal"] is False and lb["loadBalancerType"] == "application"
    assert lb["dropInvalidHeaderFields"] is True
    vpc = prod.of_type("awsx:ec2:Vpc")[0].outputs
    assert lb["subnets"] == vpc["publicSubnetIds"]
    lb_sg = next(r for r in prod.of_type("aws:ec2/securityGroup:SecurityGroup") if r.name == "network-lb")
    assert lb["securityGroups"] == [lb_sg.id]
    listeners = _own(prod, LISTENER)
    assert len(listeners) == 1  # HTTPS only: no plain-HTTP listener
    listener = listeners[0].plain_inputs
    assert (listener["port"], listener["protocol"], listener["certificateArn"]) == (443, "HTTPS", CERT)
    assert listener["sslPolicy"] == "ELBSecurityPolicy-TLS13-1-2-2021-06"
    # Everyone signs in with the platform's pool first (which also serves the callback), then 404.
    sign_in, not_found = listener["defaultActions"]
    client = _one(prod, "aws:cognito/userPoolClient:UserPoolClient")
    assert sign_in["type"] == "authenticate-cognito" and sign_in["order"] == 1
    assert sign_in["authenticateCognito"] == {
        "userPoolArn": USER_POOL_ARN, "userPoolClientId": client.id, "userPoolDomain": "aiplatform-prod",
        "onUnauthenticatedRequest": "authenticate", "scope": "openid", "sessionTimeout": 43200}
    assert not_found["order"] == 2 and not_found["fixedResponse"]["statusCode"] == "404"
    c = client.plain_inputs
    assert c["generateSecret"] is True and c["allowedOauthFlows"] == ["code"] and c["userPoolId"] == USER_POOL_ID
    assert c["callbackUrls"] == ["https://ide.example.com/oauth2/idpresponse"]  # one URL: sessions are paths


def test_private_mode_tasks_run_in_private_subnets_behind_the_load_balancer(prod):
    vpc = prod.of_type("awsx:ec2:Vpc")[0].outputs
    for kind in KINDS:
        env = _env(prod, kind)
        assert env["ASSIGN_PUBLIC_IP"] == "DISABLED"
        assert env["SUBNETS"].split(",") == vpc["privateSubnetIds"]
        # Per-session routing: paths /<sessionId>/ on host ide.example.com on this listener, target groups in this VPC.
        assert env["EDITOR_DOMAIN"] == "ide.example.com"
        assert env["LISTENER_ARN"] == _one(prod, LISTENER).outputs["arn"]
        assert env["VPC_ID"] == vpc["vpcId"]
        assert "EDITOR_BASE_URL" not in env


def test_listener_arn_has_the_shape_aws_gives_it(prod):
    listener = _one(prod, LISTENER).outputs["arn"]
    lb = _one(prod, LB).outputs["arn"]
    assert listener.startswith(lb.replace(":loadbalancer/", ":listener/") + "/")
    assert re.fullmatch(r"arn:aws:elasticloadbalancing:us-east-1:\d{12}:listener/app/[\w-]+/[0-9a-f]{16}/[0-9a-f]{16}",
                        listener)


def test_without_explicit_wiring_routing_uses_the_configs_domain_and_the_load_balancers_vpc():
    """What the program declares until it passes vpc_id and editor_domain itself."""
    monitor, _ = build(lambda cfg, opts: _sessions(cfg, opts, wire_private=False), "prod")
    env = _env(monitor, "task-state")
    assert env["EDITOR_DOMAIN"] == "ide.example.com"
    assert env["VPC_ID"] == _one(monitor, LB).outputs["vpcId"] == monitor.of_type("awsx:ec2:Vpc")[0].outputs["vpcId"]
    Settings.from_env(env)


# --- private access: IAM for per-session routing --------------------------------------------------
def _iam_match(pattern: str, arn: str) -> bool:
    """IAM ARN matching: '*' matches any run of characters (slashes included), '?' one character."""
    return fnmatch.fnmatchcase(arn, pattern.replace("[", "[[]"))


def _routing_arns(listener: str) -> dict[str, str]:
    sid = str(uuid.uuid4())
    return {"group": f"arn:aws:elasticloadbalancing:us-east-1:{ACCOUNT_ID}:targetgroup/"
                     f"{target_group_name(listener, sid)}/0123456789abcdef",
            "rule": listener.replace(":listener/", ":listener-rule/") + "/fedcba9876543210"}


@pytest.mark.parametrize("kind", KINDS)
def test_routing_grants_are_scoped_to_this_listener_and_its_target_group_prefix(prod, kind):
    listener = _one(prod, LISTENER).outputs["arn"]
    mine = _routing_arns(listener)
    # Another stack's listener on another load balancer: its rules and groups must stay out of reach.
    theirs = _routing_arns(re.sub(r"/[0-9a-f]{16}/[0-9a-f]{16}$", "/0000000000000000/1111111111111111", listener))
    stmts = [st for st in _policy(prod, f"sessions-{kind}") if any(a.startswith("elasticloadbalancing:") for a in st["Action"])]
    assert stmts
    for st in stmts:
        for action in st["Action"]:
            if _requires_star(action):
                assert st["Resource"] == ["*"], action
                continue
            if action == "elasticloadbalancing:CreateRule":  # authorized on the listener it adds to
                assert st["Resource"] == [listener], action
                continue
            assert all(_iam_match(r, mine["group"]) or _iam_match(r, mine["rule"]) for r in st["Resource"]), st
            assert not any(_iam_match(r, theirs["group"]) or _iam_match(r, theirs["rule"]) for r in st["Resource"]), st
    by_action = {a: st for st in stmts for a in st["Action"]}
    if "elasticloadbalancing:DeleteTargetGroup" in by_action:
        prefix = target_group_prefix(listener)
        assert by_action["elasticloadbalancing:DeleteTargetGroup"]["Resource"] == [
            f"arn:aws:elasticloadbalancing:us-east-1:{ACCOUNT_ID}:targetgroup/{prefix}-*/*"]
    assert by_action["elasticloadbalancing:DeleteRule"]["Resource"] == [
        listener.replace(":listener/", ":listener-rule/") + "/*"]
    if "elasticloadbalancing:AddTags" in by_action:
        # Tagging only as part of creating a session's group or rule.
        assert by_action["elasticloadbalancing:AddTags"]["Condition"] == {
            "StringEquals": {"elasticloadbalancing:CreateAction": ["CreateTargetGroup", "CreateRule"]}}


def test_only_the_roles_that_route_may_create_and_the_api_may_only_remove(dev, prod):
    api = {a for a in _actions(_policy(prod, "sessions-api")) if a.startswith("elasticloadbalancing:")}
    assert api == {"elasticloadbalancing:DeleteRule", "elasticloadbalancing:DeleteTargetGroup"}
    for kind in ("task-state", "reaper"):
        assert "elasticloadbalancing:CreateRule" in _actions(_policy(prod, f"sessions-{kind}"))
    for kind in KINDS:  # public mode has no load balancer
        assert not [a for a in _actions(_policy(dev, f"sessions-{kind}")) if a.startswith("elasticloadbalancing:")]


def test_the_iam_matcher_is_a_real_check():
    assert _iam_match("arn:x:targetgroup/ide12345-*/*", "arn:x:targetgroup/ide12345-abc/0f")
    assert not _iam_match("arn:x:targetgroup/ide12345-*/*", "arn:x:targetgroup/ide54321-abc/0f")


# --- the runtime contract -------------------------------------------------------------------------
@pytest.mark.parametrize("fixture", ["dev", "prod", "wired"])
def test_every_lambda_env_satisfies_the_runtime_settings(fixture, request):
    monitor = request.getfixturevalue(fixture)
    for kind in KINDS:
        env = _env(monitor, kind)
        settings = Settings.from_env(env)  # raises ConfigurationError naming a missing/bad variable
        assert settings.cluster_arn == _cluster_arn(monitor)
        assert settings.sessions_table == TABLE_NAME
        assert settings.container_name == _container(monitor)["name"]
        assert settings.task_family == _one(monitor, TASK_DEF).plain_inputs["family"]
        assert settings.editor_port == _container(monitor)["portMappings"][0]["containerPort"]
        for name, value in env.items():
            assert not SECRETISH.search(name), name
            assert "BEGIN" not in value and "offline-preview-secret" not in value


def test_component_sets_only_variables_the_runtime_reads(dev, prod, wired):
    source = (sess.PACKAGE / "settings.py").read_text()
    read = set(re.findall(r'env\.[a-z_]+\(\s*"([A-Z][A-Z0-9_]*)"', source))
    assert {"CLUSTER_ARN", "SUBNETS", "EDITOR_ACCESS"} <= read  # the pattern still finds them
    for monitor in (dev, prod, wired):
        assert set(_env(monitor, "api")) <= read


def test_runtime_settings_follow_stack_config(dev, prod):
    d, p = Settings.from_env(_env(dev, "api")), Settings.from_env(_env(prod, "api"))
    assert [i.capacity_provider for i in d.capacity_provider_strategy] == ["FARGATE_SPOT"]
    assert (p.on_demand_fallback, p.restart_on_interruption) == (True, True)
    assert {x.name: (x.cpu, x.memory) for x in p.size_presets} == {"default": (2048, 4096), "large": (4096, 8192)}
    assert (d.max_sessions_per_user, p.max_sessions_per_user) == (2, 3)
    assert d.max_lifetime_hours == 12 and d.idle_timeout_minutes == 60


def test_budget_deny_policy_arrives_through_a_deferred_output(wired):
    policy_arn = next(r for r in wired.of_type("aws:iam/policy:Policy") if r.name == "guard-deny").outputs["arn"]
    settings = Settings.from_env(_env(wired, "api"))
    assert settings.budget_deny_policy_arn == policy_arn
    assert settings.graphql_url == GRAPHQL_URL and settings.graphql_region == "us-east-1"


# --- names, structure, validation -----------------------------------------------------------------
@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_auto_named_physical_names_fit_aws_limits(stack, request):
    monitor = request.getfixturevalue(stack)
    limits = {ROLE: 64, FUNCTION: 64, RULE: 64, LB: 32, QUEUE: 80, CLUSTER: 255,
              "aws:ecr/repository:Repository": 256, SECRET: 512}
    for type_, limit in limits.items():
        for reg in _own(monitor, type_):
            physical = reg.outputs["name"]
            assert len(physical) <= limit, f"{type_} {physical!r} is longer than {limit}"
            assert physical == f"{reg.name}-{physical.rsplit('-', 1)[1]}" and len(physical) == len(reg.name) + 8


def _config(stack: str):
    raw, secrets = program.stack_config(stack)
    return parse(raw, stack, secrets).sessions


def _settings_args(**changes) -> SessionsArgs:
    base = dict(config=_config("dev"), region="us-east-1", log_retention_days=14, public_subnet_ids=["subnet-1"],
                private_subnet_ids=["subnet-2"], session_security_group_id="sg-1",
                sessions_table_name=TABLE_NAME, sessions_table_arn=TABLE_ARN)
    base.update(changes)
    return SessionsArgs(**base)


def test_long_component_names_are_refused_before_aws_would():
    cfg = _settings_args()
    with pytest.raises(ValueError, match=r"the alb name 'sessions-for-the-team-editor' .* 32 characters"):
        sess.validate("sessions-for-the-team", cfg)
    sess.validate("sessions", cfg)


@pytest.mark.parametrize("changes,message", [
    ({"graphql_url": GRAPHQL_URL}, "graphql_url and graphql_api_arn go together"),
    ({"graphql_api_arn": GRAPHQL_API_ARN}, "graphql_url and graphql_api_arn go together"),
    ({"load_balancer_security_group_id": "sg-2"}, "only applies when editorAccess is private"),
    ({"editor_domain": "ide.example.com"}, "editor_domain only applies when editorAccess is private"),
    ({"vpc_id": "vpc-1"}, "vpc_id only applies when editorAccess is private"),
])
def test_inconsistent_arguments_are_refused(changes, message):
    with pytest.raises(ValueError, match=message):
        sess.validate("sessions", _settings_args(**changes))


def test_private_mode_needs_the_load_balancer_group():
    with pytest.raises(ValueError, match="load_balancer_security_group_id is required when editorAccess is private"):
        sess.validate("sessions", _settings_args(config=_config("prod")))


def test_editor_domain_must_agree_with_the_config():
    prod = dataclasses.replace(_config("prod"), workspace="ephemeral")
    with pytest.raises(ValueError, match="editor_domain 'other.example.com' differs from config.editor_domain"):
        sess.validate("sessions", _settings_args(config=prod, load_balancer_security_group_id="sg-2",
                                                 editor_domain="other.example.com"))
    with pytest.raises(ValueError, match=r"editor_domain \(or config.editor_domain\) is required when editorAccess is private"):
        sess.validate("sessions", _settings_args(config=dataclasses.replace(prod, editor_domain=None),
                                                 load_balancer_security_group_id="sg-2"))
    with pytest.raises(ValueError, match="editor_domain 'IDE' must be a lowercase DNS name"):
        sess.validate("sessions", _settings_args(config=dataclasses.replace(prod, editor_domain=None),
                                                 load_balancer_security_group_id="sg-2", editor_domain="IDE"))
    with pytest.raises(ValueError, match="user_pool_id is required when editorAccess is private"):
        sess.validate("sessions", _settings_args(config=prod, load_balancer_security_group_id="sg-2",
                                                 editor_domain="ide.example.com", vpc_id="vpc-1"))
    sess.validate("sessions", _settings_args(config=prod, load_balancer_security_group_id="sg-2",
                                             editor_domain="ide.example.com", vpc_id="vpc-1", user_pool_id="p",
                                             user_pool_arn="a", user_pool_domain="d"))


def test_every_child_is_parented_to_the_component(prod):
    component = prod.of_type("aiplatform:sessions:Sessions")[0]
    children = [r for r in prod.registrations.values() if "aiplatform:sessions:Sessions$" in r.urn]
    assert len(children) > 30
    # The workspaces component's own children are parented to it, and it to Sessions.
    [workspaces] = prod.of_type("aiplatform:sessions:Workspaces")
    assert workspaces.parent == component.urn
    assert all(r.parent == (workspaces.urn if "Workspaces$" in r.urn else component.urn) for r in children)


def test_outputs_are_registered(prod):
    outputs = prod.of_type("aiplatform:sessions:Sessions")[0].outputs
    assert outputs["clusterArn"] == _cluster_arn(prod)
    assert outputs["starterRoleArns"][0] == _named(prod, ROLE, "sessions-api").outputs["arn"]
    assert outputs["editorDomain"] == "ide.example.com"
    assert outputs["listenerArn"].startswith("arn:aws:elasticloadbalancing:")
    assert set(outputs) >= {"repositoryUrl", "apiFunctionArn", "apiFunctionName", "taskStateFunctionArn",
                            "reaperFunctionArn", "dlqArn", "taskDefinitionFamily", "taskLogGroupName"}


def test_the_task_role_may_only_report_its_sessions_activity(wired):
    [doc] = [r.plain_inputs["policy"] for r in _own(wired, ROLE_POLICY) if r.name == "sessions-task"]
    assert iam.statements(doc) == [{"Sid": "ReportOwnActivity", "Effect": "Allow", "Action": ["appsync:GraphQL"],
                                    "Resource": [f"{GRAPHQL_API_ARN}/types/Mutation/fields/reportSessionActivity"]}]
    task_role = _named(wired, ROLE, "sessions-task")
    assert _env(wired, "api")["TASK_ROLE_NAME"] == task_role.outputs["name"]
    env = {e["name"]: e["value"] for e in _container(wired)["environment"]}
    assert env["GRAPHQL_URL"] == GRAPHQL_URL


def test_each_function_gets_its_own_timeout_and_the_alarms_follow(dev, prod_program):
    """The API answers AppSync within 30 s; the reaper sweeps the whole table, orphans and routings."""
    assert {k: _named(dev, FUNCTION, f"sessions-{k}").plain_inputs["timeout"] for k in KINDS} == {
        "api": 30, "task-state": 60, "reaper": 300}
    monitor = prod_program.monitor
    [reaper_p95] = [r for r in monitor.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
                    if r.name == "observability-sessions-reaper-duration-p95"]
    assert reaper_p95.plain_inputs["threshold"] == 300 * 1000 * 0.8
    one = build(_sessions, "dev", overrides=_dev_sessions(**{"lambda": {"timeoutSeconds": {"reaper": 600}}}))[0]
    assert _named(one, FUNCTION, "sessions-reaper").plain_inputs["timeout"] == 600
    assert _named(one, FUNCTION, "sessions-api").plain_inputs["timeout"] == 30


def test_publish_resolver_admits_exactly_the_roles_the_program_gives_the_sessions_functions(prod_program):
    """Mutation.publishSessionUpdate.js refuses IAM callers outside the sessions functions' roles by
    their Pulumi-generated names: the program's roles must be the ones it names, and only they."""
    code = (ROOT / "app" / "graphql" / "resolvers" / "Mutation.publishSessionUpdate.js").read_text()
    prefixes = re.search(r"const PUBLISHER_ROLES = \[(.*?)\];", code).group(1)
    prefixes = re.findall(r"'([^']+)'", prefixes)
    roles = {r.name: r.outputs["name"] for r in prod_program.monitor.of_type(ROLE) if "Sessions$" in r.urn}
    for kind in KINDS:
        name = roles[f"sessions-{kind}"]
        assert re.fullmatch(rf"sessions-{kind}-[0-9a-f]{{7}}", name), name
        assert f"sessions-{kind}-" in prefixes
    others = [n for logical, n in roles.items() if logical not in {f"sessions-{k}" for k in KINDS}]
    assert others and not [n for n in others if any(n.startswith(p) and len(n) == len(p) + 7 for p in prefixes)]
