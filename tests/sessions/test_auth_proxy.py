"""Private editor access, owner-only: app/session-image/auth-proxy.js in front of a stand-in editor.

The proxy runs under Node exactly as the image runs it; the ALB's part is played by real ES256
x-amzn-oidc-data headers signed here with `cryptography` keys, and a local HTTP server publishes
the public keys by key id as the ALB's regional endpoint does. User B, holding a perfectly valid
identity of the same user pool, gets 403 from user A's IDE; the editor never sees B's requests.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Any
from urllib.error import HTTPError
from urllib.request import Request, build_opener, HTTPRedirectHandler

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from .local_http import QuietHandler, serve

PROXY = Path(__file__).resolve().parents[2] / "app" / "session-image" / "auth-proxy.js"
SESSION = "3f2b8c1e-4d5a-4e6f-8a9b-0c1d2e3f4a5b"
OWNER = "0f6c1f52-1111-4a8e-9c7e-000000000001"
INTRUDER = "0f6c1f52-2222-4a8e-9c7e-000000000002"
ALB = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/sessions-editor-1a2b3c4/50dc6c495c0c9188"
ISSUER = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_AbCdEf123"
KID = "6d7a1a1e-2b2c-4f6e-9a8b-1c2d3e4f5a6b"

pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="Node.js runs the proxy")


def _pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


ALB_KEY = ec.generate_private_key(ec.SECP256R1())
FORGED_KEY = ec.generate_private_key(ec.SECP256R1())


def oidc_data(sub: str, *, key: ec.EllipticCurvePrivateKey = ALB_KEY, signer: str = ALB, kid: str = KID,
              exp_in: int = 120, iss: str = ISSUER, alg: str = "ES256") -> str:
    """x-amzn-oidc-data as the ALB sends it: an ES256 JWS whose header carries kid, signer, iss, client
    and exp, and whose payload is the user-info claims of Cognito (sub, email, username)."""
    now = int(time.time())
    headers = {"kid": kid, "signer": signer, "iss": iss, "client": "4abcdefghijklmnopqrstu1234", "exp": now + exp_in}
    claims = {"sub": sub, "email": f"{sub[:8]}@example.com", "email_verified": "true", "username": sub}
    if alg == "HS256":
        return jwt.encode(claims, "shared-secret-of-nobody", algorithm="HS256", headers=headers)
    return jwt.encode(claims, key, algorithm=alg, headers=headers)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Recorder(QuietHandler):
    seen: list[dict[str, Any]] = []

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        _Recorder.seen.append({"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()}})
        self.answer(200, {"path": self.path})


class _Keys(QuietHandler):
    """The ALB's regional key endpoint: the PEM public key by key id."""

    def do_GET(self) -> None:  # noqa: N802
        if self.path == f"/{KID}":
            self.answer(200, _pem(ALB_KEY), "application/x-pem-file")
        else:
            self.answer(404)


