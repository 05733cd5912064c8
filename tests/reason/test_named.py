"""Options by name: wrong types are refused in one line, before a strategy runs on them."""

import math

import pytest

from latentspace.errors import LatentspaceError
from latentspace.reason import get_reasoner


@pytest.mark.parametrize("name, options, needle", [
    ("soft", {"top_k": "ten"}, "whole number"),
    ("soft", {"top_k": 2.5}, "whole number"),
    ("soft", {"top_p": math.nan}, "must be a number"),
    ("soft", {"chat": "yes"}, "true or false"),
    ("soft", {"instruction": 3}, "text"),
    ("pause", {"embedding": 1}, "tensor"),
    ("direct", {"answer_stops": [1, 2]}, "list of text"),
])
def test_wrong_types_are_refused(name, options, needle):
    with pytest.raises(LatentspaceError, match=needle):
        get_reasoner(name, **options)


def test_right_types_pass_and_inf_means_no_limit():
    assert get_reasoner("soft", top_k=3, top_p=0.5, early_stop=None).top_k == 3
    assert get_reasoner("direct", max_norm_ratio=math.inf, answer_stops="END").answer_stops == "END"
    assert get_reasoner("soft", top_p=1).top_p == 1  # an int where a float is asked is fine


def test_every_strategy_and_press_declares_a_range_for_each_number():
    from latentspace.core import named
    from latentspace.agents.as_strategy import PipelineStrategy
    from latentspace.memory.presses import PRESSES
    from latentspace.reason import REGISTRY

    classes = [*REGISTRY.values(), *PRESSES.values(), PipelineStrategy]
    assert {cls.__name__: named.undeclared_numbers(cls) for cls in classes} == {cls.__name__: [] for cls in classes}


@pytest.mark.parametrize("name, options", [
    ("soft", {"top_k": 0}), ("soft", {"top_k": -5}), ("soft", {"top_p": 2}), ("soft", {"top_p": 0}),
    ("soft", {"min_p": -1}), ("soft", {"early_stop": 2}), ("soft", {"max_norm_ratio": -1}),
    ("soft", {"max_latent_steps": 10**6}), ("soft", {"max_new_tokens": 10**9}),
    ("soft", {"lens_k": -1}), ("soft", {"lens_k": 101}),
    ("loop", {"repeats": 1000000}), ("loop", {"alpha": 0}), ("optimize", {"opt_steps": 100000000}),
    ("optimize", {"lr": math.inf}), ("continuous", {"alignment": "sideways"}), ("continuous", {"temperature": 0}),
    ("direct", {"answer_temperature": math.inf}), ("switch", {"max_explicit_steps": 10**7}),
    ("agents:sequential", {"max_new_tokens": 0}),
])
def test_out_of_range_options_are_refused(name, options):
    from latentspace.strategies import get_strategy  # the resolver: reasoners and agent pipelines alike

    key = next(iter(options))
    with pytest.raises(LatentspaceError, match=f"option {key} must be"):
        get_strategy(name, **options)


def test_think_refuses_out_of_range_options_in_one_line(capsys, monkeypatch):
    from tests.cli.test_cli import run_here

    for mode, setting in [("soft", s) for s in ("top_k=0", "top_k=-5", "top_p=2", "min_p=-1", "early_stop=2",
                                                 "max_norm_ratio=-1", "top_k=1e999", "top_p=NaN")] + [
            ("loop", "repeats=1000000"), ("optimize", "opt_steps=100000000")]:
        out = run_here(capsys, monkeypatch, "think", "hi", "-m", "tiny", "--mode", mode, "--set", setting)
        assert out.returncode == 2, (setting, out)
        assert out.stderr.startswith(f"error: strategy {mode!r}: option {setting.split('=')[0]} must be"), out.stderr
        assert len(out.stderr.strip().splitlines()) == 1
    for args in (["--steps", "100000"], ["-n", "100000"], ["--seed", str(2**64)], ["--ratio", "0.5"]):
        out = run_here(capsys, monkeypatch, "think", "hi", "-m", "tiny", *args)
        assert out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1, (args, out)
