"""The runtime's settings, read once at start-up from the environment the infrastructure sets.

Every variable is required (the guardrail pair may be empty together, meaning "no guardrail"). A
missing or malformed value stops the process with one line naming the variable, never a default.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Mapping, Optional

AGENT_IDS = ("solomon", "caspar", "balthasar", "melchior")
REQUIRED = ("AGENT_MODELS", "AGENT_GUARDRAIL_ID", "AGENT_GUARDRAIL_VERSION", "AGENT_MEMORY_ID", "AGENT_USAGE_TABLE",
            "AGENT_DAILY_INVOCATION_LIMIT", "GRAPHQL_URL", "AWS_REGION")
REGION_RE = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d$")
GUARDRAIL_VERSION_RE = re.compile(r"^(DRAFT|[1-9][0-9]{0,7})$")  # bedrock-runtime GuardrailVersion
# Bedrock model ids / inference profile ids or ARNs: letters, digits, . - : / _ (no spaces).
MODEL_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.:/_-]{0,2047}$")
TABLE_RE = re.compile(r"^[A-Za-z0-9_.-]{3,255}$")
# bedrock-agentcore MemoryId and bedrock-runtime GuardrailIdentifier (id or ARN).
MEMORY_ID_RE = re.compile(r"^(arn:aws[a-z-]*:bedrock-agentcore:[a-z0-9-]+:[0-9]{12}:memory/)?"
                          r"[a-zA-Z][a-zA-Z0-9_-]{0,99}-[a-zA-Z0-9]{10}$")
GUARDRAIL_ID_RE = re.compile(r"^([a-z0-9]+|arn:aws(-[^:]+)?:bedrock:[a-z0-9-]{1,20}:[0-9]{12}:guardrail/[a-z0-9]+)$")
GRAPHQL_URL_RE = re.compile(r"^https://[A-Za-z0-9.-]+(:[0-9]+)?/graphql$")


class ConfigError(ValueError):
    """A setting is missing or malformed; the message is the one line to print."""


@dataclass(frozen=True)
class Guardrail:
    id: str
    version: str


@dataclass(frozen=True)
class AgentSettings:
    models: Mapping[str, str]  # agent id -> Bedrock model id or inference profile
    guardrail: Optional[Guardrail]
    memory_id: str
    usage_table: str
    daily_invocation_limit: int
    graphql_url: str
    region: str


def _fail(name: str, message: str) -> ConfigError:
    return ConfigError(f"error: {name} {message}")


def _models(raw: str) -> dict[str, str]:
    try:
        models = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise _fail("AGENT_MODELS", f"must be a JSON object of agent id to model id, got invalid JSON ({exc.msg})") from None
    if not isinstance(models, dict):
        raise _fail("AGENT_MODELS", f"must be a JSON object of agent id to model id, got {type(models).__name__}")
    if set(models) != set(AGENT_IDS):
        raise _fail("AGENT_MODELS", f"must name exactly {', '.join(AGENT_IDS)}, got {', '.join(sorted(models)) or 'none'}")
    for agent, model in models.items():
        if not isinstance(model, str) or not MODEL_ID_RE.fullmatch(model):
            raise _fail("AGENT_MODELS", f"{agent} must be a Bedrock model or inference profile id, got {model!r}")
    return {a: models[a] for a in AGENT_IDS}


def _guardrail(guardrail_id: str, version: str) -> Optional[Guardrail]:
    if not guardrail_id and not version:
        return None
    if not guardrail_id or not version:
        raise _fail("AGENT_GUARDRAIL_ID" if not guardrail_id else "AGENT_GUARDRAIL_VERSION",
                    "must be set together with the other guardrail variable (both empty = no guardrail)")
    if not GUARDRAIL_ID_RE.fullmatch(guardrail_id):
        raise _fail("AGENT_GUARDRAIL_ID", f"must be a Bedrock guardrail id or ARN, got {guardrail_id!r}")
    if not GUARDRAIL_VERSION_RE.fullmatch(version):
        raise _fail("AGENT_GUARDRAIL_VERSION", f"must be DRAFT or a version number, got {version!r}")
    return Guardrail(guardrail_id, version)


def _checked(name: str, value: str, pattern: re.Pattern[str], what: str) -> str:
    if not pattern.fullmatch(value):
        raise _fail(name, f"must be {what}, got {value!r}")
    return value


def load_settings(env: Mapping[str, str]) -> AgentSettings:
    """The settings from ``env`` (``os.environ`` in the container); ConfigError names the first bad one."""
    missing = [name for name in REQUIRED if name not in env]
    if missing:
        raise _fail(missing[0], "is not set (the agents component sets every AGENT_* variable, GRAPHQL_URL and AWS_REGION)")
    for name in REQUIRED:
        if name not in ("AGENT_GUARDRAIL_ID", "AGENT_GUARDRAIL_VERSION") and not env[name].strip():
            raise _fail(name, "is empty")
    limit_raw = env["AGENT_DAILY_INVOCATION_LIMIT"]
    if not limit_raw.isdigit() or not 1 <= int(limit_raw) <= 1_000_000:
        raise _fail("AGENT_DAILY_INVOCATION_LIMIT", f"must be a whole number from 1 to 1000000, got {limit_raw!r}")
    return AgentSettings(
        models=_models(env["AGENT_MODELS"]),
        guardrail=_guardrail(env["AGENT_GUARDRAIL_ID"].strip(), env["AGENT_GUARDRAIL_VERSION"].strip()),
        memory_id=_checked("AGENT_MEMORY_ID", env["AGENT_MEMORY_ID"], MEMORY_ID_RE, "an AgentCore memory id"),
        usage_table=_checked("AGENT_USAGE_TABLE", env["AGENT_USAGE_TABLE"], TABLE_RE, "a DynamoDB table name"),
        daily_invocation_limit=int(limit_raw),
        graphql_url=_checked("GRAPHQL_URL", env["GRAPHQL_URL"], GRAPHQL_URL_RE, "the AppSync https://.../graphql URL"),
        region=_checked("AWS_REGION", env["AWS_REGION"], REGION_RE, "an AWS region such as us-east-1"),
    )
