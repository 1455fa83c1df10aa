"""Typed access to the platform stack's outputs, and the files an app deployment needs from them.

Two sources, both plain JSON, so app pipelines need neither Pulumi's SDK nor AWS credentials here:

* ``pulumi stack output --json [--show-secrets]``: a flat object of outputs. Without
  ``--show-secrets`` every secret prints as the string ``"[secret]"``.
* a ``pulumi stack export`` (version 3) file, e.g. the offline preview's
  (``python -m tools.preview --stack dev --export out/dev.json``): the outputs of the
  ``pulumi:pulumi:Stack`` resource. Secrets there are envelopes: ``ciphertext`` (unreadable here) or,
  with ``--show-secrets``, ``plaintext`` (JSON text).

Every problem raises ``OutputsError`` with one line that names the source and every offending output.
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Optional

from .contract import (AGENT_OUTPUTS, AGENT_TOKEN_USE, AUTH_MODES, EDITOR_ACCESS, OUTPUT_NAMES, REQUIRED_OUTPUTS,
                       TABLE_KEYS, agent_invocation_url, table_env_name)

MASKED = "[secret]"  # what `pulumi stack output --json` prints for a secret without --show-secrets
SECRET_SIG_KEY = "4dabf18193072939515e22adb298388d"
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"  # a value Pulumi did not know yet (preview)
OFFLINE_CIPHERTEXT = "offline-preview:not-encrypted:value-withheld"  # tools/export.py's marker
STACK_TYPE = "pulumi:pulumi:Stack"
REGION_RE = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-\d$")
# Characters a .env value may hold unquoted: dotenv would cut at `#`, expand `$`, and needs quotes
# for spaces; no contract value has any of them, so anything else is an error rather than escaped.
# `%` and `?` appear in the agent invocation URL (an escaped ARN and the qualifier).
ENV_VALUE_RE = re.compile(r"^[A-Za-z0-9_.:/@+,=%?-]*$")
AGENT_RUNTIME_ARN_RE = re.compile(r"^arn:aws[a-z-]*:bedrock-agentcore:([a-z]{2}(?:-gov)?-[a-z]+-\d):\d{12}:runtime/[A-Za-z0-9_-]+$")


class OutputsError(ValueError):
    """The outputs are missing, malformed, or secret where a value is needed."""


@dataclass(frozen=True)
class TableRegion:
    arn: str
    stream_arn: Optional[str]


@dataclass(frozen=True)
class Table:
    key: str
    name: str
    regions: Mapping[str, TableRegion]


@dataclass(frozen=True)
class Agents:
    """How an app invokes the MAGI agent runtime: POST ``invocation_url`` with the user's Cognito
    access token (``token_use``) as ``Authorization: Bearer``."""

    runtime_arn: str
    endpoint_name: str
    invocation_url: str
    client_id: str
    repository_url: str
    token_use: str = AGENT_TOKEN_USE


@dataclass(frozen=True)
class StackOutputs:
    """The contract's outputs of one stack. ``values`` holds every readable output by its contract
    name; ``withheld`` names the secret outputs this source does not carry, with the reason."""

    source: str
    values: Mapping[str, Any]
    withheld: Mapping[str, str] = field(default_factory=dict)

    # --- constructors -------------------------------------------------------------------------
    @classmethod
    def from_pulumi_json(cls, text: str, source: str = "pulumi stack output --json") -> "StackOutputs":
        doc = _parse_json(text, source)
        if not isinstance(doc, dict):
            raise OutputsError(f"{source}: expected the JSON object `pulumi stack output --json` prints, "
                               f"got {type(doc).__name__}")
        values: dict[str, Any] = {}
        withheld: dict[str, str] = {}
        for name, value in doc.items():
            if _contains(value, lambda v: v == MASKED):
                withheld[name] = ("is a secret and was printed as \"[secret]\": run "
                                  "`pulumi stack output --json --show-secrets`")
            else:
                values[name] = value
        return cls._checked(source, values, withheld)

    @classmethod
    def from_export(cls, doc: Any, source: str = "stack export") -> "StackOutputs":
        if not isinstance(doc, dict) or not isinstance(doc.get("deployment"), dict):
            raise OutputsError(f"{source}: not a `pulumi stack export` file (no deployment object)")
        if doc.get("version") != 3:
            raise OutputsError(f"{source}: stack export version {doc.get('version')!r} is not supported "
                               f"(expected 3)")
        resources = doc["deployment"].get("resources") or []
        stacks = [r for r in resources if isinstance(r, dict) and r.get("type") == STACK_TYPE]
        if len(stacks) != 1:
            raise OutputsError(f"{source}: expected one {STACK_TYPE} resource, found {len(stacks)} "
                               f"(was the stack ever deployed or previewed with --export?)")
        outputs = stacks[0].get("outputs") or {}
        values: dict[str, Any] = {}
        withheld: dict[str, str] = {}
        for name, value in outputs.items():
            try:
                values[name] = _open_secrets(value)
            except _Withheld as why:
                withheld[name] = str(why)
        return cls._checked(source, values, withheld)

    @classmethod
    def from_file(cls, path: Path, kind: str) -> "StackOutputs":
        """``kind``: "export" or "pulumi-json"; ``path`` "-" reads standard input."""
        if str(path) == "-":
            text, source = sys.stdin.read(), "standard input"
        else:
            source = str(path)
            try:
                text = Path(path).read_text()
            except FileNotFoundError:
                raise OutputsError(f"{source}: file not found") from None
            except (IsADirectoryError, PermissionError, UnicodeDecodeError) as exc:
                raise OutputsError(f"{source}: cannot read ({exc.__class__.__name__})") from None
        if kind == "export":
            return cls.from_export(_parse_json(text, source), source)
        return cls.from_pulumi_json(text, source)

    @classmethod
    def _checked(cls, source: str, values: dict, withheld: dict) -> "StackOutputs":
        unknown = sorted(n for n, v in values.items() if _contains(v, lambda x: x == UNKNOWN))
        if unknown:
            raise OutputsError(f"{source}: output(s) {', '.join(unknown)} are unknown until the stack is "
                               f"deployed (this looks like a preview)")
        missing = [n for n in REQUIRED_OUTPUTS if n not in withheld and values.get(n) is None]
        if missing:
            raise OutputsError(f"{source}: missing required output(s): {', '.join(missing)} "
                               f"(is the stack deployed with the current platform program?)")
        unexpected_secret = [n for n in withheld if n in OUTPUT_NAMES and OUTPUT_NAMES[n].secret == "never"]
        if unexpected_secret:
            raise OutputsError(f"{source}: output(s) {', '.join(sorted(unexpected_secret))} are secret but "
                               f"the contract says they never are (was the program changed to mark them secret?)")
        problems = [p for name, value in values.items() if name in OUTPUT_NAMES
                    for p in _shape_problems(name, value)]
        if not problems:
            problems = _consistency_problems(values, withheld)
        if problems:
            raise OutputsError(f"{source}: {'; '.join(problems)}")
        return cls(source=source, values=dict(values), withheld=dict(withheld))

    # --- typed access -------------------------------------------------------------------------
    def require(self, name: str) -> Any:
        if name in self.withheld:
            raise OutputsError(f"{self.source}: output {name} {self.withheld[name]}")
        if self.values.get(name) is None:
            raise OutputsError(f"{self.source}: output {name} is not set by this stack")
        return self.values[name]

    def get(self, name: str) -> Any:
        """An optional output's value, or None when the stack does not set it."""
        if name in self.withheld:
            raise OutputsError(f"{self.source}: output {name} {self.withheld[name]}")
        return self.values.get(name)

    @property
    def region(self) -> str:
        return self.require("region")

    @property
    def user_pool_id(self) -> str:
        return self.require("userPoolId")

    @property
    def user_pool_client_id(self) -> str:
        return self.require("userPoolClientId")

    @property
    def graphql_url(self) -> str:
        return self.require("graphqlUrl")

    @property
    def graphql_auth_modes(self) -> tuple[str, ...]:
        return tuple(self.require("graphqlAuthModes"))

    @property
    def api_key_enabled(self) -> bool:
        return "API_KEY" in self.graphql_auth_modes

    @property
    def graphql_api_key(self) -> Optional[str]:
        return self.get("graphqlApiKey")

    @property
    def oauth_domain(self) -> Optional[str]:
        return self.get("oauthDomain")

    @property
    def editor_access(self) -> str:
        return self.require("editorAccess")

    @property
    def tables(self) -> Mapping[str, Table]:
        return {key: Table(key=key, name=t["name"], regions={
            region: TableRegion(arn=r["arn"], stream_arn=r.get("streamArn"))
            for region, r in t["regions"].items()}) for key, t in self.require("tables").items()}

    @property
    def amplify_outputs(self) -> dict:
        return self.require("amplifyOutputs")

    @property
    def agents(self) -> Optional[Agents]:
        """The agent runtime, or None when the stack does not run agents (agents.enabled false)."""
        if self.get("agentRuntimeArn") is None:
            return None
        return Agents(runtime_arn=self.require("agentRuntimeArn"), endpoint_name=self.require("agentEndpointName"),
                      invocation_url=self.require("agentInvocationUrl"),
                      client_id=self.require("agentAuthorizerClientId"),
                      repository_url=self.require("agentRepositoryUrl"))


