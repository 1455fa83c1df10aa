"""Per-session credentials: the public-mode password and the repository-scoped GitHub App token.

The GitHub API is a local fake on 127.0.0.1 (http.server in a thread) that checks what GitHub checks:
an RS256 App JWT that verifies with the App's public key, issued in the past, expiring within 10
minutes, issued by the App; a repository list inside the installation. The App's private key lives
in (moto's) Secrets Manager, as in the stack.
"""

from __future__ import annotations

import json
import time
from typing import Any

import boto3
import jwt
import pytest
from argon2 import PasswordHasher
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from app.sessions import errors
from app.sessions.access import environment_file, launch_object_key
from app.sessions.credentials import JWT_LIFETIME_SECONDS, GitHubApp, hash_password, repository_of
from app.sessions.service import SESSION_FIELDS, Caller

from .conftest import LAUNCH_BUCKET, OTHER, OWNER, REGION
from .local_http import QuietHandler, serve

alice = Caller(OWNER, (), "alice@example.com")
bob = Caller(OTHER)
APP_ID = "123456"
INSTALLATION = "4242"
REPO_URL = "https://github.com/example/app.git"
APP_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


class FakeGitHub(QuietHandler):
    """POST /app/installations/<id>/access_tokens, as GitHub answers it."""

    installed = {"app", "tools"}  # repositories of example/ the installation covers
    requests: list[dict[str, Any]] = []
    status_override: int | None = None

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        body = json.loads(self.rfile.read(int(self.headers["content-length"])) or b"{}")
        token = self.headers.get("authorization", "").removeprefix("Bearer ")
        record: dict[str, Any] = {"path": self.path, "body": body, "headers": dict(self.headers)}
        FakeGitHub.requests.append(record)
        if FakeGitHub.status_override:
            return self.answer(FakeGitHub.status_override, {"message": "scripted"})
        try:
            record["claims"] = jwt.decode(token, APP_KEY.public_key(), algorithms=["RS256"],
                                          options={"require": ["iat", "exp", "iss"]})
        except jwt.PyJWTError as exc:
            return self.answer(401, {"message": f"A JSON web token could not be decoded: {exc}"})
        claims = record["claims"]
        if claims["exp"] - claims["iat"] > 600 or claims["iat"] > time.time() or str(claims["iss"]) != APP_ID:
            return self.answer(401, {"message": "'Expiration time' claim ('exp') is too far in the future"})
        if self.path != f"/app/installations/{INSTALLATION}/access_tokens":
            return self.answer(404, {"message": "Not Found"})
        if not set(body.get("repositories", [])) <= FakeGitHub.installed:
            return self.answer(422, {"message": "There is at least one repository that does not exist or is not "
                                                 "accessible to the parent installation."})
        self.answer(201, {"token": f"ghs_{'x' * 36}", "expires_at": "2027-01-01T01:00:00Z",
                           "permissions": body.get("permissions"), "repository_selection": "selected"})



@pytest.fixture
def github_api():
    server = serve(FakeGitHub)
    FakeGitHub.requests.clear()
    FakeGitHub.status_override = None
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture
def app_secret(infra):
    client = boto3.client("secretsmanager", region_name=REGION)
    return client, client.create_secret(Name="github-app-key", SecretString=_pem(APP_KEY))["ARN"]


@pytest.fixture
def github(app_secret, github_api, clock):
    client, arn = app_secret
    # The fake checks real time; the service's clock is the fixture's (a fixed 2027 instant).
    return GitHubApp(app_id=APP_ID, installation_id=INSTALLATION, key_secret_arn=arn, api_url=github_api,
                     secretsmanager=client, clock=time.time, web_host="github.com")


def launch_file(infra, call: dict) -> dict[str, str]:
    [spec] = call["overrides"]["containerOverrides"][0]["environmentFiles"]
    assert spec["type"] == "s3" and spec["value"].startswith(f"arn:aws:s3:::{LAUNCH_BUCKET}/")
    key = spec["value"].split(f"{LAUNCH_BUCKET}/", 1)[1]
    body = infra.s3.get_object(Bucket=LAUNCH_BUCKET, Key=key)["Body"].read().decode()
    return dict(line.split("=", 1) for line in body.splitlines())


