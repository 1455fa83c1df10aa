"""Turn stack-export property values into what a policy sees during a real preview.

The engine hands analyzers plain values: secrets unwrapped, resource references downgraded to
the referenced resource's ID (custom resources) or URN (components), unknowns as sentinel
strings. An export keeps the special objects (`4dabf18193072939515e22adb298388d` signatures), so
they are decoded here. Encrypted secrets cannot be read offline and become unknown, which rules
skip exactly as they skip preview unknowns.
"""

from __future__ import annotations

import base64
import json
import math
import struct
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from pulumi_policy.proxy import (
    UNKNOWN_ARCHIVE_VALUE,
    UNKNOWN_ARRAY_VALUE,
    UNKNOWN_ASSET_VALUE,
    UNKNOWN_BOOLEAN_VALUE,
    UNKNOWN_NUMBER_VALUE,
    UNKNOWN_OBJECT_VALUE,
    UNKNOWN_STRING_VALUE,
    UnknownValueError,
)

from .model import UNKNOWN

SIG = "4dabf18193072939515e22adb298388d"
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"
ASSET_SIG = "c44067f5952c0a294b673a41bacd8c17"
ARCHIVE_SIG = "0def7320c3a5731c473e5ecbe6d01bc7"
RESOURCE_REF_SIG = "5cf8f73096256a8f31e491e813e4eb8e"
FLOAT_SIG = "8ad145fe-0d11-4827-bfd7-1abcbf086f5c"
BYTES_SIG = "803fd3297a5875dc03ca845dda5d2a98"


def decode(value: Any) -> Any:
    kind = type(value)
    if kind is dict:
        sig = value.get(SIG)
        if sig is None:
            return {k: decode(v) for k, v in value.items()}
        return _decode_special(sig, value)
    if kind is list:
        return [decode(v) for v in value]
    return value


def _decode_special(sig: Any, value: dict) -> Any:
    if sig == SECRET_SIG:
        if "plaintext" in value:
            try:
                return decode(json.loads(value["plaintext"]))
            except (TypeError, ValueError):
                return UNKNOWN
        return UNKNOWN
    if sig == RESOURCE_REF_SIG:
        if "id" in value:
            return value["id"] or UNKNOWN
        return value.get("urn", UNKNOWN)
    if sig == FLOAT_SIG:
        try:
            return struct.unpack(">d", bytes.fromhex(value["value"]))[0]
        except (KeyError, TypeError, ValueError):
            return UNKNOWN
    if sig == BYTES_SIG:
        try:
            return base64.b64decode(value["value"]).decode("utf-8", errors="replace")
        except (KeyError, TypeError, ValueError):
            return UNKNOWN
    if sig == ASSET_SIG:
        return {"asset": {k: v for k, v in value.items() if k != SIG}}
    if sig == ARCHIVE_SIG:
        return {"archive": {k: v for k, v in value.items() if k != SIG}}
    return UNKNOWN


class NumberError(ValueError):
    """A JSON number Pulumi cannot read; the message is one line."""


def loads_pulumi_numbers(text: str | bytes) -> Any:
    """json.loads, refusing numbers Pulumi's Go decoder cannot read (its numbers are 64-bit floats):
    NaN and Infinity tokens, and numbers beyond the float range (1e400, a 400-digit integer)."""
    return json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float, parse_int=_float_range_int)


def _clip(text: str) -> str:
    return text if len(text) <= 40 else text[:37] + "..."


def _refuse_constant(token: str) -> Any:
    raise NumberError(f"not valid JSON: {token} is not a JSON number (Pulumi writes non-finite floats as "
                      "special objects)")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise NumberError(f"number {_clip(text)} is beyond the range of a 64-bit float (Pulumi cannot read it)")
    return value


