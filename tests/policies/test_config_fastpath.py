"""The compiled config predicate (valid configs skip jsonschema) agrees with jsonschema on every rule."""

from __future__ import annotations

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policies.config import _config_test, config_schema
from policies.rules import ALL_RULES

leaf = st.one_of(st.none(), st.booleans(), st.integers(-5, 100000), st.floats(-5, 1e6, allow_nan=False),
                 st.text(max_size=6), st.sampled_from(["", " ", "x", "2026-01-01", "advisory", "*"]))
value = st.recursive(leaf, lambda c: st.one_of(st.lists(c, max_size=3), st.dictionaries(
    st.sampled_from(["resource", "reason", "expires", "x"]), c, max_size=3)), max_leaves=8)


def _props(rule):
    names = sorted(rule.config) + ["suppressions", "unknownProperty"]
    defaults = [st.just(v["default"]) for v in rule.config.values() if "default" in v]
    return st.dictionaries(st.sampled_from(names), st.one_of(value, *defaults) if defaults else value, max_size=4)


@pytest.mark.parametrize("rule", ALL_RULES, ids=[r.name for r in ALL_RULES])
def test_compiled_config_check_agrees_with_jsonschema(rule):
    validator = jsonschema.Draft202012Validator(config_schema(rule))
    ours = _config_test(rule)

    @settings(max_examples=20, deadline=None)
    @given(_props(rule))
    def agree(props):
        assert ours(props) == validator.is_valid(props), props

    agree()
    assert ours(rule.defaults())
