"""RL on continuous thoughts: the estimator's defined behaviour, a planted task it must solve, resumption."""

import copy

import pytest
import torch

from latentspace.model.samplers import parse_sampler
from latentspace.tasks import load_jsonl
from latentspace.train.data import encode_examples
from latentspace.train.profiles import get_profile
from latentspace.train.recipes import get_recipe
from latentspace.train.studies.rl import RLConfig, clipped_objective, group_advantages, thought_batch, thought_log_probs, train_rl
from latentspace.train.studies.rl.grpo import Policy, rl_step
from latentspace.train.run import TrainRun
from latentspace.train.run_folder import load_folder
from latentspace.train.trainer import train
from tests.cli.test_cli import one_line_exit_2, run_here


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    profile = get_profile("smoke-mnns")
    root = tmp_path_factory.mktemp("rl")
    for name in ("coconut", "cot2", "cot", "pause", "codi"):
        options = profile.recipe_options.get(name, {})
        train(TrainRun(get_recipe(name, **options), "mnns", profile, root / name), progress=False)
    return root


def setting(runs, name, n=6, group=4):
    folder = load_folder(runs / name / "checkpoint")
    items = load_jsonl(runs / name / "data" / "train.jsonl")[:n]
    items = [item for item in items for _ in range(group)]
    return Policy(folder), items, encode_examples(folder.tokenizer, items)


def test_advantages_and_the_clipped_surrogate_by_hand():
    rewards = torch.tensor([[1.0, 0.0, 0.0, 1.0], [1.0, 1.0, 1.0, 1.0]])
    assert torch.equal(group_advantages(rewards, "none"), torch.tensor([[0.5, -0.5, -0.5, 0.5], [0.0] * 4]))
    assert torch.allclose(group_advantages(rewards), torch.tensor([[1.0, -1.0, -1.0, 1.0], [0.0] * 4]), atol=1e-5)
    ratio, adv = torch.tensor([0.5, 1.5, 1.5, 0.5]), torch.tensor([1.0, 1.0, -1.0, -1.0])
    assert torch.equal(clipped_objective(ratio, adv, 0.2), torch.tensor([0.5, 1.2, -1.5, -0.8]))


@pytest.mark.parametrize("name", ["coconut", "cot2", "pause", "codi"])
def test_the_rescoring_pass_sees_the_states_the_rollout_drew_from(runs, name):
    policy, items, examples = setting(runs, name)
    sampler = parse_sampler("noise:0")
    rows, fed, actions = policy.rollouts(items, examples, sampler, seed=0)
    counts = [r["thoughts"] for r in rows]
    batch = thought_batch(policy.folder.tokenizer, policy.folder.recipe, examples, counts, fed, actions)
    from latentspace.train.studies.rl.policy import slot_means, states_before_slots

    with torch.no_grad():
        means, _ = slot_means(policy.causal_lm, policy.folder.recipe, policy.project,
                              states_before_slots(policy.causal_lm, batch), batch.latent_id)
    assert torch.allclose(means, batch.fed, atol=1e-4)  # one teacher-forced pass = the stepped thoughts


def test_equal_rewards_move_nothing_and_the_ratio_starts_at_one_then_clips(runs):
    policy, items, examples = setting(runs, "coconut")
    module = policy.folder.module
    before = copy.deepcopy(module.state_dict())
    config = RLConfig(sampler="noise:0.5", group=4, updates=3, lr=1e-2)
    optimizer = torch.optim.AdamW(module.parameters(), lr=config.lr, weight_decay=0.0)
    same = lambda rows, actions: torch.ones(len(rows))  # noqa: E731
    rl_step(policy, parse_sampler(config.sampler), config, items, examples, 0, None, optimizer, same)
    assert all(torch.equal(before[k], v) for k, v in module.state_dict().items())
    mixed = lambda rows, actions: torch.arange(len(rows)).remainder(2).float()  # noqa: E731  (each group split)
    record = rl_step(policy, parse_sampler(config.sampler), config, items, examples, 0, None, optimizer, mixed)
    assert record["ratios"][0] == 0.0  # the first step's policy is the rollout policy: ρ = 1 exactly
    assert record["ratios"][-1] > config.clip and record["clipped"][-1] > 0  # moved, and the clip engages
    assert not all(torch.equal(before[k], v) for k, v in module.state_dict().items())


