"""Data component under mocks: the platform's global tables per stack, and the builder's validation."""

from __future__ import annotations

import dataclasses

import pulumi
import pytest

from components import iam
from components.config import DataConfig
from components.data import (
    PLATFORM_TABLES,
    Data,
    DataArgs,
    GsiSpec,
    TableOutputs,
    TableSpec,
    table_args,
)
from tests.conftest import build

TABLE = "aws:dynamodb/table:Table"
PROD_KEYS = {
    "aiplatform:data": {
        "deletionProtection": True,
        "encryption": "CUSTOMER_MANAGED",
        "replicaRegions": ["ap-northeast-1"],
        "kmsKeyArn": "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555",
        "replicaKmsKeyArns": {
            "ap-northeast-1": "arn:aws:kms:ap-northeast-1:123456789012:key/66666666-7777-8888-9999-000000000000",
        },
    }
}

# The platform's data model as designed, written out independently of PLATFORM_TABLES:
# logical name -> (hash, range, {gsi: [(attr, keyType), ...]}, ttl attribute)
MODEL = {
    "users": ("id", None, {"byEmail": [("email", "HASH")]}, None),
    "sessions": ("id", None, {"byOwner": [("owner", "HASH"), ("createdAt", "RANGE")],
                              "byStatus": [("status", "HASH"), ("updatedAt", "RANGE")]}, "expiresAt"),
    "conversations": ("id", None, {"byOwner": [("owner", "HASH"), ("updatedAt", "RANGE")]}, None),
    "messages": ("conversationId", "sk", {}, None),
    "agentPresets": ("id", None, {"byOwner": [("owner", "HASH"), ("createdAt", "RANGE")],
                                  "byVisibility": [("visibility", "HASH"), ("createdAt", "RANGE")]}, None),
    "traceSteps": ("messageId", "stepNumber", {}, None),
    "agentUsage": ("userId", "day", {}, "expiresAt"),
}
# Key attributes that are numbers; every other key attribute is a string.
NUMBER_KEYS = {"traceSteps": {"stepNumber"}}


def _data(cfg, opts):
    data = Data("data", DataArgs(config=cfg.data, region=cfg.region), opts)
    # Export link() documents so the tests read the JSON IAM would receive.
    pulumi.export("sessionsLink", iam.document(
        data.tables["sessions"].link(["dynamodb:GetItem", "dynamodb:Query", "dynamodb:PutItem"], indexes=True)))
    pulumi.export("messagesLink", iam.document(data.tables["messages"].link(iam.DYNAMODB_READ)))
    return data


@pytest.fixture(scope="module")
def dev():
    return build(_data, "dev")


@pytest.fixture(scope="module")
def prod():
    return build(_data, "prod")


@pytest.fixture(scope="module")
def prod_kms():
    return build(_data, "prod", overrides=PROD_KEYS)


def _tables(monitor) -> dict[str, dict]:
    """Table inputs by logical name (the child name is data-<name>)."""
    return {r.name.removeprefix("data-"): r.plain_inputs for r in monitor.of_type(TABLE)}


STACKS = ["dev", "prod"]


@pytest.mark.parametrize("stack", STACKS)
def test_exactly_the_platform_tables_with_their_keys(stack, request):
    tables = _tables(request.getfixturevalue(stack)[0])
    assert sorted(tables) == sorted(MODEL)
    for key, (hash_key, range_key, gsis, _) in MODEL.items():
        t = tables[key]
        assert t["hashKey"] == hash_key
        assert t.get("rangeKey") == range_key
        key_attrs = {hash_key, range_key} | {a for ks in gsis.values() for a, _ in ks}
        # Exactly the key attributes (strings unless NUMBER_KEYS): DynamoDB rejects definitions no key uses.
        numbers = NUMBER_KEYS.get(key, set())
        assert {a["name"]: a["type"] for a in t["attributes"]} == {
            a: "N" if a in numbers else "S" for a in key_attrs if a}


