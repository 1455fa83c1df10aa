"""The compiled export validator agrees with jsonschema; shipped data matches the SDK and is dated."""

from __future__ import annotations

import copy
import hashlib
import json
import re
import sys
from pathlib import Path

import jsonschema
import pytest
from referencing import Registry
from referencing import Resource as SchemaResource

from policies import awstypes, datagen, pricing
from policies.schema import EXPORT_SCHEMA_ID, SCHEMA_DIR, ExportValidator, SchemaCompileError, load_schema_documents

from .helpers import SECRET_SIG, UNKNOWN, entry, export

ROOT = Path(__file__).resolve().parents[2]
DOCS = load_schema_documents()
JSONSCHEMA = jsonschema.Draft202012Validator(
    next(d for d in DOCS if d["$id"] == EXPORT_SCHEMA_ID), registry=Registry().with_resources([(d["$id"], SchemaResource.from_contents(d)) for d in DOCS]))
OURS = ExportValidator(DOCS)
SIG = "4dabf18193072939515e22adb298388d"

BASE = export([entry(awstypes.LAMBDA_FUNCTION, {
    "role": UNKNOWN, "memorySize": 256.0, "tracing": None, "flags": [True, 1, "x", {"k": [1.5]}],
    "code": {SIG: "0def7320c3a5731c473e5ecbe6d01bc7", "path": "app.zip"},
    "secret": {**SECRET_SIG, "ciphertext": "AAAA"},
    "ref": {SIG: "5cf8f73096256a8f31e491e813e4eb8e", "urn": "urn:x", "id": "i"},
    "nan": {SIG: "8ad145fe-0d11-4827-bfd7-1abcbf086f5c", "value": "7ff8000000000000"},
    "bytes": {SIG: "803fd3297a5875dc03ca845dda5d2a98", "value": "AAE="},
    "asset": {SIG: "c44067f5952c0a294b673a41bacd8c17", "text": "hello"},
}, "fn")])


def _set(path, value):
    def apply(doc):
        node = doc
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
    return apply


INPUTS = ["deployment", "resources", 2, "inputs"]
MUTATIONS = [
    _set(["version"], 4), _set(["version"], 3.0), _set(["features"], ["x"]),
    _set(["deployment", "manifest", "magic"], 1), _set(["deployment", "pending_operations"], [{"type": "creating"}]),
    _set(["deployment", "resources", 2, "dependencies"], ["a", 1]),
    _set(INPUTS + ["asset"], {SIG: "c44067f5952c0a294b673a41bacd8c17", "text": "a", "path": "b"}),
    _set(INPUTS + ["asset"], {SIG: "c44067f5952c0a294b673a41bacd8c17", "hash": "h"}),
    _set(INPUTS + ["code"], {SIG: "0def7320c3a5731c473e5ecbe6d01bc7", "assets": {"a": {"x": 1}}}),
    _set(INPUTS + ["code"], {SIG: "0def7320c3a5731c473e5ecbe6d01bc7", "assets": {
        "a": {SIG: "c44067f5952c0a294b673a41bacd8c17", "text": "t"}}}),
    _set(INPUTS + ["nan"], {SIG: "8ad145fe-0d11-4827-bfd7-1abcbf086f5c", "value": "xyz"}),
    _set(INPUTS + ["ref"], {SIG: "5cf8f73096256a8f31e491e813e4eb8e", "id": "i"}),
    _set(INPUTS + ["secret"], {**SECRET_SIG}), _set(INPUTS + ["secret"], {**SECRET_SIG, "plaintext": "1"}),
    _set(INPUTS + ["flags"], [{SIG: "bogus"}]), _set(INPUTS + ["nested"], {"a": {"b": {SIG: "bogus"}}}),
    _set(["deployment", "resources", 2, "outputs"], []), _set(["deployment", "resources", 2, "custom"], 1),
    _set(["deployment", "secrets_providers"], {"type": "passphrase", "state": {"salt": "x"}}),
    _set(["deployment", "secrets_providers"], {"state": {}}),
    _set(["deployment", "secrets_providers"], {"type": 1}),
    _set(["deployment", "resources", 2, "created"], "2026-01-01T00:00:00Z"),
    _set(["deployment", "resources", 2, "created"], 5),
    _set(["deployment", "resources", 2, "customTimeouts"], {"create": 60, "read": "1m"}),
    _set(["deployment", "resources", 2, "hideDiff"], [["a", 0], ["b"]]),
    _set(["deployment", "resources", 2, "hideDiff"], [["a", 0.5]]),
    _set(["deployment", "resources", 2, "resourceHooks"], {"BeforeCreate": ["h"]}),
    _set(["deployment", "resources", 2, "resourceHooks"], {"BeforeCreate": "h"}),
    _set(["deployment", "resources", 2, "replacementTrigger"], {SIG: "bogus"}),
    _set(["deployment", "resources", 2, "someFutureField"], {"any": "thing"}),
    _set(["deployment", "resources", 2, "urn"], None),
    _set(["deployment", "resources", 2, "inputs"], []),
    _set(["deployment", "metadata"], {"integrity_error": {"env_vars": {"A": 1}}}),
    _set(["deployment", "extensions"], {"e": {"name": "n", "version": "1", "value": None}}),
    _set(["deployment", "snippets"], [{"uuid": "u", "descriptor": {"parameterization": {"value": 3}}}]),
]


