"""Data: the platform's DynamoDB tables as global tables (version 2019.11.21).

Tables are declared as data (``TableSpec``) in one place, ``PLATFORM_TABLES``; a pure builder
(``table_args``) turns a spec plus the stack's ``DataConfig`` into ``aws.dynamodb.Table`` arguments,
so everything AWS would reject at deploy time (undeclared key attributes, replicas in the primary
region or without streams, a customer-managed key missing for a replica region) fails here first with
an error naming the table and the field.

``GlobalTable`` wraps one table; ``Data`` composes the platform's tables and hands consumers frozen
``TableOutputs`` whose ``link()`` grants IAM access to exactly that table.
"""

from __future__ import annotations

import re
import types
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional, Sequence

import pulumi
import pulumi_aws as aws

from . import iam
from .config import DataConfig

ATTRIBUTE_TYPES = ("S", "N", "B")
# INCLUDE would need non-key attribute lists; no platform table wants it, so it is refused, not ignored.
PROJECTIONS = ("ALL", "KEYS_ONLY")
STREAM_VIEW = "NEW_AND_OLD_IMAGES"  # global tables (2019.11.21) require it
MAX_GSIS = 20  # DynamoDB's default quota per table
TABLE_KEY_RE = re.compile(r"^[A-Za-z][A-Za-z0-9]{0,63}$")  # becomes part of resource names
INDEX_NAME_RE = re.compile(r"^[A-Za-z0-9_.-]{3,255}$")  # DynamoDB's index name rule


def _fail(table: str, what: str, message: str) -> ValueError:
    return ValueError(f"table {table}: {what} {message}")


@dataclass(frozen=True)
class GsiSpec:
    name: str
    hash_key: str
    range_key: Optional[str] = None
    projection: str = "ALL"


@dataclass(frozen=True)
class TableSpec:
    """One table as pure data. ``attributes`` lists exactly the key attributes (table and GSI keys):
    DynamoDB rejects attribute definitions that no key uses, and other attributes need no schema."""

    name: str
    hash_key: str
    range_key: Optional[str] = None
    attributes: Mapping[str, str] = field(default_factory=dict)
    gsis: tuple[GsiSpec, ...] = ()
    ttl_attribute: Optional[str] = None
    stream: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not TABLE_KEY_RE.fullmatch(self.name):
            raise ValueError(f"table name must be letters and digits starting with a letter, got {self.name!r}")
        # Freeze the mapping so a spec shared through PLATFORM_TABLES cannot be changed by a consumer.
        object.__setattr__(self, "attributes", types.MappingProxyType(dict(self.attributes)))
        object.__setattr__(self, "gsis", tuple(self.gsis))
        n = self.name
        for attr, kind in self.attributes.items():
            if kind not in ATTRIBUTE_TYPES:
                raise _fail(n, f"attributes.{attr}", f"must be one of {', '.join(ATTRIBUTE_TYPES)}, got {kind!r}")
        self._require_attribute("hash_key", self.hash_key)
        if self.range_key is not None:
            self._require_attribute("range_key", self.range_key)
            if self.range_key == self.hash_key:
                raise _fail(n, "range_key", f"must differ from hash_key ({self.hash_key!r})")
        if len(self.gsis) > MAX_GSIS:
            raise _fail(n, "gsis", f"may hold at most {MAX_GSIS} indexes, got {len(self.gsis)}")
        seen: set[str] = set()
        for gsi in self.gsis:
            where = f"gsis.{gsi.name}"
            if not isinstance(gsi.name, str) or not INDEX_NAME_RE.fullmatch(gsi.name):
                raise _fail(n, "gsis", f"index name must be 3-255 of A-Z a-z 0-9 _ . -, got {gsi.name!r}")
            if gsi.name in seen:
                raise _fail(n, "gsis", f"declares the index {gsi.name!r} twice")
            seen.add(gsi.name)
            self._require_attribute(f"{where}.hash_key", gsi.hash_key)
            if gsi.range_key is not None:
                self._require_attribute(f"{where}.range_key", gsi.range_key)
                if gsi.range_key == gsi.hash_key:
                    raise _fail(n, f"{where}.range_key", f"must differ from hash_key ({gsi.hash_key!r})")
            if gsi.projection not in PROJECTIONS:
                raise _fail(n, f"{where}.projection", f"must be one of {', '.join(PROJECTIONS)}, got {gsi.projection!r}")
        unused = sorted(set(self.attributes) - set(self.key_attributes))
        if unused:
            # CreateTable fails when an attribute definition is not part of any key schema.
            raise _fail(n, "attributes", f"declares {', '.join(unused)} but no table or index key uses them")
        if self.ttl_attribute is not None:
            if not isinstance(self.ttl_attribute, str) or not self.ttl_attribute:
                raise _fail(n, "ttl_attribute", f"must be a non-empty attribute name, got {self.ttl_attribute!r}")
            if self.attributes.get(self.ttl_attribute, "N") != "N":
                # TTL only acts on Number attributes holding epoch seconds.
                raise _fail(n, "ttl_attribute", f"{self.ttl_attribute!r} must be a Number (N) attribute, "
                                                f"got {self.attributes[self.ttl_attribute]!r}")

    def _require_attribute(self, what: str, attr: Any) -> None:
        if not isinstance(attr, str) or not attr:
            raise _fail(self.name, what, f"must be an attribute name, got {attr!r}")
        if attr not in self.attributes:
            raise _fail(self.name, what, f"{attr!r} is not declared in attributes "
                                         f"(declared: {', '.join(sorted(self.attributes)) or 'none'})")

    @property
    def key_attributes(self) -> tuple[str, ...]:
        keys = [self.hash_key, self.range_key]
        for gsi in self.gsis:
            keys += [gsi.hash_key, gsi.range_key]
        return tuple(dict.fromkeys(k for k in keys if k is not None))

    @property
    def index_names(self) -> tuple[str, ...]:
        return tuple(g.name for g in self.gsis)


