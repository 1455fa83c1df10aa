"""The repository stands alone: no tracked file refers to a folder beside the clone, or to a document
the repository does not ship (markdown links and ``*.md`` mentions in code, comments and docs)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from tests.conftest import ROOT

# Built from parts so this file does not match itself.
OUTSIDE = ("../" + "shared", "/work/" + "shared")
UNSHIPPED_DOCS = ("BRIEF" + ".md", "aws-deploy-traps" + ".md")
# Unmodified third-party files (their wording is theirs), and this file's own fixtures.
VENDORED = ("tests/data/schemas/", "tests/test_repository.py")
SKIP_DIRS = {".git", ".venv", "node_modules", "__pycache__", "out", ".pytest_cache"}

URL = re.compile(r"[a-z][a-z0-9+.-]*://\S+")
MD_MENTION = re.compile(r"(?<![\w./-])((?:\.{1,2}/)?[\w-][\w.-]*(?:/[\w.-]+)*\.md)(?![\w])")
MD_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def tracked_files(root: Path) -> list[str]:
    """What a clone holds: git's index when there is one, else every file outside build/venv folders."""
    if (root / ".git").exists():
        done = subprocess.run(["git", "ls-files", "-z"], cwd=root, capture_output=True, check=True)
        return [p for p in done.stdout.decode().split("\0") if p and (root / p).is_file()]
    return sorted(str(p.relative_to(root)) for p in root.rglob("*")
                  if p.is_file() and not SKIP_DIRS & set(p.relative_to(root).parts))


def _exists(root: Path, here: Path, target: str, basenames: set[str]) -> bool:
    target = target.split("#", 1)[0]
    if not target:
        return True
    if (here.parent / target).exists() or (root / target.lstrip("/")).exists():
        return True
    return "/" not in target and target in basenames


def problems(root: Path, files: list[str]) -> list[str]:
    """One line per reference outside the repository or to a missing document."""
    basenames = {Path(f).name for f in files}
    found = []
    for rel in files:
        if rel.startswith(VENDORED):
            continue
        path = root / rel
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue  # binary
        for n, line in enumerate(text.splitlines(), 1):
            for needle in OUTSIDE + UNSHIPPED_DOCS:
                if needle in line:
                    found.append(f"{rel}:{n}: refers to {needle}, which is not in the repository")
            bare = URL.sub(" ", line)
            targets = set(MD_MENTION.findall(bare))
            if rel.endswith(".md"):
                targets |= {t for t in MD_LINK.findall(line) if not URL.match(t) and not t.startswith(("#", "mailto:"))}
            for target in sorted(targets):
                if target not in UNSHIPPED_DOCS and not _exists(root, path, target, basenames):
                    found.append(f"{rel}:{n}: refers to {target}, which is not in the repository")
    return found


def test_no_file_refers_to_anything_outside_the_repository():
    assert problems(ROOT, tracked_files(ROOT)) == []


def test_the_check_finds_outside_folders_and_missing_documents(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "guide.md").write_text("See [setup](../SETUP.md), [ok](other.md#part) and "
                                                "[web](https://example.com/x.md).\n")
    (tmp_path / "docs" / "other.md").write_text("fine\n")
    (tmp_path / "tool.py").write_text("# the traps are in " + UNSHIPPED_DOCS[1] + "\n"
                                      "SCHEMAS = '" + OUTSIDE[0] + "/schemas'  # and docs/guide.md, notes.md\n")
    files = ["docs/guide.md", "docs/other.md", "tool.py"]
    assert problems(tmp_path, files) == [
        "docs/guide.md:1: refers to ../SETUP.md, which is not in the repository",
        f"tool.py:1: refers to {UNSHIPPED_DOCS[1]}, which is not in the repository",
        f"tool.py:2: refers to {OUTSIDE[0]}, which is not in the repository",
        "tool.py:2: refers to notes.md, which is not in the repository",
    ]
