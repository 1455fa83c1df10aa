"""Consumer side of the platform's stack outputs: read them, write an app's amplify_outputs.json and .env.

    python -m app.deploy --from-pulumi-json outputs.json --out web/
    pulumi stack output --json --stack <org>/aiplatform/dev | python -m app.deploy --from-pulumi-json - --out web/
    python -m app.deploy --from-export out/dev.json --out web/

Standard library only (no Pulumi SDK needed); only relative imports inside the package.
"""

from .contract import OUTPUT_NAMES, REQUIRED_OUTPUTS, OutputSpec
from .outputs import OutputsError, StackOutputs, Table, TableRegion, write

__all__ = ["OUTPUT_NAMES", "REQUIRED_OUTPUTS", "OutputSpec", "OutputsError", "StackOutputs", "Table",
           "TableRegion", "write"]
