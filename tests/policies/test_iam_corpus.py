"""Real-world policies: AWS managed admin/service-wide policies are flagged, scoped ones pass."""

from __future__ import annotations

from pathlib import Path

import pytest

from policies import awstypes as t
from policies.rules import ALL_RULES, RULES_BY_NAME

from .helpers import call, policy_doc

CORPUS = Path(__file__).resolve().parent / "corpus"
MANAGED = sorted((CORPUS / "aws-managed").glob("*.json"))
SCOPED = sorted((CORPUS / "scoped").glob("*.json"))
ONLY_STAR_ACTIONS = {"AWSXrayWriteOnlyAccess"}
IAM_RULES = [r for r in ALL_RULES if r.concern == "iam" and r.applies_to(t.POLICY)]


def test_corpus_is_present():
    assert len(MANAGED) >= 12 and len(SCOPED) >= 8


@pytest.mark.parametrize("path", [p for p in MANAGED if p.stem not in ONLY_STAR_ACTIONS], ids=lambda p: p.stem)
def test_broad_managed_policy_is_flagged(path):
    messages = call(RULES_BY_NAME["iam-no-wildcard-actions"], t.POLICY, {"policy": path.read_text()})
    assert messages, f"{path.stem} grants admin or service-wide access but was not flagged"
    assert all("grants every" in m or "NotAction" in m for m in messages)


@pytest.mark.parametrize("name", ["AdministratorAccess", "IAMFullAccess", "PowerUserAccess"])
def test_escalation_paths_in_admin_policies(name):
    messages = call(RULES_BY_NAME["iam-no-privilege-escalation"], t.POLICY,
                    {"policy": (CORPUS / "aws-managed" / f"{name}.json").read_text()})
    assert messages


@pytest.mark.parametrize("path", SCOPED + [CORPUS / "aws-managed" / "AWSXrayWriteOnlyAccess.json"],
                         ids=lambda p: p.stem)
@pytest.mark.parametrize("holder", [t.POLICY, t.ROLE_POLICY])
def test_scoped_policy_passes_every_iam_rule(path, holder):
    for rule in IAM_RULES:
        assert call(rule, holder, {"policy": path.read_text(), "role": "r"}) == [], (rule.name, path.stem)


def test_scoped_policies_pass_as_role_inline_policies():
    inline = [{"name": p.stem, "policy": p.read_text()} for p in SCOPED]
    trust = policy_doc({"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"},
                        "Action": "sts:AssumeRole"})
    role_rules = [r for r in ALL_RULES if r.concern == "iam" and r.applies_to(t.ROLE)]
    assert len(role_rules) >= 6
    for rule in role_rules:
        assert call(rule, t.ROLE, {"inlinePolicies": inline, "assumeRolePolicy": trust}) == [], rule.name
