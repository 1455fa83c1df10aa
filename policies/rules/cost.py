"""Cost guards: mandatory in dev, advisory or mandatory in prod per the stack's pack config."""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Optional

# The sessions runtime's reading of sizes: the pack judges SIZE_PRESETS exactly as RunTask gets them.
from ..fargate import FARGATE_MEMORY, size_number

from .. import awstypes as t
from ..model import Enforcement, Resource, Severity, known, num, resource_rule, stack_rule
from ..pricing import UNKNOWN_REASON, bad_quantity, estimate, nat_gateway_count
from ..values import json_or_value

# ---------------------------------------------------------------------------------------------
# Fargate Spot


def _strategy_problems(strategy: Any, cfg: Mapping[str, Any]) -> list[str]:
    """Why a capacity-provider strategy does not prefer FARGATE_SPOT (empty when it does)."""
    if not isinstance(strategy, Sequence) or isinstance(strategy, str) or len(strategy) == 0:
        return ["has no capacity-provider strategy, so tasks run on on-demand FARGATE"]
    spot = on_demand = 0.0
    on_demand_base = 0.0
    for i in range(len(strategy)):
        item = strategy[i]
        if not isinstance(item, Mapping):
            return [f"strategy item #{i} is not an object"]
        provider = item.get("capacityProvider")
        weight = float(item.get("weight") or 0)
        if provider == "FARGATE_SPOT":
            spot += weight
        elif provider == "FARGATE":
            on_demand += weight
            on_demand_base += float(item.get("base") or 0)
    problems = []
    if spot <= 0:
        problems.append("gives FARGATE_SPOT no weight")
    else:
        share = spot / (spot + on_demand)
        minimum = float(cfg.get("minSpotWeightShare", 0.5))
        if share < minimum:
            problems.append(f"gives FARGATE_SPOT {share:.0%} of the weight (minimum {minimum:.0%})")
    if on_demand_base > float(cfg.get("maxOnDemandBase", 0)):
        problems.append(f"keeps a FARGATE base of {on_demand_base:g} on-demand tasks "
                        f"(maximum {num(cfg.get('maxOnDemandBase', 0))})")
    return problems


@resource_rule(
    name="cost-fargate-spot",
    concern="cost",
    severity=Severity.MEDIUM,
    enforcement=Enforcement.MANDATORY,
    types=frozenset({t.ECS_CLUSTER_CAPACITY_PROVIDERS, t.ECS_SERVICE, t.LAMBDA_FUNCTION}),
    description="Fargate work must prefer FARGATE_SPOT: the cluster default strategy, services, and the "
                "strategy task-launching Lambdas pass to RunTask.",
    remediation="Give FARGATE_SPOT the larger weight (and no on-demand base) in the capacity-provider strategy; "
                "prod may relax minSpotWeightShare/maxOnDemandBase in its pack config.",
    config={
        "requireSpot": {"type": "boolean", "default": True, "description": "Enforce the Spot preference at all."},
        "minSpotWeightShare": {"type": "number", "minimum": 0, "maximum": 1, "default": 0.5,
                               "description": "Minimum FARGATE_SPOT share of the strategy weight."},
        "maxOnDemandBase": {"type": "integer", "minimum": 0, "default": 0,
                            "description": "Maximum FARGATE base (always-on-demand tasks)."},
        "strategyEnvVar": {"type": "string", "default": "CAPACITY_PROVIDER_STRATEGY",
                           "description": "Lambda environment variable holding the RunTask strategy (JSON list)."},
    },
)
def fargate_spot(r: Resource, cfg: Mapping[str, Any]) -> Iterator[str]:
    if not cfg.get("requireSpot", True):
        return
    p = r.props
    if r.type == t.ECS_CLUSTER_CAPACITY_PROVIDERS:
        providers = list(p.get("capacityProviders") or [])
        if "FARGATE_SPOT" not in providers:
            yield "capacityProviders does not include FARGATE_SPOT"
        for problem in _strategy_problems(p.get("defaultCapacityProviderStrategies"), cfg):
            yield f"defaultCapacityProviderStrategies {problem}"
    elif r.type == t.ECS_SERVICE:
        strategy = p.get("capacityProviderStrategies")
        if strategy:
            for problem in _strategy_problems(strategy, cfg):
                yield f"capacityProviderStrategies {problem}"
        elif p.get("launchType") == "FARGATE":
            yield "launchType FARGATE runs on-demand; use a capacity-provider strategy with FARGATE_SPOT"
    elif r.type == t.LAMBDA_FUNCTION:
        env = p.get("environment")
        variables = env.get("variables") if isinstance(env, Mapping) else None
        name = cfg.get("strategyEnvVar", "CAPACITY_PROVIDER_STRATEGY")
        if not isinstance(variables, Mapping) or name not in variables:
            return
        try:
            strategy = json.loads(variables[name])
        except (TypeError, ValueError):
            yield f"environment {name} is not a JSON list of capacity-provider strategy items"
            return
        for problem in _strategy_problems(strategy, cfg):
            yield f"environment {name} {problem}"


