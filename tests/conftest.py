"""Shared fixtures: build components or the whole program under Pulumi mocks, offline."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path
from typing import Any, Callable, Mapping, Optional

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from components import config as platform_config  # noqa: E402
from tools import program  # noqa: E402

SCHEMAS = ROOT.parent / "shared" / "schemas"


def build(fn: Callable[[platform_config.PlatformConfig, Any], Any], stack: str = "dev",
          overrides: Optional[Mapping[str, Any]] = None):
    """Run ``fn(cfg, opts)`` under mocks with ``stack``'s config (plus overrides of whole keys,
    e.g. {"aiplatform:network": {...}}); returns (RecordingMonitor, result of fn)."""
    from components.provider import aws_provider, child_options

    raw, secrets = program.stack_config(stack, overrides=overrides)
    cfg = platform_config.parse(raw, stack, secrets)
    result: dict[str, Any] = {}

    def declare():
        provider = aws_provider(cfg)
        result["value"] = fn(cfg, child_options(provider))

    run = program.run(stack, raw, secrets, program=declare)
    return run.monitor, result.get("value")


def _preload_provider_modules() -> None:
    """Import pulumi_aws modules once with warnings off: some modules warn at import time about
    classes we never use, which must not count as our program using deprecated APIs."""
    import pulumi_aws as aws
    import pulumi_awsx as awsx

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name in ("ec2", "iam", "dynamodb", "cognito", "lambda_", "cloudwatch", "sns", "sqs", "budgets",
                     "costexplorer", "ecs", "ecr", "appsync", "kms", "lb", "secretsmanager", "vpc"):
            getattr(getattr(aws, name), "_preload_", None)  # reading a missing attribute runs the lazy import
        getattr(awsx.ec2, "_preload_", None)


_preload_provider_modules()


@pytest.fixture
def build_components():
    return build


@pytest.fixture(autouse=True)
def _deprecations_are_errors():
    # pulumi-aws deprecation warnings from our own program are defects (issue #2).
    with warnings.catch_warnings():
        # pulumi_aws warns (DeprecationWarning or plain UserWarning) from inside its own modules.
        warnings.filterwarnings("error", module=r"pulumi_aws(\.|$)")
        yield
