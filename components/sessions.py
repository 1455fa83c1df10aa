"""Sessions: on-demand code-server containers on ECS Fargate (Spot), started and reaped by Lambdas.

What it makes:

* an ECS cluster with FARGATE and FARGATE_SPOT attached and the configured default strategy;
* an ECR repository for the session image (scan on push, keep the last N images); the task pulls
  from it when ``image`` is ``ecr:<tag>``, which the operator pushes before the first session;
* one Fargate task definition for the IDE container: no platform-wide secret at all. Each launch
  gets its own credentials (a repository-scoped Git token, in public mode the password hash) in an
  environment file in the component's launch bucket (app/sessions/access.py); a stop timeout long
  enough to save work when Spot reclaims the task;
* with ``workspace: efs``, the Workspaces child (components/workspaces.py): an encrypted EFS file
  system whose per-user access points the session API creates and mounts as each IDE's home;
* three Lambdas outside the VPC running ``app/sessions``: the session API (AppSync resolver), the
  ECS task-state handler (EventBridge rule on this cluster) and the reaper (EventBridge schedule),
  each with its own role, log group, X-Ray tracing and the component's dead-letter queue;
* in ``private`` editor access only, an internet-facing ALB with an HTTPS listener (TLS 1.2/1.3)
  whose default action signs users in with the platform's Cognito user pool (an editor app client
  of its own) and answers 404; the runtime adds one authenticated path rule and one IP target group
  per RUNNING session (``https://<editorDomain>/<sessionId>/``, app/sessions/routing.py), and the
  container's auth proxy admits only the session's owner.

IAM follows what ``app/sessions`` actually calls, per function (see ``*_statements`` below); the only
``"*"`` resources are for actions that have no resource type (``ecr:GetAuthorizationToken``, X-Ray
writes, ``ec2:DescribeNetworkInterfaces``, the ``elasticloadbalancing:Describe*`` reads) and
``ecs:ListTasks``, which ECS authorizes against ``*`` for Fargate tasks and which is therefore pinned
to this cluster with the ``ecs:cluster`` condition. See components/README-sessions.md for the
editor-access design.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence

import pulumi
import pulumi_aws as aws

from app.sessions.routing import AUTH_SESSION_TIMEOUT_SECONDS, target_group_prefix
from policies import fargate

from . import iam, workspaces
from .config import DNS_NAME_RE, EDITOR_DOMAIN_MAX, PROJECT, SessionsConfig, partition_of
from .sessions_layer import PYTHON_VERSION, layer_archive

TYPE = "aiplatform:sessions:Sessions"

CONTAINER_NAME = "ide"
LAMBDA_ARCHITECTURE = "arm64"  # the layer's wheels are built for it
# code-server's unauthenticated liveness endpoint.
HEALTH_PATH = "/healthz"
# The Lambda package: app/sessions deployed as the top-level package ``sessions``.
PACKAGE = Path(__file__).resolve().parent.parent / "app" / "sessions"
HANDLERS = {
    "api": "sessions.handlers.api_handler",
    "task-state": "sessions.handlers.task_state_handler",
    "reaper": "sessions.handlers.reaper_handler",
}
ECS_TASKS_SERVICE = "ecs-tasks.amazonaws.com"
LAMBDA_SERVICE = "lambda.amazonaws.com"
EVENTS_SERVICE = "events.amazonaws.com"
# The GraphQL field the runtime's publisher calls (app/sessions/publisher.py).
PUBLISH_FIELD = "types/Mutation/fields/publishSessionUpdate"
# The GraphQL field the session task calls (app/session-image/activity-reporter.js).
ACTIVITY_FIELD = "types/Mutation/fields/reportSessionActivity"
# ELB's current recommended policy: TLS 1.3 and 1.2 only, forward-secret ciphers.
SSL_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"
# WebSockets carry the whole IDE; an idle editor tab must not lose its socket after ALB's 60 s default.
EDITOR_IDLE_TIMEOUT_SECONDS = 3600
DLQ_RETENTION_SECONDS = 14 * 24 * 3600  # SQS maximum: time to look at a failure after a holiday
ASYNC_RETRY_ATTEMPTS = 2
ASYNC_MAX_EVENT_AGE_SECONDS = 3600
RULE_DELIVERY_ATTEMPTS = 10  # EventBridge -> Lambda delivery retries (throttling), before the DLQ
SECRET_RECOVERY_DAYS = 7

# AWS name limits, less Pulumi's 8-character auto-name suffix.
AUTONAME_SUFFIX = 8
NAME_LIMITS = {"role": 64, "function": 64, "rule": 64, "alb": 32, "queue": 80}


# ---------------------------------------------------------------------------------------------
# Arguments and bundle
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SessionsArgs:
    config: SessionsConfig
    region: str
    log_retention_days: int
    public_subnet_ids: pulumi.Input[Sequence[str]]
    private_subnet_ids: pulumi.Input[Sequence[str]]
    session_security_group_id: pulumi.Input[str]
    sessions_table_name: pulumi.Input[str]
    sessions_table_arn: pulumi.Input[str]
    # private editor access only: the ALB's group (Network.load_balancer_security_group_id).
    load_balancer_security_group_id: Optional[pulumi.Input[str]] = None
    # Both or neither: the AppSync endpoint the runtime publishes status changes to, and its API ARN
    # (the roles may call exactly the publishSessionUpdate field).
    graphql_url: Optional[pulumi.Input[str]] = None
    graphql_api_arn: Optional[pulumi.Input[str]] = None
    # The cost guard's deny policy, so the API reports BudgetLimitReached (and a refused Spot restart
    # says so) instead of a generic AccessDenied. It depends on starter_roles, so pass a
    # pulumi.deferred_output() here and resolve it with CostGuard's deny_policy_arn.
    budget_deny_policy_arn: Optional[pulumi.Input[str]] = None
    # private only: sessions are served at https://<editor_domain>/<sessionId>/ (pass
    # config.editor_domain; defaults to it). The certificate must cover <editor_domain>, and the
    # operator points a record <editor_domain> (Route 53 alias or CNAME) at the ALB.
    editor_domain: Optional[str] = None
    # private only: the VPC the per-session target groups are created in (Network.vpc_id). Defaults
    # to the load balancer's own VPC, which is where its targets must be anyway.
    vpc_id: Optional[pulumi.Input[str]] = None
    # private only (required there): the platform's Cognito user pool (Identity's outputs) and its
    # domain prefix; the editor load balancer signs users in with an app client of its own.
    user_pool_id: Optional[pulumi.Input[str]] = None
    user_pool_arn: Optional[pulumi.Input[str]] = None
    user_pool_domain: Optional[pulumi.Input[str]] = None
    # workspace efs only (required there): the mount targets' group (Network.workspace_security_group_id),
    # how many session subnets there are (one per AZ: network.azs), and whether the file system is
    # protected (data.deletionProtection, like the tables).
    workspace_security_group_id: Optional[pulumi.Input[str]] = None
    session_subnet_count: Optional[int] = None
    protect_workspaces: bool = False


@dataclass(frozen=True)
class SessionsBundle:
    cluster_arn: pulumi.Output[str]
    cluster_name: pulumi.Output[str]
    task_definition_family: pulumi.Output[str]
    task_definition_arn: pulumi.Output[str]
    container_name: str
    repository_url: pulumi.Output[str]
    repository_arn: pulumi.Output[str]
    api_function_arn: pulumi.Output[str]
    api_function_name: pulumi.Output[str]
    task_state_function_arn: pulumi.Output[str]
    reaper_function_arn: pulumi.Output[str]
    # "api", "task-state", "reaper" -> function name (what alarms and dashboards select on).
    function_names: Mapping[str, pulumi.Output[str]]
    # Every role that may call ecs:RunTask (see starter_kinds): the cost guard's budget action
    # attaches its deny policy to all of them, so neither new sessions nor Spot restarts add spend.
    starter_roles: tuple[aws.iam.Role, ...]
    dlq_arn: pulumi.Output[str]
    launch_bucket_name: pulumi.Output[str]
    # With sessions.githubApp: the secret the operator puts the App's private key (PEM) in.
    github_app_key_secret_arn: Optional[pulumi.Output[str]]
    task_log_group_name: pulumi.Output[str]
    api_log_group_name: pulumi.Output[str]
    task_state_log_group_name: pulumi.Output[str]
    reaper_log_group_name: pulumi.Output[str]
    editor_domain: Optional[str]  # private only
    load_balancer_dns: Optional[pulumi.Output[str]]  # private only
    load_balancer_arn: Optional[pulumi.Output[str]]  # private only
    listener_arn: Optional[pulumi.Output[str]]  # private only
    editor_client_id: Optional[pulumi.Output[str]]  # private only: the load balancer's Cognito app client
    workspace_file_system_id: Optional[pulumi.Output[str]] = None  # workspace efs only


# ---------------------------------------------------------------------------------------------
# Pure builders
# ---------------------------------------------------------------------------------------------
def validate(name: str, args: SessionsArgs) -> None:
    """Reject argument combinations AWS or the runtime would refuse, naming the field."""
    cfg = args.config
    if cfg.editor_access == "private":
        if args.load_balancer_security_group_id is None:
            raise ValueError("SessionsArgs.load_balancer_security_group_id is required when editorAccess is private "
                             "(Network creates it in private mode)")
        if not cfg.certificate_arn:
            raise ValueError("SessionsArgs.config.certificate_arn is required when editorAccess is private")
        if not editor_domain(args):
            raise ValueError("SessionsArgs.editor_domain (or config.editor_domain) is required when editorAccess is "
                             "private: sessions are served at https://<editor_domain>/<sessionId>/")
        domain = editor_domain(args)
        if not DNS_NAME_RE.fullmatch(domain) or len(domain) > EDITOR_DOMAIN_MAX:
            raise ValueError(f"SessionsArgs.editor_domain {domain!r} must be a lowercase DNS name of at most "
                             f"{EDITOR_DOMAIN_MAX} characters (the load balancer's host condition value)")
        if args.editor_domain and cfg.editor_domain and args.editor_domain != cfg.editor_domain:
            raise ValueError(f"SessionsArgs.editor_domain {args.editor_domain!r} differs from config.editor_domain "
                             f"{cfg.editor_domain!r}; pass the config's value")
        missing = [f for f in ("user_pool_id", "user_pool_arn", "user_pool_domain") if getattr(args, f) is None]
        if missing:
            raise ValueError(f"SessionsArgs.{missing[0]} is required when editorAccess is private: the editor load "
                             "balancer signs users in with the platform's user pool (identity.domain must be set)")
    else:
        if args.load_balancer_security_group_id is not None:
            raise ValueError("SessionsArgs.load_balancer_security_group_id only applies when editorAccess is private")
        if args.editor_domain is not None:
            raise ValueError("SessionsArgs.editor_domain only applies when editorAccess is private")
        if args.vpc_id is not None:
            raise ValueError("SessionsArgs.vpc_id only applies when editorAccess is private (target groups of the "
                             "editor load balancer)")
        if any(getattr(args, f) is not None for f in ("user_pool_id", "user_pool_arn", "user_pool_domain")):
            raise ValueError("SessionsArgs.user_pool_* only apply when editorAccess is private (the load balancer's "
                             "sign-in); public editors use per-session passwords")
    if cfg.efs_workspace:
        if args.workspace_security_group_id is None or not args.session_subnet_count:
            raise ValueError("SessionsArgs.workspace_security_group_id and session_subnet_count are required when "
                             "sessions.workspace is efs (Network creates the group with efs_workspace=True)")
    elif args.workspace_security_group_id is not None or args.session_subnet_count is not None:
        raise ValueError("SessionsArgs.workspace_security_group_id and session_subnet_count only apply when "
                         "sessions.workspace is efs")
    if (args.graphql_url is None) != (args.graphql_api_arn is None):
        raise ValueError("SessionsArgs.graphql_url and graphql_api_arn go together: the roles may publish only "
                         "to the API the URL points at")
    for kind, logical in resource_names(name).items():
        limit = NAME_LIMITS[kind]
        if len(logical) + AUTONAME_SUFFIX > limit:
            raise ValueError(f"Sessions component name {name!r} is too long: the {kind} name {logical!r} plus "
                             f"Pulumi's {AUTONAME_SUFFIX}-character suffix exceeds AWS's {limit} characters")


def editor_domain(args: SessionsArgs) -> Optional[str]:
    return args.editor_domain or args.config.editor_domain


def resource_names(name: str) -> dict[str, str]:
    """The longest auto-named logical name per limited kind (others are shorter)."""
    return {"role": f"{name}-task-state", "function": f"{name}-task-state", "rule": f"{name}-task-state",
            "alb": f"{name}-editor", "queue": f"{name}-dlq"}


def starter_kinds(cfg: SessionsConfig) -> tuple[str, ...]:
    """The Lambdas that launch tasks: the API (start) and, with restartOnInterruption, the task-state
    handler (relaunching a session Spot reclaimed). The reaper only stops tasks."""
    return ("api", "task-state") if cfg.restart_on_interruption else ("api",)


def image_uri(cfg: SessionsConfig, repository_url: str) -> str:
    """The container image: ``ecr:<tag>`` is this stack's repository at that tag, anything else is
    used as written (e.g. a public image on Docker Hub)."""
    tag = cfg.ecr_image_tag
    return f"{repository_url}:{tag}" if tag is not None else cfg.image


def capacity_strategy(cfg: SessionsConfig) -> list[dict]:
    return [item.as_dict() for item in cfg.capacity_strategy]


def size_presets(cfg: SessionsConfig) -> dict[str, dict[str, int]]:
    return {n: {"cpu": p.cpu, "memory": p.memory} for n, p in cfg.size_presets.items()}


def memory_reservation(cfg: SessionsConfig) -> int:
    """The container's soft memory limit. RunTask overrides the task size per preset; a container
    hard limit would cap bigger presets and make smaller ones fail (container > task memory), so the
    container only reserves what the smallest size has."""
    return min([cfg.memory, *(p.memory for p in cfg.size_presets.values())])


def container_environment(cfg: SessionsConfig, region: str, alb_arn: Optional[str] = None,
                          user_pool_issuer: Optional[str] = None, graphql_url: Optional[str] = None) -> list[dict]:
    """What app/session-image/entrypoint.sh needs from the task definition. Nothing secret: the
    runtime adds SESSION_ID / SESSION_OWNER / REPOSITORY_URL and names the launch's environment file."""
    env = {"PORT": str(cfg.editor_port), "AWS_REGION": region}
    if cfg.editor_access == "private":
        # The auth proxy admits requests the ALB signed (signer = this ALB) for the pool's users.
        env.update(EDITOR_AUTH="alb", ALB_ARN=alb_arn, USER_POOL_ISSUER=user_pool_issuer)
    else:
        env["EDITOR_AUTH"] = "password"
    if graphql_url:  # the IDE reports its own activity (reportSessionActivity, the task role)
        env["GRAPHQL_URL"] = graphql_url
    return [{"name": k, "value": v} for k, v in sorted(env.items())]


