"""The light name lists (`latentspace.names`) are the registries' names, and load no torch."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

from latentspace import names

# light list -> (module, attribute) of the registry it mirrors
MIRRORS = {
    "STRATEGIES": ("latentspace.reason", "REGISTRY"),
    "PIPELINES": ("latentspace.agents.pipelines", "BUILTIN"),
    "PIPELINE_MODES": ("latentspace.agents.pipelines", "MODES"),
    "PRESSES": ("latentspace.memory.presses", "PRESSES"),
    "RECIPES": ("latentspace.train.recipes", "RECIPES"),
    "PROFILES": ("latentspace.train.profiles", "PROFILES"),
    "TASKS": ("latentspace.tasks", "TASKS"),
    "STEER_METHODS": ("latentspace.steer.methods", "METHODS"),
    "BRIDGE_METHODS": ("latentspace.bridge.fit", "METHODS"),
    "AUDIT_TESTS": ("latentspace.audit.run", "TESTS"),
    "PLANNERS": ("latentspace.world.planning", "METHODS"),
    "SAMPLERS": ("latentspace.model.samplers", "SAMPLERS"),
    "SELECTORS": ("latentspace.search", "SELECTORS"),
}


def shipped(registry) -> list[str]:
    """The names the package registers: a class other tests register (defined in a test module) is left out."""
    if not isinstance(registry, dict):
        return list(registry)
    return [name for name, value in registry.items()
            if not isinstance(value, type) or value.__module__.startswith("latentspace.")]


@pytest.mark.parametrize("light", sorted(MIRRORS))
def test_each_light_list_is_its_registrys_names(light):
    module, attribute = MIRRORS[light]
    registry = shipped(getattr(importlib.import_module(module), attribute))
    listed = getattr(names, light)
    assert isinstance(listed, tuple) and all(isinstance(n, str) for n in listed)
    assert len(set(listed)) == len(listed), f"names.{light} lists a name twice"
    assert sorted(listed) == sorted(registry), f"names.{light} has drifted from {module}.{attribute}"


def test_every_list_is_mirrored():
    tuples = {k for k, v in vars(names).items() if k.isupper() and isinstance(v, tuple)}
    assert tuples == set(MIRRORS) | {"PRESS_WRAPPERS"}


def test_the_press_wrappers_are_the_presses_a_name_alone_cannot_build():
    from latentspace.errors import LatentspaceError
    from latentspace.memory.presses import get_press

    for name in names.PRESSES:
        if name in names.PRESS_WRAPPERS:
            with pytest.raises(LatentspaceError, match="needs"):
                get_press(name, 0.5)
        else:
            assert get_press(name, 0.5).name == name
    assert names.press_names() == tuple(n for n in names.PRESSES if n not in names.PRESS_WRAPPERS)


def test_listed_reads_as_a_sentence():
    assert names.listed(("a",)) == "a"
    assert names.listed(("a", "b", "c")) == "a, b or c"
    assert names.listed(("a", "b"), last="and") == "a and b"


def test_the_names_load_no_torch():
    code = ("import sys, latentspace.names\n"
            "print(sorted(m for m in ('torch', 'numpy', 'transformers') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
