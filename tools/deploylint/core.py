"""The deploy lint over a stack export: every custom resource's inputs against the service model of
the operation that creates it (tools/deploylint/mapping.py) and the known-constraints table
(tools/deploylint/known.py)."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterator, Mapping, Optional

from tools.deploylint import known, shapes
from tools.deploylint.mapping import NOT_AWS, TYPES, Target, TypeMap

SECRET_SIG = "4dabf18193072939515e22adb298388d"
SECRET_VALUE = "1b47061264138c4ac30d75fd1eb44270"
MODEL = "botocore model"


class InputError(ValueError):
    """The file is not a usable stack export."""


@dataclass(frozen=True)
class Finding:
    urn: str
    type: str
    property: str
    value: Any
    kind: str
    constraint: str
    source: str

    @property
    def message(self) -> str:
        return f"{self.property} = {self.value!r}: {self.constraint} ({self.kind}; {self.source})"

    def as_json(self) -> dict:
        return {"urn": self.urn, "type": self.type, "property": self.property, "value": self.value,
                "constraint": self.constraint, "message": self.message}


@dataclass
class Coverage:
    types: dict[str, str] = field(default_factory=dict)  # type -> "service Operation"
    unmapped: Counter = field(default_factory=Counter)  # type -> resources not checked
    resources: int = 0
    checked: int = 0
    skipped: Counter = field(default_factory=Counter)  # (type, property, reason) -> occurrences


@dataclass
class Report:
    findings: list[Finding]
    coverage: Coverage


def resources_of(doc: Any) -> list[dict]:
    if not isinstance(doc, dict):
        raise InputError("not a stack export: the top level must be a JSON object")
    deployment = doc.get("deployment")
    if not isinstance(deployment, dict) or not isinstance(deployment.get("resources", []), list):
        raise InputError("not a stack export: expected deployment.resources (pulumi stack export, version 3)")
    return [r for r in deployment.get("resources") or [] if isinstance(r, dict)]


def _plain(value: Any, secrets: set, path: str = "") -> Any:
    """Inputs without Pulumi's secret wrappers; records the property paths that held secrets."""
    if isinstance(value, dict):
        if value.get(SECRET_SIG) == SECRET_VALUE:
            secrets.add(path)
            if "ciphertext" in value:  # a real export without --show-secrets: nothing to check
                return shapes.UNKNOWN
            inner = value.get("plaintext", value.get("value"))
            if isinstance(inner, str) and "plaintext" in value:
                try:
                    inner = json.loads(inner)
                except ValueError:
                    pass
            return _plain(inner, secrets, path)
        return {k: _plain(v, secrets, f"{path}.{k}" if path else k) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v, secrets, f"{path}[{i}]") for i, v in enumerate(value)]
    return value


def _logical_name(urn: str) -> str:
    return urn.split("::")[-1]


