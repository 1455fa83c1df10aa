"""Runs the APPSYNC_JS resolver tests (Node's built-in runner) as part of the project's pytest run."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NODE = shutil.which("node")


@pytest.mark.skipif(NODE is None, reason="node is not on PATH: the APPSYNC_JS resolver tests need Node 20+")
def test_resolvers_under_node_test_runner():
    version = subprocess.run([NODE, "--version"], capture_output=True, text=True, check=True).stdout.strip()
    major = int(version.lstrip("v").split(".")[0])
    # module.register (the loader that maps '@aws-appsync/utils' to the test stand-in) needs Node 20.6+.
    assert major >= 20, f"node {version} is too old for app/graphql/tests (needs 20.6 or newer)"
    done = subprocess.run([NODE, "--test", "app/graphql/tests/"], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    if done.returncode != 0:
        pytest.fail(f"node --test app/graphql/tests/ failed (exit {done.returncode}):\n{done.stdout}\n{done.stderr}",
                    pytrace=False)