@pytest.mark.parametrize("stack", STACKS)
def test_gsis_use_key_schemas_as_declared_with_projection_all(stack, request):
    tables = _tables(request.getfixturevalue(stack)[0])
    for key, (_, _, gsis, _) in MODEL.items():
        got = {g["name"]: g for g in tables[key].get("globalSecondaryIndexes", [])}
        assert set(got) == set(gsis), key
        for name, schema in gsis.items():
            g = got[name]
            assert [(k["attributeName"], k["keyType"]) for k in g["keySchemas"]] == schema
            assert g["projectionType"] == "ALL"
            assert "hashKey" not in g and "rangeKey" not in g  # deprecated in pulumi-aws 7


@pytest.mark.parametrize("stack", STACKS)
def test_on_demand_streams_and_pitr_on_every_table(stack, request):
    for key, t in _tables(request.getfixturevalue(stack)[0]).items():
        assert t["billingMode"] == "PAY_PER_REQUEST", key
        assert "readCapacity" not in t and "writeCapacity" not in t
        assert t["streamEnabled"] is True and t["streamViewType"] == "NEW_AND_OLD_IMAGES", key
        assert t["pointInTimeRecovery"] == {"enabled": True}, key


@pytest.mark.parametrize("stack", STACKS)
def test_ttl_exactly_where_the_model_declares_it(stack, request):
    tables = _tables(request.getfixturevalue(stack)[0])
    for key, (_, _, _, ttl) in MODEL.items():
        expected = {"attributeName": ttl, "enabled": True} if ttl else None
        assert tables[key].get("ttl") == expected, key
    assert sorted(k for k, t in tables.items() if "ttl" in t) == ["agentUsage", "sessions"]


@pytest.mark.parametrize("stack,protected", [("dev", False), ("prod", True)])
def test_deletion_protection_follows_stack_config(stack, protected, request):
    monitor = request.getfixturevalue(stack)[0]
    for reg in monitor.of_type(TABLE):
        assert reg.plain_inputs["deletionProtectionEnabled"] is protected
        for replica in reg.plain_inputs.get("replicas", []):
            assert replica["deletionProtectionEnabled"] is protected
        assert reg.protect is protected  # a replacing change stops at preview in prod


def test_dev_has_no_replicas(dev):
    assert all("replicas" not in t for t in _tables(dev[0]).values())


def test_prod_replicates_every_table_to_the_configured_region_with_pitr_and_tags(prod):
    for key, t in _tables(prod[0]).items():
        assert t["replicas"] == [{"regionName": "ap-northeast-1", "pointInTimeRecovery": True,
                                  "deletionProtectionEnabled": True, "propagateTags": True}], key


def test_encryption_follows_config_owned_in_dev_managed_in_prod(dev, prod):
    # AWS_OWNED: no block at all; AWS_MANAGED: enabled without a key ARN (aws/dynamodb per region).
    assert all("serverSideEncryption" not in t for t in _tables(dev[0]).values())
    for t in _tables(prod[0]).values():
        assert t["serverSideEncryption"] == {"enabled": True}
        assert all("kmsKeyArn" not in r for r in t["replicas"])


def test_customer_managed_key_on_table_and_a_regional_key_per_replica(prod_kms):
    keys = PROD_KEYS["aiplatform:data"]
    for key, t in _tables(prod_kms[0]).items():
        assert t["serverSideEncryption"] == {"enabled": True, "kmsKeyArn": keys["kmsKeyArn"]}, key
        assert [(r["regionName"], r["kmsKeyArn"]) for r in t["replicas"]] == \
            [("ap-northeast-1", keys["replicaKmsKeyArns"]["ap-northeast-1"])]


def test_provisioned_billing_sets_capacity_on_table_and_indexes():
    monitor, _ = build(_data, "dev", overrides={"aiplatform:data": {
        "deletionProtection": False, "encryption": "AWS_OWNED", "billingMode": "PROVISIONED", "readCapacity": 5, "writeCapacity": 3}})
    tables = _tables(monitor)
    for key, t in tables.items():
        assert (t["billingMode"], t["readCapacity"], t["writeCapacity"]) == ("PROVISIONED", 5, 3), key
        for g in t.get("globalSecondaryIndexes", []):
            assert (g["readCapacity"], g["writeCapacity"]) == (5, 3)
    assert len(tables["sessions"]["globalSecondaryIndexes"]) == 2


