"""Real exports: every field Pulumi's apitype defines is read, whatever a current CLI writes.

The field lists below are copied from the json tags of the Go structs in pulumi/pulumi
sdk/go/common/apitype/core.go (commit 1b5949891b3c) and pkg/resource/stack/deployment.go; the
pack's schema must define exactly these, and an export carrying all of them must be read.
"""

from __future__ import annotations

import base64
import copy
import io
import json

import pytest

from policies import awstypes as t
from policies.check import run
from policies.engine import READ_FIELDS, SUPPORTED_FEATURES
from policies.schema import export_fields

from .cases import _budget
from .helpers import PROVIDER_URN, SECRET_SIG, allow, entry, export, policy_doc, urn

SIG = "4dabf18193072939515e22adb298388d"
RESOURCE_V3 = {  # apitype.ResourceV3
    "urn", "custom", "delete", "id", "type", "inputs", "outputs", "parent", "protect", "taint", "external",
    "dependencies", "initErrors", "provider", "propertyDependencies", "pendingReplacement",
    "additionalSecretOutputs", "aliases", "customTimeouts", "importID", "retainOnDelete", "deletedWith",
    "replaceWith", "created", "modified", "sourcePosition", "stackTrace", "ignoreChanges", "hideDiff",
    "replaceOnChanges", "replacementTrigger", "refreshBeforeUpdate", "viewOf", "resourceHooks", "extensionRef",
    "snippetID"}
DEPLOYMENT_V3 = {"manifest", "secrets_providers", "resources", "pending_operations", "metadata", "snippets",
                 "extensions"}
UNTYPED_DEPLOYMENT = {"version", "features", "deployment"}
FEATURES = {"refreshBeforeUpdate", "views", "hooks", "taint", "replaceWith", "snippets-prototype",
            "extensionParameterization", "byteString"}
STAMP = "2026-11-30T09:14:03.123456789Z"


def test_schema_defines_exactly_apitypes_fields():
    fields = export_fields()
    assert fields.resource == RESOURCE_V3
    assert fields.deployment == DEPLOYMENT_V3
    assert fields.envelope == UNTYPED_DEPLOYMENT
    assert SUPPORTED_FEATURES == FEATURES
    assert READ_FIELDS.resource <= RESOURCE_V3 and READ_FIELDS.deployment <= DEPLOYMENT_V3


def _every_field(resource: dict, parent: str) -> dict:
    """A resource as a current CLI writes it with every option set (values of apitype's types)."""
    r = dict(resource)
    r.update({
        "parent": parent, "protect": True, "taint": True, "dependencies": [parent],
        "initErrors": ["timeout while waiting for state"], "propertyDependencies": {"role": [parent]},
        "pendingReplacement": False, "additionalSecretOutputs": ["arn"], "aliases": [r["urn"] + "-old"],
        "customTimeouts": {"create": 600, "update": 300.5, "delete": 60, "read": 30}, "importID": "imported-id",
        "retainOnDelete": True, "deletedWith": parent, "replaceWith": [parent], "created": STAMP,
        "modified": STAMP, "sourcePosition": "project:///__main__.py#12,5",
        "stackTrace": [{"sourcePosition": "project:///__main__.py#12,5"}, {}],
        "ignoreChanges": ["tags", "policy"], "hideDiff": [["tags", "team"], ["rules", 0]],
        "replaceOnChanges": ["name"], "replacementTrigger": {SIG: SECRET_SIG[SIG], "ciphertext": "v1:abc"},
        "refreshBeforeUpdate": True, "viewOf": parent, "resourceHooks": {"BeforeCreate": ["audit"],
                                                                       "AfterDelete": ["cleanup"]},
        "extensionRef": "ext-1", "snippetID": "0b8c4b2e-8d1f-4c07-9f4b-0f0c6f0e2f11",
        "outputs": {"arn": {SIG: SECRET_SIG[SIG], "ciphertext": "v1:xyz"}, "name": r["urn"].rsplit("::", 1)[-1]},
    })
    return r


def real_export(entries: list[dict]) -> dict:
    doc = export(entries)
    resources = doc["deployment"]["resources"]
    stack_urn = resources[0]["urn"]
    resources[0].update(created=STAMP, modified=STAMP, outputs={"url": "https://x"})
    resources[1].update(created=STAMP, modified=STAMP, parent=stack_urn)
    resources[2:] = [_every_field(r, stack_urn) for r in resources[2:]]
    doc["version"] = 4
    doc["features"] = sorted(FEATURES)
    doc["deployment"].update({
        "manifest": {"time": STAMP, "magic": "0" * 64, "version": "v3.272.0",
                     "plugins": [{"name": "aws", "path": "/p/aws", "type": "resource", "version": "7.51.1"}]},
        "secrets_providers": {"type": "passphrase", "state": {"salt": "v1:c2FsdA==:v1:abc"}},
        "metadata": {"integrity_error": {"version": "v3.272.0", "command": "pulumi up", "error": "x",
                                         "env_vars": {"PULUMI_DEBUG": "1"}}},
        "pending_operations": [{"resource": copy.deepcopy(resources[-1]), "type": "updating"}],
        "snippets": [{"uuid": "0b8c4b2e-8d1f-4c07-9f4b-0f0c6f0e2f11", "name": "extra", "type": "aws:s3/bucket:Bucket",
                      "code": "bucket = {}", "descriptor": {"name": "aws", "version": "7.51.1",
                                                           "parameterization": {"name": "p", "version": "1.0.0",
                                                                                "value": "AAE="}},
                      "references": {"stack": stack_urn}}],
        "extensions": {"ext-1": {"name": "ext", "version": "1.0.0", "value": "AAE="}},
    })
    return doc


