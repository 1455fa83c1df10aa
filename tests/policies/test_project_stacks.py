"""This project's own stacks, previewed offline, pass the pack with their stack configs.

No mandatory violation, and every advisory finding suppressed with a reason in the config.
"""

from __future__ import annotations

import pytest

from policies.engine import evaluate
from tools import export, program


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_project_stack_passes_the_pack(stack):
    report = evaluate(export.build(program.run(stack)), stack=stack)
    assert report.resources > 20  # the real program, not an empty stack
    assert [(v.policy, v.urn, v.message) for v in report.violations] == []
    assert report.cost is not None and report.cost.total >= 0


def test_prod_pack_config_refuses_an_api_with_introspection_enabled():
    """Issue #5: introspection disabled in prod. Config says so, and the pack keeps it so."""
    import yaml

    api = yaml.safe_load((program.ROOT / "Pulumi.prod.yaml").read_text())["config"]["aiplatform:api"]
    raw, secrets = program.stack_config("prod", overrides={"aiplatform:api": {**api, "introspection": True}})
    report = evaluate(export.build(program.run("prod", raw, secrets)), stack="prod")
    assert [(v.policy, str(v.enforcement)) for v in report.violations
            if "introspection is enabled" in v.message] == [("security-appsync-baseline", "mandatory")]
    assert report.has_mandatory