def _tables(*specs: TableSpec) -> Mapping[str, TableSpec]:
    return types.MappingProxyType({s.name: s for s in specs})


# The platform's data model: the one place the platform's tables are declared.
PLATFORM_TABLES: Mapping[str, TableSpec] = _tables(
    TableSpec("users", hash_key="id", attributes={"id": "S", "email": "S"},
              gsis=(GsiSpec("byEmail", hash_key="email"),)),
    TableSpec("sessions", hash_key="id", ttl_attribute="expiresAt",
              attributes={"id": "S", "owner": "S", "createdAt": "S", "status": "S", "updatedAt": "S"},
              gsis=(GsiSpec("byOwner", hash_key="owner", range_key="createdAt"),
                    GsiSpec("byStatus", hash_key="status", range_key="updatedAt"))),
    TableSpec("conversations", hash_key="id", attributes={"id": "S", "owner": "S", "updatedAt": "S"},
              gsis=(GsiSpec("byOwner", hash_key="owner", range_key="updatedAt"),)),
    TableSpec("messages", hash_key="conversationId", range_key="sk",
              attributes={"conversationId": "S", "sk": "S"}),
    TableSpec("agentPresets", hash_key="id",
              attributes={"id": "S", "owner": "S", "createdAt": "S", "visibility": "S"},
              gsis=(GsiSpec("byOwner", hash_key="owner", range_key="createdAt"),
                    GsiSpec("byVisibility", hash_key="visibility", range_key="createdAt"))),
    # One item per step of an assistant reply, read back in step order by message (recordAgentReply).
    TableSpec("traceSteps", hash_key="messageId", range_key="stepNumber",
              attributes={"messageId": "S", "stepNumber": "N"}),
    # The agent runtime's per-user daily invocation counter (day = YYYY-MM-DD UTC); old days expire.
    TableSpec("agentUsage", hash_key="userId", range_key="day", ttl_attribute="expiresAt",
              attributes={"userId": "S", "day": "S"}),
)


