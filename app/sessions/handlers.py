"""Lambda entry points (deployed as `sessions.handlers.<name>`):

- api_handler: AppSync Lambda resolver (event {arguments, identity: {sub, claims:
  {"cognito:groups"}}, info: {fieldName, parentTypeName}}), fields of app/graphql/schema.graphql:
    startSession(input: {sizePreset?, repositoryUrl?, idempotencyToken?}) -> Session
    stopSession(id) -> Session                 (SessionNotFound for missing / someone else's)
    getSession(id) -> Session | null           (null for missing / someone else's)
    listSessions(limit?, nextToken?, owner?, all?, status?) -> {items: [Session], nextToken}
                                               (owner other than the caller, and all, need ADMIN)
  A user-facing failure (a SessionError subclass) is RETURNED as {"error": {"type": <class name>,
  "message": <text for the caller>}}: AppSync gives a JS resolver a raised error only as type
  Lambda:Unhandled, so the resolver could not tell the classes apart. Anything else is a bug: it is
  logged with its traceback and raised, so Lambda counts it as an error (and the resolver answers
  a generic InternalError).
- task_state_handler: EventBridge "ECS Task State Change" events of the sessions cluster.
- reaper_handler: EventBridge schedule.

Settings and AWS clients are built on first use and cached for warm invocations; nothing talks
to AWS at import time, so a cold start pays only for importing boto3 and this package.
"""

from __future__ import annotations

import os
import time
import traceback
from typing import Any, Callable

import boto3

from . import errors
from .observability import log
from .service import Caller, SessionService
from .settings import ConfigurationError, Settings

_cache: dict[str, SessionService] = {}
# Every AWS call, retries included, must end well inside AppSync's 30 s resolver limit (and the API
# function's timeout): 2 attempts x (2 s connect + 4 s read) plus standard backoff (< 1 s each) ~ 14 s.
CLIENT_CONFIG = {"retries": {"mode": "standard", "max_attempts": 2}, "connect_timeout": 2, "read_timeout": 4}
APPSYNC_TIMEOUT_SECONDS = 30


class _LazyClient:
    """Creates the boto3 client on first attribute access (client creation loads the service
    model, ~tens of ms each; a handler that never touches EC2 never pays for it)."""

    def __init__(self, factory: Callable[[], Any]):
        self._factory = factory
        self._client: Any = None

    def __getattr__(self, name: str) -> Any:
        if self._client is None:
            self._client = self._factory()
        return getattr(self._client, name)


def _service() -> SessionService:
    service = _cache.get("service")
    if service is None:
        settings = Settings.from_env(os.environ)
        from botocore.config import Config

        session = boto3.session.Session()
        config = Config(**CLIENT_CONFIG)

        def client(name: str) -> _LazyClient:
            return _LazyClient(lambda: session.client(name, config=config))

        publisher = None
        if settings.graphql_url:
            from .publisher import AppSyncPublisher

            publisher = AppSyncPublisher(settings.graphql_url, settings.graphql_region, session.get_credentials)
        github = None
        if settings.github is not None:
            from .credentials import GitHubApp

            github = GitHubApp(app_id=settings.github.app_id, installation_id=settings.github.installation_id,
                               key_secret_arn=settings.github.key_secret_arn, api_url=settings.github.api_url,
                               secretsmanager=client("secretsmanager"), clock=time.time)
        service = SessionService(
            settings, dynamodb=client("dynamodb"), ecs=client("ecs"), ec2=client("ec2"), elb=client("elbv2"),
            s3=client("s3"), github=github, publisher=publisher,
            efs=client("efs") if settings.workspace == "efs" else None,
        )
        _cache["service"] = service
    return service


def reset() -> None:
    """Forget cached settings and clients (tests and benchmarks change the environment)."""
    _cache.clear()


def _object(value: Any, error: errors.SessionError) -> dict:
    """An optional JSON object of the event: absent is empty, anything but an object is ``error``."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise error
    return value


def _caller(identity: Any) -> Caller:
    sub = identity.get("sub") if isinstance(identity, dict) else None
    if not isinstance(sub, str) or not sub:
        raise errors.Unauthorized("sign in with a user account to manage sessions")
    # A malformed identity is not a user we can authorize (its groups could not be trusted).
    claims = _object(identity.get("claims"), errors.Unauthorized(
        "the request's identity is malformed (claims is not an object); sign in again"))
    groups = claims.get("cognito:groups") or identity.get("groups") or []
    if isinstance(groups, str):
        groups = [groups]
    if not isinstance(groups, list):
        raise errors.Unauthorized("the request's identity is malformed (groups is not a list); sign in again")
    email = claims.get("email") if claims.get("email_verified") in (True, "true") else None
    return Caller(sub, tuple(g for g in groups if isinstance(g, str)),
                  email if isinstance(email, str) and "@" in email and "\n" not in email else None)


def api_handler(event: Any, context: Any) -> Any:
    request_id = getattr(context, "aws_request_id", None)
    info = event.get("info") if isinstance(event, dict) else None
    field = info.get("fieldName") if isinstance(info, dict) else None
    try:
        if not isinstance(event, dict):
            raise errors.ValidationError("expected one AppSync resolver event; batch invocation is not supported")
        if field == "reportSessionActivity":  # IAM: a session task, not a user
            identity = event.get("identity")
            arguments = event.get("arguments")
            return _service().record_activity(identity.get("userArn") if isinstance(identity, dict) else None,
                                              arguments.get("id") if isinstance(arguments, dict) else None)
        caller = _caller(event.get("identity"))
        if not isinstance(info, dict):
            raise errors.ValidationError("the resolver event has no info object naming the GraphQL field")
        arguments = _object(event.get("arguments"),
                            errors.ValidationError("the resolver event's arguments must be an object"))
        if field == "startSession":
            return _service().start(caller, arguments.get("input"))
        if field == "stopSession":
            return _service().stop(caller, arguments.get("id"))
        if field == "getSession":
            return _service().get(caller, arguments.get("id"))
        if field == "listSessions":
            return _service().list(caller, arguments)
        raise errors.ValidationError(f"field {field!r} is not served by the sessions resolver")
    except errors.SessionError as exc:
        log("INFO", "api_error", field=field, errorType=type(exc).__name__, message=str(exc), requestId=request_id)
        return errors.as_result(exc)
    except ConfigurationError as exc:
        log("ERROR", "configuration_error", message=str(exc), requestId=request_id)
        return errors.as_result(errors.ServiceUnavailable(
            "the sessions service is misconfigured; an administrator has to fix its settings"))
    except Exception as exc:
        log("ERROR", "api_unhandled_error", field=field, error=f"{type(exc).__name__}: {exc}",
            traceback=traceback.format_exc(), requestId=request_id)
        raise


def task_state_handler(event: Any, context: Any) -> dict[str, Any]:
    # Errors propagate so EventBridge's async retry redelivers; every step is idempotent.
    return _service().handle_task_event(event)


def reaper_handler(event: Any, context: Any) -> dict[str, int]:
    return _service().reap()
