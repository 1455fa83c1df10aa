"""Estimated fixed monthly cost of a stack, from the dated price table in policies/data/.

Only charges that accrue per hour or per month whatever the traffic are counted (NAT gateways,
public IPv4, interface endpoints, load balancers, KMS keys, secrets, alarms, dashboards,
provisioned DynamoDB capacity with its TableReplica copies, Lambda provisioned concurrency,
EC2 / RDS / Aurora / ElastiCache / OpenSearch instances, hosted zones, web ACLs, Bedrock
Provisioned Throughput). Usage (requests, GB, LCUs, Fargate task time) is not estimated. A
resource whose priced values are unknown during preview, of a shape that cannot be priced, not a
finite number of sane size, or of an instance class, engine or model missing from the table is
left out and listed as not priced with the reason (never counted as $0 silently).
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from pulumi_policy.proxy import UnknownValueError

from . import awstypes as t
from .links import Links, mapping
from .model import Resource, known

PRICES_FILE = Path(__file__).resolve().parent / "data" / "prices-us-east-1.json"


@dataclass(frozen=True)
class LineItem:
    urn: str
    type: str
    item: str  # price table key
    quantity: float  # in the item's unit, per hour for hourly items, per month for monthly ones
    monthly_usd: float


@dataclass(frozen=True)
class NotPriced:
    urn: str
    reason: str


@dataclass
class CostEstimate:
    as_of: str
    region: str
    currency: str
    items: list[LineItem] = field(default_factory=list)
    skipped: list[NotPriced] = field(default_factory=list)  # resources left out, with the reason

    @property
    def total(self) -> float:
        return round(sum(i.monthly_usd for i in self.items), 2)

    def to_dict(self) -> dict[str, Any]:
        return {"asOf": self.as_of, "region": self.region, "currency": self.currency,
                "totalMonthly": self.total,
                "skipped": [{"urn": s.urn, "reason": s.reason} for s in self.skipped],
                "items": [{"urn": i.urn, "type": i.type, "item": i.item, "quantity": i.quantity,
                           "monthly": round(i.monthly_usd, 2)} for i in self.items]}


@functools.lru_cache(maxsize=1)
def price_table() -> dict[str, Any]:
    return json.loads(PRICES_FILE.read_text(encoding="utf-8"))


# No fixed-cost quantity (capacity units, node counts, AZs) comes near this; larger is a typo or an attack.
MAX_QUANTITY = 1e9


class Unpriceable(ValueError):
    """A value that is a number but cannot be priced (NaN, infinite, absurdly large)."""


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 24 else f"{text[:10]}...({len(text)} characters)"


def bad_quantity(value: Any) -> Optional[str]:
    """Why `value` cannot be compared as a capacity or count ('is not a number'...), else None.
    Huge integers are fine for comparisons (Python compares them exactly); NaN compares false with
    everything, so it would pass every cap silently."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return f"is not a number (got {_show(value)})"
    if isinstance(value, float) and math.isnan(value):
        return "is not a number (NaN)"
    if isinstance(value, float) and math.isinf(value):
        return "is not finite"
    return None


def _number(value: Any, default: float = 0.0) -> float:
    if isinstance(value, bool) or value is None:
        return default
    try:
        number = float(value) if isinstance(value, (int, float)) else float(str(value))
    except OverflowError:
        raise Unpriceable(f"{_show(value)} is too large to price") from None
    except ValueError:
        return default
    if not math.isfinite(number) or abs(number) > MAX_QUANTITY:
        raise Unpriceable(f"{_show(value)} is not a finite quantity up to {MAX_QUANTITY:g}")
    return number


# What reading a value of an unexpected shape raises (a number where a list belongs...).
SHAPE_ERRORS = (TypeError, AttributeError, ValueError, KeyError, IndexError)
UNKNOWN_REASON = "values unknown during preview"


def shape_reason(exc: BaseException) -> str:
    if isinstance(exc, Unpriceable):
        return str(exc)
    return f"unexpected value ({type(exc).__name__}: {exc})"


