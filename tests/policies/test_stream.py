"""Large exports are read one resource at a time (stream.py): same verdict, same output, same errors."""

from __future__ import annotations

import io
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from policies import awstypes as t
from policies import check, stream

from .cases import _budget
from .helpers import SECRET_SIG, UNKNOWN, allow, entry, export, policy_doc
from .test_export_fields import real_export
from .test_hostile_inputs import resources, values

BUDGET = entry(t.BUDGET, _budget(), "budget")
ADMIN = entry(t.ROLE_POLICY, {"role": "r", "policy": policy_doc(allow("*"))}, "admin")


def _both(tmp_path, monkeypatch, text: str, *args, **kwargs) -> tuple[tuple, tuple]:
    path = tmp_path / "state.json"
    path.write_text(text)
    results = []
    for threshold in (0, 10 ** 12):  # streamed, then read whole
        monkeypatch.setattr(stream, "STREAM_MIN_BYTES", threshold)
        out, err = io.StringIO(), io.StringIO()
        code = check.run(str(path), None, *args, out=out, err=err, **kwargs)
        results.append((code, out.getvalue(), err.getvalue()))
    return results[0], results[1]


def test_streaming_is_available_with_the_c_parser():
    assert stream.available()


@pytest.mark.parametrize("doc", [
    real_export([BUDGET, ADMIN]),
    export([BUDGET, ADMIN, entry(t.ROLE_POLICY, {"role": "r", "policy": {**SECRET_SIG, "ciphertext": "x"}}, "enc"),
            entry(t.ROLE_POLICY, {"role": "r", "policy": UNKNOWN}, "unk"),
            dict(ADMIN, urn=ADMIN["urn"] + "-gone", delete=True), dict(BUDGET, futureField=[1])]),
], ids=["every apitype field", "skips and unknown fields"])
@pytest.mark.parametrize("strict", [False, True])
def test_streamed_and_whole_reads_print_the_same_report(tmp_path, monkeypatch, doc, strict):
    streamed, whole = _both(tmp_path, monkeypatch, json.dumps(doc), "prod", "text", strict=strict, verbose=True)
    assert streamed == whole and streamed[0] == 1


@pytest.mark.parametrize("text, fragment", [
    ('{"version": 3, "deployment": {"resources": [{"urn": "u", "inputs": {"x": NaN}}]}}', "NaN is not a JSON number"),
    ('{"version": 3, "deployment": {"resources": [{"urn": "u", "inputs": {"x": 1e400}}]}}', "1e400"),
    ('{"version": 3, "deployment": {"resources": [{"urn": "u", "inputs": {"x": %s}}]}}' % ("9" * 400), "400-digit"),
    ('{"version": 3, "deployment": {"resources": [{"urn": 5}]}}', "resources[0].urn: expected string"),
    ('{"version": 3, "deployment": {"resources": [{"urn": "u"}, 7]}}', "resources[1]: expected object"),
    ('{"version": 3, "deployment": {"resources": {}}}', "deployment.resources: expected array"),
    ('{"version": 3, "deployment": {"resources": [', "not valid JSON"),
    ('[]', "top level must be a JSON object"),
])
def test_unreadable_large_exports_fail_exactly_as_small_ones(tmp_path, monkeypatch, text, fragment):
    streamed, whole = _both(tmp_path, monkeypatch, text, None, "text")
    assert streamed == whole and streamed[0] == 2 and fragment in streamed[2], streamed


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(resources, min_size=1, max_size=3), st.dictionaries(st.sampled_from(["created", "outputs", "x"]),
                                                                    values, max_size=2))
def test_generated_exports_read_the_same_either_way(tmp_path, monkeypatch, entries, extra):
    entries[0].update(extra)
    text = json.dumps(export([BUDGET, *entries]), allow_nan=True)
    streamed, whole = _both(tmp_path, monkeypatch, text, None, "text")
    assert streamed == whole