@pytest.mark.parametrize("stack", STACKS)
def test_every_table_sits_under_a_global_table_under_data_with_the_explicit_provider(stack, request):
    monitor = request.getfixturevalue(stack)[0]
    data = monitor.of_type("aiplatform:data:Data")[0]
    provider = monitor.of_type("pulumi:providers:aws")[0]
    components = {r.urn: r for r in monitor.of_type("aiplatform:data:GlobalTable")}
    assert len(components) == len(MODEL)
    assert all(c.parent == data.urn for c in components.values())
    for reg in monitor.of_type(TABLE):
        assert reg.urn.split("::")[2] == "aiplatform:data:Data$aiplatform:data:GlobalTable$aws:dynamodb/table:Table"
        assert reg.parent in components and components[reg.parent].name == reg.name
        assert reg.provider.startswith(provider.urn + "::")


@pytest.mark.parametrize("stack", STACKS)
def test_tags_come_from_the_provider_default_tags(stack, request):
    import json

    monitor = request.getfixturevalue(stack)[0]
    default_tags = json.loads(monitor.of_type("pulumi:providers:aws")[0].plain_inputs["defaultTags"])["tags"]
    assert default_tags["project"] == "aiplatform" and default_tags["environment"] == stack
    assert default_tags["team"] == "platform"
    # No per-table tags that could drift from (or override) the provider's.
    assert all("tags" not in t for t in _tables(monitor).values())


def test_components_register_names_and_arns(prod):
    monitor, data = prod
    outputs = monitor.of_type("aiplatform:data:Data")[0].outputs["tables"]
    assert sorted(outputs) == sorted(MODEL)
    for key, out in outputs.items():
        assert out["name"].startswith(f"data-{key}-")
        assert out["arn"] == f"arn:aws:dynamodb:us-east-1:123456789012:table/{out['name']}"
        assert out["streamArn"].startswith(out["arn"] + "/stream/")
    assert isinstance(data.tables["sessions"], TableOutputs)
    assert data.tables["sessions"].index_names == ("byOwner", "byStatus")
    with pytest.raises(TypeError):
        data.tables["extra"] = data.tables["users"]  # the bundle is read-only


def test_link_is_scoped_to_exactly_one_table_and_its_indexes(dev):
    monitor, _ = dev
    arn = monitor.of_type("aiplatform:data:Data")[0].outputs["tables"]["sessions"]["arn"]
    stmts = iam.statements(monitor.stack_outputs["sessionsLink"])
    assert stmts[0]["Resource"] == [arn]
    assert stmts[0]["Action"] == ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"]
    # Only Query reaches the indexes, and only this table's.
    assert stmts[1]["Resource"] == [f"{arn}/index/*"] and stmts[1]["Action"] == ["dynamodb:Query"]
    assert len(stmts) == 2 and all(s["Effect"] == "Allow" for s in stmts)
    assert all("Sid" not in s for s in stmts)  # two links to one table must not repeat a Sid

    messages_arn = monitor.of_type("aiplatform:data:Data")[0].outputs["tables"]["messages"]["arn"]
    read = iam.statements(monitor.stack_outputs["messagesLink"])
    assert len(read) == 1 and read[0]["Resource"] == [messages_arn]
    assert set(read[0]["Action"]) == set(iam.DYNAMODB_READ)


# ---------------------------------------------------------------------------------------------
# Builder and spec validation (no engine needed).
# ---------------------------------------------------------------------------------------------
CFG = DataConfig(deletion_protection=False)


def test_platform_tables_are_declared_once_and_read_only():
    assert list(PLATFORM_TABLES) == ["users", "sessions", "conversations", "messages", "agentPresets",
                                     "traceSteps", "agentUsage"]
    assert all(k == s.name for k, s in PLATFORM_TABLES.items())
    with pytest.raises(TypeError):
        PLATFORM_TABLES["sessions"].attributes["extra"] = "S"
    with pytest.raises(dataclasses.FrozenInstanceError):
        PLATFORM_TABLES["sessions"].ttl_attribute = None