def _check_replicas(spec: TableSpec, cfg: DataConfig, region: str) -> None:
    n = spec.name
    seen: set[str] = set()
    for rg in cfg.replica_regions:
        if rg == region:
            raise _fail(n, "replica_regions", f"must not contain the primary region {region}")
        if rg in seen:
            raise _fail(n, "replica_regions", f"lists {rg} twice")
        seen.add(rg)
    if not cfg.replica_regions:
        return
    if not spec.stream:
        raise _fail(n, "stream", f"must be enabled ({STREAM_VIEW}) for a table with replicas "
                                 f"({', '.join(cfg.replica_regions)})")
    if cfg.billing_mode != "PAY_PER_REQUEST":
        # Provisioned replicas need autoscaling in every region, which this project does not manage.
        raise _fail(n, "billing_mode", f"must be PAY_PER_REQUEST for a table with replicas, got {cfg.billing_mode}")
    if cfg.kms_key_arn:
        missing = [rg for rg in cfg.replica_regions if rg not in cfg.replica_kms_key_arns]
        if missing:
            # A customer-managed key lives in one region: each replica needs its own.
            raise _fail(n, "replica_kms_key_arns", f"needs a KMS key for replica region(s) {', '.join(missing)}")


def table_args(spec: TableSpec, cfg: DataConfig, region: str) -> dict[str, Any]:
    """``aws.dynamodb.Table`` keyword arguments for ``spec`` under the stack's data config.

    Plain data (no Pulumi objects), so it can be tested and compared without an engine.
    """
    _check_replicas(spec, cfg, region)
    provisioned = cfg.billing_mode == "PROVISIONED"
    if provisioned and (cfg.read_capacity is None or cfg.write_capacity is None):
        raise _fail(spec.name, "billing_mode", "PROVISIONED needs read_capacity and write_capacity")
    capacity = {"read_capacity": cfg.read_capacity, "write_capacity": cfg.write_capacity} if provisioned else {}

    args: dict[str, Any] = {
        "billing_mode": cfg.billing_mode,
        **capacity,
        "hash_key": spec.hash_key,
        "attributes": [{"name": a, "type": t} for a, t in spec.attributes.items()],
        "point_in_time_recovery": {"enabled": cfg.point_in_time_recovery},
        "deletion_protection_enabled": cfg.deletion_protection,
        "stream_enabled": spec.stream,
    }
    if spec.range_key is not None:
        args["range_key"] = spec.range_key
    if spec.stream:
        args["stream_view_type"] = STREAM_VIEW
    if spec.gsis:
        # key_schemas, not the deprecated per-index hash_key/range_key.
        args["global_secondary_indexes"] = [
            {
                "name": g.name,
                "key_schemas": [{"attribute_name": g.hash_key, "key_type": "HASH"}]
                + ([{"attribute_name": g.range_key, "key_type": "RANGE"}] if g.range_key else []),
                "projection_type": g.projection,
                **capacity,
            }
            for g in spec.gsis
        ]
    if spec.ttl_attribute:
        args["ttl"] = {"attribute_name": spec.ttl_attribute, "enabled": True}
    # DynamoDB always encrypts at rest. AWS_OWNED leaves the block out (free, no key to manage);
    # AWS_MANAGED uses aws/dynamodb in each region (no key fee, key use visible in CloudTrail);
    # CUSTOMER_MANAGED names the key, and each replica names its own regional key below.
    if cfg.encryption == "CUSTOMER_MANAGED":
        args["server_side_encryption"] = {"enabled": True, "kms_key_arn": cfg.kms_key_arn}
    elif cfg.encryption == "AWS_MANAGED":
        args["server_side_encryption"] = {"enabled": True}
    if cfg.replica_regions:
        args["replicas"] = [
            {
                "region_name": rg,
                "point_in_time_recovery": cfg.point_in_time_recovery,
                "deletion_protection_enabled": cfg.deletion_protection,
                # Default tags sit on the primary table only; this copies them to each replica.
                "propagate_tags": True,
                **({"kms_key_arn": cfg.replica_kms_key_arns[rg]} if cfg.kms_key_arn else {}),
            }
            for rg in cfg.replica_regions
        ]
    return args


