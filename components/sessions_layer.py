"""The sessions Lambdas' dependency layer: PyJWT and cryptography for the functions' architecture.

cryptography (and its cffi) are native: wheels built for the machine running ``pulumi up`` (often
x86_64 macOS or Linux) would not load on Lambda's arm64 Amazon Linux. So the layer is built by pip
for the function's platform (``--platform manylinux2014_aarch64 --python-version 3.12
--only-binary=:all:``) from ``app/sessions/requirements.txt``, whose hashes pin the exact wheels
(``--require-hashes``). The result lands in ``build/`` under a name derived from the requirements
and the platform, so a second run reuses it and a changed pin builds a new one.

The build runs when the program runs against a real engine (``pulumi preview`` / ``up`` need the
archive to hash it). Under Pulumi's mocks (tests, tools.preview) nothing is built: the archive is
only recorded, so the offline suite needs no network.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Callable, Optional, Sequence

import pulumi

ROOT = Path(__file__).resolve().parent.parent
REQUIREMENTS = ROOT / "app" / "sessions" / "requirements.txt"
BUILD_DIR = ROOT / "build"
PYTHON_VERSION = "3.12"  # the functions' runtime (python3.12)
PLATFORMS = {"arm64": "manylinux2014_aarch64", "x86_64": "manylinux2014_x86_64"}
COMPLETE_MARKER = ".complete"


def pip_command(requirements: Path, target: Path, architecture: str,
                find_links: Optional[Path] = None) -> list[str]:
    """pip, installing exactly the pinned wheels for Lambda's platform into <target>/python (the
    directory Lambda puts on sys.path for a layer)."""
    if architecture not in PLATFORMS:
        raise ValueError(f"unsupported Lambda architecture {architecture!r}; expected one of {', '.join(PLATFORMS)}")
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-compile",
               "--require-hashes", "--only-binary=:all:", "--implementation", "cp",
               "--python-version", PYTHON_VERSION, "--platform", PLATFORMS[architecture],
               "--target", str(target / "python"), "-r", str(requirements)]
    if find_links is not None:  # an offline wheelhouse instead of the index
        command += ["--no-index", "--find-links", str(find_links)]
    return command


def layer_directory(requirements: Path, architecture: str, build_dir: Path = BUILD_DIR) -> Path:
    digest = hashlib.sha256(requirements.read_bytes() + f"\n{architecture}\n{PYTHON_VERSION}".encode()).hexdigest()
    return build_dir / f"sessions-layer-{architecture}-{digest[:16]}"


def build_layer(architecture: str, requirements: Path = REQUIREMENTS, build_dir: Path = BUILD_DIR,
                find_links: Optional[Path] = None,
                run: Callable[[Sequence[str]], subprocess.CompletedProcess] = None) -> Path:
    """Build (or reuse) the layer directory; returns it. A failed build leaves nothing behind."""
    dest = layer_directory(requirements, architecture, build_dir)
    if (dest / COMPLETE_MARKER).is_file():
        return dest
    staging = dest.with_name(dest.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    runner = run or (lambda cmd: subprocess.run(cmd, capture_output=True, text=True))
    result = runner(pip_command(requirements, staging, architecture, find_links))
    if result.returncode != 0:
        shutil.rmtree(staging, ignore_errors=True)
        tail = (result.stderr or result.stdout or "").strip().splitlines()[-1:] or ["no output"]
        raise RuntimeError(f"building the sessions Lambda layer failed (pip exit {result.returncode}): {tail[0]}")
    # Bytecode would make the archive depend on the build machine; Lambda compiles on import.
    for cache in staging.rglob("__pycache__"):
        shutil.rmtree(cache, ignore_errors=True)
    (staging / COMPLETE_MARKER).write_text("")
    shutil.rmtree(dest, ignore_errors=True)
    staging.rename(dest)
    return dest


def _mocked() -> bool:
    from pulumi.runtime.mocks import MockMonitor
    from pulumi.runtime.settings import get_monitor

    return isinstance(get_monitor(), MockMonitor)


def layer_archive(architecture: str) -> pulumi.FileArchive:
    """The layer's content: ``python/`` with the pinned packages (built unless under mocks)."""
    if _mocked():
        return pulumi.FileArchive(str(layer_directory(REQUIREMENTS, architecture)))
    return pulumi.FileArchive(str(build_layer(architecture)))
