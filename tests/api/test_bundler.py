"""components/appsync_code.py: the bundler that turns a resolver file and the lib/ modules it imports into
the one self-contained APPSYNC_JS module AppSync accepts, and refuses what it cannot inline."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from components.appsync_code import BundleError, bundle, main

from .test_schema import MANIFEST, RESOLVERS

ENTRY = "Query.thing.js"


def tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


# The entry's own code, which the bundle keeps as written after the inlined modules.
ENTRY_BODY = """// Words in comments and strings are not statements: import { x } from './nope.js'; export default 1
export function request(ctx) {
  if (!isOwner(ctx)) util.unauthorized();
  return page({ note: 'export { a } from "./b.js"', limit: LIMIT, text: `import ${ctx.args.id ?? `{x}`} from` });
}

export function response(ctx) {
  return ctx.result;
}
"""
HAPPY = {
    ENTRY: """import { util } from '@aws-appsync/utils';
import { isOwner, LIMIT } from './lib/owners.js';
import { page } from './lib/pages.js';

""" + ENTRY_BODY,
    "lib/owners.js": """import { util, extensions } from '@aws-appsync/utils';
import { first } from './lists.js';

export const LIMIT = 20;

export function isOwner(ctx) {
  return first(ctx.args.owners) === ctx.identity.sub;
}

// Private to this module, but still one name in the bundle's single scope.
function unused() {
  return extensions;
}
""",
    "lib/pages.js": """import { first } from './lists.js';

export function page(request) {
  return { ...request, first: first([request.limit]) };
}
""",
    "lib/lists.js": """export function first(list) {
  return list[0];
}
""",
}

HAPPY_BUNDLE = """import { util, extensions } from '@aws-appsync/utils';

// lib/lists.js
function first(list) {
  return list[0];
}

// lib/owners.js
const LIMIT = 20;

function isOwner(ctx) {
  return first(ctx.args.owners) === ctx.identity.sub;
}

// Private to this module, but still one name in the bundle's single scope.
function unused() {
  return extensions;
}

// lib/pages.js
function page(request) {
  return { ...request, first: first([request.limit]) };
}