def test_kl_to_the_supervised_model_is_zero_until_the_policy_moves(runs):
    policy, items, examples = setting(runs, "cot2")
    sampler = parse_sampler("mts:2")
    rows, fed, actions = policy.rollouts(items, examples, sampler, seed=1)
    batch = thought_batch(policy.folder.tokenizer, policy.folder.recipe, examples, [r["thoughts"] for r in rows], fed,
                          actions)
    reference = (copy.deepcopy(policy.causal_lm), None)
    _, kl = thought_log_probs(policy.causal_lm, policy.folder.recipe, None, sampler, batch, reference)
    assert torch.allclose(kl, torch.zeros_like(kl), atol=1e-6)
    with torch.no_grad():
        policy.causal_lm.get_output_embeddings().weight.mul_(3.0)
    _, kl = thought_log_probs(policy.causal_lm, policy.folder.recipe, None, sampler, batch, reference)
    assert float(kl.detach().min()) > 0


def test_a_planted_direction_is_learnt(runs):
    """Reward 1 when the first thought leans along a fixed direction: a coin flip at the start, then learnt."""
    policy, items, examples = setting(runs, "coconut", n=8, group=8)
    width = policy.causal_lm.config.hidden_size
    direction = torch.nn.functional.normalize(torch.randn(width, generator=torch.Generator().manual_seed(0)), dim=0)
    _, fed, _ = policy.rollouts(items, examples, parse_sampler("noise:0"), seed=0)
    centre = float(torch.stack([row[0] for row in fed]).mean(0) @ direction)
    leaning = lambda rows, actions: torch.tensor([float(float(a[0] @ direction) > centre) for a in actions])  # noqa: E731
    config = RLConfig(sampler="noise:1", group=8, updates=2, lr=3e-3, scale="none")
    optimizer = torch.optim.Adam(policy.folder.module.parameters(), lr=config.lr)
    sampler = parse_sampler(config.sampler)
    rewards = [rl_step(policy, sampler, config, items, examples, step, None, optimizer, leaning)["reward"]
               for step in range(60)]
    assert 0.3 < rewards[0] < 0.7
    assert max(rewards[-5:]) >= 0.95


def test_an_interrupted_rl_run_resumes_to_the_same_policy(runs, tmp_path):
    config = RLConfig(sampler="noise:0.5", group=2, questions=4, iterations=4, save_every=2, eval_every=2,
                      eval_items=4, lr=1e-3)
    whole = train_rl(runs / "coconut", tmp_path / "whole", config)

    def cut(done, total, record):
        if done == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train_rl(runs / "coconut", tmp_path / "cut", config, progress=cut)
    resumed = train_rl(runs / "coconut", tmp_path / "cut", config)
    a = load_folder(tmp_path / "whole" / "checkpoint").causal_lm.state_dict()
    b = load_folder(tmp_path / "cut" / "checkpoint").causal_lm.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert resumed["curve"] == whole["curve"] and resumed["test_after"] == whole["test_after"]
    on_valid = train_rl(runs / "coconut", tmp_path / "valid", RLConfig(**{**vars(config), "split": "valid"}))
    assert len(on_valid["curve"]) == config.iterations


def test_rl_from_the_command_line(runs, tmp_path, capsys, monkeypatch):
    out = tmp_path / "rl"
    done = run_here(capsys, monkeypatch, "train", "rl", str(runs / "cot2"), "--out", str(out), "--iterations", "2",
                    "--questions", "2", "--group", "2", "--json")
    assert done.returncode == 0, done.stderr
    import json

    summary = json.loads(done.stdout)
    assert summary["config"]["sampler"] == "mts:4" and len(summary["curve"]) == 2
    again = run_here(capsys, monkeypatch, "train", "eval", str(out), "--json")
    assert again.returncode == 0 and json.loads(again.stdout)["accuracy"] == summary["test_after"]
    cases = [(["--group", "1"], "--group"), (["--sampler", "dropout:0.1"], "no tractable"),
             (["--sampler", "gumbel:1"], "no tractable"), (["--iterations", "0"], "--iterations"),
             (["--scale", "max"], "scale"), (["--split", "test"], "split")]
    for extra, message in cases:
        one_line_exit_2(run_here(capsys, monkeypatch, "train", "rl", str(runs / "cot2"), "--out",
                                 str(tmp_path / "bad"), *extra), message)
    one_line_exit_2(run_here(capsys, monkeypatch, "train", "rl", str(runs / "cot"), "--out", str(tmp_path / "bad"),
                             "--sampler", "noise:1"), "no thoughts")
    one_line_exit_2(run_here(capsys, monkeypatch, "train", "rl", str(runs / "coconut"), "--out", str(tmp_path / "bad"),
                             "--sampler", "mts:2"), "not a token mixture")
    one_line_exit_2(run_here(capsys, monkeypatch, "train", "rl", str(runs / "cot2"), "--out", str(out),
                             "--iterations", "2", "--questions", "2", "--group", "2", "--lr", "0.5"), "other settings")
    assert not (tmp_path / "bad" / "checkpoint").exists()