# ---------------------------------------------------------------------------------------------
# Writers
# ---------------------------------------------------------------------------------------------
def amplify_outputs_json(outputs: StackOutputs) -> str:
    """amplify_outputs.json exactly as the stack exported it (Amplify.configure(outputs) reads it)."""
    return json.dumps(outputs.amplify_outputs, indent=2, sort_keys=True) + "\n"


def env_lines(outputs: StackOutputs, include_api_key: bool = False) -> list[str]:
    """KEY=value lines for a Next.js .env: NEXT_PUBLIC_ names for what the browser may see, plain
    names for server-side values, the API key only when ``include_api_key``."""
    entries: list[tuple[str, str, str]] = []  # (env name, value, output name)
    for name, spec in OUTPUT_NAMES.items():
        if not spec.env or spec.secret != "never":
            continue
        value = outputs.get(name)
        if value is not None:
            entries.append((spec.env, value, name))
    for key, table in sorted(outputs.tables.items()):
        entries.append((table_env_name(key), table.name, f"tables.{key}.name"))
    if include_api_key:
        if not outputs.api_key_enabled:
            raise OutputsError(f"{outputs.source}: --include-api-key was given but the stack has no API key "
                               f"(graphqlAuthModes lacks API_KEY; enable api.apiKey in the stack config)")
        key = outputs.require("graphqlApiKey")
        entries.append((OUTPUT_NAMES["graphqlApiKey"].env, key, "graphqlApiKey"))
    bad = [origin for _, value, origin in entries if not isinstance(value, str) or not ENV_VALUE_RE.fullmatch(value)]
    if bad:
        raise OutputsError(f"{outputs.source}: output(s) {', '.join(bad)} hold characters a .env value "
                           f"cannot carry unquoted")
    public = [f"{k}={v}" for k, v, _ in entries if k.startswith("NEXT_PUBLIC_")]
    server = [f"{k}={v}" for k, v, _ in entries if not k.startswith("NEXT_PUBLIC_")]
    return public + server


