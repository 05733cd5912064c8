"""Reinforcement learning on continuous thoughts: a group-relative policy gradient (GRPO / RLOO-style)
whose randomness is a thought sampler (`latentspace.model.samplers`): MTS-K for token-mixture thoughts
(CoT2), Gaussian noise on the fed input for Coconut, CODI and pause.

    summary = train_rl(Path("runs/table-mnns-laptop-mnns/s0/coconut"), Path("runs/rl-coconut"),
                       RLConfig(sampler="noise:0.3"))
"""

from latentspace.train.studies.rl.grpo import RLConfig, clipped_objective, group_advantages, train_rl
from latentspace.train.studies.rl.policy import ThoughtBatch, thought_batch, thought_log_probs

__all__ = ["RLConfig", "ThoughtBatch", "clipped_objective", "group_advantages", "thought_batch", "thought_log_probs",
           "train_rl"]
