"""app/session-image/entrypoint.sh against a local bare repository, with code-server (and the
proxy's node) replaced by stubs that record what they were started with.

`url.<local bare repo>.insteadOf https://github.com/example/` in the test HOME makes the https URL
the session API passes clone from disk, so the token path (credential helper for github.com) is the
one the image really takes.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

IMAGE = Path(__file__).resolve().parents[2] / "app" / "session-image"
ENTRYPOINT = IMAGE / "entrypoint.sh"
TOKEN = "ghs_" + "t" * 36
HASH = "$argon2id$v=19$m=4096,t=1,p=1$MDEyMzQ1Njc4OWFiY2RlZg$0QpUoGTYzIV2u6FL1BjyM80H50sY4hH4/7mwn/cft/I"
REPO_URL = "https://github.com/example/app.git"

pytestmark = pytest.mark.skipif(shutil.which("git") is None or shutil.which("bash") is None,
                                reason="the entrypoint needs bash and git")

def _stub(path: Path, name: str, out: Path) -> Path:
    """An executable that writes {args, env} as JSON to <out>.<name> and exits 0."""
    path.write_text(f"""#!/usr/bin/env python3
import json, os, sys, time
script = "." + os.path.basename(sys.argv[1]) if {name!r} == "node" else ""  # the proxy or the reporter
with open({str(out) + '.' + name!r} + script, "w") as f:
    json.dump({{"args": sys.argv[1:], "env": dict(os.environ)}}, f)
