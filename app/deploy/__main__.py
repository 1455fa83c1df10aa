"""python -m app.deploy (--from-export FILE | --from-pulumi-json FILE|-) --out DIR [--include-api-key]

Writes DIR/amplify_outputs.json and DIR/.env from the platform stack's outputs. Exit 0 on success,
2 with one line on stderr when the outputs cannot be used.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Optional, Sequence

from .outputs import OutputsError, StackOutputs, write


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m app.deploy",
        description="Write amplify_outputs.json and .env for an app from the platform stack's outputs.",
        epilog="exit codes: 0 files written; 2 the outputs cannot be used or the files cannot be written "
               "(one line on stderr); argparse's 2 for bad arguments")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--from-export", type=Path, metavar="FILE",
                        help="a `pulumi stack export` (v3) file, e.g. the offline preview's --export")
    source.add_argument("--from-pulumi-json", metavar="FILE",
                        help="what `pulumi stack output --json` printed; - reads standard input")
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="directory to write into")
    parser.add_argument("--include-api-key", action="store_true",
                        help="also write GRAPHQL_API_KEY to .env (needs the secret: --show-secrets)")
    args = parser.parse_args(argv)
    try:
        if args.from_export is not None:
            outputs = StackOutputs.from_file(args.from_export, "export")
        else:
            outputs = StackOutputs.from_file(Path(args.from_pulumi_json), "pulumi-json")
        written = write(outputs, args.out, include_api_key=args.include_api_key)
    except OutputsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: {exc.filename}: cannot write ({exc.strerror})", file=sys.stderr)
        return 2
    for path in written:
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
