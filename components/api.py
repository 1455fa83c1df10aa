"""API: the AppSync GraphQL API, built from the schema, resolvers and wiring manifest in app/graphql.

What it makes comes from ``app/graphql/resolvers/manifest.json`` (see app/graphql/README.md): one data
source per manifest data source, its own service role with exactly the manifest's grants, the
pipeline functions and one resolver per field, all APPSYNC_JS 1.0.0 code read from disk and bundled
(``components.appsync_code``: the ``lib/`` helpers a file imports inlined, since AppSync takes one
self-contained module per resolver). The manifest, the schema and every bundle are checked before
anything is declared, so what AWS would reject at deploy time fails here with the file and the entry
named.

Decisions, each for a deploy-time trap or a security property mocks would not show:

* Auth: Cognito user pools is the default mode; AWS_IAM is additional (backend publishers); API_KEY
  is additional only when ``api.apiKey.enabled``, never the default. With additional modes AppSync
  requires the user pool's default action to be ALLOW (group limits live in the schema's
  ``@aws_cognito_user_pools(cognito_groups: ...)``). Without an API key the schema is sent with every
  ``@aws_api_key`` token removed: a schema naming an auth mode the API lacks is rejected.
* API key expiry: AWS wants ``expires`` 1-365 days ahead at create/update time and rounds it down to
  the hour. A fixed date goes stale; "now + N days" changes on every deploy. ``api_key_expiry`` moves
  it forward in windows of N/2 days aligned to UTC midnight, so it changes at most once per window and
  is always more than N - N/2 days (at least 2) ahead: a deploy at least every N - N/2 days (15 for
  30) keeps the key valid. A changed expiry is an in-place UpdateApiKey; the key value stays.
* Logging: AppSync writes to ``/aws/appsync/apis/<api id>``; the group is declared from the API's id
  with the stack's retention, and verbose content (headers, context, evaluated code) is never logged.
  The log role's trust cannot name this API's ARN (the API needs the role's ARN first, a cycle), so
  it is pinned to this account's AppSync APIs in this region; its policy names only this log group.
* Each DynamoDB data source's role is trusted by AppSync for exactly this API (aws:SourceAccount and
  aws:SourceArn) and may run only the manifest's table actions on the table ARN and the index actions
  on ``<table arn>/index/<name>`` of each listed index, never ``/index/*``.
* The sessions Lambda data source role may invoke exactly the sessions API function; the function's
  resource policy admits appsync.amazonaws.com from this API only.
* Batch operations (BatchPutItem) must name their table, and resolver code cannot know the physical
  name: code on a DynamoDB data source writes ``TABLE_TOKEN`` and gets that data source's table name
  substituted here (the only table its role may write). The token anywhere else is refused.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Mapping, Optional, Protocol, Sequence

import pulumi
import pulumi_aws as aws
from graphql import GraphQLError, parse as parse_sdl
from graphql.language import ObjectTypeDefinitionNode, ObjectTypeExtensionNode, SchemaDefinitionNode

from . import iam
from .appsync_code import BundleError, bundle
from .config import API_KEY_MAX_DAYS, API_KEY_MIN_DAYS, PROJECT, ApiConfig, partition_of

TYPE = "aiplatform:api:Api"
GRAPHQL_DIR = Path(__file__).resolve().parent.parent / "app" / "graphql"
MANIFEST_PATH = GRAPHQL_DIR / "resolvers" / "manifest.json"
APPSYNC_SERVICE = "appsync.amazonaws.com"

USER_POOLS = "AMAZON_COGNITO_USER_POOLS"
AWS_IAM = "AWS_IAM"
API_KEY = "API_KEY"
RUNTIME = {"name": "APPSYNC_JS", "runtimeVersion": "1.0.0"}  # the only runtime AppSync accepts for `code`
MAX_CODE_BYTES = 32 * 1024  # AppSync's limit per resolver / function code
MAX_PIPELINE_FUNCTIONS = 10  # AppSync's limit per pipeline resolver
MANIFEST_VERSION = 1
DATA_SOURCE_TYPES = ("AMAZON_DYNAMODB", "AWS_LAMBDA", "NONE")
RESOLVER_KINDS = ("UNIT", "PIPELINE")
LAMBDA_ACTIONS = ("lambda:InvokeFunction",)
INDEX_ACTIONS = ("dynamodb:Query", "dynamodb:Scan")  # the only actions a DynamoDB index ARN accepts
ROOT_OPERATIONS = {"query": "Query", "mutation": "Mutation", "subscription": "Subscription"}
NAME_RE = re.compile(r"^[_A-Za-z][_0-9A-Za-z]*$")  # AppSync's ResourceName (data sources, functions, fields)
DYNAMODB_ACTION_RE = re.compile(r"^dynamodb:[A-Z][A-Za-z]+$")
LOG_GROUP_PREFIX = "/aws/appsync/apis/"
# IAM role names are at most 64 characters; Pulumi appends an 8-character suffix.
MAX_AUTONAME = 56
TABLE_TOKEN = "__DATA_SOURCE_TABLE__"  # replaced by the data source's physical table name


class WiringError(ValueError):
    """The manifest, the schema or a resolver file is not something AppSync would accept."""


# ---------------------------------------------------------------------------------------------
# The wiring manifest, read and checked.
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DataSourceSpec:
    name: str
    type: str  # AMAZON_DYNAMODB | AWS_LAMBDA | NONE
    table: Optional[str] = None
    table_actions: tuple[str, ...] = ()
    indexes: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    actions: tuple[str, ...] = ()  # AWS_LAMBDA: on the function ARN


@dataclass(frozen=True)
class FunctionSpec:
    name: str
    data_source: str
    file: str
    code: str  # bundled: what AppSync receives


@dataclass(frozen=True)
class ResolverSpec:
    type_name: str
    field_name: str
    kind: str  # UNIT | PIPELINE
    file: str
    code: str  # bundled: what AppSync receives
    data_source: Optional[str] = None  # UNIT
    functions: tuple[str, ...] = ()  # PIPELINE, in order

    @property
    def field(self) -> str:
        return f"{self.type_name}.{self.field_name}"


@dataclass(frozen=True)
class Wiring:
    schema: str  # as written, with every @aws_api_key token
    schema_file: str
    additional_auth: tuple[str, ...]  # besides API_KEY, which config decides
    api_key_directive: str
    api_key_fields: tuple[str, ...]
    api_key_types: tuple[str, ...]
    iam_publishers: tuple[str, ...]  # "Mutation.publishSessionUpdate"
    data_sources: Mapping[str, DataSourceSpec]
    functions: Mapping[str, FunctionSpec]
    resolvers: tuple[ResolverSpec, ...]


def _fail(where: str, message: str) -> WiringError:
    return WiringError(f"{where} {message}")


def _key(where: str, key: str) -> str:
    return f"{where} {key}" if where.endswith(":") else f"{where}.{key}"


def _str(obj: Mapping, key: str, where: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str) or not value:
        raise _fail(_key(where, key), f"must be a non-empty string, got {value!r}")
    return value


def _str_list(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise _fail(where, f"must be a list of non-empty strings, got {value!r}")
    if len(set(value)) != len(value):
        raise _fail(where, f"lists an entry twice: {value!r}")
    return tuple(value)


def _name(value: str, where: str) -> str:
    if not NAME_RE.fullmatch(value):
        raise _fail(where, f"must match [_A-Za-z][_0-9A-Za-z]* (AppSync's name rule), got {value!r}")
    return value


def read_code(resolvers_dir: Path, file: str, where: str) -> str:
    """A resolver or function module bundled with what it imports from ``resolvers_dir`` (see
    ``components.appsync_code``), checked against AppSync's code size limit."""
    path = (resolvers_dir / file).resolve()
    if not path.is_relative_to(resolvers_dir.resolve()):
        raise _fail(where, f"{file!r} points outside {resolvers_dir}")
    if not path.is_file():
        raise _fail(where, f"names {file!r}, which does not exist in {resolvers_dir}")
    if not path.read_text(encoding="utf-8").strip():
        raise _fail(where, f"{file!r} is empty")
    try:
        code = bundle(path, root=resolvers_dir)
    except BundleError as exc:
        raise _fail(where, f"{file!r} cannot be bundled for AppSync: {exc}") from None
    size = len(code.encode("utf-8"))
    if size > MAX_CODE_BYTES:
        raise _fail(where, f"{file!r} bundles to {size} bytes; AppSync accepts at most {MAX_CODE_BYTES} bytes "
                           f"(32 KB) of resolver code")
    return code