@pytest.mark.parametrize("kwargs,match", [
    (dict(hash_key="id", attributes={}), r"table t1: hash_key 'id' is not declared in attributes"),
    (dict(hash_key="id", range_key="sk", attributes={"id": "S"}), r"table t1: range_key 'sk' is not declared"),
    (dict(hash_key="id", range_key="id", attributes={"id": "S"}), r"table t1: range_key must differ"),
    (dict(hash_key="id", attributes={"id": "X"}), r"table t1: attributes.id must be one of S, N, B"),
    (dict(hash_key="id", attributes={"id": "S", "email": "S"}),
     r"table t1: attributes declares email but no table or index key uses them"),
    (dict(hash_key="id", attributes={"id": "S"}, gsis=(GsiSpec("byOwner", hash_key="owner"),)),
     r"table t1: gsis.byOwner.hash_key 'owner' is not declared in attributes"),
    (dict(hash_key="id", attributes={"id": "S", "o": "S"}, gsis=(GsiSpec("byO", "o", range_key="when"),)),
     r"table t1: gsis.byO.range_key 'when' is not declared"),
    (dict(hash_key="id", attributes={"id": "S", "o": "S"}, gsis=(GsiSpec("byO", "o"), GsiSpec("byO", "o"))),
     r"table t1: gsis declares the index 'byO' twice"),
    (dict(hash_key="id", attributes={"id": "S", "o": "S"}, gsis=(GsiSpec("byO", "o", projection="INCLUDE"),)),
     r"table t1: gsis.byO.projection must be one of ALL, KEYS_ONLY"),
    (dict(hash_key="id", attributes={"id": "S", "o": "S"}, gsis=(GsiSpec("b", "o"),)),
     r"table t1: gsis index name must be 3-255"),
    (dict(hash_key="id", attributes={"id": "S", "exp": "S"}, gsis=(GsiSpec("byExp", "exp"),), ttl_attribute="exp"),
     r"table t1: ttl_attribute 'exp' must be a Number"),
])
def test_spec_errors_name_the_table_and_field(kwargs, match):
    with pytest.raises(ValueError, match=match):
        TableSpec("t1", **kwargs)


def test_table_name_must_be_a_simple_identifier():
    with pytest.raises(ValueError, match="table name must be letters and digits"):
        TableSpec("my table", hash_key="id", attributes={"id": "S"})


@pytest.mark.parametrize("cfg,stream,match", [
    (DataConfig(False, replica_regions=("us-east-1",)), True,
     r"table sessions: replica_regions must not contain the primary region us-east-1"),
    (DataConfig(False, replica_regions=("eu-west-1", "eu-west-1")), True,
     r"table sessions: replica_regions lists eu-west-1 twice"),
    (DataConfig(False, replica_regions=("eu-west-1",)), False,
     r"table sessions: stream must be enabled \(NEW_AND_OLD_IMAGES\) for a table with replicas"),
    (DataConfig(False, replica_regions=("eu-west-1",), billing_mode="PROVISIONED", read_capacity=1,
                write_capacity=1), True, r"table sessions: billing_mode must be PAY_PER_REQUEST"),
    (DataConfig(False, replica_regions=("eu-west-1", "ap-northeast-1"),
                encryption="CUSTOMER_MANAGED", kms_key_arn="arn:aws:kms:us-east-1:123456789012:key/k",
                replica_kms_key_arns={"eu-west-1": "arn:aws:kms:eu-west-1:123456789012:key/k"}), True,
     r"table sessions: replica_kms_key_arns needs a KMS key for replica region\(s\) ap-northeast-1"),
    (DataConfig(False, billing_mode="PROVISIONED"), True,
     r"table sessions: billing_mode PROVISIONED needs read_capacity and write_capacity"),
])
def test_builder_rejects_what_aws_would(cfg, stream, match):
    spec = dataclasses.replace(PLATFORM_TABLES["sessions"], stream=stream)
    with pytest.raises(ValueError, match=match):
        table_args(spec, cfg, "us-east-1")


def test_table_without_streams_is_allowed_when_it_has_no_replicas():
    args = table_args(dataclasses.replace(PLATFORM_TABLES["messages"], stream=False), CFG, "us-east-1")
    assert args["stream_enabled"] is False and "stream_view_type" not in args and "replicas" not in args


