"""Pack config validation, enforcement levels, suppressions with reasons and expiry."""

from __future__ import annotations

import json

import pytest

from policies import awstypes as t
from policies.config import ConfigError, settings, validate_config
from policies.engine import CONFIG_DIR, evaluate, load_config
from policies.model import Enforcement
from policies.rules import ALL_RULES, RULES_BY_NAME

from .helpers import TODAY, allow, entry, export, policy_doc

LAMBDA = RULES_BY_NAME["cost-lambda-limits"]
BIG_FN = entry(t.LAMBDA_FUNCTION, {"role": "r", "memorySize": 4096.0}, "worker")


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_shipped_stack_configs_are_valid(stack):
    config = load_config(CONFIG_DIR / f"{stack}.json")
    assert settings(RULES_BY_NAME["iam-no-wildcard-actions"], config).level == Enforcement.MANDATORY
    security = settings(RULES_BY_NAME["security-cognito-baseline"], config).level
    assert security == (Enforcement.ADVISORY if stack == "dev" else Enforcement.MANDATORY)
    assert settings(RULES_BY_NAME["cost-budget-required"], config).level == Enforcement.MANDATORY


@pytest.mark.parametrize("config, fragment", [
    ([], "must be a JSON object"),
    ({"no-such-policy": "mandatory"}, "no such policy"),
    ({"cost-lambda-limits": "strict"}, "enforcement level 'strict'"),
    ({"cost-lambda-limits": 3}, "enforcement level or an object"),
    ({"cost-lambda-limits": {"maxMemoryMB": 512}}, "maxMemoryMB"),
    ({"cost-lambda-limits": {"maxMemoryMb": "512"}}, "is not of type 'integer'"),
    ({"cost-lambda-limits": {"maxMemoryMb": 20000}}, "maximum"),
    ({"all": {"enforcementLevel": "advisory", "maxMemoryMb": 1}}, "only enforcementLevel"),
    ({"cost-lambda-limits": {"suppressions": [{"resource": "worker"}]}}, "'reason' is a required property"),
    ({"cost-lambda-limits": {"suppressions": [{"resource": "worker", "reason": "  "}]}}, "reason"),
    ({"cost-lambda-limits": {"suppressions": [{"resource": "w", "reason": "r", "expires": "2026-13-01"}]}},
     "not a calendar date"),
    ({"cost-lambda-limits": {"suppressions": [{"resource": "w", "reason": "r", "until": "2026-01-01"}]}}, "until"),
    ({"security-no-plaintext-secrets": {"secretNamePattern": "(unclosed"}}, "invalid regular expression"),
])
def test_bad_config_is_rejected_with_a_specific_reason(config, fragment):
    with pytest.raises(ConfigError) as exc:
        validate_config(config, ALL_RULES, "cfg.json")
    assert fragment in str(exc.value) and "\n" not in str(exc.value)


def test_load_config_errors_name_the_file(tmp_path):
    with pytest.raises(ConfigError, match="file not found"):
        load_config(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{oops")
    with pytest.raises(ConfigError, match=r"bad\.json: not valid JSON"):
        load_config(bad)


def test_levels_all_and_per_policy():
    config = {"all": "advisory", "cost-lambda-limits": {"enforcementLevel": "mandatory"}}
    assert settings(RULES_BY_NAME["iam-no-wildcard-actions"], config).level == Enforcement.ADVISORY
    assert settings(LAMBDA, config).level == Enforcement.MANDATORY
    assert settings(LAMBDA, {"cost-lambda-limits": "remediate"}).level == Enforcement.MANDATORY
    assert settings(LAMBDA, {"all": {"enforcementLevel": "disabled"}}).level == Enforcement.DISABLED
    assert settings(LAMBDA, None).properties == LAMBDA.defaults()


def test_disabled_and_advisory_levels_in_reports():
    assert evaluate(export([BIG_FN]), {"cost-lambda-limits": "disabled"}, today=TODAY, rules=[LAMBDA]).violations == []
    report = evaluate(export([BIG_FN]), {"cost-lambda-limits": "advisory"}, today=TODAY, rules=[LAMBDA])
    assert [v.enforcement for v in report.violations] == ["advisory"] and not report.has_mandatory


def _suppressed(resource, expires=None, reason="batch worker needs 4 GB"):
    entry_ = {"resource": resource, "reason": reason}
    if expires:
        entry_["expires"] = expires
    return {"cost-lambda-limits": {"suppressions": [entry_]}}


@pytest.mark.parametrize("pattern", ["worker", "work*", "urn:pulumi:test::proj::aws:lambda/function:Function::*"])
def test_suppression_by_name_or_urn_pattern(pattern):
    report = evaluate(export([BIG_FN]), _suppressed(pattern, "2026-12-31"), today=TODAY, rules=[LAMBDA])
    assert report.violations == []
    assert len(report.suppressed) == 1
    s = report.suppressed[0]
    assert s.reason == "batch worker needs 4 GB" and s.expires == "2026-12-31" and s.violation.policy == LAMBDA.name


def test_suppression_for_another_resource_does_not_apply():
    report = evaluate(export([BIG_FN]), _suppressed("other"), today=TODAY, rules=[LAMBDA])
    assert len(report.violations) == 1 and report.suppressed == []


def test_suppression_is_per_rule():
    doc = export([entry(t.ROLE_POLICY, {"role": "r", "policy": policy_doc(allow("*"))}, "worker"), BIG_FN])
    report = evaluate(doc, _suppressed("worker"), today=TODAY)
    assert [v for v in report.violations if v.policy == "cost-lambda-limits"] == []
    assert [v for v in report.violations if v.policy == "iam-no-wildcard-actions"]


def test_expired_suppression_stops_suppressing_and_is_reported():
    report = evaluate(export([BIG_FN]), _suppressed("worker", "2026-05-31"), today=TODAY, rules=[LAMBDA])
    assert report.suppressed == []
    assert len(report.violations) == 1 and "expired 2026-05-31" in report.violations[0].message
    assert [(e.policy, e.resource, e.expires) for e in report.expired_suppressions] == \
        [("cost-lambda-limits", "worker", "2026-05-31")]


def test_expired_suppression_on_a_compliant_resource_is_reported_as_stale():
    ok_fn = entry(t.LAMBDA_FUNCTION, {"role": "r", "memorySize": 256.0}, "worker")
    report = evaluate(export([ok_fn]), _suppressed("worker", "2026-01-01"), today=TODAY, rules=[LAMBDA])
    assert len(report.violations) == 1 and "still configured" in report.violations[0].message


def test_suppression_expiring_today_still_applies():
    report = evaluate(export([BIG_FN]), _suppressed("worker", TODAY.isoformat()), today=TODAY, rules=[LAMBDA])
    assert report.violations == [] and report.expired_suppressions == []


def test_stack_level_findings_are_suppressed_with_the_stack_pattern():
    rule = RULES_BY_NAME["cost-budget-required"]
    config = {rule.name: {"suppressions": [{"resource": "stack", "reason": "budget lives in the payer account"}]}}
    report = evaluate(export([]), config, today=TODAY, rules=[rule])
    assert report.violations == [] and len(report.suppressed) == 1


def test_config_files_round_trip_through_json(tmp_path):
    path = tmp_path / "c.json"
    path.write_text(json.dumps(_suppressed("worker", "2027-01-01")))
    assert load_config(path) == _suppressed("worker", "2027-01-01")
