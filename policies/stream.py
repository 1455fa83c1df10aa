"""Read a large stack export one resource at a time, so memory follows what the rules read.

A 50k-resource export is about 180 MB of JSON; parsed whole it takes about 800 MB, most of it
resource outputs and bookkeeping fields the runner never reads. Here the file is read twice with
ijson's C parser: once for everything but the resources (the envelope), once yielding each
resource, which is validated against the schema's resource definition, counted for the field
inventory, and kept with only the fields the runner reads. Anything unusual (a parse error, a
resource the schema refuses, a number beyond the float range) returns None, and the caller reads
the file the ordinary way, which names the problem exactly as for a small export.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any, Optional

from .schema import ExportFields, export_fields, resource_test

STREAM_MIN_BYTES = 64 * 2 ** 20  # below this, reading the whole file is faster (two passes cost more CPU) and small enough
_RESOURCES = "deployment.resources.item"
_FLOAT_MAX = 1.7976931348623157e308


def available() -> bool:
    """ijson with its C parser (the Python parsers are far too slow for this to pay off)."""
    try:
        import ijson
    except ImportError:
        return False
    return getattr(ijson, "backend", "") == "yajl2_c"


def load(path: Path, read: ExportFields) -> Optional[tuple[dict, dict[str, int], dict[str, int]]]:
    """(document with reduced resources, ignored fields, unknown fields), or None to read it whole."""
    import ijson
    from ijson.common import ObjectBuilder

    try:
        builder = ObjectBuilder()
        with path.open("rb") as f:
            for prefix, event, value in ijson.parse(f, use_float=True):
                if not prefix.startswith(_RESOURCES):
                    builder.event(event, value)
        document = builder.value
        deployment = document.get("deployment") if isinstance(document, dict) else None
        if not isinstance(deployment, dict) or not isinstance(deployment.get("resources", []), list):
            return None
        known = export_fields()
        valid = resource_test()
        ignored: Counter = Counter()
        unknown: Counter = Counter()
        resources = []
        with path.open("rb") as f:
            for resource in ijson.items(f, _RESOURCES, use_float=True):
                if not valid(resource) or not _numbers_in_range(resource):
                    return None
                for key in resource:
                    if key not in read.resource:
                        (ignored if key in known.resource else unknown)["deployment.resources[]." + key] += 1
                resources.append({k: resource[k] for k in read.resource if k in resource})
    except (ijson.JSONError, ValueError, RecursionError, OverflowError):
        return None
    deployment["resources"] = resources
    return document, dict(ignored), dict(unknown)


def _numbers_in_range(value: Any) -> bool:
    """No number Pulumi could not read (the C parser hands back inf for 1e400 and exact huge ints)."""
    stack = [value]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is dict:
            stack.extend(item.values())
        elif kind is list:
            stack.extend(item)
        elif kind is int:
            if not -_FLOAT_MAX <= item <= _FLOAT_MAX:
                return False
        elif kind is float and not -_FLOAT_MAX <= item <= _FLOAT_MAX:  # also false for NaN
            return False
    return True
