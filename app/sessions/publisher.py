"""Publishes session status changes to AppSync subscribers via an IAM-signed mutation.

Uses botocore's SigV4 signer and urllib only (no extra dependencies in the Lambda package).
Publishing is best effort: the DynamoDB write it reports on has already happened, so a failure is
logged and swallowed, never raised.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any, Callable

from .observability import log
from .service import SESSION_FIELDS

# Selects every Session field: subscribers receive only what the publisher selects, and
# onSessionUpdated filters on id and owner.
MUTATION = (
    "mutation PublishSessionUpdate($input: SessionUpdateInput!) {"
    # editorPassword is selected (the Session type has it) but never published: it stays null.
    f" publishSessionUpdate(input: $input) {{ {' '.join(SESSION_FIELDS)} editorPassword }} }}"
)


class AppSyncPublisher:
    def __init__(self, url: str, region: str, credentials: Callable[[], Any], timeout: float = 5.0):
        """`credentials` returns botocore Credentials (refreshable ones are frozen per call)."""
        self._url = url
        self._region = region
        self._credentials = credentials
        self._timeout = timeout

    def publish(self, session: dict[str, Any]) -> bool:
        """Send `session` (the API Session shape, which SessionUpdateInput mirrors)."""
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest

        variables = {"input": session}
        body = json.dumps({"query": MUTATION, "variables": variables}).encode()
        try:
            credentials = self._credentials()
            if credentials is None:
                raise RuntimeError("no AWS credentials available to sign the request")
            signed = AWSRequest(method="POST", url=self._url, data=body, headers={"Content-Type": "application/json"})
            SigV4Auth(credentials.get_frozen_credentials(), "appsync", self._region).add_auth(signed)
            request = urllib.request.Request(self._url, data=body, headers=dict(signed.headers.items()), method="POST")
            with urllib.request.urlopen(request, timeout=self._timeout) as response:
                payload = json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as exc:
            detail = exc.read()[:500].decode(errors="replace")
            log("WARN", "publish_failed", sessionId=session.get("id"), httpStatus=exc.code, detail=detail)
            return False
        except Exception as exc:  # network, TLS, JSON, credentials: never fail the caller
            log("WARN", "publish_failed", sessionId=session.get("id"), error=f"{type(exc).__name__}: {exc}")
            return False
        if payload.get("errors"):
            log("WARN", "publish_failed", sessionId=session.get("id"), graphqlErrors=payload["errors"])
            return False
        log("INFO", "session_update_published", sessionId=session.get("id"), status=session.get("status"))
        return True
