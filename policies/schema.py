"""Validate `pulumi stack export` files against the pack's stack-export schema, fast.

The schema (data/schemas/stack-export.json) is the pack's own, derived from Pulumi's `apitype` Go
structs: Pulumi's published deployments/resources schemas lag the structs and refuse fields every
current CLI writes (`created`, `modified`, ...). Property values are checked with Pulumi's published
property-values schema, vendored beside it (data/schemas/README.md gives source, commit, licence).

`jsonschema` needs about a minute for a 50k-resource export (every property value is matched
against a ten-branch `oneOf`), so the schemas are compiled into closures instead. Only the
keywords these schemas use are supported; compiling a schema with any other keyword raises
`SchemaCompileError`, so a schema update can never be silently half-enforced. Semantics follow
draft 2020-12 as `jsonschema` applies it by default (`format` and `contentEncoding` are
annotations); tests cross-check verdicts against `jsonschema` on valid and broken documents.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

EXPORT_SCHEMA_ID = "urn:aiplatform-guard:schema:stack-export"
PROPERTY_VALUES_ID = "https://github.com/pulumi/pulumi/blob/master/sdk/go/common/apitype/property-values.json"
_SIG_KEY = "4dabf18193072939515e22adb298388d"
# Property values nested deeper than this are refused as too deep to check (the rules and the
# pack's value decoding recurse); fixed here so the verdict does not depend on the interpreter.
MAX_VALUE_DEPTH = 200
SCHEMA_DIR = Path(__file__).resolve().parent / "data" / "schemas"
SCHEMA_FILES = ("stack-export.json", "pulumi-property-values.json")

# Numeric and length bounds: keyword -> (applies to, holds when). Booleans are not numbers here.
_BOUNDS: dict[str, tuple[str, Callable[[Any, Any], bool]]] = {
    "minimum": ("number", lambda v, b: v >= b), "maximum": ("number", lambda v, b: v <= b),
    "exclusiveMinimum": ("number", lambda v, b: v > b), "exclusiveMaximum": ("number", lambda v, b: v < b),
    "minLength": ("string", lambda v, b: len(v) >= b), "maxLength": ("string", lambda v, b: len(v) <= b),
}
_ANNOTATIONS = frozenset({"$schema", "$id", "$anchor", "$defs", "$comment", "title", "description",
                          "format", "contentEncoding", "default", "examples"})
_ASSERTIONS = frozenset({"type", "properties", "required", "additionalProperties", "items", "oneOf",
                         "const", "enum", "not", "$ref", "pattern", *_BOUNDS})


class SchemaCompileError(Exception):
    """A schema uses a keyword or reference this compiler does not implement."""


class Invalid:
    """A validation failure: a message and the path (outermost first) where it happened."""

    __slots__ = ("message", "path")

    def __init__(self, message: str, path: Optional[list] = None) -> None:
        self.message = message
        self.path = path if path is not None else []

    def at(self, segment: Any) -> "Invalid":
        self.path.insert(0, segment)
        return self

    def describe(self) -> str:
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in self.path).lstrip(".")
        return f"{where or '<root>'}: {self.message}"


Check = Callable[[Any], Optional[Invalid]]

_JSON_TYPES = ("null", "boolean", "integer", "number", "string", "array", "object")


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if value is True or value is False:
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        if not math.isfinite(value):  # JSON has no NaN or Infinity: no schema type admits them
            return "non-finite number"
        return "integer" if value.is_integer() else "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "unknown"


def _json_equal(a: Any, b: Any) -> bool:
    ta, tb = _json_type(a), _json_type(b)
    numeric = ("integer", "number")
    if ta in numeric and tb in numeric:
        return a == b
    if ta != tb:
        return False
    if ta == "array":
        return len(a) == len(b) and all(_json_equal(x, y) for x, y in zip(a, b))
    if ta == "object":
        return a.keys() == b.keys() and all(_json_equal(a[k], b[k]) for k in a)
    return a == b


def _type_matches(wanted: str, actual: str) -> bool:
    return wanted == actual or (wanted == "number" and actual == "integer")


class _Compiler:
    def __init__(self, documents: list[dict]) -> None:
        self.docs: dict[str, dict] = {}
        self.anchors: dict[tuple[str, str], Any] = {}
        for doc in documents:
            doc_id = doc.get("$id")
            if not doc_id:
                raise SchemaCompileError("every schema document needs an $id")
            self.docs[doc_id] = doc
            self._index_anchors(doc_id, doc)
        self.cache: dict[int, list] = {}

    def _index_anchors(self, doc_id: str, node: Any) -> None:
        if isinstance(node, dict):
            if "$anchor" in node:
                self.anchors[(doc_id, node["$anchor"])] = node
            for key, value in node.items():
                if key not in ("const", "enum"):
                    self._index_anchors(doc_id, value)
        elif isinstance(node, list):
            for item in node:
                self._index_anchors(doc_id, item)

    def resolve(self, base: str, ref: str) -> tuple[str, Any]:
        target, _, fragment = ref.partition("#")
        doc_id = target or base
        if doc_id not in self.docs:
            raise SchemaCompileError(f"unresolvable $ref {ref!r}: no schema with $id {doc_id!r}")
        node: Any = self.docs[doc_id]
        if fragment.startswith("/"):
            for part in fragment[1:].split("/"):
                part = part.replace("~1", "/").replace("~0", "~")
                node = node[int(part)] if isinstance(node, list) else node.get(part)
                if node is None:
                    raise SchemaCompileError(f"unresolvable $ref {ref!r}")
        elif fragment:
            if (doc_id, fragment) not in self.anchors:
                raise SchemaCompileError(f"unresolvable $ref {ref!r}: no $anchor {fragment!r}")
            node = self.anchors[(doc_id, fragment)]
        return doc_id, node

    def compile(self, base: str, schema: Any) -> Check:
        # Recursive schemas (a property value contains property values) go through a cell that
        # is filled once the node is compiled.
        key = id(schema)
        if key in self.cache:
            cell = self.cache[key]
            return lambda value: cell[0](value)
        cell: list = [None]
        self.cache[key] = cell
        cell[0] = self._compile(base, schema)
        return cell[0]

    def possible_types(self, base: str, schema: Any, seen: Optional[set] = None) -> frozenset:
        """JSON types an instance may have and still match `schema` (a static over-approximation)."""
        if schema is True:
            return frozenset(_JSON_TYPES)
        if schema is False:
            return frozenset()
        seen = seen or set()
        if id(schema) in seen:
            return frozenset(_JSON_TYPES)
        seen = seen | {id(schema)}
        types = set(_JSON_TYPES)
        if "type" in schema:
            wanted = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
            types &= {t for t in _JSON_TYPES if any(_type_matches(w, t) for w in wanted)}
        if "const" in schema:
            ctype = _json_type(schema["const"])
            types &= {"integer", "number"} if ctype in ("integer", "number") else {ctype}
        if "$ref" in schema:
            ref_base, target = self.resolve(base, schema["$ref"])
            types &= self.possible_types(ref_base, target, seen)
        return frozenset(types)

    def _compile(self, base: str, schema: Any) -> Check:
        if schema is True:
            return lambda value: None
        if schema is False:
            return lambda value: Invalid("no value is allowed here")
        if not isinstance(schema, dict):
            raise SchemaCompileError(f"schema must be an object or boolean, got {schema!r}")
        unknown = set(schema) - _ANNOTATIONS - _ASSERTIONS
        if unknown:
            raise SchemaCompileError(f"unsupported schema keyword(s): {sorted(unknown)}")
        base = schema.get("$id", base)
        checks: list[Check] = []
        if "type" in schema:
            checks.append(self._type_check(schema["type"]))
        if "const" in schema:
            const = schema["const"]
            const_msg = f"must be {json.dumps(const)}"
            checks.append(lambda v, c=const, m=const_msg: None if _json_equal(v, c) else Invalid(m))
        if "enum" in schema:
            options = schema["enum"]
            enum_msg = f"must be one of {json.dumps(options)}"
            checks.append(lambda v, o=options, m=enum_msg: None if any(_json_equal(v, x) for x in o)
                          else Invalid(m))
        if "pattern" in schema:
            regex = re.compile(schema["pattern"])
            checks.append(lambda v, r=regex: None if not isinstance(v, str) or r.search(v)
                          else Invalid(f"must match pattern {r.pattern!r}"))
        for keyword in _BOUNDS.keys() & schema.keys():
            test = _bound_test(keyword, schema[keyword])
            checks.append(lambda v, t=test, m=f"must satisfy {keyword} {schema[keyword]!r}": None if t(v) else Invalid(m))
        if {"properties", "required", "additionalProperties"} & set(schema):
            checks.append(self._object_check(base, schema))
        if "items" in schema:
            item_check = self.compile(base, schema["items"])

            def check_items(value: Any, item_check: Check = item_check) -> Optional[Invalid]:
                if isinstance(value, list):
                    for index, item in enumerate(value):
                        err = item_check(item)
                        if err is not None:
                            return err.at(index)
                return None
            checks.append(check_items)
        if "not" in schema:
            negated = self.compile(base, schema["not"])
            checks.append(lambda v, n=negated: Invalid("matches a form that is not allowed here")
                          if n(v) is None else None)
        if "$ref" in schema:
            ref_base, target = self.resolve(base, schema["$ref"])
            checks.append(self.compile(ref_base, target))
        if "oneOf" in schema:
            checks.append(self._one_of(base, schema["oneOf"]))
        if len(checks) == 1:
            return checks[0]

        def check_all(value: Any, checks: tuple = tuple(checks)) -> Optional[Invalid]:
            for check in checks:
                err = check(value)
                if err is not None:
                    return err
            return None
        return check_all

    @staticmethod
    def _type_check(wanted: Any) -> Check:
        names = tuple(wanted) if isinstance(wanted, list) else (wanted,)
        label = " or ".join(names)

        def check_type(value: Any) -> Optional[Invalid]:
            actual = _json_type(value)
            if any(_type_matches(w, actual) for w in names):
                return None
            return Invalid(f"expected {label}, got {actual}")
        return check_type

    def _object_check(self, base: str, schema: dict) -> Check:
        props = {k: self.compile(base, v) for k, v in schema.get("properties", {}).items()}
        required = tuple(schema.get("required", ()))
        additional = schema.get("additionalProperties", True)
        extra: Optional[Check] = None if additional is True else (
            None if additional is False else self.compile(base, additional))
        closed = additional is False

        def check_object(value: Any) -> Optional[Invalid]:
            if not isinstance(value, dict):
                return None
            for name in required:
                if name not in value:
                    return Invalid(f"missing required property {name!r}")
            for key, item in value.items():
                check = props.get(key)
                if check is not None:
                    err = check(item)
                    if err is not None:
                        return err.at(key)
                elif closed:
                    return Invalid(f"unexpected property {key!r}")
                elif extra is not None:
                    err = extra(item)
                    if err is not None:
                        return err.at(key)
            return None
        return check_object

    def _one_of(self, base: str, branches: list) -> Check:
        compiled = []
        for branch in branches:
            types = self.possible_types(base, branch)
            required = tuple(branch.get("required", ())) if isinstance(branch, dict) else ()
            title = branch.get("title", "") if isinstance(branch, dict) else ""
            compiled.append((types, required, title, self.compile(base, branch)))
        titles = ", ".join(t for _, _, t, _ in compiled if t)

        def check_one_of(value: Any) -> Optional[Invalid]:
            actual = _json_type(value)
            matched = 0
            candidates = []
            for types, required, title, check in compiled:
                if actual not in types:
                    continue
                if required and isinstance(value, dict) and any(r not in value for r in required):
                    continue
                err = check(value)
                candidates.append(err)
                if err is None:
                    matched += 1
                    if matched > 1:
                        return Invalid(f"matches more than one allowed form ({titles})")
            if matched == 1:
                return None
            # The branch that got furthest into the value explains the failure best.
            deepest = max(candidates, key=lambda e: len(e.path), default=None)
            if deepest is not None and (len(candidates) == 1 or deepest.path):
                return deepest
            return Invalid(f"matches none of the allowed forms ({titles})" if titles else
                           "matches none of the allowed forms")
        return check_one_of


class _Tester(_Compiler):
    """The same schemas compiled to plain predicates: no error objects on the (valid) fast path."""

    def compile(self, base: str, schema: Any) -> Callable[[Any], bool]:  # type: ignore[override]
        key = id(schema)
        if key in self.cache:
            cell = self.cache[key]
            return lambda value: cell[0](value)
        cell: list = [None]
        self.cache[key] = cell
        cell[0] = self._test(base, schema)
        if schema is self.docs.get(PROPERTY_VALUES_ID):
            cell[0] = _plain_values_first(cell[0])
        return cell[0]

    def _test(self, base: str, schema: Any) -> Callable[[Any], bool]:
        if schema is True:
            return lambda value: True
        if schema is False:
            return lambda value: False
        if not isinstance(schema, dict):
            raise SchemaCompileError(f"schema must be an object or boolean, got {schema!r}")
        unknown = set(schema) - _ANNOTATIONS - _ASSERTIONS
        if unknown:
            raise SchemaCompileError(f"unsupported schema keyword(s): {sorted(unknown)}")
        base = schema.get("$id", base)
        tests: list[Callable[[Any], bool]] = []
        if "type" in schema:
            tests.append(_type_test(schema["type"]))
        if "const" in schema:
            const = schema["const"]
            if isinstance(const, str):
                tests.append(lambda v, c=const: v == c and type(v) is str)
            else:
                tests.append(lambda v, c=const: _json_equal(v, c))
        if "enum" in schema:
            tests.append(lambda v, o=tuple(schema["enum"]): any(_json_equal(v, x) for x in o))
        if "pattern" in schema:
            tests.append(lambda v, r=re.compile(schema["pattern"]): not isinstance(v, str) or bool(r.search(v)))
        for keyword in _BOUNDS.keys() & schema.keys():
            tests.append(_bound_test(keyword, schema[keyword]))
        if {"properties", "required", "additionalProperties"} & set(schema):
            tests.append(self._object_test(base, schema))
        if "items" in schema:
            item = self.compile(base, schema["items"])
            tests.append(lambda v, item=item: not isinstance(v, list) or all(item(x) for x in v))
        if "not" in schema:
            negated = self.compile(base, schema["not"])
            tests.append(lambda v, n=negated: not n(v))
        if "$ref" in schema:
            ref_base, target = self.resolve(base, schema["$ref"])
            tests.append(self.compile(ref_base, target))
        if "oneOf" in schema:
            tests.append(self._one_of_test(base, schema["oneOf"]))
        if len(tests) == 1:
            return tests[0]
        return lambda v, tests=tuple(tests): all(t(v) for t in tests)

    def _object_test(self, base: str, schema: dict) -> Callable[[Any], bool]:
        props = {k: self.compile(base, v) for k, v in schema.get("properties", {}).items()}
        required = tuple(schema.get("required", ()))
        additional = schema.get("additionalProperties", True)
        extra = None if isinstance(additional, bool) else self.compile(base, additional)
        closed = additional is False

        def test_object(value: Any) -> bool:
            if type(value) is not dict:
                return True
            for name in required:
                if name not in value:
                    return False
            for key, item in value.items():
                test = props.get(key)
                if test is not None:
                    if not test(item):
                        return False
                elif closed:
                    return False
                elif extra is not None and not extra(item):
                    return False
            return True
        return test_object

    def _one_of_test(self, base: str, branches: list) -> Callable[[Any], bool]:
        by_type: dict[str, list] = {name: [] for name in _JSON_TYPES}
        for branch in branches:
            required = tuple(branch.get("required", ())) if isinstance(branch, dict) else ()
            test = self.compile(base, branch)
            for name in self.possible_types(base, branch):
                by_type[name].append((required, test))

        def test_one_of(value: Any) -> bool:
            matched = 0
            for required, test in by_type[_json_type(value)]:
                if required and any(r not in value for r in required):
                    continue
                if test(value):
                    matched += 1
                    if matched > 1:
                        return False
            return matched == 1
        return test_one_of


def _bound_test(keyword: str, bound: Any) -> Callable[[Any], bool]:
    applies, holds = _BOUNDS[keyword]
    if applies == "string":
        return lambda v: not isinstance(v, str) or holds(v, bound)
    return lambda v: isinstance(v, bool) or not isinstance(v, (int, float)) or holds(v, bound)


def compile_test(schema: dict) -> Callable[[Any], bool]:
    """A stand-alone schema (no $ref to other documents) as a predicate."""
    tester = _Tester([{**schema, "$id": schema.get("$id", "urn:aiplatform-guard:schema:inline")}])
    doc = next(iter(tester.docs.values()))
    return tester.compile(doc["$id"], doc)


def _plain_values_first(full: Callable[[Any], bool]) -> Callable[[Any], bool]:
    """Pulumi's property-value schema, answered without its oneOf for the values that need none.

    A value with no special object inside (no object carrying the signature key) matches exactly
    one branch of the schema's oneOf by its JSON type alone: primitive (or the unknown sentinel),
    array of values, object of values. Parsed exports hold no other Python types (non-finite
    floats are refused while parsing), so such values are valid; only the objects carrying the
    signature key go through the compiled schema. Tests cross-check verdicts with jsonschema.
    """
    def test(value: Any) -> bool:
        stack = [(value, 0)]
        pop, push = stack.pop, stack.append
        while stack:
            item, depth = pop()
            kind = type(item)
            if kind is dict:
                if _SIG_KEY in item:
                    if not full(item):
                        return False
                elif item:
                    if depth >= MAX_VALUE_DEPTH:
                        raise RecursionError("property value nested too deeply")
                    for child in item.values():
                        push((child, depth + 1))
            elif kind is list:
                if item:
                    if depth >= MAX_VALUE_DEPTH:
                        raise RecursionError("property value nested too deeply")
                    for child in item:
                        push((child, depth + 1))
            elif kind is float:
                if item != item or item in (float("inf"), float("-inf")):
                    return False
            elif not (item is None or kind is str or kind is bool or kind is int):
                return full(item)
        return True
    return test


def _type_test(wanted: Any) -> Callable[[Any], bool]:
    names = frozenset(wanted if isinstance(wanted, list) else [wanted])
    simple = {"string": str, "array": list, "object": dict}
    if len(names) == 1 and next(iter(names)) in simple:
        cls = simple[next(iter(names))]
        return lambda v: type(v) is cls
    return lambda v: any(_type_matches(w, _json_type(v)) for w in names)


class ExportValidator:
    """Checks a parsed `pulumi stack export` document against the pack's stack-export schema."""

    def __init__(self, documents: list[dict], root_id: str = EXPORT_SCHEMA_ID) -> None:
        compiler = _Compiler(documents)
        if root_id not in compiler.docs:
            raise SchemaCompileError(f"no schema with $id {root_id!r}")
        self._check = compiler.compile(root_id, compiler.docs[root_id])
        tester = _Tester(documents)
        self._test = tester.compile(root_id, tester.docs[root_id])

    def error(self, document: Any) -> Optional[str]:
        """None when the document is valid, else a one-line reason with the failing path."""
        if self._test(document):
            return None
        err = self._check(document)
        if err is None:
            raise SchemaCompileError("schema predicates disagree on this document")
        return err.describe()


