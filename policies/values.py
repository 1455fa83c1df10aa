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
import struct
from typing import Any

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


def json_or_value(value: Any) -> Any:
    """Provider config and some inputs carry objects as JSON strings; accept either form."""
    if isinstance(value, str) and value[:1] in ("{", "["):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value