""" + ENTRY_BODY


def test_bundle_inlines_each_lib_once_after_its_dependencies_with_one_utils_import(tmp_path):
    root = tree(tmp_path, HAPPY)
    assert bundle(root / ENTRY) == HAPPY_BUNDLE
    assert bundle(root / ENTRY, root=root) == HAPPY_BUNDLE, "the root only bounds where modules may live"


def test_a_pipeline_function_imports_lib_from_its_parent_directory(tmp_path):
    files = {"functions/step.js": HAPPY[ENTRY].replace("'./lib/", "'../lib/"),
             **{k: v for k, v in HAPPY.items() if k != ENTRY}}
    root = tree(tmp_path, files)
    assert bundle(root / "functions" / "step.js", root=root) == HAPPY_BUNDLE.replace("// lib/", "// ../lib/")


def test_a_file_without_relative_imports_comes_back_unchanged(tmp_path):
    text = "import { util, extensions } from '@aws-appsync/utils';\n\nexport function request() {\n  return {};\n}\n"
    assert bundle(tree(tmp_path, {ENTRY: text}) / ENTRY) == text


def test_imports_spread_over_lines_and_without_semicolons_are_read(tmp_path):
    root = tree(tmp_path, {
        ENTRY: "import {\n  first,\n  second, // the other one\n} from './lib/x.js'\nexport function request() {\n"
               "  return first() + second();\n}\n",
        "lib/x.js": "export function first() {\n  return 1;\n}\nexport const second = () => 2, third = 3\n"
                    "export let fourth = 4;\n",
    })
    assert bundle(root / ENTRY) == ("// lib/x.js\nfunction first() {\n  return 1;\n}\nconst second = () => 2, third = 3\n"
                                    "let fourth = 4;\n\nexport function request() {\n  return first() + second();\n}\n")


def test_every_shipped_resolver_bundles_to_one_module_within_the_limit():
    files = {e["file"] for e in MANIFEST["resolvers"] + MANIFEST["functions"]}
    for file in files:
        code = bundle(RESOLVERS / file, root=RESOLVERS)
        assert re.findall(r"^import .*$", code, re.M) in ([], ["import { util } from '@aws-appsync/utils';"],
                                                        ["import { util, extensions } from '@aws-appsync/utils';"]), file
        assert "from './" not in code and "from '../" not in code, file
        markers = re.findall(r"^// (?:\.\./)?(lib/\w+\.js)$", code, re.M)
        assert len(markers) == len(set(markers)), f"{file} inlines a lib twice: {markers}"
        assert len(code.encode()) <= 32 * 1024, file


GOOD_LIB = "export function helper() {\n  return 1;\n}\n"
USES_LIB = "import { helper } from './lib/a.js';\n\nexport function request() {\n  return helper();\n}\n"

BAD = [
    ("default export", {ENTRY: USES_LIB, "lib/a.js": GOOD_LIB + "export default helper;\n"},
     "lib/a.js:4: default exports cannot be bundled; export named functions"),
    ("default export in the entry", {ENTRY: "export default function request() {\n  return {};\n}\n"},
     f"{ENTRY}:1: default exports cannot be bundled"),
    ("default import", {ENTRY: "import helper from './lib/a.js';\n", "lib/a.js": GOOD_LIB},
     f"{ENTRY}:1: a default import cannot be bundled; use import {{ name }} from '...'"),
    ("namespace import", {ENTRY: "import * as a from './lib/a.js';\n", "lib/a.js": GOOD_LIB},
     f"{ENTRY}:1: a namespace import (import * as ...) cannot be bundled"),
    ("side-effect import", {ENTRY: "import './lib/a.js';\n", "lib/a.js": GOOD_LIB},
     f"{ENTRY}:1: a side-effect import (import '...') cannot be bundled"),
    ("dynamic import", {ENTRY: "export function request() {\n  return import('./lib/a.js');\n}\n", "lib/a.js": GOOD_LIB},
     f"{ENTRY}:2: dynamic import() and import.meta cannot be bundled"),
    ("re-export of names", {ENTRY: USES_LIB, "lib/a.js": "export { helper } from './b.js';\n", "lib/b.js": GOOD_LIB},
     "lib/a.js:1: re-exports cannot be bundled; import the name from the module that declares it"),
    ("re-export of a module", {ENTRY: USES_LIB, "lib/a.js": "export * from './b.js';\n", "lib/b.js": GOOD_LIB},
     "lib/a.js:1: re-exports cannot be bundled"),
    ("export list", {ENTRY: USES_LIB, "lib/a.js": "function helper() {\n  return 1;\n}\nexport { helper };\n"},
     "lib/a.js:4: export lists cannot be bundled; write export function / export const"),
    ("exported class", {ENTRY: USES_LIB, "lib/a.js": "export class Helper {}\n"},
     "lib/a.js:1: only export function / const / let / var can be bundled"),
    ("renamed import", {ENTRY: "import { helper as h } from './lib/a.js';\n", "lib/a.js": GOOD_LIB},
     f"{ENTRY}:1: import {{ helper as h }} renames: the bundle shares one scope"),
    ("name not exported", {ENTRY: "import { helper, other } from './lib/a.js';\n", "lib/a.js": GOOD_LIB},
     f"{ENTRY}:1: imports other from lib/a.js, which does not export it (exports: helper)"),
    ("private name imported", {ENTRY: "import { secret } from './lib/a.js';\n",
                               "lib/a.js": GOOD_LIB + "function secret() {\n  return 2;\n}\n"},
     f"{ENTRY}:1: imports secret from lib/a.js, which does not export it (exports: helper)"),
    ("lib importing a name its lib does not export", {
        ENTRY: USES_LIB, "lib/a.js": "import { missing } from './b.js';\n" + GOOD_LIB, "lib/b.js": "export const other = 1;\n"},
     "lib/a.js:1: imports missing from lib/b.js, which does not export it (exports: other)"),
    ("import cycle", {ENTRY: USES_LIB, "lib/a.js": "import { two } from './b.js';\n" + GOOD_LIB,
                      "lib/b.js": "import { helper } from './a.js';\nexport function two() {\n  return helper();\n}\n"},
     "import cycle: lib/a.js -> lib/b.js -> lib/a.js"),
    ("collision between libs", {
        ENTRY: USES_LIB + "import { other } from './lib/b.js';\n",
        "lib/a.js": GOOD_LIB + "function shared() {\n  return 'a';\n}\n",
        "lib/b.js": "export const other = 1;\n\nfunction shared() {\n  return 'b';\n}\n"},
     "name collision: shared is declared in lib/a.js:4 and lib/b.js:3; the bundle is one scope, so rename one"),
    ("collision between lib and entry", {ENTRY: USES_LIB + "\nconst helper2 = 1, helper = 2;\n", "lib/a.js": GOOD_LIB},
     f"name collision: helper is declared in lib/a.js:1 and {ENTRY}:7"),
    ("collision with a utils import", {
        ENTRY: "import { util } from '@aws-appsync/utils';\n" + USES_LIB,
        "lib/a.js": GOOD_LIB + "export const util = {};\n"},
     f"name collision: util is imported from @aws-appsync/utils in {ENTRY} and declared in lib/a.js:4"),
    ("a name declared twice in one module", {ENTRY: USES_LIB, "lib/a.js": GOOD_LIB + "const helper = 2;\n"},
     "lib/a.js:4: helper is declared twice at top level"),
    ("top-level destructuring", {ENTRY: USES_LIB, "lib/a.js": GOOD_LIB + "const { a, b } = { a: 1, b: 2 };\n"},
     "lib/a.js:4: top-level destructuring declarations cannot be checked for name collisions"),
    ("missing module", {ENTRY: USES_LIB}, f"{ENTRY}:1: imports './lib/a.js', which does not exist"),
    ("package other than the utils", {ENTRY: "import { get } from 'lodash';\n"},
     f"{ENTRY}:1: imports 'lodash': AppSync provides only @aws-appsync/utils; share code through relative imports"),
    ("relative import without .js", {ENTRY: "import { helper } from './lib/a';\n", "lib/a.js": GOOD_LIB},
     f"{ENTRY}:1: relative imports must name the .js file, got './lib/a'"),
    ("unterminated string", {ENTRY: "export function request() {\n  return 'open;\n}\n"},
     f"{ENTRY}:2: unterminated string literal"),
    ("unterminated comment", {ENTRY: "/* never closed\nexport function request() {}\n"},
     f"{ENTRY}:1: unterminated /* comment"),
    ("unterminated template", {ENTRY: "export function request() {\n  return `a ${1} b;\n}\n"},
     f"{ENTRY}:2: unterminated template literal"),
    ("closing bracket too many", {ENTRY: "export function request() {\n  return 1;\n}}\n"},
     f"{ENTRY}:3: unbalanced '}}'"),
    ("bracket never closed", {ENTRY: "export function request() {\n  return [1;\n}\n"},
     f"{ENTRY}: unbalanced brackets (file ends inside one)"),
]


@pytest.mark.parametrize("files,message", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_what_cannot_be_inlined_is_refused_naming_file_line_and_reason(tmp_path, files, message):
    root = tree(tmp_path, files)
    with pytest.raises(BundleError) as err:
        bundle(root / ENTRY)
    assert str(err.value).startswith(message), str(err.value)


def test_modules_outside_the_root_are_refused(tmp_path):
    tree(tmp_path, {"common/a.js": GOOD_LIB, f"resolvers/{ENTRY}": USES_LIB.replace("./lib/a.js", "../common/a.js")})
    entry = tmp_path / "resolvers" / ENTRY
    assert "function helper()" in bundle(entry)
    with pytest.raises(BundleError, match=rf"^{re.escape(ENTRY)}:1: imports '../common/a.js', outside "):
        bundle(entry, root=tmp_path / "resolvers")


def test_a_missing_entry_is_refused(tmp_path):
    with pytest.raises(BundleError, match="Query.none.js: no such file"):
        bundle(tmp_path / "Query.none.js")


def test_cli_prints_bundles_as_json_and_errors_on_stderr(tmp_path, capsys, monkeypatch):
    root = tree(tmp_path, HAPPY)
    monkeypatch.chdir(root)
    assert main(["--json", "--root", ".", ENTRY]) == 0
    assert json.loads(capsys.readouterr().out) == {ENTRY: HAPPY_BUNDLE}
    assert main([ENTRY]) == 0
    assert capsys.readouterr().out == HAPPY_BUNDLE
    (root / "lib" / "lists.js").write_text("export default 1;\n")
    assert main([ENTRY]) == 1
    captured = capsys.readouterr()
    assert (captured.out, captured.err) == ("", "appsync_code: lib/lists.js:1: default exports cannot be bundled; "
                                                "export named functions\n")
