"""The IAM action index (data/iam-index.json) and what action and ARN patterns match.

Actions: `service:Action` names with `*`/`?` wildcards, case-insensitive. Resources: ARN
patterns, case-sensitive, with `*`/`?` wildcards and policy variables. A resource pattern is
*broad* for a resource type when it matches every resource of that type, in one account
("account") or in every account ("any"). That is decided against the type's ARN format from the
IAM dataset (`arn:${Partition}:iam::${Account}:role/${RoleNameWithPath}`): the pattern's own
partition, region and account segments are kept, every other variable of the format is filled
with two generic names that share no letter or digit (only separators), and the pattern is broad
when it matches both. So `role/*`, `role/?*`, `role/*-*`, `...:policy*` and `secret:?*` are
broad; `role/app-*`, `table/t/index/*` and `bucket/*` are not. Every result is cached per
pattern, so repeated statements cost a dictionary lookup.
"""

from __future__ import annotations

import fnmatch
import functools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

INDEX_FILE = Path(__file__).resolve().parent / "data" / "iam-index.json"

# Variables whose value the caller controls or that change per request: they match anything.
# Variables bound to the caller's identity (one value per principal) match only that value.
_IDENTITY_VARIABLES = frozenset({"aws:username", "aws:principalaccount", "aws:principalorgid",
                                 "aws:principaltype", "aws:sourceaccount", "aws:federatedprovider"})
_IDENTITY_SUFFIXES = (":sub", ":user_id", ":id")
_ESCAPES = {"*": "*", "?": "?", "$": "$"}  # ${*} ${?} ${$} are literal characters
_VARIABLE = re.compile(r"\$\{([^}]*)\}")

# Two names with disjoint letters and digits; both contain the separators names use, so a
# pattern that only adds separators to wildcards (`*-*`, `*/*`) still counts as matching all.
SAMPLE_NAMES = ("ab1-c_d.e/f:g" * 6 + "-ab1cde", "XY9-Z_W.V/U:T" * 6 + "-XY9ZWV")
# Names that several patterns must cover between them: varied first characters and shapes.
UNION_SAMPLES = SAMPLE_NAMES + tuple(f"{c}{body}" for c in "aAzZ09_m" for body in ("q", "-x.y/z" * 11))
_ANY_ACCOUNTS = ("111122223333", "444455556666")
_DEFAULTS = {"partition": "aws", "region": "us-east-1", "account": "123456789012"}


def _sentinel(name: str) -> str:
    return f"\x00{name.lower()}\x00"


def variable_is_identity(name: str) -> bool:
    base, _, default = name.partition(",")  # ${aws:username, 'default'}
    if "*" in default or "?" in default:
        return False
    low = base.strip().lower()
    return low in _IDENTITY_VARIABLES or low.startswith("saml:") or low.endswith(_IDENTITY_SUFFIXES)


def has_open_variable(text: str) -> bool:
    """True when the text holds a policy variable the caller controls (`${aws:PrincipalTag/x}`)."""
    return any(m.group(1) not in _ESCAPES and not variable_is_identity(m.group(1)) for m in _VARIABLE.finditer(text))


def has_wildcard(text: str) -> bool:
    """`*`, `?` or a caller-controlled policy variable anywhere (escaped `${*}` does not count)."""
    plain = _VARIABLE.sub(lambda m: "" if m.group(1) in _ESCAPES else m.group(0), text)
    return "*" in _VARIABLE.sub("", plain) or "?" in _VARIABLE.sub("", plain) or has_open_variable(text)


@functools.lru_cache(maxsize=65536)
def compile_pattern(pattern: str) -> re.Pattern:
    """A resource pattern as a regular expression over whole ARNs."""
    out = []
    pos = 0
    for m in _VARIABLE.finditer(pattern):
        out.append(_glob(pattern[pos:m.start()]))
        name = m.group(1)
        if name in _ESCAPES:
            out.append(re.escape(_ESCAPES[name]))
        elif variable_is_identity(name):
            out.append(re.escape(_sentinel(name)))
        else:
            out.append(".*")
        pos = m.end()
    out.append(_glob(pattern[pos:]))
    return re.compile("".join(out), re.S)