time.sleep(float(os.environ.get("STUB_LINGER", "0")))  # alb mode: let the proxy stub record too
""")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def _git(*args: str, cwd: Path | None = None, env: dict | None = None) -> str:
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True).stdout


@pytest.fixture
def box(tmp_path):
    home, bin_dir = tmp_path / "home", tmp_path / "bin"
    home.mkdir()
    bin_dir.mkdir()
    source = tmp_path / "source"
    source.mkdir()
    base = {"PATH": os.environ["PATH"], "HOME": str(home), "GIT_CONFIG_NOSYSTEM": "1"}
    _git("init", "-q", "-b", "main", cwd=source, env=base)
    (source / "README.md").write_text("hello\n")
    _git("add", ".", cwd=source, env=base)
    _git("-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-q", "-m", "init", cwd=source, env=base)
    bare = tmp_path / "remote" / "app.git"
    _git("clone", "-q", "--bare", str(source), str(bare), env=base)
    (home / ".gitconfig").write_text(f'[url "file://{bare.parent}/"]\n\tinsteadOf = https://github.com/example/\n')
    out = tmp_path / "out"
    env = {**base, "SESSION_ID": "3f2b8c1e-4d5a-4e6f-8a9b-0c1d2e3f4a5b", "SESSION_OWNER": "owner-sub", "PORT": "8080",
           "CODE_SERVER": str(_stub(bin_dir / "code-server", "code-server", out)),
           "NODE": str(_stub(bin_dir / "node", "node", out)), "PROXY": str(IMAGE / "auth-proxy.js"),
           "REPORTER": str(IMAGE / "activity-reporter.js")}
    return {"home": home, "env": env, "out": out, "bare": bare}


def run(box: dict, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(ENTRYPOINT)], env={**box["env"], **env}, capture_output=True, text=True,
                          timeout=60)


def recorded(box: dict, name: str) -> dict:
    return json.loads(Path(f"{box['out']}.{name}").read_text())


def test_password_mode_clones_with_the_token_scrubs_it_and_starts_code_server(box):
    result = run(box, EDITOR_AUTH="password", REPOSITORY_URL=REPO_URL, GIT_TOKEN=TOKEN, HASHED_PASSWORD=HASH,
                 GIT_USER_EMAIL="alice@example.com")
    assert result.returncode == 0, result.stderr
    home = box["home"]
    repo = home / "workspace" / "app"
    assert (repo / "README.md").read_text() == "hello\n"
    env = {**box["env"]}
    assert _git("config", "remote.origin.url", cwd=repo, env=env).strip() == REPO_URL  # as recorded
    # The token is in no URL, no Git config, and not in code-server's environment.
    for config in (repo / ".git" / "config", home / ".gitconfig"):
        assert TOKEN not in config.read_text()
    started = recorded(box, "code-server")
    assert "GIT_TOKEN" not in started["env"] and "HASHED_PASSWORD" not in started["env"]
    assert not [v for v in started["env"].values() if TOKEN in v or HASH in v]
    # ...but Git still authenticates to the repository's host with it (clone done, pushes work).
    token_file = home / ".config" / "session" / "git-token"
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    filled = subprocess.run(["git", "credential", "fill"], input="protocol=https\nhost=github.com\n\n",
                            env=env, capture_output=True, text=True, check=True).stdout
    assert f"password={TOKEN}" in filled and "username=x-access-token" in filled
    other = subprocess.run(["git", "credential", "fill"], input="protocol=https\nhost=gitlab.com\n\n",
                           env={**env, "GIT_TERMINAL_PROMPT": "0"}, capture_output=True, text=True)
    assert TOKEN not in other.stdout  # scoped to the repository's host
    # Git identity and the session's password hash.
    assert _git("config", "--global", "user.email", env=env).strip() == "alice@example.com"
    assert _git("config", "--global", "user.name", env=env).strip() == "alice"
    config = (home / ".config" / "code-server" / "config.yaml").read_text()
    assert config == f'bind-addr: 0.0.0.0:8080\nauth: password\nhashed-password: "{HASH}"\ncert: false\n'
    assert started["args"][-1] == str(repo) and started["args"][:2] == ["--config", str(home / ".config/code-server/config.yaml")]


def test_a_persistent_workspace_is_not_cloned_again(box):
    assert run(box, EDITOR_AUTH="password", REPOSITORY_URL=REPO_URL, HASHED_PASSWORD=HASH).returncode == 0
    (box["home"] / "workspace" / "app" / "work.txt").write_text("unsaved elsewhere\n")
    second = run(box, EDITOR_AUTH="password", REPOSITORY_URL=REPO_URL, HASHED_PASSWORD=HASH)
    assert second.returncode == 0 and "not cloning again" in second.stdout
    assert (box["home"] / "workspace" / "app" / "work.txt").exists()


def test_alb_mode_runs_the_proxy_in_front_of_a_loopback_code_server_without_auth(box):
    result = run(box, EDITOR_AUTH="alb", USER_POOL_ISSUER="https://cognito-idp.us-east-1.amazonaws.com/p",
                 ALB_ARN="arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/x/0123456789abcdef",
                 AWS_REGION="us-east-1", HASHED_PASSWORD=HASH, STUB_LINGER="2",
                 GRAPHQL_URL="https://abc.appsync-api.us-east-1.amazonaws.com/graphql")
    assert result.returncode == 0, result.stderr
    config = (box["home"] / ".config" / "code-server" / "config.yaml").read_text()
    assert config == "bind-addr: 127.0.0.1:13337\nauth: none\ncert: false\n"
    proxy = recorded(box, "node.auth-proxy.js")
    assert proxy["args"] == [str(IMAGE / "auth-proxy.js")]
    assert proxy["env"]["UPSTREAM_PORT"] == "13337" and proxy["env"]["SESSION_OWNER"] == "owner-sub"
    assert proxy["env"]["ACTIVITY_FILE"].endswith(".config/session/activity")
    assert "HASHED_PASSWORD" not in recorded(box, "code-server")["env"]
    # The IDE's activity (code-server's heartbeat and the proxy's file) is reported by the task role.
    reporter = recorded(box, "node.activity-reporter.js")
    home = str(box["home"])
    assert reporter["env"]["ACTIVITY_FILES"] == (f"{home}/.local/share/code-server/heartbeat:"
                                                 f"{home}/.config/session/activity")


def test_without_an_api_nothing_reports_activity(box):
    assert run(box, EDITOR_AUTH="password", HASHED_PASSWORD=HASH).returncode == 0
    assert not Path(f"{box['out']}.node.activity-reporter.js").exists()


@pytest.mark.parametrize("env, message", [
    ({"EDITOR_AUTH": "password"}, "HASHED_PASSWORD is required with EDITOR_AUTH=password"),
    ({"EDITOR_AUTH": "password", "HASHED_PASSWORD": "plaintext"}, "HASHED_PASSWORD is not an argon2 hash"),
    ({"EDITOR_AUTH": "none", "HASHED_PASSWORD": HASH}, "EDITOR_AUTH must be password or alb, got 'none'"),
    ({"EDITOR_AUTH": "password", "HASHED_PASSWORD": HASH, "REPOSITORY_URL": "https://github.com/example/missing.git"},
     "could not clone the repository"),
])
def test_bad_input_fails_with_one_clear_line_and_never_starts_the_editor(box, env, message):
    result = run(box, **env)
    assert result.returncode == 64
    assert result.stderr.strip().splitlines()[-1] == f"session-entrypoint: {message}"
    assert not Path(f"{box['out']}.code-server").exists()
