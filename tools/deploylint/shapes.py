"""Checking one value against a botocore shape: the constraints AWS's own service models encode.

botocore's models say, per member of an API operation's input, its type, enum, numeric min/max,
string and list lengths, pattern and which members are required. botocore itself validates only
types and required members client-side; AWS checks the rest at deploy time. This module checks them
all, offline, so a stack export that would fail with a ValidationException fails here first.

Models load lazily, one service at a time, through botocore's own loader (no AWS call, no network).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Optional

UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"  # Pulumi's "known after apply" sentinel


@dataclass(frozen=True)
class Problem:
    """One constraint a value breaks: kind is enum / min / max / min-length / max-length / min-items /
    max-items / pattern / required / type."""
    path: str
    value: Any
    kind: str
    constraint: str


@functools.lru_cache(maxsize=None)
def _loader():
    # The loader and the model classes only: botocore.session would import the whole client stack.
    from botocore.loaders import create_loader

    return create_loader()


@functools.lru_cache(maxsize=None)
def service_model(service: str):
    from botocore.model import ServiceModel

    return ServiceModel(_loader().load_service_model(service, "service-2"), service_name=service)


def input_shape(service: str, operation: str):
    return service_model(service).operation_model(operation).input_shape


@functools.lru_cache(maxsize=None)
def compiled(pattern: str) -> Optional["regex.Pattern"]:
    """AWS matches a member's whole value (Java's Pattern.matches); None when the pattern is not readable."""
    # botocore's patterns are Java regular expressions (\p{L} and friends); the `regex` module reads
    # them. Imported here: the program reads model limits (model_limit) without needing it.
    import regex

    try:
        # Java's \w, \d and \s are ASCII-only unless asked otherwise; \p{...} classes stay Unicode.
        return regex.compile(pattern, regex.V0 | regex.ASCII)
    except regex.error:
        return None


def model_limit(service: str, operation: str, path: str, key: str = "max"):
    """A member's min/max from botocore's model (e.g. ``("appsync", "CreateGraphqlApi", "QueryDepthLimit")``):
    the stack config reads the bounds the deploy lint checks, so both use the same number."""
    _, shape = resolve(input_shape(service, operation), path)
    if shape is None or key not in shape.metadata:
        raise KeyError(f"botocore's {service} {operation} model has no {key} for {path}")
    return shape.metadata[key]


def member(shape, name: str):
    """(real member name, member shape) by case-insensitive name: camelCase inputs, PascalCase models."""
    members = getattr(shape, "members", None) or {}
    if name in members:
        return name, members[name]
    lower = name.lower()
    for key, sub in members.items():
        if key.lower() == lower:
            return key, sub
    return None, None


def resolve(shape, path: str):
    """(first member name, shape) at a member path such as ``Policies.PasswordPolicy`` or
    ``IpPermissions[].IpRanges`` (``[]``: the list's member); (None, None) when the model has no such path."""
    first = None
    for seg in path.split("."):
        is_list = seg.endswith("[]")
        real, shape = member(shape, seg[:-2] if is_list else seg)
        if shape is None:
            return None, None
        first = first or real
        if is_list:
            if shape.type_name != "list":
                return None, None
            shape = shape.member
    return first, shape


def _describe(value: Any) -> Any:
    """The value as a finding shows it: strings as they are, anything long cut to 80 characters."""
    text = value if isinstance(value, str) else repr(value)
    if len(text) <= 80:
        return value
    return text[:77] + "..."


# lookup(normalised property path) -> None (place the key by its own name), ("skip", reason), or
# ("member", member name, converter or None): per-type renames and exceptions live in the caller.
Lookup = Callable[[str], Optional[tuple]]


class Walker:
    """Walks a value against a shape, yielding Problems; counts the leaves it checked and reports each
    key it could not place through ``on_skip(path, reason)``. ``provided(shape, member)`` says a
    required member is filled by the provider from elsewhere (so its absence is not a problem)."""

    def __init__(self, on_skip: Callable[[str, str], None], lookup: Lookup, provided: Callable[[str, str], bool]):
        self.on_skip = on_skip
        self.lookup = lookup
        self.provided = provided
        self.checked = 0

    def walk(self, path: str, norm: str, value: Any, shape) -> Iterator[Problem]:
        if isinstance(value, str) and value == UNKNOWN:
            self.on_skip(norm, "value not in the export (unknown until apply, or an encrypted secret)")
            return
        kind = shape.type_name
        if kind == "structure":
            yield from self._structure(path, norm, value, shape)
        elif kind == "list":
            yield from self._list(path, norm, value, shape)
        elif kind == "map":
            yield from self._map(path, norm, value, shape)
        else:
            self.checked += 1
            yield from scalar(path, value, shape)

    def _structure(self, path, norm, value, shape):
        if not isinstance(value, dict):
            yield Problem(path, _describe(value), "type", f"{shape.name} is a structure, got {type(value).__name__}")
            return
        present = set()
        for key, sub_value in value.items():
            if sub_value is None:
                continue
            sub_norm = f"{norm}.{key}" if norm else key
            sub_path = f"{path}.{key}" if path else key
            rule = self.lookup(sub_norm)
            if rule and rule[0] == "skip":
                self.on_skip(sub_norm, rule[1])
                continue
            target, convert = (rule[1], rule[2]) if rule else (key, None)
            real, sub_shape = resolve(shape, target)
            if sub_shape is None:
                self.on_skip(sub_norm, f"no member {target!r} in {shape.name}")
                continue
            present.add(real)
            if convert is not None:
                sub_value = convert(sub_value, value)
            yield from self.walk(sub_path, sub_norm, sub_value, sub_shape)
        for req in shape.required_members:
            if req not in present and not self.provided(shape.name, req):
                yield Problem(f"{path}.{req}" if path else req, None, "required", f"{shape.name}.{req} is required")

    def _list(self, path, norm, value, shape):
        if isinstance(value, dict) and pair_members(shape.member):
            # Pulumi takes tags and dimensions as maps; the APIs take lists of {Key|Name, Value}.
            k, v = pair_members(shape.member)
            value = [{k: key, v: item} for key, item in value.items()]
        if not isinstance(value, list):
            yield Problem(path, _describe(value), "type", f"{shape.name} is a list, got {type(value).__name__}")
            return
        yield from length(path, value, shape, "items")
        for i, item in enumerate(value):
            yield from self.walk(f"{path}[{i}]", f"{norm}[]", item, shape.member)

    def _map(self, path, norm, value, shape):
        if not isinstance(value, dict):
            yield Problem(path, _describe(value), "type", f"{shape.name} is a map, got {type(value).__name__}")
            return
        yield from length(path, value, shape, "items")
        for key, item in value.items():
            self.checked += 1
            yield from scalar(f"{path}.{key}", key, shape.key)
            yield from self.walk(f"{path}.{key}", f"{norm}.*", item, shape.value)


def pair_members(shape) -> Optional[tuple[str, str]]:
    members = list(getattr(shape, "members", None) or {})
    if shape.type_name == "structure" and len(members) == 2 and "Value" in members:
        other = next(m for m in members if m != "Value")
        if other in ("Key", "Name"):
            return other, "Value"
    return None


def length(path: str, value, shape, unit: str) -> Iterator[Problem]:
    meta = shape.metadata
    n = len(value)
    if "min" in meta and n < meta["min"]:
        yield Problem(path, _describe(value), f"min-{unit}", f"{shape.name}: at least {meta['min']} {unit}, got {n}")
    if "max" in meta and n > meta["max"]:
        yield Problem(path, _describe(value), f"max-{unit}", f"{shape.name}: at most {meta['max']} {unit}, got {n}")


def scalar(path: str, value: Any, shape) -> Iterator[Problem]:
    kind = shape.type_name
    meta = shape.metadata
    if kind == "string":
        if not isinstance(value, str):
            yield Problem(path, value, "type", f"{shape.name} is a string, got {type(value).__name__}")
            return
        enum = getattr(shape, "enum", None) or []
        if enum and value not in enum:
            yield Problem(path, value, "enum", f"{shape.name}: one of {', '.join(enum)}")
        yield from length(path, value, shape, "length")
        pattern = meta.get("pattern")
        if pattern:
            rx = compiled(pattern)
            if rx is not None and not rx.fullmatch(value):
                yield Problem(path, _describe(value), "pattern", f"{shape.name}: must match {pattern}")
    elif kind in ("integer", "long", "float", "double"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            yield Problem(path, value, "type", f"{shape.name} is a number ({kind}), got {type(value).__name__}")
            return
        if kind in ("integer", "long") and float(value) != int(value):
            yield Problem(path, value, "type", f"{shape.name} is a whole number ({kind})")
        if "min" in meta and value < meta["min"]:
            yield Problem(path, value, "min", f"{shape.name}: at least {meta['min']}")
        if "max" in meta and value > meta["max"]:
            yield Problem(path, value, "max", f"{shape.name}: at most {meta['max']}")
    elif kind == "boolean":
        if not isinstance(value, bool):
            yield Problem(path, value, "type", f"{shape.name} is a boolean, got {type(value).__name__}")
    # blob and timestamp members carry no checkable constraint.