def _glob(text: str) -> str:
    return "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in text)


def _witness(segment: Optional[str], default: str) -> str:
    """A concrete value the pattern segment matches (the pattern's own value when it has one)."""
    if segment is None:
        return default
    bare = _VARIABLE.sub("", segment)
    if bare and set(bare) <= {"*", "?"} and not _VARIABLE.search(segment):
        return default

    def var(m: re.Match) -> str:
        name = m.group(1)
        return _ESCAPES.get(name) or (_sentinel(name) if variable_is_identity(name) else "")

    parts = []
    pos = 0
    for m in _VARIABLE.finditer(segment):
        parts.append(segment[pos:m.start()].replace("*", "").replace("?", "0"))
        parts.append(var(m))
        pos = m.end()
    parts.append(segment[pos:].replace("*", "").replace("?", "0"))
    return "".join(parts)


@dataclass(frozen=True)
class ResourceType:
    key: str  # "iam:role"
    arn: str  # "arn:${Partition}:iam::${Account}:role/${RoleNameWithPath}"

    @property
    def arn_service(self) -> str:
        return self.arn.split(":")[2]

    def fill(self, partition: str, region: str, account: str, name: str) -> str:
        values = {"Partition": partition, "Region": region, "Account": account}
        return _VARIABLE.sub(lambda m: values.get(m.group(1), name), self.arn)