# ---------------------------------------------------------------------------------------------
# Sizes and caps



def parse_cpu(value: Any) -> Optional[int]:
    """ECS task cpu: '1024', 1024 or '1 vCPU' -> CPU units."""
    match = re.fullmatch(r"\s*([\d.]+)\s*(vcpu)?\s*", str(value), re.IGNORECASE)
    if not match:
        return None
    number = float(match.group(1))
    return int(number * 1024) if match.group(2) else int(number)


def parse_memory(value: Any) -> Optional[int]:
    """ECS task memory: '2048', 2048 or '2 GB' -> MiB."""
    match = re.fullmatch(r"\s*([\d.]+)\s*(gb)?\s*", str(value), re.IGNORECASE)
    if not match:
        return None
    number = float(match.group(1))
    return int(number * 1024) if match.group(2) else int(number)


def _size_problems(cpu: int, memory: int, cfg: Mapping[str, Any]) -> list[str]:
    problems = []
    if cpu > cfg.get("maxCpu", 1024):
        problems.append(f"cpu {cpu} exceeds the cap of {num(cfg.get('maxCpu', 1024))}")
    if memory > cfg.get("maxMemoryMiB", 4096):
        problems.append(f"memory {memory} MiB exceeds the cap of {num(cfg.get('maxMemoryMiB', 4096))} MiB")
    if memory not in FARGATE_MEMORY.get(cpu, ()):
        problems.append(f"cpu {cpu} / memory {memory} MiB is not a valid Fargate combination (AWS rejects it)")
    return problems


@resource_rule(
    name="cost-fargate-task-size",
    concern="cost",
    severity=Severity.MEDIUM,
    enforcement=Enforcement.MANDATORY,
    types=frozenset({t.ECS_TASK_DEFINITION, t.LAMBDA_FUNCTION}),
    description="Fargate task definitions, and the per-session size presets task-launching Lambdas pass to "
                "RunTask as overrides, must stay within the CPU/memory caps and use valid Fargate pairs.",
    remediation="Lower cpu/memory (or raise the cap in the stack's pack config); valid pairs are listed in "
                "the ECS task-size documentation.",
    config={
        "maxCpu": {"type": "integer", "minimum": 256, "default": 1024, "description": "CPU units cap."},
        "maxMemoryMiB": {"type": "integer", "minimum": 512, "default": 4096, "description": "Memory cap (MiB)."},
        "sizePresetsEnvVar": {"type": "string", "default": "SIZE_PRESETS",
                              "description": "Lambda environment variable holding the session size presets "
                                             "(JSON {name: {cpu, memory}}) used as RunTask overrides."},
    },
)
def fargate_task_size(r: Resource, cfg: Mapping[str, Any]) -> Iterator[str]:
    p = r.props
    if r.type == t.LAMBDA_FUNCTION:
        yield from _size_presets(p, cfg)
        return
    if "FARGATE" not in list(p.get("requiresCompatibilities") or []):
        return
    cpu, memory = parse_cpu(p.get("cpu")), parse_memory(p.get("memory"))
    if cpu is None or memory is None:
        yield f"Fargate tasks need task-level cpu and memory (got cpu={p.get('cpu')!r}, memory={p.get('memory')!r})"
        return
    yield from _size_problems(cpu, memory, cfg)


