"""Cognito post-confirmation trigger: create the User item and put the user in the default group.

Cognito retries a trigger that fails or outlives its 5-second wait, so every step is idempotent: the
item is written with a conditional put (a retry never overwrites it) and AdminAddUserToGroup is a no-op
for a member. The group call runs even when the item already exists, so a retry after a half-finished
first attempt completes it. Cognito requires the event back unchanged.

Environment: USERS_TABLE (users table name), DEFAULT_GROUP (group every new user joins).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Mapping, Optional

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

CONFIRM_SIGN_UP = "PostConfirmation_ConfirmSignUp"
CONFIRM_FORGOT_PASSWORD = "PostConfirmation_ConfirmForgotPassword"

# botocore's UserPoolIdType pattern; the prefix is the pool's region.
_USER_POOL_ID_RE = re.compile(r"^([\w-]+)_[0-9a-zA-Z]+$")

# Cognito gives up on a trigger after 5 s: fail fast rather than retry past that.
_BOTO_CONFIG = Config(connect_timeout=1, read_timeout=2, retries={"mode": "standard", "max_attempts": 2})

# Created on first use and reused by warm invocations; keyed by (service, region).
_clients: dict[tuple[str, Optional[str]], Any] = {}


class InvalidEventError(ValueError):
    """The event is not a post-confirmation event this handler can act on; ``field`` names the culprit."""

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        super().__init__(f"invalid post-confirmation event: {field} {problem}")


class ConfigurationError(RuntimeError):
    """A required environment variable is missing or blank; ``variable`` names it."""

    def __init__(self, variable: str) -> None:
        self.variable = variable
        super().__init__(f"post-confirmation trigger misconfigured: environment variable {variable} is not set")


@dataclass(frozen=True)
class Settings:
    users_table: str
    default_group: str


@dataclass(frozen=True)
class NewUser:
    user_pool_id: str
    region: str
    user_name: str
    sub: str
    email: str
    display_name: str
    role: str


def load_settings() -> Settings:
    return Settings(users_table=_env("USERS_TABLE"), default_group=_env("DEFAULT_GROUP"))


def _env(name: str) -> str:
    value = os.environ.get(name, "").strip()
    if not value:
        raise ConfigurationError(name)
    return value


def _required(container: Mapping[str, Any], key: str, path: str, kind: type) -> Any:
    if key not in container:
        raise InvalidEventError(path, "is missing")
    value = container[key]
    if not isinstance(value, kind):
        expected = "an object" if kind is dict else "a string"
        raise InvalidEventError(path, f"must be {expected}, got {type(value).__name__}")
    if kind is str and not value.strip():
        raise InvalidEventError(path, "is empty")
    return value


def _optional_text(attributes: Mapping[str, Any], key: str) -> Optional[str]:
    """An optional user attribute; blank counts as absent, a non-string is an error."""
    value = attributes.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidEventError(f"request.userAttributes.{key}", f"must be a string, got {type(value).__name__}")
    return value.strip() or None


def trigger_source(event: Any) -> str:
    if not isinstance(event, dict):
        raise InvalidEventError("event", f"must be an object, got {type(event).__name__}")
    source = _required(event, "triggerSource", "triggerSource", str)
    if source not in (CONFIRM_SIGN_UP, CONFIRM_FORGOT_PASSWORD):
        raise InvalidEventError("triggerSource", f"must be {CONFIRM_SIGN_UP} or {CONFIRM_FORGOT_PASSWORD}, "
                                                 f"got {source!r}")
    return source


def parse_new_user(event: Mapping[str, Any], default_group: str) -> NewUser:
    """The user a sign-up confirmation event describes (error messages never echo attribute values)."""
    pool_id = _required(event, "userPoolId", "userPoolId", str)
    match = _USER_POOL_ID_RE.match(pool_id)
    if not match:
        raise InvalidEventError("userPoolId", "is not a user pool id (<region>_<id>)")
    user_name = _required(event, "userName", "userName", str)
    request = _required(event, "request", "request", dict)
    attributes = _required(request, "userAttributes", "request.userAttributes", dict)
    sub = _required(attributes, "sub", "request.userAttributes.sub", str)
    email = _required(attributes, "email", "request.userAttributes.email", str).strip()
    local_part, at, domain = email.rpartition("@")
    if not (at and local_part and domain):
        raise InvalidEventError("request.userAttributes.email", "is not an email address")
    display_name = (_optional_text(attributes, "name") or _optional_text(attributes, "preferred_username")
                    or local_part)
    role = _optional_text(attributes, "custom:user_role") or default_group
    return NewUser(user_pool_id=pool_id, region=match.group(1), user_name=user_name, sub=sub, email=email,
                   display_name=display_name, role=role)


def timestamp() -> str:
    """Now as AWSDateTime: ISO-8601 UTC, milliseconds, ``Z``."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _client(service: str, region: Optional[str] = None) -> Any:
    key = (service, region)
    client = _clients.get(key)
    if client is None:
        client = _clients[key] = boto3.client(service, region_name=region, config=_BOTO_CONFIG)
    return client


def put_user_once(table: str, user: NewUser, now: str) -> bool:
    """Write the User item unless one exists for this sub; True when this call created it."""
    item = {
        "id": {"S": user.sub},
        "email": {"S": user.email},
        "displayName": {"S": user.display_name},
        "role": {"S": user.role},
        "createdAt": {"S": now},
        "updatedAt": {"S": now},
    }
    try:
        # The table replica in the function's own region (a global table replicates it).
        _client("dynamodb").put_item(TableName=table, Item=item, ConditionExpression="attribute_not_exists(id)")
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            return False
        raise
    return True


def _log(level: str, **fields: Any) -> None:
    # One JSON object per line so CloudWatch Logs Insights can filter on the fields.
    print(json.dumps({"level": level, "logger": "identity.post_confirmation", **fields}, default=str), flush=True)


def handler(event: Any, context: Any) -> Any:
    fields: dict[str, Any] = {"requestId": getattr(context, "aws_request_id", None)}
    try:
        source = trigger_source(event)
        fields["triggerSource"] = source
        if source == CONFIRM_FORGOT_PASSWORD:
            _log("INFO", outcome="skipped", **fields)
            return event
        settings = load_settings()
        user = parse_new_user(event, settings.default_group)
        fields.update(userPoolId=user.user_pool_id, sub=user.sub)
        created = put_user_once(settings.users_table, user, timestamp())
        _client("cognito-idp", user.region).admin_add_user_to_group(
            UserPoolId=user.user_pool_id, Username=user.user_name, GroupName=settings.default_group)
    except Exception as exc:
        _log("ERROR", outcome="failed", error=type(exc).__name__, detail=str(exc), **fields)
        raise
    _log("INFO", outcome="created" if created else "already_exists", group=settings.default_group, **fields)
    return event