class _ResourceLint:
    def __init__(self, res: dict, tm: TypeMap, coverage: Coverage):
        self.urn = res.get("urn", "")
        self.type = res.get("type", "")
        self.tm = tm
        self.coverage = coverage
        self.secrets: set = set()
        self.props = _plain(res.get("inputs") or {}, self.secrets)
        self.defaults = set(self.props.pop("__defaults", None) or [])
        self.input = shapes.input_shape(tm.service, tm.operation)

    def skip(self, prop: str, reason: str) -> None:
        self.coverage.skipped[(self.type, prop, reason)] += 1

    def lookup(self, norm: str) -> Optional[tuple]:
        if norm in self.tm.skip:
            return ("skip", self.tm.skip[norm])
        target = self.tm.props.get(norm)
        if target is None:
            return None
        if isinstance(target, Target):
            return ("member", target.member, target.convert)
        return ("member", target, None)

    def provided(self, shape_name: str, member: str) -> bool:
        return f"{shape_name}.{member}" in self.tm.provided

    def finding(self, prop: str, value: Any, kind: str, constraint: str, source: str) -> Finding:
        secret = any(prop == s or prop.startswith(s + ".") or prop.startswith(s + "[") for s in self.secrets)
        return Finding(self.urn, self.type, prop, "[secret]" if secret else value, kind, constraint, source)

    def _place(self, root, target: str):
        """(first member, shape, walk from) for a top-level property's target."""
        if target.startswith("/"):
            return shapes.resolve(self.input, target[1:])
        if ":" in target:
            operation, path = target.split(":", 1)
            return shapes.resolve(shapes.input_shape(self.tm.service, operation), path)
        return shapes.resolve(root, target)

    def run(self) -> Iterator[Finding]:
        tm = self.tm
        root_first, root = shapes.resolve(self.input, tm.root) if tm.root else (None, self.input)
        walker = shapes.Walker(self.skip, self.lookup, self.provided)
        present_root, present_input = set(), {root_first} if root_first else set()
        source = f"{MODEL} {tm.service} {tm.operation}"
        for key, value in self.props.items():
            if value is None:
                continue
            if key == "tags" and value == {}:
                continue
            rule = self.lookup(key)
            if rule and rule[0] == "skip":
                self.skip(key, rule[1])
                continue
            target, convert = (rule[1], rule[2]) if rule else (key, None)
            first, shape = self._place(root, target)
            if shape is None:
                self.skip(key, f"no member {target!r} in {root.name}")
                continue
            if target.startswith("/"):
                present_input.add(first)
            elif ":" not in target:
                present_root.add(first)
            if key in tm.json:
                try:
                    value = json.loads(value)
                except (TypeError, ValueError):
                    yield self.finding(key, value, "type", f"{shape.name} must be a JSON document", source)
                    continue
            if convert is not None:
                value = convert(value, self.props)
            for p in walker.walk(key, key, value, shape):
                src = source if ":" not in target else f"{MODEL} {tm.service} {target.split(':')[0]}"
                yield self.finding(p.path, p.value, p.kind, p.constraint, src)
        yield from self._name(root, present_root)
        for shape, present in ((root, present_root), (self.input, present_input)) if tm.root else ((root, present_root),):
            for req in shape.required_members:
                if req not in present and not self.provided(shape.name, req):
                    yield self.finding(req, None, "required", f"{shape.name}.{req} is required", source)
        self.coverage.checked += walker.checked
        for row in known.KNOWN:
            if self.type in row.types:
                for prop, value, message in row.check(self.props, self.type):
                    yield self.finding(prop, value, row.kind, message, row.source)

    def _name(self, root, present_root: set) -> Iterator[Finding]:
        """The physical name: given, or Pulumi's auto-name (logical name + 8 characters)."""
        tm = self.tm
        if not tm.name:
            return
        target = tm.props.get(tm.name, tm.name)
        target = target.member if isinstance(target, Target) else target
        first, shape = shapes.resolve(root, target)
        name = self.props.get(tm.name)
        auto = name is None or tm.name in self.defaults
        if name is None:
            name = f"{_logical_name(self.urn)}-{'0' * (known.AUTONAME_SUFFIX - 1)}"
            if first:
                present_root.add(first)
            if shape is not None:
                for p in shapes.scalar(tm.name, name, shape):
                    yield self.finding(tm.name, name, p.kind, p.constraint + " (Pulumi auto-name)",
                                       f"{MODEL} {tm.service} {tm.operation}")
        if isinstance(name, str):
            for kind, message, source in known.name_hits(self.type, name, auto):
                yield self.finding(tm.name, name, kind, message, source)


def lint(doc: Any) -> Report:
    coverage = Coverage()
    findings: list[Finding] = []
    for res in resources_of(doc):
        if not res.get("custom"):
            continue
        type_ = res.get("type", "")
        if type_ in NOT_AWS:
            coverage.skipped[(type_, "*", NOT_AWS[type_])] += 1
            continue
        tm = TYPES.get(type_)
        if tm is None:
            coverage.unmapped[type_] += 1
            continue
        coverage.resources += 1
        coverage.types[type_] = f"{tm.service} {tm.operation}"
        findings.extend(_ResourceLint(res, tm, coverage).run())
    return Report(findings, coverage)
