"""A local stand-in for AppSync's GraphQL endpoint (127.0.0.1): it checks the SigV4 signature the way
AWS does (recomputes it from the received request and the known secret key) and answers as scripted."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Optional

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

CREDENTIALS = Credentials("AKIDAGENTRUNTIME", "agent-runtime-secret", "session-token-1")
REGION = "us-east-1"


@dataclass
class Received:
    headers: dict[str, str]  # names in lower case
    body: dict[str, Any]
    signature_valid: bool
    credential_scope: str


def signature_matches(url: str, headers: dict[str, str], body: bytes, credentials: Credentials) -> tuple[bool, str]:
    """Recompute the SigV4 signature over the received request's signed headers."""
    auth = headers.get("Authorization", "")
    if not auth.startswith("AWS4-HMAC-SHA256 "):
        return False, ""
    parts = dict(p.strip().split("=", 1) for p in auth[len("AWS4-HMAC-SHA256 "):].split(","))
    signed = parts["SignedHeaders"].split(";")
    lower = {k.lower(): v for k, v in headers.items()}
    request = AWSRequest(method="POST", url=url, data=body, headers={h: lower[h] for h in signed if h in lower})
    request.context["timestamp"] = lower["x-amz-date"]
    signer = SigV4Auth(credentials, "appsync", REGION)
    canonical = signer.canonical_request(request)
    expected = signer.signature(signer.string_to_sign(request, canonical), request)
    return expected == parts["Signature"], parts["Credential"].split("/", 1)[1]


@dataclass
class FakeAppSync:
    respond: Callable[[dict[str, Any]], tuple[int, Any]]
    received: list[Received] = field(default_factory=list)
    server: Optional[ThreadingHTTPServer] = None

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/graphql"

    def __enter__(self) -> "FakeAppSync":
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                raw = self.rfile.read(int(self.headers["Content-Length"]))
                headers = dict(self.headers.items())
                valid, scope = signature_matches(fake.url, headers, raw, CREDENTIALS)
                body = json.loads(raw)
                fake.received.append(Received({k.lower(): v for k, v in headers.items()}, body, valid, scope))
                status, answer = (401, {"errors": [{"errorType": "UnauthorizedException",
                                                    "message": "The request signature we calculated does not match"}]}
                                  ) if not valid else fake.respond(body)
                data = answer if isinstance(answer, bytes) else json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True).start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()


def stored_message(body: dict[str, Any]) -> dict[str, Any]:
    """What AppSync's recordAgentReply answers for a valid input."""
    i = body["variables"]["input"]
    return {"id": "m-1", "conversationId": i["conversationId"], "owner": i["owner"], "role": "ASSISTANT",
            "content": i["content"], "agentResponses": i["agentResponses"], "judgeResponse": i["judgeResponse"],
            "traceId": i["traceId"], "executionTimeMs": i["executionTimeMs"],
            "createdAt": "2026-03-14T12:00:00.000Z", "updatedAt": "2026-03-14T12:00:00.000Z"}


def ok(body: dict[str, Any]) -> tuple[int, Any]:
    return 200, {"data": {"recordAgentReply": stored_message(body)}}
