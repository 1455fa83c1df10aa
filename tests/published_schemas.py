"""Published JSON schemas the tests validate against, vendored under tests/data/schemas/ (source,
commit and licence of each in its README.md; hashes pinned in .github/published-schemas.tsv)."""

from __future__ import annotations

import json
from pathlib import Path

DIR = Path(__file__).resolve().parent / "data" / "schemas"
PULUMI_PROJECT = "pulumi-project.json"
AMPLIFY_OUTPUTS = "amplify-outputs-schema_v1.4.json"


def load(name: str) -> dict:
    return json.loads((DIR / name).read_text())