class ActionIndex:
    """Lower-cased `service:action` names, their access level and resource types, and the ARN
    formats of every resource type."""

    def __init__(self, data: Mapping) -> None:
        self.source = str(data.get("source", "unknown"))
        self.version = self.source
        self._raw = data["services"]
        self.services = _LazyServices(self._raw)
        self.types: dict[str, ResourceType] = {}
        by_service: dict[str, list[ResourceType]] = {}
        for svc, entry in self._raw.items():
            for name, arn in entry["resources"]:
                rt = ResourceType(f"{svc}:{name}", arn)
                self.types[rt.key] = rt
                by_service.setdefault(rt.arn_service, []).append(rt)
        self._by_arn_service = {k: tuple(v) for k, v in by_service.items()}

    @classmethod
    def load(cls, path: Path = INDEX_FILE) -> "ActionIndex":
        return cls(json.loads(path.read_text(encoding="utf-8")))

    # -- actions ---------------------------------------------------------------------------

    @functools.lru_cache(maxsize=65536)
    def expand(self, pattern: str) -> Optional[tuple[str, ...]]:
        """Lower-cased actions matching an action pattern; None if the service or action is unknown."""
        found = self.expand_set(pattern)
        return tuple(sorted(found)) if found else None

    @functools.lru_cache(maxsize=65536)
    def expand_set(self, pattern: str) -> frozenset[str]:
        pattern = pattern.strip().lower()
        if pattern and set(pattern) <= {"*", "?"} and "*" in pattern:
            pattern = "*:*"
        service, sep, action = pattern.partition(":")
        if not sep or not service or not action:
            return frozenset()
        if any(ch in service for ch in "*?"):
            services = [s for s in self._raw if fnmatch.fnmatchcase(s, service)]
        else:
            services = [service] if service in self._raw else []
        found: list[str] = []
        every = _wildcards_only(action)
        regex = re.compile(fnmatch.translate(action)) if any(ch in action for ch in "*?") and not every else None
        for svc in services:
            actions = self.services[svc]
            if every:  # `*`, `*?`...: every name at least as long as the `?`s
                found.extend(f"{svc}:{a}" for a in actions if len(a) >= action.count("?"))
            elif regex is not None:
                found.extend(f"{svc}:{a}" for a in actions if regex.match(a))
            elif action in actions:
                found.append(f"{svc}:{action}")
        return frozenset(found)

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

    def _entry(self, action: str) -> Optional[tuple[str, str, tuple[str, ...]]]:
        service, _, name = action.lower().partition(":")
        return self.services.get(service, {}).get(name)

    def resource_level(self, action: str) -> bool:
        entry = self._entry(action)
        return bool(entry and entry[2])

    def resource_types(self, action: str) -> tuple[str, ...]:
        entry = self._entry(action)
        return entry[2] if entry else ()

    def access_level(self, action: str) -> str:
        entry = self._entry(action)
        return entry[1] if entry else ""

    def canonical(self, action: str) -> str:
        entry = self._entry(action)
        return entry[0] if entry else action

    # -- resources -------------------------------------------------------------------------

    @functools.lru_cache(maxsize=65536)
    def _context(self, pattern: str) -> Optional[tuple]:
        """(regex, candidate types, partition, region, account witnesses, service) of a wildcard pattern."""
        if not pattern or not ("*" in pattern or "?" in pattern or "${" in pattern):
            return None  # a literal names one resource, never all of a type
        parts = pattern.split(":", 5) if pattern.startswith("arn:") else []
        seg = (lambda i: parts[i] if len(parts) > i + (1 if i < 5 else 0) else None)
        service = seg(2)
        if service is not None and not has_wildcard(service) and "$" not in service:
            candidates = self._by_arn_service.get(service, ())
        else:
            candidates = tuple(self.types.values())
        return (compile_pattern(pattern), candidates, _witness(seg(1), _DEFAULTS["partition"]),
                _witness(seg(3), _DEFAULTS["region"]), _witness(seg(4), _DEFAULTS["account"]), service)

    @functools.lru_cache(maxsize=65536)
    def resource_breadth(self, pattern: str) -> Mapping[str, str]:
        """Resource type key -> "any" or "account" for every type the pattern matches whole."""
        pattern = pattern.strip()
        if pattern and set(pattern) <= {"*", "?"} and "*" in pattern:
            return dict.fromkeys(self.types, "any")  # `*`, `?*`: every ARN there is
        context = self._context(pattern)
        if context is None:
            return {}
        regex, candidates, partition, region, account, service = context
        result: dict[str, str] = {}
        for rt in candidates:
            if not all(regex.fullmatch(rt.fill(partition, region, account, n)) for n in SAMPLE_NAMES):
                continue
            anywhere = all(regex.fullmatch(rt.fill(partition, region, a, SAMPLE_NAMES[0])) for a in _ANY_ACCOUNTS)
            result[rt.key] = "any" if anywhere else "account"
        if not candidates and service is not None:
            level = _untyped_breadth(pattern)
            if level:
                result[f"{service.lower()}:*"] = level
        return result

    @functools.lru_cache(maxsize=16384)
    def union_breadth(self, patterns: tuple[str, ...]) -> Mapping[str, str]:
        """Types that several patterns cover *together* (none alone), e.g. `role/a*` ... `role/z*`,
        `role/0*` ...: every one of more varied sample names is matched by some pattern that shares
        the same partition, region and account. Level "account"."""
        contexts = [c for c in (self._context(p.strip()) for p in patterns) if c is not None]
        if len(contexts) < 2:
            return {}
        groups: dict[tuple, list] = {}
        for c in contexts:
            groups.setdefault(c[2:5], []).append(c)
        single = set().union(*(self.resource_breadth(p.strip()) for p in patterns))
        result: dict[str, str] = {}
        for (partition, region, account), members in groups.items():
            if len(members) < 2:
                continue
            types = {rt.key: rt for c in members for rt in c[1]}
            for key, rt in types.items():
                if key in single:
                    continue
                if all(any(c[0].fullmatch(rt.fill(partition, region, account, n)) for c in members)
                       for n in UNION_SAMPLES):
                    result[key] = "account"
        return result

    @functools.lru_cache(maxsize=16384)
    def actions_broad_under_union(self, patterns: tuple[str, ...]) -> frozenset[str]:
        breadth = self.union_breadth(patterns)
        if not breadth:
            return frozenset()
        by_type = self.actions_by_type
        return frozenset().union(*(by_type.get(k, frozenset()) for k in breadth))

    @functools.cached_property
    def actions_by_type(self) -> Mapping[str, frozenset[str]]:
        """Resource type key -> lower-cased actions that take it (built on first use)."""
        found: dict[str, set[str]] = {}
        for svc in self._raw:
            for name, (_, _, types) in self.services[svc].items():
                for key in types:
                    found.setdefault(key, set()).add(f"{svc}:{name}")
        return {k: frozenset(v) for k, v in found.items()}

    @functools.cached_property
    def resource_level_actions(self) -> frozenset[str]:
        return frozenset().union(*self.actions_by_type.values())

    def broad_among(self, actions: frozenset[str], pattern: str) -> frozenset[str]:
        """The actions of `actions` that take a resource type the pattern matches whole; small
        sets are checked one by one, large ones (`*`) through the type -> actions map."""
        breadth = self.resource_breadth(pattern)
        if not breadth or not actions:
            return frozenset()
        if len(actions) > 2000:
            return actions & self.actions_broad_under(pattern)
        return frozenset(a for a in actions if any(k in breadth for k in self.resource_types(a)))

    def resource_level_among(self, actions: frozenset[str]) -> frozenset[str]:
        if len(actions) > 2000:
            return actions & self.resource_level_actions
        return frozenset(a for a in actions if self.resource_level(a))

    @functools.lru_cache(maxsize=65536)
    def actions_broad_under(self, pattern: str) -> frozenset[str]:
        """Every action one of whose resource types the pattern matches whole (see resource_breadth)."""
        breadth = self.resource_breadth(pattern)
        if not breadth:
            return frozenset()
        by_type = self.actions_by_type
        found = frozenset().union(*(by_type.get(k, frozenset()) for k in breadth))
        unknown = [k.split(":", 1)[0] for k in breadth if k.endswith(":*")]
        return found | frozenset(f"{svc}:*" for svc in unknown)

    def broad_for(self, action: str, pattern: str) -> Optional[str]:
        """"any"/"account" when the pattern matches every resource of one of the action's
        resource types; None otherwise (also for actions that take no resource type)."""
        breadth = self.resource_breadth(pattern)
        if not breadth:
            return None
        levels = [breadth[k] for k in self.resource_types(action) if k in breadth]
        if not levels and len(breadth) == 1 and next(iter(breadth)).endswith(":*"):
            levels = list(breadth.values())  # a service the dataset has no ARN formats for
        if not levels:
            return None
        return "any" if "any" in levels else "account"


