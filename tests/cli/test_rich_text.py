"""Text that is not ours to style prints as it is: rich reads square brackets as markup, so
`pip install -e '.[gemma]'` lost its `[gemma]` in the tour and a `[bold]` in a question vanished."""

from __future__ import annotations

import importlib
from types import SimpleNamespace

import pytest

from latentspace.cli import common
from latentspace.trace import Step, Trace
from tests.cli.test_cli import run_here

INSTALL = "pip install -e '.[gemma]'"
QUESTION = "What does [bold]x[/bold] mean, and [red]why[/red]? :cat:"


@pytest.fixture
def wide(monkeypatch):
    """The shared console, wide enough that no line of these tests wraps."""
    monkeypatch.setattr(common.console, "width", 400)


def test_literal_and_say_keep_brackets_and_emoji_codes(capsys, wide):
    common.say(INSTALL)
    common.say(QUESTION)
    common.console.print(f"[dim]{common.literal(INSTALL)}[/dim] {common.literal(QUESTION)}")
    assert capsys.readouterr().out.splitlines() == [INSTALL, QUESTION, f"{INSTALL} {QUESTION}"]


def test_the_tour_prints_the_bridge_sections_install_line_whole(capsys, wide, monkeypatch, tmp_path):
    from latentspace.cli.tour import _show

    section = importlib.import_module("latentspace.tour.sections.bridge")  # the package names its function `bridge`
    monkeypatch.setattr(section, "partner_name", lambda lm: None)  # as without the gemma extra
    result = section.bridge(SimpleNamespace(name="smollm2-135m"), tmp_path)
    assert INSTALL in result.summary
    result.title, result.rows = f"{result.title} [bold]", [{"[b]": "[red]x", "n": 1}]
    _show(result)
    out = capsys.readouterr().out
    assert INSTALL in out and "Cross-model bridge [bold]" in out and "[b]" in out and "[red]x" in out


def test_think_prints_a_bracketed_answer_and_tokens_as_they_are(capsys, monkeypatch, wide):
    """An answer that echoes the question (and a token ``[bold]``) through `think --show`."""
    import latentspace.strategies

    class Echo:
        def run(self, lm, question, seed=0):
            steps = [Step("explicit", token="[bold]", top=[("[red]", 0.5)]), Step("explicit", token=":cat:")]
            return Trace(prompt=question, strategy="echo [x]", model=lm.name, text=f"You asked: {question}",
                         steps=steps, stop_reason="stop string '[/]'")

    monkeypatch.setattr(latentspace.strategies, "get_strategy", lambda name, **options: Echo())
    out = run_here(capsys, monkeypatch, "think", QUESTION, "-m", "tiny", "--show")
    assert out.returncode == 0, out.stderr
    assert f"You asked: {QUESTION}" in out.stdout.splitlines()
    assert "'[bold]'" in out.stdout and "'[red]' 0.50" in out.stdout and "':cat:'" in out.stdout
    assert "echo [x]" in out.stdout and "stop string '[/]'" in out.stdout


def test_a_trace_table_shows_its_tokens_as_they_are():
    from rich.console import Console

    console = Console(record=True, width=200, emoji=False)
    console.print(Trace(prompt="q", strategy="s [bold]", steps=[Step("latent", top=[("[i]", 0.9)])]).table())
    text = console.export_text()
    assert "s [bold]" in text and "'[i]' 0.90" in text