def _data_source(name: str, raw: Any, where: str) -> DataSourceSpec:
    _name(name, where)
    if not isinstance(raw, Mapping):
        raise _fail(where, f"must be an object, got {raw!r}")
    kind = raw.get("type")
    if kind not in DATA_SOURCE_TYPES:
        raise _fail(f"{where}.type", f"must be one of {', '.join(DATA_SOURCE_TYPES)}, got {kind!r}")
    if kind == "AMAZON_DYNAMODB":
        table_actions = _str_list(raw.get("tableActions"), f"{where}.tableActions")
        if not table_actions:
            raise _fail(f"{where}.tableActions", "must grant at least one action")
        for a in table_actions:
            if not DYNAMODB_ACTION_RE.fullmatch(a):
                raise _fail(f"{where}.tableActions", f"must hold dynamodb:<Action> names, got {a!r}")
        indexes_raw = raw.get("indexes", {})
        if not isinstance(indexes_raw, Mapping):
            raise _fail(f"{where}.indexes", f"must be an object of index: [actions], got {indexes_raw!r}")
        indexes: dict[str, tuple[str, ...]] = {}
        for index, actions in indexes_raw.items():
            acts = _str_list(actions, f"{where}.indexes.{index}")
            wrong = [a for a in acts if a not in INDEX_ACTIONS]
            if not acts or wrong:
                raise _fail(f"{where}.indexes.{index}", f"must grant {' or '.join(INDEX_ACTIONS)} only (the actions "
                                                        f"an index accepts), got {list(acts)!r}")
            indexes[index] = acts
        return DataSourceSpec(name=name, type=kind, table=_str(raw, "table", where), table_actions=table_actions,
                              indexes=indexes)
    if kind == "AWS_LAMBDA":
        actions = _str_list(raw.get("actions"), f"{where}.actions")
        if actions != LAMBDA_ACTIONS:
            raise _fail(f"{where}.actions", f"must be {list(LAMBDA_ACTIONS)!r}, got {list(actions)!r}")
        return DataSourceSpec(name=name, type=kind, actions=actions)
    return DataSourceSpec(name=name, type=kind)