def load_schema_documents(directory: Path = SCHEMA_DIR) -> list[dict]:
    """The pack's stack-export schema and the Pulumi property-value schema it refers to."""
    documents = []
    for name in SCHEMA_FILES:
        path = directory / name
        try:
            documents.append(json.loads(path.read_text(encoding="utf-8")))
        except OSError as exc:
            raise SchemaCompileError(f"the pack's schema {path} cannot be read ({exc.strerror})") from None
        except ValueError as exc:
            raise SchemaCompileError(f"the pack's schema {path} is not valid JSON: {exc}") from None
    return documents


@dataclass(frozen=True)
class ExportFields:
    """Field names of the export layers, as the stack-export schema (i.e. apitype) defines them."""

    envelope: frozenset
    deployment: frozenset
    resource: frozenset

    @classmethod
    def of(cls, documents: list[dict]) -> "ExportFields":
        root = next(d for d in documents if d.get("$id") == EXPORT_SCHEMA_ID)
        defs = root["$defs"]
        return cls(frozenset(root["properties"]), frozenset(defs["deployment"]["properties"]),
                   frozenset(defs["resource"]["properties"]))


_VALIDATOR: Optional[ExportValidator] = None
_FIELDS: Optional[ExportFields] = None


def export_validator() -> ExportValidator:
    global _VALIDATOR  # compiled once per process: the schemas do not change while it runs
    if _VALIDATOR is None:
        _VALIDATOR = ExportValidator(load_schema_documents())
    return _VALIDATOR


_RESOURCE_TEST: Optional[Callable[[Any], bool]] = None


def resource_test() -> Callable[[Any], bool]:
    """The schema's resource definition alone, as a predicate (for exports read one resource at a time)."""
    global _RESOURCE_TEST
    if _RESOURCE_TEST is None:
        tester = _Tester(load_schema_documents())
        base, node = tester.resolve(EXPORT_SCHEMA_ID, "#resource")
        _RESOURCE_TEST = tester.compile(base, node)
    return _RESOURCE_TEST


def export_fields() -> ExportFields:
    global _FIELDS
    if _FIELDS is None:
        _FIELDS = ExportFields.of(load_schema_documents())
    return _FIELDS
