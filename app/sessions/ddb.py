"""Small helpers over the low-level DynamoDB client.

The low-level client (not boto3.resource) keeps cold starts light; our items are flat, so a tiny
codec for S / N / BOOL / SS covers them.
"""

from __future__ import annotations

import random
import time
from typing import Any, Callable, Iterable

from botocore.exceptions import ClientError

CONDITION_FAILED = "ConditionalCheckFailed"
_RETRYABLE_REASONS = {"TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded", "RequestLimitExceeded"}


def serialize(value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, int):
        return {"N": str(value)}
    if isinstance(value, (set, frozenset)):
        return {"SS": sorted(value)}
    raise TypeError(f"cannot store {type(value).__name__} in DynamoDB")


def deserialize(value: dict[str, Any]) -> Any:
    (kind, raw), = value.items()
    if kind == "S":
        return raw
    if kind == "N":
        return int(raw) if raw.lstrip("-").isdigit() else float(raw)
    if kind == "BOOL":
        return raw
    if kind == "SS":
        return set(raw)
    if kind == "NULL":
        return None
    raise TypeError(f"unexpected DynamoDB type {kind}")


def to_item(data: dict[str, Any]) -> dict[str, Any]:
    return {k: serialize(v) for k, v in data.items() if v is not None}


def from_item(item: dict[str, Any] | None) -> dict[str, Any] | None:
    if item is None:
        return None
    return {k: deserialize(v) for k, v in item.items()}


class Expr:
    """Collects #name / :value placeholders so no expression trips over reserved words
    (status, owner, size, ... are all reserved in DynamoDB)."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}
        self.values: dict[str, Any] = {}

    def n(self, attribute: str) -> str:
        key = "#" + attribute
        self.names[key] = attribute
        return key

    def v(self, value: Any) -> str:
        key = f":v{len(self.values)}"
        self.values[key] = serialize(value)
        return key

    def update(
        self,
        set_: dict[str, Any] | None = None,
        remove: Iterable[str] = (),
        add: dict[str, Any] | None = None,
        delete: dict[str, Any] | None = None,
    ) -> str:
        clauses = []
        sets = [f"{self.n(k)} = {self.v(v)}" for k, v in (set_ or {}).items() if v is not None]
        removes = [self.n(k) for k in remove] + [self.n(k) for k, v in (set_ or {}).items() if v is None]
        if sets:
            clauses.append("SET " + ", ".join(sets))
        if removes:
            clauses.append("REMOVE " + ", ".join(removes))
        if add:
            clauses.append("ADD " + ", ".join(f"{self.n(k)} {self.v(v)}" for k, v in add.items()))
        if delete:
            clauses.append("DELETE " + ", ".join(f"{self.n(k)} {self.v(v)}" for k, v in delete.items()))
        return " ".join(clauses)

    def params(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.names:
            out["ExpressionAttributeNames"] = dict(self.names)
        if self.values:
            out["ExpressionAttributeValues"] = dict(self.values)
        return out


def error_code(exc: ClientError) -> str:
    return exc.response.get("Error", {}).get("Code", "")


def transact(
    client: Any,
    items: list[dict[str, Any]],
    *,
    attempts: int = 6,
    sleep: Callable[[float], None] = time.sleep,
) -> list[str] | None:
    """Run TransactWriteItems; None on success, else the per-item cancellation codes.

    Contention on the shared quota item makes DynamoDB cancel concurrent transactions with
    TransactionConflict, which botocore does not retry; those are retried here with jittered
    backoff. Condition failures are returned at once for the caller to interpret.
    """
    for attempt in range(attempts):
        try:
            client.transact_write_items(TransactItems=items)
            return None
        except ClientError as exc:
            if error_code(exc) != "TransactionCanceledException":
                raise
            reasons = [r.get("Code") or "None" for r in exc.response.get("CancellationReasons", [])]
            retryable = any(r in _RETRYABLE_REASONS for r in reasons) and CONDITION_FAILED not in reasons
            if not retryable or attempt == attempts - 1:
                return reasons or ["Unknown"]
            sleep(min(1.0, 0.02 * 2**attempt) * (0.5 + random.random()))
    return ["Unknown"]  # pragma: no cover - loop always returns
