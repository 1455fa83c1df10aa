"""Documentation values that must never reach AWS.

The stack files ship with values from the documentation ranges (example.com addresses, the account
123456789012, RFC 5737 / RFC 3849 networks, dummy certificate ids) so they read and preview like the
real thing. A real ``pulumi up`` / ``pulumi preview`` refuses them with one line naming every key;
the offline preview (the program under Pulumi's mocks) only warns, so the shipped stacks stay
previewable without an AWS account.
"""

from __future__ import annotations

import ipaddress
import json
import re
from typing import Any, Iterator, Mapping

# RFC 2606 / RFC 6761 example domains and reserved example TLDs (not localhost: dev callbacks use it).
EXAMPLE_DOMAIN_RE = re.compile(r"(?:^|[.@/])(?:[a-z0-9-]+\.)*(?:example\.(?:com|net|org)|[a-z0-9-]+\.(?:example|invalid))"
                               r"(?=$|[/:>\s])", re.IGNORECASE)
# Account ids AWS's documentation uses.
EXAMPLE_ACCOUNTS = ("123456789012", "111122223333", "444455556666")
ACCOUNT_RE = re.compile(r"(?<!\d)(" + "|".join(EXAMPLE_ACCOUNTS) + r")(?!\d)")
# RFC 5737 (IPv4) and RFC 3849 (IPv6) documentation networks.
DOC_NETWORKS = tuple(ipaddress.ip_network(n) for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24",
                                                        "2001:db8::/32"))
UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)
DOC_UUIDS = ("12345678-1234-1234-1234-123456789012",)


def _dummy_uuid(value: str) -> bool:
    """All-zero / all-one style ids: every group one repeated digit (11111111-2222-3333-...)."""
    return value.lower() in DOC_UUIDS or all(len(set(group)) == 1 for group in value.split("-"))


def _network(value: str):
    try:
        return ipaddress.ip_network(value, strict=False)
    except ValueError:
        return None


def reasons(value: str) -> list[str]:
    """Why a string is a documentation value (empty when it is not)."""
    out = []
    if EXAMPLE_DOMAIN_RE.search(value):
        out.append("an example domain")
    account = ACCOUNT_RE.search(value)
    if account:
        out.append(f"the documentation account {account.group(1)}")
    net = _network(value)
    if net is not None and any(net.version == d.version and net.overlaps(d) for d in DOC_NETWORKS):
        out.append("a documentation address range (RFC 5737 / RFC 3849)")
    if any(_dummy_uuid(u) for u in UUID_RE.findall(value)):
        out.append("a dummy id")
    return out


def _decode(value: Any) -> Any:
    if isinstance(value, str) and value.strip()[:1] in ("{", "["):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _walk(key: str, value: Any) -> Iterator[tuple[str, str]]:
    if isinstance(value, Mapping):
        for k, v in value.items():
            yield from _walk(f"{key}.{k}", v)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _walk(f"{key}[{i}]", v)
    elif isinstance(value, str):
        why = reasons(value)
        if why:
            yield key, ", ".join(why)


def find(raw: Mapping[str, Any]) -> list[str]:
    """``key (why)`` for every documentation value in a stack's raw config ({"ns:key": value})."""
    found = []
    for key in sorted(raw):
        for path, why in _walk(key, _decode(raw[key])):
            found.append(f"{path} ({why})")
    return found


def mocked() -> bool:
    """True when the program runs under Pulumi's mocks (the offline preview and the tests), not a real
    engine: ``pulumi.runtime.set_mocks`` installs a MockMonitor (ours subclasses it)."""
    from pulumi.runtime import mocks, settings

    return isinstance(settings.get_monitor(), mocks.MockMonitor)


def refusal(raw: Mapping[str, Any], source: str) -> str:
    """The one-line refusal for a real deploy, or "" when nothing is a placeholder."""
    found = find(raw)
    if not found:
        return ""
    return (f"{source}: documentation placeholder values cannot deploy; set real ones (README, 'Real use with "
            f"an AWS account'): {'; '.join(found)}")
