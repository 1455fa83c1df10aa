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
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence

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
from .schema import ExportFields, SchemaCompileError, export_fields, export_validator
from .values import SIG, SECRET_SIG, NumberError, loads_pulumi_numbers, view

CONFIG_DIR = Path(__file__).resolve().parent / "config"

# Features a version-4 export may declare (pulumi pkg/resource/stack/deployment.go supportedFeatures).
# None changes what the runner reads: they name resource options and the byte-string encoding,
# which values.py decodes. An export declaring any other feature is refused, as the CLI refuses it.
SUPPORTED_FEATURES = frozenset({"refreshBeforeUpdate", "views", "hooks", "taint", "replaceWith",
                                "snippets-prototype", "extensionParameterization", "byteString"})
# The fields the runner reads; every other field apitype defines is accepted and ignored.
READ_FIELDS = ExportFields(
    envelope=frozenset({"version", "features", "deployment"}),
    deployment=frozenset({"resources"}),
    resource=frozenset({"urn", "custom", "delete", "external", "id", "type", "inputs", "parent", "provider"}))


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


@dataclass(frozen=True)
class Skip:
    """Something the runner did not judge, and why. kind: "check" (a policy on one resource, or on
    the stack, stopped at a value it could not read), "resource" (not evaluated at all) or
    "estimate" (the cost estimate). unreadable: the value is in the export but cannot be read
    offline (an encrypted secret), as opposed to unknown until the update runs."""

    kind: str
    policy: str
    urn: str
    reason: str
    unreadable: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Report:
    stack: Optional[str]
    violations: list[Violation] = field(default_factory=list)
    suppressed: list[Suppressed] = field(default_factory=list)
    expired_suppressions: list[ExpiredSuppression] = field(default_factory=list)
    cost: Optional[CostEstimate] = None
    skipped_unknown: int = 0  # rule x resource checks skipped because a value is unknown
    resources: int = 0
    skips: list[Skip] = field(default_factory=list)
    ignored_fields: dict[str, int] = field(default_factory=dict)  # apitype fields the runner does not read
    unknown_fields: dict[str, int] = field(default_factory=dict)  # fields apitype does not define

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
    """The `deployment` object of a readable export (version 3, or 4 with known features);
    raises InputError otherwise."""
    if not isinstance(document, dict):
        raise InputError("not a stack export: top level must be a JSON object")
    if "version" not in document or "deployment" not in document:
        raise InputError("not a stack export: needs 'version' and 'deployment' (the output of `pulumi stack export`)")
    version = document["version"]
    if version not in (3, 4) or isinstance(version, bool) or not isinstance(version, int):
        raise InputError(f"unsupported stack export version {_short(version)} (versions 3 and 4 are read)")
    features = document.get("features")
    if version == 4 and isinstance(features, list):
        unsupported = sorted({str(f) for f in features} - SUPPORTED_FEATURES)
        if unsupported:
            raise InputError(f"the export uses feature(s) {', '.join(map(repr, unsupported))} this runner cannot "
                             f"read (known: {', '.join(sorted(SUPPORTED_FEATURES))})")
    try:
        error = export_validator().error(document)
    except SchemaCompileError as exc:
        raise InputError(str(exc)) from None
    except RecursionError:
        raise InputError(_too_deep(document)) from None
    if error is not None:
        raise InputError(f"not a readable stack export: {error}")
    return document["deployment"]


def field_inventory(document: Mapping[str, Any]) -> tuple[dict[str, int], dict[str, int]]:
    """(ignored, unknown): per field path, how many objects carry it. Ignored fields are defined by
    apitype but not read by the runner; unknown fields are not in apitype (a newer CLI's)."""
    known = export_fields()
    ignored: Counter = Counter()
    unknown: Counter = Counter()

    def tally(obj: Mapping[str, Any], prefix: str, known_names: frozenset, read: frozenset) -> None:
        for key in obj:
            if key not in read:
                (ignored if key in known_names else unknown)[prefix + key] += 1

    tally(document, "", known.envelope, READ_FIELDS.envelope)
    deployment = document["deployment"]
    tally(deployment, "deployment.", known.deployment, READ_FIELDS.deployment)
    for r in deployment.get("resources") or ():
        tally(r, "deployment.resources[].", known.resource, READ_FIELDS.resource)
    return dict(sorted(ignored.items())), dict(sorted(unknown.items()))


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def build_resources(deployment: Mapping[str, Any], skips: Optional[list[Skip]] = None) -> list[Resource]:
    """Resources the way the engine presents them to a policy pack; resources a preview would not
    show the pack (pending deletion, external reads) are left out and noted in `skips`."""
    raw = []
    for r in deployment.get("resources") or []:
        why = "pending deletion" if r.get("delete") else ("external (read, not managed, by the stack)"
                                                          if r.get("external") else None)
        if why is None:
            raw.append(r)
        elif skips is not None:
            skips.append(Skip("resource", "", r["urn"], f"not evaluated: {why}"))
    providers: dict[str, Mapping[str, Any]] = {}
    defaults: dict[str, Mapping[str, Any]] = {}
    for r in raw:
        rtype = r.get("type") or urn_type(r["urn"])
        if rtype.startswith("pulumi:providers:"):
            inputs = view(r.get("inputs") or {})  # one view per provider, shared by its resources
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
                                         provider_props=provider, parent=r.get("parent"),
                                         deps=r.get("propertyDependencies")))
    return resources