def container_definitions(cfg: SessionsConfig, region: str, log_group_name: str, image: str,
                          alb_arn: Optional[str] = None, user_pool_issuer: Optional[str] = None,
                          graphql_url: Optional[str] = None) -> list[dict]:
    port = cfg.editor_port
    return [{
        "name": CONTAINER_NAME,
        "image": image,
        "essential": True,
        "memoryReservation": memory_reservation(cfg),
        "portMappings": [{"containerPort": port, "hostPort": port, "protocol": "tcp", "name": "editor"}],
        # No "secrets": nothing here is shared by sessions. Per-launch values arrive in the
        # environment file RunTask names (app/sessions/access.py).
        "environment": container_environment(cfg, region, alb_arn, user_pool_issuer, graphql_url),
        "healthCheck": {
            "command": ["CMD-SHELL", f"curl -fsS -o /dev/null http://127.0.0.1:{port}{HEALTH_PATH} || exit 1"],
            "interval": 30, "timeout": 5, "retries": 3, "startPeriod": 60,
        },
        # Time between SIGTERM and SIGKILL: Spot gives a 2-minute warning, so the IDE gets up to all
        # of it to save open work.
        "stopTimeout": cfg.stop_timeout_seconds,
        # An init process forwards SIGTERM to code-server and reaps the shells and language servers
        # the editor spawns.
        "linuxParameters": {"initProcessEnabled": True},
        "readonlyRootFilesystem": False,  # the IDE writes to its workspace and home directory
        "logConfiguration": {
            "logDriver": "awslogs",
            "options": {
                "awslogs-group": log_group_name,
                "awslogs-region": region,
                "awslogs-stream-prefix": CONTAINER_NAME,
                # A chatty build must not stall the editor when CloudWatch throttles.
                "mode": "non-blocking",
                "max-buffer-size": "25m",
            },
        },
    }]


