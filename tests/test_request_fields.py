"""One road for a recall request: every `RecallSpec` field can be set from the command line, HTTP and the editor.

The roads all read `citerec.request.RECALL_SETTINGS`; these tests fail when a
field of `RecallSpec` (or a setting) is missing from one of them. The one field
HTTP may not set per request is listed, with why, in `HTTP_EXEMPT`.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from citerec.cli.common import RecallArgs, command_options, recall_options
from citerec.recall import FusionSettings, RecallSpec
from citerec.request import RECALL_SETTINGS, RecallSetting
from citerec.suggest import SuggestOptions

RANKING_COMMANDS = ("suggest", "eval", "check", "lsp", "serve")  # every command that builds SuggestOptions
# A ranking model is a file on the server's disk: the server's choice (`citerec serve --ranker`), not a client's.
HTTP_EXEMPT = {"ranker"}


def _json_sample(setting: RecallSetting) -> Any:
    """A value, as JSON writes it, that sets the field to something other than its default."""
    default = getattr(RecallSpec(), setting.field)
    if setting.choices is not None:
        written = setting.default()
        return next(member.value for member in setting.choices if member.value != written and member.value != "llm")
    if setting.written is bool:
        return not default
    if setting.written is int:
        return default + 7
    if setting.written is float:
        return default + 0.5
    if setting.written is dict:
        name = next(f.name for f in dataclasses.fields(FusionSettings) if isinstance(getattr(default, f.name), float))
        return {name: getattr(default, name) + 0.5}
    return "elsewhere.json"


def _cli_sample(setting: RecallSetting) -> list[str]:
    """The sample as command-line arguments."""
    value = _json_sample(setting)
    if setting.written is bool:
        value = "on" if value else "off"
    elif setting.written is dict:
        value = ",".join(f"{k}={v}" for k, v in value.items())
    return [f"--{setting.name.replace('_', '-')}", str(value)]


def _expected(setting: RecallSetting) -> Any:
    value = setting.read(_json_sample(setting), RecallSpec(), setting.name)
    assert value != getattr(RecallSpec(), setting.field), f"the sample for {setting.name} changes nothing"
    return value


def test_every_recall_field_has_one_written_setting() -> None:
    fields = [f.name for f in dataclasses.fields(RecallSpec)]
    assert sorted(s.field for s in RECALL_SETTINGS) == sorted(fields)
    assert len({s.name for s in RECALL_SETTINGS}) == len(RECALL_SETTINGS)


def test_every_ranking_command_has_every_recall_option() -> None:
    from citerec.cli import app

    commands = typer.main.get_command(app).commands  # type: ignore[attr-defined]
    for name in RANKING_COMMANDS:
        options = {option for param in commands[name].params for option in param.opts}
        missing = [f"--{s.name.replace('_', '-')}" for s in RECALL_SETTINGS]
        assert [o for o in missing if o not in options] == [], name


@pytest.mark.parametrize("setting", RECALL_SETTINGS, ids=lambda s: s.field)
def test_the_command_line_sets_the_field(setting: RecallSetting) -> None:
    made: list[SuggestOptions] = []
    probe = typer.Typer()

    @probe.command()
    @recall_options
    def rank(top: int = 5, *, recall: RecallArgs) -> None:
        made.append(command_options(recall, top_n=top))

    result = CliRunner().invoke(probe, ["--top", "3", *_cli_sample(setting)])
    assert result.exit_code == 0, result.output
    assert made[0].top_n == 3
    assert getattr(made[0].recall, setting.field) == _expected(setting)


@pytest.mark.parametrize("setting", RECALL_SETTINGS, ids=lambda s: s.field)
def test_http_sets_the_field_per_request(setting: RecallSetting) -> None:
    from citerec.serve.schemas import SuggestRequest

    if setting.field in HTTP_EXEMPT:
        assert not setting.per_request and setting.name not in SuggestRequest.model_fields
        return
    body = SuggestRequest(text="a passage", **{setting.name: _json_sample(setting)})
    options = SuggestOptions(top_n=2).with_settings(body.settings())
    assert getattr(options.recall, setting.field) == _expected(setting)


@pytest.mark.parametrize("setting", RECALL_SETTINGS, ids=lambda s: s.field)
def test_the_editor_settings_set_the_field(setting: RecallSetting) -> None:
    from citerec.lsp.settings import EditorSettings

    settings, problem = EditorSettings().configured({setting.name: _json_sample(setting)})
    assert problem is None
    assert settings.options is not None and getattr(settings.options.recall, setting.field) == _expected(setting)


def test_the_editor_keeps_the_command_line_settings_when_its_own_cannot_be_read() -> None:
    from citerec.lsp.settings import EditorSettings

    given = EditorSettings(options=SuggestOptions(rerank="off", recall=RecallSpec(plan="window")))
    for bad in ({"plan": "sideways"}, {"fusion": {"nonsense": 1}}, {"no_such_setting": 1}, ["plan"]):
        settings, problem = given.configured(bad)
        assert settings is given and problem
    assert "plan must be one of auto, passage, window, learned" in given.configured({"plan": "sideways"})[1]


def test_the_editor_sets_how_many_keys_a_judge_reads() -> None:
    from citerec.lsp.settings import EditorSettings

    given = EditorSettings(options=SuggestOptions(rerank="off"), judged_items=20)
    settings, problem = given.configured({"judged_items": 8, "plan": "window"})
    assert problem is None and settings.judged_items == 8 and settings.options.recall.plan == "window"
    for bad in (0, -3, "ten", 2.5, True):
        settings, problem = given.configured({"judged_items": bad})
        assert settings is given and "judged_items must be a whole number of at least 1" in problem


def test_the_lsp_command_takes_judged_items() -> None:
    from typer.testing import CliRunner

    from citerec.cli import app

    result = CliRunner().invoke(app, ["lsp", "--judged-items", "0"])
    assert result.exit_code == 2 and "--judged-items" in result.output


def test_http_takes_the_learned_plan_and_refuses_unknown_values() -> None:
    from pydantic import ValidationError

    from citerec.serve.schemas import SuggestRequest

    assert SuggestRequest(text="x", plan="learned", draft_evidence=False).settings() == {
        "plan": "learned",
        "draft_evidence": False,
    }
    for bad in ({"plan": "sideways"}, {"recall_k": 0}, {"ranker": "/etc/passwd"}):
        with pytest.raises(ValidationError):
            SuggestRequest(text="x", **bad)


def test_options_are_written_flat_and_read_back_by_the_same_names() -> None:
    options = SuggestOptions.of(rerank="off", recall_k=20, plan="window", draft_evidence=False, expand="prf")
    assert options.recall == RecallSpec(k=20, plan="window", draft_evidence=False, feedback=True)
    written = options.to_json()
    assert "recall" not in written
    assert (written["recall_k"], written["plan"], written["draft_evidence"], written["expand"]) == (
        20,
        "window",
        False,
        "prf",
    )
    assert written["fusion"] == dataclasses.asdict(FusionSettings())
    assert SuggestOptions(rerank="off").with_settings({k: written[k] for k in ("recall_k", "plan")}).recall.k == 20


def test_the_evidence_decision_lives_on_the_spec() -> None:
    assert RecallSpec().uses_evidence
    assert not RecallSpec(draft_evidence=False).uses_evidence
    assert not RecallSpec(plan="learned", draft_evidence=False).uses_evidence
    assert not RecallSpec(method="bm25").uses_evidence
    assert not RecallSpec(plan="window").uses_evidence
