"""AWS managed policy documents: a dated snapshot shipped as pack data, so an attached managed
policy is judged by what it grants rather than by its name.

    python -m policies.managedpolicies IAM_DATASET_DIR --commit SHA --date YYYY-MM-DD   # refresh

IAM_DATASET_DIR is a checkout of https://github.com/iann0036/iam-dataset (MIT licence, Copyright
Ian Mckay), which tracks every AWS managed policy in `aws/managedpolicies/<name>.json`. The
snapshot keeps, per policy path/name, the Allow statements of the default version (statements are
judged one by one, so Deny statements are left out) and the source commit and date, gzipped
(data/aws-managed-policies.json.gz, about 0.5 MB). Deprecated policies without a document are
skipped. The documents themselves are AWS's.
"""

from __future__ import annotations

import argparse
import functools
import gzip
import json
import sys
from pathlib import Path
from typing import Any, Optional

SNAPSHOT_FILE = Path(__file__).resolve().parent / "data" / "aws-managed-policies.json.gz"
SOURCE = "https://github.com/iann0036/iam-dataset (aws/managedpolicies, MIT licence, Copyright Ian Mckay)"


@functools.lru_cache(maxsize=1)
def snapshot() -> dict[str, Any]:
    return json.loads(gzip.decompress(SNAPSHOT_FILE.read_bytes()))


def document(name: str) -> Optional[dict[str, Any]]:
    """The Allow statements of AWS managed policy `path/Name` (as after `:policy/`), or None when the
    snapshot does not know it (a newer policy, or a typo that AWS rejects at deploy time)."""
    statements = snapshot()["policies"].get(name)
    if statements is None:
        return None
    return {"Version": "2012-10-17", "Statement": statements}


def build(directory: Path, commit: str, date: str) -> dict[str, Any]:
    policies: dict[str, list[dict[str, Any]]] = {}
    for path in sorted((directory / "aws" / "managedpolicies").glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        arn, doc = data.get("arn"), data.get("document")
        if not arn or not isinstance(doc, dict) or ":policy/" not in arn:
            continue
        raw = doc.get("Statement")
        statements = [raw] if isinstance(raw, dict) else raw or []
        policies[arn.split(":policy/", 1)[1]] = [
            {k: v for k, v in s.items() if k != "Sid"} for s in statements
            if isinstance(s, dict) and s.get("Effect") == "Allow"]
    return {"source": SOURCE, "commit": commit, "date": date, "policies": dict(sorted(policies.items()))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m policies.managedpolicies", description=__doc__.splitlines()[0])
    parser.add_argument("directory", type=Path, help="a checkout of github.com/iann0036/iam-dataset")
    parser.add_argument("--commit", required=True, help="the checkout's commit (recorded in the snapshot)")
    parser.add_argument("--date", required=True, help="the commit's date, YYYY-MM-DD (recorded in the snapshot)")
    args = parser.parse_args(argv)
    if not (args.directory / "aws" / "managedpolicies").is_dir():
        print(f"error: {args.directory} has no aws/managedpolicies directory (not an iam-dataset checkout)",
              file=sys.stderr)
        return 2
    data = build(args.directory, args.commit, args.date)
    text = json.dumps(data, separators=(",", ":"), sort_keys=False).encode()
    SNAPSHOT_FILE.write_bytes(gzip.compress(text, mtime=0))
    print(f"wrote {SNAPSHOT_FILE}: {len(data['policies'])} policies, {SNAPSHOT_FILE.stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
