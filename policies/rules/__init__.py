"""Every rule of the pack, grouped by concern. The pack and the offline runner both use ALL_RULES.

The pack rules (meta) come last: under `pulumi preview` they judge what the other policies saw
of their config, so those must have run first.
"""

from __future__ import annotations

from ..model import Rule
from . import capacity, cost, iam, meta, network, security, storage


def _collect(*modules) -> tuple[Rule, ...]:
    rules = tuple(v for m in modules for v in vars(m).values() if isinstance(v, Rule))
    names = [r.name for r in rules]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise RuntimeError(f"duplicate policy names: {duplicates}")
    return rules


ALL_RULES: tuple[Rule, ...] = _collect(iam, cost, capacity, security, network, storage, meta)
RULES_BY_NAME = {r.name: r for r in ALL_RULES}
