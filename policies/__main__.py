"""CrossGuard entry point: `pulumi preview --policy-pack policies --policy-pack-config policies/config/<stack>.json`,
and the published pack (`pulumi policy publish`), which the CLI unpacks under
`~/.pulumi/policies/<org>/<name>/<version>/` and runs with `python -m pulumi.policy <engine> <that dir>`.

The CLI runs this file as a script (runpy), not as a module of a package, and the directory it
lives in is named after the version, not `policies`. So the directory is loaded here as the package
`aiplatform_guard` (its modules import each other relatively), whatever it is called and with
nothing else on sys.path. Only builds the pack: PolicyPack serves gRPC until the CLI stops it.
"""

import importlib
import importlib.util
import sys
from pathlib import Path

from pulumi_policy import EnforcementLevel, PolicyPack

PACKAGE = "aiplatform_guard"

if __package__:  # `python -m policies` from the repository: already a package
    PACKAGE = __package__
elif PACKAGE not in sys.modules:
    _here = Path(__file__).resolve().parent
    _spec = importlib.util.spec_from_file_location(PACKAGE, _here / "__init__.py",
                                                   submodule_search_locations=[str(_here)])
    sys.modules[PACKAGE] = importlib.util.module_from_spec(_spec)
    _spec.loader.exec_module(sys.modules[PACKAGE])
_pack = importlib.import_module(f"{PACKAGE}.pack")
build_policies = _pack.build_policies

PolicyPack(
    name=_pack.PACK_NAME,
    enforcement_level=EnforcementLevel.ADVISORY,
    policies=build_policies(),
    description="Least-privilege IAM, cost guards and a security baseline for the aiplatform stacks.",
)