@pytest.mark.parametrize("mutation", [None] + MUTATIONS)
def test_compiled_validator_agrees_with_jsonschema(mutation):
    doc = copy.deepcopy(BASE)
    if mutation:
        mutation(doc)
    expected_valid = not list(JSONSCHEMA.iter_errors(doc))
    assert (OURS.error(doc) is None) == expected_valid


def test_unsupported_keywords_and_refs_are_refused():
    schema = {"$id": "https://example.com/s.json", "type": "object", "minProperties": 1}
    with pytest.raises(SchemaCompileError, match="minProperties"):
        ExportValidator([schema], root_id=schema["$id"])
    broken = {"$id": "https://example.com/s.json", "$defs": {"v3": {"$anchor": "v3"}}, "$ref": "other.json"}
    with pytest.raises(SchemaCompileError, match="unresolvable"):
        ExportValidator([broken], root_id=broken["$id"])


def test_schemas_ship_with_the_pack_and_pin_the_vendored_file():
    assert SCHEMA_DIR == ROOT / "policies" / "data" / "schemas"
    assert {d["$id"] for d in DOCS} == {EXPORT_SCHEMA_ID, jsonschema_id(DOCS)}
    rows = [line.split("\t") for line in (ROOT / ".github" / "published-schemas.tsv").read_text().splitlines()
            if line and not line.startswith("#")]
    pinned = {name: digest for name, digest, _ in rows}
    vendored = "policies/data/schemas/pulumi-property-values.json"
    assert hashlib.sha256((ROOT / vendored).read_bytes()).hexdigest() == pinned[vendored]
    assert "Apache-2.0" in (SCHEMA_DIR / "README.md").read_text()


def jsonschema_id(docs):
    (other,) = [d["$id"] for d in docs if d["$id"] != EXPORT_SCHEMA_ID]
    assert other.endswith("/apitype/property-values.json")
    return other


def test_unreadable_schema_is_one_line(tmp_path):
    (tmp_path / "stack-export.json").write_text("{")
    with pytest.raises(SchemaCompileError, match="is not valid JSON"):
        load_schema_documents(tmp_path)
    (tmp_path / "stack-export.json").unlink()
    with pytest.raises(SchemaCompileError, match="cannot be read"):
        load_schema_documents(tmp_path)


def test_taggable_type_list_matches_the_installed_sdk():
    assert datagen.render() == datagen.TAGGABLE_FILE.read_text(), "run python -m policies.datagen"
    types = set(json.loads(datagen.TAGGABLE_FILE.read_text())["types"])
    assert {awstypes.ROLE, awstypes.DYNAMODB_TABLE, awstypes.LOG_GROUP} <= types
    assert not {awstypes.ROLE_POLICY, awstypes.DASHBOARD, awstypes.LAMBDA_PERMISSION} & types


