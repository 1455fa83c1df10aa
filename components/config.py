"""Typed stack configuration.

One module reads every key of this project's stack config into frozen dataclasses and validates it
before any resource is declared. A wrong type, an unknown key, an out-of-range value or a missing
required key fails with one line that names the stack file and the key, e.g.
``Pulumi.dev.yaml: network.azs must be between 1 and 6, got 9``; every problem of a stack is
reported at once, one line each (unknown keys first: a typo often explains a "missing" key).

Things that cost money or weaken security have no default: the stack file must say them. Safe
defaults are documented in ``Pulumi.yaml``'s ``config:`` block (a test keeps the two in step).
"""

from __future__ import annotations

import contextvars
import difflib
import functools
import importlib.util
import ipaddress
import json
import re
from pathlib import Path
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Optional, Sequence

# Valid Fargate task sizes, cpu units -> memory MiB (Amazon ECS task CPU and memory): the pack's
# table, so stack config, the session API and the policy pack accept exactly the same sizes.
from policies.fargate import FARGATE_MEMORY
# Sessions are https://<editorDomain>/<sessionId>/: the domain is the ALB host condition's value, at
# most 128 characters; the sessions runtime checks the same bound.
from app.sessions.settings import EDITOR_DOMAIN_MAX
# Bounds AWS's service models state, read from botocore's models: the deploy lint checks exports
# against the same models, so config and lint cannot drift apart.
from tools.deploylint.shapes import model_limit

PROJECT = "aiplatform"

# CloudWatch Logs accepts only these retention values (PutRetentionPolicy's retentionInDays).
LOG_RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
)

# A Fargate container's stopTimeout (SIGTERM to SIGKILL) is at most 120 s; tools/deploylint checks exports with it.
FARGATE_MAX_STOP_TIMEOUT_SECONDS = 120

