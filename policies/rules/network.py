"""Network exposure: a security group is judged with ALL its ingress, wherever it is declared."""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Optional

from .. import awstypes as t
from ..links import Links, items, mapping
from ..model import Enforcement, Resource, Severity, known, num, stack_rule

# Address space that is not reachable from the internet: private, shared, loopback, link-local,
# documentation, benchmarking, multicast and reserved IPv4 blocks. IPv6's public space is 2000::/3.
_NON_PUBLIC_V4 = tuple(ipaddress.ip_network(n) for n in (
    "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
    "192.0.0.0/24", "192.0.2.0/24", "192.168.0.0/16", "198.18.0.0/15", "198.51.100.0/24",
    "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4"))
_PUBLIC_V4 = 2 ** 32 - sum(n.num_addresses for n in _NON_PUBLIC_V4)
_PUBLIC_V6 = ipaddress.ip_network("2000::/3")


def _network(cidr: Any) -> Optional[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    try:
        return ipaddress.ip_network(str(cidr).strip(), strict=False)
    except ValueError:
        return None


def _overlap(a: Any, b: Any) -> int:
    """Addresses two CIDR blocks share (one contains the other, or they are disjoint)."""
    if a.subnet_of(b):
        return a.num_addresses
    if b.subnet_of(a):
        return b.num_addresses
    return 0


def public_share(cidrs: Sequence[Any]) -> tuple[float, float]:
    """Shares (0..1) of the public IPv4 and IPv6 address space that the CIDRs cover together."""
    nets = [n for n in (_network(c) for c in cidrs) if n is not None]
    v4 = list(ipaddress.collapse_addresses(n for n in nets if n.version == 4))
    v6 = list(ipaddress.collapse_addresses(n for n in nets if n.version == 6))
    covered_v4 = sum(n.num_addresses - sum(_overlap(n, x) for x in _NON_PUBLIC_V4) for n in v4)
    covered_v6 = sum(_overlap(n, _PUBLIC_V6) for n in v6)
    return covered_v4 / _PUBLIC_V4, covered_v6 / _PUBLIC_V6.num_addresses


_PROTOCOLS = {"-1": "all", "all": "all", "tcp": "tcp", "6": "tcp", "udp": "udp", "17": "udp",
              "icmp": "icmp", "1": "icmp", "icmpv6": "icmpv6", "58": "icmpv6"}
_PORTED = ("tcp", "udp")


def _protocol(value: Any) -> str:
    text = num(value).strip().lower() if isinstance(value, (int, float)) else str(value).strip().lower()
    return _PROTOCOLS.get(text, text)


def _int(value: Any) -> Optional[int]:
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    try:
        return int(float(value)) if isinstance(value, (int, float, str)) else None
    except (ValueError, OverflowError):
        return None


@dataclass(frozen=True)
class Ingress:
    """One ingress entry: protocol, port range (ICMP: type and code) and world-reachable sources."""

    where: str  # "<resource name> ingress[0]"
    protocol: str  # "all", "tcp", "udp", "icmp", "icmpv6" or a protocol number
    low: int  # TCP/UDP first port; ICMP type (-1 = every type)
    high: int  # TCP/UDP last port; ICMP code (-1 = every code)
    cidrs: tuple[str, ...]


def _entry(where: str, protocol: Any, low: Any, high: Any, cidrs: list[str]) -> Optional[Ingress]:
    proto = _protocol(protocol)
    if proto == "all":
        return Ingress(where, proto, 0, 65535, tuple(cidrs))
    lo, hi = _int(low), _int(high)
    if lo is None or hi is None:
        return None  # unknown or malformed ports: nothing can be said about what this entry opens
    if proto in _PORTED and (lo, hi) == (-1, -1):
        lo, hi = 0, 65535
    return Ingress(where, proto, lo, hi, tuple(cidrs))


def _cidrs(*values: Any) -> list[str]:
    # An unknown CIDR is left out: it cannot be judged, and the others still count.
    out: list[str] = []
    for value in values:
        if isinstance(value, str):
            out.append(value)
        else:
            out.extend(c for c in items(value) if isinstance(c, str))
    return out


# Where each type keeps its ingress: (list property or None for a rule resource, the group link
# property, protocol, IPv4 CIDR(s), IPv6 CIDR(s)). aws-native types are CloudFormation-shaped.
_GROUP_SHAPES = {
    t.SECURITY_GROUP: ("ingress", None, "protocol", "cidrBlocks", "ipv6CidrBlocks"),
    t.DEFAULT_SECURITY_GROUP: ("ingress", None, "protocol", "cidrBlocks", "ipv6CidrBlocks"),
    t.NATIVE_SECURITY_GROUP: ("securityGroupIngress", None, "ipProtocol", "cidrIp", "cidrIpv6"),
}
_RULE_SHAPES = {
    t.SECURITY_GROUP_RULE: (None, "securityGroupId", "protocol", "cidrBlocks", "ipv6CidrBlocks"),
    t.SECURITY_GROUP_INGRESS_RULE: (None, "securityGroupId", "ipProtocol", "cidrIpv4", "cidrIpv6"),
    t.NATIVE_SECURITY_GROUP_INGRESS: (None, "groupId", "ipProtocol", "cidrIp", "cidrIpv6"),
}


def _read_entry(where: str, p: Any, shape: tuple) -> Optional[Ingress]:
    _, _, protocol, v4, v6 = shape
    return known(lambda: _entry(where, p.get(protocol), p.get("fromPort"), p.get("toPort"),
                                _cidrs(known(lambda: p.get(v4)), known(lambda: p.get(v6)))))


def group_ingress(g: Resource) -> list[Ingress]:
    shape = _GROUP_SHAPES[g.type]
    entries = []
    for i, rule in enumerate(items(known(lambda: g.props.get(shape[0])))):
        e = _read_entry(f"{g.name} ingress[{i}]", mapping(rule) or {}, shape)
        if e is not None:
            entries.append(e)
    return entries


def rule_ingress(r: Resource) -> Optional[Ingress]:
    if r.type == t.SECURITY_GROUP_RULE and known(lambda: r.props.get("type")) != "ingress":
        return None
    return _read_entry(r.name, r.props, _RULE_SHAPES[r.type])


_GROUPS = tuple(_GROUP_SHAPES)
_RULES = tuple(_RULE_SHAPES)


def security_groups(resources: Sequence[Resource], links: Links) -> dict[tuple[str, str], tuple[Optional[Resource], list[Ingress], list[Resource]]]:
    """Per logical group: (the group resource if declared here, every ingress entry, the rule resources)."""
    groups: dict[tuple[str, str], tuple[Optional[Resource], list[Ingress], list[Resource]]] = {}
    for g in resources:
        if g.type in _GROUPS:
            groups[("urn", g.urn)] = (g, group_ingress(g), [])
    for r in resources:
        if r.type not in _RULES:
            continue
        key = links.owner_key(r, _RULE_SHAPES[r.type][1], _GROUPS)
        group, entries, rules = groups.setdefault(key, (None, [], []))
        rules.append(r)
        entry = rule_ingress(r)
        if entry is not None:
            entries.append(entry)
    return groups


def _open_ranges(entries: list[Ingress], protocol: str, threshold: float) -> list[tuple[int, int, list[Ingress], tuple[float, float]]]:
    """TCP/UDP port ranges whose sources, over every entry admitting them, reach the threshold."""
    relevant = [e for e in entries if e.protocol in ("all", protocol) and e.cidrs]
    cuts = sorted({p for e in relevant for p in (max(e.low, 0), min(e.high, 65535) + 1)})
    ranges: list[tuple[int, int, list[Ingress], tuple[float, float]]] = []
    for lo, nxt in zip(cuts, cuts[1:]):
        admitting = [e for e in relevant if e.low <= lo and nxt - 1 <= e.high]
        shares = public_share([c for e in admitting for c in e.cidrs])
        if admitting and max(shares) >= threshold:
            if ranges and ranges[-1][1] == lo - 1 and ranges[-1][2] == admitting:
                ranges[-1] = (ranges[-1][0], nxt - 1, admitting, shares)
            else:
                ranges.append((lo, nxt - 1, admitting, shares))
    return ranges


def _minus(lo: int, hi: int, allowed: set[int]) -> list[tuple[int, int]]:
    """[lo, hi] without the allowed ports, as ranges."""
    out: list[tuple[int, int]] = []
    start = lo
    for port in sorted(p for p in allowed if lo <= p <= hi):
        if start <= port - 1:
            out.append((start, port - 1))
        start = port + 1
    if start <= hi:
        out.append((start, hi))
    return out


def _describe(shares: tuple[float, float], threshold: float) -> str:
    return ", ".join(f"{share:.0%} of the public {kind} space"
                     for kind, share in (("IPv4", shares[0]), ("IPv6", shares[1])) if share >= threshold)


def _sources(admitting: list[Ingress]) -> str:
    return "; ".join(f"{e.where}: {', '.join(e.cidrs)}" for e in admitting)


def _icmp_allowed(spec: Sequence[str]) -> set[tuple[str, int, int]]:
    out = set()
    for item in spec:
        proto, _, rest = item.partition(":")
        type_, _, code = rest.partition(":")
        if _int(type_) is not None and _int(code) is not None:
            out.add((_protocol(proto), int(type_), int(code)))
    return out


def _other_findings(entries: list[Ingress], threshold: float, allowed: set[tuple[str, int, int]]) -> Iterator[str]:
    """Non-TCP/UDP protocols: each (type, code) opened, with the sources of every entry admitting it."""
    every = [e for e in entries if e.protocol == "all" and e.cidrs]
    seen = set()
    for e in entries:
        if e.protocol in ("all", *_PORTED) or not e.cidrs or (e.protocol, e.low, e.high) in seen:
            continue
        seen.add((e.protocol, e.low, e.high))
        if (e.protocol, e.low, e.high) in allowed:
            continue  # e.g. ICMP 3/4: path-MTU discovery breaks without it
        admitting = every + [o for o in entries if o.protocol == e.protocol and o.cidrs
                             and o.low in (-1, e.low) and o.high in (-1, e.high)]
        shares = public_share([c for o in admitting for c in o.cidrs])
        if max(shares) >= threshold:
            what = "every type" if e.low == -1 else f"type {e.low} code {'any' if e.high == -1 else e.high}"
            yield f"{e.protocol} {what} is open to {_describe(shares, threshold)} ({_sources(admitting)})"


def _redirect_only_ports(group_urn: Optional[str], links: Links) -> set[int]:
    """Ports on which the group only fronts application load balancers whose listeners there do
    nothing but redirect to HTTPS (an HTTP->HTTPS redirect must stay reachable from anywhere)."""
    if group_urn is None:
        return set()
    # Groups and rules that name this group as a traffic source do not attach it to anything.
    users = [r for r, _ in links.referrers(group_urn)
             if r.type not in (*_RULES, *_GROUPS, t.SECURITY_GROUP_EGRESS_RULE)]
    if not users or any(u.type not in (t.LB, t.ALB) for u in users):
        return set()
    if any(known(lambda: u.props.get("loadBalancerType") or "application") != "application" for u in users):
        return set()
    ports: dict[int, bool] = {}
    for lb in users:
        for listener, prop in links.referrers(lb.urn):
            if listener.type not in (t.LB_LISTENER, t.ALB_LISTENER) or prop != "loadBalancerArn":
                continue
            port = _int(known(lambda: listener.props.get("port")))
            if port is None:
                continue
            redirect = _redirects_only(known(lambda: listener.props.get("defaultActions"), None)) and not any(
                rule.type in (t.LB_LISTENER_RULE, t.ALB_LISTENER_RULE)
                and not _redirects_only(known(lambda: rule.props.get("actions"), None))
                for rule, _ in links.referrers(listener.urn))
            ports[port] = ports.get(port, True) and redirect
    return {p for p, only in ports.items() if only}


def _redirects_only(actions: Any) -> bool:
    found = items(actions)
    if not found:
        return False
    for action in found:
        action = mapping(action) or {}
        redirect = mapping(known(lambda: action.get("redirect"))) or {}
        if action.get("type") != "redirect" or str(known(lambda: redirect.get("protocol"), "")).upper() != "HTTPS":
            return False
    return True


@stack_rule(
    name="security-no-public-ingress",
    concern="security",
    severity=Severity.HIGH,
    enforcement=Enforcement.ADVISORY,
    description="Each security group (DefaultSecurityGroup too) is judged with all its ingress: inline ingress, "
                "ec2 SecurityGroupRule and vpc SecurityGroupIngressRule resources naming it. A TCP/UDP port is "
                "world-open when the sources of every entry admitting it together cover `worldShare` of the "
                "public IPv4 or IPv6 space; only `allowedPorts` (TCP 443), ports where the group fronts only "
                "application load balancers whose listeners there just redirect to HTTPS, and `allowedIcmp` "
                "(path-MTU discovery) may be.",
    remediation="Restrict the source CIDR (or use a load balancer / prefix list); only HTTPS may be world-open.",
    config={
        "allowedPorts": {"type": "array", "items": {"type": "integer", "minimum": 0, "maximum": 65535},
                         "default": [443], "description": "TCP ports that may be open to the world."},
        "worldShare": {"type": "number", "exclusiveMinimum": 0, "maximum": 1, "default": 0.5,
                       "description": "Share of the public IPv4 or IPv6 address space from which a port counts "
                                      "as open to the world (sources of all entries admitting the port add up)."},
        "allowedIcmp": {"type": "array", "items": {"type": "string", "pattern": "^(icmp|icmpv6):\\d+:\\d+$"},
                        "default": ["icmp:3:4", "icmpv6:2:0"],
                        "description": "ICMP type:code pairs that may be open to the world (path-MTU discovery)."},
    },
)
def no_public_ingress(resources: Sequence[Resource], cfg: Mapping[str, Any]) -> Iterator[tuple[Optional[str], str]]:
    allowed = set(cfg.get("allowedPorts", [443]))
    threshold = cfg.get("worldShare", 0.5)
    icmp_allowed = _icmp_allowed(cfg.get("allowedIcmp", ["icmp:3:4", "icmpv6:2:0"]))
    links = Links(resources)
    for (kind, key), (group, entries, rules) in security_groups(resources, links).items():
        urn = group.urn if group is not None else rules[0].urn
        label = "" if group is not None else f"security group {key}: " if kind == "value" else ""
        every = [e for e in entries if e.protocol == "all" and e.cidrs]
        shares = public_share([c for e in every for c in e.cidrs])
        if every and max(shares) >= threshold:
            yield urn, f"{label}all traffic is open to {_describe(shares, threshold)} ({_sources(every)})"
            continue
        exempt = _redirect_only_ports(group.urn if group is not None else None, links)
        for protocol in _PORTED:
            for lo, hi, admitting, shares in _open_ranges(entries, protocol, threshold):
                free = (allowed | exempt) if protocol == "tcp" else set()
                for a, b in _minus(lo, hi, free):
                    ports = f"port {a}" if a == b else f"ports {a}-{b}"
                    yield urn, (f"{label}{protocol} {ports} open to {_describe(shares, threshold)} "
                                f"({_sources(admitting)})")
        for message in _other_findings(entries, threshold, icmp_allowed):
            yield urn, label + message
