"""Runtime configuration of the sessions Lambdas: the contract the Sessions component satisfies.

Every value comes from an environment variable; `Settings.from_env(os.environ)` validates all of
them up front and raises `ConfigurationError` naming the first bad variable, so a misconfigured
deployment fails on its first invocation with a readable message instead of half-working.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Mapping
from urllib.parse import urlsplit


class ConfigurationError(Exception):
    """An environment variable is missing or invalid; the message names it."""


try:  # deployed: components/sessions.py ships policies/fargate.py (and its data) inside this package
    from .fargate import FARGATE_MEMORY, size_number
except ModuleNotFoundError as exc:  # in the repository: the policy pack's module is the one source
    if exc.name != f"{__package__}.fargate":
        raise
    from policies.fargate import FARGATE_MEMORY, size_number

ON_DEMAND_PROVIDER = "FARGATE"

_NAME_RE = re.compile(r"^[A-Za-z0-9_-]{1,255}$")
_TABLE_RE = re.compile(r"^[A-Za-z0-9_.-]{3,255}$")
_CLUSTER_ARN_RE = re.compile(r"^arn:aws[a-z-]*:ecs:[a-z0-9-]+:\d{12}:cluster/([A-Za-z0-9_-]{1,255})$")
_TASKDEF_ARN_RE = re.compile(
    r"^arn:aws[a-z-]*:ecs:[a-z0-9-]+:\d{12}:task-definition/([A-Za-z0-9_-]{1,255})(?::\d+)?$"
)
_TASKDEF_RE = re.compile(r"^([A-Za-z0-9_-]{1,255})(?::\d+)?$")
_SUBNET_RE = re.compile(r"^subnet-[0-9a-f]{8,17}$")
_SG_RE = re.compile(r"^sg-[0-9a-f]{8,17}$")
_PRESET_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$")
_POLICY_ARN_RE = re.compile(r"^arn:aws[a-z-]*:(iam::\d{12}:policy/\S+|organizations::\d{12}:policy/\S+)$")
_APPSYNC_HOST_RE = re.compile(r"^[a-z0-9]+\.appsync-api\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?$")
_LISTENER_ARN_RE = re.compile(
    r"^arn:aws[a-z-]*:elasticloadbalancing:[a-z0-9-]+:\d{12}:listener/app/[A-Za-z0-9-]{1,32}/[0-9a-f]{16}/[0-9a-f]{16}$"
)
_FILE_SYSTEM_RE = re.compile(r"^fs-[0-9a-f]{8,40}$")
_VPC_RE = re.compile(r"^vpc-[0-9a-f]{8,17}$")
_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_USER_POOL_ARN_RE = re.compile(r"^arn:aws[a-z-]*:cognito-idp:[a-z0-9-]+:\d{12}:userpool/[a-z0-9-]+_[A-Za-z0-9]+$")
_CLIENT_ID_RE = re.compile(r"^[A-Za-z0-9]{1,128}$")
_POOL_DOMAIN_RE = re.compile(r"^[a-z0-9](?:[a-z0-9.-]{0,251}[a-z0-9])?$")
_SECRET_ARN_RE = re.compile(r"^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]+$")
# Lowercase DNS labels, at least two, the last alphabetic (the load balancer's host conditions
# require that); sessions are paths on that one host, so the domain itself is the host condition's
# value and must fit its 128 characters.
_DOMAIN_RE = re.compile(r"^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
SESSION_ID_LENGTH = 36
HOST_CONDITION_MAX = 128
EDITOR_DOMAIN_MAX = HOST_CONDITION_MAX


@dataclass(frozen=True)
class SizePreset:
    name: str
    cpu: int  # Fargate CPU units
    memory: int  # MiB


@dataclass(frozen=True)
class CapacityProviderItem:
    capacity_provider: str
    weight: int
    base: int


@dataclass(frozen=True)
class GitHubAppSettings:
    app_id: str
    installation_id: str
    key_secret_arn: str
    api_url: str


@dataclass(frozen=True)
class Settings:
    """Validated runtime configuration.

    Environment variables (R = required, otherwise the default shown applies):

    SESSIONS_TABLE (R)          DynamoDB sessions table name (the shared `sessions` table).
    CLUSTER_ARN (R)             ARN of the ECS cluster sessions run in. Its capacity providers must
                                include those in CAPACITY_PROVIDER_STRATEGY, plus FARGATE when
                                ON_DEMAND_FALLBACK or RESTART_ON_INTERRUPTION is true.
    TASK_DEFINITION (R)         Task definition family (`family`, `family:revision` or its ARN);
                                without a revision RunTask uses the latest ACTIVE one. The family
                                also scopes the reaper's orphan search (ListTasks family=...).
    CONTAINER_NAME (R)          Name of the editor container in that task definition; it receives
                                the env overrides SESSION_ID and REPOSITORY_URL (when requested).
    SUBNETS (R)                 Comma-separated subnet ids for the task ENI (1-16).
    SECURITY_GROUPS (R)         Comma-separated security group ids for the task ENI (1-5).
    ASSIGN_PUBLIC_IP            ENABLED | DISABLED (default DISABLED). Must be ENABLED when
                                EDITOR_ACCESS=public.
    CAPACITY_PROVIDER_STRATEGY (R)  JSON list of {"capacityProvider", "weight", "base"}, e.g.
                                [{"capacityProvider": "FARGATE", "weight": 1, "base": 1},
                                 {"capacityProvider": "FARGATE_SPOT", "weight": 3}], applied across
                                sessions (ECS would apply a base to every count=1 RunTask): each
                                start picks ONE provider, the one with a base while fewer than
                                `base` PROVISIONING/RUNNING sessions are on it, else a weighted
                                draw, and launches with that provider alone (weight 1, never
                                launchType).
    ON_DEMAND_FALLBACK          true | false (default false): when RunTask on FARGATE_SPOT fails
                                (error or capacity shortage), retry once on on-demand FARGATE.
    RESTART_ON_INTERRUPTION     true | false (default false): when Fargate Spot reclaims a running
                                session, relaunch it on on-demand FARGATE under the same id.
    MAX_SESSIONS_PER_USER (R)   Sessions per owner holding quota at once (PROVISIONING, RUNNING,
                                or INTERRUPTED while restarting), 1-50.
    SESSION_TTL_HOURS           Hours until the item's `expiresAt` TTL (default 24, 1-8760).
    MAX_LIFETIME_HOURS          The reaper stops sessions older than this (default 8); must not
                                exceed SESSION_TTL_HOURS so items outlive their tasks.
    IDLE_TIMEOUT_MINUTES        The reaper stops RUNNING sessions with no activity for this long
                                (default 60, 0 disables). Activity = start, reaching RUNNING, the
                                IDE's own use reported by its task (reportSessionActivity), and the
                                owner's getSession calls.
    SIZE_PRESETS (R)            JSON {name: {"cpu": units, "memory": MiB}}: the allowlist of
                                sizes, applied as Fargate task-level cpu/memory overrides; each
                                pair must be a valid Fargate combination.
    DEFAULT_SIZE (R)            Preset used when a start request names none.
    EDITOR_PORT                 Port code-server listens on in the container (default 8080).
    EDITOR_ACCESS (R)           public | private. public: editor URL is
                                http://<task public IP>:<EDITOR_PORT>/ (plain HTTP straight to the
                                task). private: https://<sessionId>.<EDITOR_DOMAIN>/; when a task
                                reaches RUNNING the runtime creates an IP target group for its
                                private IP and a host-header rule on LISTENER_ARN, and deletes both
                                when the session stops (app/sessions/routing.py).
    EDITOR_DOMAIN               private only (required there, refused in public mode): the DNS
                                name under which sessions get their host names. The listener's
                                certificate must cover *.<EDITOR_DOMAIN>, and a wildcard DNS record
                                *.<EDITOR_DOMAIN> must point at the load balancer. Lowercase, at
                                most 91 characters so <sessionId>.<EDITOR_DOMAIN> fits the
                                load balancer's 128-character host condition.
    LISTENER_ARN                private only (required there): the HTTPS listener of the editor
                                load balancer the per-session rules go on.
    VPC_ID                      private only (required there): the VPC of that load balancer, where
                                the per-session target groups are created.
    GRAPHQL_URL                 Optional https AppSync endpoint; when set, status changes made by
                                the task-state handler and the reaper are published through the
                                IAM-authorized mutation publishSessionUpdate.
    BUDGET_DENY_POLICY_ARN      Optional ARN of the policy the budget action attaches; an explicit
                                deny from it makes start fail with BudgetLimitReached, and a Spot
                                restart end the session STOPPED with a budget stopReason.
    AWS_REGION                  Set by Lambda; used to sign GRAPHQL_URL when its host is not a
                                standard AppSync endpoint.
    LAUNCH_BUCKET (R)           S3 bucket for per-task environment files (the session's Git token
                                and password hash): RunTask names the object, so DescribeTasks shows
                                an S3 ARN instead of the values. Only the execution role reads it.
    USER_POOL_ARN, USER_POOL_CLIENT_ID, USER_POOL_DOMAIN
                                private only (required there): the Cognito user pool, the editor
                                app client and the pool's domain that each session's listener rule
                                authenticates with (authenticate-cognito) before forwarding.
    GITHUB_APP_ID, GITHUB_APP_INSTALLATION_ID, GITHUB_APP_KEY_SECRET_ARN
                                All or none. With them, a session whose repositoryUrl is on the
                                App's GitHub gets an installation token scoped to that repository.
    TASK_ROLE_NAME              Optional: the session tasks' IAM role; reportSessionActivity accepts
                                only callers in it whose role session is the session's own task.
    WORKSPACE                   ephemeral | efs (default ephemeral). efs: each user's home is an EFS
                                access point of FILE_SYSTEM_ID, mounted by a task-definition revision
                                registered per user from BASE_TASK_DEFINITION (app/sessions/workspace.py).
    FILE_SYSTEM_ID              efs only (required there, refused otherwise): the workspaces' file system.
    BASE_TASK_DEFINITION        efs only (required there): the task definition ARN, with revision, of
                                TASK_DEFINITION's family that per-user revisions are derived from.
    GITHUB_API_URL              The App's API (default https://api.github.com; GitHub Enterprise
                                Server: https://<host>/api/v3).
    """

    sessions_table: str
    cluster_arn: str
    task_definition: str
    task_family: str
    container_name: str
    subnets: tuple[str, ...]
    security_groups: tuple[str, ...]
    assign_public_ip: bool
    capacity_provider_strategy: tuple[CapacityProviderItem, ...]
    on_demand_fallback: bool
    restart_on_interruption: bool
    max_sessions_per_user: int
    session_ttl_hours: int
    max_lifetime_hours: int
    idle_timeout_minutes: int
    size_presets: tuple[SizePreset, ...]
    default_size: str
    editor_port: int
    editor_access: str
    editor_domain: str | None
    listener_arn: str | None
    vpc_id: str | None
    graphql_url: str | None
    graphql_region: str | None
    budget_deny_policy_arn: str | None
    launch_bucket: str
    user_pool_arn: str | None = None
    user_pool_client_id: str | None = None
    user_pool_domain: str | None = None
    github: GitHubAppSettings | None = None
    task_role_name: str | None = None
    workspace: str = "ephemeral"
    file_system_id: str | None = None
    base_task_definition: str | None = None

    @property
    def cluster_name(self) -> str:
        return self.cluster_arn.rsplit("/", 1)[1]

    @property
    def size_names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.size_presets)

    def preset(self, name: str) -> SizePreset | None:
        for p in self.size_presets:
            if p.name == name:
                return p
        return None

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> "Settings":
        env = _Env(environ)
        cluster_arn = env.required("CLUSTER_ARN")
        if not _CLUSTER_ARN_RE.match(cluster_arn):
            raise env.error("CLUSTER_ARN", "must be an ECS cluster ARN (arn:aws:ecs:<region>:<account>:cluster/<name>)")
        table = env.required("SESSIONS_TABLE")
        if not _TABLE_RE.match(table):
            raise env.error("SESSIONS_TABLE", "must be a DynamoDB table name (3-255 of A-Z a-z 0-9 _ . -)")
        task_definition = env.required("TASK_DEFINITION")
        m = _TASKDEF_ARN_RE.match(task_definition) or _TASKDEF_RE.match(task_definition)
        if not m:
            raise env.error("TASK_DEFINITION", "must be a task definition family, family:revision or task definition ARN")
        container = env.required("CONTAINER_NAME")
        if not _NAME_RE.match(container):
            raise env.error("CONTAINER_NAME", "must be 1-255 letters, digits, '_' or '-'")

        subnets = env.id_list("SUBNETS", _SUBNET_RE, "subnet id (subnet-...)", 16)
        groups = env.id_list("SECURITY_GROUPS", _SG_RE, "security group id (sg-...)", 5)
        assign = env.choice("ASSIGN_PUBLIC_IP", ("ENABLED", "DISABLED"), "DISABLED")

        strategy = _parse_strategy(env, env.required("CAPACITY_PROVIDER_STRATEGY"))
        presets = _parse_presets(env, env.required("SIZE_PRESETS"))
        default_size = env.required("DEFAULT_SIZE")
        if default_size not in {p.name for p in presets}:
            raise env.error("DEFAULT_SIZE", f"{default_size!r} is not one of SIZE_PRESETS ({', '.join(p.name for p in presets)})")

        ttl = env.integer("SESSION_TTL_HOURS", 24, 1, 8760)
        lifetime = env.integer("MAX_LIFETIME_HOURS", 8, 1, 8760)
        if lifetime >= ttl:
            raise env.error(
                "MAX_LIFETIME_HOURS",
                f"({lifetime}) must be less than SESSION_TTL_HOURS ({ttl}): the reaper needs time to close a session "
                "before DynamoDB TTL may delete its item",
            )

        access = env.choice("EDITOR_ACCESS", ("public", "private"), None)
        # Read one by one (not in a loop) so tests can find every variable this module reads.
        private = {"EDITOR_DOMAIN": env.optional("EDITOR_DOMAIN"), "LISTENER_ARN": env.optional("LISTENER_ARN"),
                   "VPC_ID": env.optional("VPC_ID")}
        if access == "private":
            for name, value in private.items():
                if value is None:
                    raise env.error(name, "is required when EDITOR_ACCESS=private (per-session load balancer routing)")
            domain = private["EDITOR_DOMAIN"]
            if not _DOMAIN_RE.match(domain) or len(domain) > EDITOR_DOMAIN_MAX:
                raise env.error("EDITOR_DOMAIN", f"is {domain!r}; expected a lowercase DNS name such as ide.example.com "
                                                 f"(at most {EDITOR_DOMAIN_MAX} characters, no scheme, path or wildcard)")
            if not _LISTENER_ARN_RE.match(private["LISTENER_ARN"]):
                raise env.error("LISTENER_ARN", "must be an Application Load Balancer listener ARN "
                                                "(arn:aws:elasticloadbalancing:<region>:<account>:listener/app/<name>/<id>/<id>)")
            if not _VPC_RE.match(private["VPC_ID"]):
                raise env.error("VPC_ID", f"is {private['VPC_ID']!r}, which is not a VPC id (vpc-...)")
        else:
            for name, value in private.items():
                if value is not None:
                    raise env.error(name, "is only used with EDITOR_ACCESS=private; remove it or switch to private")
        if access == "public" and assign != "ENABLED":
            raise env.error("ASSIGN_PUBLIC_IP", "must be ENABLED when EDITOR_ACCESS=public (the editor URL is the task's public IP)")

        graphql_url = env.optional("GRAPHQL_URL")
        graphql_region = None
        if graphql_url is not None:
            graphql_url = _https_url(env, "GRAPHQL_URL", graphql_url)
            host_match = _APPSYNC_HOST_RE.match(urlsplit(graphql_url).hostname or "")
            graphql_region = host_match.group(1) if host_match else env.optional("AWS_REGION")
            if not graphql_region:
                raise env.error("GRAPHQL_URL", "is not a standard AppSync endpoint, so AWS_REGION must be set to sign requests")

        deny_arn = env.optional("BUDGET_DENY_POLICY_ARN")
        if deny_arn is not None and not _POLICY_ARN_RE.match(deny_arn):
            raise env.error("BUDGET_DENY_POLICY_ARN", "must be an IAM policy ARN (arn:aws:iam::<account>:policy/...) or an SCP ARN")

        bucket = env.required("LAUNCH_BUCKET")
        if not _BUCKET_RE.match(bucket):
            raise env.error("LAUNCH_BUCKET", f"is {bucket!r}, which is not an S3 bucket name")
        auth = {"USER_POOL_ARN": env.optional("USER_POOL_ARN"), "USER_POOL_CLIENT_ID": env.optional("USER_POOL_CLIENT_ID"),
                "USER_POOL_DOMAIN": env.optional("USER_POOL_DOMAIN")}
        for name, value in auth.items():
            if access == "private" and value is None:
                raise env.error(name, "is required when EDITOR_ACCESS=private (the listener rules authenticate the owner)")
            if access != "private" and value is not None:
                raise env.error(name, "is only used with EDITOR_ACCESS=private; remove it or switch to private")
        if access == "private":
            if not _USER_POOL_ARN_RE.match(auth["USER_POOL_ARN"]):
                raise env.error("USER_POOL_ARN", "must be a Cognito user pool ARN (arn:aws:cognito-idp:<region>:<account>:userpool/<id>)")
            if not _CLIENT_ID_RE.match(auth["USER_POOL_CLIENT_ID"]):
                raise env.error("USER_POOL_CLIENT_ID", "must be a Cognito app client id (1-128 letters and digits)")
            if not _POOL_DOMAIN_RE.match(auth["USER_POOL_DOMAIN"]):
                raise env.error("USER_POOL_DOMAIN", "must be the user pool's domain prefix or custom domain name")

        return cls(
            sessions_table=table,
            cluster_arn=cluster_arn,
            task_definition=task_definition,
            task_family=m.group(1),
            container_name=container,
            subnets=subnets,
            security_groups=groups,
            assign_public_ip=assign == "ENABLED",
            capacity_provider_strategy=strategy,
            on_demand_fallback=env.boolean("ON_DEMAND_FALLBACK", False),
            restart_on_interruption=env.boolean("RESTART_ON_INTERRUPTION", False),
            max_sessions_per_user=env.integer("MAX_SESSIONS_PER_USER", None, 1, 50),
            session_ttl_hours=ttl,
            max_lifetime_hours=lifetime,
            idle_timeout_minutes=env.integer("IDLE_TIMEOUT_MINUTES", 60, 0, 10080),
            size_presets=presets,
            default_size=default_size,
            editor_port=env.integer("EDITOR_PORT", 8080, 1, 65535),
            editor_access=access,
            editor_domain=private["EDITOR_DOMAIN"],
            listener_arn=private["LISTENER_ARN"],
            vpc_id=private["VPC_ID"],
            graphql_url=graphql_url,
            graphql_region=graphql_region,
            budget_deny_policy_arn=deny_arn,
            launch_bucket=bucket,
            user_pool_arn=auth["USER_POOL_ARN"],
            user_pool_client_id=auth["USER_POOL_CLIENT_ID"],
            user_pool_domain=auth["USER_POOL_DOMAIN"],
            github=_github(env),
            task_role_name=_task_role(env),
            **_workspace(env, m.group(1)),
        )


def _workspace(env: "_Env", family: str) -> dict[str, Any]:
    kind = env.choice("WORKSPACE", ("ephemeral", "efs"), "ephemeral")
    fs, base = env.optional("FILE_SYSTEM_ID"), env.optional("BASE_TASK_DEFINITION")
    if kind != "efs":
        for name, value in (("FILE_SYSTEM_ID", fs), ("BASE_TASK_DEFINITION", base)):
            if value is not None:
                raise env.error(name, "is only used with WORKSPACE=efs; remove it or switch to efs")
        return {"workspace": kind}
    if fs is None or not _FILE_SYSTEM_RE.match(fs):
        raise env.error("FILE_SYSTEM_ID", f"is {fs!r}; WORKSPACE=efs needs the workspaces' EFS file system id (fs-...)")
    m = _TASKDEF_ARN_RE.match(base or "")
    if m is None or not base.rsplit(":", 1)[1].isdigit() or m.group(1) != family:
        raise env.error("BASE_TASK_DEFINITION", f"is {base!r}; WORKSPACE=efs needs the ARN, with revision, of a task "
                                                f"definition of the {family!r} family")
    return {"workspace": kind, "file_system_id": fs, "base_task_definition": base}


def _task_role(env: "_Env") -> str | None:
    name = env.optional("TASK_ROLE_NAME")
    if name is not None and not re.fullmatch(r"[\w+=,.@-]{1,64}", name):
        raise env.error("TASK_ROLE_NAME", f"is {name!r}, which is not an IAM role name")
    return name


def _github(env: "_Env") -> GitHubAppSettings | None:
    app = {"GITHUB_APP_ID": env.optional("GITHUB_APP_ID"),
           "GITHUB_APP_INSTALLATION_ID": env.optional("GITHUB_APP_INSTALLATION_ID"),
           "GITHUB_APP_KEY_SECRET_ARN": env.optional("GITHUB_APP_KEY_SECRET_ARN")}
    api_url = env.optional("GITHUB_API_URL")
    if all(v is None for v in app.values()):
        if api_url is not None:
            raise env.error("GITHUB_API_URL", "is set without GITHUB_APP_ID, GITHUB_APP_INSTALLATION_ID and GITHUB_APP_KEY_SECRET_ARN")
        return None
    for name, value in app.items():
        if value is None:
            raise env.error(name, "is required with the other GITHUB_APP_* variables (all or none)")
    for name in ("GITHUB_APP_ID", "GITHUB_APP_INSTALLATION_ID"):
        if not re.fullmatch(r"[1-9]\d{0,19}", app[name]):
            raise env.error(name, f"is {app[name]!r}; expected the numeric id GitHub shows")
    if not _SECRET_ARN_RE.match(app["GITHUB_APP_KEY_SECRET_ARN"]):
        raise env.error("GITHUB_APP_KEY_SECRET_ARN", "must be a Secrets Manager secret ARN")
    url = api_url or "https://api.github.com"
    parts = urlsplit(url)
    # http only for a local test double; a real GitHub API is https.
    if parts.scheme not in ("https", "http") or not parts.hostname or parts.query or parts.username or (
            parts.scheme == "http" and parts.hostname not in ("127.0.0.1", "localhost")):
        raise env.error("GITHUB_API_URL", f"is {url!r}; expected an https URL such as https://api.github.com")
    return GitHubAppSettings(app["GITHUB_APP_ID"], app["GITHUB_APP_INSTALLATION_ID"],
                             app["GITHUB_APP_KEY_SECRET_ARN"], url.rstrip("/"))


class _Env:
    def __init__(self, environ: Mapping[str, str]):
        self._environ = environ

    @staticmethod
    def error(name: str, problem: str) -> ConfigurationError:
        return ConfigurationError(f"environment variable {name} {problem}")

    def optional(self, name: str) -> str | None:
        value = self._environ.get(name)
        if value is None or value.strip() == "":
            return None
        return value.strip()

    def required(self, name: str) -> str:
        value = self.optional(name)
        if value is None:
            raise self.error(name, "is required but not set")
        return value

    def choice(self, name: str, allowed: tuple[str, ...], default: str | None) -> str:
        value = self.optional(name)
        if value is None:
            if default is None:
                raise self.error(name, f"is required but not set (one of {', '.join(allowed)})")
            return default
        if value not in allowed:
            raise self.error(name, f"is {value!r}; expected one of {', '.join(allowed)}")
        return value

    def boolean(self, name: str, default: bool) -> bool:
        value = self.optional(name)
        if value is None:
            return default
        lowered = value.lower()
        if lowered not in ("true", "false"):
            raise self.error(name, f"is {value!r}; expected true or false")
        return lowered == "true"

    def integer(self, name: str, default: int | None, low: int, high: int) -> int:
        value = self.optional(name)
        if value is None:
            if default is None:
                raise self.error(name, f"is required but not set (an integer {low}-{high})")
            return default
        if not re.fullmatch(r"\d+", value):
            raise self.error(name, f"is {value!r}; expected an integer {low}-{high}")
        number = int(value)
        if not low <= number <= high:
            raise self.error(name, f"is {number}; expected an integer {low}-{high}")
        return number

    def id_list(self, name: str, pattern: re.Pattern[str], what: str, limit: int) -> tuple[str, ...]:
        items = [part.strip() for part in self.required(name).split(",")]
        for item in items:
            if not pattern.match(item):
                raise self.error(name, f"contains {item!r}, which is not a {what}")
        if len(items) > limit:
            raise self.error(name, f"lists {len(items)} ids; at most {limit} are allowed")
        if len(set(items)) != len(items):
            raise self.error(name, "lists the same id twice")
        return tuple(items)


def _json(env: _Env, name: str, raw: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise env.error(name, f"is not valid JSON ({exc})") from None


def _parse_strategy(env: _Env, raw: str) -> tuple[CapacityProviderItem, ...]:
    name = "CAPACITY_PROVIDER_STRATEGY"
    data = _json(env, name, raw)
    if not isinstance(data, list) or not data:
        raise env.error(name, "must be a non-empty JSON list of {capacityProvider, weight, base}")
    if len(data) > 20:
        raise env.error(name, "may list at most 20 capacity providers")
    items = []
    for index, entry in enumerate(data):
        where = f"entry {index}"
        if not isinstance(entry, dict):
            raise env.error(name, f"{where} is not an object")
        unknown = set(entry) - {"capacityProvider", "weight", "base"}
        if unknown:
            raise env.error(name, f"{where} has unknown keys {sorted(unknown)}")
        provider = entry.get("capacityProvider")
        if not isinstance(provider, str) or not _NAME_RE.match(provider):
            raise env.error(name, f"{where} needs capacityProvider, a capacity provider name")
        weight = entry.get("weight", 0)
        base = entry.get("base", 0)
        if isinstance(weight, bool) or not isinstance(weight, int) or not 0 <= weight <= 1000:
            raise env.error(name, f"{where} ({provider}) weight must be an integer 0-1000")
        if isinstance(base, bool) or not isinstance(base, int) or not 0 <= base <= 100000:
            raise env.error(name, f"{where} ({provider}) base must be an integer 0-100000")
        items.append(CapacityProviderItem(provider, weight, base))
    if len({i.capacity_provider for i in items}) != len(items):
        raise env.error(name, "lists the same capacity provider twice")
    if sum(1 for i in items if i.base > 0) > 1:
        raise env.error(name, "may give a base to only one capacity provider")
    if not any(i.weight > 0 for i in items):
        raise env.error(name, "needs at least one capacity provider with weight > 0 (ECS rejects all-zero weights)")
    return tuple(items)


def _parse_presets(env: _Env, raw: str) -> tuple[SizePreset, ...]:
    name = "SIZE_PRESETS"
    data = _json(env, name, raw)
    if not isinstance(data, dict) or not data:
        raise env.error(name, 'must be a non-empty JSON object {"<size>": {"cpu": <units>, "memory": <MiB>}}')
    if len(data) > 20:
        raise env.error(name, "may define at most 20 sizes")
    presets = []
    for preset_name, spec in data.items():
        if not _PRESET_RE.match(preset_name):
            raise env.error(name, f"size name {preset_name!r} must be 1-32 letters, digits, '_' or '-'")
        if not isinstance(spec, dict) or set(spec) != {"cpu", "memory"}:
            raise env.error(name, f"size {preset_name!r} must be an object with exactly cpu and memory")
        cpu, memory = (size_number(spec["cpu"]), size_number(spec["memory"]))
        if cpu not in FARGATE_MEMORY:
            raise env.error(
                name, f"size {preset_name!r} has cpu {spec['cpu']!r}; Fargate allows {', '.join(map(str, FARGATE_MEMORY))}"
            )
        allowed = FARGATE_MEMORY[cpu]
        if memory not in allowed:
            raise env.error(
                name,
                f"size {preset_name!r} has memory {spec['memory']!r} MiB, not valid with cpu {cpu}; "
                f"Fargate allows {allowed[0]}-{allowed[-1]} MiB"
                + (f" in {allowed[1] - allowed[0]} MiB steps" if len(allowed) > 1 else ""),
            )
        presets.append(SizePreset(preset_name, cpu, memory))
    return tuple(presets)


def _https_url(env: _Env, name: str, value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme != "https" or not parts.hostname or parts.query or parts.fragment or parts.username:
        raise env.error(name, f"is {value!r}; expected an https URL without query, fragment or credentials")
    return value