def _items(value: Any) -> Sequence[Any]:
    """A list property (absent is empty); any other shape cannot be priced."""
    if value is None:
        return ()
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise TypeError(f"expected a list, got {type(value).__name__} {value!r}")
    return value


def _count(value: Any) -> int:
    return len(_items(value))


def nat_gateway_count(resources: Sequence[Resource],
                      unusable: Optional[list[NotPriced]] = None) -> tuple[int, list[tuple[str, int, bool]]]:
    """Total NAT gateways and (urn, count, only_derived_from_awsx_strategy) per source.

    An awsx Vpc declares its NAT gateways as a strategy; under a real preview its child
    NatGateway resources are also registered, so each Vpc counts max(strategy, children).
    A Vpc whose strategy cannot be read raises, or, given `unusable`, is listed there and
    counted by its children only.
    """
    vpcs = {r.urn: r for r in resources if r.type == t.AWSX_VPC}
    parents = {r.urn: r.parent for r in resources}
    children: dict[str, int] = {urn: 0 for urn in vpcs}
    standalone: list[tuple[str, int, bool]] = []
    for r in resources:
        if r.type != t.NAT_GATEWAY:
            continue
        owner = _ancestor_in(r.parent, vpcs, parents)
        if owner is None:
            standalone.append((r.urn, 1, False))
        else:
            children[owner] += 1
    sources = list(standalone)
    for urn, vpc in vpcs.items():
        try:
            derived = known(lambda: awsx_vpc_nat_count(vpc.props), 0)
        except SHAPE_ERRORS as exc:
            if unusable is None:
                raise
            unusable.append(NotPriced(urn, shape_reason(exc)))
            derived = 0
        count = max(derived, children[urn])
        if count:
            sources.append((urn, count, children[urn] == 0))
    return sum(c for _, c, _ in sources), sources


def _ancestor_in(urn: Optional[str], targets: Mapping[str, Any], parents: Mapping[str, Optional[str]]) -> Optional[str]:
    seen = set()
    while urn and urn not in seen:
        if urn in targets:
            return urn
        seen.add(urn)
        urn = parents.get(urn)
    return None


def awsx_vpc_az_count(props: Mapping[str, Any]) -> int:
    if props.get("availabilityZoneNames"):
        return _count(props["availabilityZoneNames"])
    return int(_number(props.get("numberOfAvailabilityZones"), 3)) or 3  # awsx default: 3 AZs


def awsx_vpc_nat_count(props: Mapping[str, Any]) -> int:
    """NAT gateways an awsx Vpc creates (its documented defaults applied)."""
    nat = props.get("natGateways")
    if isinstance(nat, Sequence) and not isinstance(nat, str):
        return len(nat)  # the component's outputs (a real preview's stack view): the gateways themselves
    strategy = nat.get("strategy") if isinstance(nat, Mapping) else None
    if strategy is None:
        # awsx: one per AZ when both public and private subnets exist (the default layout).
        specs = props.get("subnetSpecs")
        kinds = {str(s.get("type")) for s in specs} if specs else {"Public", "Private"}
        strategy = "OnePerAz" if {"Public", "Private"} <= kinds else "None"
    if strategy == "Single":
        return 1
    if strategy == "OnePerAz":
        return awsx_vpc_az_count(props)
    return 0