def load_wiring(manifest_path: Path = MANIFEST_PATH) -> Wiring:
    """Read and check the manifest, the schema it names and every code file it references."""
    where = manifest_path.name
    try:
        raw = json.loads(manifest_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise WiringError(f"{manifest_path} not found: the API is built from app/graphql/resolvers/manifest.json") from None
    except json.JSONDecodeError as exc:
        raise WiringError(f"{where} is not valid JSON: {exc}") from None
    if not isinstance(raw, Mapping):
        raise _fail(where, "must be a JSON object")
    if raw.get("version") != MANIFEST_VERSION:
        raise _fail(f"{where}: version", f"must be {MANIFEST_VERSION}, got {raw.get('version')!r}")
    if raw.get("runtime") != RUNTIME:
        raise _fail(f"{where}: runtime", f"must be {RUNTIME!r} (AppSync's only JS runtime), got {raw.get('runtime')!r}")
    resolvers_dir = manifest_path.parent
    schema_file = _str(raw, "schema", f"{where}:")
    schema_path = (resolvers_dir / schema_file).resolve()
    try:
        schema = schema_path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise _fail(f"{where}: schema", f"names {schema_file!r}, which does not exist") from None

    auth = raw.get("auth")
    if not isinstance(auth, Mapping):
        raise _fail(f"{where}: auth", "must be an object")
    if auth.get("default") != USER_POOLS:
        raise _fail(f"{where}: auth.default", f"must be {USER_POOLS} (the platform's default mode), "
                                              f"got {auth.get('default')!r}")
    additional = _str_list(auth.get("additional", []), f"{where}: auth.additional")
    if API_KEY in additional:
        raise _fail(f"{where}: auth.additional", "must not list API_KEY: the stack config enables it (api.apiKey)")
    if set(additional) - {AWS_IAM}:
        raise _fail(f"{where}: auth.additional", f"may list only {AWS_IAM}, got {list(additional)!r}")
    key = auth.get("apiKey") or {}
    if not isinstance(key, Mapping):
        raise _fail(f"{where}: auth.apiKey", f"must be an object, got {key!r}")
    directive = key.get("directive", "@aws_api_key")
    if directive != "@aws_api_key":
        raise _fail(f"{where}: auth.apiKey.directive", f"must be '@aws_api_key', got {directive!r}")
    key_fields = _str_list(key.get("fields", []), f"{where}: auth.apiKey.fields")
    key_types = _str_list(key.get("types", []), f"{where}: auth.apiKey.types")
    publishers_raw = auth.get("iamPublishers", [])
    if not isinstance(publishers_raw, list):
        raise _fail(f"{where}: auth.iamPublishers", f"must be a list, got {publishers_raw!r}")
    publishers = tuple(_str(p if isinstance(p, Mapping) else {}, "field", f"{where}: auth.iamPublishers[{i}]")
                       for i, p in enumerate(publishers_raw))

    ds_raw = raw.get("dataSources")
    if not isinstance(ds_raw, Mapping) or not ds_raw:
        raise _fail(f"{where}: dataSources", "must be a non-empty object")
    data_sources = {n: _data_source(n, d, f"{where}: dataSources.{n}") for n, d in ds_raw.items()}
    if sum(1 for d in data_sources.values() if d.type == "AWS_LAMBDA") > 1:
        raise _fail(f"{where}: dataSources", "may hold one AWS_LAMBDA data source (the sessions API function)")

    functions: dict[str, FunctionSpec] = {}
    for i, f in enumerate(raw.get("functions") or []):
        w = f"{where}: functions[{i}]"
        if not isinstance(f, Mapping):
            raise _fail(w, f"must be an object, got {f!r}")
        name = _name(_str(f, "name", w), f"{w}.name")
        if name in functions:
            raise _fail(f"{w}.name", f"{name!r} is declared twice")
        ds = _str(f, "dataSource", w)
        if ds not in data_sources:
            raise _fail(f"{w}.dataSource", f"{ds!r} is not a data source ({', '.join(data_sources)})")
        file = _str(f, "file", w)
        functions[name] = FunctionSpec(name=name, data_source=ds, file=file, code=read_code(resolvers_dir, file, w))

    resolvers: list[ResolverSpec] = []
    seen: set[str] = set()
    for i, r in enumerate(raw.get("resolvers") or []):
        w = f"{where}: resolvers[{i}]"
        if not isinstance(r, Mapping):
            raise _fail(w, f"must be an object, got {r!r}")
        type_name = _name(_str(r, "typeName", w), f"{w}.typeName")
        field_name = _name(_str(r, "fieldName", w), f"{w}.fieldName")
        key_ = f"{type_name}.{field_name}"
        if key_ in seen:
            raise _fail(w, f"is a second resolver for {key_}: a field has exactly one")
        seen.add(key_)
        kind = r.get("kind")
        if kind not in RESOLVER_KINDS:
            raise _fail(f"{w}.kind", f"must be one of {', '.join(RESOLVER_KINDS)}, got {kind!r}")
        file = _str(r, "file", w)
        ds: Optional[str] = None
        fns: tuple[str, ...] = ()
        if kind == "UNIT":
            ds = _str(r, "dataSource", w)
            if ds not in data_sources:
                raise _fail(f"{w}.dataSource", f"{ds!r} is not a data source ({', '.join(data_sources)})")
            if r.get("functions"):
                raise _fail(f"{w}.functions", "only applies to PIPELINE resolvers")
        else:
            if r.get("dataSource") is not None:
                raise _fail(f"{w}.dataSource", "does not apply to PIPELINE resolvers (their functions name theirs)")
            fns = _str_list(r.get("functions"), f"{w}.functions")
            if not 1 <= len(fns) <= MAX_PIPELINE_FUNCTIONS:
                raise _fail(f"{w}.functions", f"must list 1-{MAX_PIPELINE_FUNCTIONS} functions, got {len(fns)}")
            missing = [f for f in fns if f not in functions]
            if missing:
                raise _fail(f"{w}.functions", f"names {', '.join(missing)}, not declared in functions")
        resolvers.append(ResolverSpec(type_name=type_name, field_name=field_name, kind=kind, file=file,
                                      code=read_code(resolvers_dir, file, w), data_source=ds, functions=fns))

    _check_table_tokens(functions, resolvers, data_sources)
    wiring = Wiring(schema=schema, schema_file=schema_file, additional_auth=additional, api_key_directive=directive,
                    api_key_fields=key_fields, api_key_types=key_types, iam_publishers=publishers,
                    data_sources=data_sources, functions=functions, resolvers=tuple(resolvers))
    check_schema(wiring)
    return wiring


def _check_table_tokens(functions: Mapping[str, FunctionSpec], resolvers: Sequence[ResolverSpec],
                        data_sources: Mapping[str, DataSourceSpec]) -> None:
    """TABLE_TOKEN only in code that runs on a DynamoDB data source (whose table name replaces it)."""
    entries = [(f"functions {f.name}", f.code, f.data_source) for f in functions.values()]
    entries += [(f"resolvers {r.field}", r.code, r.data_source) for r in resolvers]
    for where, code, ds in entries:
        if TABLE_TOKEN in code and (ds is None or data_sources[ds].type != "AMAZON_DYNAMODB"):
            raise WiringError(f"manifest.json: {where} uses {TABLE_TOKEN}, which only code on a DynamoDB data "
                              f"source may use (it becomes that data source's table name)")


def with_table_name(code: str, table_name: pulumi.Input[str]) -> pulumi.Input[str]:
    """``code`` with TABLE_TOKEN replaced by the data source's physical table name (unchanged without it)."""
    if TABLE_TOKEN not in code:
        return code
    return pulumi.Output.from_input(table_name).apply(lambda name: code.replace(TABLE_TOKEN, name))


# ---------------------------------------------------------------------------------------------
# Schema checks (the SDL's syntax tree; AppSync declares its own scalars and directives).
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SchemaFacts:
    roots: tuple[str, ...]  # "Query.getUser", ... for every root operation field
    fields: Mapping[str, frozenset[str]]  # "Type.field" -> directive names on the field
    types: Mapping[str, frozenset[str]]  # "Type" -> directive names on the type (and its extensions)
    returns: Mapping[str, str]  # "Type.field" -> the named type it returns
    subscribes: Mapping[str, tuple[str, ...]]  # "Subscription.onX" -> its @aws_subscribe mutations
    mutation_type: str = "Mutation"


def _named_type(node: Any) -> str:
    while not hasattr(node, "name"):
        node = node.type  # NonNull / List wrappers
    return node.name.value


def schema_facts(text: str, where: str = "schema.graphql") -> SchemaFacts:
    try:
        doc = parse_sdl(text)
    except GraphQLError as exc:
        raise WiringError(f"{where} does not parse: {exc.message}") from None
    operations = dict(ROOT_OPERATIONS)
    fields: dict[str, frozenset[str]] = {}
    types: dict[str, set[str]] = {}
    returns: dict[str, str] = {}
    subscribes: dict[str, tuple[str, ...]] = {}
    for node in doc.definitions:
        if isinstance(node, SchemaDefinitionNode):
            for op in node.operation_types:
                operations[op.operation.value] = op.type.name.value
        elif isinstance(node, (ObjectTypeDefinitionNode, ObjectTypeExtensionNode)):
            t = node.name.value
            types.setdefault(t, set()).update(d.name.value for d in node.directives or ())
            for f in node.fields or ():
                key = f"{t}.{f.name.value}"
                fields[key] = frozenset(d.name.value for d in f.directives or ())
                returns[key] = _named_type(f.type)
                for d in f.directives or ():
                    if d.name.value == "aws_subscribe":
                        subscribes[key] = tuple(v.value for a in d.arguments or () if a.name.value == "mutations"
                                                for v in getattr(a.value, "values", ()))
    root_types = set(operations.values())
    roots = tuple(k for k in fields if k.split(".")[0] in root_types)
    return SchemaFacts(roots=roots, fields=fields, types={k: frozenset(v) for k, v in types.items()},
                       returns=returns, subscribes=subscribes, mutation_type=operations["mutation"])


def check_schema(wiring: Wiring) -> None:
    """Resolvers against fields, API-key and IAM directives against the manifest."""
    where = wiring.schema_file
    facts = schema_facts(wiring.schema, where)
    wired = {r.field for r in wiring.resolvers}
    unknown = sorted(wired - set(facts.fields))
    if unknown:
        raise WiringError(f"manifest.json: resolvers for {', '.join(unknown)}, which {where} does not define")
    missing = [f for f in facts.roots if f not in wired]
    if missing:
        raise WiringError(f"manifest.json: no resolver for {', '.join(missing)} ({where} defines them; "
                          f"AppSync would answer null)")
    directive = wiring.api_key_directive.lstrip("@")
    marked_fields = sorted(k for k, ds in facts.fields.items() if directive in ds)
    marked_types = sorted(k for k, ds in facts.types.items() if directive in ds)
    if marked_fields != sorted(wiring.api_key_fields) or marked_types != sorted(wiring.api_key_types):
        raise WiringError(f"manifest.json: auth.apiKey lists fields {sorted(wiring.api_key_fields)} and types "
                          f"{sorted(wiring.api_key_types)}, but {where} marks fields {marked_fields} and types "
                          f"{marked_types} with {wiring.api_key_directive}")
    for sub, mutations in facts.subscribes.items():
        for m in mutations:
            # AppSync fans out only mutations that return the subscription's type.
            source = f"{facts.mutation_type}.{m}"
            if facts.returns.get(source) != facts.returns[sub]:
                raise WiringError(f"{where}: {sub} subscribes to {m}, which must be a mutation returning "
                                  f"{facts.returns[sub]} (got {facts.returns.get(source, 'no such mutation')})")
    for publisher in wiring.iam_publishers:
        if publisher not in facts.fields:
            raise WiringError(f"manifest.json: auth.iamPublishers names {publisher}, which {where} does not define")
        if "aws_iam" not in facts.fields[publisher] | facts.types.get(publisher.split(".")[0], frozenset()):
            raise WiringError(f"manifest.json: auth.iamPublishers names {publisher}, but {where} does not allow "
                              f"@aws_iam on it")


def deployed_schema(wiring: Wiring, api_key_enabled: bool) -> str:
    """The schema text AppSync receives: without any @aws_api_key token unless the key is enabled."""
    if api_key_enabled:
        if not wiring.api_key_fields:
            raise WiringError("api.apiKey.enabled is true but manifest.json auth.apiKey marks no field as public")
        return wiring.schema
    token = re.compile(re.escape(wiring.api_key_directive) + r"(?![_0-9A-Za-z])")
    return token.sub("", wiring.schema)


# ---------------------------------------------------------------------------------------------
# Pure builders: config in, provider arguments and policy statements out.
# ---------------------------------------------------------------------------------------------
def api_key_expiry(now: datetime, days: int) -> str:
    """The API key's expiry (RFC 3339, whole hours as AWS stores it) for a deploy at ``now``.

    Windows of ``days // 2`` days, aligned to UTC midnight from the Unix epoch; the expiry is the
    current window's start plus ``days``. So it changes only when a window starts, it is never more
    than ``days`` ahead, and always more than ``days - days // 2`` (>= 2) days ahead."""
    if not API_KEY_MIN_DAYS <= days <= API_KEY_MAX_DAYS:
        raise ValueError(f"api.apiKey.expiresInDays must be between {API_KEY_MIN_DAYS} and {API_KEY_MAX_DAYS}, "
                         f"got {days}")
    if now.tzinfo is None:
        raise ValueError("api_key_expiry needs a timezone-aware time (UTC)")
    epoch = datetime(1970, 1, 1, tzinfo=timezone.utc)
    window = days // 2
    day = (now.astimezone(timezone.utc) - epoch).days
    expires = epoch + timedelta(days=day - day % window + days)
    return expires.strftime("%Y-%m-%dT%H:%M:%SZ")


def auth_modes(cfg: ApiConfig, wiring: Wiring) -> tuple[str, ...]:
    """Every mode the API accepts, the default first."""
    return (USER_POOLS, *wiring.additional_auth, *((API_KEY,) if cfg.api_key.enabled else ()))


def api_name(stack: str, name: str) -> str:
    """AppSync API name: letters, digits and underscores only, so it satisfies even the strict name rule."""
    return re.sub(r"[^0-9A-Za-z_]", "_", f"{PROJECT}_{stack}_{name}")


def graphql_api_args(cfg: ApiConfig, wiring: Wiring, *, name: str, region: str, user_pool_id: pulumi.Input[str],
                     log_role_arn: pulumi.Input[str]) -> dict[str, Any]:
    """``aws.appsync.GraphQLApi`` keyword arguments."""
    default, *additional = auth_modes(cfg, wiring)
    return dict(
        name=name,
        api_type="GRAPHQL",
        visibility="GLOBAL",
        authentication_type=default,
        # ALLOW is required once additional modes exist; the schema's cognito_groups still restrict fields.
        user_pool_config=aws.appsync.GraphQLApiUserPoolConfigArgs(
            user_pool_id=user_pool_id, aws_region=region, default_action="ALLOW"),
        additional_authentication_providers=[
            aws.appsync.GraphQLApiAdditionalAuthenticationProviderArgs(authentication_type=m) for m in additional],
        schema=deployed_schema(wiring, cfg.api_key.enabled),
        log_config=aws.appsync.GraphQLApiLogConfigArgs(
            cloudwatch_logs_role_arn=log_role_arn, field_log_level=cfg.field_log_level,
            exclude_verbose_content=True),
        xray_enabled=cfg.xray,
        introspection_config="ENABLED" if cfg.introspection else "DISABLED",
        query_depth_limit=cfg.query_depth_limit,
        resolver_count_limit=cfg.resolver_count_limit,
    )


def appsync_trust(account: pulumi.Input[str], source_arn: pulumi.Input[str]) -> pulumi.Output[str]:
    return iam.trust_policy(APPSYNC_SERVICE, source_account=account, source_arn=source_arn)


def log_statements(log_group_arn: pulumi.Input[str]) -> list[iam.Statement]:
    """AppSync creates its log group when missing and writes streams into it: this group only."""
    return [iam.Statement(actions=["logs:CreateLogGroup"], resources=[log_group_arn], sid="CreateOwnLogGroup"),
            *iam.log_group_link(log_group_arn)]


def dynamodb_statements(spec: DataSourceSpec, table_arn: pulumi.Input[str]) -> list[iam.Statement]:
    """Exactly the manifest's grants: table actions on the table, index actions per named index."""
    stmts = [iam.Statement(actions=list(spec.table_actions), resources=[table_arn], sid="Table")]
    for index, actions in spec.indexes.items():
        stmts.append(iam.Statement(actions=list(actions), resources=[pulumi.Output.concat(table_arn, "/index/", index)]))
    return stmts


def lambda_statements(spec: DataSourceSpec, function_arn: pulumi.Input[str]) -> list[iam.Statement]:
    return [iam.Statement(actions=list(spec.actions), resources=[function_arn], sid="InvokeSessionsApi")]


def publish_field_arn(api_arn: pulumi.Input[str], field_: str) -> pulumi.Output[str]:
    type_name, field_name = field_.split(".", 1)
    return pulumi.Output.concat(api_arn, "/types/", type_name, "/fields/", field_name)


def publish_statements(api_arn: pulumi.Input[str], fields: Sequence[str]) -> list[iam.Statement]:
    """What a backend publisher role needs: appsync:GraphQL on exactly these fields (manifest
    auth.iamPublishers) of one API."""
    if not fields:
        raise WiringError("manifest.json auth.iamPublishers is empty: there is nothing to grant")
    return [iam.Statement(actions=["appsync:GraphQL"], resources=[publish_field_arn(api_arn, f) for f in fields],
                          sid="PublishToApi")]


# ---------------------------------------------------------------------------------------------
# Arguments and bundle
# ---------------------------------------------------------------------------------------------
class TableRef(Protocol):
    """What the API needs of a table (``components.data.TableOutputs`` fits)."""

    @property
    def name(self) -> pulumi.Input[str]: ...

    @property
    def arn(self) -> pulumi.Input[str]: ...


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class ApiArgs:
    config: ApiConfig
    region: str
    log_retention_days: int
    user_pool_id: pulumi.Input[str]
    tables: Mapping[str, TableRef]  # Data.tables
    sessions_function_arn: pulumi.Input[str]
    sessions_function_name: pulumi.Input[str]
    manifest: Path = MANIFEST_PATH
    clock: Callable[[], datetime] = _utc_now  # API key expiry; tests freeze it


@dataclass(frozen=True)
class ApiBundle:
    api_id: pulumi.Output[str]
    arn: pulumi.Output[str]
    graphql_url: pulumi.Output[str]
    realtime_url: pulumi.Output[str]
    default_auth_mode: str
    auth_modes: tuple[str, ...]
    log_group_name: pulumi.Output[str]
    publish_fields: tuple[str, ...]  # manifest auth.iamPublishers
    api_key: Optional[pulumi.Output[str]] = None  # secret; only when api.apiKey.enabled
    api_key_expires: Optional[str] = None

    def publish_statements(self, field_: str) -> list[iam.Statement]:
        """For the backend role behind one IAM publisher field (the sessions task-state handler:
        Mutation.publishSessionUpdate; the agent runtime: Mutation.recordAgentReply): appsync:GraphQL
        on exactly that field of this API."""
        if field_ not in self.publish_fields:
            raise WiringError(f"{field_} is not an IAM publisher field (manifest auth.iamPublishers: "
                              f"{', '.join(self.publish_fields)})")
        return publish_statements(self.arn, [field_])


def validate(name: str, args: ApiArgs, wiring: Wiring) -> None:
    """Reject args that cannot serve the manifest, naming the field."""
    longest = max([f"{name}-logs"] + [f"{name}-ds-{d}" for d in wiring.data_sources], key=len)
    if len(longest) > MAX_AUTONAME:
        raise ValueError(f"Api component name {name!r} is too long: the role name {longest!r} must stay within "
                         f"{MAX_AUTONAME} characters (IAM allows 64 including Pulumi's suffix)")
    for ds in wiring.data_sources.values():
        if ds.type != "AMAZON_DYNAMODB":
            continue
        table = args.tables.get(ds.table)
        if table is None:
            raise ValueError(f"ApiArgs.tables has no {ds.table!r} table, which data source {ds.name} uses "
                             f"(have: {', '.join(args.tables) or 'none'})")
        known = getattr(table, "index_names", None)
        if known is not None:
            unknown = [i for i in ds.indexes if i not in known]
            if unknown:
                raise ValueError(f"data source {ds.name}: table {ds.table} has no index {', '.join(unknown)} "
                                 f"(has: {', '.join(known) or 'none'})")


# ---------------------------------------------------------------------------------------------
# The component
# ---------------------------------------------------------------------------------------------
class Api(pulumi.ComponentResource):
    bundle: ApiBundle

    def __init__(self, name: str, args: ApiArgs, opts: Optional[pulumi.ResourceOptions] = None):
        # Everything read and checked before registering, so a bad manifest leaves nothing half-built.
        wiring = load_wiring(args.manifest)
        validate(name, args, wiring)
        cfg = args.config
        key_expires = api_key_expiry(args.clock(), cfg.api_key.expires_in_days) if cfg.api_key.enabled else None
        super().__init__(TYPE, name, None, opts)
        child = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(parent=self))
        account = aws.get_caller_identity_output(opts=pulumi.InvokeOptions(parent=self)).account_id
        self.wiring = wiring

        # --- logging role (its trust cannot name the API: see the module docstring) ---
        self.log_role = aws.iam.Role(
            f"{name}-logs", description="AppSync writes this API's logs to its own log group",
            assume_role_policy=appsync_trust(
                account, pulumi.Output.concat("arn:", partition_of(args.region), ":appsync:", args.region, ":", account, ":apis/*")),
            opts=child)

        # --- the API ---
        self.api = aws.appsync.GraphQLApi(
            name, **graphql_api_args(cfg, wiring, name=api_name(pulumi.get_stack(), name), region=args.region,
                                     user_pool_id=args.user_pool_id, log_role_arn=self.log_role.arn),
            opts=child)
        self.log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs", name=self.api.id.apply(lambda api_id: f"{LOG_GROUP_PREFIX}{api_id}"),
            retention_in_days=args.log_retention_days, opts=child)
        aws.iam.RolePolicy(f"{name}-logs", role=self.log_role.id,
                           policy=iam.document(log_statements(self.log_group.arn)), opts=child)

        self.api_key: Optional[aws.appsync.ApiKey] = None
        if cfg.api_key.enabled:
            self.api_key = aws.appsync.ApiKey(
                f"{name}-key", api_id=self.api.id, expires=key_expires,
                description=f"Public fields only ({', '.join(wiring.api_key_fields)}); renewed by deploys",
                opts=child)

        # --- data sources, each with its own role ---
        self.data_sources: dict[str, aws.appsync.DataSource] = {}
        self.data_source_roles: dict[str, aws.iam.Role] = {}
        for ds in wiring.data_sources.values():
            self.data_sources[ds.name] = self._data_source(name, ds, args, account, child)

        # --- pipeline functions and resolvers ---
        runtime_fn = aws.appsync.FunctionRuntimeArgs(name=RUNTIME["name"], runtime_version=RUNTIME["runtimeVersion"])
        self.functions = {
            fn.name: aws.appsync.Function(
                f"{name}-fn-{fn.name}", api_id=self.api.id, name=fn.name,
                data_source=self.data_sources[fn.data_source].name, code=self._code(fn.code, fn.data_source, args),
                runtime=runtime_fn, opts=child)
            for fn in wiring.functions.values()
        }
        runtime_resolver = aws.appsync.ResolverRuntimeArgs(
            name=RUNTIME["name"], runtime_version=RUNTIME["runtimeVersion"])
        self.resolvers: dict[str, aws.appsync.Resolver] = {}
        for r in wiring.resolvers:
            extra: dict[str, Any] = (
                {"data_source": self.data_sources[r.data_source].name} if r.kind == "UNIT" else
                {"pipeline_config": aws.appsync.ResolverPipelineConfigArgs(
                    functions=[self.functions[f].function_id for f in r.functions])})
            self.resolvers[r.field] = aws.appsync.Resolver(
                f"{name}-{r.type_name}-{r.field_name}", api_id=self.api.id, type=r.type_name, field=r.field_name,
                kind=r.kind, code=self._code(r.code, r.data_source, args), runtime=runtime_resolver, opts=child,
                **extra)

        modes = auth_modes(cfg, wiring)
        self.bundle = ApiBundle(
            api_id=self.api.id,
            arn=self.api.arn,
            graphql_url=self.api.uris.apply(lambda u: u["GRAPHQL"]),
            realtime_url=self.api.uris.apply(lambda u: u["REALTIME"]),
            default_auth_mode=modes[0],
            auth_modes=modes,
            log_group_name=self.log_group.name,
            publish_fields=wiring.iam_publishers,
            api_key=pulumi.Output.secret(self.api_key.key) if self.api_key else None,
            api_key_expires=key_expires,
        )
        self.register_outputs({
            "apiId": self.bundle.api_id,
            "arn": self.bundle.arn,
            "graphqlUrl": self.bundle.graphql_url,
            "realtimeUrl": self.bundle.realtime_url,
            "defaultAuthMode": self.bundle.default_auth_mode,
            "authModes": list(self.bundle.auth_modes),
            "logGroupName": self.bundle.log_group_name,
            "apiKey": self.bundle.api_key,
            "apiKeyExpires": self.bundle.api_key_expires,
        })

    def _code(self, code: str, data_source: Optional[str], args: ApiArgs) -> pulumi.Input[str]:
        ds = self.wiring.data_sources[data_source] if data_source else None
        if ds is None or ds.type != "AMAZON_DYNAMODB":
            return code  # load_wiring refused TABLE_TOKEN here
        return with_table_name(code, args.tables[ds.table].name)

    def _data_source(self, name: str, ds: DataSourceSpec, args: ApiArgs, account: pulumi.Output[str],
                     child: pulumi.ResourceOptions) -> aws.appsync.DataSource:
        logical = f"{name}-{ds.name}"
        if ds.type == "NONE":
            return aws.appsync.DataSource(logical, api_id=self.api.id, name=ds.name, type="NONE",
                                          description="Local resolvers (no data source call)", opts=child)
        if ds.type == "AMAZON_DYNAMODB":
            table = args.tables[ds.table]
            statements = dynamodb_statements(ds, table.arn)
            what = f"table {ds.table}"
            config: dict[str, Any] = {"dynamodb_config": aws.appsync.DataSourceDynamodbConfigArgs(
                table_name=table.name, region=args.region)}
        else:
            statements = lambda_statements(ds, args.sessions_function_arn)
            what = "the sessions API function"
            config = {"lambda_config": aws.appsync.DataSourceLambdaConfigArgs(function_arn=args.sessions_function_arn)}
            aws.lambda_.Permission(
                f"{name}-{ds.name}-invoke", action="lambda:InvokeFunction", function=args.sessions_function_name,
                principal=APPSYNC_SERVICE, source_arn=self.api.arn, source_account=account, opts=child)
        role = aws.iam.Role(f"{name}-ds-{ds.name}", description=f"AppSync data source {ds.name}: {what}",
                            assume_role_policy=appsync_trust(account, self.api.arn), opts=child)
        policy = aws.iam.RolePolicy(f"{name}-ds-{ds.name}", role=role.id, policy=iam.document(statements),
                                    opts=child)
        self.data_source_roles[ds.name] = role
        # The grants must exist before the first request reaches the data source.
        return aws.appsync.DataSource(
            logical, api_id=self.api.id, name=ds.name, type=ds.type, description=f"{ds.name}: {what}",
            service_role_arn=role.arn, **config,
            opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[policy])))