# --- public mode: a password per session -------------------------------------------------------
def test_each_session_gets_its_own_password_shown_once_to_its_owner_and_stored_only_hashed(infra, make_service):
    service = make_service()
    first, second = service.start(alice, {}), service.start(alice, {})
    assert first["editorPassword"] != second["editorPassword"] and len(first["editorPassword"]) >= 32

    item = infra.item(first["id"])
    assert first["editorPassword"] not in json.dumps(item, default=str)  # never stored in plaintext
    assert PasswordHasher().verify(item["passwordHash"], first["editorPassword"])
    with pytest.raises(Exception):
        PasswordHasher().verify(item["passwordHash"], second["editorPassword"])

    # The task gets the hash through the launch file, not through DescribeTasks' overrides.
    call = service.scripted_ecs.run_task_calls[0]
    overrides = json.dumps(call["overrides"])
    assert item["passwordHash"] not in overrides and first["editorPassword"] not in overrides
    assert launch_file(infra, call)["HASHED_PASSWORD"] == item["passwordHash"]
    assert launch_file(infra, call)["GIT_USER_EMAIL"] == "alice@example.com"

    # Nobody sees it again: not the owner's reads, not a replayed start, not another user.
    assert "editorPassword" not in service.get(alice, first["id"])
    assert all("editorPassword" not in s for s in service.list(alice, {})["items"])
    assert service.get(bob, first["id"]) is None


def test_a_replayed_start_does_not_reveal_or_change_the_password(infra, make_service):
    service = make_service()
    first = service.start(alice, {"idempotencyToken": "t-1"})
    again = service.start(alice, {"idempotencyToken": "t-1"})
    assert set(again) == set(SESSION_FIELDS) and again["id"] == first["id"]
    assert PasswordHasher().verify(infra.item(first["id"])["passwordHash"], first["editorPassword"])


def test_the_hash_is_the_phc_string_code_server_verifies():
    digest = hash_password("correct horse", salt=b"0123456789abcdef")
    assert digest.startswith("$argon2id$v=19$m=4096,t=1,p=1$MDEyMzQ1Njc4OWFiY2RlZg$")
    assert PasswordHasher().verify(digest, "correct horse")
    assert digest != hash_password("correct horse")  # a fresh salt each time


def test_environment_files_are_literal_single_lines():
    assert environment_file({"B": "$argon2id$v=19$m=1,t=1,p=1$a$b", "A": "x=y"}) == \
        b"A=x=y\nB=$argon2id$v=19$m=1,t=1,p=1$a$b\n"
    with pytest.raises(ValueError):
        environment_file({"A": "two\nlines"})


# --- Git: a repository-scoped installation token per launch ------------------------------------
def test_start_mints_a_token_for_exactly_the_sessions_repository(infra, make_service, github):
    service = make_service(github=github)
    session = service.start(alice, {"repositoryUrl": REPO_URL})
    [request] = FakeGitHub.requests
    assert request["path"] == f"/app/installations/{INSTALLATION}/access_tokens"
    assert request["body"] == {"repositories": ["app"], "permissions": {"contents": "write"}}
    claims = request["claims"]
    now = time.time()
    assert claims["iss"] == APP_ID and claims["iat"] <= now - 50  # backdated against clock drift
    assert 0 < claims["exp"] - now <= 600 and claims["exp"] - claims["iat"] == 60 + JWT_LIFETIME_SECONDS

    [call] = service.scripted_ecs.run_task_calls
    values = launch_file(infra, call)
    assert values["GIT_TOKEN"] == "ghs_" + "x" * 36 and values["GIT_TOKEN_EXPIRES_AT"] == "2027-01-01T01:00:00Z"
    assert "ghs_" not in json.dumps(call)  # DescribeTasks shows only the file's ARN
    assert "ghs_" not in json.dumps(infra.item(session["id"]), default=str)
    assert launch_object_key(session["id"], 0) in call["overrides"]["containerOverrides"][0]["environmentFiles"][0]["value"]


def test_a_repository_outside_the_installation_is_refused_before_anything_launches(infra, make_service, github):
    service = make_service(github=github)
    with pytest.raises(errors.RepositoryAccessDenied, match="cannot access example/secret-repo"):
        service.start(alice, {"repositoryUrl": "https://github.com/example/secret-repo"})
    assert service.scripted_ecs.run_task_calls == [] and infra.session_items() == []
    assert infra.quota() == {"active": 0, "sessionIds": set()}


def test_repositories_on_other_hosts_get_no_token_and_github_urls_must_name_a_repository(make_service, github):
    service = make_service(github=github)
    service.start(alice, {"repositoryUrl": "https://gitlab.example.com/group/project.git"})
    assert FakeGitHub.requests == []
    with pytest.raises(errors.ValidationError, match="must name one repository"):
        service.start(alice, {"repositoryUrl": "https://github.com/example"})
    assert repository_of("https://github.com/Example/My.Repo.git", "github.com") == "Example/My.Repo"


