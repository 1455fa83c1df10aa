"""Silent passes: every check the runner could not make is counted and listed; --strict fails them."""

from __future__ import annotations

import io
import json

import pytest

from policies import awstypes as t
from policies.check import run
from policies.engine import evaluate

from .cases import _budget
from .helpers import SECRET_SIG, UNKNOWN, allow, entry, export, policy_doc

BUDGET = entry(t.BUDGET, _budget(), "budget")
ENCRYPTED = {**SECRET_SIG, "ciphertext": "v1:AAAAbm90IHJlYWRhYmxl"}
# Every policy-bearing property the pack knows, with its document replaced by an encrypted secret.
DOCUMENT_PROPS = sorted({**t.IDENTITY_POLICY_PROPS, **t.RESOURCE_POLICY_PROPS}.items())


def _run(tmp_path, doc, *, strict=False, fmt="text"):
    path = tmp_path / "state.json"
    path.write_text(json.dumps(doc))
    out, err = io.StringIO(), io.StringIO()
    code = run(str(path), None, None, fmt, out=out, err=err, strict=strict)
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("type_, prop", DOCUMENT_PROPS, ids=[t_ for t_, _ in DOCUMENT_PROPS])
def test_encrypted_policy_document_is_a_listed_skip_and_a_strict_failure(tmp_path, type_, prop):
    inputs = {prop: ENCRYPTED, "role": "r", "name": "n", "arn": "arn:aws:sns:us-east-1:111122223333:t",
              "bucket": "b", "queueUrl": "https://sqs", "secretArn": "arn:aws:secretsmanager:x", "keyId": "k",
              "repository": "repo", "functionName": "f",
              # priced and cheap, so that only the unreadable document can fail the run (OpenSearch domains)
              "clusterConfig": {"instanceType": "t3.small.search", "instanceCount": 1}}
    budget = entry(t.BUDGET, _budget(limit="100"), "budget")
    doc = export([budget, entry(type_, inputs, "doc")])
    code, out, err = _run(tmp_path, doc)
    assert err == "" and code == 0
    skipped = [line for line in out.splitlines() if line.startswith("[skipped check]") and "::doc:" in line]
    assert skipped, out
    assert all(f".{prop} is an encrypted secret in the export" in line for line in skipped)
    summary = out.splitlines()[-1]
    assert f"({len(skipped)} of them encrypted in the export)" in summary

    code, out, _ = _run(tmp_path, doc, strict=True)
    assert code == 1
    strict = [line for line in out.splitlines() if line.startswith("[mandatory]") and line.endswith("::doc")]
    assert len(strict) == len(skipped)


def test_same_document_in_plain_text_is_judged_not_skipped(tmp_path):
    doc = export([BUDGET, entry(t.ROLE_POLICY, {"role": "r", "policy": {
        **SECRET_SIG, "plaintext": json.dumps(policy_doc(allow("*")))}}, "doc")])
    code, out, _ = _run(tmp_path, doc, strict=True)
    assert code == 1 and "[skipped check]" not in out and "iam-no-wildcard-actions" in out


def test_preview_unknowns_are_listed_but_not_strict_failures(tmp_path):
    doc = export([BUDGET, entry(t.ROLE_POLICY, {"role": "r", "policy": UNKNOWN}, "doc")])
    code, out, _ = _run(tmp_path, doc, strict=True)
    assert code == 0
    lines = [line for line in out.splitlines() if line.startswith("[skipped check]")]
    assert lines and all(".policy is unknown until the update runs" in line for line in lines)


def test_skips_are_counted_in_the_report(tmp_path):
    doc = export([BUDGET, entry(t.ROLE_POLICY, {"role": "r", "policy": ENCRYPTED}, "a"),
                  entry(t.ROLE_POLICY, {"role": "r", "policy": UNKNOWN}, "b")])
    report = evaluate(doc)
    encrypted = [s for s in report.skips if s.unreadable]
    assert encrypted and all(s.urn.endswith("::a") and s.kind == "check" for s in encrypted)
    assert report.skipped_unknown == len([s for s in report.skips if s.kind == "check"])
    assert {s.urn.rsplit("::", 1)[-1] for s in report.skips if s.kind == "check"} == {"a", "b"}


def test_cost_estimate_failure_is_a_listed_skip(tmp_path, monkeypatch):
    from policies import engine

    def broken(resources):
        raise OverflowError("int too large to convert to float")
    monkeypatch.setattr(engine, "estimate", broken)
    code, out, err = _run(tmp_path, export([BUDGET]))
    assert code == 0 and err == ""
    assert "[skipped estimate] cost estimate could not be computed (OverflowError: int too large" in out
    assert _run(tmp_path, export([BUDGET]), strict=True)[0] == 1
