"""The agent's container: ARM64, pinned, non-root, the distro's entry, and requirements that match what
the code imports and what the tests ran against."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
AGENTS = ROOT / "app" / "agents"
DOCKERFILE = (AGENTS / "Dockerfile").read_text()
PIN = re.compile(r"^([A-Za-z0-9_.-]+)(?:\[[a-z0-9,_-]+\])?==([0-9][0-9A-Za-z.]*)$")
# Top-level imports of app/agents -> the requirement that provides them in the container.
PROVIDERS = {"strands": "strands-agents", "bedrock_agentcore": "bedrock-agentcore", "boto3": "boto3",
             "botocore": "botocore", "yaml": "PyYAML", "opentelemetry": "aws-opentelemetry-distro",
             "starlette": "bedrock-agentcore"}


def pins(path: Path) -> dict[str, str]:
    out = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith(("#", "-r ")):  # -r: an included file, read on its own
            match = PIN.fullmatch(line)
            assert match, f"{path.name}: {line!r} is not pinned with =="
            out[match.group(1)] = match.group(2)
    return out


def instructions() -> list[tuple[str, str]]:
    joined = re.sub(r"\\\n\s*", " ", DOCKERFILE)
    return [tuple(line.split(None, 1)) for line in joined.splitlines() if line.strip() and not line.startswith("#")]


def test_arm64_pinned_python_base_non_root_and_the_distro_entry():
    steps = instructions()
    froms = [arg for op, arg in steps if op == "FROM"]
    assert len(froms) == 1
    assert re.fullmatch(r"--platform=linux/arm64 python:3\.11\.\d+-slim-bookworm(@sha256:[0-9a-f]{64})?", froms[0])
    users = [arg for op, arg in steps if op == "USER"]
    assert users and users[-1].split(":")[0] not in ("0", "root")
    assert steps[-1] == ("CMD", '["opentelemetry-instrument", "python", "-m", "app.agents.main"]')
    assert ("EXPOSE", "8080") in steps
    assert (AGENTS / "main.py").is_file() and "def main(" in (AGENTS / "main.py").read_text()


def test_container_requirements_are_pinned_and_match_the_tested_versions():
    container = pins(AGENTS / "requirements.txt")
    assert "aws-opentelemetry-distro" in container
    dev, runtime = pins(ROOT / "requirements-dev.txt"), pins(ROOT / "requirements.txt")
    for name in ("strands-agents", "bedrock-agentcore"):
        assert container[name] == dev[name] == importlib.metadata.version(name), name
    for name in ("boto3", "botocore", "PyYAML"):
        assert container[name] == importlib.metadata.version(name), name
    assert container["boto3"] == dev["boto3"] and container["botocore"] == runtime["botocore"]


def test_every_import_of_the_agent_is_provided_in_the_container():
    container = pins(AGENTS / "requirements.txt")
    stdlib = set(sys.stdlib_module_names) | {"__future__"}
    for path in AGENTS.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module] if isinstance(node, ast.ImportFrom) and node.level == 0 else [])
            for name in names:
                top = name.split(".")[0]
                if top in stdlib:
                    continue
                assert top in PROVIDERS and PROVIDERS[top] in container, f"{path.name} imports {name}"
    # The scripted model is for tests and local runs; the container's entry never imports it.
    assert "scripted_model" not in (AGENTS / "main.py").read_text()


def test_the_image_leaves_out_the_test_model():
    ignored = (AGENTS / ".dockerignore").read_text().split()
    assert "scripted_model.py" in ignored and "__pycache__/" in ignored
