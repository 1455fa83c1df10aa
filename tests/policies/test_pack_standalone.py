"""The pack is publishable: self-contained, versioned, and it serves when copied alone.

`pulumi policy publish` uploads policies/ by itself; the CLI unpacks it under
~/.pulumi/policies/<org>/<name>/<version>/ and runs `python -m pulumi.policy <engine> <dir>` there.
"""

from __future__ import annotations

import ast
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
PACK = ROOT / "policies"
# Distribution name in requirements.txt -> the module it provides.
MODULES = {"pulumi-policy": "pulumi_policy", "policy-sentry": "policy_sentry"}


def _copy_pack(dest: Path) -> Path:
    shutil.copytree(PACK, dest, ignore=shutil.ignore_patterns("__pycache__", "venv", "*.pyc"))
    return dest


def _requirements() -> dict[str, str]:
    pins = {}
    for line in (PACK / "requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, sep, version = line.partition("==")
            assert sep and re.fullmatch(r"\d+(\.\d+)+", version), f"not pinned: {line}"
            pins[name.lower()] = version
    return pins


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_pack_imports_only_itself_the_stdlib_and_its_requirements():
    allowed = set(sys.stdlib_module_names) | {MODULES.get(n, n.replace("-", "_")) for n in _requirements()}
    for path in PACK.rglob("*.py"):
        if "venv" in path.relative_to(PACK).parts:
            continue
        outside = _imports(path) - allowed
        assert not outside, f"{path.relative_to(ROOT)} imports {sorted(outside)}: not the pack's own or pinned"


def test_requirements_are_pinned_to_what_the_venv_runs():
    from importlib.metadata import version
    for name, pinned in _requirements().items():
        assert version(name) == pinned, f"{name}: requirements.txt pins {pinned}, the venv has {version(name)}"


def test_version_matches_the_newest_changelog_entry_and_the_venv_is_inside_the_pack():
    project = yaml.safe_load((PACK / "PulumiPolicy.yaml").read_text())
    entries = re.findall(r"^## (\d+\.\d+\.\d+) - (\d{4}-\d{2}-\d{2})$", (PACK / "CHANGELOG.md").read_text(), re.M)
    assert entries and project["version"] == entries[0][0]
    assert [tuple(map(int, v.split("."))) for v, _ in entries] == \
        sorted((tuple(map(int, v.split("."))) for v, _ in entries), reverse=True)  # newest first
    venv = project["runtime"]["options"]["virtualenv"]
    assert not Path(venv).is_absolute() and ".." not in Path(venv).parts
    assert f"{venv}/" in (PACK / ".gitignore").read_text().split()  # never published nor committed


def test_copied_pack_serves_from_a_versioned_directory(tmp_path):
    project = yaml.safe_load((PACK / "PulumiPolicy.yaml").read_text())
    pack_dir = _copy_pack(tmp_path / "policies" / "acme" / "aiplatform-guard" / project["version"])
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONSTARTUP")}
    proc = subprocess.Popen([sys.executable, "-m", "pulumi.policy", "127.0.0.1:1", "."], cwd=pack_dir,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            start_new_session=True)
    try:
        port = proc.stdout.readline().strip()
        if not port.isdigit():
            proc.kill()
            pytest.fail(f"no port printed: {port!r} {proc.communicate(timeout=10)[1][-2000:]}")
        assert 0 < int(port) < 65536
        assert proc.poll() is None  # still serving
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def test_copied_pack_does_not_reach_back_into_the_repository(tmp_path):
    """Run from the copy, every pack module resolves inside it (none from the repository)."""
    pack_dir = _copy_pack(tmp_path / "o" / "n" / "1.0.0")
    code = ("import importlib, importlib.util, os, sys\n"
            "spec = importlib.util.spec_from_file_location('g', '__init__.py', submodule_search_locations=['.'])\n"
            "m = importlib.util.module_from_spec(spec); sys.modules['g'] = m; spec.loader.exec_module(m)\n"
            "importlib.import_module('g.pack'); importlib.import_module('g.engine'); importlib.import_module('g.check')\n"
            "venv = os.path.realpath(sys.prefix)\n"
            "files = [os.path.realpath(f) for f in (getattr(mod, '__file__', None) for mod in list(sys.modules.values())) if f]\n"
            f"print([f for f in files if f.startswith({str(ROOT.resolve())!r}) and not f.startswith(venv)])\n")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run([sys.executable, "-c", code], cwd=pack_dir, capture_output=True, text=True, env=env,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[]"


def test_fargate_table_has_one_source_and_reaches_the_lambda_package(tmp_path):
    """The program and the Lambda read the pack's table; the Lambda gets it inside its package."""
    import pulumi

    from app.sessions import settings
    from components import config as platform_config
    from components import sessions
    from policies import fargate

    assert settings.FARGATE_MEMORY is fargate.FARGATE_MEMORY is platform_config.FARGATE_MEMORY
    assert fargate.FARGATE_MEMORY[256] == (512, 1024, 2048) and fargate.FARGATE_MEMORY[16384][-1] == 122880

    def unpack(archive: pulumi.AssetArchive, dest: Path) -> None:
        for name, item in archive.assets.items():
            if isinstance(item, pulumi.AssetArchive):
                unpack(item, dest / name)
            else:
                (dest / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(item.path, dest / name)

    unpack(sessions.lambda_code(), tmp_path)
    code = "import sessions.settings as s, json; print(json.dumps(s.FARGATE_MEMORY[512]), s.size_number('1024'))"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, env=env,
                          timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["[1024,", "2048,", "3072,", "4096]", "1024"]
    assert not (ROOT / "app" / "sessions" / "fargate.py").exists()  # no copy in git


def test_ci_creates_the_packs_virtualenv_before_running_it():
    """The CLI runs a local pack from its `virtualenv` but does not create it: the workflow must."""
    venv = yaml.safe_load((PACK / "PulumiPolicy.yaml").read_text())["runtime"]["options"]["virtualenv"]
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "deploy.yml").read_text())
    jobs = [job for job in workflow["jobs"].values()
            if any((step.get("with") or {}).get("policyPacks") == "policies" for step in job.get("steps", []))]
    assert jobs
    for job in jobs:
        steps = job["steps"]
        uses_pack = next(i for i, s in enumerate(steps) if (s.get("with") or {}).get("policyPacks") == "policies")
        setup = " ".join(s.get("run", "") for s in steps[:uses_pack])
        assert re.search(rf"python -m venv policies/{re.escape(venv)}(\s|$)", setup), setup
        assert re.search(rf"policies/{re.escape(venv)}/bin/pip install .*-r policies/requirements\.txt", setup), setup
