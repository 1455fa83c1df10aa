"""IAM policy documents and the IAM action dataset the IAM rules judge them with.

Documents arrive as JSON strings or as objects (pulumi-aws' typed `PolicyDocument` inputs use
the same PascalCase keys), `Statement` as an object or a list, `Action`/`Resource` as a string
or a list. Action names are case-insensitive. The action index and ARN-pattern semantics live in
iam_index.py, condition semantics in iam_conditions.py, escalation paths in iam_escalation.py;
this module re-exports what rules use.
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Optional

from pulumi_policy.proxy import UnknownValueError, unknown_checking_proxy

from .iam_conditions import principal_wildcard, values_restrict, wildcard_only
from .iam_index import ActionIndex, action_index  # noqa: F401  (re-exported for rules)

# ---------------------------------------------------------------------------------------------
# Documents


class PolicyDocumentError(ValueError):
    """The document is not a policy AWS would accept (bad JSON, no statements...)."""


def _as_list(value: Any) -> list:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, Sequence):
        return list(value)
    return [value]


@dataclass(frozen=True)
class Condition:
    """One `Condition` entry: operator as written, lower-cased key, values as strings."""

    operator: str
    key: str
    values: tuple[str, ...]

    @property
    def restricts(self) -> bool:
        """Whether the condition actually narrows who or what matches (see iam_conditions):
        a positive operator (not negated, `Null`, `...IfExists` or `ForAllValues:`) and values
        that are all narrow for the key (a literal account or org id, an ARN pinning the
        account, no wildcard-only value)."""
        return values_restrict(self.operator, self.key, self.values)


@dataclass(frozen=True)
class Statement:
    index: int
    sid: str
    effect: str  # lower-cased
    actions: tuple[str, ...]
    not_actions: tuple[str, ...]
    resources: tuple[str, ...]
    not_resources: tuple[str, ...]
    principal: Optional[dict[str, tuple[str, ...]]]  # {"AWS": (...), "Service": (...)}; "*" -> AWS
    not_principal: bool
    conditions: tuple[Condition, ...]
    # Parts whose value is unknown during preview ("Resource", "Condition"...): read as empty, so an
    # unknown Resource hides only what depends on it and a known `Action: "*"` is still judged.
    unknown: frozenset = frozenset()

    @property
    def label(self) -> str:
        return f"statement {self.sid!r}" if self.sid else f"statement #{self.index}"

    @property
    def allows(self) -> bool:
        return self.effect == "allow"

    def has_condition(self, keys: Sequence[str]) -> bool:
        """A condition on one of `keys` (globs) that really restricts (see Condition.restricts).
        An unknown Condition may restrict, so it counts (its statement is not reported for lacking one)."""
        if "Condition" in self.unknown:
            return True
        wanted = [k.lower() for k in keys]
        return any(c.restricts and any(fnmatch.fnmatchcase(c.key, want) for want in wanted)
                   for c in self.conditions)

    @property
    def restricted(self) -> bool:
        return "Condition" in self.unknown or any(c.restricts for c in self.conditions)

    @property
    def open_principal(self) -> bool:
        """Principal `*`, or any principal value with a wildcard in it."""
        if self.principal is None:
            return False
        return any(principal_wildcard(p) for values in self.principal.values() for p in values)


def load_document(value: Any) -> Any:
    """A document as a mapping; JSON strings are parsed and wrapped so unknowns inside raise."""
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except ValueError as exc:
            raise PolicyDocumentError(f"not valid JSON ({exc})") from None
        return unknown_checking_proxy(parsed) if isinstance(parsed, (dict, list)) else parsed
    return value


def statements(value: Any) -> Iterator[Statement]:
    """Normalized statements; a statement with an unknown part is skipped, the rest still count."""
    doc = load_document(value)
    if not isinstance(doc, Mapping):
        raise PolicyDocumentError("must be a JSON object")
    if "Statement" not in doc:
        raise PolicyDocumentError("has no Statement")
    raw = doc["Statement"]
    items = [raw] if isinstance(raw, Mapping) else raw
    if isinstance(items, str) or not isinstance(items, Sequence):
        raise PolicyDocumentError("Statement must be an object or a list of objects")
    for index in range(len(items)):
        try:
            stmt = _statement(index, items[index])
        except UnknownValueError:
            continue
        yield stmt


_STRING_OR_LIST = ("Action", "NotAction", "Resource", "NotResource")


def validate_document(value: Any, kind: str = "identity") -> list[str]:
    """Problems AWS would reject the document for (empty when it is acceptable).

    kind is "identity", "trust" or "resource": identity policies need Resource or NotResource
    in every statement and may not name a Principal.
    """
    problems = []
    doc = load_document(value)
    if not isinstance(doc, Mapping):
        return [f"must be a JSON object (got {as_json(doc)})"]
    if "Statement" not in doc:
        return ["has no Statement"]
    raw = doc["Statement"]
    items = [raw] if isinstance(raw, Mapping) else raw
    if isinstance(items, str) or not isinstance(items, Sequence):
        return [f"Statement must be an object or a list of objects (got {as_json(raw)})"]
    for index in range(len(items)):
        try:
            problems.extend(_statement_problems(index, items[index], kind))
        except UnknownValueError:
            continue
    return problems


def _statement_problems(index: int, item: Any, kind: str) -> list[str]:
    where = f"statement #{index}"
    if not isinstance(item, Mapping):
        return [f"{where} is not an object (got {as_json(item)})"]
    problems = []
    effect = item.get("Effect")
    if not isinstance(effect, str) or effect.lower() not in ("allow", "deny"):
        problems.append(f"{where} needs Effect Allow or Deny")
    if ("Action" in item) == ("NotAction" in item):
        problems.append(f"{where} needs exactly one of Action or NotAction")
    for key in _STRING_OR_LIST:
        if key in item and not _is_string_or_strings(item[key]):
            problems.append(f"{where} {key} must be a string or a list of strings (got {as_json(item[key])})")
    if kind == "identity":
        if ("Resource" in item) == ("NotResource" in item):
            problems.append(f"{where} needs exactly one of Resource or NotResource")
        if "Principal" in item or "NotPrincipal" in item:
            problems.append(f"{where} names a Principal, which identity policies may not (AWS rejects it)")
    return problems


def _is_string_or_strings(value: Any) -> bool:
    if isinstance(value, str):
        return True
    return isinstance(value, Sequence) and all(isinstance(value[i], str) for i in range(len(value)))


def to_plain(value: Any) -> Any:
    """Proxied (or plain) data as plain dicts and lists."""
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        return {str(k): to_plain(value[k]) for k in value}
    if isinstance(value, Sequence):
        return [to_plain(value[i]) for i in range(len(value))]
    return value


def as_json(value: Any, limit: int = 80) -> str:
    """A value as compact JSON for a message (never a proxy object's repr)."""
    text = json.dumps(to_plain(value), separators=(", ", ": "), default=str)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _strings(value: Any) -> tuple[str, ...]:
    """The strings of a string-or-list value; anything else is left to iam-policy-document-valid.
    An unknown element hides only itself (`Action: ["*", <unknown>]` still grants '*')."""
    if isinstance(value, str) or value is None or not isinstance(value, Sequence):
        return tuple(v for v in _as_list(value) if isinstance(v, str))
    found = []
    for i in range(len(value)):
        try:
            item = value[i]
        except UnknownValueError:
            continue
        if isinstance(item, str):
            found.append(item)
    return tuple(found)


def _condition_values(value: Any) -> tuple[str, ...]:
    return tuple(v if isinstance(v, str) else json.dumps(to_plain(v)) for v in _as_list(value))


def _statement(index: int, item: Any) -> Statement:
    if not isinstance(item, Mapping):
        raise PolicyDocumentError(f"statement #{index} is not an object")
    try:
        return _read_statement(index, item, None)
    except UnknownValueError:
        return _read_statement(index, item, set())  # again, part by part: an unknown part hides only itself


def _read_statement(index: int, item: Mapping[str, Any], unknown: Optional[set[str]]) -> Statement:
    """The statement; with `unknown` a set, an unknown part is recorded there and read as absent."""

    def part(key: str, read: Any) -> Any:
        if unknown is None:
            return read()
        try:
            return read()
        except UnknownValueError:
            unknown.add(key)
            return None

    principal = part("Principal", lambda: _principal(item))
    conditions = part("Condition", lambda: _conditions(item)) or ()
    effect = part("Effect", lambda: item.get("Effect", ""))
    return Statement(
        index=index,
        sid=str(part("Sid", lambda: item.get("Sid", "")) or ""),
        effect=effect.lower() if isinstance(effect, str) else "",
        actions=part("Action", lambda: _strings(item.get("Action"))) or (),
        not_actions=part("NotAction", lambda: _strings(item.get("NotAction"))) or (),
        resources=part("Resource", lambda: _strings(item.get("Resource"))) or (),
        not_resources=part("NotResource", lambda: _strings(item.get("NotResource"))) or (),
        principal=principal,
        not_principal="NotPrincipal" in item,
        conditions=tuple(conditions),
        unknown=frozenset(unknown or ()),
    )


def _principal(item: Mapping[str, Any]) -> Optional[dict[str, tuple[str, ...]]]:
    principal = None
    raw_principal = item.get("Principal", item.get("NotPrincipal"))
    if raw_principal is not None:
        if isinstance(raw_principal, str):
            principal = {"AWS": (raw_principal,)}
        elif isinstance(raw_principal, Mapping):
            principal = {str(k): _strings(raw_principal[k]) for k in raw_principal}
    return principal


def _conditions(item: Mapping[str, Any]) -> list[Condition]:
    conditions = []
    condition = item.get("Condition")
    if isinstance(condition, Mapping):
        for operator in condition:
            block = condition[operator]
            if isinstance(block, Mapping):
                conditions.extend(Condition(str(operator), str(k).lower(), _condition_values(block[k]))
                                  for k in block)
    return conditions


# ---------------------------------------------------------------------------------------------
# Resource patterns


def is_broad_resource(resource: str) -> bool:
    """True when the pattern matches every resource of some resource type, in the account or in
    every account (`*`, `...:role/*`, `role/?*`, `...:policy*`, `secret:?*`; see iam_index)."""
    return bool(action_index().resource_breadth(resource.strip()))


def is_wildcard_only(value: str) -> bool:
    """True for values that match anything: `*`, `?*`, or a broad ARN with no account to pin it
    (`arn:aws:s3:::*`, `arn:aws:sns:*:*:*`). `arn:aws:sns:*:123456789012:*` names an account."""
    return wildcard_only(value)


def managed_policy_name(arn: str) -> Optional[str]:
    """`path/Name` of an AWS managed policy ARN (`arn:<partition>:iam::aws:policy/...`), else None."""
    match = re.match(r"^arn:aws[a-z-]*:iam::aws:policy/(.+)$", arn.strip())
    return match.group(1) if match else None
