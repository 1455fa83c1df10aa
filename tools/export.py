"""Turn what a mocked program registered into a ``pulumi stack export`` (version 3) document.

The layout follows what the Pulumi CLI writes for a real stack: the ``pulumi:pulumi:Stack`` resource
first carrying the stack outputs, providers before the resources that use them, URNs with the whole
parent-type chain, secrets as ciphertext envelopes. Later tooling (``policies.check``) reads this file
exactly as it would read a real export.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
from pathlib import Path
from typing import Any, Optional

import pulumi

from tools.mocks import SECRET_SIG, SECRET_VALUE_SIG
from tools.program import ProgramRun

# We cannot encrypt offline; an envelope with this ciphertext says so instead of leaking the value.
OFFLINE_CIPHERTEXT = "offline-preview:not-encrypted:value-withheld"


def _seal_secrets(value: Any) -> Any:
    if isinstance(value, dict):
        if value.get(SECRET_SIG) == SECRET_VALUE_SIG:
            return {SECRET_SIG: SECRET_VALUE_SIG, "ciphertext": OFFLINE_CIPHERTEXT}
        return {k: _seal_secrets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_seal_secrets(v) for v in value]
    return value


def _stable_order(run: ProgramRun) -> list:
    """Registrations in dependency order (parents, providers and dependencies first, as the engine
    writes them), ties broken by URN: registration order depends on when outputs resolve, and two
    previews of one config must export identical files."""
    import heapq

    regs = {r.urn: r for r in run.registrations}
    before: dict[str, set[str]] = {}
    for urn, reg in regs.items():
        needs = set(reg.dependencies) | {reg.parent}
        if reg.provider:
            needs.add(reg.provider.rsplit("::", 1)[0])
        before[urn] = {n for n in needs if n in regs and n != urn}
    waiting = {urn: len(deps) for urn, deps in before.items()}
    unlocks: dict[str, list[str]] = {urn: [] for urn in regs}
    for urn, deps in before.items():
        for dep in deps:
            unlocks[dep].append(urn)
    ready = [urn for urn, n in waiting.items() if n == 0]
    heapq.heapify(ready)
    order = []
    while ready:
        urn = heapq.heappop(ready)
        order.append(regs[urn])
        for nxt in unlocks[urn]:
            waiting[nxt] -= 1
            if waiting[nxt] == 0:
                heapq.heappush(ready, nxt)
    if len(order) != len(regs):
        raise ValueError("resource dependencies form a cycle: " + ", ".join(sorted(set(regs) - {r.urn for r in order})))
    return order


def build(run: ProgramRun, time: Optional[_dt.datetime] = None) -> dict:
    version = f"v{pulumi.__version__}" if hasattr(pulumi, "__version__") else "v3"
    stack_urn = run.monitor.stack_urn
    resources: list[dict] = [{
        "urn": stack_urn,
        "custom": False,
        "type": "pulumi:pulumi:Stack",
        "outputs": _seal_secrets(run.outputs),
    }]
    for reg in _stable_order(run):
        entry: dict[str, Any] = {"urn": reg.urn, "custom": reg.custom, "type": reg.type}
        if reg.custom:
            entry["id"] = reg.id
        entry["inputs"] = _seal_secrets(reg.inputs)
        entry["outputs"] = _seal_secrets(reg.outputs)
        entry["parent"] = reg.parent
        if reg.protect:
            entry["protect"] = True
        if reg.provider:
            entry["provider"] = reg.provider
        if reg.dependencies:
            entry["dependencies"] = sorted(set(reg.dependencies))
        prop_deps = {k: sorted(set(v)) for k, v in sorted(reg.property_dependencies.items()) if v}
        if prop_deps:
            entry["propertyDependencies"] = prop_deps
        resources.append(entry)
    stamp = (time or _dt.datetime.now(_dt.timezone.utc)).isoformat()
    return {
        "version": 3,
        "deployment": {
            "manifest": {
                "time": stamp,
                "magic": hashlib.sha256(version.encode()).hexdigest(),
                "version": version,
            },
            "resources": resources,
        },
    }


def validator():
    """A jsonschema validator for stack exports: the policy pack's stack-export schema (derived from
    Pulumi's apitype, the one ``policies.check`` applies) with Pulumi's property-value schema."""
    import jsonschema
    from referencing import Registry, Resource

    from policies.schema import EXPORT_SCHEMA_ID, load_schema_documents

    docs = load_schema_documents()
    registry = Registry().with_resources((doc["$id"], Resource.from_contents(doc)) for doc in docs)
    schema = next(doc for doc in docs if doc["$id"] == EXPORT_SCHEMA_ID)
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema, registry=registry)


def write(document: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2, sort_keys=False) + "\n")
