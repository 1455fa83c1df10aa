"""Runs the APPSYNC_JS resolver tests (Node's built-in runner) as part of the project's pytest run: once
on the resolver files as written and once on the bundles AppSync receives (RESOLVER_CODE=bundled)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NODE = shutil.which("node")


@pytest.mark.skipif(NODE is None, reason="node is not on PATH: the APPSYNC_JS resolver tests need Node 20+")
@pytest.mark.parametrize("form", ["source", "bundled"])
def test_resolvers_under_node_test_runner(form):
    version = subprocess.run([NODE, "--version"], capture_output=True, text=True, check=True).stdout.strip()
    major = int(version.lstrip("v").split(".")[0])
    # module.register (the loader that maps '@aws-appsync/utils' to the test stand-in) needs Node 20.6+.
    assert major >= 20, f"node {version} is too old for app/graphql/tests (needs 20.6 or newer)"
    # The Node tests bundle with components/appsync_code.py under this interpreter.
    env = {**os.environ, "RESOLVER_CODE": form, "PYTHON": sys.executable}
    done = subprocess.run([NODE, "--test", "app/graphql/tests/"], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, env=env)
    if done.returncode != 0:
        pytest.fail(f"RESOLVER_CODE={form} node --test app/graphql/tests/ failed (exit {done.returncode}):\n"
                    f"{done.stdout}\n{done.stderr}", pytrace=False)
