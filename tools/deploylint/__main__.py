"""python -m tools.deploylint EXPORT [--format text|json]

Checks every custom resource's inputs in a ``pulumi stack export`` file (or the offline preview's
``--export``) against botocore's service model of the API call that creates it, and against the
known constraints the models do not encode. Exit 0: clean; 1: findings; 2: the file is unusable.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Optional, Sequence, TextIO

from tools.deploylint.core import InputError, Report, lint


def format_text(report: Report, out: TextIO, details: bool = True) -> None:
    """Findings, then coverage: totals always, the per-type and per-skip lines when ``details``."""
    cov = report.coverage
    for f in report.findings:
        out.write(f"{f.urn}\n    {f.property} = {json.dumps(f.value, default=str)}: {f.constraint} "
                  f"[{f.kind}; {f.source}]\n")
    out.write(f"Deploy lint: {len(report.findings)} finding(s) in {cov.resources} resources\n")
    out.write(f"Coverage: {len(cov.types)} types mapped, {cov.checked} values checked, "
              f"{sum(cov.skipped.values())} properties skipped, {sum(cov.unmapped.values())} resources of unmapped types\n")
    for type_, n in sorted(cov.unmapped.items()):
        out.write(f"    {type_}: NOT MAPPED ({n} resources unchecked)\n")
    if not details:
        return
    for type_, op in sorted(cov.types.items()):
        out.write(f"    {type_} -> {op}\n")
    if cov.skipped:
        out.write("Skipped properties (type, property: why):\n")
        for (type_, prop, reason), n in sorted(cov.skipped.items()):
            out.write(f"    {type_} {prop}: {reason} (x{n})\n")


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.deploylint", description=__doc__.split("\n\n")[0],
                                     epilog="exit codes: 0 clean; 1 findings; 2 the file is unusable (one line on stderr)")
    parser.add_argument("export", type=Path, help="stack export file (pulumi stack export / tools.preview --export)")
    parser.add_argument("--format", choices=("text", "json"), default="text")
    args = parser.parse_args(argv)
    try:
        doc = json.loads(args.export.read_text())
        report = lint(doc)
    except FileNotFoundError:
        print(f"error: {args.export}: no such file", file=sys.stderr)
        return 2
    except (OSError, UnicodeDecodeError) as exc:
        print(f"error: {args.export}: cannot read: {exc}", file=sys.stderr)
        return 2
    except json.JSONDecodeError as exc:
        print(f"error: {args.export}: not JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})", file=sys.stderr)
        return 2
    except InputError as exc:
        print(f"error: {args.export}: {exc}", file=sys.stderr)
        return 2
    if args.format == "json":
        json.dump([f.as_json() for f in report.findings], sys.stdout, indent=2, default=str)
        sys.stdout.write("\n")
    else:
        format_text(report, sys.stdout)
    return 1 if report.findings else 0


if __name__ == "__main__":
    sys.exit(main())
