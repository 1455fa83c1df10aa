"""Per-session credentials: a repository-scoped GitHub App installation token and the IDE password.

Nothing here is platform-wide inside a container. The session API mints, per session:

- a GitHub App installation token limited to the session's one repository and to
  ``contents: write`` (clone and push), valid one hour (GitHub's fixed lifetime). The App's JWT is
  RS256-signed with the App's private key, read from Secrets Manager and cached for warm
  invocations; the JWT itself lives 9 minutes, issued 60 s in the past against clock drift
  (GitHub refuses an ``exp`` more than 10 minutes ahead).
- in public editor access, a random password shown only to the owner and stored only as an
  Argon2id hash in PHC format (what code-server's ``hashed-password`` accepts).

PyJWT and cryptography come from the Lambda layer (components/sessions.py) and are imported on first
use, so cold starts that never mint a token do not pay for them.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
from dataclasses import dataclass
from typing import Any, Callable
from urllib.parse import urlsplit

from . import errors
from .observability import log

JWT_BACKDATE_SECONDS = 60
JWT_LIFETIME_SECONDS = 9 * 60  # GitHub allows at most 10 minutes
HTTP_TIMEOUT_SECONDS = 8  # well inside the API function's timeout and AppSync's 30 s
TOKEN_PERMISSIONS = {"contents": "write"}
# Light Argon2id parameters on purpose: the password is 192 random bits, so no work factor adds to
# its strength (guessing is hopeless at any speed), while a heavy one would cost every start (and
# 20 concurrent starts) seconds and gigabytes. code-server verifies whatever the PHC string names.
ARGON2_MEMORY_KIB = 4096
ARGON2_ITERATIONS = 1
ARGON2_LANES = 1
PASSWORD_BYTES = 24  # 192 random bits, 32 URL-safe characters
_REPO_PATH_RE = re.compile(r"^/([A-Za-z0-9](?:[A-Za-z0-9-]{0,38}))/([A-Za-z0-9._-]{1,100}?)(?:\.git)?/?$")


@dataclass(frozen=True)
class RepositoryToken:
    token: str
    expires_at: str  # GitHub's ISO timestamp
    repository: str  # owner/name


def new_password() -> str:
    return secrets.token_urlsafe(PASSWORD_BYTES)


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode().rstrip("=")


def hash_password(password: str, salt: bytes | None = None) -> str:
    """``$argon2id$v=19$m=4096,t=1,p=1$<salt>$<hash>`` (PHC string, unpadded base64), as node-argon2
    (code-server's verifier) writes and reads it."""
    from cryptography.hazmat.primitives.kdf.argon2 import Argon2id

    salt = salt if salt is not None else secrets.token_bytes(16)
    digest = Argon2id(salt=salt, length=32, iterations=ARGON2_ITERATIONS, lanes=ARGON2_LANES,
                      memory_cost=ARGON2_MEMORY_KIB).derive(password.encode())
    return (f"$argon2id$v=19$m={ARGON2_MEMORY_KIB},t={ARGON2_ITERATIONS},p={ARGON2_LANES}"
            f"${_b64(salt)}${_b64(digest)}")


def repository_of(url: str, host: str) -> str | None:
    """owner/name when ``url`` is a repository on ``host`` (the App's GitHub), else None."""
    parts = urlsplit(url)
    if (parts.hostname or "").lower() != host:
        return None
    match = _REPO_PATH_RE.match(parts.path)
    if not match:
        raise errors.ValidationError(f"repositoryUrl must name one repository: https://{host}/<owner>/<name>")
    return f"{match.group(1)}/{match.group(2)}"


class GitHubApp:
    """Mints installation tokens for one GitHub App installation (boto3 secretsmanager client for the key)."""

    def __init__(self, *, app_id: str, installation_id: str, key_secret_arn: str, api_url: str,
                 secretsmanager: Any, clock: Callable[[], float], web_host: str | None = None,
                 opener: Callable[..., Any] | None = None):
        self._app_id = app_id
        self._installation_id = installation_id
        self._key_secret_arn = key_secret_arn
        self._api_url = api_url.rstrip("/")
        self._secrets = secretsmanager
        self._clock = clock
        self._open = opener
        self._key: str | None = None
        api_host = (urlsplit(api_url).hostname or "").lower()
        # api.github.com serves github.com; GitHub Enterprise Server serves its API at <host>/api/v3.
        # (web_host: the repositories' host when the API is elsewhere, e.g. a local test double.)
        self.host = web_host or ("github.com" if api_host == "api.github.com" else api_host)

    def app_jwt(self) -> str:
        import jwt  # PyJWT (layer)

        now = int(self._clock())
        claims = {"iat": now - JWT_BACKDATE_SECONDS, "exp": now + JWT_LIFETIME_SECONDS, "iss": self._app_id}
        return jwt.encode(claims, self._private_key(), algorithm="RS256")

    def _private_key(self) -> str:
        if self._key is None:
            value = self._secrets.get_secret_value(SecretId=self._key_secret_arn).get("SecretString") or ""
            if "PRIVATE KEY-----" not in value:
                log("ERROR", "github_app_key_invalid", secret=self._key_secret_arn)
                raise errors.ServiceUnavailable("repository access is misconfigured (the GitHub App key is not set); "
                                                "an administrator has to fix it")
            self._key = value
        return self._key

    def repository_token(self, repository: str) -> RepositoryToken:
        """A token for exactly ``owner/name``, contents read/write, expiring in one hour."""
        import urllib.error  # only when minting: keeps the handlers' cold import small
        import urllib.request

        name = repository.split("/", 1)[1]
        body = json.dumps({"repositories": [name], "permissions": TOKEN_PERMISSIONS}).encode()
        request = urllib.request.Request(
            f"{self._api_url}/app/installations/{self._installation_id}/access_tokens", data=body, method="POST",
            headers={"Authorization": f"Bearer {self.app_jwt()}", "Accept": "application/vnd.github+json",
                     "X-GitHub-Api-Version": "2022-11-28", "Content-Type": "application/json",
                     "User-Agent": "aiplatform-sessions"})
        try:
            with (self._open or urllib.request.urlopen)(request, timeout=HTTP_TIMEOUT_SECONDS) as response:
                data = json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as exc:
            raise self._error(exc.code, repository) from None
        except (urllib.error.URLError, TimeoutError, OSError, ValueError) as exc:
            log("ERROR", "github_unreachable", repository=repository, error=f"{type(exc).__name__}: {exc}")
            raise errors.ServiceUnavailable("GitHub did not answer the repository access request; try again") from None
        token, expires = data.get("token"), data.get("expires_at")
        if not isinstance(token, str) or not token or not isinstance(expires, str):
            log("ERROR", "github_token_malformed", repository=repository)
            raise errors.ServiceUnavailable("GitHub returned no repository token; try again")
        return RepositoryToken(token, expires, repository)

    @staticmethod
    def _error(status: int, repository: str) -> errors.SessionError:
        log("WARN", "github_token_refused", repository=repository, status=status)
        if status in (404, 422):
            # 422: the repository is not part of the installation; 404 hides private repositories.
            return errors.RepositoryAccessDenied(
                f"the platform's GitHub App cannot access {repository}; ask an administrator to add the "
                "repository to the App's installation, or choose another repository")
        if status in (401, 403):
            return errors.ServiceUnavailable("repository access is misconfigured (GitHub refused the App's "
                                             "credentials); an administrator has to fix it")
        return errors.ServiceUnavailable(f"GitHub answered {status} to the repository access request; try again")