def env_text(outputs: StackOutputs, include_api_key: bool = False) -> str:
    lines = env_lines(outputs, include_api_key)
    header = [f"# Written by `python -m app.deploy` from {outputs.source}; regenerate after every deploy.",
              "# NEXT_PUBLIC_ values are compiled into the browser bundle; the others are server-side only."]
    return "\n".join(header + lines) + "\n"


def write(outputs: StackOutputs, out_dir: Path, include_api_key: bool = False) -> list[Path]:
    """Write amplify_outputs.json and .env into ``out_dir``; both are built before either is written,
    so a failure leaves no half-updated pair behind."""
    amplify = amplify_outputs_json(outputs)
    env = env_text(outputs, include_api_key)
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise OutputsError(f"{out_dir}: exists and is not a directory")
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in (("amplify_outputs.json", amplify), (".env", env)):
        path = out_dir / name
        if name == ".env" and include_api_key:
            # It holds a credential: owner-only before the key is written, also over an older file.
            path.touch(mode=0o600, exist_ok=True)
            path.chmod(0o600)
        path.write_text(text)
        written.append(path)
    return written


# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------
class _Withheld(Exception):
    pass


def _parse_json(text: str, source: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise OutputsError(f"{source}: not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None


def _contains(value: Any, pred) -> bool:
    if isinstance(value, dict):
        return any(_contains(v, pred) for v in value.values())
    if isinstance(value, list):
        return any(_contains(v, pred) for v in value)
    return pred(value)


def _open_secrets(value: Any) -> Any:
    """Replace decrypted secret envelopes by their values; raise _Withheld for encrypted ones."""
    if isinstance(value, dict):
        if value.get(SECRET_SIG_KEY) == SECRET_SIG:
            if "plaintext" in value:
                try:
                    return _open_secrets(json.loads(value["plaintext"]))
                except (TypeError, json.JSONDecodeError):
                    raise _Withheld("is a secret whose plaintext is not JSON (a damaged export?)") from None
            if value.get("ciphertext") == OFFLINE_CIPHERTEXT:
                raise _Withheld("is a secret, and the offline preview never writes secret values "
                                "(read a deployed stack: `pulumi stack output --json --show-secrets`)")
            raise _Withheld("is encrypted in this export: run `pulumi stack export --show-secrets`")
        return {k: _open_secrets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_open_secrets(v) for v in value]
    return value


def _is_str_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _shape_problems(name: str, value: Any) -> list[str]:
    """What is wrong with one output's value (empty when nothing is)."""
    spec = OUTPUT_NAMES[name]
    if value is None:
        return []  # optional and unset; required ones were reported as missing
    expected = {"str": lambda v: isinstance(v, str) and v != "", "list": _is_str_list,
                "object": lambda v: isinstance(v, dict)}[spec.kind]
    if not expected(value):
        what = {"str": "a non-empty string", "list": "a list of strings", "object": "an object"}[spec.kind]
        return [f"output {name} must be {what}, got {json.dumps(value)[:80]}"]
    if name == "region" and not REGION_RE.fullmatch(value):
        return [f"output region must be an AWS region name, got {value!r}"]
    if name == "editorAccess" and value not in EDITOR_ACCESS:
        return [f"output editorAccess must be one of {', '.join(EDITOR_ACCESS)}, got {value!r}"]
    if name == "graphqlAuthModes":
        bad = [m for m in value if m not in AUTH_MODES]
        if bad or not value:
            return [f"output graphqlAuthModes must list AppSync authorization types "
                    f"({', '.join(AUTH_MODES)}), got {value!r}"]
    if name == "tables":
        return _table_problems(value)
    if name == "agentRuntimeArn" and not AGENT_RUNTIME_ARN_RE.fullmatch(value):
        return [f"output agentRuntimeArn must be an AgentCore runtime ARN, got {value!r}"]
    if name == "agentInvocationUrl" and not value.startswith("https://bedrock-agentcore."):
        return [f"output agentInvocationUrl must be the https InvokeAgentRuntime URL, got {value!r}"]
    if name == "amplifyOutputs":
        version = value.get("version")
        if not (isinstance(version, str) and version.startswith("1.")) or not {"auth", "data"} <= set(value):
            return [f"output amplifyOutputs must be an amplify_outputs.json object (version 1.x with auth and "
                    f"data), got version {version!r} and sections {sorted(value)}"]
    return []


def _table_problems(tables: Mapping[str, Any]) -> list[str]:
    problems = []
    missing = [k for k in TABLE_KEYS if k not in tables]
    if missing:
        problems.append(f"output tables lacks table(s) {', '.join(missing)}")
    for key, table in tables.items():
        where = f"output tables.{key}"
        if not isinstance(table, dict) or not isinstance(table.get("name"), str) \
                or not isinstance(table.get("regions"), dict) or not table["regions"]:
            problems.append(f"{where} must be {{name, regions: {{<region>: {{arn, streamArn}}}}}}")
            continue
        for region, entry in table["regions"].items():
            if not isinstance(entry, dict) or not isinstance(entry.get("arn"), str) \
                    or not isinstance(entry.get("streamArn", None), (str, type(None))):
                problems.append(f"{where}.regions.{region} must be {{arn, streamArn}}")
    return problems



def _consistency_problems(values: Mapping[str, Any], withheld: Mapping[str, str]) -> list[str]:
    """Outputs that contradict each other (a stale or hand-edited file, or two stacks mixed up)."""
    problems = []
    region, modes = values["region"], values["graphqlAuthModes"]
    default = values["graphqlDefaultAuthMode"]
    if default not in modes:
        problems.append(f"output graphqlDefaultAuthMode {default!r} is not among graphqlAuthModes {modes}")
    has_key = "graphqlApiKey" in withheld or values.get("graphqlApiKey") is not None
    if ("API_KEY" in modes) != has_key:
        problems.append("outputs graphqlAuthModes and graphqlApiKey disagree: "
                        + ("API_KEY is enabled but graphqlApiKey is missing" if not has_key
                           else "graphqlApiKey is set but graphqlAuthModes lacks API_KEY"))
    for key, table in values["tables"].items():
        if region not in table["regions"]:
            problems.append(f"output tables.{key} has no entry for the stack's region {region}")
    problems += _agent_problems(values)
    amplify = values.get("amplifyOutputs")
    if amplify is not None:
        expected = {("auth", "user_pool_id"): values["userPoolId"],
                    ("auth", "user_pool_client_id"): values["userPoolClientId"],
                    ("auth", "aws_region"): region, ("data", "url"): values["graphqlUrl"],
                    ("data", "aws_region"): region}
        for (section, key), want in expected.items():
            got = (amplify.get(section) or {}).get(key)
            if got != want:
                problems.append(f"output amplifyOutputs.{section}.{key} is {got!r} but the stack says {want!r}")
    return problems


def _agent_problems(values: Mapping[str, Any]) -> list[str]:
    """The agent outputs come as a set (all or none), for this stack's region and web app client."""
    present = [n for n in AGENT_OUTPUTS if values.get(n) is not None]
    if not present:
        return []
    if len(present) != len(AGENT_OUTPUTS):
        missing = [n for n in AGENT_OUTPUTS if n not in present]
        return [f"outputs {', '.join(present)} are set but {', '.join(missing)} are not (agent outputs come together)"]
    problems = []
    region, arn = values["region"], values["agentRuntimeArn"]
    if AGENT_RUNTIME_ARN_RE.fullmatch(arn).group(1) != region:
        problems.append(f"output agentRuntimeArn is not in the stack's region {region}: {arn}")
    expected_url = agent_invocation_url(region, arn, values["agentEndpointName"])
    if values["agentInvocationUrl"] != expected_url:
        problems.append(f"output agentInvocationUrl is {values['agentInvocationUrl']!r} but the runtime ARN and "
                        f"endpoint say {expected_url!r}")
    if values["agentAuthorizerClientId"] != values["userPoolClientId"]:
        problems.append("output agentAuthorizerClientId is not the web app client (userPoolClientId): the runtime "
                        "would refuse the app's tokens")
    custom = ((values.get("amplifyOutputs") or {}).get("custom") or {}).get("agents")
    if values.get("amplifyOutputs") is not None and (
            not isinstance(custom, dict) or custom.get("runtime_arn") != arn
            or custom.get("invocation_url") != values["agentInvocationUrl"]):
        problems.append("output amplifyOutputs.custom.agents does not describe the stack's agent runtime")
    return problems