def _size_presets(p: Mapping[str, Any], cfg: Mapping[str, Any]) -> Iterator[str]:
    env = p.get("environment")
    variables = env.get("variables") if isinstance(env, Mapping) else None
    name = cfg.get("sizePresetsEnvVar", "SIZE_PRESETS")
    if not isinstance(variables, Mapping) or name not in variables:
        return
    raw = variables[name]  # unknown (or an encrypted secret offline): the check is skipped
    try:
        presets = json.loads(raw)
    except (TypeError, ValueError):
        presets = None
    if not isinstance(presets, dict) or not presets:
        yield f'environment {name} is not a JSON object of sizes {{"<size>": {{"cpu": <units>, "memory": <MiB>}}}}'
        return
    for size, spec in presets.items():
        where = f"environment {name} size {size!r}"
        cpu = size_number(spec.get("cpu")) if isinstance(spec, dict) else None
        memory = size_number(spec.get("memory")) if isinstance(spec, dict) else None
        if cpu is None or memory is None:
            yield f"{where} needs integer cpu and memory (got {json.dumps(spec)})"
            continue
        for problem in _size_problems(cpu, memory, cfg):
            yield f"{where}: {problem}"


@resource_rule(
    name="cost-lambda-limits",
    concern="cost",
    severity=Severity.MEDIUM,
    enforcement=Enforcement.MANDATORY,
    types=frozenset({t.LAMBDA_FUNCTION}),
    description="Lambda memory and timeout must stay within the configured caps (and AWS limits).",
    remediation="Lower memorySize/timeout, or raise the cap for the stack in its pack config.",
    config={
        "maxMemoryMb": {"type": "integer", "minimum": 128, "maximum": 10240, "default": 1024,
                        "description": "memorySize cap (MB)."},
        "maxTimeoutSeconds": {"type": "integer", "minimum": 1, "maximum": 900, "default": 300,
                              "description": "timeout cap (seconds)."},
    },
)
def lambda_limits(r: Resource, cfg: Mapping[str, Any]) -> Iterator[str]:
    p = r.props
    memory = p.get("memorySize") or 128  # AWS defaults
    timeout = p.get("timeout") or 3
    bad = [f"{name} {bad_quantity(value)}" for name, value in (("memorySize", memory), ("timeout", timeout))
           if isinstance(value, float) and not math.isfinite(value)]
    if bad:  # NaN compares false with every cap: it would pass silently
        yield from bad
        return
    if memory > cfg.get("maxMemoryMb", 1024):
        yield f"memorySize {num(memory)} MB exceeds the cap of {num(cfg.get('maxMemoryMb', 1024))} MB"
    if timeout > cfg.get("maxTimeoutSeconds", 300):
        yield f"timeout {num(timeout)} s exceeds the cap of {num(cfg.get('maxTimeoutSeconds', 300))} s"
    if not 128 <= memory <= 10240 or timeout > 900:
        yield "memorySize must be 128-10240 MB and timeout at most 900 s (AWS rejects it)"


_RETENTION_VALUES = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192,
                     2557, 2922, 3288, 3653)