def test_builder_output_is_plain_provider_arguments():
    args = table_args(PLATFORM_TABLES["users"], DataConfig(True, replica_regions=("eu-west-1",)), "us-east-1")
    assert args == {
        "billing_mode": "PAY_PER_REQUEST",
        "hash_key": "id",
        "attributes": [{"name": "id", "type": "S"}, {"name": "email", "type": "S"}],
        "point_in_time_recovery": {"enabled": True},
        "deletion_protection_enabled": True,
        "stream_enabled": True,
        "stream_view_type": "NEW_AND_OLD_IMAGES",
        "global_secondary_indexes": [{"name": "byEmail", "projection_type": "ALL",
                                      "key_schemas": [{"attribute_name": "email", "key_type": "HASH"}]}],
        "replicas": [{"region_name": "eu-west-1", "point_in_time_recovery": True,
                      "deletion_protection_enabled": True, "propagate_tags": True}],
    }


@pytest.mark.parametrize("actions,indexes,match", [
    ([], False, r"table messages: link\(\) needs at least one action"),
    (["s3:GetObject"], False, r"table messages: link\(\) grants DynamoDB actions only, got s3:GetObject"),
    (["dynamodb:Query"], True, r"table messages: link\(indexes=True\) but the table has no indexes"),
])
def test_link_rejects_meaningless_grants(actions, indexes, match):
    outputs = TableOutputs(key="messages", name=pulumi.Output.from_input("n"), arn=pulumi.Output.from_input("a"),
                           stream_arn=pulumi.Output.from_input("s"))
    with pytest.raises(ValueError, match=match):
        outputs.link(actions, indexes=indexes)


def test_link_passes_a_chosen_sid_to_both_statements():
    outputs = TableOutputs(key="sessions", name=pulumi.Output.from_input("n"), arn=pulumi.Output.from_input("a"),
                           stream_arn=pulumi.Output.from_input("s"), index_names=("byOwner",))
    stmts = outputs.link(["dynamodb:Query"], indexes=True, sid="SessionsRead")
    assert [s.sid for s in stmts] == ["SessionsRead", "SessionsReadIndexes"]


def test_a_callers_protect_is_kept_on_unprotected_stacks():
    monitor, _ = build(lambda cfg, opts: Data("data", DataArgs(config=cfg.data, region=cfg.region),
                                              pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(protect=True))),
                       "dev")
    assert all(r.protect for r in monitor.of_type(TABLE))


def test_link_to_indexes_needs_an_index_action():
    outputs = TableOutputs(key="sessions", name=pulumi.Output.from_input("n"), arn=pulumi.Output.from_input("a"),
                           stream_arn=pulumi.Output.from_input("s"), index_names=("byOwner",))
    with pytest.raises(ValueError, match=r"table sessions: link\(indexes=True\) needs dynamodb:Query or dynamodb:Scan"):
        outputs.link(["dynamodb:GetItem"], indexes=True)


def test_data_validates_every_table_before_declaring_any():
    from pulumi.runtime.settings import get_monitor
    from pulumi.runtime.stack import wait_for_rpcs
    from pulumi.runtime.sync_await import _sync_await

    # The second table is fine on its own but cannot be replicated: nothing may be declared at all.
    tables = {"users": PLATFORM_TABLES["users"],
              "messages": dataclasses.replace(PLATFORM_TABLES["messages"], stream=False)}
    with pytest.raises(ValueError, match=r"table messages: stream must be enabled"):
        build(lambda cfg, opts: Data("data", DataArgs(config=cfg.data, region=cfg.region, tables=tables), opts),
              "prod")
    _sync_await(wait_for_rpcs())  # let anything the program did declare reach the monitor
    monitor = get_monitor()
    assert monitor.of_type("aiplatform:data:Data")  # the run did get as far as the component
    assert not monitor.of_type("aiplatform:data:GlobalTable") and not monitor.of_type(TABLE)


def test_data_refuses_a_table_under_another_key():
    tables = {"people": PLATFORM_TABLES["users"]}
    with pytest.raises(ValueError, match=r"table users: declared under the key 'people'"):
        build(lambda cfg, opts: Data("data", DataArgs(config=cfg.data, region=cfg.region, tables=tables), opts),
              "dev")
