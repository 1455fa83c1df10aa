"""app/session-image/activity-reporter.js under Node: it reports only when the IDE's activity files
changed, as the task role (credentials from a stand-in ECS credentials endpoint), SigV4-signed so
that an independent verifier accepts it, to the reportSessionActivity mutation."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from .local_http import QuietHandler, serve
from .test_sessions_publisher import SECRET, verify_sigv4

REPORTER = Path(__file__).resolve().parents[2] / "app" / "session-image" / "activity-reporter.js"
SESSION = "3f2b8c1e-4d5a-4e6f-8a9b-0c1d2e3f4a5b"

pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="Node.js runs the reporter")


class _Endpoints(QuietHandler):
    reports: list[dict[str, Any]] = []

    def do_GET(self) -> None:  # noqa: N802 - the ECS credentials endpoint
        body = json.dumps({"AccessKeyId": "AKIDEXAMPLE", "SecretAccessKey": SECRET, "Token": "task-session-token",
                           "Expiration": "2099-01-01T00:00:00Z", "RoleArn": "arn:aws:iam::123456789012:role/t"})
        self.answer(200 if self.path == "/v2/credentials/abc" else 404, body.encode())

    def do_POST(self) -> None:  # noqa: N802 - AppSync
        raw = self.rfile.read(int(self.headers["content-length"]))
        _Endpoints.reports.append({"path": self.path, "headers": dict(self.headers), "body": raw})
        self.answer(200, {"data": {"reportSessionActivity": True}})


def _wait(predicate, timeout: float = 10.0) -> bool:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_reports_signed_activity_only_when_the_ide_was_used(tmp_path):
    server = serve(_Endpoints)
    base = f"http://127.0.0.1:{server.server_address[1]}"
    heartbeat, proxy = tmp_path / "heartbeat", tmp_path / "activity"
    heartbeat.write_text("")
    _Endpoints.reports.clear()
    env = {"PATH": os.environ["PATH"], "GRAPHQL_URL": f"{base}/graphql", "AWS_REGION": "us-east-1",
           "SESSION_ID": SESSION, "ACTIVITY_FILES": f"{heartbeat}:{proxy}", "REPORT_INTERVAL_SECONDS": "0.3",
           "AWS_CONTAINER_CREDENTIALS_FULL_URI": f"{base}/v2/credentials/abc"}
    process = subprocess.Popen(["node", str(REPORTER)], env=env, stderr=subprocess.PIPE)
    try:
        assert _wait(lambda: len(_Endpoints.reports) == 1)
        [report] = _Endpoints.reports
        verify_sigv4(report, f"{base}/graphql", SECRET, "us-east-1", "appsync")
        assert {k.lower(): v for k, v in report["headers"].items()}["x-amz-security-token"] == "task-session-token"
        payload = json.loads(report["body"])
        assert payload["variables"] == {"id": SESSION} and "reportSessionActivity(id: $id)" in payload["query"]

        time.sleep(1.0)  # nothing touched: no further report
        assert len(_Endpoints.reports) == 1
        later = time.time() + 5
        proxy.write_text("")  # the owner used the IDE through the proxy
        os.utime(proxy, (later, later))
        assert _wait(lambda: len(_Endpoints.reports) == 2)
    finally:
        process.kill()
        process.wait()
        server.shutdown()


def test_missing_settings_fail_with_one_line():
    result = subprocess.run(["node", str(REPORTER)], env={"PATH": os.environ["PATH"]}, capture_output=True,
                            text=True, timeout=30)
    assert result.returncode == 64
    assert result.stderr.strip() == ("activity-reporter: GRAPHQL_URL, AWS_REGION, SESSION_ID and ACTIVITY_FILES "
                                     "are required")