@resource_rule(
    name="cost-log-retention",
    concern="cost",
    severity=Severity.LOW,
    enforcement=Enforcement.MANDATORY,
    types=frozenset({t.LOG_GROUP}),
    description="Log groups must set a retention (never-expire logs grow forever) within the cap.",
    remediation="Set retentionInDays to one of CloudWatch's values no larger than the stack's cap.",
    config={
        "maxRetentionDays": {"type": "integer", "minimum": 1, "default": 30, "description": "Retention cap (days)."},
    },
)
def log_retention(r: Resource, cfg: Mapping[str, Any]) -> Iterator[str]:
    days = r.props.get("retentionInDays") or 0
    cap = cfg.get("maxRetentionDays", 30)
    if not days:
        yield "retentionInDays is not set: logs are kept forever"
        return
    if days > cap:
        yield f"retentionInDays {num(days)} exceeds the cap of {num(cap)}"
    if days not in _RETENTION_VALUES:
        yield f"retentionInDays {num(days)} is not a CloudWatch retention value (AWS rejects it)"


# ---------------------------------------------------------------------------------------------
# Stack rules


@stack_rule(
    name="cost-nat-gateway-count",
    concern="cost",
    severity=Severity.MEDIUM,
    enforcement=Enforcement.MANDATORY,
    description="NAT gateways (NatGateway resources plus awsx Vpc strategy x AZs) stay within the cap.",
    remediation="Use natGateways strategy None (with VPC endpoints) or Single in non-prod stacks.",
    config={
        "maxNatGateways": {"type": "integer", "minimum": 0, "default": 1, "description": "NAT gateway cap."},
    },
)
def nat_gateway_cap(resources: Sequence[Resource], cfg: Mapping[str, Any]) -> Iterator[tuple[Optional[str], str]]:
    total, sources = nat_gateway_count(resources)
    cap = cfg.get("maxNatGateways", 1)
    if total > cap:
        detail = ", ".join(f"{urn.rsplit('::', 1)[-1]}: {count}" for urn, count, _ in sources)
        yield None, f"{total} NAT gateways exceed the cap of {num(cap)} ({detail})"


def monthly_cost_budgets(resources: Sequence[Resource]) -> list[Resource]:
    return [r for r in resources if r.type == t.BUDGET
            and known(lambda: r.props.get("budgetType") == "COST" and r.props.get("timeUnit") == "MONTHLY", False)]


def budget_limit(r: Resource) -> Optional[float]:
    try:
        limit = float(r.props.get("limitAmount"))
    except (TypeError, ValueError, OverflowError):
        return None
    return limit if limit == limit else None  # NaN is no limit


@stack_rule(
    name="cost-budget-required",
    concern="cost",
    severity=Severity.HIGH,
    enforcement=Enforcement.MANDATORY,
    description="The stack needs a monthly COST budget in USD with ACTUAL and FORECASTED alerts and a limit "
                "within the configured maximum.",
    remediation="Declare the CostGuard component (aws.budgets.Budget, budgetType COST, timeUnit MONTHLY) with "
                "ACTUAL and FORECASTED notifications that have subscribers.",
    config={
        "maxLimitUsd": {"type": "number", "exclusiveMinimum": 0, "default": 100,
                        "description": "Largest acceptable monthly limitAmount (USD)."},
        "requiredNotificationTypes": {"type": "array", "items": {"enum": ["ACTUAL", "FORECASTED"]},
                                      "default": ["ACTUAL", "FORECASTED"],
                                      "description": "Notification types every budget must alert on."},
        "maxThresholdPercent": {"type": "number", "exclusiveMinimum": 0, "default": 100,
                                "description": "Highest alert threshold, in % of the limit (ABSOLUTE_VALUE "
                                               "thresholds are converted), that counts as an alert."},
        "filterTagKeys": {"type": "array", "items": {"type": "string", "minLength": 1},
                          "default": ["project", "environment"],
                          "description": "Cost-allocation tag keys a TagKeyValue cost filter may use (tags every "
                                         "resource carries, see cost-required-tags); any other filter leaves spend "
                                         "uncounted."},
    },
)
def budget_required(resources: Sequence[Resource], cfg: Mapping[str, Any]) -> Iterator[tuple[Optional[str], str]]:
    budgets = monthly_cost_budgets(resources)
    if not budgets:
        yield None, "no aws:budgets/budget:Budget with budgetType COST and timeUnit MONTHLY in the stack"
        return
    cap = cfg.get("maxLimitUsd", 100)
    for b in budgets:
        problems = known(lambda: _budget_problems(b, cap, cfg), [])
        for problem in problems:
            yield b.urn, problem


