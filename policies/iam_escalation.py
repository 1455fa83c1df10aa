"""Privilege-escalation paths (data/iam-escalation.json) and what one statement grants toward them.

The methods are cloudsplaining 0.9.1's PRIVILEGE_ESCALATION_METHODS (Rhino Security Labs' list
plus the pathfinding.cloud paths; BSD-3-Clause, Salesforce), shipped as data with their source,
plus a few paths that list lacks, each with the reason ("added"). A method applies when every
one of its actions is granted *broadly*: on a resource pattern that matches every resource of
one of the action's resource types (in the account or any account), under NotResource, or, for
actions that take no resource type, at all. Conditions that pin what the action can do neutralise
it: `iam:PolicyARN` for Attach*Policy, `iam:PermissionsBoundary` for policy and boundary writes.
Separately, writing policies or boundaries on the holder itself (its own role or user ARN, or
`${aws:username}` / `${aws:userid}` in a user or role ARN) is self-escalation.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Optional

from .iam_index import action_index, compile_pattern, has_wildcard

if TYPE_CHECKING:
    from .iamlib import Condition, Statement

ESCALATION_FILE = Path(__file__).resolve().parent / "data" / "iam-escalation.json"

SELF_ESCALATION = frozenset({
    "iam:putrolepolicy", "iam:attachrolepolicy", "iam:putuserpolicy", "iam:attachuserpolicy",
    "iam:putgrouppolicy", "iam:attachgrouppolicy", "iam:updateassumerolepolicy",
    "iam:putrolepermissionsboundary", "iam:deleterolepermissionsboundary",
    "iam:putuserpermissionsboundary", "iam:deleteuserpermissionsboundary",
})
_NEUTRALISED_BY = {
    "iam:policyarn": frozenset({"iam:attachrolepolicy", "iam:attachuserpolicy", "iam:attachgrouppolicy"}),
    "iam:permissionsboundary": frozenset({"iam:putrolepolicy", "iam:attachrolepolicy", "iam:putuserpolicy",
                                          "iam:attachuserpolicy", "iam:putrolepermissionsboundary",
                                          "iam:putuserpermissionsboundary"}),
}
_SELF_VARIABLES = ("${aws:username}", "${aws:userid}")


@dataclass(frozen=True)
class Method:
    name: str
    actions: frozenset[str]  # lower-cased
    origin: str  # "cloudsplaining 0.9.1" or "added: <why>"


@functools.lru_cache(maxsize=1)
def methods() -> tuple[Method, ...]:
    data = json.loads(ESCALATION_FILE.read_text(encoding="utf-8"))
    src = data["source"]
    found = [Method(name, frozenset(a.lower() for a in m["actions"]), f"{src['package']} {src['version']}")
             for name, m in data["methods"].items()]
    found += [Method(name, frozenset(a.lower() for a in m["actions"]), f"added: {m['why']}")
              for name, m in data["added"].items()]
    return tuple(found)


@functools.lru_cache(maxsize=1)
def single_action_methods() -> frozenset[str]:
    return frozenset(next(iter(m.actions)) for m in methods() if len(m.actions) == 1)


@functools.lru_cache(maxsize=1)
def relevant_actions() -> frozenset[str]:
    return frozenset().union(*(m.actions for m in methods())) | SELF_ESCALATION | {"iam:passrole"}


@functools.lru_cache(maxsize=4096)
def granted_actions(actions: tuple[str, ...], not_actions: tuple[str, ...],
                    extra: frozenset[str] = frozenset()) -> frozenset[str]:
    """The escalation-relevant actions (plus `extra`) an Allow statement's Action/NotAction grants."""
    index = action_index()
    relevant = relevant_actions() | extra
    if not_actions:
        excluded = frozenset().union(*(index.expand_set(p) for p in not_actions))
        return relevant - excluded
    return frozenset().union(*(relevant & index.expand_set(p) for p in actions)) if actions else frozenset()


def broad_resource(action: str, resources: tuple[str, ...], not_resource: bool) -> Optional[str]:
    """The first resource under which `action` reaches every resource of one of its types."""
    index = action_index()
    if not_resource:
        return "NotResource"
    if not index.resource_level(action):
        return resources[0] if resources else None
    single = next((r for r in resources if index.broad_for(action, r.strip())), None)
    if single is None and len(resources) > 1 and action in index.actions_broad_under_union(
            tuple(r.strip() for r in resources)):
        return " + ".join(resources[:3]) + (" ..." if len(resources) > 3 else "") + " together"
    return single


def neutralised(action: str, restricting_keys: frozenset[str]) -> bool:
    return any(action in _NEUTRALISED_BY.get(k, ()) for k in restricting_keys)


def targets_self(resource: str, holder_arns: tuple[str, ...]) -> bool:
    """The pattern names the holder itself: its own ARN, or a self-referencing policy variable."""
    low = resource.lower()
    if any(v in low for v in _SELF_VARIABLES) and (":user/" in low or ":role/" in low):
        return True
    resource = resource.strip()
    if not ("*" in resource or "?" in resource or "${" in resource):
        return resource in holder_arns
    regex = compile_pattern(resource)
    return any(regex.fullmatch(arn) for arn in holder_arns)


def holder_arns(kind: str, name: Optional[str], pattern: str) -> tuple[str, ...]:
    """ARNs the holder may have, in the pattern's partition and account (literal segments only)."""
    if not name or has_wildcard(name):
        return ()
    parts = pattern.split(":", 5)
    partition = parts[1] if len(parts) > 1 and parts[1] and not has_wildcard(parts[1]) else "aws"
    account = parts[4] if len(parts) > 4 and parts[4] and not has_wildcard(parts[4]) else "123456789012"
    return (f"arn:{partition}:iam::{account}:{kind}/{name}",)


@functools.lru_cache(maxsize=4096)
def statement_grants(actions: tuple[str, ...], not_actions: tuple[str, ...], resources: tuple[str, ...],
                     not_resource: bool, conditions: tuple["Condition", ...],
                     extra: frozenset[str] = frozenset()) -> dict[str, str]:
    """Escalation-relevant action (plus `extra`) -> the broad resource one Allow statement grants
    it on; cached per statement shape."""
    restricting = frozenset(c.key for c in conditions if c.restricts)
    found = {}
    for action in granted_actions(actions, not_actions, extra):
        if neutralised(action, restricting):
            continue
        res = broad_resource(action, resources, not_resource)
        if res is not None:
            found[action] = res
    return found


def self_targets(stmt: "Statement", holder: tuple[str, Optional[str]],
                 broad: frozenset[str]) -> list[tuple[str, str]]:
    """(action, resource) for policy/boundary writes that target the holder itself
    (holder: ("role" | "user" | "group" | "", name or None))."""
    granted = granted_actions(stmt.actions, stmt.not_actions) & SELF_ESCALATION
    restricting = frozenset(c.key for c in stmt.conditions if c.restricts)
    found = []
    for action in sorted(granted - broad):
        if neutralised(action, restricting):
            continue
        for res in stmt.resources:
            if targets_self(res, holder_arns(holder[0], holder[1], res)):
                found.append((action, res))
                break
    return found
