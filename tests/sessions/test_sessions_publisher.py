"""publishSessionUpdate over SigV4 to a local HTTP server standing in for AppSync."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest
from botocore.credentials import Credentials
from graphql import parse, validate

from app.sessions import publisher as publisher_module
from app.sessions.publisher import AppSyncPublisher
from app.sessions.service import SESSION_FIELDS, Caller, session_view
from tests.api.appsync_prelude import build_appsync_schema
from tests.conftest import ROOT

from .conftest import OWNER, events

SCHEMA = ROOT / "app" / "graphql" / "schema.graphql"


def _schema():
    return build_appsync_schema(SCHEMA.read_text())


def _selection(mutation: str) -> list[str]:
    [operation] = parse(mutation).definitions
    [publish] = operation.selection_set.selections
    assert publish.name.value == "publishSessionUpdate"
    return [field.name.value for field in publish.selection_set.selections]


def test_publisher_selects_exactly_every_field_of_the_session_type():
    schema = _schema()
    selected = _selection(publisher_module.MUTATION)
    assert len(selected) == len(set(selected))
    assert set(selected) == set(schema.get_type("Session").fields)
    assert validate(schema, parse(publisher_module.MUTATION)) == []


def test_published_input_is_exactly_the_update_input_type():
    """AppSync rejects a whole request whose input carries a field the input type lacks, and
    session_view is what gets published: its keys must be SessionUpdateInput's fields."""
    schema = _schema()
    assert set(SESSION_FIELDS) == set(schema.get_type("SessionUpdateInput").fields)
    assert set(session_view({})) == set(SESSION_FIELDS)


def test_the_selection_check_bites():
    shortened = publisher_module.MUTATION.replace(" interruptions", "")
    assert set(_selection(shortened)) != set(_schema().get_type("Session").fields)

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
CREDENTIALS = Credentials("AKIDEXAMPLE", SECRET, "session-token-xyz")


class FakeAppSync:
    def __init__(self):
        self.requests: list[dict] = []
        self.reply: tuple[int, dict] = (200, {"data": {"publishSessionUpdate": {}}})
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.requests.append({"path": self.path, "headers": dict(self.headers.items()), "body": body})
                status, payload = outer.reply
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/graphql"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def appsync():
    server = FakeAppSync()
    yield server
    server.close()


def verify_sigv4(request: dict, url: str, secret: str, region: str, service: str) -> None:
    """Independent SigV4 check (AWS General Reference, 'Create a signed AWS API request')."""
    headers = {k.lower(): v for k, v in request["headers"].items()}
    algorithm, rest = headers["authorization"].split(" ", 1)
    assert algorithm == "AWS4-HMAC-SHA256"
    parts = dict(p.strip().split("=", 1) for p in rest.split(","))
    access_key, date, scope_region, scope_service, terminator = parts["Credential"].split("/")
    assert (access_key, scope_region, scope_service, terminator) == ("AKIDEXAMPLE", region, service, "aws4_request")
    signed = parts["SignedHeaders"].split(";")
    assert {"host", "x-amz-date", "x-amz-security-token", "content-type"} <= set(signed)
    canonical_headers = "".join(f"{h}:{' '.join(headers[h].split())}\n" for h in signed)
    canonical_request = "\n".join([
        "POST", urlsplit(url).path, "", canonical_headers, parts["SignedHeaders"],
        hashlib.sha256(request["body"]).hexdigest(),
    ])
    amz_date = headers["x-amz-date"]
    scope = f"{date}/{region}/{service}/aws4_request"
    string_to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical_request.encode()).hexdigest()])
    key = f"AWS4{secret}".encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    assert hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest() == parts["Signature"]


def test_running_event_publishes_a_signed_mutation_with_the_session(infra, make_service, appsync):
    service = make_service(publisher=AppSyncPublisher(appsync.url, "us-east-1", lambda: CREDENTIALS))
    session = service.start(Caller(OWNER), {})
    ip = infra.assign_public_ip(session["taskArn"])
    service.handle_task_event(infra.event(session["taskArn"], "RUNNING"))

    provisioning, request = appsync.requests  # the start announced PROVISIONING first
    assert json.loads(provisioning["body"])["variables"]["input"]["status"] == "PROVISIONING"
    assert request["path"] == "/graphql"
    verify_sigv4(request, appsync.url, SECRET, "us-east-1", "appsync")
    payload = json.loads(request["body"])
    assert payload["query"] == publisher_module.MUTATION
    sent = payload["variables"]["input"]
    assert set(sent) == set(SESSION_FIELDS)
    assert (sent["id"], sent["owner"], sent["status"]) == (session["id"], OWNER, "RUNNING")
    assert sent["editorUrl"] == f"http://{ip}:8080/"
    assert (sent["interruptions"], sent["stopReason"]) == (0, None)


def test_a_tampered_body_would_not_verify(appsync):
    AppSyncPublisher(appsync.url, "us-east-1", lambda: CREDENTIALS).publish({"id": "s", "status": "RUNNING"})
    [request] = appsync.requests
    with pytest.raises(AssertionError):
        verify_sigv4({**request, "body": request["body"].replace(b"RUNNING", b"STOPPED")}, appsync.url, SECRET,
                     "us-east-1", "appsync")


@pytest.mark.parametrize(
    "reply",
    [(500, {"message": "internal"}), (200, {"data": None, "errors": [{"errorType": "Unauthorized", "message": "no"}]})],
)
def test_publish_failures_are_logged_and_never_lose_the_update(infra, make_service, appsync, capsys, reply):
    appsync.reply = reply
    service = make_service(publisher=AppSyncPublisher(appsync.url, "us-east-1", lambda: CREDENTIALS))
    session = service.start(Caller(OWNER), {})
    assert service.handle_task_event(infra.event(session["taskArn"], "RUNNING"))["action"] == "running"
    assert infra.item(session["id"])["status"] == "RUNNING"
    assert events(capsys.readouterr().out, "publish_failed")


def test_unreachable_endpoint_is_logged_too(infra, make_service, capsys):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens here
    publisher = AppSyncPublisher(f"http://127.0.0.1:{port}/graphql", "us-east-1", lambda: CREDENTIALS, timeout=1)
    assert publisher.publish({"id": "s-1", "status": "STOPPED"}) is False
    [failure] = events(capsys.readouterr().out, "publish_failed")
    assert "URLError" in failure["error"] or "ConnectionRefused" in failure["error"]
