"""Run the real Pulumi program (``__main__.py``) under mocks with a stack's config.

This is what the offline preview, the benchmarks and the whole-program tests share: read
``Pulumi.yaml`` and ``Pulumi.<stack>.yaml`` the way the Pulumi CLI does (project defaults under the
project namespace, structured values as JSON strings, ``secure:`` values as secret keys), run the
program against ``PlatformMocks`` + ``RecordingMonitor``, wait for every registration, and hand back
what was registered and exported.
"""

from __future__ import annotations

import json
import runpy
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Optional, Union

import yaml

ROOT = Path(__file__).resolve().parent.parent
# Offline we cannot decrypt `secure:` values; the program sees this marker instead (still marked secret).
OFFLINE_SECRET = "offline-preview-secret"


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """Where and what, on one line (PyYAML's own text spans several lines with a source excerpt)."""
    mark = getattr(exc, "problem_mark", None)
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
    what = getattr(exc, "problem", None) or (str(exc).splitlines() or ["unreadable"])[0]
    return f"{where}: {what}"


class StackFileError(ValueError):
    """A Pulumi.yaml / Pulumi.<stack>.yaml file is missing or not what the CLI would accept."""


@dataclass
class ProgramRun:
    stack: str
    project: str
    config: dict[str, Any]
    monitor: Any  # tools.mocks.RecordingMonitor
    outputs: dict[str, Any]  # stack outputs, wire form (secrets keep their wrapper)

    @property
    def registrations(self):
        return [self.monitor.registrations[u] for u in self.monitor.order]


def read_project(root: Path = ROOT) -> dict:
    path = root / "Pulumi.yaml"
    try:
        data = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise StackFileError(f"{path.name} not found in {root}") from None
    except yaml.YAMLError as exc:
        raise StackFileError(f"{path.name} is not valid YAML{_yaml_problem(exc)}") from None
    if not isinstance(data, dict) or "name" not in data:
        raise StackFileError(f"{path.name} must be a mapping with a name")
    return data


def stack_config(stack: str, root: Path = ROOT, overrides: Optional[Mapping[str, Any]] = None
                 ) -> tuple[dict[str, str], list[str]]:
    """The config the CLI would hand the program for ``stack``: ({"ns:key": str}, secret keys)."""
    project = read_project(root)
    name = project["name"]
    path = root / f"Pulumi.{stack}.yaml"
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except FileNotFoundError:
        raise StackFileError(f"{path.name} not found: stacks are the Pulumi.<stack>.yaml files in {root}") from None
    except yaml.YAMLError as exc:
        raise StackFileError(f"{path.name} is not valid YAML{_yaml_problem(exc)}") from None
    if not isinstance(data, dict) or not isinstance(data.get("config", {}), dict):
        raise StackFileError(f"{path.name} must be a mapping with a 'config:' mapping")
    values: dict[str, Any] = {}
    required: list[str] = []
    for key, decl in (project.get("config") or {}).items():
        full = key if ":" in key else f"{name}:{key}"
        if isinstance(decl, dict) and "default" in decl:
            values[full] = decl["default"]
        elif not isinstance(decl, dict):
            values[full] = decl
        else:
            required.append(full)
    secret: list[str] = []
    for key, value in (data.get("config") or {}).items():
        full = key if ":" in key else f"{name}:{key}"
        if isinstance(value, dict) and set(value) == {"secure"}:
            value = OFFLINE_SECRET
            secret.append(full)
        values[full] = value
    for key, value in (overrides or {}).items():
        values[key] = value
    # The CLI refuses to run a stack that lacks a key Pulumi.yaml declares without a default.
    missing = [k for k in required if k not in values]
    if missing:
        raise StackFileError(f"{path.name} is missing configuration value(s) {', '.join(missing)} (declared in "
                             f"Pulumi.yaml without a default, so the Pulumi CLI requires them on every stack)")
    raw = {k: v if isinstance(v, str) else json.dumps(v) for k, v in values.items()}
    return raw, secret


def run(stack: str, config: Optional[Mapping[str, str]] = None, secret_keys: Optional[list[str]] = None,
        program: Union[Path, Callable[[], Any], None] = None, root: Path = ROOT) -> ProgramRun:
    """Run ``program`` (default: the project's __main__.py; or a callable that declares resources,
    as component tests use) for ``stack`` under mocks.

    ``config`` replaces the stack file's config entirely when given (tests feed tables of configs).
    Raises components.config.ConfigError for invalid config, and whatever the program raises.
    """
    import pulumi
    from pulumi.runtime import config as runtime_config
    from pulumi.runtime import settings
    from pulumi.runtime.stack import wait_for_rpcs
    from pulumi.runtime.sync_await import _sync_await

    from tools.mocks import PlatformMocks, RecordingMonitor

    project = read_project(root)["name"]
    if config is None:
        config, file_secrets = stack_config(stack, root)
        secret_keys = list(secret_keys or []) + file_secrets
    region = json.loads(config["aws:region"]) if str(config.get("aws:region", "")).startswith('"') else config.get("aws:region", "us-east-1")

    mocks = PlatformMocks(region=region)
    monitor = RecordingMonitor(mocks)
    # Start clean: work left pending by an earlier program in this process (a failed test, say)
    # must not surface in this one.
    settings.SETTINGS.rpc_manager.clear()
    settings.SETTINGS.outputs.clear()
    settings.ROOT.set(None)
    runtime_config.set_all_config(dict(config), list(secret_keys or []))
    pulumi.runtime.set_mocks(mocks, project=project, stack=stack, preview=False, monitor=monitor)
    root_stack = settings.get_root_resource()

    if callable(program):
        program()
    else:
        runpy.run_path(str(program or root / "__main__.py"), run_name="__main__")
    _sync_await(wait_for_rpcs())
    # set_mocks finished the stack before the program ran; register its outputs again now that the
    # program has exported them, so the monitor sees them as the engine would.
    root_stack._outputs_registered = False
    root_stack._finish()
    _sync_await(wait_for_rpcs())
    return ProgramRun(stack=stack, project=project, config=dict(config), monitor=monitor,
                      outputs=monitor.stack_outputs)