def _budget_problems(b: Resource, cap: float, cfg: Mapping[str, Any]) -> list[str]:
    p = b.props
    problems = []
    limit = budget_limit(b)
    if limit is None:
        problems.append("needs a fixed limitAmount")
    elif not 0 < limit <= cap:
        problems.append(f"limitAmount {limit:g} is outside (0, {cap:g}] USD")
    if (p.get("limitUnit") or "USD") != "USD":
        problems.append(f"limitUnit {p.get('limitUnit')!r} is not USD")
    problems.extend(_uncounted_spend(p, cfg.get("filterTagKeys", ["project", "environment"])))
    most = cfg.get("maxThresholdPercent", 100)
    alerting = set()
    for n in p.get("notifications") or []:
        if not (n.get("subscriberEmailAddresses") or n.get("subscriberSnsTopicArns")):
            continue
        percent = _threshold_percent(n, limit)
        if percent is None or not percent <= most:  # NaN and unreadable thresholds never alert usefully
            shown = "an unusable threshold" if percent is None else f"{percent:.4g}% of the limit"
            problems.append(f"{n.get('notificationType')} notification alerts only at {shown} "
                            f"(at most {num(most)}% counts as an alert)")
            continue
        alerting.add(n.get("notificationType"))
    for kind in cfg.get("requiredNotificationTypes", []):
        if kind not in alerting:
            problems.append(f"no {kind} notification with a subscriber")
    return problems


def _threshold_percent(n: Mapping[str, Any], limit: Optional[float]) -> Optional[float]:
    """A notification's threshold in % of the limit (None when it cannot be read)."""
    try:
        threshold = float(n.get("threshold"))
    except (TypeError, ValueError, OverflowError):
        return None
    if threshold != threshold:
        return None
    if (n.get("thresholdType") or "PERCENTAGE") == "ABSOLUTE_VALUE":
        return threshold / limit * 100 if limit else None
    return threshold


# Charges AWS counts by default; switching one off leaves them out of the budget. (Credits, refunds
# and discounts lower the counted spend, so excluding them is stricter, not weaker.)
_COUNTED_COST_TYPES = ("includeRecurring", "includeUpfront", "includeSubscription", "includeOtherSubscription",
                       "includeSupport", "includeTax")


def _uncounted_spend(p: Mapping[str, Any], tag_keys: Sequence[str]) -> list[str]:
    """Filters that leave spend out: every filter but a TagKeyValue on a tag every resource carries."""
    problems = []
    for f in p.get("costFilters") or []:
        name, values = f.get("name"), list(f.get("values") or [])
        if name == "TagKeyValue":
            keys = {str(v).split("$", 1)[0].removeprefix("user:") for v in values}
            other = sorted(k for k in keys if k not in tag_keys)
            if not other:
                continue
            problems.append(f"costFilters TagKeyValue on {', '.join(other)} counts only spend tagged so "
                            f"(allowed tag keys: {', '.join(tag_keys)})")
        else:
            problems.append(f"costFilters {name} {', '.join(map(str, values))} leaves all other spend uncounted")
    types = p.get("costTypes")
    if isinstance(types, Mapping):
        off = [k for k in _COUNTED_COST_TYPES if types.get(k) is False]
        if off:
            problems.append(f"costTypes {', '.join(off)} false leaves those charges uncounted")
    return problems


@functools.lru_cache(maxsize=1)
def taggable_types() -> frozenset:
    path = Path(__file__).resolve().parent.parent / "data" / "taggable-types.json"
    return frozenset(json.loads(path.read_text(encoding="utf-8"))["types"])


