"""Collaborate in latent space: agents on one backbone that pass KV working memory, not text.

`Agent` (a role, a thinking budget spent by any latent strategy, whether it speaks); layouts:
`run_sequential` (under a transfer policy), `run_hierarchical` (experts in one batch), `run_graph`
(any acyclic "who reads whom"); the text and single-agent baselines with the same decoding;
pipelines as files (`pipelines.load_pipeline`, `pipelines.run`) and as bench strategies
(``agents:PIPELINE:MODE``). Guide: docs/agents.md.
"""

from latentspace.agents.agent import Agent
from latentspace.agents.baselines import run_single, run_text_hierarchical, run_text_sequential
from latentspace.agents.graph import run_graph, run_text_graph
from latentspace.agents.hierarchical import run_hierarchical
from latentspace.agents.memory import POLICIES, hand_over
from latentspace.agents.results import PipelineResult, Turn
from latentspace.agents.sequential import run_sequential

__all__ = ["POLICIES", "Agent", "PipelineResult", "Turn", "hand_over", "run_graph", "run_hierarchical",
           "run_sequential", "run_single", "run_text_graph", "run_text_hierarchical", "run_text_sequential"]
