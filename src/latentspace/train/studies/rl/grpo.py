"""The group-relative policy-gradient loop over a trained run's thoughts.

Each iteration draws ``questions`` training questions, ``group`` rollouts each (the thoughts sampled,
the answer read greedily as at test time), rewards 1 for an exactly right answer, and the advantage
of a rollout is its reward minus its group's mean (divided by the group's spread with ``scale=std``,
GRPO; ``none`` keeps the raw difference, as RLOO / Dr. GRPO). The log-probabilities of the drawn
thoughts under the rollout policy are kept; then ``updates`` optimizer steps each maximise the
clipped surrogate ``min(ρA, clip(ρ, 1-ε, 1+ε)A)`` with ``ρ`` the ratio of the current policy to the
rollout one — one ratio per independent part of a thought (each of MTS's K tokens; noise: the whole
draw), as GRPO takes one per token; exactly 1 at the first step, moving (and clipped) after it — minus ``kl`` times the
KL to the supervised model. Weight decay is off: a group whose rewards are all equal moves nothing.
The model stays in eval mode (no dropout) so a rollout and its re-scoring are the same function.
"""

from __future__ import annotations

import dataclasses
import random
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import torch

from latentspace.core import named, step_checkpoint
from latentspace.core.errors import LatentspaceError
from latentspace.core.finite import check_loss
from latentspace.core.named import above, between
from latentspace.model.samplers import parse_sampler
from latentspace.tasks import load_jsonl
from latentspace.train.data import encode_examples
from latentspace.train.evaluate import evaluate
from latentspace.train.studies.rl.policy import thought_batch, thought_log_prob_parts


@dataclass
class RLConfig:
    sampler: str = "noise:0.3"  # the policy's randomness: noise:SIGMA (fed-back thoughts) or mts:K (cot2)
    group: int = 8  # rollouts per question
    questions: int = 32  # questions per iteration
    iterations: int = 100
    updates: int = 2  # optimizer steps on one batch of rollouts (the ratio is 1 only at the first)
    clip: float = 0.2  # ε of the clipped ratio
    lr: float = 1e-4
    kl: float = 0.0  # weight of the KL to the supervised model
    scale: str = "std"  # advantages divided by the group's standard deviation (GRPO), or "none"
    eval_every: int = 10  # iterations between greedy validation scores
    eval_items: int = 300
    save_every: int = 10
    seed: int = 0
    # where RL's questions come from: "train", or "valid" (multisets disjoint from the test's; for a model
    # that answers every training question right, RL on those has no signal). The curve is scored on the other
    split: str = "train"

    RANGES: ClassVar[dict] = {"group": between(2, 4096), "questions": between(1, 65536),
                              "iterations": between(1, 10_000_000), "updates": between(1, 64), "clip": above(0, 10),
                              "lr": above(0, 1), "kl": between(0, 1e6), "eval_every": between(1, 10**9),
                              "eval_items": between(1, 10**7), "save_every": between(1, 10**9),
                              "seed": between(0, 2**63 - 1)}
    CHOICES: ClassVar[dict] = {"scale": ("std", "none"), "split": ("train", "valid")}


def group_advantages(rewards: torch.Tensor, scale: str = "std") -> torch.Tensor:
    """``[Q, G]`` rewards -> advantages: minus the group mean, over the group's std (``std``; 0 where the
    group agrees)."""
    centred = rewards - rewards.mean(1, keepdim=True)
    if scale == "none":
        return centred
    return centred / (rewards.std(1, keepdim=True, unbiased=False) + 1e-6)


def clipped_objective(ratio: torch.Tensor, advantage: torch.Tensor, clip: float) -> torch.Tensor:
    """PPO's pessimistic surrogate per rollout (to be maximised)."""
    return torch.minimum(ratio * advantage, ratio.clamp(1 - clip, 1 + clip) * advantage)


@dataclass
class Policy:
    """A run's model as RL moves it: the recipe's module (CODI: with its projector) and how it is asked."""

    folder: object  # train.run_folder.ModelFolder

    @property
    def causal_lm(self):
        return self.folder.causal_lm

    @property
    def project(self):
        return self.folder.project

    def rollouts(self, items, examples, sampler, seed: int, batch_size: int = 256):
        """(rows, fed vectors per row and thought, sampler actions per row and thought)."""
        fed, actions = {}, {}

        def seen(i, state, vectors, rows):
            for offset, row in enumerate(rows):
                fed.setdefault(row, []).append(vectors[offset].detach())

        def drawn(i, draw, rows):
            for offset, row in enumerate(rows):
                actions.setdefault(row, []).append(draw.action[offset].detach())

        result = evaluate(self.causal_lm, self.folder.tokenizer, self.folder.recipe, items, examples,
                          self.folder.state.stage, batch_size, project=self.project, seed=seed, sampler=sampler,
                          observe=seen, drawn=drawn)
        return result.rows, [fed.get(r, []) for r in range(len(items))], [actions.get(r, []) for r in range(len(items))]

    def accuracy(self, items, examples, batch_size: int = 256) -> float:
        return evaluate(self.causal_lm, self.folder.tokenizer, self.folder.recipe, items, examples,
                        self.folder.state.stage, batch_size, project=self.project).accuracy


