"""Pack config: the standard `--policy-pack-config` JSON, validated strictly.

    {
      "all": "mandatory",                                  # optional: level for every policy
      "<policy>": "advisory" | "mandatory" | "disabled",   # level only, or
      "<policy>": {"enforcementLevel": "...", "<property>": ..., "suppressions": [
          {"resource": "<urn glob | name glob | stack>", "reason": "...", "expires": "YYYY-MM-DD"}]}
    }

Properties are checked against each policy's config schema (the same schema the pack hands to
the Pulumi CLI); unknown policies and properties are errors, so a typo cannot silently turn a
guard off. A suppression without a reason is an error.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Optional, Sequence

from .model import Enforcement, Rule, Suppression, parse_suppressions
from .schema import compile_test
from .values import NumberError, loads_pulumi_numbers

LEVELS = ("advisory", "mandatory", "remediate", "disabled")

SUPPRESSIONS_SCHEMA: dict[str, Any] = {
    "type": "array",
    "default": [],
    "description": "Accepted findings: resource (URN glob starting with urn:, else a name glob; 'stack' for "
                   "stack-level findings), reason (required), expires (YYYY-MM-DD, optional).",
    "items": {
        "type": "object",
        "properties": {
            "resource": {"type": "string", "minLength": 1},
            "reason": {"type": "string", "minLength": 1, "pattern": "\\S"},
            "expires": {"type": "string", "pattern": "^\\d{4}-\\d{2}-\\d{2}$"},
        },
        "required": ["resource", "reason"],
        "additionalProperties": False,
    },
}


class ConfigError(ValueError):
    """The pack config cannot be used; the message is one line naming the problem."""


def config_schema(rule: Rule) -> dict[str, Any]:
    """JSON schema of one policy's config properties (shared with the CrossGuard pack)."""
    return {"type": "object", "properties": {**rule.config, "suppressions": SUPPRESSIONS_SCHEMA},
            "additionalProperties": False}


@dataclass(frozen=True)
class RuleSettings:
    level: Enforcement
    properties: Mapping[str, Any]  # defaults merged with the configured values
    suppressions: tuple[Suppression, ...]


def load_config(path: str | Path, rules: Sequence[Rule]) -> dict[str, Any]:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config {path}: file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config {path}: cannot read ({exc})") from None
    try:
        data = loads_pulumi_numbers(text)
    except NumberError as exc:
        raise ConfigError(f"config {path}: {exc}") from None
    except ValueError as exc:
        raise ConfigError(f"config {path}: not valid JSON ({exc})") from None
    except RecursionError:
        raise ConfigError(f"config {path}: JSON nested too deeply to parse") from None
    validate_config(data, rules, str(path))
    return data


def validate_config(data: Any, rules: Sequence[Rule], source: str = "config") -> None:
    by_name = {r.name: r for r in rules}
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: must be a JSON object of policy names")
    for key, value in data.items():
        where = f"{source}: {key!r}"
        if key != "all" and key not in by_name:
            raise ConfigError(f"{where}: no such policy (known: all, {', '.join(sorted(by_name))})")
        if isinstance(value, str):
            _check_level(value, where)
            continue
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: must be an enforcement level or an object")
        props = {k: v for k, v in value.items() if k != "enforcementLevel"}
        if "enforcementLevel" in value:
            _check_level(value["enforcementLevel"], where)
        if key == "all":
            if props:
                raise ConfigError(f"{where}: only enforcementLevel may be set for all policies")
            continue
        check_properties(by_name[key], props, where)


@functools.lru_cache(maxsize=None)
def _config_test(rule: Rule) -> Callable[[Any], bool]:
    return compile_test(config_schema(rule))


def check_properties(rule: Rule, props: Mapping[str, Any], where: str) -> None:
    """Raise ConfigError (naming `where`) unless `props` are valid properties of `rule`."""
    # The compiled predicate answers the common case (a valid config) without importing
    # jsonschema, which costs a third of a second; jsonschema names the problem otherwise.
    if not _config_test(rule)(dict(props)):
        import jsonschema

        error = jsonschema.exceptions.best_match(
            jsonschema.Draft202012Validator(config_schema(rule)).iter_errors(dict(props)))
        if error is not None:
            at = "/".join(str(p) for p in error.absolute_path)
            raise ConfigError(f"{where}: {at + ': ' if at else ''}{error.message}")
    for name, spec in rule.config.items():
        if spec.get("format") == "regex" and name in props:
            try:
                re.compile(props[name])
            except re.error as exc:
                raise ConfigError(f"{where}: {name}: invalid regular expression ({exc})") from None
    for i, entry in enumerate(props.get("suppressions", [])):
        if "expires" in entry:
            try:
                dt.date.fromisoformat(entry["expires"])
            except ValueError:
                raise ConfigError(f"{where}: suppressions/{i}/expires: "
                                  f"{entry['expires']!r} is not a calendar date") from None


def _check_level(level: Any, where: str) -> None:
    if level not in LEVELS:
        raise ConfigError(f"{where}: enforcement level {level!r} is not one of {', '.join(LEVELS)}")


def level_of(name: str) -> Optional[Enforcement]:
    """Configured level; remediate counts as mandatory, as pulumi-policy does for validations."""
    if name == "remediate":
        return Enforcement.MANDATORY
    return Enforcement(name) if name else None


def settings(rule: Rule, data: Optional[Mapping[str, Any]]) -> RuleSettings:
    """Effective settings of one rule under an already validated config."""
    data = data or {}
    entry = data.get(rule.name, {})
    all_entry = data.get("all", {})
    level = rule.enforcement
    for source in (all_entry, entry):  # a policy's own entry wins over "all"
        if isinstance(source, str):
            level = level_of(source) or level
        elif isinstance(source, Mapping) and "enforcementLevel" in source:
            level = level_of(source["enforcementLevel"]) or level
    props = dict(rule.defaults())
    if isinstance(entry, Mapping):
        props.update({k: v for k, v in entry.items() if k != "enforcementLevel"})
    return RuleSettings(level, props, parse_suppressions(props.get("suppressions")))
