"""Offline preview: run the real program under mocks with a stack's config, no AWS account needed.

    python -m tools.preview --stack dev [--export out/dev.json] [--no-policy]

Prints the resources by component and type and the stack outputs, then runs the policy pack with
``policies/config/<stack>.json`` on what was registered and prints its findings and the estimated
fixed monthly cost. ``--export`` writes the registrations as a ``pulumi stack export`` (version 3)
file. Exit 0: clean; 1: mandatory policy violations (or pulumi-aws deprecation warnings); 2: the
stack's config or the pack config could not be used (one line on stderr).
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from collections import Counter, defaultdict
from pathlib import Path
from typing import Optional, Sequence

from tools import program


def preload_provider_modules() -> None:
    """Import the pulumi_aws modules we use once, with warnings off: some warn at import time about
    classes we never touch, which must not count as our program using deprecated APIs."""
    import pulumi_aws as aws
    import pulumi_awsx as awsx

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name in ("ec2", "iam", "dynamodb", "cognito", "lambda_", "cloudwatch", "sns", "sqs", "budgets",
                     "costexplorer", "ecs", "ecr", "appsync", "kms", "lb", "secretsmanager", "vpc"):
            getattr(getattr(aws, name), "_preload_", None)  # reading a missing attribute runs the lazy import
        getattr(awsx.ec2, "_preload_", None)


def component_of(urn: str) -> str:
    """The top-level component a resource belongs to, from its URN's type chain."""
    chain = urn.split("::")[2].split("$")
    return chain[0] if len(chain) > 1 or not chain[0].startswith(("aws:", "awsx:", "pulumi:")) else "(stack)"


def summary(run: program.ProgramRun) -> str:
    by_component: dict[str, Counter] = defaultdict(Counter)
    for reg in run.registrations:
        by_component[component_of(reg.urn)][reg.type] += 1
    lines = [f"Offline preview of stack '{run.stack}' (project {run.project}): "
             f"{len(run.registrations)} resources", ""]
    for comp in sorted(by_component):
        counts = by_component[comp]
        lines.append(f"{comp}  ({sum(counts.values())})")
        for typ, n in sorted(counts.items()):
            lines.append(f"    {n:3d}  {typ}")
    lines += ["", "Outputs:"]
    for key, value in sorted(run.outputs.items()):
        shown = "[secret]" if isinstance(value, dict) and "4dabf18193072939515e22adb298388d" in value \
            else json.dumps(value, sort_keys=True)
        lines.append(f"    {key}: {shown}")
    return "\n".join(lines)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.preview", description=__doc__.split("\n\n")[0])
    parser.add_argument("--stack", required=True, help="stack name: reads Pulumi.<stack>.yaml")
    parser.add_argument("--export", type=Path, help="write a pulumi stack export (v3) file here")
    parser.add_argument("--no-policy", action="store_true", help="skip the policy pack")
    parser.add_argument("--root", type=Path, default=program.ROOT,
                        help="project directory holding Pulumi.yaml and the stack files (default: this project)")
    args = parser.parse_args(argv)

    from components.config import ConfigError

    preload_provider_modules()
    caught: list[warnings.WarningMessage] = []
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            run = program.run(args.stack, root=args.root)
    except (ConfigError, program.StackFileError) as exc:
        for line in str(exc).splitlines():  # every problem of the stack, one line each
            print(f"error: {line}", file=sys.stderr)
        return 2
    print(summary(run))

    from tools import deprecations, export

    doc = export.build(run)
    # Deprecated arguments given as dicts or keywords never warn in Python; the walk over the
    # registered inputs finds those, the caught warnings cover anything else pulumi-aws flags.
    ours = deprecations.find(doc["deployment"]["resources"])
    ours += [str(w.message) for w in caught if "pulumi_aws" in (w.filename or "")
             and not any(str(w.message) in line for line in ours)]
    for line in ours:
        print(f"warning: pulumi-aws: {line}", file=sys.stderr)
    if args.export:
        export.write(doc, args.export)
        print(f"\nWrote stack export ({len(doc['deployment']['resources'])} resources) to {args.export}")
    mandatory = False
    if not args.no_policy:
        from policies.check import format_text
        from policies.config import ConfigError as PackConfigError
        from policies.engine import InputError, evaluate

        try:
            report = evaluate(doc, stack=args.stack)
        except (InputError, PackConfigError) as exc:
            print(f"error: policy pack: {exc}", file=sys.stderr)
            return 2
        print(f"\nPolicy pack (policies/config/{args.stack}.json):")
        format_text(report, sys.stdout)
        mandatory = report.has_mandatory
    return 1 if ours or mandatory else 0


if __name__ == "__main__":
    sys.exit(main())
