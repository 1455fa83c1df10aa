"""Offline preview: run the real program under mocks with a stack's config, no AWS account needed.

    python -m tools.preview --stack dev [--export out/dev.json] [--json] [--no-policy]

Prints the resources by component and type and the stack outputs (long ones summarised; ``--json``
prints them whole), then runs the policy pack with ``policies/config/<stack>.json`` on what was
registered and prints its findings and the estimated fixed monthly cost, then the deploy lint
(``tools.deploylint``: inputs against AWS's service models), and what to do next. ``--export``
writes the registrations as a ``pulumi stack export`` (version 3) file.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import gc
import json
import sys
import textwrap
import types
import warnings
from collections import Counter, defaultdict
from pathlib import Path
from typing import Optional, Sequence

from tools import program

EXIT_CODES = ("exit codes: 0 clean; 1 mandatory policy violations, deploy-lint findings or pulumi-aws "
              "deprecation warnings; "
              "2 the stack's config or the pack config cannot be used (one line per problem on stderr)")
SECRET_SIG = "4dabf18193072939515e22adb298388d"
# An output longer than this on one line is summarised (its keys or item count); --json shows it whole.
OUTPUT_WIDTH = 100


def preload_provider_modules() -> None:
    """Import the pulumi_aws modules we use once, with warnings off: some warn at import time about
    classes we never touch, which must not count as our program using deprecated APIs."""
    import pulumi_aws as aws
    import pulumi_awsx as awsx

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name in ("ec2", "iam", "dynamodb", "cognito", "lambda_", "cloudwatch", "sns", "sqs", "budgets",
                     "costexplorer", "ecs", "ecr", "appsync", "kms", "lb", "secretsmanager", "vpc", "bedrock", "s3"):
            getattr(getattr(aws, name), "_preload_", None)  # reading a missing attribute runs the lazy import
        getattr(awsx.ec2, "_preload_", None)


def quiet_collector() -> None:
    """A preview is one short process whose objects (imported modules, registrations, the export)
    mostly live to its end: the collector's full passes over them cost a quarter of the run and free
    little. Collect young objects rarely and leave what was imported out of collections."""
    gc.set_threshold(50_000, 20, 1_000)


def component_of(urn: str) -> str:
    """The top-level component a resource belongs to, from its URN's type chain."""
    chain = urn.split("::")[2].split("$")
    return chain[0] if len(chain) > 1 or not chain[0].startswith(("aws:", "awsx:", "pulumi:")) else "(stack)"


def short_name(urn: str) -> str:
    """A resource's name (what suppressions match), not its whole URN."""
    return urn.rsplit("::", 1)[-1] if urn else "(stack)"