def lifecycle_policy(keep: int) -> str:
    return json.dumps({"rules": [{
        "rulePriority": 1,
        "description": f"Keep the last {keep} images",
        "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": keep},
        "action": {"type": "expire"},
    }]})


def cognito_action_args(user_pool_arn: Any, client_id: Any, user_pool_domain: Any) -> dict[str, Any]:
    """The listener's sign-in, the same as the runtime's per-session rules (routing.cognito_auth)."""
    return {"user_pool_arn": user_pool_arn, "user_pool_client_id": client_id, "user_pool_domain": user_pool_domain,
            "on_unauthenticated_request": "authenticate", "scope": "openid",
            "session_timeout": AUTH_SESSION_TIMEOUT_SECONDS}


def task_state_pattern(cluster_arn: str) -> str:
    return json.dumps({"source": ["aws.ecs"], "detail-type": ["ECS Task State Change"],
                       "detail": {"clusterArn": [cluster_arn]}})


def lambda_code(package: Path = PACKAGE) -> pulumi.AssetArchive:
    """app/sessions as the top-level package ``sessions``: only its Python sources, so a local
    __pycache__ never changes the deployed code hash. The Fargate size table's one source is the
    policy pack (policies/fargate.py and its data); it joins the package as ``sessions/fargate.py``,
    where settings.py imports it from."""
    if not (package / "handlers.py").is_file():
        raise FileNotFoundError(f"the sessions Lambda code is missing: {package / 'handlers.py'}")
    files = sorted(p for p in package.rglob("*.py") if "__pycache__" not in p.parts)
    assets = {p.relative_to(package).as_posix(): pulumi.FileAsset(str(p)) for p in files}
    assets.update({"fargate.py": pulumi.FileAsset(str(fargate.__file__)),
                   "data/fargate-sizes.json": pulumi.FileAsset(str(fargate.DATA_FILE))})
    return pulumi.AssetArchive({"sessions": pulumi.AssetArchive(assets)})


