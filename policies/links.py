"""How stack rules see one logical thing spread over several resources.

A security group's ingress may live in the group, in SecurityGroupRule and in vpc
SecurityGroupIngressRule resources; a table's replicas in the table and in TableReplica resources.
Such a resource names its owner by a property (`securityGroupId`, `globalTableArn`) whose value is
often unknown during preview, so the link is taken from the engine's property dependencies (the
owner's URN), and only for owners outside the stack from the literal value.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Optional

from .model import Resource, known


class Links:
    """Resources by URN and who refers to whom through which property."""

    def __init__(self, resources: Sequence[Resource]) -> None:
        self.resources = resources
        self.by_urn = {r.urn: r for r in resources}
        self._referrers: dict[str, list[tuple[Resource, str]]] = {}
        self._names: dict[tuple[frozenset, Optional[str]], dict[str, str]] = {}
        for r in resources:
            for prop, urns in r.deps.items():
                for urn in urns:
                    self._referrers.setdefault(urn, []).append((r, prop))

    def targets(self, r: Resource, prop: str, types: Iterable[str]) -> list[Resource]:
        """Resources of `types` that `r.<prop>` was computed from."""
        wanted = frozenset(types)
        found = (self.by_urn.get(u) for u in r.deps.get(prop, ()))
        return [t for t in found if t is not None and t.type in wanted]

    def owner_key(self, r: Resource, prop: str, types: Iterable[str], name_prop: Optional[str] = None) -> tuple[str, str]:
        """("urn", owner URN) when the owner is in the stack, ("value", literal) for an owner outside
        it, ("self", r.urn) when neither is known (the resource is judged on its own). A literal
        value also finds an owner whose `name_prop` (its physical name, e.g. `bucket`) equals it."""
        owners = self.targets(r, prop, types)
        if owners:
            return "urn", owners[0].urn
        value = known(lambda: r.props.get(prop))
        if isinstance(value, str) and value:
            owner = self._named(frozenset(types), name_prop).get(value)
            return ("urn", owner) if owner else ("value", value)
        return "self", r.urn

    def _named(self, types: frozenset, name_prop: Optional[str]) -> dict[str, str]:
        """URN and (with name_prop) physical name -> URN of the resources of `types`, built once."""
        key = (types, name_prop)
        if key not in self._names:
            index: dict[str, str] = {}
            for o in self.resources:
                if o.type in types:
                    index[o.urn] = o.urn
                    name = known(lambda: o.props.get(name_prop)) if name_prop else None
                    if isinstance(name, str) and name:
                        index.setdefault(name, o.urn)
            self._names[key] = index
        return self._names[key]

    def referrers(self, urn: str) -> list[tuple[Resource, str]]:
        """(resource, property) pairs whose value was computed from the resource `urn`."""
        return list(self._referrers.get(urn, ()))


def items(value: Any) -> list[Any]:
    """The known elements of a list value (absent or not a list: none)."""
    if value is None or isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        return []
    return [v for v in (known(lambda i=i: value[i]) for i in range(len(value))) if v is not None]


def mapping(value: Any) -> Optional[Mapping[str, Any]]:
    return value if isinstance(value, Mapping) else None
