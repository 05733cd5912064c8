"""Collaborate in latent space: agents on one backbone that pass KV working memory, not text.

Work in progress (issue 7): `Agent`, the transfer policies and the sequential latent pipeline
are here; hierarchical pipelines, text/single baselines, the CLI and the benchmark come next.
"""

from latentspace.agents.agent import Agent
from latentspace.agents.memory import POLICIES, hand_over
from latentspace.agents.sequential import PipelineResult, run_sequential

__all__ = ["POLICIES", "Agent", "PipelineResult", "hand_over", "run_sequential"]