def estimate(resources: Sequence[Resource]) -> CostEstimate:
    table = price_table()
    prices = {k: v["usd"] for k, v in table["items"].items()}
    hours = table["hoursPerMonth"]
    est = CostEstimate(table["asOf"], table["region"], table["currency"])

    def add(r: Resource, item: str, quantity: float, hourly: bool) -> None:
        if quantity > 0:
            monthly = quantity * prices[item] * (hours if hourly else 1)
            est.items.append(LineItem(r.urn, r.type, item, quantity, monthly))

    unusable: list[NotPriced] = []
    links = Links(resources)
    _, nat_sources = nat_gateway_count(resources, unusable)
    by_urn = {r.urn: r for r in resources}
    for urn, count, derived in nat_sources:
        r = by_urn[urn]
        add(r, "natGatewayHour", count, True)
        if derived:  # awsx allocates an Elastic IP per public NAT gateway it creates
            add(r, "publicIpv4Hour", count, True)

    for r in resources:
        # Collect a resource's items first so that one failing read leaves none of them behind.
        pending: list[tuple[str, float, bool]] = []
        try:
            _price_resource(r, lambda _r, item, quantity, hourly: pending.append((item, quantity, hourly)), links)
        except UnknownValueError:
            est.skipped.append(NotPriced(r.urn, UNKNOWN_REASON))
            continue
        except Unpriceable as exc:
            est.skipped.append(NotPriced(r.urn, str(exc)))
            continue
        except SHAPE_ERRORS as exc:
            est.skipped.append(NotPriced(r.urn, shape_reason(exc)))
            continue
        for item, quantity, hourly in pending:
            if item not in prices:  # an instance class: its own hourly price
                if quantity > 0:
                    est.items.append(LineItem(r.urn, r.type, item, quantity, quantity * hourly * hours))
                continue
            add(r, item, quantity, hourly)
    for problem in unusable:
        if problem.urn not in {s.urn for s in est.skipped}:
            est.skipped.append(problem)
    _price_provisioned_throughput(resources, est, hours)
    return est


def provisioned_throughput_hourly(props: Mapping[str, Any]) -> tuple[str, float]:
    """(line item name, USD per hour) of a Bedrock ProvisionedModelThroughput: its model units times
    the table's rate for its base model and commitment term. Raises LookupError with the reason when
    the table cannot price it (a custom model, or a model or term the table lacks)."""
    arn = str(props.get("modelArn") or "")
    term = props.get("commitmentDuration") or "none"
    units = _number(props.get("modelUnits"))
    marker = ":foundation-model/"
    if marker not in arn:
        raise LookupError(f"model {arn or '(none)'} is not a base model; a custom model's rate is its base model's, "
                          f"which its ARN does not name")
    model = arn.split(marker, 1)[1]
    rates = price_table()["bedrockProvisionedThroughput"]["models"].get(model)
    if rates is None:
        raise LookupError(f"no Provisioned Throughput list price for {model} in the price table")
    if term == "none":
        raise LookupError(f"{model} has no commitmentDuration: AWS sells base-model Provisioned Throughput "
                          f"only for a OneMonth or SixMonths term")
    if term not in rates:
        raise LookupError(f"no {term} commitment price for {model} in the price table")
    return f"bedrockProvisionedModelUnitHour:{model}:{term}", units * rates[term]


def _price_provisioned_throughput(resources: Sequence[Resource], est: CostEstimate, hours: float) -> None:
    """Model units bill every hour of their term whatever the traffic: the largest fixed cost a stack
    can declare. One that cannot be priced is listed as not priced, never counted as $0."""
    for r in resources:
        if r.type != t.BEDROCK_PROVISIONED_THROUGHPUT:
            continue
        try:
            item, hourly = provisioned_throughput_hourly(r.props)
        except UnknownValueError:
            est.skipped.append(NotPriced(r.urn, UNKNOWN_REASON))
        except LookupError as exc:
            est.skipped.append(NotPriced(r.urn, str(exc)))
        except SHAPE_ERRORS as exc:
            est.skipped.append(NotPriced(r.urn, shape_reason(exc)))
        else:
            if hourly > 0:
                est.items.append(LineItem(r.urn, r.type, item, _number(r.props.get("modelUnits")), hourly * hours))


