"""Fargate task sizes (data/fargate-sizes.json) and how a size preset's numbers are read.

The one copy of both for the whole project: the pack's rules, the stack config
(components/config.py) and the sessions Lambda read them from here. Standard library only, and
the data is found beside this module, because components/sessions.py ships this file and its
data inside the Lambda package (as sessions/fargate.py and sessions/data/fargate-sizes.json).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

DATA_FILE = Path(__file__).resolve().parent / "data" / "fargate-sizes.json"


def _load(path: Path = DATA_FILE) -> dict[int, tuple[int, ...]]:
    table = json.loads(path.read_text(encoding="utf-8"))["memoryByCpu"]
    return {int(cpu): tuple(memory) for cpu, memory in table.items()}


# Task-level CPU units -> allowed memory (MiB). Anything else is rejected by RunTask.
FARGATE_MEMORY: dict[int, tuple[int, ...]] = _load()


def size_number(value: Any) -> Optional[int]:
    """A size preset's cpu or memory: an integer or a string of digits (else None). The policy pack
    judges SIZE_PRESETS with this same reading as the Lambda that parses them."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None
