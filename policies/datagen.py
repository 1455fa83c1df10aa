"""Regenerate the pack data derived from provider SDKs and the IAM dataset: data/taggable-types.json,
data/policy-properties.json (see policygen.py) and, through datagen_iam, data/iam-index.json.

    python -m policies.datagen                          # rewrite both from the installed pulumi-aws
    python -m policies.datagen --aws-native DIR         # also re-read aws-native (an unpacked SDK)
    python -m policies.datagen --check                  # exit 1 if a shipped file is stale

A type is taggable when its resource class accepts a `tags` input. The SDK source is scanned as
text (importing all of pulumi_aws takes minutes); tests run the `--check` logic to keep the
shipped files in step with the pinned SDK. pulumi-aws-native is not a dependency: download it
(`pip download --no-deps pulumi-aws-native -d DIR`, unzip) only to refresh its section.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import re
import sys
from pathlib import Path

TAGGABLE_FILE = Path(__file__).resolve().parent / "data" / "taggable-types.json"
POLICY_PROPERTIES_FILE = Path(__file__).resolve().parent / "data" / "policy-properties.json"

_TYPE_TOKEN = re.compile(r'@pulumi\.type_token\("(?P<token>aws:[^"]+)"\)\nclass (?P<cls>\w+)\(pulumi\.CustomResource\)')
_INTERNAL_INIT = re.compile(r"def _internal_init\(__self__,(?P<params>.*?)\):", re.S)


def sdk_dir() -> Path:
    spec = importlib.util.find_spec("pulumi_aws")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("pulumi_aws is not installed")
    return Path(list(spec.submodule_search_locations)[0])


def sdk_version() -> str:
    meta = json.loads((sdk_dir() / "pulumi-plugin.json").read_text())
    return str(meta.get("version", "unknown"))


def scan_resource_inputs() -> dict[str, list[str]]:
    """Type token -> python input parameter names of the resource's constructor."""
    result: dict[str, list[str]] = {}
    for path in sorted(sdk_dir().rglob("*.py")):
        source = path.read_text(encoding="utf-8")
        if "@pulumi.type_token" not in source:
            continue
        for match in _TYPE_TOKEN.finditer(source):
            rest = source[match.end():]
            init = _INTERNAL_INIT.search(rest)
            if init is None:
                continue
            params = re.findall(r"^\s*(\w+)\s*:", init.group("params"), re.M)
            result[match.group("token")] = [p for p in params if p not in ("resource_name", "opts")]
    return result


def taggable_types() -> list[str]:
    return sorted(token for token, params in scan_resource_inputs().items() if "tags" in params)


def render() -> str:
    return json.dumps({"sdk": f"pulumi-aws {sdk_version()}", "types": taggable_types()}, indent=1) + "\n"


def render_policy_properties(aws_native: Path | None = None) -> str:
    """policy-properties.json: the installed pulumi-aws scanned now; aws-native scanned from an
    unpacked pulumi-aws-native SDK when given (it is not a dependency), else kept as shipped."""
    from .policygen import render as render_policies, scan

    found = {"aws": list(scan(sdk_dir()))}
    sources = {"aws": f"pulumi-aws {sdk_version()}"}
    shipped = json.loads(POLICY_PROPERTIES_FILE.read_text()) if POLICY_PROPERTIES_FILE.exists() else {}
    if aws_native is not None:
        meta = json.loads((aws_native / "pulumi-plugin.json").read_text())
        found["aws-native"] = list(scan(aws_native))
        sources["aws-native"] = f"pulumi-aws-native {meta.get('version', 'unknown')}"
    doc = render_policies(sources, found)
    if aws_native is None and "aws-native" in shipped.get("providers", {}):
        doc["providers"]["aws-native"] = shipped["providers"]["aws-native"]
    return json.dumps(doc, indent=1, sort_keys=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m policies.datagen", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if a shipped file is stale")
    parser.add_argument("--aws-native", type=Path, metavar="DIR",
                        help="an unpacked pulumi_aws_native package to read aws-native policy properties from "
                             "(pip download --no-deps pulumi-aws-native; unzip)")
    args = parser.parse_args(argv)
    try:
        outputs = generated(args.aws_native)
    except RuntimeError as exc:  # a source package is missing: one line, not a traceback
        print(f"error: {exc}", file=sys.stderr)
        return 2
    stale = []
    for path, fresh in outputs:
        current = path.read_text() if path.exists() else ""
        if args.check:
            if current != fresh:
                stale.append(path)
            continue
        path.write_text(fresh)
        print(f"wrote {path}")
    for path in stale:
        print(f"{path} is stale: run python -m policies.datagen", file=sys.stderr)
    return 1 if stale else 0


def generated(aws_native: Path | None = None) -> list[tuple[Path, str]]:
    """(file, fresh content) for every generated pack data file."""
    from . import datagen_iam

    return [(TAGGABLE_FILE, render()), (POLICY_PROPERTIES_FILE, render_policy_properties(aws_native)),
            (datagen_iam.INDEX_FILE, datagen_iam.render())]


if __name__ == "__main__":
    sys.exit(main())
