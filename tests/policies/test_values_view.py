"""The engine's lazy value views behave exactly like pulumi-policy's proxy over decoded values."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from hypothesis import given, settings
from hypothesis import strategies as st
from pulumi_policy.proxy import UNKNOWN_ARRAY_VALUE, UnknownValueError, unknown_checking_proxy

from policies.values import decode, view

from .helpers import SECRET_SIG, UNKNOWN

SIG = "4dabf18193072939515e22adb298388d"
leaves = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=5),
    st.sampled_from([UNKNOWN, UNKNOWN_ARRAY_VALUE]),
    st.builds(lambda v: {**SECRET_SIG, "plaintext": json.dumps(v)}, st.one_of(st.text(max_size=5), st.just([UNKNOWN]),
                                                                            st.just({"k": [1, UNKNOWN]}))),
    st.just({**SECRET_SIG, "ciphertext": "x"}),
    st.just({SIG: "5cf8f73096256a8f31e491e813e4eb8e", "urn": "urn:x", "id": "i-1"}),
    st.just({SIG: "c44067f5952c0a294b673a41bacd8c17", "text": "t"}),
    st.just({SIG: "bogus"}))
values = st.recursive(leaves, lambda c: st.one_of(st.lists(c, max_size=4),
                                                 st.dictionaries(st.text(max_size=4), c, max_size=4)), max_leaves=20)


def _observe(value, depth=0):
    """Everything a rule can see of a value: types, keys, lengths, elements, unknown errors and paths."""
    if isinstance(value, Mapping):
        seen = {"type": "mapping", "dict": isinstance(value, dict), "len": len(value), "items": {}}
        for key in value:
            try:
                seen["items"][key] = _observe(value[key], depth + 1)
            except UnknownValueError as exc:
                seen["items"][key] = ("unknown", exc.props, exc.unknown_type_sentinel)
            try:
                seen.setdefault("get", {})[key] = ("ok", _observe(value.get(key), depth + 1))
            except UnknownValueError as exc:
                seen.setdefault("get", {})[key] = ("unknown", exc.props)
        seen["missing"] = value.get("\0missing", "default")
        return seen
    if isinstance(value, Sequence) and not isinstance(value, str):
        seen = {"type": "sequence", "list": isinstance(value, list), "len": len(value), "items": []}
        for i in list(range(len(value))) + [-1] * bool(len(value)):
            try:
                seen["items"].append(_observe(value[i], depth + 1))
            except UnknownValueError as exc:
                seen["items"].append(("unknown", exc.props))
        try:
            value[len(value)]
        except IndexError:
            seen["index_error"] = True
        return seen
    return ("leaf", type(value).__name__, value if value == value else "nan")


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(st.text(max_size=6), values, max_size=6))
def test_view_matches_the_proxy_over_decoded_values(raw):
    assert _observe(view(raw)) == _observe(unknown_checking_proxy(decode(raw)))