def _run(tmp_path, doc, *, verbose=False, strict=False):
    path = tmp_path / "state.json"
    path.write_text(json.dumps(doc))
    out, err = io.StringIO(), io.StringIO()
    code = run(str(path), None, None, "text", out=out, err=err, verbose=verbose, strict=strict)
    return code, out.getvalue(), err.getvalue()


ADMIN = entry(t.ROLE_POLICY, {"role": "r", "policy": policy_doc(allow("*"))}, "admin")
BUDGET = entry(t.BUDGET, _budget(), "budget")


def test_export_with_every_apitype_field_is_read_and_judged(tmp_path):
    code, out, err = _run(tmp_path, real_export([BUDGET, ADMIN]))
    assert err == "" and code == 1  # read, and the admin policy is still caught
    assert "[mandatory] iam-no-wildcard-actions" in out and "::admin" in out
    assert "not in Pulumi's apitype" not in out  # nothing unknown: every field is apitype's
    assert "Fields the runner does not read" not in out  # only with --verbose

    code, out, _ = _run(tmp_path, real_export([BUDGET]))
    assert code == 0


def test_verbose_lists_every_ignored_field_with_counts(tmp_path):
    code, out, _ = _run(tmp_path, real_export([BUDGET, ADMIN]), verbose=True)
    line = next(x for x in out.splitlines() if x.startswith("Fields the runner does not read"))
    for name in RESOURCE_V3 - READ_FIELDS.resource - {"delete", "external"}:
        assert f"deployment.resources[].{name} (" in line, name
    assert "deployment.resources[].created (4)" in line  # the stack, the provider and two resources
    for name in DEPLOYMENT_V3 - {"resources"}:
        assert f"deployment.{name} (1)" in line, name
    assert "deployment.resources[].inputs" not in line and "deployment.resources[].urn" not in line


def test_fields_apitype_does_not_define_are_read_past_and_named(tmp_path):
    doc = real_export([BUDGET])
    doc["deployment"]["resources"][2]["lifecycleNote"] = {"any": ["shape", 1]}
    doc["deployment"]["someFutureBlock"] = [1]
    doc["checksum"] = "abc"
    code, out, err = _run(tmp_path, doc)
    assert code == 0 and err == ""
    line = next(x for x in out.splitlines() if x.startswith("Fields not in Pulumi's apitype"))
    assert "deployment.resources[].lifecycleNote (1)" in line and "deployment.someFutureBlock (1)" in line
    assert "checksum (1)" in line


@pytest.mark.parametrize("version, features", [(3, None), (3, ["anything"]), (4, []), (4, sorted(FEATURES))])
def test_versions_and_features_the_cli_writes_are_read(tmp_path, version, features):
    doc = export([BUDGET, ADMIN])
    doc["version"] = version
    if features is not None:
        doc["features"] = features
    assert _run(tmp_path, doc)[0] == 1


def test_pending_deletes_and_external_reads_are_listed_not_judged(tmp_path):
    gone = dict(ADMIN, urn=urn(t.ROLE_POLICY, "gone"), delete=True)
    read = dict(ADMIN, urn=urn(t.ROLE_POLICY, "read"), external=True)
    code, out, _ = _run(tmp_path, real_export([BUDGET, gone, read]))
    assert code == 0
    assert f"[skipped resource] {gone['urn']}: not evaluated: pending deletion" in out
    assert f"[skipped resource] {read['urn']}: not evaluated: external" in out
    assert "2 resource(s)" in out


def test_byte_string_values_are_decoded(tmp_path):
    doc = real_export([BUDGET, entry(t.ROLE_POLICY, {"role": "r", "policy": {
        SIG: "803fd3297a5875dc03ca845dda5d2a98",
        "value": base64.b64encode(json.dumps(policy_doc(allow("*"))).encode()).decode()}}, "bytes")])
    code, out, _ = _run(tmp_path, doc)
    assert code == 1 and "::bytes" in out


def test_provider_reference_with_every_field_still_supplies_provider_config(tmp_path):
    doc = real_export([BUDGET, entry(t.LOG_GROUP, {"retentionInDays": 14.0}, "logs")])
    assert doc["deployment"]["resources"][3]["provider"].startswith(PROVIDER_URN)
    code, out, _ = _run(tmp_path, doc)
    assert code == 0 and "tag" not in out.split("Estimated")[0].lower()
