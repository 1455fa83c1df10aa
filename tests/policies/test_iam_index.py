"""Kind K (IAM part): the shipped action index matches the dataset, loads fast, and hostile
documents cost linear, sub-millisecond work per statement."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from policies import awstypes as t
from policies import datagen_iam
from policies.iam_index import INDEX_FILE, ActionIndex, action_index
from policies.rules import ALL_RULES

from .helpers import allow, call, policy_doc

ROOT = Path(__file__).resolve().parents[2]
IAM_RULES = [r for r in ALL_RULES if r.concern == "iam" and r.applies_to(t.ROLE_POLICY)]


def test_shipped_index_matches_the_installed_dataset():
    assert INDEX_FILE.read_text() == datagen_iam.render(), "stale: run python -m policies.datagen"


def test_index_content_reflects_the_dataset():
    index = action_index()
    assert "policy_sentry" in index.source
    assert index.resource_types("iam:PassRole") == ("iam:role",)
    assert index.access_level("iam:PutRolePolicy") == "P"
    assert not index.resource_level("s3:ListAllMyBuckets") and index.resource_level("s3:GetObject")
    assert index.types["iam:role"].arn == "arn:${Partition}:iam::${Account}:role/${RoleNameWithPath}"
    assert len(index.expand("*")) > 15000


def test_pack_runs_without_policy_sentry():
    code = (
        "import sys; sys.modules['policy_sentry'] = None\n"  # any import of it would now fail
        "from policies.rules import RULES_BY_NAME\n"
        "from policies import awstypes as t\n"
        "from tests.policies.helpers import call, policy_doc, allow\n"
        "m = call(RULES_BY_NAME['iam-no-wildcard-resource'], t.POLICY, {'policy': policy_doc(allow('s3:GetObject'))})\n"
        "assert m, m\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]


def _best_of(runs: int, fn) -> float:
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def test_index_loads_well_under_200ms():
    assert _best_of(3, ActionIndex.load) < 0.2


def _cold() -> None:
    """Forget every IAM cache, so a timed run pays for loading and expanding too."""
    import policies.iam_escalation as esc
    import policies.rules.iam as rules

    action_index.cache_clear()
    for fn in (rules._expand_all, rules._granted_by, rules._broad_grants, rules._services_covered_together,
               esc.granted_actions, esc.statement_grants):
        fn.cache_clear()


def test_two_thousand_admin_statements_take_under_two_seconds():
    doc = policy_doc(*[allow("*", "*", Sid=f"s{i}") for i in range(2000)])

    def run():
        _cold()
        for rule in IAM_RULES:
            assert call(rule, t.ROLE_POLICY, {"role": "r", "policy": doc}) or rule.name == "iam-policy-document-valid"
    assert _best_of(2, run) < 2.0


def test_per_statement_cost_is_below_a_millisecond_for_distinct_statements():
    def doc(offset: int) -> str:
        return policy_doc(*[allow(["iam:PassRole", "s3:GetObject", f"dynamodb:Get{'*' if i % 2 else 'Item'}"],
                                  [f"arn:aws:s3:::b{offset + i}/*", f"arn:aws:iam::{100000000000 + offset + i}:role/*"],
                                  Sid=f"s{i}") for i in range(1000)])

    def run(offset=[0]):
        offset[0] += 1000  # fresh patterns every run: no cache hit across runs
        d = doc(offset[0])
        for rule in IAM_RULES:
            call(rule, t.ROLE_POLICY, {"role": "r", "policy": d})
    assert _best_of(2, run) / 1000 < 0.001 * len(IAM_RULES)


def test_datagen_without_policy_sentry_says_so_in_one_line():
    code = ("import sys; sys.modules['policy_sentry'] = None\n"
            "import importlib.util as u; real = u.find_spec\n"
            "u.find_spec = lambda name, *a: None if name == 'policy_sentry' else real(name, *a)\n"
            "from policies import datagen; sys.exit(datagen.main(['--check']))\n")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 2
    assert result.stderr.strip() == "error: policy_sentry is not installed (pip install -r requirements-dev.txt)"
