"""Every option whose help lists a registry's names lists all of them (from `latentspace.names`), so a
new strategy, press, recipe, task, ... shows in `--help` without editing the command."""

from __future__ import annotations

import re

import pytest
import typer

from latentspace import names
from latentspace.cli.app import app

# (command path, option) -> the names its help must list; a press option is checked wherever it appears
HELPS = {
    ("think", "mode"): names.STRATEGIES,
    ("bench", "strategies"): names.STRATEGIES,
    ("audit", "strategy"): names.STRATEGIES,
    ("audit", "tests"): names.AUDIT_TESTS,
    ("agents", "pipeline"): names.PIPELINES,
    ("agents", "mode"): names.PIPELINE_MODES,
    ("bench", "task"): names.TASKS,
    ("train run", "task"): names.TASKS,
    ("train run", "recipe"): names.RECIPES,
    ("train table", "recipes"): names.RECIPES,
    ("train run", "profile"): names.PROFILES,
    ("train table", "profile"): names.PROFILES,
    ("steer train", "method"): names.STEER_METHODS,
    ("bridge fit", "method"): names.BRIDGE_METHODS,
    ("world plan", "planner"): names.PLANNERS,
    ("world eval", "planner"): names.PLANNERS,
}


def options() -> dict[tuple[str, str], str]:
    """(command path, option name) -> its help, for every command of the app."""
    found = {}

    def walk(command, path=()):
        for param in getattr(command, "params", []):
            found[(" ".join(path), param.name)] = getattr(param, "help", None) or ""
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, (*path, name))

    walk(typer.main.get_command(app))
    return found


def missing(help_text: str, wanted) -> list[str]:
    """Names not in ``help_text`` as whole words (``smoke`` is not found in ``smoke-mnns``)."""
    return [n for n in wanted if not re.search(rf"(?<![\w-]){re.escape(n)}(?![\w-])", help_text)]


@pytest.mark.parametrize("where", sorted(HELPS), ids=" ".join)
def test_the_help_lists_every_name(where):
    helps = options()
    assert where in helps, f"no option {where[1]} on `latentspace {where[0]}`"
    assert missing(helps[where], HELPS[where]) == []


def test_every_press_option_lists_the_presses_a_name_builds():
    presses = {where: text for where, text in options().items() if where[1] == "press"}
    assert {"think", "generate", "memory add"} <= {path for path, _ in presses}
    for where, text in presses.items():
        assert missing(text, names.press_names()) == [], where
        assert [w for w in names.PRESS_WRAPPERS if not missing(text, [w])] == [], where  # not buildable by name


def test_the_word_check_sees_a_missing_name():
    assert missing("smoke-mnns, laptop-mnns", ["smoke", "laptop-mnns"]) == ["smoke"]