@pytest.mark.parametrize("status, error, text", [
    (401, errors.ServiceUnavailable, "GitHub refused the App's credentials"),
    (404, errors.RepositoryAccessDenied, "cannot access example/app"),
    (500, errors.ServiceUnavailable, "GitHub answered 500"),
])
def test_github_errors_map_to_typed_errors_and_leave_nothing_behind(infra, make_service, github, status, error, text):
    FakeGitHub.status_override = status
    service = make_service(github=github)
    with pytest.raises(error, match=text):
        service.start(alice, {"repositoryUrl": REPO_URL})
    assert infra.session_items() == [] and infra.running_tasks() == []
    assert infra.quota()["active"] == 0


def test_a_jwt_signed_with_another_key_is_refused_by_github(infra, app_secret, github_api, make_service):
    client, arn = app_secret
    client.put_secret_value(SecretId=arn, SecretString=_pem(OTHER_KEY))
    app = GitHubApp(app_id=APP_ID, installation_id=INSTALLATION, key_secret_arn=arn, api_url=github_api,
                    secretsmanager=client, clock=time.time, web_host="github.com")
    with pytest.raises(errors.ServiceUnavailable, match="refused the App's credentials"):
        make_service(github=app).start(alice, {"repositoryUrl": REPO_URL})


def test_an_unset_app_key_is_a_configuration_error_not_a_crash(infra, make_service, github_api):
    client = boto3.client("secretsmanager", region_name=REGION)
    arn = client.create_secret(Name="github-app-key-empty", SecretString="set me")["ARN"]
    app = GitHubApp(app_id=APP_ID, installation_id=INSTALLATION, key_secret_arn=arn, api_url=github_api,
                    secretsmanager=client, clock=time.time, web_host="github.com")
    with pytest.raises(errors.ServiceUnavailable, match="GitHub App key is not set"):
        make_service(github=app).start(alice, {"repositoryUrl": REPO_URL})
    assert FakeGitHub.requests == []


def test_github_not_answering_is_reported_within_the_timeout(infra, make_service, app_secret):
    client, arn = app_secret
    app = GitHubApp(app_id=APP_ID, installation_id=INSTALLATION, key_secret_arn=arn,
                    api_url="http://127.0.0.1:9", secretsmanager=client, clock=time.time, web_host="github.com")  # discard port: refused
    with pytest.raises(errors.ServiceUnavailable, match="GitHub did not answer"):
        make_service(github=app).start(alice, {"repositoryUrl": REPO_URL})
    assert infra.session_items() == []


def test_a_restart_mints_a_fresh_token_and_reuses_the_password_hash(infra, make_service, github):
    service = make_service(github=github, RESTART_ON_INTERRUPTION="true")
    session = service.start(alice, {"repositoryUrl": REPO_URL})
    service.handle_task_event(infra.event(session["taskArn"], "RUNNING"))
    result = service.handle_task_event(infra.event(session["taskArn"], "STOPPED", stop_code="SpotInterruption"))
    assert result["action"] == "restarted"
    assert len(FakeGitHub.requests) == 2
    first, restart = service.scripted_ecs.run_task_calls
    assert launch_file(infra, restart)["HASHED_PASSWORD"] == launch_file(infra, first)["HASHED_PASSWORD"]
    assert restart["overrides"]["containerOverrides"][0]["environmentFiles"] != \
        first["overrides"]["containerOverrides"][0]["environmentFiles"]


def test_a_restart_whose_token_is_refused_fails_the_session_and_returns_its_quota(infra, make_service, github):
    service = make_service(github=github, RESTART_ON_INTERRUPTION="true")
    session = service.start(alice, {"repositoryUrl": REPO_URL})
    service.handle_task_event(infra.event(session["taskArn"], "RUNNING"))
    FakeGitHub.installed = {"tools"}  # the repository was removed from the installation meanwhile
    try:
        result = service.handle_task_event(infra.event(session["taskArn"], "STOPPED", stop_code="SpotInterruption"))
    finally:
        FakeGitHub.installed = {"app", "tools"}
    assert result["action"] == "restart-failed"
    item = infra.item(session["id"])
    assert item["status"] == "FAILED" and "cannot access example/app" in item["failureReason"]
    assert infra.quota()["active"] == 0 and len(service.scripted_ecs.run_task_calls) == 1
