"""Find deprecated pulumi-aws arguments in what a program registered.

pulumi-aws only warns in Python when a deprecated argument goes through one of its ``*Args``
classes; the same argument given as a resource keyword or inside a plain dict (how most of our
components pass nested blocks) reaches the engine silently, and only a real ``pulumi preview``
would print the provider's warning. This walks the registered inputs (engine camelCase names, as
in a stack export) against the deprecations pulumi-aws declares in its generated ``*Args``
classes, nested blocks included, so the offline suite catches both forms.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import re
import warnings
from typing import Any, Iterable, Optional

# A generated Args.__init__ logs, for a deprecated argument (python name first, the warning after):
#     pulumi.log.warn("""cors_rules is deprecated: cors_rule is deprecated. Use ...""")
# and a deprecated resource's _internal_init logs "BucketV2 is deprecated: ...". Both strings are
# constants of the compiled function, which is far cheaper to read than the (large) source files.
_LOGGED = re.compile(r"^(\w+) is deprecated: (.*)$", re.S)
_NESTED = re.compile(r"ForwardRef\('(\w+Args)'\)")
_SECRET_SIG = "4dabf18193072939515e22adb298388d"


@functools.lru_cache(maxsize=None)
def _module(name: str) -> Any:
    # Some modules warn at import about deprecated classes they define, used or not: not ours.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return importlib.import_module(name)


@functools.lru_cache(maxsize=None)
def _class(type_token: str, suffix: str) -> Optional[type]:
    if type_token == "pulumi:providers:aws":
        return getattr(_module("pulumi_aws"), f"Provider{suffix}", None)
    parts = type_token.split(":")
    if len(parts) != 3 or parts[0] != "aws":
        return None
    module = parts[1].split("/")[0]
    for name in (module, f"{module}_"):  # Python keywords get a trailing underscore: lambda_
        try:
            with warnings.catch_warnings():  # attribute access imports lazily: same as _module
                warnings.simplefilter("ignore", DeprecationWarning)
                return getattr(_module(f"pulumi_aws.{name}"), f"{parts[2]}{suffix}", None)
        except ImportError:
            continue
    return None


def args_class(type_token: str) -> Optional[type]:
    """``aws:dynamodb/table:Table`` -> ``pulumi_aws.dynamodb.TableArgs`` (None for other packages)."""
    return _class(type_token, "Args")


@functools.lru_cache(maxsize=None)
def resource_deprecation(type_token: str) -> Optional[str]:
    """The message pulumi-aws logs (not warns) when a deprecated resource type is declared."""
    logged = _logged(getattr(_class(type_token, ""), "_internal_init", None))
    return next((f"{name} is deprecated: {message}" for name, message in logged.items()), None)


def _logged(fn: Any) -> dict[str, str]:
    """{name: message} of the "<name> is deprecated: <message>" strings a function logs."""
    consts = getattr(getattr(fn, "__code__", None), "co_consts", ())
    matches = (_LOGGED.match(c) for c in consts if isinstance(c, str))
    return {m.group(1): " ".join(m.group(2).split()) for m in matches if m}


@functools.lru_cache(maxsize=None)
def _schema(cls: type) -> tuple[dict[str, str], dict[str, tuple[type, ...]]]:
    """(engine name -> deprecation message, engine name -> nested Args classes) for one class."""
    module = _module(cls.__module__)
    deprecated: dict[str, str] = {}
    nested: dict[str, tuple[type, ...]] = {}
    warned = _logged(cls.__init__)
    for py, param in inspect.signature(cls.__init__).parameters.items():
        if py in ("self", "__self__"):
            continue
        prop = getattr(cls, py, None)
        engine = getattr(getattr(prop, "fget", None), "_pulumi_name", py)
        if py in warned:
            deprecated[engine] = warned[py]
        names = dict.fromkeys(_NESTED.findall(str(param.annotation)))
        classes = tuple(c for c in (getattr(module, n, None) for n in names) if isinstance(c, type))
        if classes:
            nested[engine] = classes
    return deprecated, nested


def _walk(cls: type, value: Any, path: str) -> Iterable[tuple[str, str]]:
    if isinstance(value, list):
        for i, item in enumerate(value):
            yield from _walk(cls, item, f"{path}[{i}]")
        return
    if not isinstance(value, dict) or _SECRET_SIG in value:
        return
    deprecated, nested = _schema(cls)
    for key, item in value.items():
        if item is None:
            continue
        if key in deprecated:
            yield f"{path}.{key}" if path else key, deprecated[key]
        for child in nested.get(key, ()):
            yield from _walk(child, item, f"{path}.{key}" if path else key)


def find(resources: Iterable[dict[str, Any]]) -> list[str]:
    """One line per deprecated resource type or argument set: ``<urn>: <path>: <pulumi-aws's message>``."""
    found = []
    for resource in resources:
        type_token = resource.get("type", "")
        name = resource.get("urn", type_token)
        message = resource_deprecation(type_token)
        if message:
            found.append(f"{name}: {type_token}: {message}")
        cls = args_class(type_token)
        if cls is None:
            continue
        for path, message in _walk(cls, resource.get("inputs") or {}, ""):
            found.append(f"{name}: {path}: {message}")
    return found