class _ExportResource(Resource):
    """Inputs are decoded (secrets, references...) only when a rule first reads them."""

    __slots__ = ()

    @property
    def props(self) -> Mapping[str, Any]:
        if self._props is None:
            self._props = view(self._raw)
        return self._props

    def unreadable_at(self, path: Sequence[str]) -> bool:
        """Whether the input at `path` (a proxy path) sits inside a value the export keeps encrypted."""
        node: Any = self._raw
        for key in path:
            if isinstance(node, dict) and SIG in node:
                break
            if isinstance(node, dict):
                node = node.get(key)
            elif isinstance(node, list) and key.isdigit() and int(key) < len(node):
                node = node[int(key)]
            else:
                return False
        return isinstance(node, dict) and node.get(SIG) == SECRET_SIG and "plaintext" not in node


# ---------------------------------------------------------------------------------------------


def evaluate(deployment: Mapping[str, Any], config: Optional[Mapping[str, Any]] = None,
             stack: Optional[str] = None, *, today: Optional[dt.date] = None,
             rules: Sequence[Rule] = ALL_RULES, strict: bool = False,
             resource_fields: Optional[tuple[Mapping[str, int], Mapping[str, int]]] = None) -> Report:
    """Evaluate the pack on a stack export.

    deployment: the parsed `pulumi stack export` document ({"version": 3, "deployment": ...}).
    config: a parsed pack config (see config.py); None with a stack name loads
        policies/config/<stack>.json, None without one uses the pack's defaults.
    strict: a check that stopped at a value the export keeps encrypted (a policy document stored
        as a secret...) is a mandatory finding instead of a listed skip.
    resource_fields: (ignored, unknown) resource field counts when the resources were reduced to
        the fields the runner reads while the export was streamed (stream.py).
    Raises InputError for an unusable export and ConfigError for an unusable config.
    """
    if config is None and stack is not None:
        config = load_config(stack_config_path(stack))
    elif config is not None:
        config_mod.validate_config(config, rules)
    today = today or dt.datetime.now(dt.timezone.utc).date()
    body = check_export(deployment)
    report = Report(stack=stack)
    report.ignored_fields, report.unknown_fields = field_inventory(deployment)
    if resource_fields is not None:
        report.ignored_fields = dict(sorted({**report.ignored_fields, **resource_fields[0]}.items()))
        report.unknown_fields = dict(sorted({**report.unknown_fields, **resource_fields[1]}.items()))
    resources = build_resources(body, report.skips)
    report.resources = len(resources)
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
            _record_skips(report, rule, None, run.skipped_at)
            continue
        targets = resources if rule.types is None else [r for t in rule.types for r in by_type.get(t, ())]
        for r in targets:
            run = run_resource_rule(rule, r, s.properties, s.suppressions, today)
            if run.findings:
                _record(report, rule, s.level, run.findings, {r.urn: r.type})
            if run.skipped_at:
                _record_skips(report, rule, r, run.skipped_at)
    try:  # the estimate reads every priced resource: a value of a shape it does not expect must not crash the run
        report.cost = estimate(resources)
    except Exception as exc:  # noqa: BLE001 - reported, like a rule's failure
        report.skips.append(Skip("estimate", "", "", f"cost estimate could not be computed "
                                 f"({type(exc).__name__}: {str(exc)[:200]})", unreadable=True))
    if strict:
        for skip in report.skips:
            if skip.unreadable:
                report.violations.append(Violation(skip.policy or "cost-estimate", skip.urn, urn_type(skip.urn),
                                                   Enforcement.MANDATORY.value, "high",
                                                   f"not checked (--strict): {skip.reason}"))
    return report


def _record_skips(report: Report, rule: Rule, resource: Optional[Resource], paths: Sequence[tuple[str, ...]]) -> None:
    for path in paths:
        report.skipped_unknown += 1
        where = "." + ".".join(path) if path else "a value"
        unreadable = isinstance(resource, _ExportResource) and resource.unreadable_at(path)
        reason = (f"{where} is an encrypted secret in the export (not readable offline)" if unreadable
                  else f"{where} is unknown until the update runs")
        report.skips.append(Skip("check", rule.name, resource.urn if resource is not None else "", reason, unreadable))


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
    """JSON-parse an export (orjson when available: exports can be tens of MB).

    Numbers follow what Pulumi's Go decoder reads (64-bit floats): NaN and Infinity tokens, and
    numbers beyond the float range (1e400, a 400-digit integer), are refused with one line.
    """
    try:
        import orjson
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            pass  # fall through for json's precise message (or documents orjson refuses, e.g. huge ints)
    except ImportError:
        pass
    try:
        return loads_pulumi_numbers(text)
    except NumberError as exc:
        raise InputError(str(exc)) from None
    except ValueError as exc:
        raise InputError(f"not valid JSON ({_short(str(exc))})") from None
    except RecursionError:
        raise InputError("JSON nested too deeply to parse") from None