def runtime_environment(cfg: SessionsConfig, *, table_name: Any, cluster_arn: Any, task_family: Any,
                        subnet_ids: Any, security_group_id: Any, editor_domain: Optional[str] = None,
                        listener_arn: Any = None, vpc_id: Any = None, graphql_url: Any = None,
                        budget_deny_policy_arn: Any = None, launch_bucket: Any = None,
                        user_pool_arn: Any = None, editor_client_id: Any = None, user_pool_domain: Any = None,
                        github_app_key_secret_arn: Any = None, task_role_name: Any = None,
                        file_system_id: Any = None, base_task_definition: Any = None) -> dict[str, Any]:
    """The variables app/sessions/settings.py ``Settings.from_env`` reads (values may be Outputs)."""
    public = cfg.editor_access == "public"
    env: dict[str, Any] = {
        "SESSIONS_TABLE": table_name,
        "CLUSTER_ARN": cluster_arn,
        # The family: RunTask uses its latest ACTIVE revision, and the reaper searches the family.
        "TASK_DEFINITION": task_family,
        "CONTAINER_NAME": CONTAINER_NAME,
        "SUBNETS": pulumi.Output.from_input(subnet_ids).apply(lambda ids: ",".join(ids)),
        "SECURITY_GROUPS": security_group_id,
        "ASSIGN_PUBLIC_IP": "ENABLED" if public else "DISABLED",
        "CAPACITY_PROVIDER_STRATEGY": json.dumps(capacity_strategy(cfg)),
        "ON_DEMAND_FALLBACK": str(cfg.on_demand_fallback).lower(),
        "RESTART_ON_INTERRUPTION": str(cfg.restart_on_interruption).lower(),
        "MAX_SESSIONS_PER_USER": str(cfg.max_sessions_per_user),
        "SESSION_TTL_HOURS": str(cfg.session_ttl_hours),
        "MAX_LIFETIME_HOURS": str(cfg.max_lifetime_hours),
        "IDLE_TIMEOUT_MINUTES": str(cfg.idle_timeout_minutes),
        "SIZE_PRESETS": json.dumps(size_presets(cfg)),
        "DEFAULT_SIZE": cfg.default_size,
        "EDITOR_PORT": str(cfg.editor_port),
        "EDITOR_ACCESS": cfg.editor_access,
        "LAUNCH_BUCKET": launch_bucket,
        "WORKSPACE": cfg.workspace,
    }
    if cfg.efs_workspace:
        # Per-user revisions are derived from this exact revision (app/sessions/workspace.py).
        env.update(FILE_SYSTEM_ID=file_system_id, BASE_TASK_DEFINITION=base_task_definition)
    if not public:
        # Per-session routing: rules on this listener, IP target groups in this VPC, signed in with
        # the editor app client of the user pool.
        env.update(EDITOR_DOMAIN=editor_domain, LISTENER_ARN=listener_arn, VPC_ID=vpc_id, USER_POOL_ARN=user_pool_arn,
                   USER_POOL_CLIENT_ID=editor_client_id, USER_POOL_DOMAIN=user_pool_domain)
    app = cfg.github_app
    if app is not None:
        env.update(GITHUB_APP_ID=str(app.app_id), GITHUB_APP_INSTALLATION_ID=str(app.installation_id),
                   GITHUB_APP_KEY_SECRET_ARN=github_app_key_secret_arn)
        if app.api_url is not None:
            env["GITHUB_API_URL"] = app.api_url
    if graphql_url is not None:
        env["GRAPHQL_URL"] = graphql_url
        # reportSessionActivity: only callers in this role, each for its own task's session.
        env["TASK_ROLE_NAME"] = task_role_name
    if budget_deny_policy_arn is not None:
        env["BUDGET_DENY_POLICY_ARN"] = budget_deny_policy_arn
    return env


@dataclass(frozen=True)
class GrantRefs:
    """ARNs and names the Lambda policies are scoped to (values may be Outputs)."""
    region: str
    account: Any
    table_arn: Any
    cluster_arn: Any
    cluster_name: Any
    task_family: Any
    execution_role_arn: Any
    task_role_arn: Any
    dlq_arn: Any
    graphql_api_arn: Any = None
    listener_arn: Any = None  # private editor access only
    launch_bucket_arn: Any = None
    github_app_key_secret_arn: Any = None  # with sessions.githubApp only
    file_system_arn: Any = None  # workspace efs only

    @property
    def target_groups(self) -> pulumi.Output[str]:
        """The per-session target groups: named <prefix>-..., the prefix derived from the listener."""
        return self._arn("elasticloadbalancing", "targetgroup/",
                         pulumi.Output.from_input(self.listener_arn).apply(target_group_prefix), "-*/*")

    @property
    def listener_rules(self) -> pulumi.Output[str]:
        """Rules of this listener only (listener-rule/app/<lb name>/<lb id>/<listener id>/<rule id>)."""
        return pulumi.Output.from_input(self.listener_arn).apply(
            lambda arn: arn.replace(":listener/", ":listener-rule/", 1) + "/*")

    @property
    def launch_objects(self) -> pulumi.Output[str]:
        return pulumi.Output.concat(self.launch_bucket_arn, "/sessions/*")

    @property
    def task_definitions(self) -> pulumi.Output[str]:
        return self._arn("ecs", "task-definition/", self.task_family, ":*")

    @property
    def tasks(self) -> pulumi.Output[str]:
        return self._arn("ecs", "task/", self.cluster_name, "/*")

    def index(self, index: str) -> pulumi.Output[str]:
        return pulumi.Output.concat(self.table_arn, "/index/", index)

    def _arn(self, service: str, *resource: Any) -> pulumi.Output[str]:
        """arn:<the region's partition>:<service>:<region>:<account>:<resource...>"""
        return pulumi.Output.concat("arn:", partition_of(self.region), ":", service, ":", self.region, ":",
                                    self.account, ":", *resource)

    @property
    def in_cluster(self) -> dict:
        return {"ArnEquals": {"ecs:cluster": self.cluster_arn}}


def _table(refs: GrantRefs, actions: Sequence[str], query_indexes: Sequence[str]) -> list[iam.Statement]:
    stmts = iam.dynamodb_link(refs.table_arn, actions, sid="SessionsTable")
    if query_indexes:
        stmts.append(iam.Statement(actions=["dynamodb:Query"], resources=[refs.index(i) for i in query_indexes],
                                   sid="SessionsTableIndexes"))
    return stmts


def _launch_credentials(refs: GrantRefs) -> list[iam.Statement]:
    """What launching a task needs besides RunTask: writing the launch's environment file and
    reading the GitHub App's key to mint its repository token (app/sessions/access.py)."""
    stmts = [iam.Statement(actions=["s3:PutObject"], resources=[refs.launch_objects], sid="WriteLaunchFiles")]
    if refs.github_app_key_secret_arn is not None:
        stmts.append(iam.Statement(actions=["secretsmanager:GetSecretValue"], resources=[refs.github_app_key_secret_arn],
                                   sid="ReadGitHubAppKey"))
    return stmts


def _run_tasks(refs: GrantRefs) -> list[iam.Statement]:
    return [*_launch_credentials(refs),
        iam.Statement(actions=["ecs:RunTask"], resources=[refs.task_definitions], conditions=refs.in_cluster,
                      sid="RunSessionTasksInThisCluster"),
        # RunTask with tags needs TagResource on the new task, allowed only as part of RunTask.
        iam.Statement(actions=["ecs:TagResource"], resources=[refs.tasks],
                      conditions={"StringEquals": {"ecs:CreateAction": "RunTask"}}, sid="TagTasksAtLaunch"),
        iam.Statement(actions=["iam:PassRole"], resources=[refs.execution_role_arn, refs.task_role_arn],
                      conditions={"StringEquals": {"iam:PassedToService": ECS_TASKS_SERVICE}},
                      sid="PassSessionTaskRoles"),
    ]


def _tasks(refs: GrantRefs, actions: Sequence[str]) -> iam.Statement:
    return iam.Statement(actions=list(actions), resources=[refs.tasks], conditions=refs.in_cluster,
                         sid="ManageTasksInThisCluster")


def _list_tasks(refs: GrantRefs) -> iam.Statement:
    # ECS authorizes ListTasks of Fargate tasks against "*" (there is no container instance), so the
    # cluster condition is what scopes it.
    return iam.Statement(actions=["ecs:ListTasks"], resources=["*"], conditions=refs.in_cluster,
                         sid="ListTasksInThisCluster")


def _describe_enis(refs: GrantRefs) -> iam.Statement:
    # Public access only: the editor URL is the task ENI's public IP. The action has no resource type.
    return iam.Statement(actions=["ec2:DescribeNetworkInterfaces"], resources=["*"],
                         conditions={"StringEquals": {"ec2:Region": refs.region}}, sid="FindTaskPublicIp")


