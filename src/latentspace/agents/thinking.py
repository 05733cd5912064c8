"""An agent's thinking: any reasoning strategy's ``think`` run on the working memory.

The strategies of `latentspace.reason` already append latent steps to a batch of encoded
questions, with their safety checks, early stops and lens readings; an agent reuses exactly that
on the memory it received. Several agents in one batch (the experts of a hierarchical pipeline)
think as groups: each group's rows are active while the others' slots are masked, so no agent's
thoughts depend on another's — and agents with the same settings think in the same passes.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import torch

from latentspace.core.errors import LatentspaceError
from latentspace.reason.base import REGISTRY, Reasoner, Rows, get_reasoner
from latentspace.trace import Step, Trace

if TYPE_CHECKING:  # the type only: no import at run time
    from latentspace.model.latent_model import LatentModel


def thinking_strategies() -> list[str]:
    """Strategies that think before answering (they override `Reasoner.think`)."""
    return sorted(name for name, cls in REGISTRY.items() if cls.think is not Reasoner.think)


def make_thinker(agent) -> Reasoner:
    valid = thinking_strategies()
    if agent.strategy not in valid:
        raise LatentspaceError(f"agent {agent.name!r}: strategy {agent.strategy!r} does not think in latents; "
                               f"valid: {', '.join(valid)}")
    if "max_latent_steps" in agent.options:
        raise LatentspaceError(f"agent {agent.name!r}: set its budget with latent_steps, not options.max_latent_steps")
    try:
        return get_reasoner(agent.strategy, max_latent_steps=agent.latent_steps, **agent.options)
    except LatentspaceError as err:
        raise LatentspaceError(f"agent {agent.name!r}: {err}") from None


def settings(agent) -> str:
    """Agents with equal settings think together (one pass for all their rows)."""
    return json.dumps([agent.strategy, agent.latent_steps, agent.options], sort_keys=True, default=repr)


def think(lm: LatentModel, state, agents_per_row: list, seed: int = 0) -> tuple[object, list[list[Step]]]:
    """Let the agent of each row spend its budget; returns the state and each row's readings.

    ``agents_per_row[r]`` is the agent thinking in row ``r``. A row whose strategy stops early
    (converged, a bad latent) gets masked slots for the rest of its group's steps.
    """
    readings: list[list[Step]] = [[] for _ in agents_per_row]
    groups: dict[str, list[int]] = {}
    for row, agent in enumerate(agents_per_row):
        if agent.latent_steps:
            groups.setdefault(settings(agent), []).append(row)
    for rows_of_group in groups.values():
        agent = agents_per_row[rows_of_group[0]]
        active = torch.zeros(len(agents_per_row), dtype=torch.bool)
        active[rows_of_group] = True
        traces = [Trace(prompt="", strategy=agent.strategy, model=lm.name) for _ in agents_per_row]
        torch.manual_seed(seed)  # strategies that sample see the same seed in every mode
        state = agent.thinker().think(lm, state, Rows(traces, active))
        for row in rows_of_group:
            readings[row] = traces[row].steps
    return state, readings
