"""Rules about the pack's own config: it must be usable, and stale suppressions get reported.

Offline, an unusable config stops the runner before any rule runs (exit 2), so
`pack-config-valid` only ever reports under `pulumi preview`, where the CLI checks nothing but
the declared properties' types and a broken entry would otherwise fail inside every policy.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Optional

from ..model import Enforcement, PackState, Resource, Severity, pack_rule


@pack_rule(
    name="pack-suppression-expired",
    concern="pack",
    severity=Severity.LOW,
    enforcement=Enforcement.ADVISORY,
    description="An expired suppression that matches no resource its policy checks is still configured.",
    remediation="Remove the suppression from the stack's pack config, or renew its expiry if it is still needed.",
)
def suppression_expired(resources: Sequence[Resource], cfg: Mapping[str, Any],
                        state: PackState) -> Iterator[tuple[Optional[str], str]]:
    # Expired suppressions that match a finding or a checked resource are reported by their own
    # policy (resource rules), as are all of a stack rule's; what is left matches nothing at all.
    for rule, suppressions in state.suppressions:
        if rule.kind != "resource":
            continue
        expired = [s for s in suppressions if s.expired(state.today)]
        if not expired:
            continue
        checked = [r.urn for r in resources if rule.applies_to(r.type)]
        for s in expired:
            if not any(s.matches(urn) for urn in checked):
                yield None, f"{rule.name}: {s.describe()} matches no resource the policy checks: remove or renew it"


@pack_rule(
    name="pack-config-valid",
    concern="pack",
    severity=Severity.HIGH,
    enforcement=Enforcement.MANDATORY,
    description="Every policy's config must be valid (known properties, regular expressions, calendar dates); "
                "a policy with an unusable config is not evaluated.",
    remediation="Fix the named entry in the stack's pack config (policies/config/<stack>.json); "
                "`python -m policies.check --config FILE` names the same problem offline.",
)
def config_valid(resources: Sequence[Resource], cfg: Mapping[str, Any],
                 state: PackState) -> Iterator[tuple[Optional[str], str]]:
    for name in sorted(state.errors):
        yield None, f"{state.errors[name]} ({name} is not evaluated until this is fixed)"