def rl_step(policy: Policy, sampler, config: RLConfig, items, examples, seed: int, reference=None,
            optimizer=None, reward=None) -> dict:
    """One iteration on ``items`` (already repeated ``group`` times, group-major): rollouts, advantages,
    ``updates`` clipped steps. Returns its record."""
    rows, fed, actions = policy.rollouts(items, examples, sampler, seed)
    counts = [row["thoughts"] for row in rows]
    if not any(counts):
        raise LatentspaceError("these questions get no thoughts from this run: RL on thoughts has nothing to move")
    rewards = reward(rows, actions) if reward is not None else torch.tensor([float(r["correct"]) for r in rows])
    advantage = group_advantages(rewards.view(-1, config.group), config.scale).flatten()
    batch = thought_batch(policy.folder.tokenizer, policy.folder.recipe, examples, counts, fed, actions)
    recipe, module = policy.folder.recipe, policy.folder.module
    with torch.no_grad():
        old, row_of, _ = thought_log_prob_parts(policy.causal_lm, recipe, policy.project, sampler, batch)
    per_part = advantage[row_of][:, None].expand_as(old)  # every part of a thought carries its rollout's advantage
    grouped = rewards.view(-1, config.group)
    record = {"reward": float(rewards.mean()), "ratios": [], "clipped": [], "kl": [],
              "informative": float((grouped.amax(1) != grouped.amin(1)).float().mean())}  # groups with a signal
    for _ in range(config.updates):
        logp, _, kl = thought_log_prob_parts(policy.causal_lm, recipe, policy.project, sampler, batch, reference)
        ratio = torch.exp(logp - old)  # one ratio per part (per drawn token for MTS), as GRPO takes one per token
        objective = clipped_objective(ratio, per_part, config.clip).mean()
        loss = -objective + (config.kl * kl.mean() if kl is not None else 0.0)
        check_loss(loss, len(record["ratios"]), "RL on thoughts")
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        record["ratios"].append(float((ratio.detach() - 1).abs().max()))
        record["clipped"].append(float(((ratio.detach() - 1).abs() > config.clip).float().mean()))
        record["kl"].append(float(kl.detach().mean()) if kl is not None else 0.0)
    del module
    return record


def check_config(config: RLConfig) -> None:
    named.check_options(RLConfig, dataclasses.asdict(config), "RL on thoughts")
    sampler = parse_sampler(config.sampler)
    if not sampler.scored:
        raise LatentspaceError(f"the {sampler.name} sampler has no tractable log-probability; RL samples with "
                               "noise:SIGMA or mts:K")


def train_rl(run_dir: Path, out: Path, config: RLConfig | None = None, reward=None, progress=None) -> dict:
    """RL on ``run_dir``'s thoughts into ``out`` (a run folder `train eval` reads; resumable)."""
    from latentspace.train.studies.rl.folder import export_run, read_policy, write_policy, write_summary
    from latentspace.train.run_folder import load_folder
    from latentspace.train.studies.best import model_folder

    config = config or RLConfig()
    check_config(config)
    sampler = parse_sampler(config.sampler)
    folder = load_folder(model_folder(run_dir))
    if sampler.needs_logits and not folder.recipe.mixes_tokens:
        raise LatentspaceError(f"a {folder.recipe.name} thought is a fed-back state, not a token mixture: "
                               f"{sampler.name} cannot sample it (use noise:SIGMA)")
    policy = Policy(folder)
    source_fingerprint = _fingerprint(folder.causal_lm)
    scored = "valid" if config.split == "train" else "train"  # the curve is read on the split RL does not see
    train_items = load_jsonl(run_dir / "data" / f"{config.split}.jsonl")
    valid_items = load_jsonl(run_dir / "data" / f"{scored}.jsonl")[:config.eval_items]
    tokenizer = folder.tokenizer
    train_examples, valid_examples = encode_examples(tokenizer, train_items), encode_examples(tokenizer, valid_items)
    if not any(folder.recipe.thoughts_at(ex, folder.state.stage) for ex in train_examples[:64]):
        raise LatentspaceError(f"a {folder.recipe.name} run has no thoughts to sample: RL on thoughts needs coconut, "
                               "cot2, codi or pause")
    reference = None
    if config.kl > 0:
        import copy

        reference = (copy.deepcopy(folder.causal_lm).eval(), copy.deepcopy(folder.project))
    optimizer = torch.optim.AdamW(folder.module.parameters(), lr=config.lr, weight_decay=0.0)
    picker = random.Random(config.seed)
    generators = step_checkpoint.Generators(python=picker)
    resumed = step_checkpoint.resume(out / "rl", optimizer, generators,
                                     lambda f: read_policy(f, folder.module, source_fingerprint, config, run_dir))
    history = resumed.history
    start = policy.accuracy(valid_items, valid_examples) if not history else None  # the supervised model's
    for iteration in range(resumed.step, config.iterations):
        chosen = picker.sample(range(len(train_items)), min(config.questions, len(train_items)))
        items = [train_items[i] for i in chosen for _ in range(config.group)]
        examples = [train_examples[i] for i in chosen for _ in range(config.group)]
        record = rl_step(policy, sampler, config, items, examples, config.seed * 1_000_003 + iteration, reference,
                         optimizer, reward)
        record["iteration"] = iteration + 1
        if start is not None and iteration == 0:
            record["valid_start"] = start
        if (iteration + 1) % config.eval_every == 0 or iteration + 1 == config.iterations:
            record["valid"] = policy.accuracy(valid_items, valid_examples)
        history.append(record)
        if progress is not None:
            progress(iteration + 1, config.iterations, record)
        if (iteration + 1) % config.save_every == 0 or iteration + 1 == config.iterations:
            step_checkpoint.save(out / "rl", iteration + 1, history, optimizer, generators,
                                 lambda f, step=iteration + 1: write_policy(f, folder.module, source_fingerprint,
                                                                           config, run_dir, step))
    export_run(run_dir, out, folder)
    return write_summary(run_dir, out, config, history, policy)


def _fingerprint(causal_lm) -> dict:
    from latentspace.core.saved import fingerprint

    return fingerprint(causal_lm)