def _remove_routes(refs: GrantRefs) -> list[iam.Statement]:
    # A group cannot be deleted while a rule forwards to it, so removal needs both.
    return [
        iam.Statement(actions=["elasticloadbalancing:DeleteRule"], resources=[refs.listener_rules],
                      sid="DeleteSessionRules"),
        iam.Statement(actions=["elasticloadbalancing:DeleteTargetGroup"], resources=[refs.target_groups],
                      sid="DeleteSessionTargetGroups"),
    ]


def _routes(refs: GrantRefs, find_orphans: bool) -> list[iam.Statement]:
    """Create, repair and remove per-session routings (app/sessions/routing.py EditorRoutes.ensure /
    remove); the reaper also lists target groups' tags to find orphans."""
    describe = ["elasticloadbalancing:DescribeRules", "elasticloadbalancing:DescribeTargetGroups",
                "elasticloadbalancing:DescribeTargetHealth"]
    if find_orphans:
        describe.append("elasticloadbalancing:DescribeTags")
    return [
        iam.Statement(actions=["elasticloadbalancing:CreateTargetGroup", "elasticloadbalancing:RegisterTargets",
                               "elasticloadbalancing:DeregisterTargets"],
                      resources=[refs.target_groups], sid="ManageSessionTargetGroups"),
        iam.Statement(actions=["elasticloadbalancing:CreateRule"], resources=[refs.listener_arn],
                      sid="AddSessionRules"),
        *_remove_routes(refs),
        # Both creations carry tags (sessionId, owner), which needs AddTags, here only as part of them.
        iam.Statement(actions=["elasticloadbalancing:AddTags"], resources=[refs.target_groups, refs.listener_rules],
                      conditions={"StringEquals": {"elasticloadbalancing:CreateAction": ["CreateTargetGroup",
                                                                                         "CreateRule"]}},
                      sid="TagRoutingAtCreation"),
        # The Describe* reads have no resource type: "*" is the only valid resource.
        iam.Statement(actions=describe, resources=["*"], sid="ReadRouting"),
    ]


def _common(refs: GrantRefs, log_group_arn: Any) -> list[iam.Statement]:
    stmts = [*iam.log_group_link(log_group_arn), iam.XRAY_WRITE,
             iam.Statement(actions=["sqs:SendMessage"], resources=[refs.dlq_arn], sid="DeadLetterQueue")]
    if refs.graphql_api_arn is not None:
        stmts.append(iam.Statement(actions=["appsync:GraphQL"],
                                   resources=[pulumi.Output.concat(refs.graphql_api_arn, "/", PUBLISH_FIELD)],
                                   sid="PublishSessionUpdates"))
    return stmts


def api_statements(cfg: SessionsConfig, refs: GrantRefs, log_group_arn: Any) -> list[iam.Statement]:
    """start (transaction Put + quota Update, RunTask, rollback Delete), stop (transaction Update,
    StopTask, ListTasks startedBy; in private mode deleting the session's rule and target group),
    get (GetItem, heartbeat UpdateItem), list (Query byOwner / byStatus, admin Scan)."""
    stmts = [
        *_table(refs, ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem",
                       "dynamodb:Scan"], ["byOwner", "byStatus"]),
        *_run_tasks(refs),
        _tasks(refs, ["ecs:StopTask"]),
        _list_tasks(refs),
    ]
    if cfg.editor_access == "private":
        stmts += _remove_routes(refs)
    if refs.file_system_arn is not None:
        stmts += workspaces.api_statements(refs.file_system_arn, refs.region, refs.account, refs.task_definitions)
    return stmts + _common(refs, log_group_arn)


def task_state_statements(cfg: SessionsConfig, refs: GrantRefs, log_group_arn: Any) -> list[iam.Statement]:
    """Session transitions (GetItem, UpdateItem and quota-release transactions of Updates), stopping
    orphans; relaunching interrupted sessions only when restartOnInterruption is on."""
    stmts = [*_table(refs, ["dynamodb:GetItem", "dynamodb:UpdateItem"], []), _tasks(refs, ["ecs:StopTask"])]
    if "task-state" in starter_kinds(cfg):
        stmts += [*_run_tasks(refs), _list_tasks(refs)]
    if cfg.editor_access == "public":
        stmts.append(_describe_enis(refs))
    else:
        stmts += _routes(refs, find_orphans=False)
    return stmts + _common(refs, log_group_arn)


def reaper_statements(cfg: SessionsConfig, refs: GrantRefs, log_group_arn: Any) -> list[iam.Statement]:
    """Active sessions (Query byStatus), their tasks (DescribeTasks), orphans (ListTasks family /
    startedBy), quota reconciliation (Scan), closing sessions (UpdateItem, StopTask); in private mode
    routing, unrouting and sweeping orphan rules / target groups."""
    stmts = [*_table(refs, ["dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:Scan"], ["byStatus"]),
             _tasks(refs, ["ecs:DescribeTasks", "ecs:StopTask"]), _list_tasks(refs)]
    if cfg.editor_access == "public":
        stmts.append(_describe_enis(refs))
    else:
        stmts += _routes(refs, find_orphans=True)
    return stmts + _common(refs, log_group_arn)


