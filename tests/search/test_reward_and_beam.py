"""The latent reward model, its data and beam search: defined behaviour on planted and smoke runs."""

import pytest
import torch

from latentspace.core.errors import LatentspaceError
from latentspace.core.saved import fingerprint
from latentspace.model.samplers import parse_sampler
from latentspace.search import select
from latentspace.search.beam import beam_search
from latentspace.search.reward_model import fit_reward_model, load_reward_model, ranking_loss, LatentRewardModel
from latentspace.search.rollouts import Rollouts, collect_rollouts
from latentspace.train.profiles import get_profile
from latentspace.train.recipes import get_recipe
from latentspace.train.run import TrainRun
from latentspace.train.studies.evaluate_run import load_run, run_items
from latentspace.train.trainer import train


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    profile = get_profile("smoke-mnns")
    root = tmp_path_factory.mktemp("rm")
    for name in ("coconut", "cot2"):
        train(TrainRun(get_recipe(name, **profile.recipe_options[name]), "mnns", profile, root / name), progress=False)
    return root


def planted(questions=40, paths=6, steps=3, width=5, seed=0):
    """Rollouts whose first feature is the prefix's value: a reward model can rank them perfectly."""
    g = torch.Generator().manual_seed(seed)
    values = (torch.rand(questions, paths, steps, generator=g) > 0.5).float()
    features = torch.randn(questions, paths, steps, width, generator=g)
    features[..., 0] = values * 3
    return Rollouts(features, values, torch.ones(questions, paths, steps, dtype=torch.bool))


def test_best_of_n_with_an_oracle_reward_is_pass_at_n():
    roll = planted()
    oracle = lambda f: f[..., 0]  # noqa: E731  (the planted value itself)
    for q in range(roll.questions):
        paths = [{"extracted": str(g), "correct": bool(roll.values[q, g, -1])} for g in range(roll.features.shape[1])]
        features = list(roll.features[q])
        assert select("rm", paths, features, oracle) == select("pass", paths)


def test_groups_whose_paths_agree_teach_nothing_and_a_planted_ranking_is_learnt():
    roll = planted()
    flat = Rollouts(roll.features, torch.ones_like(roll.values), roll.mask)
    loss, groups = ranking_loss(LatentRewardModel(5), flat)
    assert groups == 0 and float(loss.detach()) == 0.0
    model, report = fit_reward_model(roll, epochs=300)
    assert report.groups > 0 and report.held_out_any_path == 1.0 and report.held_out_mean_path < 0.6
    assert report.held_out_best_of_group >= 0.85  # a coin-flip path is right half the time; the ranked pick nearly always
    untrained, before = fit_reward_model(roll, epochs=0)
    assert before.held_out_best_of_group < report.held_out_best_of_group


def test_without_randomness_every_prefix_is_worth_its_paths_outcome(runs):
    loaded = load_run(runs / "coconut")
    items = run_items(runs / "coconut", None, 8, 0)
    roll = collect_rollouts(loaded, items, parse_sampler("noise:0"), paths=2, continuations=2)
    assert roll.features.shape[:3] == roll.values.shape and roll.mask.all()
    assert torch.equal(roll.values, roll.values[:, :, -1:].expand_as(roll.values))
    right = torch.tensor([float(r["correct"]) for r in loaded.evaluate(items).rows])
    assert torch.equal(roll.values[:, 0, -1], right)
    with pytest.raises(LatentspaceError, match="group of paths"):
        collect_rollouts(loaded, items, parse_sampler("noise:0"), paths=1)


def test_a_reward_model_is_refused_on_another_run_naming_both(runs, tmp_path):
    coconut, cot2 = load_run(runs / "coconut"), load_run(runs / "cot2")
    path = LatentRewardModel(2 * coconut.causal_lm.config.hidden_size + 1).save(
        tmp_path / "rm.safetensors", fingerprint(coconut.causal_lm), str(runs / "coconut"))
    model, meta = load_reward_model(path, fingerprint(coconut.causal_lm), str(runs / "coconut"))
    assert meta["run"] == str(runs / "coconut")
    with pytest.raises(LatentspaceError) as err:
        load_reward_model(path, fingerprint(cot2.causal_lm), str(runs / "cot2"))
    assert str(runs / "coconut") in str(err.value) and str(runs / "cot2") in str(err.value)


@pytest.mark.parametrize("name, spec", [("coconut", "noise:2"), ("cot2", "mts:1")])
def test_beam_of_width_one_with_a_constant_reward_is_greedy(runs, name, spec):
    loaded = load_run(runs / name)
    items = run_items(runs / name, None, 10, 0)
    constant = lambda f: torch.zeros(f.shape[0])  # noqa: E731
    beam = beam_search(loaded, items, parse_sampler(spec), constant, width=1, expand=3, seed=1)
    greedy = loaded.evaluate(items).rows
    assert [r["text"] for r in beam] == [r["text"] for r in greedy]
    assert [r["correct"] for r in beam] == [r["correct"] for r in greedy]


def test_beam_follows_the_reward_model_away_from_greedy(runs):
    loaded = load_run(runs / "coconut")
    items = run_items(runs / "coconut", None, 6, 0)
    seen = []

    def farthest(features):  # prefers the candidate whose fed vector is largest: never the unperturbed one
        seen.append(features.shape[0])
        return features[:, features.shape[1] // 2:-1].norm(dim=-1)

    beam = beam_search(loaded, items, parse_sampler("noise:5"), farthest, width=2, expand=3, seed=0)
    assert len(beam) == len(items) and seen[0] == len(items) * 2 * 3 and all(s == len(items) * 2 * 3 for s in seen)
    with pytest.raises(LatentspaceError, match="≥ 1"):
        beam_search(loaded, items, parse_sampler("noise:1"), farthest, width=0)
    with pytest.raises(LatentspaceError, match="fed-back state"):
        beam_search(loaded, items, parse_sampler("mts:2"), farthest)