# (type, engine property) pairs the rules and the cost estimate read.
READS = {
    awstypes.ROLE: ["assumeRolePolicy", "inlinePolicies", "managedPolicyArns", "tags"],
    **{k: [v] for k, v in awstypes.IDENTITY_POLICY_PROPS.items()},
    **{k: [v] for k, v in awstypes.RESOURCE_POLICY_PROPS.items()},
    **{k: [v[0]] for k, v in awstypes.MANAGED_POLICY_PROPS.items()},
    awstypes.LAMBDA_PERMISSION: ["principal", "sourceArn", "principalOrgId"],
    awstypes.LAMBDA_LAYER_VERSION_PERMISSION: ["principal", "organizationId"],
    awstypes.LAMBDA_FUNCTION: ["environment", "memorySize", "timeout"],
    awstypes.ECS_CLUSTER_CAPACITY_PROVIDERS: ["capacityProviders", "defaultCapacityProviderStrategies"],
    awstypes.ECS_SERVICE: ["capacityProviderStrategies", "launchType"],
    awstypes.ECS_TASK_DEFINITION: ["cpu", "memory", "requiresCompatibilities", "containerDefinitions"],
    awstypes.DYNAMODB_TABLE: ["billingMode", "readCapacity", "writeCapacity", "globalSecondaryIndexes", "replicas",
                              "pointInTimeRecovery", "serverSideEncryption", "deletionProtectionEnabled"],
    awstypes.LOG_GROUP: ["retentionInDays"],
    awstypes.BUDGET: ["budgetType", "timeUnit", "limitAmount", "limitUnit", "notifications"],
    awstypes.USER_POOL: ["mfaConfiguration", "passwordPolicy"],
    awstypes.GRAPHQL_API: ["authenticationType", "additionalAuthenticationProviders", "logConfig"],
    awstypes.ECR_REPOSITORY: ["imageScanningConfiguration"],
    awstypes.SECURITY_GROUP: ["ingress"],
    awstypes.SECURITY_GROUP_RULE: ["type", "protocol", "fromPort", "toPort", "cidrBlocks", "ipv6CidrBlocks"],
    awstypes.SECURITY_GROUP_INGRESS_RULE: ["ipProtocol", "fromPort", "toPort", "cidrIpv4", "cidrIpv6"],
    awstypes.VPC_ENDPOINT: ["vpcEndpointType", "subnetIds"],
    awstypes.LB: ["loadBalancerType"], awstypes.ALB: ["loadBalancerType"],
    awstypes.SECRET: ["replicas"], awstypes.METRIC_ALARM: ["period", "metricQueries"],
    awstypes.NAT_GATEWAY: [], awstypes.EIP: [], awstypes.COMPOSITE_ALARM: [],
    awstypes.DASHBOARD: [], awstypes.ROUTE53_ZONE: [], awstypes.WAF_WEB_ACL: [],
}


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def test_rule_property_names_exist_in_the_sdk():
    inputs = datagen.scan_resource_inputs()
    for type_, props in READS.items():
        assert type_ in inputs, f"{type_} is not a pulumi-aws resource"
        for prop in props:
            assert _snake(prop) in inputs[type_], f"{type_} has no input {prop}"


def test_awsx_vpc_inputs_exist_in_the_sdk():
    import pulumi_awsx
    source = (Path(pulumi_awsx.__file__).parent / "ec2" / "vpc.py").read_text()
    for prop in ("natGateways", "numberOfAvailabilityZones", "availabilityZoneNames", "subnetSpecs", "vpcEndpointSpecs"):
        assert f'@pulumi.getter(name="{prop}")' in source


def test_price_table_is_dated_and_sourced():
    table = pricing.price_table()
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", table["asOf"]) and table["hoursPerMonth"] == 730
    for key, item in table["items"].items():
        assert item["usd"] > 0 and item["source"].startswith("https://aws.amazon.com/"), key
    assert table["items"]["natGatewayHour"]["usd"] == 0.045


def test_bench_synthetic_export_is_valid():
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        import policy_bench
    finally:
        sys.path.pop(0)
    doc = policy_bench.build_export(200)
    assert OURS.error(doc) is None and len(doc["deployment"]["resources"]) == 200
    template, count = policy_bench.build_cloudformation(doc)
    roles = [r for r in template["Resources"].values() if r["Type"] == "AWS::IAM::Role"]
    assert count == 178 and all(r["Properties"]["ManagedPolicyArns"] for r in roles)
