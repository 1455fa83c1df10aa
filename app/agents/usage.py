"""The per-user daily invocation cap, enforced atomically in DynamoDB.

One item per user and UTC day (``userId``, ``day`` = YYYY-MM-DD) counts invocations. A single
conditional UpdateItem adds one only while the count is below the limit, so concurrent invocations
can never pass the cap together; at the limit DynamoDB refuses the write and the caller gets
QuotaExceeded. The item expires (TTL ``expiresAt``) two days after its day ends.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

from botocore.exceptions import ClientError

KEEP_AFTER_DAY = timedelta(days=2)


class QuotaExceeded(Exception):
    """The user has used today's invocations; the message is for the user."""


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class DailyQuota:
    table: Any  # boto3 DynamoDB Table resource (AGENT_USAGE_TABLE)
    limit: int
    clock: Callable[[], datetime] = _utc_now

    def consume(self, user_id: str) -> int:
        """Count one invocation for ``user_id`` today; returns today's count, or raises QuotaExceeded."""
        now = self.clock().astimezone(timezone.utc)
        day = now.strftime("%Y-%m-%d")
        day_end = datetime(now.year, now.month, now.day, tzinfo=timezone.utc) + timedelta(days=1)
        try:
            result = self.table.update_item(
                Key={"userId": user_id, "day": day},
                UpdateExpression="ADD #invocations :one SET #expiresAt = if_not_exists(#expiresAt, :expiresAt)",
                ConditionExpression="attribute_not_exists(#invocations) OR #invocations < :limit",
                ExpressionAttributeNames={"#invocations": "invocations", "#expiresAt": "expiresAt"},
                ExpressionAttributeValues={":one": 1, ":limit": self.limit,
                                           ":expiresAt": int((day_end + KEEP_AFTER_DAY).timestamp())},
                ReturnValues="UPDATED_NEW",
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                raise QuotaExceeded(f"the daily limit of {self.limit} agent invocations is used up; "
                                    f"it resets at 00:00 UTC") from None
            raise
        return int(result["Attributes"]["invocations"])
