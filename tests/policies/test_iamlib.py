"""Policy-document building blocks: action breadth, broad resources, conditions that restrict."""

from __future__ import annotations

import pytest
from pulumi_policy.proxy import unknown_checking_proxy

from policies.iamlib import Condition, action_index, as_json, is_broad_resource, is_wildcard_only, statements


@pytest.mark.parametrize("pattern, breadth", [
    ("*", "*"), ("*:*", "*"), ("*?", "*"), ("*:Get*", "*"), ("s3*:Get*", "*"),
    ("iam:*", "iam"), ("IAM:*?", "iam"), ("iam:**", "iam"), (" s3:* ", "s3"), ("newsvc:*", "newsvc"),
    ("iam:Get*", None), ("s3:*Object", None), ("s3:GetObject", None), ("iam:?*x", None), ("nocolon", None),
])
def test_action_breadth(pattern, breadth):
    assert action_index().breadth(pattern) == breadth


@pytest.mark.parametrize("resource, broad, wildcard_only", [
    ("*", True, True),
    ("arn:aws:s3:::*", True, True),
    ("arn:aws:s3:::*/*", True, True),
    ("arn:aws:s3:::assets/*", False, False),  # every object of one bucket
    ("arn:aws:dynamodb:*:*:table/*", True, True),
    ("arn:aws:dynamodb:us-east-1:123456789012:table/*", True, False),  # pinned to the account
    ("arn:aws:dynamodb:us-east-1:123456789012:table/sessions/index/*", False, False),
    ("arn:aws:iam::123456789012:role/*", True, False),
    ("arn:aws:logs:us-east-1:123456789012:*", True, False),
    ("arn:aws:execute-api:us-east-1:123456789012:abc123/*", False, False),
    ("arn:aws:sns:*:*:*", True, True),
    ("123456789012", False, False),
])
def test_broad_and_wildcard_only_resources(resource, broad, wildcard_only):
    assert is_broad_resource(resource) is broad
    assert is_wildcard_only(resource) is wildcard_only


@pytest.mark.parametrize("operator, values, restricts", [
    ("StringEquals", ("123456789012",), True),
    ("ArnLike", ("arn:aws:sns:us-east-1:123456789012:t",), True),
    ("ForAnyValue:StringEquals", ("o-abc",), True),
    ("StringLike", ("*",), False),
    ("StringEquals", ("*",), False),
    ("ArnLike", ("arn:aws:s3:::*",), False),
    ("ArnLike", ("arn:aws:sns:us-east-1:123456789012:t", "*"), False),
    ("Null", ("false",), False),
    ("StringEqualsIfExists", ("123456789012",), False),
    ("StringNotEquals", ("123456789012",), False),
    ("ForAllValues:StringEquals", ("o-abc",), False),
])
def test_condition_restricts(operator, values, restricts):
    assert Condition(operator, "aws:sourceaccount", values).restricts is restricts


def test_statement_keeps_only_string_actions_and_shows_plain_json():
    doc = {"Statement": {"Effect": "Allow", "Action": ["s3:GetObject", {"a": 1}, 5], "Resource": "*",
                         "Condition": {"Bool": {"aws:SecureTransport": True}}}}
    stmt = next(statements(doc))
    assert stmt.actions == ("s3:GetObject",)
    assert stmt.conditions == (Condition("Bool", "aws:securetransport", ("true",)),)
    assert as_json(unknown_checking_proxy({"a": [1, {"b": "c"}]})) == '{"a": [1, {"b": "c"}]}'
