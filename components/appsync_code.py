"""APPSYNC_JS code bundling: the one self-contained module AppSync runs per resolver or function.

AppSync evaluates each resolver's ``code`` as a single ES module that may import nothing but
``@aws-appsync/utils``. The resolvers share helpers through ``app/graphql/resolvers/lib/*.js`` (named
exports, relative imports, so Node runs them as they are); ``bundle`` turns one resolver file into
what AppSync needs: every relative import inlined once, dependencies first, with its ``export``
keywords and import lines dropped, and all ``@aws-appsync/utils`` imports merged into one at the top.

It handles exactly the module subset the resolvers use and refuses the rest with a ``BundleError``
naming the file and line, rather than emit code that behaves differently:

* ``import { a, b } from '@aws-appsync/utils';`` in any module: merged.
* ``import { a, b } from './x.js';`` (a relative path): ``x.js`` is inlined once, before its importers.
  Default, namespace, side-effect and dynamic imports, ``as`` renames, other packages and names the
  module does not export are errors, and so are import cycles.
* In inlined modules ``export function`` / ``export const`` / ``export let`` / ``export var``, which
  lose the keyword. Default exports, export lists and re-exports are errors (in the entry file too;
  its own ``export function request/response`` stay as written).
* The bundle is one scope, so two modules declaring the same top-level name (or declaring a name
  imported from ``@aws-appsync/utils``) is an error, not a silent shadowing.

"Top level" is found by a scanner that skips comments, string and template text and tracks bracket
depth. It treats every ``/`` outside a comment as division: regular expressions are not supported by
the APPSYNC_JS runtime (the resolver lint refuses them), so none are expected.

Stdlib only, so Node tests can run it with any ``python3``:
``python3 components/appsync_code.py [--root DIR] [--json] FILE...``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

UTILS = "@aws-appsync/utils"
IDENT = r"[A-Za-z_$][\w$]*"

_KEYWORD_RE = re.compile(r"(?<![\w$.])(import|export)(?![\w$])")
_NAMED_IMPORT_RE = re.compile(r"import\s*\{(?P<names>[^}]*)\}\s*from\s*(?P<q>['\"])(?P<spec>[^'\"\n]*)(?P=q)[ \t]*;?")
_EXPORT_DECL_RE = re.compile(r"export\s+(?P<kind>function|const|let|var)(?![\w$])")
_NEXT_STATEMENT_RE = re.compile(r"[ \t]*(import|export|function|const|let|var|class)(?![\w$])")
_DECL_RE = re.compile(rf"(?<![\w$.])(?P<kind>function|const|let|var|class)(?![\w$])\s*\*?\s*(?P<name>{IDENT})?")


class BundleError(ValueError):
    """A module the bundler cannot turn into one self-contained APPSYNC_JS file."""


@dataclass
class _Module:
    path: Path
    text: str
    mask: str  # same length as text: comments and string/template text blanked
    depth: list[int]  # bracket depth before each character
    utils: list[str] = field(default_factory=list)  # names imported from @aws-appsync/utils, in order
    imports: dict[Path, list[tuple[str, int]]] = field(default_factory=dict)  # module -> [(name, line)]
    exports: set[str] = field(default_factory=set)
    declared: dict[str, int] = field(default_factory=dict)  # top-level name -> line
    cuts: list[tuple[int, int]] = field(default_factory=list)  # import statements to remove
    export_keywords: list[tuple[int, int]] = field(default_factory=list)  # "export " to remove when inlined

    def line(self, pos: int) -> int:
        return self.text.count("\n", 0, pos) + 1


def _mask(text: str, where: str) -> str:
    """``text`` with comments and string/template literal text replaced by spaces (newlines and the
    quote characters kept, so positions and line numbers stay valid); ``${...}`` code is kept."""
    out = list(text)
    n = len(text)
    templates: list[int] = []  # brace depth inside each open ${ ... }
    i = 0

    def blank(start: int, end: int) -> None:
        for k in range(start, end):
            if out[k] != "\n":
                out[k] = " "

    def line(pos: int) -> int:
        return text.count("\n", 0, pos) + 1

    while i < n:
        c = text[i]
        if text.startswith("//", i):
            end = text.find("\n", i)
            end = n if end < 0 else end
            blank(i, end)
            i = end
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            if end < 0:
                raise BundleError(f"{where}:{line(i)}: unterminated /* comment")
            blank(i, end + 2)
            i = end + 2
        elif c in "'\"":
            j = i + 1
            while j < n and text[j] != c and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            if j >= n or text[j] != c:
                raise BundleError(f"{where}:{line(i)}: unterminated string literal")
            blank(i + 1, j)
            i = j + 1
        elif c == "`" or (c == "}" and templates and templates[-1] == 0):
            if c == "}":
                templates.pop()
            j = i + 1
            while j < n and text[j] != "`" and not text.startswith("${", j):
                j += 2 if text[j] == "\\" else 1
            if j >= n:
                raise BundleError(f"{where}:{line(i)}: unterminated template literal")
            blank(i + 1, j)
            if text[j] == "`":
                i = j + 1
            else:
                templates.append(0)
                i = j + 2
        else:
            if templates and c == "{":
                templates[-1] += 1
            elif templates and c == "}":
                templates[-1] -= 1
            i += 1
    return "".join(out)


def _depths(mask: str, where: str) -> list[int]:
    depth, out = 0, []
    for pos, c in enumerate(mask):
        out.append(depth)
        if c in "{([":
            depth += 1
        elif c in "})]":
            depth -= 1
            if depth < 0:
                line = mask.count("\n", 0, pos) + 1
                raise BundleError(f"{where}:{line}: unbalanced {c!r}")
    if depth:
        raise BundleError(f"{where}: unbalanced brackets (file ends inside one)")
    return out


def _statement_start(mask: str, pos: int) -> bool:
    """Whether a keyword at ``pos`` (depth 0) begins a statement: first on its line, or after ``;``,
    ``}`` or ``export``."""
    before = mask[:pos].rstrip(" \t")
    if not before or before.endswith(("\n", ";", "}")):
        return True
    return re.search(r"(?<![\w$.])export$", before) is not None


class _Bundler:
    def __init__(self, entry: Path, root: Optional[Path]):
        self.entry = entry
        self.root = root
        self.base = root if root is not None else entry.parent
        self.modules: dict[Path, _Module] = {}

    def name(self, path: Path) -> str:
        return Path(os.path.relpath(path, self.base)).as_posix()

    def load(self, path: Path) -> _Module:
        if path in self.modules:
            return self.modules[path]
        text = path.read_text(encoding="utf-8")
        where = self.name(path)
        mask = _mask(text, where)
        module = _Module(path=path, text=text, mask=mask, depth=_depths(mask, where))
        self.scan(module, inlined=path != self.entry)
        self.modules[path] = module
        return module

    def fail(self, module: _Module, pos: int, message: str) -> BundleError:
        return BundleError(f"{self.name(module.path)}:{module.line(pos)}: {message}")

    def scan(self, module: _Module, inlined: bool) -> None:
        mask = module.mask
        for m in _KEYWORD_RE.finditer(mask):
            pos = m.start()
            if module.depth[pos] != 0 or not _statement_start(mask, pos):
                if m.group(1) == "import" and re.match(r"import\s*[(.]", mask[pos:]):
                    raise self.fail(module, pos, "dynamic import() and import.meta cannot be bundled")
                continue
            if m.group(1) == "import":
                self.scan_import(module, pos)
            else:
                self.scan_export(module, pos, inlined)
        for m in _DECL_RE.finditer(mask):
            pos = m.start()
            if module.depth[pos] != 0 or not _statement_start(mask, pos):
                continue
            names = self.declared_names(module, m)
            for name, at in names:
                if name in module.declared:
                    raise self.fail(module, at, f"{name} is declared twice at top level")
                module.declared[name] = module.line(at)

    def scan_import(self, module: _Module, pos: int) -> None:
        m = _NAMED_IMPORT_RE.match(module.mask, pos)
        if m is None:
            rest = module.mask[pos:]
            if re.match(r"import\s*\*", rest):
                what = "a namespace import (import * as ...)"
            elif re.match(r"import\s*['\"]", rest):
                what = "a side-effect import (import '...')"
            elif re.match(rf"import\s+{IDENT}", rest):
                what = "a default import"
            elif re.match(r"import\s*[(.]", rest):
                what = "dynamic import() / import.meta"
            else:
                what = "this import statement"
            raise self.fail(module, pos, f"{what} cannot be bundled; use import {{ name }} from '...'")
        spec = module.text[m.start("spec"):m.end("spec")]
        names: list[str] = []
        for raw in m.group("names").split(","):
            name = raw.strip()
            if not name:
                continue
            if re.fullmatch(rf"{IDENT}\s+as\s+{IDENT}", name):
                raise self.fail(module, pos, f"import {{ {name} }} renames: the bundle shares one scope, so import "
                                             f"names as they are exported")
            if not re.fullmatch(IDENT, name):
                raise self.fail(module, pos, f"cannot read the imported name {name!r}")
            names.append(name)
        if not names:
            raise self.fail(module, pos, f"import of nothing from {spec!r}")
        if spec == UTILS:
            module.utils.extend(n for n in names if n not in module.utils)
        elif spec.startswith(("./", "../")):
            if not spec.endswith(".js"):
                raise self.fail(module, pos, f"relative imports must name the .js file, got {spec!r}")
            target = (module.path.parent / spec).resolve()
            if self.root is not None and not target.is_relative_to(self.root):
                raise self.fail(module, pos, f"imports {spec!r}, outside {self.root}")
            if not target.is_file():
                raise self.fail(module, pos, f"imports {spec!r}, which does not exist")
            module.imports.setdefault(target, []).extend((n, module.line(pos)) for n in names)
        else:
            raise self.fail(module, pos, f"imports {spec!r}: AppSync provides only {UTILS}; share code "
                                         f"through relative imports")
        end = m.end()
        # The whole line goes when the import is all it holds.
        line_end = module.text.find("\n", end)
        if module.text[end:line_end if line_end >= 0 else None].strip() == "":
            end = len(module.text) if line_end < 0 else line_end + 1
        module.cuts.append((pos, end))

    def scan_export(self, module: _Module, pos: int, inlined: bool) -> None:
        rest = module.mask[pos:]
        if re.match(r"export\s+default(?![\w$])", rest):
            raise self.fail(module, pos, "default exports cannot be bundled; export named functions")
        if re.match(r"export\s*\*", rest) or re.match(r"export\s*\{[^}]*\}\s*from(?![\w$])", rest):
            raise self.fail(module, pos, "re-exports cannot be bundled; import the name from the module that "
                                         "declares it")
        if re.match(r"export\s*\{", rest):
            raise self.fail(module, pos, "export lists cannot be bundled; write export function / export const")
        m = _EXPORT_DECL_RE.match(module.mask, pos)
        if m is None:
            raise self.fail(module, pos, "only export function / const / let / var can be bundled")
        name = re.match(rf"\s*\*?\s*({IDENT})", module.mask[m.end():])
        if name is None or (m.group("kind") != "function" and module.mask[m.end():].lstrip()[:1] in "{["):
            raise self.fail(module, pos, "exported destructuring declarations cannot be bundled")
        module.exports.add(name.group(1))
        if inlined:
            module.export_keywords.append((pos, m.start("kind")))

    def declared_names(self, module: _Module, m: re.Match) -> list[tuple[str, int]]:
        kind, pos = m.group("kind"), m.start()
        if kind in ("function", "class"):
            if m.group("name") is None:
                raise self.fail(module, pos, f"cannot read the name of this top-level {kind}")
            return [(m.group("name"), pos)]
        after = module.mask[m.end("kind"):].lstrip()
        if after[:1] in "{[":
            raise self.fail(module, pos, "top-level destructuring declarations cannot be checked for name "
                                         "collisions; declare each name")
        if m.group("name") is None:
            raise self.fail(module, pos, f"cannot read the name this top-level {kind} declares")
        # Every declarator of `const a = 1, b = 2;`: the name after the keyword and after each comma at
        # this statement's depth, up to its `;` (or, without one, the next top-level statement).
        end = pos
        while end < len(module.mask) and not (module.mask[end] == ";" and module.depth[end] == 0):
            if module.mask[end] == "\n" and module.depth[end] == 0 and _NEXT_STATEMENT_RE.match(module.mask, end + 1):
                break
            end += 1
        names = [(m.group("name"), pos)]
        for comma in range(m.end(), end):
            if module.mask[comma] == "," and module.depth[comma] == 0:
                nxt = re.match(rf"\s*({IDENT})", module.mask[comma + 1:end])
                if nxt is None:
                    raise self.fail(module, comma, "cannot read a declarator of this top-level declaration")
                names.append((nxt.group(1), comma))
        return names

    # -----------------------------------------------------------------------------------------
    def order(self) -> list[_Module]:
        """The inlined modules, each after everything it imports (post-order, first import first)."""
        done: list[Path] = []
        stack: list[Path] = []

        def visit(path: Path) -> None:
            if path in stack:
                cycle = stack[stack.index(path):] + [path]
                raise BundleError(f"import cycle: {' -> '.join(self.name(p) for p in cycle)}")
            if path in done:
                return
            stack.append(path)
            module = self.load(path)
            for target, names in module.imports.items():
                lib = self.load(target)
                for name, line in names:
                    if name not in lib.exports:
                        raise BundleError(f"{self.name(path)}:{line}: imports {name} from {self.name(target)}, "
                                          f"which does not export it (exports: {', '.join(sorted(lib.exports)) or 'nothing'})")
                visit(target)
            stack.pop()
            done.append(path)

        visit(self.entry)
        return [self.modules[p] for p in done]

    def check_collisions(self, modules: list[_Module]) -> None:
        owner: dict[str, str] = {}
        for module in modules:
            for name, line in module.declared.items():
                where = f"{self.name(module.path)}:{line}"
                if name in owner:
                    raise BundleError(f"name collision: {name} is declared in {owner[name]} and {where}; the "
                                      f"bundle is one scope, so rename one")
                owner[name] = where
        for module in modules:
            for name in module.utils:
                if name in owner:
                    raise BundleError(f"name collision: {name} is imported from {UTILS} in {self.name(module.path)} "
                                      f"and declared in {owner[name]}")

    def body(self, module: _Module) -> str:
        edits = sorted(module.cuts + module.export_keywords)
        out, last = [], 0
        for start, end in edits:
            out.append(module.text[last:start])
            last = end
        out.append(module.text[last:])
        return "".join(out).strip("\n")

    def build(self) -> str:
        modules = self.order()
        self.check_collisions(modules)
        entry = modules[-1]
        utils: list[str] = []
        for module in [entry, *modules[:-1]]:
            utils.extend(n for n in module.utils if n not in utils)
        parts = [f"import {{ {', '.join(utils)} }} from '{UTILS}';"] if utils else []
        for module in modules[:-1]:
            parts.append(f"// {self.name_from_entry(module.path)}\n{self.body(module)}")
        parts.append(self.body(entry))
        return "\n\n".join(p for p in parts if p) + "\n"

    def name_from_entry(self, path: Path) -> str:
        # The same comment whatever root the caller gives, so a bundle depends only on the files.
        return Path(os.path.relpath(path, self.entry.parent)).as_posix()


def bundle(path: Path | str, *, root: Path | str | None = None) -> str:
    """The self-contained APPSYNC_JS module for the resolver or function file ``path``.

    ``root``, when given, is the directory every inlined module must lie in (the resolvers directory)."""
    entry = Path(path).resolve()
    if not entry.is_file():
        raise BundleError(f"{path}: no such file")
    return _Bundler(entry, Path(root).resolve() if root is not None else None).build()


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="Bundle APPSYNC_JS resolver files (relative imports inlined).")
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--root", type=Path, help="directory every inlined module must lie in")
    parser.add_argument("--json", action="store_true", help="print {file: bundled code} as JSON")
    args = parser.parse_args(argv)
    try:
        bundles = {str(f): bundle(f, root=args.root) for f in args.files}
    except BundleError as exc:
        print(f"appsync_code: {exc}", file=sys.stderr)
        return 1
    if args.json:
        json.dump(bundles, sys.stdout)
    else:
        sys.stdout.write("\n".join(bundles.values()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