def execution_statements(repository_arn: Any, log_group_arn: Any, launch_bucket_arn: Any) -> list[iam.Statement]:
    return [
        # The registry login has no resource type; what may be pulled is the next statement.
        iam.Statement(actions=["ecr:GetAuthorizationToken"], resources=["*"], sid="RegistryLogin"),
        iam.Statement(actions=["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
                      resources=[repository_arn], sid="PullSessionImage"),
        *iam.log_group_link(log_group_arn),
        # ECS reads the environment file RunTask names (environmentFiles needs both actions).
        iam.Statement(actions=["s3:GetObject"], resources=[pulumi.Output.concat(launch_bucket_arn, "/sessions/*")],
                      sid="ReadLaunchFiles"),
        iam.Statement(actions=["s3:GetBucketLocation"], resources=[launch_bucket_arn], sid="LocateLaunchBucket"),
    ]


def session_subnets(args: SessionsArgs) -> pulumi.Input[Sequence[str]]:
    """Where the tasks run: public subnets (with a public IP) in public mode, private ones behind the ALB."""
    return args.public_subnet_ids if args.config.editor_access == "public" else args.private_subnet_ids


def task_role_statements(args: SessionsArgs, file_system_arn: Any, account: Any) -> list[iam.Statement]:
    """The IDE container's AWS calls: reporting its own activity (with a GraphQL API wired in) and, with
    efs workspaces, mounting its owner's access point (the per-user task definition names it)."""
    stmts = []
    if args.graphql_api_arn is not None:
        stmts.append(iam.Statement(actions=["appsync:GraphQL"],
                                   resources=[pulumi.Output.concat(args.graphql_api_arn, "/", ACTIVITY_FIELD)],
                                   sid="ReportOwnActivity"))
    if file_system_arn is not None:
        stmts += workspaces.task_mount_statements(file_system_arn, args.region, account)
    return stmts


STATEMENTS = {"api": api_statements, "task-state": task_state_statements, "reaper": reaper_statements}


# ---------------------------------------------------------------------------------------------
# The component
# ---------------------------------------------------------------------------------------------
class Sessions(pulumi.ComponentResource):
    bundle: SessionsBundle

    def __init__(self, name: str, args: SessionsArgs, opts: Optional[pulumi.ResourceOptions] = None):
        validate(name, args)
        super().__init__(TYPE, name, None, opts)
        cfg = args.config
        stack = pulumi.get_stack()
        child = pulumi.ResourceOptions(parent=self)
        account = aws.get_caller_identity_output(opts=pulumi.InvokeOptions(parent=self)).account_id
        log_prefix = f"/{PROJECT}/{stack}/{name}"

        # --- image registry ---
        self.repository = aws.ecr.Repository(
            f"{name}-repo",
            image_scanning_configuration=aws.ecr.RepositoryImageScanningConfigurationArgs(scan_on_push=True),
            image_tag_mutability="IMMUTABLE" if cfg.ecr_immutable_tags else "MUTABLE",
            encryption_configurations=[aws.ecr.RepositoryEncryptionConfigurationArgs(encryption_type="AES256")],
            opts=child)
        aws.ecr.LifecyclePolicy(f"{name}-repo", repository=self.repository.name,
                                policy=lifecycle_policy(cfg.ecr_keep_images), opts=child)

        # --- cluster ---
        self.cluster = aws.ecs.Cluster(
            name, settings=[aws.ecs.ClusterSettingArgs(name="containerInsights", value=cfg.container_insights)],
            opts=child)
        # Both providers are always attached: the runtime falls back to (or restarts on) FARGATE even
        # when the default strategy is all Spot.
        self.capacity_providers = aws.ecs.ClusterCapacityProviders(
            name, cluster_name=self.cluster.name, capacity_providers=["FARGATE", "FARGATE_SPOT"],
            default_capacity_provider_strategies=[
                aws.ecs.ClusterCapacityProvidersDefaultCapacityProviderStrategyArgs(
                    capacity_provider=i.capacity_provider, weight=i.weight, base=i.base)
                for i in cfg.capacity_strategy],
            opts=child)

        # --- task: launch files, logs, roles, definition ---
        # Per-launch environment files (Git token, password hash): private, encrypted, gone after a day
        # (S3's shortest expiry; the Git token inside lives one hour anyway).
        self.launch_bucket = aws.s3.Bucket(f"{name}-launch", force_destroy=True, opts=child)
        aws.s3.BucketPublicAccessBlock(f"{name}-launch", bucket=self.launch_bucket.id, block_public_acls=True,
                                       block_public_policy=True, ignore_public_acls=True,
                                       restrict_public_buckets=True, opts=child)
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-launch", bucket=self.launch_bucket.id,
            rules=[aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                apply_server_side_encryption_by_default=aws.s3.
                BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                    sse_algorithm="AES256"))], opts=child)
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-launch", bucket=self.launch_bucket.id,
            rules=[aws.s3.BucketLifecycleConfigurationRuleArgs(
                id="expire-launch-files", status="Enabled",
                filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix="sessions/"),
                expiration=aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(days=1))], opts=child)
        # The GitHub App's private key: created without a value (none in code or state); the operator
        # puts the PEM (components/README-sessions.md).
        self.github_app_key: Optional[aws.secretsmanager.Secret] = None
        if cfg.github_app is not None:
            self.github_app_key = aws.secretsmanager.Secret(
                f"{name}-github-app-key", description=f"Private key (PEM) of the GitHub App that mints the {stack} "
                                                      "sessions' repository tokens",
                recovery_window_in_days=SECRET_RECOVERY_DAYS, opts=child)
        self.task_log_group = aws.cloudwatch.LogGroup(
            f"{name}-ide", name=f"{log_prefix}/ide", retention_in_days=args.log_retention_days, opts=child)

        # The task role's source conditions are documented by AWS (ECS developer guide, "Amazon ECS task
        # IAM role"): "Using the aws:SourceArn condition key to specify a specific cluster is not
        # currently supported, you should use the wildcard to specify all clusters." Hence the
        # account-and-region wildcard. The task *execution* role's documented trust relationship
        # ("Amazon ECS task execution IAM role") carries no condition, and nothing documents that the
        # ECS and Fargate agents send aws:SourceArn / aws:SourceAccount when they assume it: a condition
        # they do not satisfy would stop every task from starting, so that role trusts the service alone.
        task_trust = iam.trust_policy(ECS_TASKS_SERVICE, source_account=account,
                                      source_arn=pulumi.Output.concat("arn:", partition_of(args.region), ":ecs:",
                                                                       args.region, ":", account, ":*"))
        self.execution_role = aws.iam.Role(
            f"{name}-exec", description="ECS pulls the session image, writes its logs and reads its secrets",
            assume_role_policy=iam.trust_policy(ECS_TASKS_SERVICE), opts=child)
        exec_policy = aws.iam.RolePolicy(
            f"{name}-exec", role=self.execution_role.id,
            policy=iam.document(execution_statements(self.repository.arn, self.task_log_group.arn,
                                                     self.launch_bucket.arn)),
            opts=child)
        # The IDE container's one AWS call is reporting its own activity (with a GraphQL API wired in);
        # the sessions Lambda limits each task to its own session.
        self.task_role = aws.iam.Role(
            f"{name}-task", description=("Identity of the IDE container: reports its session's activity"
                                         + (", mounts its owner's workspace" if cfg.efs_workspace else ", nothing else")),
            assume_role_policy=task_trust, opts=child)
        self.workspaces: Optional[workspaces.Workspaces] = None
        if cfg.efs_workspace:
            self.workspaces = workspaces.Workspaces(f"{name}-workspaces", workspaces.WorkspacesArgs(
                subnet_ids=session_subnets(args), subnet_count=args.session_subnet_count,
                security_group_id=args.workspace_security_group_id, protect=args.protect_workspaces), opts=child)
        task_statements = task_role_statements(args, self.workspaces.file_system_arn if self.workspaces else None,
                                               account)
        if task_statements:
            aws.iam.RolePolicy(f"{name}-task", role=self.task_role.id, policy=iam.document(task_statements), opts=child)

        # --- private editor access: TLS load balancer, signed in with the platform's user pool ---
        self.load_balancer: Optional[aws.lb.LoadBalancer] = None
        self.listener: Optional[aws.lb.Listener] = None
        self.editor_client: Optional[aws.cognito.UserPoolClient] = None
        domain = editor_domain(args) if cfg.editor_access == "private" else None
        vpc_id: Optional[pulumi.Input[str]] = None
        issuer: Optional[pulumi.Output[str]] = None
        if cfg.editor_access == "private":
            # The ALB needs a client with a secret (it reads the secret from Cognito itself) and the
            # one callback URL every session shares: sessions are paths on one host because Cognito
            # takes no wildcard callbacks.
            self.editor_client = aws.cognito.UserPoolClient(
                f"{name}-editor", user_pool_id=args.user_pool_id, generate_secret=True,
                allowed_oauth_flows=["code"], allowed_oauth_flows_user_pool_client=True,
                allowed_oauth_scopes=["openid", "email"], supported_identity_providers=["COGNITO"],
                callback_urls=[f"https://{domain}/oauth2/idpresponse"],
                explicit_auth_flows=["ALLOW_REFRESH_TOKEN_AUTH"], prevent_user_existence_errors="ENABLED",
                opts=child)
            self.load_balancer = aws.lb.LoadBalancer(
                f"{name}-editor", load_balancer_type="application", internal=False,
                subnets=args.public_subnet_ids, security_groups=[args.load_balancer_security_group_id],
                drop_invalid_header_fields=True, idle_timeout=EDITOR_IDLE_TIMEOUT_SECONDS, opts=child)
            self.listener = aws.lb.Listener(
                f"{name}-editor-https", load_balancer_arn=self.load_balancer.arn, port=443, protocol="HTTPS",
                certificate_arn=cfg.certificate_arn, ssl_policy=SSL_POLICY,
                # Everyone signs in first (this is also what serves the callback /oauth2/idpresponse);
                # paths without a session rule then get a 404. The runtime adds and removes one rule
                # per RUNNING session (/<sessionId>/*), so Pulumi must not manage rules.
                default_actions=[
                    aws.lb.ListenerDefaultActionArgs(
                        type="authenticate-cognito", order=1,
                        authenticate_cognito=aws.lb.ListenerDefaultActionAuthenticateCognitoArgs(
                            **cognito_action_args(args.user_pool_arn, self.editor_client.id, args.user_pool_domain))),
                    aws.lb.ListenerDefaultActionArgs(
                        type="fixed-response", order=2, fixed_response=aws.lb.ListenerDefaultActionFixedResponseArgs(
                            content_type="text/plain", message_body="No such session", status_code="404")),
                ],
                opts=child)
            vpc_id = args.vpc_id if args.vpc_id is not None else self.load_balancer.vpc_id
            issuer = pulumi.Output.concat("https://cognito-idp.", args.region, ".amazonaws.com/", args.user_pool_id)

        self.task_definition = aws.ecs.TaskDefinition(
            f"{name}-ide",
            family=f"{PROJECT}-{stack}-{name}",
            requires_compatibilities=["FARGATE"],
            network_mode="awsvpc",
            cpu=str(cfg.cpu),
            memory=str(cfg.memory),
            runtime_platform=aws.ecs.TaskDefinitionRuntimePlatformArgs(
                operating_system_family="LINUX", cpu_architecture=cfg.architecture),
            execution_role_arn=self.execution_role.arn,
            task_role_arn=self.task_role.arn,
            container_definitions=pulumi.Output.all(
                self.task_log_group.name, self.repository.repository_url,
                self.load_balancer.arn if self.load_balancer else None, issuer, args.graphql_url,
            ).apply(lambda v: json.dumps(container_definitions(cfg, args.region, v[0], image_uri(cfg, v[1]),
                                                               v[2], v[3], v[4]))),
            # Tasks must not start before the execution role can pull and read secrets.
            opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[exec_policy])))

        # --- Lambdas ---
        self.dlq = aws.sqs.Queue(f"{name}-dlq", sqs_managed_sse_enabled=True,
                                 message_retention_seconds=DLQ_RETENTION_SECONDS, opts=child)
        refs = GrantRefs(region=args.region, account=account, table_arn=args.sessions_table_arn,
                         cluster_arn=self.cluster.arn, cluster_name=self.cluster.name,
                         task_family=self.task_definition.family, execution_role_arn=self.execution_role.arn,
                         task_role_arn=self.task_role.arn, dlq_arn=self.dlq.arn,
                         graphql_api_arn=args.graphql_api_arn,
                         listener_arn=self.listener.arn if self.listener else None,
                         launch_bucket_arn=self.launch_bucket.arn,
                         github_app_key_secret_arn=self.github_app_key.arn if self.github_app_key else None,
                         file_system_arn=self.workspaces.file_system_arn if self.workspaces else None)
        environment = runtime_environment(
            cfg, table_name=args.sessions_table_name, cluster_arn=self.cluster.arn,
            task_family=self.task_definition.family,
            subnet_ids=session_subnets(args),
            security_group_id=args.session_security_group_id, editor_domain=domain,
            listener_arn=self.listener.arn if self.listener else None, vpc_id=vpc_id,
            graphql_url=args.graphql_url, budget_deny_policy_arn=args.budget_deny_policy_arn,
            launch_bucket=self.launch_bucket.id, user_pool_arn=args.user_pool_arn,
            editor_client_id=self.editor_client.id if self.editor_client else None,
            user_pool_domain=args.user_pool_domain,
            github_app_key_secret_arn=self.github_app_key.arn if self.github_app_key else None,
            task_role_name=self.task_role.name,
            file_system_id=self.workspaces.file_system_id if self.workspaces else None,
            base_task_definition=self.task_definition.arn)
        code = lambda_code()
        # PyJWT + cryptography (native) for the functions' architecture (components/sessions_layer.py).
        self.layer = aws.lambda_.LayerVersion(
            f"{name}-deps", layer_name=f"{PROJECT}-{stack}-{name}-deps",
            description="PyJWT and cryptography for the IDE sessions Lambdas (app/sessions/requirements.txt)",
            code=layer_archive(LAMBDA_ARCHITECTURE), compatible_runtimes=[f"python{PYTHON_VERSION}"],
            compatible_architectures=[LAMBDA_ARCHITECTURE], opts=child)
        self.log_groups: dict[str, aws.cloudwatch.LogGroup] = {}
        self.roles: dict[str, aws.iam.Role] = {}
        self.functions: dict[str, aws.lambda_.Function] = {}
        for kind, handler in HANDLERS.items():
            self._function(name, kind, handler, cfg, args, refs, account, code, environment, log_prefix, child)

        # --- events ---
        self.task_state_rule = aws.cloudwatch.EventRule(
            f"{name}-task-state", description="ECS task state changes of the IDE sessions cluster",
            event_pattern=self.cluster.arn.apply(task_state_pattern), opts=child)
        self.reaper_rule = aws.cloudwatch.EventRule(
            f"{name}-reaper", description="Stop idle, expired and orphaned IDE sessions",
            schedule_expression=cfg.reaper_schedule, opts=child)
        for kind, rule in (("task-state", self.task_state_rule), ("reaper", self.reaper_rule)):
            fn = self.functions[kind]
            permission = aws.lambda_.Permission(
                f"{name}-{kind}", action="lambda:InvokeFunction", function=fn.name, principal=EVENTS_SERVICE,
                source_arn=rule.arn, source_account=account, opts=child)
            aws.cloudwatch.EventTarget(
                f"{name}-{kind}", rule=rule.name, arn=fn.arn,
                # Events EventBridge could not deliver (throttling, a missing permission) land in the DLQ too.
                dead_letter_config=aws.cloudwatch.EventTargetDeadLetterConfigArgs(arn=self.dlq.arn),
                retry_policy=aws.cloudwatch.EventTargetRetryPolicyArgs(
                    maximum_event_age_in_seconds=ASYNC_MAX_EVENT_AGE_SECONDS,
                    maximum_retry_attempts=RULE_DELIVERY_ATTEMPTS),
                opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[permission])))
        aws.sqs.QueuePolicy(
            f"{name}-dlq", queue_url=self.dlq.url,
            policy=iam.document([iam.Statement(
                actions=["sqs:SendMessage"], resources=[self.dlq.arn], principals={"Service": EVENTS_SERVICE},
                conditions={"ArnEquals": {"aws:SourceArn": [self.task_state_rule.arn, self.reaper_rule.arn]}},
                sid="UndeliverableRuleEvents")]),
            opts=child)

        self.bundle = SessionsBundle(
            cluster_arn=self.cluster.arn,
            cluster_name=self.cluster.name,
            task_definition_family=self.task_definition.family,
            task_definition_arn=self.task_definition.arn,
            container_name=CONTAINER_NAME,
            repository_url=self.repository.repository_url,
            repository_arn=self.repository.arn,
            api_function_arn=self.functions["api"].arn,
            api_function_name=self.functions["api"].name,
            task_state_function_arn=self.functions["task-state"].arn,
            reaper_function_arn=self.functions["reaper"].arn,
            function_names={kind: fn.name for kind, fn in self.functions.items()},
            starter_roles=tuple(self.roles[kind] for kind in starter_kinds(cfg)),
            dlq_arn=self.dlq.arn,
            launch_bucket_name=self.launch_bucket.id,
            github_app_key_secret_arn=self.github_app_key.arn if self.github_app_key else None,
            task_log_group_name=self.task_log_group.name,
            api_log_group_name=self.log_groups["api"].name,
            task_state_log_group_name=self.log_groups["task-state"].name,
            reaper_log_group_name=self.log_groups["reaper"].name,
            editor_domain=domain,
            load_balancer_dns=self.load_balancer.dns_name if self.load_balancer else None,
            load_balancer_arn=self.load_balancer.arn if self.load_balancer else None,
            listener_arn=self.listener.arn if self.listener else None,
            editor_client_id=self.editor_client.id if self.editor_client else None,
            workspace_file_system_id=self.workspaces.file_system_id if self.workspaces else None,
        )
        for f in fields(self.bundle):
            setattr(self, f.name, getattr(self.bundle, f.name))
        self.register_outputs({
            "clusterArn": self.bundle.cluster_arn,
            "clusterName": self.bundle.cluster_name,
            "taskDefinitionFamily": self.bundle.task_definition_family,
            "taskDefinitionArn": self.bundle.task_definition_arn,
            "repositoryUrl": self.bundle.repository_url,
            "apiFunctionArn": self.bundle.api_function_arn,
            "apiFunctionName": self.bundle.api_function_name,
            "taskStateFunctionArn": self.bundle.task_state_function_arn,
            "reaperFunctionArn": self.bundle.reaper_function_arn,
            "starterRoleArns": [role.arn for role in self.bundle.starter_roles],
            "dlqArn": self.bundle.dlq_arn,
            "launchBucketName": self.bundle.launch_bucket_name,
            "githubAppKeySecretArn": self.bundle.github_app_key_secret_arn,
            "editorClientId": self.bundle.editor_client_id,
            "taskLogGroupName": self.bundle.task_log_group_name,
            "apiLogGroupName": self.bundle.api_log_group_name,
            "taskStateLogGroupName": self.bundle.task_state_log_group_name,
            "reaperLogGroupName": self.bundle.reaper_log_group_name,
            "editorDomain": self.bundle.editor_domain,
            "loadBalancerDns": self.bundle.load_balancer_dns,
            "loadBalancerArn": self.bundle.load_balancer_arn,
            "listenerArn": self.bundle.listener_arn,
            "workspaceFileSystemId": self.bundle.workspace_file_system_id,
        })

    def _function(self, name: str, kind: str, handler: str, cfg: SessionsConfig, args: SessionsArgs,
                  refs: GrantRefs, account: pulumi.Output[str], code: pulumi.AssetArchive,
                  environment: dict[str, Any], log_prefix: str, child: pulumi.ResourceOptions) -> None:
        logical = f"{name}-{kind}"
        lam = cfg.lambda_settings
        log_group = aws.cloudwatch.LogGroup(logical, name=f"{log_prefix}/{kind}",
                                            retention_in_days=args.log_retention_days, opts=child)
        role = aws.iam.Role(logical, description=f"IDE sessions {kind} Lambda",
                            assume_role_policy=iam.trust_policy(LAMBDA_SERVICE, source_account=account), opts=child)
        policy = aws.iam.RolePolicy(logical, role=role.id,
                                    policy=iam.document(STATEMENTS[kind](cfg, refs, log_group.arn)), opts=child)
        fn = aws.lambda_.Function(
            logical,
            description=f"IDE sessions: {kind}",
            runtime=aws.lambda_.Runtime.PYTHON3D12,
            architectures=[LAMBDA_ARCHITECTURE],
            handler=handler,
            code=code,
            layers=[self.layer.arn],
            role=role.arn,
            memory_size=lam.memory_mb,
            timeout=lam.timeout_for(kind),
            reserved_concurrent_executions=lam.reserved_for(kind),
            environment=aws.lambda_.FunctionEnvironmentArgs(variables=environment),
            tracing_config=aws.lambda_.FunctionTracingConfigArgs(mode="Active"),
            # The runtime prints JSON lines and CloudWatch EMF documents itself; Text keeps them intact
            # (EMF needs the line as written).
            logging_config=aws.lambda_.FunctionLoggingConfigArgs(log_format="Text", log_group=log_group.name),
            dead_letter_config=aws.lambda_.FunctionDeadLetterConfigArgs(target_arn=self.dlq.arn),
            # The policy must exist before any invocation; RunTask needs the capacity providers attached.
            opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(
                depends_on=[policy, self.capacity_providers])))
        if kind != "api":  # the API is invoked synchronously by AppSync; the others asynchronously
            aws.lambda_.FunctionEventInvokeConfig(
                logical, function_name=fn.name, maximum_retry_attempts=ASYNC_RETRY_ATTEMPTS,
                maximum_event_age_in_seconds=ASYNC_MAX_EVENT_AGE_SECONDS, opts=child)
        self.log_groups[kind] = log_group
        self.roles[kind] = role
        self.functions[kind] = fn