def _masked(value):
    if isinstance(value, dict):
        return "[secret]" if SECRET_SIG in value else {k: _masked(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_masked(v) for v in value]
    return value


def show_output(key: str, value) -> list[str]:
    """One output as lines: short values as JSON, a long object as its keys, a long list as its size."""
    value = _masked(value)
    text = json.dumps(value, sort_keys=True)
    head = f"    {key}: "
    if len(head) + len(text) <= OUTPUT_WIDTH or not isinstance(value, (dict, list)):
        return [head + text]
    if isinstance(value, list):
        return [f"{head}[{len(value)} items]"]
    listed = f"{{{len(value)} keys: {', '.join(sorted(value))}}}"
    return textwrap.wrap(listed, OUTPUT_WIDTH, initial_indent=head, subsequent_indent=" " * (len(head) + 1))


def resource_count(run: program.ProgramRun) -> int:
    """What the export and the pack count: every registration plus the stack itself."""
    return len(run.registrations) + 1


def summary(run: program.ProgramRun, full_outputs: bool = False) -> str:
    by_component: dict[str, Counter] = defaultdict(Counter)
    by_component["(stack)"]["pulumi:pulumi:Stack"] += 1
    for reg in run.registrations:
        by_component[component_of(reg.urn)][reg.type] += 1
    lines = [f"Offline preview of stack '{run.stack}' (project {run.project}): {resource_count(run)} resources", ""]
    for comp in sorted(by_component):
        counts = by_component[comp]
        lines.append(f"{comp}  ({sum(counts.values())})")
        for typ, n in sorted(counts.items()):
            lines.append(f"    {n:3d}  {typ}")
    lines += ["", "Outputs:"]
    if full_outputs:
        lines.append(json.dumps(_masked(run.outputs), indent=2, sort_keys=True))
    else:
        for key, value in sorted(run.outputs.items()):
            lines += show_output(key, value)
    return "\n".join(lines)


# More cost lines than this for one price item (alarms, say) are shown as one line.
COST_LINES_PER_ITEM = 3


def with_short_names(report):
    """The pack's report for display: cost lines name resources, not their URNs, and many lines for
    one price item become one (same total)."""
    if report.cost is None:
        return report
    by_item: dict[str, list] = defaultdict(list)
    for line in report.cost.items:
        by_item[line.item].append(line)
    items = []
    for lines in by_item.values():
        if len(lines) <= COST_LINES_PER_ITEM:
            items += [dataclasses.replace(i, urn=short_name(i.urn)) for i in lines]
        else:
            items.append(dataclasses.replace(
                lines[0], urn=f"{len(lines)} resources ({short_name(lines[0].urn)}, ...)",
                quantity=sum(i.quantity for i in lines), monthly_usd=sum(i.monthly_usd for i in lines)))
    shown = copy.copy(report)
    # The pack's own total, not one re-added from the merged lines (float sums differ by a cent).
    shown.cost = types.SimpleNamespace(**vars(report.cost), total=report.cost.total)
    shown.cost.items = items
    shown.cost.skipped = [dataclasses.replace(s, urn=short_name(s.urn)) for s in report.cost.skipped]
    return shown


def next_steps(stack: str, report=None) -> str:
    finding = next(iter(report.violations), None) if report is not None else None
    policy, name = (finding.policy, short_name(finding.urn)) if finding else ("<policy>", "<resource name or glob>")
    return "\n".join([
        "",
        "Next:",
        f"    python -m tools.preview --stack {stack} --json     every output in full",
        f"    python -m tools.preview --stack {stack} --export out/{stack}.json     a stack export for "
        "policies.check and app.deploy",
        f"    pulumi preview --stack <org>/{stack} --policy-pack policies --policy-pack-config "
        f"policies/config/{stack}.json",
        f"    To accept a finding, suppress it with a reason in policies/config/{stack}.json "
        "(policies/README.md):",
        f'      {{"{policy}": {{"suppressions": [{{"resource": "{name}", "reason": "why", "expires": "YYYY-MM-DD"}}]}}}}',
    ])


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.preview", description=__doc__.split("\n\n")[0],
                                     epilog=EXIT_CODES)
    parser.add_argument("--stack", required=True, help="stack name: reads Pulumi.<stack>.yaml")
    parser.add_argument("--export", type=Path, help="write a pulumi stack export (v3) file here")
    parser.add_argument("--json", action="store_true", help="print every stack output in full, as JSON")
    parser.add_argument("--no-policy", action="store_true", help="skip the policy pack")
    parser.add_argument("--root", type=Path, default=program.ROOT,
                        help="project directory holding Pulumi.yaml and the stack files (default: this project)")
    args = parser.parse_args(argv)

    from components.config import ConfigError

    quiet_collector()
    preload_provider_modules()
    gc.freeze()
    caught: list[warnings.WarningMessage] = []
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            run = program.run(args.stack, root=args.root)
    except (ConfigError, program.StackFileError) as exc:
        for line in str(exc).splitlines():  # every problem of the stack, one line each
            print(f"error: {line}", file=sys.stderr)
        return 2
    print(summary(run, full_outputs=args.json))
    from components import placeholders

    # A real `pulumi up` / `preview` refuses these (components/config.load); offline they only warn.
    for line in placeholders.find(run.config):
        print(f"warning: placeholder (a real deploy refuses it): {line}", file=sys.stderr)

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
    report = None
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
        format_text(with_short_names(report), sys.stdout)
        mandatory = report.has_mandatory
    # After the pack: every input against AWS's service models (python -m tools.deploylint EXPORT).
    from tools.deploylint import lint
    from tools.deploylint.__main__ import format_text as lint_text

    lint_report = lint(doc)
    print("")
    lint_text(lint_report, sys.stdout, details=False)  # the full coverage: python -m tools.deploylint FILE
    print(next_steps(args.stack, report))
    return 1 if ours or mandatory or lint_report.findings else 0


if __name__ == "__main__":
    sys.exit(main())