def provider_default_tags(provider_props: Optional[Mapping[str, Any]]) -> dict[str, Any]:
    if not provider_props or "defaultTags" not in provider_props:
        return {}
    default_tags = json_or_value(provider_props["defaultTags"])
    if not isinstance(default_tags, Mapping):
        return {}
    tags = json_or_value(default_tags.get("tags"))
    return dict(tags) if isinstance(tags, Mapping) else {}


@resource_rule(
    name="cost-required-tags",
    concern="cost",
    severity=Severity.MEDIUM,
    enforcement=Enforcement.MANDATORY,
    types=taggable_types(),
    description="Every taggable resource carries the cost-allocation tags (provider default tags count).",
    remediation="Set the tags once as the aws provider's defaultTags (components/provider.py) or on the resource.",
    config={
        "requiredTags": {"type": "array", "items": {"type": "string", "minLength": 1},
                         "default": ["project", "environment"], "description": "Tag keys every resource needs."},
        "exemptTypes": {"type": "array", "items": {"type": "string"}, "default": [],
                        "description": "Resource types not checked."},
    },
)
def required_tags(r: Resource, cfg: Mapping[str, Any]) -> Iterator[str]:
    if r.type in cfg.get("exemptTypes", []):
        return
    tags = provider_default_tags(r.provider_props)
    own = r.props.get("tags")
    if isinstance(own, Mapping):
        tags.update({k: own[k] for k in own})
    missing = [k for k in cfg.get("requiredTags", []) if not str(tags.get(k) or "").strip()]
    if missing:
        yield f"missing cost-allocation tag(s) {', '.join(missing)}"


@stack_rule(
    name="cost-fixed-monthly-estimate",
    concern="cost",
    severity=Severity.HIGH,
    enforcement=Enforcement.MANDATORY,
    description="The stack's estimated fixed monthly cost (NAT, endpoints, load balancers, keys, secrets, alarms, "
                "dashboards, provisioned capacity...) stays under a share of its monthly budget.",
    remediation="Remove always-on resources (NAT gateways, interface endpoints, load balancers) from the stack, "
                "or raise the budget/share in its pack config.",
    config={
        "maxShareOfBudget": {"type": "number", "exclusiveMinimum": 0, "maximum": 1, "default": 0.5,
                             "description": "Largest acceptable fixed cost as a share of the smallest monthly COST budget."},
        "reportUnpriced": {"type": "boolean", "default": True,
                           "description": "Report always-on resources the price table cannot price (instance classes "
                                          "it does not list, values that are no finite quantity)."},
    },
)
def fixed_monthly_estimate(resources: Sequence[Resource], cfg: Mapping[str, Any]) -> Iterator[tuple[Optional[str], str]]:
    est = estimate(resources)
    if cfg.get("reportUnpriced", True):
        # An always-on resource the table cannot price (an unlisted instance class, an absurd count)
        # would otherwise make the estimate silently low. Values unknown in preview are not findings.
        for skipped in est.skipped:
            if skipped.reason != UNKNOWN_REASON:
                yield skipped.urn, f"fixed cost not estimated ({skipped.reason}): the estimate is a lower bound"
    limits = [x for x in (known(lambda: budget_limit(b)) for b in monthly_cost_budgets(resources)) if x]
    if not limits:
        return  # cost-budget-required reports the missing budget
    budget = min(limits)
    share = cfg.get("maxShareOfBudget", 0.5)
    if est.total > budget * share:
        top = sorted(est.items, key=lambda i: -i.monthly_usd)[:5]
        detail = "; ".join(f"{i.urn.rsplit('::', 1)[-1]} {i.item} ${i.monthly_usd:.2f}" for i in top)
        yield None, (f"estimated fixed cost ${est.total:.2f}/month exceeds {share:.0%} of the ${budget:g} budget "
                     f"(prices as of {est.as_of}; largest: {detail})")
