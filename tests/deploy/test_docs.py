"""app/deploy/README.md documents exactly the contract's outputs."""

from __future__ import annotations

from app.deploy.contract import OUTPUT_NAMES
from tests.conftest import ROOT


def contract_rows() -> list[str]:
    rows = []
    for name, spec in OUTPUT_NAMES.items():
        notes = (["optional"] if spec.optional else []) + {
            "never": [], "always": ["secret"], "with-api-key": ["secret with an API key"]}[spec.secret]
        env = f"`{spec.env}`" if spec.env else ""
        rows.append(f"| `{name}` | {spec.kind} | {', '.join(notes)} | {env} | {spec.doc} |")
    return rows


def test_readme_table_is_the_contract():
    text = (ROOT / "app" / "deploy" / "README.md").read_text()
    documented = [line for line in text.splitlines() if line.startswith("| `")]
    assert documented == contract_rows(), "app/deploy/README.md is out of date; paste:\n" + "\n".join(contract_rows())
