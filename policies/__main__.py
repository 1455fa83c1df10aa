"""CrossGuard entry point: `pulumi preview --policy-pack policies --policy-pack-config policies/config/<stack>.json`.

Only builds the pack (PolicyPack serves gRPC until the CLI stops it); the rules live in
policies/rules/ and are built into policies by policies/pack.py.
"""

import sys
from pathlib import Path

# The CLI runs this directory as a script; make the repository root importable so the pack's
# modules resolve as the `policies` package, as they do for the offline runner and the tests.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pulumi_policy import EnforcementLevel, PolicyPack  # noqa: E402

from policies.pack import PACK_NAME, build_policies  # noqa: E402

PolicyPack(
    name=PACK_NAME,
    enforcement_level=EnforcementLevel.ADVISORY,
    policies=build_policies(),
    description="Least-privilege IAM, cost guards and a security baseline for the aiplatform stacks.",
)
