"""What a session's task gets to prove its owner and reach its repository, and how it gets it.

- Public editor access: a random password per session. The owner sees it once, in startSession's
  answer; the item keeps only its Argon2id hash (restarts reuse it), and the task gets the hash.
- Private editor access: no password. The listener rule authenticates against the user pool and
  the container's auth proxy admits only ``SESSION_OWNER`` (app/session-image/auth-proxy.js).
- Git: a token scoped to the session's repository (app/sessions/credentials.py), minted for every
  launch (restarts get a fresh one: tokens live one hour).

Secret values travel in a per-launch environment file in the launch bucket, named by RunTask's
``environmentFiles``: ECS's DescribeTasks (readable by anyone with ecs:DescribeTasks in the account)
shows container overrides verbatim, so values placed there would not be the owner's alone. Only the
execution role may read the objects, and a lifecycle rule deletes them after a day.
"""

from __future__ import annotations

import re
from typing import Any

from .credentials import GitHubApp, RepositoryToken, hash_password, new_password, repository_of
from .settings import Settings

_ENV_VALUE_RE = re.compile(r"^[^\r\n]*$")


def launch_object_key(session_id: str, launch: int) -> str:
    return f"sessions/{session_id}/launch-{launch}.env"


def environment_file(values: dict[str, str]) -> bytes:
    """ECS environment file: one VAR=VALUE per line, taken literally (no quoting or expansion)."""
    lines = []
    for name, value in sorted(values.items()):
        if not _ENV_VALUE_RE.match(value):
            raise ValueError(f"{name} must be a single line")
        lines.append(f"{name}={value}")
    return ("\n".join(lines) + "\n").encode()


class SessionAccess:
    def __init__(self, settings: Settings, *, s3: Any, github: GitHubApp | None):
        self._s = settings
        self._s3 = s3
        self._github = github

    def new_password(self) -> tuple[str, str] | None:
        """(password, its hash) in public mode; None in private mode (the ALB and proxy authenticate)."""
        if self._s.editor_access != "public":
            return None
        password = new_password()
        return password, hash_password(password)

    def repository(self, repository_url: str | None) -> str | None:
        """owner/name when the App can mint a token for this URL (validated at start)."""
        if not repository_url or self._github is None:
            return None
        return repository_of(repository_url, self._github.host)

    def environment_files(self, item: dict[str, Any], launch: int) -> list[dict[str, str]]:
        """Mint this launch's secrets, write them to the launch bucket, and return RunTask's
        environmentFiles (empty when the session has no secret at all)."""
        values: dict[str, str] = {}
        if item.get("ownerEmail"):
            values["GIT_USER_EMAIL"] = item["ownerEmail"]
        if item.get("passwordHash"):
            values["HASHED_PASSWORD"] = item["passwordHash"]
        repository = self.repository(item.get("repositoryUrl"))
        if repository is not None:
            token: RepositoryToken = self._github.repository_token(repository)
            values.update(GIT_TOKEN=token.token, GIT_TOKEN_EXPIRES_AT=token.expires_at)
        if not values:
            return []
        key = launch_object_key(item["id"], launch)
        self._s3.put_object(Bucket=self._s.launch_bucket, Key=key, Body=environment_file(values),
                            ServerSideEncryption="AES256", ContentType="text/plain")
        partition = self._s.cluster_arn.split(":")[1]
        return [{"value": f"arn:{partition}:s3:::{self._s.launch_bucket}/{key}", "type": "s3"}]