class _LazyServices(dict):
    """Service prefix -> {action: (canonical, access level, resource type keys)}, built on first use."""

    def __init__(self, raw: Mapping) -> None:
        super().__init__()
        self._raw = raw

    def __missing__(self, svc: str) -> dict:
        entry = self._raw[svc]
        names = [f"{svc}:{name}" for name, _ in entry["resources"]]
        prefix = entry["prefix"]
        actions = {}
        for item in entry["actions"].split(";") if entry["actions"] else ():
            name, level, *refs = item.split(" ")
            types = tuple(names[int(i)] for i in refs[0].split(",")) if refs else ()
            actions[name.lower()] = (f"{prefix}:{name}", level, types)
        self[svc] = actions
        return actions

    def get(self, svc, default=None):  # type: ignore[override]
        return self[svc] if svc in self._raw else default

    def __contains__(self, svc: object) -> bool:
        return svc in self._raw

    def __iter__(self):
        return iter(self._raw)


def _wildcards_only(text: str) -> bool:
    return "*" in text and set(text) <= {"*", "?"}


def _untyped_breadth(pattern: str) -> Optional[str]:
    """For services the dataset has no ARN format for: broad when the resource part is wildcards."""
    parts = pattern.split(":", 5)
    if len(parts) < 6:
        return "any" if len(parts) < 5 or has_wildcard(parts[-1]) else None
    ident = re.split(r"[/:]", parts[5], maxsplit=1)[-1] if re.search(r"[/:]", parts[5]) else parts[5]
    if not (ident in ("", "*") or _wildcards_only(ident) or has_open_variable(ident) and
            not _VARIABLE.sub("", ident).strip("*?")):
        return None
    return "any" if not parts[4] or has_wildcard(parts[4]) else "account"


@functools.lru_cache(maxsize=1)
def action_index() -> ActionIndex:
    return ActionIndex.load()
