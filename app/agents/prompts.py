"""The MAGI prompts and dispositions, read from ``prompts/magi.yaml`` and checked at start-up."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import yaml

from .config import ConfigError

PROMPTS_PATH = Path(__file__).resolve().parent / "prompts" / "magi.yaml"
SAGE_IDS = ("caspar", "balthasar", "melchior")
JUDGE_ID = "solomon"
# Placeholders each template must carry (so a data edit cannot silently drop what the code fills in).
TEMPLATE_FIELDS = {
    "judge.request": ("{question}", "{decision}", "{approved}", "{rejected}", "{failed}", "{score}", "{votes}"),
    "messages.noQuorum": ("{quorum}",),
    "messages.voteOnly": ("{decision}", "{approved}", "{rejected}"),
    "history": ("{turns}",),
}


@dataclass(frozen=True)
class Sage:
    id: str
    name: str
    disposition: str
    prompt: str


@dataclass(frozen=True)
class MagiPrompts:
    sages: tuple[Sage, ...]
    vote_format: str
    judge_prompt: str
    judge_format: str
    judge_request: str
    quorum: int
    sage_timeout: float
    judge_timeout: float
    no_quorum: str
    blocked: str
    vote_only: str
    history: str

    def sage_system_prompt(self, sage: Sage) -> str:
        return f"{sage.prompt.strip()}\n\n{self.vote_format.strip()}"

    def judge_system_prompt(self) -> str:
        return f"{self.judge_prompt.strip()}\n\n{self.judge_format.strip()}"


def _fail(path: Path, key: str, message: str) -> ConfigError:
    return ConfigError(f"error: {path.name}: {key} {message}")


def _text(path: Path, raw: Mapping[str, Any], key: str, where: str = "") -> str:
    value = raw.get(key) if isinstance(raw, Mapping) else None
    if not isinstance(value, str) or not value.strip():
        raise _fail(path, f"{where}{key}", "must be non-empty text")
    return value


def _seconds(path: Path, raw: Mapping[str, Any], key: str) -> float:
    value = raw.get(key) if isinstance(raw, Mapping) else None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 600:
        raise _fail(path, f"timeouts.{key}", f"must be a number of seconds above 0 and at most 600, got {value!r}")
    return float(value)


def _sage(path: Path, raw: Any, i: int) -> Sage:
    where = f"sages[{i}]."
    if not isinstance(raw, Mapping):
        raise _fail(path, f"sages[{i}]", "must be a mapping with id, name, disposition and prompt")
    return Sage(id=_text(path, raw, "id", where), name=_text(path, raw, "name", where),
                disposition=_text(path, raw, "disposition", where), prompt=_text(path, raw, "prompt", where))


def load_prompts(path: Path = PROMPTS_PATH) -> MagiPrompts:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"error: {path} not found (the MAGI prompts ship with the agent)") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"error: {path.name} is not valid YAML: {str(exc).splitlines()[0]}") from None
    if not isinstance(raw, Mapping):
        raise _fail(path, "document", "must be a mapping")
    sages_raw = raw.get("sages")
    if not isinstance(sages_raw, list):
        raise _fail(path, "sages", "must be a list")
    sages = tuple(_sage(path, s, i) for i, s in enumerate(sages_raw))
    if tuple(s.id for s in sages) != SAGE_IDS:
        raise _fail(path, "sages", f"must be {', '.join(SAGE_IDS)} in this order, got {', '.join(s.id for s in sages)}")
    judge = raw.get("judge") or {}
    if not isinstance(judge, Mapping) or judge.get("id") != JUDGE_ID:
        raise _fail(path, "judge.id", f"must be {JUDGE_ID}")
    quorum = raw.get("quorum")
    if isinstance(quorum, bool) or not isinstance(quorum, int) or not 1 <= quorum <= len(SAGE_IDS):
        raise _fail(path, "quorum", f"must be a whole number from 1 to {len(SAGE_IDS)}, got {quorum!r}")
    timeouts = raw.get("timeouts") or {}
    messages = raw.get("messages") or {}
    prompts = MagiPrompts(
        sages=sages,
        vote_format=_text(path, raw, "voteFormat"),
        judge_prompt=_text(path, judge, "prompt", "judge."),
        judge_format=_text(path, judge, "answerFormat", "judge."),
        judge_request=_text(path, judge, "request", "judge."),
        quorum=quorum,
        sage_timeout=_seconds(path, timeouts, "sageSeconds"),
        judge_timeout=_seconds(path, timeouts, "judgeSeconds"),
        no_quorum=_text(path, messages, "noQuorum", "messages."),
        blocked=_text(path, messages, "blocked", "messages."),
        vote_only=_text(path, messages, "voteOnly", "messages."),
        history=_text(path, raw, "history"),
    )
    templates = {"judge.request": prompts.judge_request, "messages.noQuorum": prompts.no_quorum,
                 "messages.voteOnly": prompts.vote_only, "history": prompts.history}
    for key, fields in TEMPLATE_FIELDS.items():
        missing = [f for f in fields if f not in templates[key]]
        if missing:
            raise _fail(path, key, f"must contain {', '.join(missing)}")
    return prompts
