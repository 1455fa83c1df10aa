"""The rule model shared by the CrossGuard pack and the offline runner.

A rule is a small function over a `Resource` view (or, for stack rules, all of them) and its
merged config that yields violation messages. `pack.py` wraps each rule into a pulumi-policy
policy and `engine.py` runs the very same objects over a stack export. Property values are read
through pulumi-policy's own unknown-checking proxy in both places, so reading a value that is
unknown during preview raises `UnknownValueError`; `run_rule` turns that into a skip.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import fnmatch
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Callable, Iterable, Mapping, Optional, Sequence

from pulumi_policy.proxy import UnknownValueError, unknown_checking_proxy

UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"


class Severity(str, Enum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class Enforcement(str, Enum):
    ADVISORY = "advisory"
    MANDATORY = "mandatory"
    DISABLED = "disabled"


def urn_name(urn: str) -> str:
    """The resource name: the last `::` segment of a URN (names may not contain `::`)."""
    return urn.rsplit("::", 1)[-1] if urn else ""


def urn_type(urn: str) -> str:
    """The type token in a URN: the last `$` part of the qualified type."""
    parts = urn.split("::")
    return parts[2].rsplit("$", 1)[-1] if len(parts) >= 4 else ""


class Resource:
    """What a rule sees of one resource: camelCase engine property names, unknowns raise.

    `props` is built lazily from `raw` (already decoded plain data) the first time a rule reads
    it, because most resources are only looked at by a couple of rules.
    """

    __slots__ = ("type", "urn", "name", "parent", "deps", "_props", "_raw", "_provider_props", "_provider_raw")

    def __init__(self, type: str, urn: str = "", *, name: Optional[str] = None,
                 props: Optional[Mapping[str, Any]] = None, raw: Optional[Mapping[str, Any]] = None,
                 provider_props: Optional[Mapping[str, Any]] = None,
                 provider_raw: Optional[Mapping[str, Any]] = None, parent: Optional[str] = None,
                 deps: Optional[Mapping[str, Sequence[str]]] = None) -> None:
        self.type = type
        self.urn = urn
        self.name = name if name is not None else urn_name(urn)
        self.parent = parent
        # property -> URNs of the resources its value came from (the engine's propertyDependencies):
        # how a stack rule links a rule resource to its security group even when the ID is unknown.
        self.deps: Mapping[str, tuple[str, ...]] = {k: tuple(v) for k, v in (deps or {}).items()}
        self._props = props
        self._raw = raw if raw is not None else {}
        self._provider_props = provider_props
        self._provider_raw = provider_raw

    @property
    def props(self) -> Mapping[str, Any]:
        if self._props is None:
            self._props = unknown_checking_proxy(dict(self._raw))
        return self._props

    @property
    def provider_props(self) -> Optional[Mapping[str, Any]]:
        if self._provider_props is None and self._provider_raw is not None:
            self._provider_props = unknown_checking_proxy(dict(self._provider_raw))
        return self._provider_props

    @classmethod
    def of(cls, type: str, props: Mapping[str, Any], *, name: str = "r",
           provider_props: Optional[Mapping[str, Any]] = None, parent: Optional[str] = None,
           stack: str = "test", project: str = "proj",
           deps: Optional[Mapping[str, Sequence[str]]] = None) -> "Resource":
        """A resource as a real preview would present it (for direct rule calls in tests)."""
        urn = f"urn:pulumi:{stack}::{project}::{type}::{name}"
        return cls(type, urn, raw=props, provider_raw=provider_props, parent=parent, deps=deps)

    def __repr__(self) -> str:
        return f"Resource({self.type!r}, {self.urn!r})"


ResourceCheck = Callable[[Resource, Mapping[str, Any]], Iterable[str]]
StackCheck = Callable[[Sequence[Resource], Mapping[str, Any]], Iterable[tuple[Optional[str], str]]]
PackCheck = Callable[[Sequence[Resource], Mapping[str, Any], "PackState"], Iterable[tuple[Optional[str], str]]]


@dataclass(frozen=True, eq=False)
class Rule:
    name: str
    concern: str
    description: str
    remediation: str
    severity: Severity
    enforcement: Enforcement
    kind: str  # "resource" | "stack" | "pack" (a stack rule that also judges the pack's own config)
    check: Callable[..., Iterable[Any]]
    types: Optional[frozenset] = None  # resource types a resource rule looks at; None = all
    config: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # JSON-schema properties

    def defaults(self) -> dict[str, Any]:
        return {k: v["default"] for k, v in self.config.items() if "default" in v}

    def applies_to(self, resource_type: str) -> bool:
        return self.types is None or resource_type in self.types


def resource_rule(*, name: str, concern: str, severity: Severity, enforcement: Enforcement,
                  description: str, remediation: str, types: Optional[Iterable[str]] = None,
                  config: Optional[Mapping[str, Mapping[str, Any]]] = None) -> Callable[[ResourceCheck], Rule]:
    def wrap(fn: ResourceCheck) -> Rule:
        return Rule(name, concern, description, remediation, severity, enforcement, "resource", fn,
                    frozenset(types) if types is not None else None, dict(config or {}))
    return wrap


def stack_rule(*, name: str, concern: str, severity: Severity, enforcement: Enforcement,
               description: str, remediation: str,
               config: Optional[Mapping[str, Mapping[str, Any]]] = None) -> Callable[[StackCheck], Rule]:
    def wrap(fn: StackCheck) -> Rule:
        return Rule(name, concern, description, remediation, severity, enforcement, "stack", fn,
                    None, dict(config or {}))
    return wrap


def pack_rule(*, name: str, concern: str, severity: Severity, enforcement: Enforcement,
              description: str, remediation: str,
              config: Optional[Mapping[str, Mapping[str, Any]]] = None) -> Callable[[PackCheck], Rule]:
    def wrap(fn: PackCheck) -> Rule:
        return Rule(name, concern, description, remediation, severity, enforcement, "pack", fn,
                    None, dict(config or {}))
    return wrap


# ---------------------------------------------------------------------------------------------
# Suppressions


@dataclass(frozen=True)
class Suppression:
    """Silences one rule's findings on resources whose URN or name matches `resource`.

    `resource` is a glob: it is matched against the URN when it starts with `urn:`, else against
    the resource name. Stack-level findings (no resource) are matched by the pattern `stack`.
    """

    resource: str
    reason: str
    expires: Optional[dt.date] = None

    def matches(self, urn: Optional[str]) -> bool:
        if not urn:
            return self.resource == "stack"
        subject = urn if self.resource.startswith("urn:") else urn_name(urn)
        return fnmatch.fnmatchcase(subject, self.resource)

    def expired(self, today: dt.date) -> bool:
        return self.expires is not None and today > self.expires

    def describe(self) -> str:
        until = f", expired {self.expires.isoformat()}" if self.expires else ""
        return f"suppression {self.resource!r} ({self.reason}{until})"


def parse_suppressions(entries: Any) -> tuple[Suppression, ...]:
    """Suppressions from already schema-checked config (see config.py for the error messages)."""
    result = []
    for entry in entries or ():
        expires = entry.get("expires")
        result.append(Suppression(entry["resource"], entry["reason"].strip(),
                                  dt.date.fromisoformat(expires) if expires else None))
    return tuple(result)


@dataclass(frozen=True)
class PackState:
    """What pack rules judge besides the resources: the other policies' config as it was applied.

    suppressions: (rule, its suppressions) for every policy that runs with a usable config.
    errors: policy name -> why its config cannot be used (the policy is not evaluated).
    """

    suppressions: tuple[tuple[Rule, tuple[Suppression, ...]], ...] = ()
    errors: Mapping[str, str] = field(default_factory=dict)
    today: dt.date = dt.date.min


# ---------------------------------------------------------------------------------------------
# Running a rule


@dataclass(frozen=True)
class Finding:
    urn: Optional[str]
    message: str
    suppressed_by: Optional[Suppression] = None


@dataclass
class RuleRun:
    findings: list[Finding] = field(default_factory=list)
    skipped_unknown: int = 0  # resources (or the stack) where a needed value was unknown
    skipped_at: list[tuple[str, ...]] = field(default_factory=list)  # the unknown value's property path, per skip

    @property
    def violations(self) -> list[Finding]:
        return [f for f in self.findings if f.suppressed_by is None]


# The run whose rule is executing: `known()` records the values it steps over there, so a part of a
# check skipped on an unknown value is counted like a whole check that stopped at one.
_CURRENT_RUN: contextvars.ContextVar[Optional["RuleRun"]] = contextvars.ContextVar("current_rule_run", default=None)


def _note_skip(run: "RuleRun", exc: UnknownValueError) -> None:
    path = tuple(getattr(exc, "props", None) or ())
    if path not in run.skipped_at:
        run.skipped_unknown += 1
        run.skipped_at.append(path)


def _collect(produce: Callable[[], Iterable[Any]], run: RuleRun, wrap: Callable[[str], Any]) -> list[Any]:
    out: list[Any] = []
    token = _CURRENT_RUN.set(run)
    try:
        for item in produce():
            out.append(item)
    except UnknownValueError as exc:
        # Whatever was found before the unknown value still stands; the rest is skipped.
        _note_skip(run, exc)
    except Exception as exc:  # a value of an unexpected shape: report it rather than crash the preview
        out.append(wrap(f"could not evaluate: unexpected value ({type(exc).__name__}: {str(exc)[:200]})"))
    finally:
        _CURRENT_RUN.reset(token)
    return out


def _settle(raw: list[tuple[Optional[str], str]], suppressions: Sequence[Suppression],
            today: dt.date, run: RuleRun, resource_urn: Optional[str] = None) -> None:
    """Apply suppressions; expired ones stop suppressing and are reported themselves.

    An expired suppression that no longer matches any finding is reported once: for a resource
    rule on each resource it matches, for a stack rule on the stack.
    """
    reported = set()
    for urn, message in raw:
        active = next((s for s in suppressions if s.matches(urn) and not s.expired(today)), None)
        if active is not None:
            run.findings.append(Finding(urn, message, active))
            continue
        for s in suppressions:
            if s.matches(urn) and s.expired(today):
                message += f" [{s.describe()}: no longer suppressed]"
                reported.add(s)
        run.findings.append(Finding(urn, message))
    for s in suppressions:
        if s in reported or not s.expired(today):
            continue
        if resource_urn is None or s.matches(resource_urn):
            run.findings.append(Finding(resource_urn, f"{s.describe()} is still configured: remove or renew it"))


def run_resource_rule(rule: Rule, resource: Resource, config: Mapping[str, Any],
                      suppressions: Sequence[Suppression], today: dt.date) -> RuleRun:
    run = RuleRun()
    messages = _collect(lambda: rule.check(resource, config), run, lambda m: m)
    _settle([(resource.urn, m) for m in messages], suppressions, today, run, resource.urn)
    return run


def run_stack_rule(rule: Rule, resources: Sequence[Resource], config: Mapping[str, Any],
                   suppressions: Sequence[Suppression], today: dt.date,
                   state: Optional[PackState] = None) -> RuleRun:
    """Run a stack rule, or a pack rule with `state` (an empty state when not given)."""
    run = RuleRun()
    if rule.kind == "pack":
        pack_state = state if state is not None else PackState(today=today)
        raw = _collect(lambda: rule.check(resources, config, pack_state), run, lambda m: (None, m))
    else:
        raw = _collect(lambda: rule.check(resources, config), run, lambda m: (None, m))
    _settle(raw, suppressions, today, run)
    return run


def num(value: Any) -> str:
    """A number as people write it: the engine sends every number as a float (443.0 -> 443)."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def known(fn: Callable[[], Any], default: Any = None) -> Any:
    """`fn()`, or `default` when it reads a value that is unknown during preview (or encrypted in an
    export); inside a rule the skipped value is recorded on the rule's run, so it is counted."""
    try:
        return fn()
    except UnknownValueError as exc:
        run = _CURRENT_RUN.get()
        if run is not None:
            _note_skip(run, exc)
        return default
