"""Typed, user-facing errors.

AppSync hands a JS resolver a raised Lambda error only as type ``Lambda:Unhandled``, so the class
name would be lost. The API handler therefore RETURNS these as ``{"error": {"type": <class name>,
"message": <message>}}`` and the resolver (app/graphql/resolvers/sessionsLambda.js) turns that into
a GraphQL error of exactly that type and message. Class names are part of the API, and messages
must be specific and safe to show (no ARNs, account ids or stack traces). Anything that is not a
SessionError is a bug: the handler logs and raises it, and callers see a generic InternalError.
"""


class SessionError(Exception):
    """Base of every error whose message is meant for the API caller."""


class ValidationError(SessionError):
    """The request is malformed (unknown field, size not in the allowlist, bad URL or token)."""


class Unauthorized(SessionError):
    """No signed-in user on the request."""


class Forbidden(SessionError):
    """The caller may not do this (e.g. list another user's sessions without being ADMIN)."""


class SessionNotFound(SessionError):
    """No such session for this caller (other users' sessions are reported the same way)."""


class QuotaExceeded(SessionError):
    """The owner already has MAX_SESSIONS_PER_USER active sessions."""


class IdempotencyConflict(SessionError):
    """The idempotency token was already used for a start request with different parameters."""


class BudgetLimitReached(SessionError):
    """The budget action's deny policy is in force; new sessions are paused."""


class CapacityUnavailable(SessionError):
    """ECS had no Fargate capacity for the session (after the on-demand fallback, if enabled)."""


class SessionLaunchFailed(SessionError):
    """ECS refused or failed to launch the container for another reason."""


class RepositoryAccessDenied(SessionError):
    """The platform's GitHub App cannot grant access to the requested repository."""


class ServiceBusy(SessionError):
    """Contention or throttling outlasted our retries; the caller can retry."""


class ServiceUnavailable(SessionError):
    """The service is misconfigured; details are in the logs."""


def as_result(error: SessionError) -> dict[str, dict[str, str]]:
    """The API handler's result for a user-facing failure (the resolver's error contract)."""
    return {"error": {"type": type(error).__name__, "message": str(error)}}
