"""Collaborate in latent space: agents on one backbone that pass KV working memory, not text.

Work in progress (issue 7): `Agent`, the transfer policies, the sequential and hierarchical
latent pipelines and the text / single-agent baselines are here; pipeline files, the CLI, the
trace transcript and the benchmark come next.
"""

from latentspace.agents.agent import Agent
from latentspace.agents.baselines import run_single, run_text_hierarchical, run_text_sequential
from latentspace.agents.hierarchical import run_hierarchical
from latentspace.agents.memory import POLICIES, hand_over
from latentspace.agents.sequential import PipelineResult, run_sequential

__all__ = ["POLICIES", "Agent", "PipelineResult", "hand_over", "run_hierarchical", "run_sequential", "run_single",
           "run_text_hierarchical", "run_text_sequential"]
