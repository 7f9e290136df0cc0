"""How a recall request is written outside Python: one entry per `RecallSpec` field.

The command line (`citerec.cli.common.recall_options`), HTTP
(`citerec.serve.schemas.SuggestRequest`) and the editor's initializationOptions
(`citerec.lsp.settings`) all take their recall settings from `RECALL_SETTINGS`
(name, help, choices) and read what was written with `recall_from`, through
`SuggestOptions.with_settings`. A new `RecallSpec` field therefore needs one
entry here to be settable everywhere; tests/test_request_fields.py fails until
it has one.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from citerec.choices import Expansion, Method, Plan, StrEnum, check_choice
from citerec.errors import CiterecError
from citerec.recall.spec import FusionSettings, RecallSpec

Label = Callable[[str], str]  # how a setting's name is shown in an error: "--plan" on the command line, "plan" in JSON


def as_written(name: str) -> str:
    return name


def as_option(name: str) -> str:
    """A setting's name as a command-line option: `recall_k` → `--recall-k`."""
    return "--" + name.replace("_", "-")


def _on_off(value: Any, label: str) -> bool:
    """A switch written as a JSON bool or as on|off (the command line's form)."""
    if isinstance(value, bool):
        return value
    if value not in ("on", "off"):
        raise CiterecError(f"{label} must be on or off, not {value!r}")
    return value == "on"


def _count(value: Any, label: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise CiterecError(f"{label} must be a whole number of at least 1, not {value!r}")
    return value


def _number(value: Any, label: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise CiterecError(f"{label} must be a number, not {value!r}")
    return float(value)


def _fusion(value: Any, base: FusionSettings, label: str) -> FusionSettings:
    """`FusionSettings`, or some of its fields by name (values as JSON or as command-line text), over `base`."""
    if isinstance(value, FusionSettings):
        return value
    if not isinstance(value, Mapping):
        raise CiterecError(f"{label} must be an object of fusion settings, not {value!r}")
    fields = {f.name for f in dataclasses.fields(FusionSettings)}
    changes: dict[str, Any] = {}
    for name, given in value.items():
        if name not in fields:
            raise CiterecError(f"{label}: unknown setting {name!r} (one of {', '.join(sorted(fields))})")
        kind = type(getattr(base, name))
        try:
            changes[name] = kind(given)
        except (TypeError, ValueError):
            raise CiterecError(f"{label}: {name} must be a {kind.__name__}, not {given!r}") from None
    try:
        return dataclasses.replace(base, **changes)
    except ValueError as exc:
        raise CiterecError(f"{label}: {exc}") from None


@dataclass(frozen=True)
class RecallSetting:
    """One `RecallSpec` field as written: `name` in JSON (HTTP, the editor), `--name` (dashed) on the command line.

    `written` is what a request writes (str, int, float, bool or dict); `choices` the values a str may take;
    `per_request` whether one HTTP request may set it (otherwise only `citerec serve` does, for all).
    """

    field: str
    name: str
    help: str
    written: type
    choices: type[StrEnum] | None = None
    per_request: bool = True

    def default(self) -> Any:
        """The value written when nothing is: the spec's default in its written form."""
        value = getattr(RecallSpec(), self.field)
        if self.field == "feedback":
            return Expansion.PRF.value if value else Expansion.NONE.value
        return None if self.written is dict else value

    def read(self, value: Any, base: RecallSpec, label: str) -> Any:
        """The field's value from what was written, or a `CiterecError` naming `label`."""
        if self.choices is not None:
            check_choice(self.choices, value, label, CiterecError)
            return value == Expansion.PRF if self.field == "feedback" else str(value)
        if self.written is bool:
            return _on_off(value, label)
        if self.written is int:
            return _count(value, label)
        if self.written is float:
            return _number(value, label)
        if self.written is dict:
            return _fusion(value, base.fusion, label)
        return str(value)


RECALL_SETTINGS: tuple[RecallSetting, ...] = (
    RecallSetting("method", "method", "Recall method: hybrid (BM25 and dense, fused), bm25 or dense.", str, Method),
    RecallSetting("k", "recall_k", "Candidates recalled (and reranked) per passage.", int),
    RecallSetting(
        "plan",
        "plan",
        "How passages are read: auto (with the draft evidence on: the learned ranking; off: a draft citing 30+ "
        "library papers reads them by their window when that finds its own citations clearly more often), passage "
        "(own sentence, window and wider window), window, or learned (both combined by the shipped ranking model).",
        str,
        Plan,
    ),
    RecallSetting(
        "feedback",
        "expand",
        "Query expansion: none, prf (RM3 terms for BM25, Rocchio for dense: pseudo-relevance feedback, the added "
        "terms come back) or llm (rewrite by a chat endpoint, --expand-url and --expand-model).",
        str,
        Expansion,
    ),
    RecallSetting(
        "fusion",
        "fusion",
        "How readings and lists are merged: fields of FusionSettings by name (e.g. topic_weight=0.5, fusion=rrf, "
        "rrf_k=60); the rest keep their measured defaults.",
        dict,
    ),
    RecallSetting(
        "draft_evidence",
        "draft_evidence",
        "on (default): what the draft cites in its other passages counts (nearby citations, how the draft "
        "describes each paper, papers it cites that recall missed) and the sentences `library learn` kept from "
        "your other drafts, combined with the readings by the shipped ranking model; off: none of it (the plan "
        "switch decides).",
        bool,
    ),
    # A model file on the server's disk is the server's choice, not a client's: HTTP takes it from `serve --ranker`.
    RecallSetting(
        "ranker",
        "ranker",
        "A ranking model file (citerec train ranker) instead of the shipped one.",
        str,
        per_request=False,
    ),
)
RECALL_NAMES = frozenset(setting.name for setting in RECALL_SETTINGS)


def recall_from(written: Mapping[str, Any], base: RecallSpec, label: Label = as_written) -> RecallSpec:
    """`base` with the recall settings `written` by name (None: not written); other names are left alone."""
    changes = {
        setting.field: setting.read(written[setting.name], base, label(setting.name))
        for setting in RECALL_SETTINGS
        if written.get(setting.name) is not None
    }
    return dataclasses.replace(base, **changes) if changes else base