def _float_range_int(text: str) -> int:
    if len(text) > 330:  # far past 1.8e308; also keeps int() away from Python's digit limit
        raise NumberError(f"a {len(text.lstrip('-'))}-digit integer is beyond the range of a 64-bit float "
                          "(Pulumi cannot read it)")
    value = int(text)
    try:
        float(value)
    except OverflowError:
        raise NumberError(f"integer {_clip(text)} is beyond the range of a 64-bit float "
                          "(Pulumi cannot read it)") from None
    return value


def json_or_value(value: Any) -> Any:
    """Provider config and some inputs carry objects as JSON strings; accept either form."""
    if isinstance(value, str) and value[:1] in ("{", "["):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


# ---------------------------------------------------------------------------------------------
# Lazy views: what `unknown_checking_proxy(decode(raw))` presents, built only where a rule reads.
#
# pulumi-policy's proxy copies the whole value up front, and decode() does too; a rule usually
# reads a few properties of a resource, so on large exports most of that work was thrown away.
# These views decode special objects and check for unknowns on access, with the same types
# (Mapping / Sequence, never dict / list), the same UnknownValueError (and property path) and the
# same KeyError / IndexError as the proxy. tests/policies/test_values_view.py checks the parity.

_UNKNOWNS = frozenset({UNKNOWN_BOOLEAN_VALUE, UNKNOWN_NUMBER_VALUE, UNKNOWN_STRING_VALUE, UNKNOWN_ARRAY_VALUE,
                       UNKNOWN_ASSET_VALUE, UNKNOWN_ARCHIVE_VALUE, UNKNOWN_OBJECT_VALUE})


def view(raw: Any) -> Any:
    """A lazy, decoding, unknown-checking view of export data (an inputs object, say)."""
    return _wrap(raw, ())


def _wrap(value: Any, path: tuple) -> Any:
    kind = type(value)
    if kind is dict:
        sig = value.get(SIG)
        if sig is not None:
            return _wrap_decoded(_decode_special(sig, value), path)
        return _DictView(value, path)
    if kind is list:
        return _ListView(value, path)
    return value


def _wrap_decoded(value: Any, path: tuple) -> Any:
    """Decoded data (no special objects left), wrapped the way the proxy wraps it."""
    kind = type(value)
    if kind is dict:
        return _DictView(value, path)
    if kind is list:
        return _ListView(value, path)
    return value


def _checked(value: Any, path: tuple, key: Any) -> Any:
    if type(value) is str and value in _UNKNOWNS:
        raise UnknownValueError(value, [*path, str(key)])
    return value


class _DictView(Mapping):
    __slots__ = ("_target", "_path", "_cache")

    def __init__(self, target: dict, path: tuple) -> None:
        self._target = target
        self._path = path
        self._cache: dict = {}

    def __getitem__(self, key: Any) -> Any:
        cache = self._cache
        if key in cache:
            return cache[key]
        raw = self._target[key]
        value = _checked(_wrap(raw, (*self._path, str(key))), self._path, key)
        cache[key] = value
        return value

    def __len__(self) -> int:
        return len(self._target)

    def __iter__(self) -> Iterator[Any]:
        return iter(self._target)


class _ListView(Sequence):
    __slots__ = ("_target", "_path", "_cache")

    def __init__(self, target: list, path: tuple) -> None:
        self._target = target
        self._path = path
        self._cache: dict = {}

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):  # the proxy returns a plain list of its (unchecked) elements
            return [self._element(i, check=False) for i in range(len(self._target))[index]]
        return self._element(index)

    def _element(self, index: Any, check: bool = True) -> Any:
        cache = self._cache
        if index in cache:
            return cache[index]
        if not isinstance(index, int) or isinstance(index, bool) or not -len(self._target) <= index < len(self._target):
            return self._target[index]  # the list's own TypeError / IndexError
        position = index % len(self._target)  # the proxy names an unknown by the index as written
        value = _wrap(self._target[index], (*self._path, str(position)))
        if not check:
            return value
        value = _checked(value, self._path, index)
        cache[index] = value
        return value

    def __len__(self) -> int:
        return len(self._target)
