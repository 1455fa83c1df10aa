"""Concurrent starts and racing releases, with real threads against in-process moto.

`atomic_moto` makes each mocked AWS request atomic (as AWS is); everything between requests runs
truly concurrently. The first test proves that harness exposes check-then-act races, so the
quota tests below could fail if the quota were not enforced atomically.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from app.sessions import errors
from app.sessions.service import Caller

from .conftest import OWNER

THREADS = 20


class InFlight:
    """Wraps a client and records how many of its calls overlapped."""

    def __init__(self, real, method):
        self._real, self._method = real, method
        self._lock = threading.Lock()
        self.current = self.peak = 0

    def __getattr__(self, name):
        attr = getattr(self._real, name)
        if name != self._method:
            return attr

        def call(**kwargs):
            with self._lock:
                self.current += 1
                self.peak = max(self.peak, self.current)
            try:
                # Widen the window a little so that on a loaded machine the racing calls still
                # meet here; the request itself stays atomic (atomic_moto), as in AWS.
                time.sleep(0.005)
                return attr(**kwargs)
            finally:
                with self._lock:
                    self.current -= 1

        return call


def run_together(fn, n=THREADS):
    barrier = threading.Barrier(n)

    def worker(i):
        barrier.wait()
        return fn(i)

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(worker, range(n)))


def test_harness_exposes_check_then_act_races(infra, atomic_moto):
    """A naive read-count-then-write quota admits more than 2 under this harness."""
    key = {"id": {"S": "quota#naive"}}
    infra.ddb.put_item(TableName=infra.table, Item={**key, "active": {"N": "0"}})

    def naive(_i):
        active = int(infra.ddb.get_item(TableName=infra.table, Key=key, ConsistentRead=True)["Item"]["active"]["N"])
        time.sleep(0.01)  # the work between check and act (RunTask etc.)
        if active < 2:
            infra.ddb.update_item(TableName=infra.table, Key=key, UpdateExpression="ADD active :one",
                                  ExpressionAttributeValues={":one": {"N": "1"}})
            return True
        return False

    assert sum(run_together(naive)) > 2


def test_twenty_concurrent_starts_give_exactly_the_quota(infra, make_service, atomic_moto):
    service = make_service()
    tracker = InFlight(infra.ddb, "transact_write_items")
    service._ddb = tracker
    caller = Caller(OWNER)

    def start(_i):
        try:
            return service.start(caller, {})
        except errors.QuotaExceeded as exc:
            return exc

    results = run_together(start)
    sessions = [r for r in results if isinstance(r, dict)]
    refused = [r for r in results if isinstance(r, errors.QuotaExceeded)]
    assert tracker.peak > 1, "starts did not overlap; the test would prove nothing"
    assert len(sessions) == 2 and len(refused) == THREADS - 2
    assert {str(e) for e in refused} == {
        "session limit reached: you already have 2 active sessions, the maximum; stop one before starting another"
    }
    ids = {s["id"] for s in sessions}
    assert {i["id"] for i in infra.session_items()} == ids
    assert infra.quota() == {"active": 2, "sessionIds": ids}
    assert {t["startedBy"] for t in infra.running_tasks()} == ids
    assert len(service.scripted_ecs.run_task_calls) == 2


def test_concurrent_retries_of_one_token_create_one_session(infra, make_service, atomic_moto):
    service = make_service()
    caller = Caller(OWNER)
    results = run_together(lambda _i: service.start(caller, {"idempotencyToken": "double-click"}), n=10)
    assert len({r["id"] for r in results}) == 1
    assert len(infra.running_tasks()) == 1
    assert infra.quota()["active"] == 1


def test_stop_event_and_reaper_racing_release_the_quota_exactly_once(infra, make_service, clock, atomic_moto):
    service = make_service(MAX_SESSIONS_PER_USER="10", IDLE_TIMEOUT_MINUTES="0")
    caller = Caller(OWNER)
    sessions = [service.start(caller, {}) for _ in range(4)]
    for s in sessions:
        infra.ecs.stop_task(cluster=infra.cluster_arn, task=s["taskArn"], reason="container exited")
    stopped_events = [infra.event(s["taskArn"], "STOPPED", stop_code="EssentialContainerExited") for s in sessions]
    clock.advance(9 * 3600)  # past max lifetime too: every actor wants to close every session

    def actor(i):
        kind, index = divmod(i, 4)
        if kind == 0:
            return service.stop(caller, sessions[index]["id"])
        if kind == 1:
            return service.handle_task_event(stopped_events[index])
        try:
            return service.reap()
        except RuntimeError as exc:  # a reaper losing a race is not an error
            return exc

    results = run_together(actor, n=12)
    assert not [r for r in results if isinstance(r, Exception)]
    assert infra.quota() == {"active": 0, "sessionIds": set()}
    for s in sessions:
        assert "quotaHeld" not in infra.item(s["id"])