def _price_resource(r: Resource, add: Any, links: Links) -> None:
    kind = r.type
    if kind in _INSTANCE_TYPES:
        _price_instances(r, add)
        return
    if kind not in _PRICED:
        return
    p = r.props
    if kind == t.EIP:
        add(r, "publicIpv4Hour", 1, True)
    elif kind == t.VPC_ENDPOINT:
        if p.get("vpcEndpointType") == "Interface":
            add(r, "interfaceEndpointAzHour", max(_count(p.get("subnetIds")), 1), True)
    elif kind == t.AWSX_VPC:
        azs = awsx_vpc_az_count(p)
        for spec in _items(p.get("vpcEndpointSpecs")):
            if spec.get("vpcEndpointType") == "Interface":
                add(r, "interfaceEndpointAzHour", _count(spec.get("subnetIds")) or azs, True)
    elif kind in (t.LB, t.ALB):
        lb_type = p.get("loadBalancerType") or "application"
        item = {"application": "applicationLoadBalancerHour", "network": "networkLoadBalancerHour",
                "gateway": "gatewayLoadBalancerHour"}.get(lb_type)
        if item:
            add(r, item, 1, True)
    elif kind in t.KMS_KEY_TYPES:
        add(r, "kmsKeyMonth", 1, False)
    elif kind == t.EFS_FILE_SYSTEM:
        # Storage, elastic and bursting throughput bill per use (no fixed cost; mount targets and
        # access points are free); only provisioned throughput bills every hour whatever the use.
        if p.get("throughputMode") == "provisioned":
            add(r, "efsProvisionedThroughputMibpsMonth", _number(p.get("provisionedThroughputInMibps")), False)
    elif kind == t.SECRET:
        add(r, "secretMonth", 1 + _count(p.get("replicas")), False)
    elif kind == t.METRIC_ALARM:
        high_res = _number(p.get("period"), 60) < 60
        add(r, "highResolutionAlarmMonth" if high_res else "standardAlarmMonth",
            max(_count(p.get("metricQueries")), 1), False)
    elif kind == t.COMPOSITE_ALARM:
        add(r, "compositeAlarmMonth", 1, False)
    elif kind == t.DASHBOARD:
        add(r, "dashboardMonth", 1, False)
    elif kind == t.DYNAMODB_TABLE:
        if (p.get("billingMode") or "PROVISIONED") == "PROVISIONED":
            copies = 1 + _count(p.get("replicas"))
            indexes = _items(p.get("globalSecondaryIndexes"))
            rcu = _number(p.get("readCapacity")) + sum(_number(g.get("readCapacity")) for g in indexes)
            wcu = _number(p.get("writeCapacity")) + sum(_number(g.get("writeCapacity")) for g in indexes)
            add(r, "dynamodbRcuHour", rcu * copies, True)
            add(r, "dynamodbWcuHour", wcu * copies, True)
    elif kind == t.DYNAMODB_TABLE_REPLICA:
        # A replica is a full copy of its table's provisioned capacity in another region.
        for table in links.targets(r, "globalTableArn", (t.DYNAMODB_TABLE,)):
            _price_resource(table, add, links)
    elif kind == t.LAMBDA_PROVISIONED_CONCURRENCY:
        executions = _number(p.get("provisionedConcurrentExecutions"))
        functions = links.targets(r, "functionName", (t.LAMBDA_FUNCTION,))
        if executions and not functions:
            raise Unpriceable("the function's memorySize is not known (its function is not in this stack)")
        for fn in functions[:1]:
            memory_gb = _number(fn.props.get("memorySize"), 128) / 1024
            add(r, "lambdaProvisionedConcurrencyGbHour", executions * memory_gb, True)
    elif kind == t.ROUTE53_ZONE:
        add(r, "route53HostedZoneMonth", 1, False)
    elif kind == t.WAF_WEB_ACL:
        add(r, "wafWebAclMonth", 1, False)


_PRICED = frozenset({t.DYNAMODB_TABLE_REPLICA, t.LAMBDA_PROVISIONED_CONCURRENCY, t.EIP, t.VPC_ENDPOINT, t.AWSX_VPC, t.LB, t.ALB, *t.KMS_KEY_TYPES, t.SECRET, t.EFS_FILE_SYSTEM,
                     t.METRIC_ALARM, t.COMPOSITE_ALARM, t.DASHBOARD, t.DYNAMODB_TABLE, t.ROUTE53_ZONE,
                     t.WAF_WEB_ACL})


