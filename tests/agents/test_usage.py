"""The daily invocation cap against moto's DynamoDB, on the table shape the Data component deploys."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import pytest

from app.agents.usage import DailyQuota, QuotaExceeded
from components.data import PLATFORM_TABLES
from tests.agents.conftest import usage_table
from tests.sessions.conftest import atomic_moto  # noqa: F401 (fixture: each moto request atomic, as in AWS)

USAGE = PLATFORM_TABLES["agentUsage"]
NOON = datetime(2026, 3, 14, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def table(ddb):
    return usage_table(ddb)


def test_counts_per_user_and_utc_day_and_refuses_at_the_limit(table):
    quota = DailyQuota(table, limit=3, clock=lambda: NOON)
    assert [quota.consume("alice") for _ in range(3)] == [1, 2, 3]
    with pytest.raises(QuotaExceeded, match="the daily limit of 3 agent invocations is used up; it resets at 00:00 UTC"):
        quota.consume("alice")
    assert quota.consume("bob") == 1, "another user has their own count"
    item = table.get_item(Key={"userId": "alice", "day": "2026-03-14"})["Item"]
    # The refused call changed nothing; the item expires two days after its UTC day ends.
    assert item["invocations"] == 3
    assert item["expiresAt"] == int(datetime(2026, 3, 17, tzinfo=timezone.utc).timestamp())
    assert USAGE.ttl_attribute == "expiresAt"


def test_a_new_utc_day_starts_a_new_count(table):
    late = datetime(2026, 3, 14, 23, 59, 59, tzinfo=timezone.utc)
    DailyQuota(table, limit=1, clock=lambda: late).consume("alice")
    with pytest.raises(QuotaExceeded):
        DailyQuota(table, limit=1, clock=lambda: late).consume("alice")
    # 00:30 in Tokyo is still the 14th in UTC; 00:00:01 UTC is the 15th.
    tokyo = datetime(2026, 3, 15, 0, 30, tzinfo=timezone(timedelta(hours=9)))
    with pytest.raises(QuotaExceeded):
        DailyQuota(table, limit=1, clock=lambda: tokyo).consume("alice")
    assert DailyQuota(table, limit=1, clock=lambda: datetime(2026, 3, 15, 0, 0, 1, tzinfo=timezone.utc)).consume("alice") == 1


def test_concurrent_invocations_never_pass_the_cap_together(table, atomic_moto):
    quota = DailyQuota(table, limit=5, clock=lambda: NOON)
    granted, refused = [], []
    lock = threading.Lock()

    def invoke():
        try:
            n = quota.consume("carol")
            with lock:
                granted.append(n)
        except QuotaExceeded:
            with lock:
                refused.append(1)

    threads = [threading.Thread(target=invoke) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(granted) == [1, 2, 3, 4, 5] and len(refused) == 7
    assert table.get_item(Key={"userId": "carol", "day": "2026-03-14"})["Item"]["invocations"] == 5


def test_other_dynamodb_errors_are_not_taken_for_the_quota(ddb):
    quota = DailyQuota(ddb.Table("missing"), 3, clock=lambda: NOON)
    with pytest.raises(Exception) as err:
        quota.consume("alice")
    assert not isinstance(err.value, QuotaExceeded)
    assert "ResourceNotFoundException" in str(err.value)