@pytest.fixture(scope="module")
def proxy(tmp_path_factory):
    editor, keys = serve(_Recorder), serve(_Keys)
    port = _free_port()
    activity = tmp_path_factory.mktemp("home") / "activity"
    env = {"PATH": os.environ["PATH"], "PORT": str(port), "UPSTREAM_PORT": str(editor.server_address[1]),
           "SESSION_ID": SESSION, "SESSION_OWNER": OWNER, "ALB_ARN": ALB, "USER_POOL_ISSUER": ISSUER,
           "AWS_REGION": "us-east-1", "ALB_KEYS_URL": f"http://127.0.0.1:{keys.server_address[1]}",
           "ACTIVITY_FILE": str(activity)}
    process = subprocess.Popen(["node", str(PROXY)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.time() + 15
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            time.sleep(0.1)
    else:
        process.kill()
        raise AssertionError(f"auth proxy did not start: {process.stdout.read().decode()}")
    yield {"port": port, "activity": activity}
    process.kill()
    process.wait()
    editor.shutdown()
    keys.shutdown()


class _NoRedirect(HTTPRedirectHandler):
    def redirect_request(self, *args: Any) -> None:
        return None


def get(proxy: dict, path: str, token: str | None = None) -> tuple[int, str, dict[str, str]]:
    headers = {"x-amzn-oidc-data": token, "x-amzn-oidc-identity": OWNER,
               "x-amzn-oidc-accesstoken": "eyJraWQiOiJhY2Nlc3MifQ.e30.sig"} if token else {}
    request = Request(f"http://127.0.0.1:{proxy['port']}{path}", headers=headers)
    try:
        with build_opener(_NoRedirect).open(request, timeout=10) as response:
            return response.status, response.read().decode(), dict(response.headers)
    except HTTPError as exc:
        return exc.code, exc.read().decode(), dict(exc.headers)


def test_the_owner_reaches_the_editor_with_the_prefix_stripped_and_no_cognito_tokens(proxy):
    _Recorder.seen.clear()
    status, body, _ = get(proxy, f"/{SESSION}/static/app.js?x=1", oidc_data(OWNER))
    assert status == 200 and json.loads(body) == {"path": "/static/app.js?x=1"}
    [seen] = _Recorder.seen
    assert not [h for h in seen["headers"] if h.startswith("x-amzn-oidc-")]
    assert proxy["activity"].exists()  # the owner's request counts as IDE activity


def test_user_b_with_a_valid_identity_of_the_same_pool_gets_403_and_never_reaches_the_editor(proxy):
    _Recorder.seen.clear()
    status, body, headers = get(proxy, f"/{SESSION}/", oidc_data(INTRUDER))
    assert status == 403 and "another user" in body
    assert headers["x-deny-reason"] == "not the session owner"
    assert _Recorder.seen == []


@pytest.mark.parametrize("token, why", [
    (None, "no identity"),
    (oidc_data(OWNER, key=FORGED_KEY), "bad signature"),
    (oidc_data(OWNER, signer=ALB.replace("50dc6c495c0c9188", "0000000000000000")), "signed by another load balancer"),
    (oidc_data(OWNER, exp_in=-3600), "expired"),
    (oidc_data(OWNER, iss="https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Other"), "another issuer"),
    (oidc_data(OWNER, alg="HS256"), "unexpected algorithm or key id"),
    (oidc_data(OWNER, kid="unknown-kid"), "signing key unavailable"),
    ("not-a-jwt", "malformed token"),
], ids=["missing", "forged", "other-alb", "expired", "other-pool", "hs256", "unknown-kid", "garbage"])
def test_a_missing_or_invalid_identity_gets_401(proxy, token, why):
    _Recorder.seen.clear()
    status, _, headers = get(proxy, f"/{SESSION}/", token)
    assert (status, headers["x-deny-reason"]) == (401, why)
    assert _Recorder.seen == []


def test_a_tampered_claim_breaks_the_signature(proxy):
    header, _claims, signature = oidc_data(INTRUDER).split(".")
    forged_claims = jwt.utils.base64url_encode(json.dumps({"sub": OWNER, "username": OWNER}).encode()).decode()
    status, _, headers = get(proxy, f"/{SESSION}/", f"{header}.{forged_claims}.{signature}")
    assert (status, headers["x-deny-reason"]) == (401, "bad signature")


def test_other_sessions_paths_are_not_served_and_the_bare_prefix_redirects(proxy):
    status, _, _ = get(proxy, "/aaaaaaaa-4d5a-4e6f-8a9b-0c1d2e3f4a5b/", oidc_data(OWNER))
    assert status == 404
    status, _, headers = get(proxy, f"/{SESSION}", oidc_data(OWNER))
    assert status == 302 and headers["location"] == f"/{SESSION}/"


def test_the_health_check_needs_no_identity(proxy):
    status, body, _ = get(proxy, "/healthz")
    assert status == 200 and json.loads(body) == {"path": "/healthz"}


def _upgrade(proxy: dict, token: str) -> bytes:
    with socket.create_connection(("127.0.0.1", proxy["port"]), timeout=10) as conn:
        conn.sendall((f"GET /{SESSION}/?reconnectionToken=1 HTTP/1.1\r\nHost: ide.example.com\r\n"
                      "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                      f"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nx-amzn-oidc-data: {token}\r\n\r\n").encode())
        return conn.recv(200)


def test_a_websocket_upgrade_by_user_b_is_refused_before_the_editor(proxy):
    _Recorder.seen.clear()
    assert _upgrade(proxy, oidc_data(INTRUDER)).startswith(b"HTTP/1.1 403")
    assert _Recorder.seen == []


def test_a_websocket_upgrade_by_the_owner_is_passed_to_the_editor(proxy):
    _Recorder.seen.clear()
    answer = _upgrade(proxy, oidc_data(OWNER))
    # The stand-in editor is a plain HTTP server: it answers the forwarded upgrade request itself.
    assert answer.startswith(b"HTTP/1.")
    [seen] = _Recorder.seen
    assert seen["path"] == "/?reconnectionToken=1" and seen["headers"]["upgrade"] == "websocket"
    assert "x-amzn-oidc-data" not in seen["headers"]