# ---------------------------------------------------------------------------------------------
# Instances: (price family, hourly price) x count, from the table's dated "instances" section

_INSTANCE_TYPES = frozenset({t.EC2_INSTANCE, t.RDS_INSTANCE, t.RDS_CLUSTER_INSTANCE, t.RDS_CLUSTER,
                             t.ELASTICACHE_CLUSTER, t.ELASTICACHE_REPLICATION_GROUP, t.OPENSEARCH_DOMAIN})


def instance_price(family: str, instance_class: Any) -> float:
    """Hourly on-demand price of an instance class; Unpriceable when the table does not list it."""
    prices = price_table()["instances"][family]["usdPerHour"]
    if not isinstance(instance_class, str) or instance_class not in prices:
        raise Unpriceable(f"{family} instance class {_show(instance_class)} is not in the price table")
    return float(prices[instance_class])


def _engine_family(engine: Any) -> str:
    table = price_table()["instances"]
    for family in ("rds", "aurora"):
        if engine in table[family]["engines"]:
            return family
    raise Unpriceable(f"engine {_show(engine)} is not priced (licensed engines cost more than the table knows)")


def _price_instances(r: Resource, add: Any) -> None:
    """add(r, '<family>:<class>', count, hourly_usd): unlike the table's items, an instance item
    carries its own hourly price in add's last argument (estimate() tells them apart by key)."""
    kind, p = r.type, r.props

    def instances(family: str, instance_class: Any, count: float) -> None:
        price = instance_price(family, instance_class)
        if count:
            add(r, f"{family}:{instance_class}", count, price)

    if kind == t.EC2_INSTANCE:
        instances("ec2", p.get("instanceType"), 1)
    elif kind == t.RDS_INSTANCE:
        family = _engine_family(p.get("engine"))
        instances(family, p.get("instanceClass"), 2 if p.get("multiAz") else 1)
    elif kind == t.RDS_CLUSTER_INSTANCE:
        if p.get("instanceClass") == "db.serverless":
            return  # priced by the cluster's minimum ACUs
        instances(_engine_family(p.get("engine") or "aurora"), p.get("instanceClass"), 1)
    elif kind == t.RDS_CLUSTER:
        scaling = mapping(p.get("serverlessv2ScalingConfiguration"))
        if scaling is not None:
            add(r, "auroraServerlessV2AcuHour", _number(scaling.get("minCapacity")), True)
        if p.get("dbClusterInstanceClass"):  # Multi-AZ DB cluster: one writer and two readers
            instances(_engine_family(p.get("engine")), p.get("dbClusterInstanceClass"), 3)
    elif kind == t.ELASTICACHE_CLUSTER:
        if p.get("replicationGroupId"):
            return  # a member of a replication group, which prices its nodes
        instances("elasticache", p.get("nodeType"), _number(p.get("numCacheNodes"), 1))
    elif kind == t.ELASTICACHE_REPLICATION_GROUP:
        groups = _number(p.get("numNodeGroups"), 1)
        per_group = _number(p.get("replicasPerNodeGroup"), 0) + 1
        nodes = _number(p.get("numCacheClusters"), 0) or groups * per_group
        instances("elasticache", p.get("nodeType"), nodes)
    elif kind == t.OPENSEARCH_DOMAIN:
        cluster = mapping(p.get("clusterConfig")) or {}
        # A missing instance type is AWS's default, which the table does not pin: not priced.
        instances("opensearch", cluster.get("instanceType"), _number(cluster.get("instanceCount"), 1))
        if cluster.get("dedicatedMasterEnabled"):
            instances("opensearch", cluster.get("dedicatedMasterType"), _number(cluster.get("dedicatedMasterCount"), 3))
        if cluster.get("warmEnabled"):
            raise Unpriceable("UltraWarm nodes are not in the price table")
