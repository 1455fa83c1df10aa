"""Offline runner: evaluate the policy pack on a `pulumi stack export` file.

    python -m policies.check STATE.json [--config FILE | --stack NAME] [--format text|json]
                                        [--strict] [--verbose]

Exit codes: 0 no mandatory violation; 1 mandatory violations; 2 the input or config could not be
used (one-line reason on stderr).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
from pathlib import Path
from typing import Optional, TextIO

from . import stream
from .config import ConfigError
from .engine import READ_FIELDS, InputError, Report, evaluate, load_config, parse_export_text, stack_config_path

EXIT_OK, EXIT_MANDATORY, EXIT_UNUSABLE = 0, 1, 2
EPILOG = ("exit codes: 0 no mandatory violation, 1 mandatory violation(s), 2 the export or config "
          "cannot be used (one line on stderr)")


def format_text(report: Report, out: TextIO, verbose: bool = False) -> None:
    for v in sorted(report.violations, key=lambda v: (v.enforcement != "mandatory", v.policy, v.urn)):
        where = v.urn or "(stack)"
        out.write(f"[{v.enforcement}] {v.policy} ({v.severity}) {where}\n    {v.message}\n")
    for s in sorted(report.suppressed, key=lambda s: (s.violation.policy, s.violation.urn)):
        v = s.violation
        until = f", until {s.expires}" if s.expires else ""
        out.write(f"[suppressed] {v.policy} ({v.severity}) {v.urn or '(stack)'}\n    {v.message}\n"
                  f"    reason: {s.reason} (suppression {s.resource!r}{until})\n")
    for e in report.expired_suppressions:
        out.write(f"[expired suppression] {e.policy}: {e.resource!r} expired {e.expires} ({e.reason})\n")
    for skip in report.skips:
        subject = " ".join(x for x in (skip.policy, skip.urn or ("(stack)" if skip.kind == "check" else "")) if x)
        out.write(f"[skipped {skip.kind}] {subject + ': ' if subject else ''}{skip.reason}\n")
    cost = report.cost
    if cost is not None:
        out.write(f"\nEstimated fixed monthly cost: ${cost.total:.2f} {cost.currency} "
                  f"({cost.region} prices as of {cost.as_of})\n")
        for item in sorted(cost.items, key=lambda i: -i.monthly_usd):
            out.write(f"    ${item.monthly_usd:9.2f}  {item.item} x {item.quantity:g}  {item.urn}\n")
        for skipped in cost.skipped:
            out.write(f"    not priced: {skipped.urn} ({skipped.reason})\n")
    if report.unknown_fields:
        out.write("\nFields not in Pulumi's apitype (ignored): " + _fields(report.unknown_fields) + "\n")
    if verbose and report.ignored_fields:
        out.write("\nFields the runner does not read (ignored): " + _fields(report.ignored_fields) + "\n")
    counts = _skip_counts(report)
    out.write(f"\n{report.resources} resources: {len(report.mandatory)} mandatory, {len(report.advisory)} advisory, "
              f"{len(report.suppressed)} suppressed, {len(report.expired_suppressions)} expired suppression(s), "
              f"skipped: {counts}\n")


def _fields(counts: dict[str, int]) -> str:
    return ", ".join(f"{name} ({n})" for name, n in counts.items())


def _skip_counts(report: Report) -> str:
    by_kind = {"check": 0, "resource": 0, "estimate": 0}
    unreadable = 0
    for skip in report.skips:
        by_kind[skip.kind] = by_kind.get(skip.kind, 0) + 1
        unreadable += skip.unreadable and skip.kind == "check"
    return (f"{by_kind['check']} check(s) on unknown values ({unreadable} of them encrypted in the export), "
            f"{by_kind['resource']} resource(s), {by_kind['estimate']} cost estimate")


def format_json(report: Report, out: TextIO, verbose: bool = False) -> None:
    json.dump([v.to_dict() for v in report.violations], out, indent=1)
    out.write("\n")


def run(state: str, config_path: Optional[str], stack: Optional[str], fmt: str,
        out: TextIO = sys.stdout, err: TextIO = sys.stderr, *, strict: bool = False, verbose: bool = False) -> int:
    try:
        config = load_config(config_path) if config_path else (
            load_config(stack_config_path(stack)) if stack else None)
        path = Path(state)
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            raise InputError(f"{state}: file not found") from None
        except OSError as exc:
            raise InputError(f"{state}: cannot read ({exc.strerror})") from None
        try:
            # The parsed export and the views over it stay alive for the whole evaluation: the
            # cyclic GC's repeated full scans of them are what made large exports cost more than
            # linearly, and there is nothing cyclic for it to free. Restored for in-process callers.
            was_enabled = gc.isenabled()
            gc.disable()
            try:
                streamed = (stream.load(path, READ_FIELDS)
                            if size >= stream.STREAM_MIN_BYTES and stream.available() else None)
                if streamed is not None:
                    document, ignored, unknown = streamed
                    report = evaluate(document, config, stack, strict=strict, resource_fields=(ignored, unknown))
                else:
                    report = evaluate(parse_export_text(_read(path)), config, stack, strict=strict)
            finally:
                if was_enabled:
                    gc.enable()
        except InputError as exc:
            raise InputError(f"{state}: {exc}") from None
    except (InputError, ConfigError) as exc:
        err.write(f"policies.check: {exc}\n")
        return EXIT_UNUSABLE
    except RecursionError:
        err.write(f"policies.check: {state}: values nested too deeply to evaluate\n")
        return EXIT_UNUSABLE
    except MemoryError:
        err.write(f"policies.check: {state}: out of memory while evaluating\n")
        return EXIT_UNUSABLE
    except Exception as exc:  # noqa: BLE001 - never a traceback: one line naming the failure
        err.write(f"policies.check: {state}: internal error ({type(exc).__name__}: {str(exc)[:200]})\n")
        return EXIT_UNUSABLE
    try:
        (format_json if fmt == "json" else format_text)(report, out, verbose)
        out.flush()
    except BrokenPipeError:
        _silence(out)  # the reader went away (`... | head -1`): it took what it wanted; the verdict stands
    return EXIT_MANDATORY if report.has_mandatory else EXIT_OK


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise InputError("file not found") from None
    except OSError as exc:
        raise InputError(f"cannot read ({exc.strerror})") from None


def _silence(out: TextIO) -> None:
    """Point a closed output at /dev/null so the interpreter's final flush does not fail again."""
    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), out.fileno())
    except (OSError, ValueError, AttributeError):
        pass  # not a file descriptor (an in-memory stream): nothing to flush at exit


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m policies.check", description=__doc__.splitlines()[0],
                                     epilog=EPILOG)
    parser.add_argument("state", help="pulumi stack export file (deployment version 3 or 4)")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--config", help="pack config JSON (the --policy-pack-config format)")
    source.add_argument("--stack", help="use policies/config/<stack>.json")
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.add_argument("--strict", action="store_true",
                        help="a check that could not read a value the export keeps encrypted is a mandatory finding")
    parser.add_argument("--verbose", action="store_true", help="also list the export fields the runner ignores")
    args = parser.parse_args(argv)
    return run(args.state, args.config, args.stack, args.format, strict=args.strict, verbose=args.verbose)


if __name__ == "__main__":
    sys.exit(main())
