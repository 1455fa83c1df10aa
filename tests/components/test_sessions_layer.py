"""The sessions Lambda layer: pip builds exactly the pinned wheels for Lambda's platform, offline here.

The real build downloads manylinux aarch64 wheels from PyPI during `pulumi up`; the tests build from a
local wheelhouse of small wheels made on the spot (`--no-index --find-links`), which exercises the
same command, layout, hash pinning, caching and failure handling without a network.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from components import sessions_layer as layer

WHEEL = "tinydep-1.0-py3-none-any.whl"


def _wheel(wheelhouse: Path) -> Path:
    """A minimal pure-Python wheel (a platform-independent one installs for any --platform)."""
    path = wheelhouse / WHEEL
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("tinydep/__init__.py", "VALUE = 42\n")
        z.writestr("tinydep-1.0.dist-info/METADATA", "Metadata-Version: 2.1\nName: tinydep\nVersion: 1.0\n")
        z.writestr("tinydep-1.0.dist-info/WHEEL", "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
                                                   "Tag: py3-none-any\n")
        z.writestr("tinydep-1.0.dist-info/RECORD", "")
    return path


@pytest.fixture
def wheelhouse(tmp_path):
    house = tmp_path / "wheels"
    house.mkdir()
    digest = hashlib.sha256(_wheel(house).read_bytes()).hexdigest()
    requirements = tmp_path / "requirements.txt"
    requirements.write_text(f"tinydep==1.0 --hash=sha256:{digest}\n")
    return house, requirements


def test_the_pip_command_targets_lambdas_platform_with_pinned_binary_wheels(tmp_path):
    command = layer.pip_command(layer.REQUIREMENTS, tmp_path, "arm64")
    assert command[:4] == [sys.executable, "-m", "pip", "install"]
    flags = " ".join(command)
    assert "--platform manylinux2014_aarch64" in flags and "--python-version 3.12" in flags
    assert "--only-binary=:all:" in command and "--require-hashes" in command and "--implementation cp" in flags
    assert command[command.index("--target") + 1] == str(tmp_path / "python")  # Lambda's layer path
    with pytest.raises(ValueError, match="unsupported Lambda architecture 'sparc'"):
        layer.pip_command(layer.REQUIREMENTS, tmp_path, "sparc")


def test_the_shipped_requirements_pin_every_package_with_a_hash():
    lines = [l.strip() for l in layer.REQUIREMENTS.read_text().splitlines() if l.strip() and not l.startswith("#")]
    pins = [l for l in lines if "==" in l]
    assert {p.split("==")[0] for p in pins} == {"PyJWT", "cryptography", "cffi", "pycparser"}
    assert sum(1 for l in lines if l.startswith("--hash=sha256:")) == len(pins)


def test_build_installs_into_python_and_is_reused(wheelhouse, tmp_path):
    house, requirements = wheelhouse
    calls = []

    def run(cmd):
        calls.append(cmd)
        return subprocess.run(cmd, capture_output=True, text=True)

    built = layer.build_layer("arm64", requirements, tmp_path / "build", find_links=house, run=run)
    assert (built / "python" / "tinydep" / "__init__.py").read_text() == "VALUE = 42\n"
    assert not list(built.rglob("__pycache__")) and (built / layer.COMPLETE_MARKER).is_file()
    assert layer.build_layer("arm64", requirements, tmp_path / "build", find_links=house, run=run) == built
    assert len(calls) == 1  # the second call reused the finished build
    # Another architecture or another pin is another layer.
    assert layer.layer_directory(requirements, "x86_64", tmp_path / "build") != built


def test_a_hash_mismatch_fails_with_one_line_and_leaves_nothing(wheelhouse, tmp_path):
    house, requirements = wheelhouse
    requirements.write_text("tinydep==1.0 --hash=sha256:" + "0" * 64 + "\n")
    with pytest.raises(RuntimeError, match=r"building the sessions Lambda layer failed \(pip exit \d+\)"):
        layer.build_layer("arm64", requirements, tmp_path / "build", find_links=house)
    assert list((tmp_path / "build").iterdir()) == []
