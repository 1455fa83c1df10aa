"""Shared fixtures: build components or the whole program under Pulumi mocks, offline."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Callable, Mapping, Optional

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from components import config as platform_config  # noqa: E402
from tools import program  # noqa: E402
from tools.preview import preload_provider_modules  # noqa: E402

SCHEMAS = ROOT.parent / "shared" / "schemas"


def build(fn: Callable[[platform_config.PlatformConfig, Any], Any], stack: str = "dev",
          overrides: Optional[Mapping[str, Any]] = None, secret_overrides: Optional[Mapping[str, str]] = None):
    """Run ``fn(cfg, opts)`` under mocks with ``stack``'s config (plus overrides of whole keys,
    e.g. {"aiplatform:network": {...}}, and ``secret_overrides`` set as with ``pulumi config set
    --secret``); returns (RecordingMonitor, result of fn)."""
    from components.provider import aws_provider, child_options

    raw, secrets = program.stack_config(stack, overrides={**(overrides or {}), **(secret_overrides or {})})
    secrets = secrets + list(secret_overrides or {})
    cfg = platform_config.parse(raw, stack, secrets)
    result: dict[str, Any] = {}

    def declare():
        provider = aws_provider(cfg)
        result["value"] = fn(cfg, child_options(provider))

    run = program.run(stack, raw, secrets, program=declare)
    return run.monitor, result.get("value")


# Some pulumi_aws modules warn at import time about classes we never use; import them quietly first.
preload_provider_modules()


@pytest.fixture
def build_components():
    return build
