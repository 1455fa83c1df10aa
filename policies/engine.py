"""Run the pack's rules on a `pulumi stack export` (version 3) document, offline.

    report = evaluate(export_dict, config=load_config("policies/config/dev.json"))
    report.has_mandatory          # any mandatory violation
    report.violations             # [Violation(policy, urn, type, enforcement, severity, message)]
    report.suppressed, report.expired_suppressions, report.cost.total, report.cost.items

Resource rules see each resource's `inputs`, stack rules see every resource; the provider a
resource names (`<provider urn>::<id>`, else its package's default provider) supplies
`provider_props`. Values are decoded and proxied exactly as a real preview presents them
(see values.py), so unknowns are skipped the same way.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence

from pulumi_policy.proxy import unknown_checking_proxy

from . import config as config_mod
from .model import (
    Enforcement,
    Finding,
    PackState,
    Resource,
    Rule,
    Suppression,
    run_resource_rule,
    run_stack_rule,
    urn_type,
)
from .pricing import CostEstimate, estimate
from .rules import ALL_RULES
from .schema import SchemaCompileError, export_validator
from .values import decode

CONFIG_DIR = Path(__file__).resolve().parent / "config"


class InputError(ValueError):
    """The stack export cannot be used; the message is one line naming the problem."""


@dataclass(frozen=True)
class Violation:
    policy: str
    urn: str
    type: str
    enforcement: str
    severity: str
    message: str

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


@dataclass(frozen=True)
class Suppressed:
    violation: Violation
    resource: str
    reason: str
    expires: Optional[str]


@dataclass(frozen=True)
class ExpiredSuppression:
    policy: str
    resource: str
    reason: str
    expires: str


@dataclass
class Report:
    stack: Optional[str]
    violations: list[Violation] = field(default_factory=list)
    suppressed: list[Suppressed] = field(default_factory=list)
    expired_suppressions: list[ExpiredSuppression] = field(default_factory=list)
    cost: Optional[CostEstimate] = None
    skipped_unknown: int = 0  # rule x resource checks skipped because a value is unknown
    resources: int = 0

    @property
    def mandatory(self) -> list[Violation]:
        return [v for v in self.violations if v.enforcement == Enforcement.MANDATORY.value]

    @property
    def advisory(self) -> list[Violation]:
        return [v for v in self.violations if v.enforcement == Enforcement.ADVISORY.value]

    @property
    def has_mandatory(self) -> bool:
        return bool(self.mandatory)


def load_config(path: str | Path) -> dict[str, Any]:
    """Parse and validate a pack-config file; raises ConfigError (one-line message)."""
    return config_mod.load_config(path, ALL_RULES)


def stack_config_path(stack: str) -> Path:
    return CONFIG_DIR / f"{stack}.json"


# ---------------------------------------------------------------------------------------------
# Export handling


def check_export(document: Any) -> dict[str, Any]:
    """The `deployment` object of a valid v3 export; raises InputError otherwise."""
    if not isinstance(document, dict):
        raise InputError("not a stack export: top level must be a JSON object")
    if "version" not in document or "deployment" not in document:
        raise InputError("not a stack export: needs 'version' and 'deployment' (the output of `pulumi stack export`)")
    version = document["version"]
    if version != 3 or isinstance(version, bool):
        raise InputError(f"unsupported stack export version {version!r} (only version 3 is supported)")
    try:
        error = export_validator().error(document)
    except SchemaCompileError as exc:
        raise InputError(str(exc)) from None
    except RecursionError:
        raise InputError(_too_deep(document)) from None
    if error is not None:
        raise InputError(f"not a valid stack export per Pulumi's schema: {error}")
    return document["deployment"]


def build_resources(deployment: Mapping[str, Any]) -> list[Resource]:
    """Resources the way the engine presents them to a policy pack."""
    raw = [r for r in deployment.get("resources") or []
           if not r.get("delete") and not r.get("external")]
    providers: dict[str, Mapping[str, Any]] = {}
    defaults: dict[str, Mapping[str, Any]] = {}
    for r in raw:
        rtype = r.get("type") or urn_type(r["urn"])
        if rtype.startswith("pulumi:providers:"):
            inputs = decode(r.get("inputs") or {})
            providers[f"{r['urn']}::{r.get('id', '')}"] = inputs
            if r["urn"].rsplit("::", 1)[-1].startswith("default"):
                defaults.setdefault(rtype.split(":", 2)[2], inputs)
    resources = []
    for r in raw:
        urn = r["urn"]
        rtype = r.get("type") or urn_type(urn)
        provider = None
        if r.get("custom", True) and not rtype.startswith("pulumi:providers:"):
            ref = r.get("provider")
            provider = providers.get(ref) if ref else defaults.get(rtype.split(":", 1)[0])
        resources.append(_ExportResource(rtype, urn, raw=r.get("inputs") or {},
                                         provider_raw=provider, parent=r.get("parent"),
                                         deps=r.get("propertyDependencies")))
    return resources


class _ExportResource(Resource):
    """Inputs are decoded (secrets, references...) only when a rule first reads them."""

    __slots__ = ()

    @property
    def props(self) -> Mapping[str, Any]:
        if self._props is None:
            self._props = unknown_checking_proxy(decode(dict(self._raw)))
        return self._props


# ---------------------------------------------------------------------------------------------


def evaluate(deployment: Mapping[str, Any], config: Optional[Mapping[str, Any]] = None,
             stack: Optional[str] = None, *, today: Optional[dt.date] = None,
             rules: Sequence[Rule] = ALL_RULES) -> Report:
    """Evaluate the pack on a stack export.

    deployment: the parsed `pulumi stack export` document ({"version": 3, "deployment": ...}).
    config: a parsed pack config (see config.py); None with a stack name loads
        policies/config/<stack>.json, None without one uses the pack's defaults.
    Raises InputError for an unusable export and ConfigError for an unusable config.
    """
    if config is None and stack is not None:
        config = load_config(stack_config_path(stack))
    elif config is not None:
        config_mod.validate_config(config, rules)
    today = today or dt.datetime.now(dt.timezone.utc).date()
    resources = build_resources(check_export(deployment))
    report = Report(stack=stack, resources=len(resources))
    by_type: dict[str, list[Resource]] = {}
    for r in resources:
        by_type.setdefault(r.type, []).append(r)

    effective = [(rule, config_mod.settings(rule, config)) for rule in rules]
    # A validated config leaves no errors for pack-config-valid: a bad one raised above (exit 2).
    state = PackState(tuple((rule, s.suppressions) for rule, s in effective if s.level != Enforcement.DISABLED),
                      {}, today)
    for rule, s in effective:
        _record_expired(report, rule, s.suppressions, today)
        if s.level == Enforcement.DISABLED:
            continue
        if rule.kind != "resource":
            run = run_stack_rule(rule, resources, s.properties, s.suppressions, today, state)
            _record(report, rule, s.level, run.findings, {})
            report.skipped_unknown += run.skipped_unknown
            continue
        targets = resources if rule.types is None else [r for t in rule.types for r in by_type.get(t, ())]
        for r in targets:
            run = run_resource_rule(rule, r, s.properties, s.suppressions, today)
            if run.findings:
                _record(report, rule, s.level, run.findings, {r.urn: r.type})
            report.skipped_unknown += run.skipped_unknown
    report.cost = estimate(resources)
    return report


def _record(report: Report, rule: Rule, level: Enforcement, findings: Sequence[Finding],
            types: Mapping[str, str]) -> None:
    for f in findings:
        urn = f.urn or ""
        v = Violation(rule.name, urn, types.get(urn) or urn_type(urn), level.value, rule.severity.value,
                      f.message)
        if f.suppressed_by is None:
            report.violations.append(v)
        else:
            s = f.suppressed_by
            report.suppressed.append(Suppressed(v, s.resource, s.reason,
                                                s.expires.isoformat() if s.expires else None))


def _record_expired(report: Report, rule: Rule, suppressions: Sequence[Suppression], today: dt.date) -> None:
    for s in suppressions:
        if s.expired(today):
            report.expired_suppressions.append(
                ExpiredSuppression(rule.name, s.resource, s.reason, s.expires.isoformat()))


def _too_deep(document: Any) -> str:
    """Name where a document nests deepest (walked iteratively: recursion is what failed)."""
    deepest: tuple[int, list] = (0, [])
    stack: list[tuple[Any, list]] = [(document, [])]
    while stack:
        value, path = stack.pop()
        if len(path) > deepest[0]:
            deepest = (len(path), path)
        if isinstance(value, dict):
            stack.extend((v, path + [k]) for k, v in value.items())
        elif isinstance(value, list):
            stack.extend((v, path + [i]) for i, v in enumerate(value))
    depth, path = deepest
    shown = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path[:6]).lstrip(".")
    return f"values nested {depth} levels deep (at {shown}{'...' if depth > 6 else ''}) are too deep to check"


def parse_export_text(text: str | bytes) -> Any:
    """JSON-parse an export (orjson when available: exports can be tens of MB)."""
    try:
        import orjson
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            pass  # fall through for json's precise message (or documents orjson refuses, e.g. huge ints)
    except ImportError:
        pass
    try:
        return json.loads(text)
    except ValueError as exc:
        raise InputError(f"not valid JSON ({exc})") from None
    except RecursionError:
        raise InputError("JSON nested too deeply to parse") from None
