"""The prompt templates are checked when a run starts: a broken one is one line naming its
file and exit code 2, not a traceback in the middle of the run."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from agentsim.cli import main
from agentsim.llm.prompt_check import PromptTemplateError, check_prompts
from agentsim.llm.prompts import PromptLibrary
from agentsim.resources import prompts_dir

SMALLVILLE = str(Path(__file__).resolve().parent.parent / "worlds" / "smallville")


@pytest.fixture
def prompts(tmp_path, monkeypatch):
    """A copy of the bundled templates that every PromptLibrary of the test uses."""
    d = tmp_path / "prompts"
    shutil.copytree(prompts_dir(), d)
    monkeypatch.setattr("agentsim.llm.prompts.prompts_dir", lambda: d)
    return d


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_the_bundled_templates_pass():
    check_prompts(PromptLibrary())


def _run_fails_with_one_line(tmp_path: Path, *needles: str) -> None:
    out = tmp_path / "runs"
    r = CliRunner().invoke(main, ["run", SMALLVILLE, "--headless", "--hours", "1",
                                  "--embedder", "hash", "--out", str(out)],
                           catch_exceptions=False)
    assert r.exit_code == 2, r.output
    lines = [x for x in r.output.splitlines() if x.strip()]
    assert len(lines) == 1 and "Traceback" not in r.output, r.output
    assert lines[0].startswith("agentsim: error: ")
    for n in needles:
        assert n in lines[0], lines[0]
    assert not list(out.glob("*/manifest.json"))  # no run was left behind


def test_a_syntax_error_stops_the_run_before_it_starts(prompts, tmp_path):
    _edit(prompts / "reflect_insights.j2", "{%", "{% iff")
    _run_fails_with_one_line(tmp_path, "reflect_insights.j2:", "syntax")


def test_an_unknown_variable_names_the_file_and_the_variable(prompts, tmp_path):
    _edit(prompts / "day_plan.j2", "[user]", "[user]\nMood: {{ moood }}")
    _run_fails_with_one_line(tmp_path, "day_plan.j2", "'moood'")


def test_a_variable_the_call_does_not_pass_is_caught_where_the_call_is_known(prompts):
    # `now` is passed to other templates, but the importance call spells out its variables
    _edit(prompts / "importance.j2", "[user]", "[user]\nAt {{ now }}")
    with pytest.raises(PromptTemplateError, match=r"importance\.j2: .*'now'"):
        check_prompts(PromptLibrary())


def test_a_missing_include_or_template_is_named(prompts):
    _edit(prompts / "react.j2", "_persona.j2", "_persona2.j2")
    with pytest.raises(PromptTemplateError, match=r"react\.j2: includes _persona2\.j2"):
        check_prompts(PromptLibrary())
    _edit(prompts / "react.j2", "_persona2.j2", "_persona.j2")
    (prompts / "react.j2").unlink()
    with pytest.raises(PromptTemplateError, match=r"no prompt template react\.j2"):
        check_prompts(PromptLibrary())


def test_optional_and_local_names_are_no_unknown_variables(prompts):
    _edit(prompts / "day_plan.j2", "[user]", "[user]\n{% if mood is defined %}{{ mood }}"
          "{% endif %}{% set n = 3 %}{{ n }}{% for x in [1] %}{{ x }}{% endfor %}")
    check_prompts(PromptLibrary())


def test_a_template_that_is_not_utf8_is_named(prompts):
    (prompts / "replan.j2").write_bytes(b"[user]\n\xff\xfe bad")
    with pytest.raises(PromptTemplateError, match=r"replan\.j2: not UTF-8"):
        check_prompts(PromptLibrary())