# The aws: stack settings the explicit provider honours (components/provider.py).
AWS_PROVIDER_KEYS = ("aws:region", "aws:profile", "aws:allowedAccountIds")
AWS_REGION_RE = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-\d$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
ARN_RE = re.compile(r"^arn:aws[a-z-]*:[a-z0-9-]+:[a-z0-9-]*:\d{0,12}:.+$")
# A table's key must be a KMS key (or alias) in the table's own region: DynamoDB refuses others.
KMS_KEY_ARN_RE = re.compile(r"^arn:aws[a-z-]*:kms:([a-z]{2}(?:-gov)?-[a-z]+-\d):\d{12}:(?:key|alias)/[\w/-]+$")
TAG_KEY_RE = re.compile(r"^[\w.:/=+\-@ ]{1,128}$")
COGNITO_GROUP_RE = re.compile(r"^[\w+=,.@-]{1,128}$")
DOMAIN_PREFIX_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
SCHEDULE_RE = re.compile(r"^(rate\(\d+ (minute|minutes|hour|hours|day|days)\)|cron\(.+\))$")
IMAGE_RE = re.compile(r"^[\w.\-/:@]+$")
# ``image: "ecr:<tag>"`` means this stack's own ECR repository at <tag>. The tag follows Docker's
# rule (ECR stores what `docker push` sends): 1-128 of letters, digits, _ . -, not starting with . or -.
ECR_IMAGE_PREFIX = "ecr:"
IMAGE_TAG_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
# Lowercase DNS labels, at least two, the last alphabetic (ALB host conditions require that).
DNS_NAME_RE = re.compile(r"^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


@functools.lru_cache(maxsize=None)
def _partitions() -> tuple[tuple[str, re.Pattern, frozenset[str]], ...]:
    """(partition, its region-name pattern, its regions) from the installed botocore's partitions.json,
    read as data (importing botocore is not needed for that)."""
    spec = importlib.util.find_spec("botocore")
    doc = json.loads((Path(spec.submodule_search_locations[0]) / "data" / "partitions.json").read_text())
    return tuple((p["id"], re.compile(p["regionRegex"]),
                  frozenset(r for r in p.get("regions", {}) if not r.endswith("-global")))  # aws-global etc. are not regions
                 for p in doc["partitions"])


def region_error(region: Any) -> Optional[str]:
    """None when ``region`` is a region AWS has, else why not (for "aws:region <why>")."""
    if not isinstance(region, str) or not region:
        return f"is required and must be an AWS region name, got {region!r}"
    for partition, pattern, regions in _partitions():
        if region in regions:
            return None
    for partition, pattern, regions in _partitions():
        if pattern.fullmatch(region):
            near = difflib.get_close_matches(region, sorted(regions), n=3, cutoff=0.75)
            hint = f"did you mean {' or '.join(near)}?" if near else f"one of {', '.join(sorted(regions))}"
            return f"must be a region of the {partition} partition, got {region!r} ({hint})"
    return f"must be an AWS region name, got {region!r}"


def partition_of(region: str) -> str:
    """The ARN partition of a region (aws, aws-cn, aws-us-gov, ...): ARNs built here must use it."""
    for partition, _, regions in _partitions():
        if region in regions:
            return partition
    raise ValueError(f"{region!r} is not an AWS region")


# Config keys that hold secrets: they must be set with `pulumi config set --secret`.
SECRET_KEYS = ("googleClientSecret", "applePrivateKey")


class ConfigError(ValueError):
    """A stack config value is missing, unknown, mistyped or out of range (one line per problem)."""

    @property
    def problems(self) -> list[str]:
        return str(self).splitlines()


class _Reported(ConfigError):
    """Raised inside a section whose problem is already recorded: ends that section quietly."""


# The problems of the stack parse() is reading; None outside parse(), where readers raise at once.
_PROBLEMS: contextvars.ContextVar[Optional[list[str]]] = contextvars.ContextVar("config_problems", default=None)
UNKNOWN = "is not a known setting"


def _report(error: ConfigError) -> None:
    """Record a problem of the stack being parsed, or raise it when nothing is collecting."""
    problems = _PROBLEMS.get()
    if problems is None:
        raise error
    for line in error.problems:
        if line not in problems:
            problems.append(line)


def _gathered(parse_section: Callable[..., Any]) -> Callable[..., Any]:
    """A section parser whose first problem is recorded instead of ending the parse, so the other
    sections are still read (and their problems reported in the same run). Returns None then."""

    @functools.wraps(parse_section)
    def run(r: "_Reader", *args, **kwargs):
        if r._absent:
            return None  # the section itself is missing or not an object: already reported
        try:
            return parse_section(r, *args, **kwargs)
        except _Reported:
            return None
        except ConfigError as exc:
            if _PROBLEMS.get() is None:
                raise
            _report(exc)
            return None

    return run


# --------------------------------------------------------------------------------------------
# A small reader that knows where it is, so every error names the full key path.
# --------------------------------------------------------------------------------------------
class _Reader:
    def __init__(self, data: Mapping[str, Any], path: str, source: str, absent: bool = False):
        self._data = data
        self._path = path
        self._source = source
        self._seen: set[str] = set()
        # A section that is missing or not an object (reported once): its required keys end the
        # section quietly instead of each adding a line.
        self._absent = absent

    def _key(self, key: str) -> str:
        return f"{self._path}.{key}" if self._path else key

    def fail(self, key: str, message: str) -> ConfigError:
        return ConfigError(f"{self._source}: {self._key(key)} {message}")

    def has(self, key: str) -> bool:
        return key in self._data and self._data[key] is not None

    def _get(self, key: str, required: bool) -> Any:
        self._seen.add(key)
        if not self.has(key):
            if required:
                if self._absent:
                    raise _Reported(self.fail(key, "is required"))
                # A near-miss among the keys not read yet is a typo of this one: name it first.
                typos = difflib.get_close_matches(key, [k for k in self._data if k not in self._seen], n=3, cutoff=0.8)
                lines = [str(self.fail(k, f"{UNKNOWN} (did you mean {key}?)")) for k in typos]
                self._seen.update(typos)
                raise ConfigError("\n".join([*lines, str(self.fail(key, "is required"))]))
            return None
        return self._data[key]

    def bool(self, key: str, default: Optional[bool] = None) -> bool:
        value = self._get(key, default is None)
        if value is None:
            return default  # type: ignore[return-value]
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        if not isinstance(value, bool):
            raise self.fail(key, f"must be true or false, got {value!r}")
        return value

    def int(self, key: str, lo: int, hi: int, default: Optional[int] = None) -> int:
        value = self._get(key, default is None)
        if value is None:
            return default  # type: ignore[return-value]
        if isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(key, f"must be a whole number, got {value!r}")
        if not lo <= value <= hi:
            raise self.fail(key, f"must be between {lo} and {hi}, got {value}")
        return value

    def opt_int(self, key: str, lo: int, hi: int) -> Optional[int]:
        return self.int(key, lo, hi) if self.has(key) else self._mark(key)

    def number(self, key: str, lo: float, hi: float, default: Optional[float] = None) -> float:
        value = self._get(key, default is None)
        if value is None:
            return default  # type: ignore[return-value]
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                raise self.fail(key, f"must be a number, got {value!r}") from None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.fail(key, f"must be a number, got {value!r}")
        if not lo <= value <= hi:
            raise self.fail(key, f"must be between {lo:g} and {hi:g}, got {value:g}")
        return float(value)

    def str(self, key: str, default: Optional[str] = None, pattern: Optional[re.Pattern] = None,
            what: str = "") -> str:
        value = self._get(key, default is None)
        if value is None:
            return default  # type: ignore[return-value]
        if not isinstance(value, str) or not value.strip():
            raise self.fail(key, f"must be a non-empty string, got {value!r}")
        if pattern is not None and not pattern.fullmatch(value):
            raise self.fail(key, f"must be {what or 'of the form ' + pattern.pattern}, got {value!r}")
        return value

    def opt_str(self, key: str, pattern: Optional[re.Pattern] = None, what: str = "") -> Optional[str]:
        return self.str(key, pattern=pattern, what=what) if self.has(key) else self._mark(key)

    def choice(self, key: str, choices: Sequence[str], default: Optional[str] = None) -> str:
        value = self._get(key, default is None)
        if value is None:
            return default  # type: ignore[return-value]
        if value not in choices:
            raise self.fail(key, f"must be one of {', '.join(choices)}, got {value!r}")
        return value

    def list(self, key: str, item: Callable[["_Reader", str], Any], default: Optional[list] = None,
             min_len: int = 0, max_len: int = 1000, unique: bool = True) -> tuple:
        value = self._get(key, default is None)
        if value is None:
            value = default
        if not isinstance(value, list):
            raise self.fail(key, f"must be a list, got {value!r}")
        if not min_len <= len(value) <= max_len:
            raise self.fail(key, f"must have between {min_len} and {max_len} entries, got {len(value)}")
        items = tuple(item(_Reader({str(i): v for i, v in enumerate(value)}, self._key(key), self._source),
                           str(i)) for i in range(len(value)))
        if unique:
            seen: set = set()
            for v in items:
                if v in seen:
                    raise self.fail(key, f"lists {v!r} twice")
                seen.add(v)
        return items

    def section(self, key: str, required: bool = True) -> "_Reader":
        try:
            value = self._get(key, required)
            if value is not None and not isinstance(value, Mapping):
                raise self.fail(key, f"must be an object, got {value!r}")
        except _Reported:
            raise
        except ConfigError as exc:
            _report(exc)  # raises when nothing is collecting
            return _Reader({}, self._key(key), self._source, absent=True)
        return _Reader(value or {}, self._key(key), self._source)

    def str_map(self, key: str) -> dict[str, str]:
        value = self._get(key, False) or {}
        if not isinstance(value, Mapping):
            raise self.fail(key, f"must be an object of strings, got {value!r}")
        for k, v in value.items():
            if not isinstance(v, str):
                raise self.fail(f"{key}.{k}", f"must be a string, got {v!r}")
        return dict(value)

    def _mark(self, key: str) -> None:
        self._seen.add(key)
        return None

    def done(self) -> None:
        """Reject keys nobody asked for: a typo must not silently fall back to a default."""
        for key in sorted(set(self._data) - self._seen):
            _report(self.fail(key, f"{UNKNOWN} (known: {', '.join(sorted(self._seen))})"))


def _item_str(pattern: Optional[re.Pattern] = None, what: str = ""):
    return lambda r, k: r.str(k, pattern=pattern, what=what)


def _item_cidr(r: _Reader, k: str) -> str:
    value = r.str(k)
    try:
        return str(ipaddress.ip_network(value, strict=True))
    except ValueError:
        raise r.fail(k, f"must be an IPv4/IPv6 network in CIDR notation, got {value!r}") from None


# --------------------------------------------------------------------------------------------
# Sections
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class FlowLogsConfig:
    enabled: bool
    retention_days: int = 30
    traffic_type: str = "REJECT"


@dataclass(frozen=True)
class NetworkConfig:
    azs: int
    nat_strategy: str  # none | single | onePerAz
    cidr: str = "10.0.0.0/16"
    flow_logs: FlowLogsConfig = FlowLogsConfig(enabled=False)

    @property
    def nat_gateway_count(self) -> int:
        return {"none": 0, "single": 1, "onePerAz": self.azs}[self.nat_strategy]


@dataclass(frozen=True)
class DataConfig:
    deletion_protection: bool
    # AWS_OWNED (free, invisible), AWS_MANAGED (aws/dynamodb: key use shows in CloudTrail, no key
    # fee), CUSTOMER_MANAGED (kmsKeyArn, plus a key per replica region).
    encryption: str = "AWS_OWNED"
    replica_regions: tuple[str, ...] = ()
    kms_key_arn: Optional[str] = None
    replica_kms_key_arns: Mapping[str, str] = field(default_factory=dict)
    point_in_time_recovery: bool = True
    billing_mode: str = "PAY_PER_REQUEST"
    read_capacity: Optional[int] = None
    write_capacity: Optional[int] = None


@dataclass(frozen=True)
class FederatedProvider:
    client_id: str
    # Apple only.
    team_id: Optional[str] = None
    key_id: Optional[str] = None


@dataclass(frozen=True)
class EmailConfig:
    """Cognito mail through Amazon SES (DEVELOPER sending): Cognito's own sender has a small daily
    quota that AWS says is not meant for production."""
    source_arn: str  # a verified SES identity (domain or address) in the pool's region
    from_address: str  # "name@domain" or "Display Name <name@domain>", covered by that identity
    reply_to: Optional[str] = None


@dataclass(frozen=True)
class IdentityConfig:
    mfa: str  # ON | OPTIONAL
    deletion_protection: bool
    threat_protection: str  # OFF | AUDIT | ENFORCED
    groups: tuple[str, ...] = ("ADMIN", "USER", "RESEARCHER")
    default_group: str = "USER"
    callback_urls: tuple[str, ...] = ()
    logout_urls: tuple[str, ...] = ()
    domain_prefix: Optional[str] = None
    access_token_minutes: int = 60
    id_token_minutes: int = 60
    refresh_token_days: int = 30
    google: Optional[FederatedProvider] = None
    apple: Optional[FederatedProvider] = None
    email: Optional[EmailConfig] = None


@dataclass(frozen=True)
class AnomalyConfig:
    enabled: bool
    daily_threshold_usd: float = 50.0


@dataclass(frozen=True)
class CostGuardConfig:
    monthly_budget_usd: float
    alert_emails: tuple[str, ...]
    action_threshold_percent: float = 90.0
    anomaly: AnomalyConfig = AnomalyConfig(enabled=False)
    activate_cost_allocation_tags: bool = False
    # account: the budget and anomaly monitor watch the whole account (one account per stack) and work
    # at once; tags: they filter on this stack's environment tag and see nothing until it is activated.
    scope: str = "account"


@dataclass(frozen=True)
class SizePreset:
    cpu: int
    memory: int


@dataclass(frozen=True)
class CapacityStrategyItem:
    capacity_provider: str  # FARGATE | FARGATE_SPOT
    weight: int
    base: int = 0

    def as_dict(self) -> dict:
        return {"capacityProvider": self.capacity_provider, "weight": self.weight, "base": self.base}


# The sessions Lambdas as components/sessions.py names them -> their key under lambda.reservedConcurrency.
SESSIONS_FUNCTION_KEYS = {"api": "api", "task-state": "taskState", "reaper": "reaper"}


@dataclass(frozen=True)
class LambdaSettings:
    memory_mb: int = 256
    timeout_seconds: int = 30  # the API's; see timeout_for
    # Function kind ("api", "task-state", "reaper") -> reserved concurrency; a kind not listed
    # reserves nothing (draws from the account's unreserved pool).
    reserved_concurrency: Mapping[str, int] = field(default_factory=dict)
    # Function kind -> timeout (s); kinds not listed get SESSIONS_TIMEOUT_DEFAULTS.
    timeouts: Mapping[str, int] = field(default_factory=dict)

    def timeout_for(self, kind: str) -> int:
        """Per function: the API answers AppSync (at most 30 s), the reaper sweeps every active
        session, orphan task and routing and needs far longer than one API call."""
        if kind not in SESSIONS_FUNCTION_KEYS:
            raise KeyError(f"unknown sessions function {kind!r} (known: {', '.join(SESSIONS_FUNCTION_KEYS)})")
        return self.timeouts.get(kind, SESSIONS_TIMEOUT_DEFAULTS[kind])

    def reserved_for(self, kind: str) -> Optional[int]:
        if kind not in SESSIONS_FUNCTION_KEYS:
            raise KeyError(f"unknown sessions function {kind!r} (known: {', '.join(SESSIONS_FUNCTION_KEYS)})")
        return self.reserved_concurrency.get(kind)


@dataclass(frozen=True)
class GitHubAppConfig:
    """sessions.githubApp: the GitHub App that mints per-session repository tokens (its private key
    goes into the secret the Sessions component creates, never into config)."""

    app_id: int
    installation_id: int
    api_url: Optional[str] = None  # GitHub Enterprise Server: https://<host>/api/v3


WORKSPACE_KINDS = ("ephemeral", "efs")


@dataclass(frozen=True)
class SessionsConfig:
    image: str
    cpu: int
    memory: int
    editor_access: str  # public | private
    capacity_strategy: tuple[CapacityStrategyItem, ...]
    max_sessions_per_user: int
    architecture: str = "X86_64"
    editor_port: int = 8080
    allowed_cidrs: tuple[str, ...] = ()
    certificate_arn: Optional[str] = None
    # private only: sessions are served at https://<editor_domain>/<sessionId>/.
    editor_domain: Optional[str] = None
    on_demand_fallback: bool = False
    restart_on_interruption: bool = False
    session_ttl_hours: int = 24
    max_lifetime_hours: int = 12
    idle_timeout_minutes: int = 60
    reaper_schedule: str = "rate(10 minutes)"
    stop_timeout_seconds: int = 120
    container_insights: str = "disabled"
    size_presets: Mapping[str, SizePreset] = field(default_factory=dict)
    default_size: str = "default"
    ecr_keep_images: int = 10
    ecr_immutable_tags: bool = True
    lambda_settings: LambdaSettings = LambdaSettings()
    github_app: Optional[GitHubAppConfig] = None
    # ephemeral: the IDE's home lives and dies with its task; efs: a per-user EFS access point is
    # mounted as the home, so work survives Spot restarts, reaps and lifetime stops. The YAML key is
    # required (sessions.workspace); the default here only serves direct constructions in tests.
    workspace: str = "ephemeral"

    @property
    def efs_workspace(self) -> bool:
        return self.workspace == "efs"

    @property
    def ecr_image_tag(self) -> Optional[str]:
        """The tag T of ``image: "ecr:T"`` (this stack's ECR repository), None for an external image."""
        return self.image[len(ECR_IMAGE_PREFIX):] if self.image.startswith(ECR_IMAGE_PREFIX) else None


@dataclass(frozen=True)
class AlarmSpec:
    """One alarm's trigger: ``threshold`` (inclusive: the alarm fires at >= threshold) in the unit its
    config key names, over ``datapoints_to_alarm`` of ``evaluation_periods`` periods."""

    threshold: float
    period_seconds: int = 300
    evaluation_periods: int = 1
    datapoints_to_alarm: int = 1
    enabled: bool = True


@dataclass(frozen=True)
class ObservabilityConfig:
    alarm_emails: tuple[str, ...]
    # Defaults from the product docs (001: errors 5 in 5 min, throttles >= 1, concurrency >= 80 % of
    # reserved; 004: throttles > 0).
    lambda_errors: AlarmSpec = AlarmSpec(threshold=5)
    lambda_throttles: AlarmSpec = AlarmSpec(threshold=1)
    lambda_duration_p95_percent: AlarmSpec = AlarmSpec(threshold=80, evaluation_periods=3, datapoints_to_alarm=3)
    lambda_concurrency_percent: AlarmSpec = AlarmSpec(threshold=80, period_seconds=60, evaluation_periods=3,
                                                      datapoints_to_alarm=3)
    # Functions without a reservation share the account's pool: an absolute count instead.
    lambda_concurrent_executions: AlarmSpec = AlarmSpec(threshold=50, period_seconds=60, evaluation_periods=3,
                                                        datapoints_to_alarm=3)
    dynamodb_throttles: AlarmSpec = AlarmSpec(threshold=1)
    dynamodb_system_errors: AlarmSpec = AlarmSpec(threshold=1)
    appsync_errors_5xx: AlarmSpec = AlarmSpec(threshold=5)
    appsync_latency_p95_ms: AlarmSpec = AlarmSpec(threshold=1000, evaluation_periods=3, datapoints_to_alarm=3)
    session_failures: AlarmSpec = AlarmSpec(threshold=3, period_seconds=900)
    spot_interruptions: AlarmSpec = AlarmSpec(threshold=5, period_seconds=3600)
    dashboard: bool = True


# AppSync field log levels (botocore's FieldLogLevel). ALL is refused by the parser (see _api).
FIELD_LOG_LEVELS = ("NONE", "ERROR", "INFO", "DEBUG", "ALL")
# The API key's expiry moves forward in windows (components/api.py, api_key_expiry); below 3 days a
# window would leave less than the day AWS requires between an update and the expiry.
API_KEY_MIN_DAYS = 3
API_KEY_MAX_DAYS = 30


@dataclass(frozen=True)
class ApiKeyConfig:
    enabled: bool
    expires_in_days: int = API_KEY_MAX_DAYS


@dataclass(frozen=True)
class ApiConfig:
    field_log_level: str  # NONE | ERROR | INFO | DEBUG
    introspection: bool
    query_depth_limit: int = 10
    resolver_count_limit: int = 1000
    xray: bool = True
    api_key: ApiKeyConfig = ApiKeyConfig(enabled=False)


# --- agents (MAGI on Bedrock AgentCore) -------------------------------------------------------
# The four MAGI roles the agent runtime reads from AGENT_MODELS (app/agents): the judge and three sages.
AGENT_ROLES = ("solomon", "caspar", "balthasar", "melchior")
# A foundation-model id (provider.model[:version]) or a system-defined inference profile id, which
# prefixes the model id with its geography ("us.anthropic.claude-...").
MODEL_ID_RE = re.compile(r"^(?:[a-z]{2,6}\.)?[a-z0-9-]+\.[A-Za-z0-9-]+(?::[A-Za-z0-9]+){0,2}$")
# Destination Regions of the geographic cross-Region inference profiles, by id prefix (Amazon Bedrock
# user guide, "Supported Regions and models for inference profiles"). A request made through a profile
# may run in any of them, and IAM authorizes it there: the role needs the profile ARN in the source
# Region and the foundation model's ARN in every destination Region. AWS notes that destination Regions
# vary by model and change over time: agents.profileRegions overrides a row for this stack.
INFERENCE_PROFILE_REGIONS: Mapping[str, tuple[str, ...]] = {
    "us": ("us-east-1", "us-east-2", "us-west-2"),
    "eu": ("eu-central-1", "eu-north-1", "eu-south-1", "eu-south-2", "eu-west-1", "eu-west-3"),
    "apac": ("ap-northeast-1", "ap-northeast-2", "ap-northeast-3", "ap-south-1", "ap-south-2",
             "ap-southeast-1", "ap-southeast-2", "ap-southeast-4"),
    "jp": ("ap-northeast-1", "ap-northeast-3"),
    "au": ("ap-southeast-2", "ap-southeast-4"),
}
# Global profiles route to any commercial Region: AWS documents the Region-less foundation-model ARN
# (arn:aws:bedrock:::foundation-model/<model>) for them instead of a Region list.
GLOBAL_PROFILE_PREFIX = "global"
GUARDRAIL_STRENGTHS = ("LOW", "MEDIUM", "HIGH")
# AgentCore memory keeps short-term events for 7-365 days (pulumi-aws / AgentCore memory docs).
MEMORY_EXPIRY_DAYS = (7, 365)
# Runtime and endpoint names: AgentCore's pattern [a-zA-Z][a-zA-Z0-9_]{0,47}.
AGENTCORE_NAME_RE = re.compile(r"^[a-zA-Z][a-zA-Z0-9_]{0,47}$")


@dataclass(frozen=True)
class AgentModel:
    """One configured model id and, for a cross-Region inference profile, where it may run."""

    id: str
    # The foundation model behind a profile (the id without its geography prefix), else the id itself.
    model_id: str
    # None: a foundation model invoked in the stack's Region. A tuple: a geographic profile's destination
    # Regions. GLOBAL_PROFILE_PREFIX profiles carry ("*",): any commercial Region.
    profile_regions: Optional[tuple[str, ...]] = None

    @property
    def is_profile(self) -> bool:
        return self.profile_regions is not None


@dataclass(frozen=True)
class GuardrailConfig:
    content_filter_strength: str  # LOW | MEDIUM | HIGH, for every harmful-content category
    prompt_attack_strength: str  # LOW | MEDIUM | HIGH (inputs only: AWS allows NONE on outputs only)
    blocked_message: str = "This request or answer was blocked by the platform's content policy."


@dataclass(frozen=True)
class AgentsConfig:
    enabled: bool
    image_tag: str  # image: "ecr:<tag>" in the component's own (ARM64) repository
    models: Mapping[str, AgentModel]  # role (AGENT_ROLES) -> model
    daily_invocations_per_user: int
    memory_expiry_days: int
    guardrail: Optional[GuardrailConfig] = None
    endpoint_name: str = "live"
    ecr_keep_images: int = 10
    idle_session_timeout_seconds: int = 900
    max_lifetime_seconds: int = 28800
    alarm_errors: AlarmSpec = AlarmSpec(threshold=5)
    alarm_throttles: AlarmSpec = AlarmSpec(threshold=1)
    alarm_latency_p95_ms: AlarmSpec = AlarmSpec(threshold=30000, evaluation_periods=3, datapoints_to_alarm=3)


@dataclass(frozen=True)
class PlatformConfig:
    stack: str
    region: str
    log_retention_days: int
    network: NetworkConfig
    data: DataConfig
    identity: IdentityConfig
    cost_guard: CostGuardConfig
    sessions: SessionsConfig
    observability: ObservabilityConfig
    api: ApiConfig
    extra_tags: Mapping[str, str] = field(default_factory=dict)
    # Secrets arrive as plain strings here; components wrap them in pulumi.Output.secret.
    secrets: Mapping[str, str] = field(default_factory=dict)
    # aws:profile / aws:allowedAccountIds, handed to the explicit provider (components/provider.py):
    # it does not read the aws: namespace the way the implicit default provider would.
    aws_profile: Optional[str] = None
    allowed_account_ids: tuple[str, ...] = ()
    # aiplatform:agents; None when agents.enabled is false.
    agents: Optional[AgentsConfig] = None

    @property
    def tags(self) -> dict[str, str]:
        """Cost-allocation tags for every taggable resource, applied once as provider default tags."""
        return {"project": PROJECT, "environment": self.stack, **self.extra_tags}

    @property
    def partition(self) -> str:
        """The ARN partition of the stack's region."""
        return partition_of(self.region)


# --------------------------------------------------------------------------------------------
# Section parsers: pure functions of the raw values, so tests can feed them tables of bad input.
# --------------------------------------------------------------------------------------------
@_gathered
def _retention(r: _Reader, key: str, default: Optional[int] = None) -> int:
    days = r.int(key, 1, 3653, default)
    if days not in LOG_RETENTION_DAYS:
        raise r.fail(key, f"must be one of CloudWatch's retention values "
                          f"({', '.join(map(str, LOG_RETENTION_DAYS))}), got {days}")
    return days


@_gathered
def _network(r: _Reader) -> NetworkConfig:
    azs = r.int("azs", 1, 6)
    nat = r.choice("natStrategy", ("none", "single", "onePerAz"))
    cidr = r.str("cidr", default="10.0.0.0/16")
    try:
        net = ipaddress.IPv4Network(cidr, strict=True)
    except ValueError:
        raise r.fail("cidr", f"must be an IPv4 network in CIDR notation, got {cidr!r}") from None
    if not 16 <= net.prefixlen <= 22:
        # awsx splits the range into a public and a private subnet per AZ; below /22 they get too small.
        raise r.fail("cidr", f"must have a prefix length between /16 and /22, got /{net.prefixlen}")
    if not net.is_private:
        raise r.fail("cidr", f"must be a private (RFC 1918) range, got {cidr}")
    fl = r.section("flowLogs")
    flow = FlowLogsConfig(
        enabled=fl.bool("enabled"),
        retention_days=_retention(fl, "retentionDays", 30),
        traffic_type=fl.choice("trafficType", ("ACCEPT", "REJECT", "ALL"), "REJECT"),
    )
    fl.done()
    r.done()
    return NetworkConfig(azs=azs, nat_strategy=nat, cidr=str(net), flow_logs=flow)


@_gathered
def _data(r: _Reader, region: str) -> DataConfig:
    deletion = r.bool("deletionProtection")
    replicas = r.list("replicaRegions", _item_str(AWS_REGION_RE, "an AWS region name"), default=[],
                      max_len=5)
    if region in replicas:
        raise r.fail("replicaRegions", f"must not contain the primary region {region}")
    for rg in replicas:
        if region_error(rg):
            raise r.fail("replicaRegions", f"lists {rg!r}, which is not an AWS region")
        if not region_error(region) and partition_of(rg) != partition_of(region):
            raise r.fail("replicaRegions", f"lists {rg!r}, outside the primary region's partition "
                                           f"{partition_of(region)} (a global table stays in one partition)")
    encryption = r.choice("encryption", ("AWS_OWNED", "AWS_MANAGED", "CUSTOMER_MANAGED"))
    kms = r.opt_str("kmsKeyArn", KMS_KEY_ARN_RE, f"a KMS key ARN (arn:aws:kms:{region}:<account>:key/<id>)")
    if kms and region and KMS_KEY_ARN_RE.fullmatch(kms).group(1) != region:
        raise r.fail("kmsKeyArn", f"must be a KMS key in the primary region {region} (a table's key is regional), "
                                  f"got {kms!r}")
    replica_keys = r.str_map("replicaKmsKeyArns")
    if encryption == "CUSTOMER_MANAGED" and not kms:
        raise r.fail("kmsKeyArn", "is required when encryption is CUSTOMER_MANAGED")
    if encryption != "CUSTOMER_MANAGED" and (kms or replica_keys):
        raise r.fail("kmsKeyArn" if kms else "replicaKmsKeyArns",
                     f"only applies when encryption is CUSTOMER_MANAGED, got encryption {encryption}")
    if kms:
        missing = [rg for rg in replicas if rg not in replica_keys]
        if missing:
            # A customer-managed key is regional: each replica needs its own key in its region.
            raise r.fail("replicaKmsKeyArns", f"must name a KMS key for every replica region when "
                                              f"kmsKeyArn is set; missing {', '.join(missing)}")
    for rg, arn in replica_keys.items():
        if rg not in replicas:
            raise r.fail(f"replicaKmsKeyArns.{rg}", "names a region that is not in replicaRegions")
        match = KMS_KEY_ARN_RE.fullmatch(arn)
        if not match or match.group(1) != rg:
            raise r.fail(f"replicaKmsKeyArns.{rg}", f"must be a KMS key ARN in {rg}, got {arn!r}")
    if replica_keys and not kms:
        raise r.fail("replicaKmsKeyArns", "needs kmsKeyArn for the primary region as well")
    pitr = r.bool("pointInTimeRecovery", True)
    billing = r.choice("billingMode", ("PAY_PER_REQUEST", "PROVISIONED"), "PAY_PER_REQUEST")
    rcu = r.opt_int("readCapacity", 1, 40000)
    wcu = r.opt_int("writeCapacity", 1, 40000)
    if billing == "PROVISIONED":
        if rcu is None or wcu is None:
            raise r.fail("billingMode", "PROVISIONED needs readCapacity and writeCapacity")
        if replicas:
            # Provisioned replicas need autoscaling on every replica, which this project does not manage.
            raise r.fail("billingMode", "PROVISIONED cannot be combined with replicaRegions; "
                                        "use PAY_PER_REQUEST for global tables")
    elif rcu is not None or wcu is not None:
        raise r.fail("readCapacity" if rcu is not None else "writeCapacity",
                     "only applies when billingMode is PROVISIONED")
    r.done()
    return DataConfig(deletion_protection=deletion, encryption=encryption, replica_regions=replicas, kms_key_arn=kms,
                      replica_kms_key_arns=replica_keys, point_in_time_recovery=pitr,
                      billing_mode=billing, read_capacity=rcu, write_capacity=wcu)


def _federated(r: _Reader, key: str, apple: bool) -> Optional[FederatedProvider]:
    if not r.has(key):
        r._mark(key)
        return None
    s = r.section(key)
    p = FederatedProvider(
        client_id=s.str("clientId"),
        team_id=s.str("teamId") if apple else None,
        key_id=s.str("keyId") if apple else None,
    )
    s.done()
    return p


SES_IDENTITY_ARN_RE = re.compile(r"^arn:aws[a-z-]*:ses:([a-z]{2}(?:-gov)?-[a-z]+-\d):\d{12}:identity/(.+)$")
FROM_ADDRESS_RE = re.compile(r"^(?:[^<>@]+<([^<>\s@]+@[^<>\s@]+\.[^<>\s@]+)>|([^<>\s@]+@[^<>\s@]+\.[^<>\s@]+))$")


def _identity_email(r: _Reader, region: Optional[str]) -> Optional[EmailConfig]:
    if not r.has("email"):
        r._mark("email")
        return None
    e = r.section("email")
    arn = e.str("sourceArn", pattern=SES_IDENTITY_ARN_RE,
                what="a verified SES identity ARN (arn:aws:ses:<region>:<account>:identity/<domain or address>)")
    ses_region, identity = SES_IDENTITY_ARN_RE.fullmatch(arn).groups()
    if region and ses_region != region:
        raise e.fail("sourceArn", f"must be an SES identity in the user pool's region {region}, got {ses_region}")
    sender = e.str("fromAddress", pattern=FROM_ADDRESS_RE, what="an e-mail address or 'Display Name <address>'")
    address = next(g for g in FROM_ADDRESS_RE.fullmatch(sender).groups() if g)
    domain = address.rsplit("@", 1)[1].lower()
    ident = identity.lower()
    covered = address.lower() == ident if "@" in ident else domain == ident or domain.endswith("." + ident)
    if not covered:
        raise e.fail("fromAddress", f"{address!r} is not covered by the SES identity {identity!r} "
                                    f"(SES sends only from verified addresses or domains)")
    cfg = EmailConfig(source_arn=arn, from_address=sender,
                      reply_to=e.opt_str("replyTo", EMAIL_RE, "an e-mail address"))
    e.done()
    return cfg


@_gathered
def _identity(r: _Reader, region: Optional[str] = None) -> IdentityConfig:
    mfa = r.str("mfa")
    if mfa == "OFF":
        raise r.fail("mfa", "must not be OFF: this platform requires MFA (use ON or OPTIONAL)")
    if mfa not in ("ON", "OPTIONAL"):
        raise r.fail("mfa", f"must be one of ON, OPTIONAL, got {mfa!r}")
    groups = r.list("groups", _item_str(COGNITO_GROUP_RE, "a Cognito group name"),
                    default=["ADMIN", "USER", "RESEARCHER"], min_len=1, max_len=25)
    if "ADMIN" not in groups:
        raise r.fail("groups", "must include ADMIN (the API's administrator override relies on it)")
    default_group = r.str("defaultGroup", default="USER")
    if default_group not in groups:
        raise r.fail("defaultGroup", f"must be one of the groups ({', '.join(groups)}), got {default_group!r}")
    if default_group == "ADMIN":
        raise r.fail("defaultGroup", "must not be ADMIN: every new sign-up would become an administrator")
    url = re.compile(r"^(https://[^\s]+|http://localhost(:\d+)?(/[^\s]*)?)$")
    callbacks = r.list("callbackUrls", _item_str(url, "an https URL (or http://localhost)"), default=[],
                       max_len=model_limit("cognito-idp", "CreateUserPoolClient", "CallbackURLs"))
    logouts = r.list("logoutUrls", _item_str(url, "an https URL (or http://localhost)"), default=[],
                     max_len=model_limit("cognito-idp", "CreateUserPoolClient", "LogoutURLs"))
    if logouts and not callbacks:
        # Cognito accepts logout URLs only on a client with the OAuth flow, which needs callbacks.
        raise r.fail("logoutUrls", "needs callbackUrls as well (both belong to the OAuth code flow)")
    domain = r.opt_str("domainPrefix", DOMAIN_PREFIX_RE, "lowercase letters, digits and hyphens")
    if domain and "aws" in domain or domain and "cognito" in domain:
        raise r.fail("domainPrefix", f"must not contain 'aws' or 'cognito' (Cognito rejects it), got {domain!r}")
    google = _federated(r, "google", apple=False)
    apple = _federated(r, "apple", apple=True)
    if domain and not (callbacks and logouts):
        # The hosted UI domain only serves the OAuth code flow, and amplify_outputs.json's oauth
        # section needs at least one sign-in and one sign-out redirect.
        raise r.fail("callbackUrls" if not callbacks else "logoutUrls",
                     "is required when domainPrefix is set (the hosted UI's OAuth redirects)")
    if (google or apple) and not (callbacks and domain):
        raise r.fail("callbackUrls" if not callbacks else "domainPrefix",
                     "is required when a federated identity provider (google/apple) is configured")
    deletion_protection = r.bool("deletionProtection")
    email = _identity_email(r, region)
    if deletion_protection and email is None:
        raise r.fail("email", "is required when deletionProtection is on: production mail goes through SES "
                              "(Cognito's own sender has a small daily quota not meant for production)")
    cfg = IdentityConfig(
        mfa=mfa,
        deletion_protection=deletion_protection,
        threat_protection=r.choice("threatProtection", ("OFF", "AUDIT", "ENFORCED")),
        groups=groups,
        default_group=default_group,
        callback_urls=callbacks,
        logout_urls=logouts,
        domain_prefix=domain,
        access_token_minutes=r.int("accessTokenMinutes", 5, 1440, 60),
        id_token_minutes=r.int("idTokenMinutes", 5, 1440, 60),
        refresh_token_days=r.int("refreshTokenDays", 1, 3650, 30),
        google=google,
        apple=apple,
        email=email,
    )
    r.done()
    return cfg


COST_GUARD_SCOPES = ("account", "tags")


@_gathered
def _cost_guard(r: _Reader) -> CostGuardConfig:
    budget = r.number("monthlyBudgetUsd", 1, 1_000_000)
    # A budget notification takes at most 10 e-mail subscribers (AWS Budgets quotas).
    emails = r.list("alertEmails", _item_str(EMAIL_RE, "an e-mail address"), min_len=1, max_len=10)
    threshold = r.number("actionThresholdPercent", 50, 100, 90.0)
    a = r.section("anomaly")
    anomaly = AnomalyConfig(enabled=a.bool("enabled"),
                            daily_threshold_usd=a.number("dailyThresholdUsd", 1, 1_000_000, 50.0))
    a.done()
    cfg = CostGuardConfig(
        monthly_budget_usd=budget,
        alert_emails=emails,
        action_threshold_percent=threshold,
        anomaly=anomaly,
        activate_cost_allocation_tags=r.bool("activateCostAllocationTags", False),
        scope=r.choice("scope", COST_GUARD_SCOPES),
    )
    r.done()
    return cfg


def fargate_size_error(cpu: int, memory: int) -> Optional[str]:
    """None when (cpu, memory) is a size Fargate runs, else why not."""
    if cpu not in FARGATE_MEMORY:
        return f"cpu {cpu} is not a Fargate size (one of {', '.join(map(str, FARGATE_MEMORY))})"
    allowed = FARGATE_MEMORY[cpu]
    if memory not in allowed:
        return (f"memory {memory} MiB is not valid with cpu {cpu} "
                f"(allowed {allowed[0]}-{allowed[-1]} MiB in steps of {allowed[1] - allowed[0] if len(allowed) > 1 else allowed[0]})")
    return None


def _capacity_item(r: _Reader, k: str) -> CapacityStrategyItem:
    s = r.section(k)
    item = CapacityStrategyItem(
        capacity_provider=s.choice("capacityProvider", ("FARGATE", "FARGATE_SPOT")),
        weight=s.int("weight", 0, 1000),
        base=s.int("base", 0, 100000, 0),
    )
    s.done()
    return item


REAPER_MAX_INTERVAL_MINUTES = 10


def _reaper_schedule(r: _Reader) -> str:
    """The reaper's rate: idle timeouts and the launch grace are only as exact as its interval, so
    it runs at least every 10 minutes (a cron expression could not be checked for that: refused)."""
    value = r.str("reaperSchedule", default="rate(10 minutes)", pattern=SCHEDULE_RE,
                  what="an EventBridge rate(...) or cron(...) expression")
    match = re.fullmatch(r"rate\((\d+) (minute|minutes|hour|hours|day|days)\)", value)
    minutes = int(match.group(1)) * {"m": 1, "h": 60, "d": 1440}[match.group(2)[0]] if match else None
    if minutes is None or not 1 <= minutes <= REAPER_MAX_INTERVAL_MINUTES:
        raise r.fail("reaperSchedule", f"must be rate(N minutes) with N from 1 to {REAPER_MAX_INTERVAL_MINUTES} (idle "
                                       f"timeouts and the launch grace are measured by it), got {value}")
    return value


@_gathered
def _sessions(r: _Reader) -> SessionsConfig:
    cpu = r.int("cpu", 256, 16384)
    memory = r.int("memory", 512, 122880)
    err = fargate_size_error(cpu, memory)
    if err:
        raise r.fail("memory", f"with cpu: {err}")
    access = r.choice("editorAccess", ("public", "private"))
    workspace = r.choice("workspace", WORKSPACE_KINDS)
    cidrs = r.list("allowedCidrs", _item_cidr, default=[], max_len=50)
    if access == "public" and not cidrs:
        raise r.fail("allowedCidrs", "is required when editorAccess is public (who may reach the IDE port)")
    for c in cidrs:
        if ipaddress.ip_network(c).prefixlen == 0:
            raise r.fail("allowedCidrs", f"must not open the IDE to the whole internet ({c})")
    if access == "private" and cidrs:
        raise r.fail("allowedCidrs", "only applies when editorAccess is public")
    cert = r.opt_str("certificateArn", re.compile(r"^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate/.+$"),
                     "an ACM certificate ARN")
    if access == "private" and not cert:
        raise r.fail("certificateArn", "is required when editorAccess is private (the load balancer serves TLS)")
    domain = r.opt_str("editorDomain", DNS_NAME_RE, "a lowercase DNS name such as ide.example.com (no scheme, "
                                                    "path or wildcard)")
    if access == "private" and not domain:
        raise r.fail("editorDomain", "is required when editorAccess is private (sessions are served at "
                                     "https://<editorDomain>/<sessionId>/)")
    if access == "public" and domain:
        raise r.fail("editorDomain", "only applies when editorAccess is private")
    if domain and len(domain) > EDITOR_DOMAIN_MAX:
        raise r.fail("editorDomain", f"must be at most {EDITOR_DOMAIN_MAX} characters (the load balancer's host "
                                     f"condition value), got {len(domain)}")
    strategy = r.list("capacityStrategy", _capacity_item, min_len=1, max_len=2, unique=False)
    providers = [i.capacity_provider for i in strategy]
    if len(set(providers)) != len(providers):
        raise r.fail("capacityStrategy", "names a capacity provider twice")
    if sum(i.base for i in strategy) and sum(1 for i in strategy if i.base) > 1:
        raise r.fail("capacityStrategy", "may give a base to only one capacity provider")
    if not any(i.weight for i in strategy):
        raise r.fail("capacityStrategy", "needs at least one provider with a weight above 0")
    presets_raw = r.section("sizePresets", required=False)
    presets: dict[str, SizePreset] = {}
    for name in list(presets_raw._data):
        p = presets_raw.section(name)
        preset = SizePreset(cpu=p.int("cpu", 256, 16384), memory=p.int("memory", 512, 122880))
        p.done()
        perr = fargate_size_error(preset.cpu, preset.memory)
        if perr:
            raise presets_raw.fail(name, perr)
        if not re.fullmatch(r"[a-z][a-z0-9-]{0,31}", name):
            raise presets_raw.fail(name, "must be a lowercase name (letters, digits, hyphens)")
        presets[name] = preset
    if not presets:
        presets = {"default": SizePreset(cpu=cpu, memory=memory)}
    default_size = r.str("defaultSize", default=next(iter(presets)))
    if default_size not in presets:
        raise r.fail("defaultSize", f"must be one of the sizePresets ({', '.join(presets)}), got {default_size!r}")
    lam = r.section("lambda", required=False)
    timeouts = _timeouts(lam)
    lambda_settings = LambdaSettings(
        memory_mb=lam.int("memoryMb", 128, 10240, 256),
        timeout_seconds=timeouts["api"],
        timeouts=timeouts,
        reserved_concurrency=_reserved_concurrency(lam),
    )
    lam.done()
    ecr = r.section("ecr", required=False)
    keep = ecr.int("keepImages", 1, 1000, 10)
    immutable = ecr.bool("immutableTags", True)
    ecr.done()
    github_app = None
    if r.has("githubApp"):
        gh = r.section("githubApp")
        github_app = GitHubAppConfig(
            app_id=gh.int("appId", 1, 10**12), installation_id=gh.int("installationId", 1, 10**12),
            api_url=gh.opt_str("apiUrl", re.compile(r"^https://[a-z0-9.-]+(:\d+)?(/[A-Za-z0-9._/-]*)?$"),
                               "an https URL such as https://github.example.com/api/v3"))
        gh.done()
    ttl = r.int("sessionTtlHours", 1, 168, 24)
    lifetime = r.int("maxLifetimeHours", 1, 168, 12)
    if lifetime >= ttl:
        raise r.fail("maxLifetimeHours", f"must be less than sessionTtlHours ({ttl}) so the reaper closes a session "
                                         f"before its item may expire, got {lifetime}")
    cfg = SessionsConfig(
        image=_image(r),
        cpu=cpu,
        memory=memory,
        editor_access=access,
        capacity_strategy=strategy,
        max_sessions_per_user=r.int("maxSessionsPerUser", 1, 20),
        architecture=r.choice("architecture", ("X86_64", "ARM64"), "X86_64"),
        editor_port=r.int("editorPort", 1024, 65535, 8080),
        allowed_cidrs=cidrs,
        certificate_arn=cert,
        editor_domain=domain,
        on_demand_fallback=r.bool("onDemandFallback"),
        restart_on_interruption=r.bool("restartOnInterruption", False),
        session_ttl_hours=ttl,
        max_lifetime_hours=lifetime,
        idle_timeout_minutes=r.int("idleTimeoutMinutes", 5, 1440, 60),
        reaper_schedule=_reaper_schedule(r),
        # Fargate allows at most 120 s between SIGTERM and SIGKILL (ECS stopTimeout).
        stop_timeout_seconds=r.int("stopTimeoutSeconds", 30, FARGATE_MAX_STOP_TIMEOUT_SECONDS,
                                   FARGATE_MAX_STOP_TIMEOUT_SECONDS),
        container_insights=r.choice("containerInsights", ("disabled", "enabled", "enhanced"), "disabled"),
        size_presets=presets,
        default_size=default_size,
        ecr_keep_images=keep,
        ecr_immutable_tags=immutable,
        github_app=github_app,
        lambda_settings=lambda_settings,
        workspace=workspace,
    )
    r.done()
    return cfg


def _image(r: _Reader) -> str:
    image = r.str("image", pattern=IMAGE_RE, what=f"a container image reference (or {ECR_IMAGE_PREFIX}<tag> for "
                                                    "this stack's ECR repository)")
    if image.startswith(ECR_IMAGE_PREFIX):
        tag = image[len(ECR_IMAGE_PREFIX):]
        if not IMAGE_TAG_RE.fullmatch(tag):
            raise r.fail("image", f"{image!r} names this stack's ECR repository, but {tag!r} is not a valid image "
                                  "tag: 1-128 letters, digits, '_', '.' or '-', not starting with '.' or '-'")
    return image


# AppSync gives a synchronous Lambda resolver 30 s; the others run asynchronously (Lambda's 900 s).
SESSIONS_TIMEOUT_DEFAULTS = {"api": 30, "task-state": 60, "reaper": 300}
API_TIMEOUT_MAX_SECONDS = 30


def _timeouts(lam: _Reader) -> dict[str, int]:
    """lambda.timeoutSeconds: one number for all three functions, or {api, taskState, reaper} (each
    optional; defaults api 30, taskState 60, reaper 300). The API's is at most 30 (AppSync's limit)."""
    key = "timeoutSeconds"
    if not lam.has(key):
        lam.opt_int(key, 1, 900)  # marks the key as known
        timeouts = dict(SESSIONS_TIMEOUT_DEFAULTS)
    elif not isinstance(lam._data[key], Mapping):
        value = lam.int(key, 1, 900)
        timeouts = {kind: value for kind in SESSIONS_FUNCTION_KEYS}
    else:
        per_function = lam.section(key)
        timeouts = {kind: per_function.int(name, 1, 900, SESSIONS_TIMEOUT_DEFAULTS[kind])
                    for kind, name in SESSIONS_FUNCTION_KEYS.items()}
        per_function.done()
    if timeouts["api"] > API_TIMEOUT_MAX_SECONDS:
        raise lam.fail(key, f"gives the API function {timeouts['api']} s; AppSync waits at most "
                            f"{API_TIMEOUT_MAX_SECONDS} s for a Lambda resolver")
    return timeouts


def _reserved_concurrency(lam: _Reader) -> dict[str, int]:
    """lambda.reservedConcurrency: one number for all three functions, or {api, taskState, reaper}
    (each optional). No default: reserving fails in accounts with a small concurrency quota."""
    key = "reservedConcurrency"
    if not lam.has(key):
        lam.opt_int(key, 1, 1000)  # marks the key as known
        return {}
    if not isinstance(lam._data[key], Mapping):
        value = lam.int(key, 1, 1000)
        return {kind: value for kind in SESSIONS_FUNCTION_KEYS}
    per_function = lam.section(key)
    reserved = {}
    for kind, name in SESSIONS_FUNCTION_KEYS.items():
        value = per_function.opt_int(name, 1, 1000)
        if value is not None:
            reserved[kind] = value
    per_function.done()
    return reserved


# CloudWatch: periods of 10/20/30 s only suit high-resolution custom metrics, none of the alarmed
# metrics is one; Period x EvaluationPeriods is capped at 7 days, and at 1 day under hourly periods.
ALARM_MAX_WINDOW_SECONDS = 604800
ALARM_MAX_WINDOW_SHORT_PERIOD_SECONDS = 86400


def _alarm(r: _Reader, key: str, default: AlarmSpec, lo: float, hi: float) -> AlarmSpec:
    s = r.section(key, required=False)
    enabled = s.bool("enabled", default.enabled)
    threshold = float(s.number("threshold", lo, hi, default.threshold))
    period = s.int("periodSeconds", 60, 86400, default.period_seconds)
    if period % 60:
        raise s.fail("periodSeconds", f"must be a multiple of 60 (the alarmed metrics have one-minute "
                                      f"resolution), got {period}")
    evaluations = s.int("evaluationPeriods", 1, 10080, default.evaluation_periods)
    cap = ALARM_MAX_WINDOW_SHORT_PERIOD_SECONDS if period < 3600 else ALARM_MAX_WINDOW_SECONDS
    if period * evaluations > cap:
        limit = "CloudWatch's limit for periods under an hour" if period < 3600 else "CloudWatch's limit"
        raise s.fail("evaluationPeriods", f"x periodSeconds must not exceed {cap} s ({limit}), "
                                          f"got {evaluations} x {period} = {period * evaluations}")
    datapoints = s.int("datapointsToAlarm", 1, evaluations, evaluations)
    s.done()
    return AlarmSpec(threshold=threshold, period_seconds=period, evaluation_periods=evaluations,
                     datapoints_to_alarm=datapoints, enabled=enabled)


@_gathered
def _observability(r: _Reader) -> ObservabilityConfig:
    d = ObservabilityConfig(alarm_emails=())
    count = (1, 1_000_000)  # >= 0 would hold with no events at all: the alarm would never clear
    cfg = ObservabilityConfig(
        # Ten keeps it a pager list (the same bound as costGuard.alertEmails), not a mailing list.
        alarm_emails=r.list("alarmEmails", _item_str(EMAIL_RE, "an e-mail address"), min_len=1, max_len=10),
        lambda_errors=_alarm(r, "lambdaErrors", d.lambda_errors, *count),
        lambda_throttles=_alarm(r, "lambdaThrottles", d.lambda_throttles, *count),
        lambda_duration_p95_percent=_alarm(r, "lambdaDurationP95Percent", d.lambda_duration_p95_percent, 1, 100),
        lambda_concurrency_percent=_alarm(r, "lambdaConcurrencyPercent", d.lambda_concurrency_percent, 1, 100),
        lambda_concurrent_executions=_alarm(r, "lambdaConcurrentExecutions", d.lambda_concurrent_executions,
                                            1, 100_000),
        dynamodb_throttles=_alarm(r, "dynamodbThrottles", d.dynamodb_throttles, *count),
        dynamodb_system_errors=_alarm(r, "dynamodbSystemErrors", d.dynamodb_system_errors, *count),
        appsync_errors_5xx=_alarm(r, "appsyncErrors5xx", d.appsync_errors_5xx, *count),
        # AppSync ends every request after 30 s, so a higher p95 cannot occur.
        appsync_latency_p95_ms=_alarm(r, "appsyncLatencyP95Ms", d.appsync_latency_p95_ms, 1, 30000),
        session_failures=_alarm(r, "sessionFailures", d.session_failures, *count),
        spot_interruptions=_alarm(r, "spotInterruptions", d.spot_interruptions, *count),
        dashboard=r.bool("dashboard", True),
    )
    r.done()
    return cfg


@_gathered
def _api(r: _Reader) -> ApiConfig:
    level = r.choice("fieldLogLevel", FIELD_LOG_LEVELS)
    if level == "ALL":
        # ALL writes a log event for every field of every request: volume (and cost) grows with
        # traffic, and it records request and response data whenever verbose content is not excluded.
        raise r.fail("fieldLogLevel", "must not be ALL: it logs every field of every request "
                                      "(use ERROR, or INFO / DEBUG while troubleshooting)")
    k = r.section("apiKey")
    api_key = ApiKeyConfig(enabled=k.bool("enabled"),
                           expires_in_days=k.int("expiresInDays", API_KEY_MIN_DAYS, API_KEY_MAX_DAYS,
                                                 API_KEY_MAX_DAYS))
    k.done()
    cfg = ApiConfig(
        field_log_level=level,
        introspection=r.bool("introspection"),
        # AppSync's bounds (its model: depth up to 75, resolvers per request up to 10000); 0 would mean
        # "no limit", so at least 1.
        query_depth_limit=r.int("queryDepthLimit", 1, model_limit("appsync", "CreateGraphqlApi", "QueryDepthLimit"), 10),
        resolver_count_limit=r.int("resolverCountLimit", 1,
                                   model_limit("appsync", "CreateGraphqlApi", "ResolverCountLimit"), 1000),
        xray=r.bool("xray", True),
        api_key=api_key,
    )
    r.done()
    return cfg


def _agent_model(r: _Reader, role: str, region: str, overrides: Mapping[str, tuple[str, ...]]) -> AgentModel:
    model_id = r.str(role, pattern=MODEL_ID_RE, what="a Bedrock foundation-model id (provider.model, e.g. "
                                                     "anthropic.claude-3-haiku-20240307-v1:0) or a system-defined "
                                                     "inference profile id (geography.provider.model)")
    segments = model_id.split(":", 1)[0].split(".")
    if len(segments) == 2:
        return AgentModel(id=model_id, model_id=model_id)
    prefix, rest = model_id.split(".", 1)
    if prefix == GLOBAL_PROFILE_PREFIX:
        return AgentModel(id=model_id, model_id=rest, profile_regions=("*",))
    regions = overrides.get(prefix) or INFERENCE_PROFILE_REGIONS.get(prefix)
    if regions is None:
        raise r.fail(role, f"is a {prefix}. inference profile, whose destination Regions this project does not "
                           f"know: list them under agents.profileRegions.{prefix}")
    if region and region not in regions:  # None: aws:region itself is wrong (reported)
        raise r.fail(role, f"is a {prefix}. cross-Region inference profile, which cannot be invoked from "
                           f"{region} (its Regions: {', '.join(regions)})")
    return AgentModel(id=model_id, model_id=rest, profile_regions=tuple(regions))


def _profile_regions(r: _Reader) -> dict[str, tuple[str, ...]]:
    s = r.section("profileRegions", required=False)
    out = {}
    for prefix in list(s._data):
        if prefix == GLOBAL_PROFILE_PREFIX or not re.fullmatch(r"[a-z]{2,6}", prefix):
            raise s.fail(prefix, "must be a geographic inference profile prefix such as us, eu or apac "
                                 "(global profiles need no Region list)")
        out[prefix] = s.list(prefix, _item_str(AWS_REGION_RE, "an AWS region name"), min_len=1, max_len=30)
    s.done()
    return out


def _guardrail(r: _Reader) -> Optional[GuardrailConfig]:
    g = r.section("guardrail")
    if not g.bool("enabled"):
        extra = sorted(set(g._data) - {"enabled"})
        if extra:
            raise g.fail(extra[0], "only applies when agents.guardrail.enabled is true")
        g.done()
        return None
    cfg = GuardrailConfig(
        content_filter_strength=g.choice("contentFilterStrength", GUARDRAIL_STRENGTHS),
        prompt_attack_strength=g.choice("promptAttackStrength", GUARDRAIL_STRENGTHS),
        blocked_message=g.str("blockedMessage", default=GuardrailConfig.blocked_message),
    )
    if len(cfg.blocked_message) > 500:
        # Bedrock's limit for blockedInputMessaging / blockedOutputsMessaging.
        raise g.fail("blockedMessage", f"must be at most 500 characters, got {len(cfg.blocked_message)}")
    g.done()
    return cfg


@_gathered
def _agents(r: _Reader, region: str) -> Optional[AgentsConfig]:
    """aiplatform:agents. Nothing here that costs money has a default: the switch, the models (per-token
    spend), the per-user daily cap and the memory's retention must be written in the stack file."""
    if not r.bool("enabled"):
        # Off means off: settings for a runtime that is not built would silently do nothing.
        extra = sorted(set(r._data) - {"enabled"})
        if extra:
            raise r.fail(extra[0], "only applies when agents.enabled is true")
        r.done()
        return None
    image = r.str("image", pattern=re.compile(re.escape(ECR_IMAGE_PREFIX) + IMAGE_TAG_RE.pattern.lstrip("^")),
                  what=f"{ECR_IMAGE_PREFIX}<tag>: the ARM64 agent image in this stack's agents ECR repository")
    overrides = _profile_regions(r)
    m = r.section("models")
    models = {role: _agent_model(m, role, region, overrides) for role in AGENT_ROLES}
    m.done()
    mem = r.section("memory")
    expiry = mem.int("eventExpiryDays", *MEMORY_EXPIRY_DAYS)
    mem.done()
    endpoint = r.str("endpointName", default="live", pattern=AGENTCORE_NAME_RE,
                     what="an AgentCore endpoint name (a letter, then letters, digits or _; at most 48)")
    if endpoint == "DEFAULT":
        raise r.fail("endpointName", "must not be DEFAULT (AgentCore creates and owns that endpoint)")
    ecr = r.section("ecr", required=False)
    keep = ecr.int("keepImages", 1, 1000, 10)
    ecr.done()
    life = r.section("lifecycle", required=False)
    # AgentCore's bounds: 60 s to 14 days for both.
    idle = life.int("idleSessionTimeoutSeconds", 60, 1209600, 900)
    lifetime = life.int("maxLifetimeSeconds", 60, 1209600, 28800)
    life.done()
    if idle > lifetime:
        raise r.fail("lifecycle.idleSessionTimeoutSeconds", f"must not exceed lifecycle.maxLifetimeSeconds "
                                                            f"({lifetime}), got {idle}")
    a = r.section("alarms", required=False)
    count = (1, 1_000_000)  # >= 0 would hold with no events at all: the alarm would never clear
    errors = _alarm(a, "errors", AgentsConfig.alarm_errors, *count)
    throttles = _alarm(a, "throttles", AgentsConfig.alarm_throttles, *count)
    # At most an hour: a latency alarm above that would page far too late to matter.
    latency = _alarm(a, "latencyP95Ms", AgentsConfig.alarm_latency_p95_ms, 1, 3_600_000)
    a.done()
    cfg = AgentsConfig(
        enabled=True,
        image_tag=image[len(ECR_IMAGE_PREFIX):],
        models=models,
        # Each invocation runs the judge and three sages: this caps a user's daily model spend.
        daily_invocations_per_user=r.int("dailyInvocationsPerUser", 1, 10_000),
        memory_expiry_days=expiry,
        guardrail=_guardrail(r),
        endpoint_name=endpoint,
        ecr_keep_images=keep,
        idle_session_timeout_seconds=idle,
        max_lifetime_seconds=lifetime,
        alarm_errors=errors,
        alarm_throttles=throttles,
        alarm_latency_p95_ms=latency,
    )
    r.done()
    return cfg


# AWS allows 50 tags per resource; the project sets two and some resources carry their own.
MAX_EXTRA_TAGS = 40
# AWS's tag value alphabet: letters, digits, spaces and _ . : / = + - @ (\w and \s are Unicode-aware).
TAG_VALUE_RE = re.compile(r"^[\w\s.:/=+\-@]*$")


@_gathered
def _tags(r: _Reader) -> dict[str, str]:
    tags = r.str_map("tags")
    if len(tags) > MAX_EXTRA_TAGS:
        raise r.fail("tags", f"may hold at most {MAX_EXTRA_TAGS} tags (AWS allows 50 per resource, the project "
                             f"adds project and environment, some resources their own), got {len(tags)}")
    for k, v in tags.items():
        if k in ("project", "environment"):
            raise r.fail(f"tags.{k}", "is set by the project itself and must not be overridden")
        if k.lower().startswith("aws:") or not TAG_KEY_RE.fullmatch(k):
            raise r.fail(f"tags.{k}", "is not a valid tag key (1-128 chars, no 'aws:' prefix)")
        if len(v) > 256:
            raise r.fail(f"tags.{k}", f"must be at most 256 characters, got {len(v)}")
        if not TAG_VALUE_RE.fullmatch(v):
            raise r.fail(f"tags.{k}", f"has characters AWS refuses in a tag value (letters, digits, spaces and "
                                      f"_ . : / = + - @ only), got {v!r}")
    return tags


# --------------------------------------------------------------------------------------------
# Entry points
# --------------------------------------------------------------------------------------------
def _decode(value: Any) -> Any:
    """Pulumi hands structured config to the program as JSON strings."""
    if isinstance(value, str):
        stripped = value.strip()
        if stripped[:1] in ("{", "[") or stripped in ("true", "false", "null"):
            try:
                return json.loads(stripped)
            except json.JSONDecodeError:
                return value
    return value


def parse(raw: Mapping[str, Any], stack: str, secret_keys: Sequence[str] = ()) -> PlatformConfig:
    """Validate a stack's whole config (``{"ns:key": value}``) into a PlatformConfig.

    Raises ConfigError with every problem of the stack, one line each naming ``Pulumi.<stack>.yaml``
    and the key; unknown keys come first (a typo often explains a "missing" key).
    """
    problems: list[str] = []
    token = _PROBLEMS.set(problems)
    try:
        cfg = _parse(raw, stack, secret_keys)
    except _Reported:
        pass  # recorded where it happened
    except ConfigError as exc:
        _report(exc)
    finally:
        _PROBLEMS.reset(token)
    if problems:
        unknown_first = sorted(problems, key=lambda line: UNKNOWN not in line and "is not a setting of" not in line)
        raise ConfigError("\n".join(unknown_first))
    return cfg


def _stop_if_reported() -> None:
    """The checks across sections need every section read: stop before them if any problem is recorded."""
    if _PROBLEMS.get():
        raise _Reported("")


def _parse(raw: Mapping[str, Any], stack: str, secret_keys: Sequence[str] = ()) -> PlatformConfig:
    source = f"Pulumi.{stack}.yaml"
    prefix = f"{PROJECT}:"
    own = {k[len(prefix):]: _decode(v) for k, v in raw.items() if k.startswith(prefix)}
    if not re.fullmatch(r"[a-z][a-z0-9-]{0,15}", stack):
        _report(ConfigError(f"{source}: the stack name must be 1-16 lowercase letters, digits or hyphens "
                            f"(it becomes part of resource names and tags), got {stack!r}"))
    region = raw.get("aws:region")
    region_problem = region_error(region)
    if region_problem:
        _report(ConfigError(f"{source}: aws:region {region_problem}"))
        region = None  # checks against the stack's region are skipped: they would only repeat this one
    for key in sorted(raw):
        namespace = key.split(":", 1)[0]
        if key.startswith(prefix) or key in AWS_PROVIDER_KEYS or namespace == "pulumi":
            continue
        if namespace == "aws":
            # The explicit provider would silently ignore it (e.g. assumeRoles: a deploy to the wrong account).
            _report(ConfigError(f"{source}: {key} is not passed to the stack's explicit aws provider (supported: "
                                f"{', '.join(AWS_PROVIDER_KEYS)}; use AWS_* environment variables or a profile)"))
        else:
            _report(ConfigError(f"{source}: {key} is not a setting of this project (its settings are "
                                f"{PROJECT}:<key>; a typo in the namespace?)"))
    profile = _decode(raw["aws:profile"]) if "aws:profile" in raw else None
    if profile is not None and (not isinstance(profile, str) or not profile.strip()):
        _report(ConfigError(f"{source}: aws:profile must be a non-empty string, got {profile!r}"))
    accounts = _decode(raw["aws:allowedAccountIds"]) if "aws:allowedAccountIds" in raw else []
    if not isinstance(accounts, list) or not all(isinstance(a, str) and re.fullmatch(r"\d{12}", a) for a in accounts):
        _report(ConfigError(f"{source}: aws:allowedAccountIds must be a list of 12-digit account ids (quoted), "
                            f"got {accounts!r}"))
        accounts = []

    secret_values: dict[str, str] = {}
    for key in SECRET_KEYS:
        if key in own:
            value = own.pop(key)
            if f"{prefix}{key}" not in secret_keys:
                _report(ConfigError(f"{source}: {PROJECT}:{key} must be stored encrypted "
                                    f"(pulumi config set --secret {key} ...)"))
            elif not isinstance(value, str) or not value:
                _report(ConfigError(f"{source}: {PROJECT}:{key} must be a non-empty string"))
            else:
                secret_values[key] = value

    r = _Reader(own, "", source)
    cfg = PlatformConfig(
        stack=stack,
        region=region,
        log_retention_days=_retention(r, "logRetentionDays"),
        network=_network(r.section("network")),
        data=_data(r.section("data"), region),
        identity=_identity(r.section("identity"), region),
        cost_guard=_cost_guard(r.section("costGuard")),
        sessions=_sessions(r.section("sessions")),
        observability=_observability(r.section("observability")),
        api=_api(r.section("api")),
        agents=_agents(r.section("agents"), region),
        extra_tags=_tags(r),
        secrets=secret_values,
        aws_profile=profile,
        allowed_account_ids=tuple(accounts),
    )
    r.done()
    _stop_if_reported()
    if cfg.sessions.editor_access == "private" and cfg.network.azs < 2:
        # An application load balancer needs subnets in at least two availability zones.
        raise ConfigError(f"{source}: network.azs must be at least 2 when sessions.editorAccess is private "
                          f"(the editor load balancer spans two availability zones), got {cfg.network.azs}")
    if (cfg.data.deletion_protection or cfg.identity.deletion_protection) and not cfg.allowed_account_ids:
        # What cannot be rebuilt must not be built in the wrong account by stray credentials.
        raise ConfigError(f"{source}: aws:allowedAccountIds is required when deletionProtection is on "
                          f"(the stack's AWS account id, quoted)")
    if cfg.identity.google and "googleClientSecret" not in secret_values:
        raise ConfigError(f"{source}: {PROJECT}:googleClientSecret is required when identity.google is set")
    if cfg.identity.apple and "applePrivateKey" not in secret_values:
        raise ConfigError(f"{source}: {PROJECT}:applePrivateKey is required when identity.apple is set")
    for key in secret_values:
        needed = {"googleClientSecret": cfg.identity.google, "applePrivateKey": cfg.identity.apple}[key]
        if not needed:
            raise ConfigError(f"{source}: {PROJECT}:{key} is set but its identity provider is not configured")
    return cfg


def load() -> PlatformConfig:
    """Read the running program's config (real engine or mocks) and validate it."""
    import pulumi
    from pulumi.runtime import config as runtime_config

    from . import placeholders

    raw = {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
    secret = set(runtime_config.get_config_secret_keys_env()) | set(runtime_config._SECRET_KEYS.get())
    cfg = parse(raw, pulumi.get_stack(), sorted(secret))
    # A real deploy refuses documentation values; under mocks (offline preview, tests) they only warn.
    refusal = "" if placeholders.mocked() else placeholders.refusal(raw, f"Pulumi.{cfg.stack}.yaml")
    if refusal:
        raise ConfigError(refusal)
    return cfg
