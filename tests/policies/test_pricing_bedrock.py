"""Bedrock Provisioned Throughput in the fixed-cost estimate: model units bill every hour of their term
whatever the traffic, so the estimate counts them (per base model and term), and lists what it
cannot price instead of counting it as $0."""

from __future__ import annotations

import re

import pytest

from policies import awstypes as t
from policies.engine import evaluate
from policies.model import Resource
from policies.pricing import estimate, price_table, provisioned_throughput_hourly
from policies.rules import RULES_BY_NAME

from .helpers import TODAY, entry, export

CLAUDE_V2 = "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-v2:1:200k"


def _pt(arn=CLAUDE_V2, units=1, term="OneMonth", name="pt"):
    props = {"modelArn": arn, "modelUnits": units, "provisionedModelName": name}
    if term is not None:
        props["commitmentDuration"] = term
    return props


def test_table_rates_are_sourced_per_model_and_term():
    section = price_table()["bedrockProvisionedThroughput"]
    assert section["source"].startswith("https://aws.amazon.com/bedrock/pricing/")
    assert section["models"]
    for model, rates in section["models"].items():
        # Provisionable base model ids carry their context window (":<n>k"), as ListFoundationModels shows them.
        assert re.fullmatch(r"[a-z0-9-]+\.[a-z0-9.-]+:\d+:\d+k", model), model
        assert rates and set(rates) <= {"OneMonth", "SixMonths"}, model
        assert all(v > 0 for v in rates.values()) and rates.get("SixMonths", 0) <= rates.get("OneMonth", 1e9), model


def test_model_units_times_the_terms_hourly_rate_for_every_hour_of_the_month():
    rate = price_table()["bedrockProvisionedThroughput"]["models"]["anthropic.claude-v2:1:200k"]["SixMonths"]
    est = estimate([Resource.of(t.BEDROCK_PROVISIONED_THROUGHPUT, _pt(units=2, term="SixMonths"), name="pt")])
    [item] = est.items
    assert item.item == "bedrockProvisionedModelUnitHour:anthropic.claude-v2:1:200k:SixMonths"
    assert item.quantity == 2 and item.monthly_usd == pytest.approx(2 * rate * 730)
    assert est.skipped == []


@pytest.mark.parametrize("props, reason", [
    (_pt(arn="arn:aws:bedrock:us-east-1:123456789012:custom-model/amazon.titan-text-express-v1:0:8k/abc"),
     "is not a base model"),
    (_pt(arn="arn:aws:bedrock:us-east-1::foundation-model/meta.llama9-v1:0:4k"),
     "no Provisioned Throughput list price for meta.llama9-v1:0:4k"),
    (_pt(term=None), "has no commitmentDuration: AWS sells base-model Provisioned Throughput only"),
    (_pt(term="TwoYears"), "no TwoYears commitment price for anthropic.claude-v2:1:200k"),
])
def test_what_the_table_cannot_price_is_listed_with_the_reason(props, reason):
    est = estimate([Resource.of(t.BEDROCK_PROVISIONED_THROUGHPUT, props, name="pt")])
    assert est.items == [] and len(est.skipped) == 1 and reason in est.skipped[0].reason
    with pytest.raises(LookupError):
        provisioned_throughput_hourly(props)


def test_one_model_unit_breaks_a_small_budget():
    budget = {"budgetType": "COST", "timeUnit": "MONTHLY", "limitAmount": "1500", "limitUnit": "USD"}
    doc = export([entry(t.BUDGET, budget, "b"), entry(t.BEDROCK_PROVISIONED_THROUGHPUT, _pt(), "pt")])
    rule = RULES_BY_NAME["cost-fixed-monthly-estimate"]
    report = evaluate(doc, {}, today=TODAY, rules=[rule])
    [violation] = report.violations
    assert "bedrockProvisionedModelUnitHour" in violation.message
    assert report.cost.total == pytest.approx(63.0 * 730)