@dataclass(frozen=True)
class TableOutputs:
    """What a consumer needs of one table: its names and ARNs, and least-privilege grants on it."""

    key: str  # the logical name, e.g. "sessions"
    name: pulumi.Output[str]
    arn: pulumi.Output[str]
    stream_arn: pulumi.Output[str]
    index_names: tuple[str, ...] = ()

    def link(self, actions: Sequence[str], indexes: bool = False, *, sid: Optional[str] = None) -> list[iam.Statement]:
        """IAM statements granting ``actions`` on exactly this table (and its indexes when asked).

        No Sid unless given: IAM rejects a policy whose Sids repeat, as two links to one table would."""
        actions = list(actions)
        if not actions:
            raise ValueError(f"table {self.key}: link() needs at least one action")
        foreign = [a for a in actions if not a.startswith("dynamodb:")]
        if foreign:
            raise ValueError(f"table {self.key}: link() grants DynamoDB actions only, got {', '.join(foreign)}")
        if indexes:
            if not self.index_names:
                raise ValueError(f"table {self.key}: link(indexes=True) but the table has no indexes")
            if not {"dynamodb:Query", "dynamodb:Scan"} & set(actions):
                raise ValueError(f"table {self.key}: link(indexes=True) needs dynamodb:Query or dynamodb:Scan, "
                                 f"the only actions an index accepts")
        return iam.dynamodb_link(self.arn, actions, indexes=indexes, sid=sid)


@dataclass(frozen=True)
class GlobalTableArgs:
    spec: TableSpec
    config: DataConfig
    region: str  # the primary region (the provider's)


class GlobalTable(pulumi.ComponentResource):
    """One DynamoDB table with its replicas, built from a ``TableSpec``."""

    outputs: TableOutputs

    def __init__(self, name: str, args: GlobalTableArgs, opts: Optional[pulumi.ResourceOptions] = None):
        # Validate before registering anything, so a bad spec leaves no half-built component behind.
        kwargs = table_args(args.spec, args.config, args.region)
        super().__init__("aiplatform:data:GlobalTable", name, None, opts)
        child_opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(parent=self))
        # No tags here: the provider's default tags reach the table, and propagate_tags its replicas.
        # protect mirrors deletion protection so a replacing change stops at preview instead of
        # creating a second table and then failing to delete the protected one mid-update (a caller's
        # protect=True still wins). No ignore_changes: replicas are managed inline here (not as
        # separate TableReplica resources) and no autoscaling rewrites capacities behind our back.
        protect = args.config.deletion_protection or bool(child_opts.protect)
        self.table = aws.dynamodb.Table(
            name, **kwargs, opts=pulumi.ResourceOptions.merge(child_opts, pulumi.ResourceOptions(protect=protect)))
        self.outputs = TableOutputs(key=args.spec.name, name=self.table.name, arn=self.table.arn,
                                    stream_arn=self.table.stream_arn, index_names=args.spec.index_names)
        self.register_outputs({"name": self.table.name, "arn": self.table.arn, "streamArn": self.table.stream_arn})


@dataclass(frozen=True)
class DataArgs:
    config: DataConfig
    region: str
    tables: Mapping[str, TableSpec] = field(default_factory=lambda: PLATFORM_TABLES)


class Data(pulumi.ComponentResource):
    """The platform's tables. ``tables`` maps each logical name ("users", ...) to its ``TableOutputs``."""

    tables: Mapping[str, TableOutputs]

    def __init__(self, name: str, args: DataArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("aiplatform:data:Data", name, None, opts)
        child_opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(parent=self))
        for key, spec in args.tables.items():
            if key != spec.name:
                raise ValueError(f"table {spec.name}: declared under the key {key!r}; the key must be the table name")
            table_args(spec, args.config, args.region)  # every table validated before any is declared
        self.global_tables = {
            key: GlobalTable(f"{name}-{key}", GlobalTableArgs(spec=spec, config=args.config, region=args.region),
                             child_opts)
            for key, spec in args.tables.items()
        }
        self.tables = types.MappingProxyType({k: t.outputs for k, t in self.global_tables.items()})
        self.register_outputs({
            "tables": {k: {"name": t.name, "arn": t.arn, "streamArn": t.stream_arn} for k, t in self.tables.items()},
        })
