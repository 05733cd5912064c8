"""The baselines a latent pipeline is measured against, with the same agents and decoding.

- ``text``: the same roles in the same order, each agent *writes* (greedy, ``agent_tokens``) and
  the next one reads the question, its role and everything written so far — text multi-agent.
- ``single``: one model reading only the last agent's prompt (same final prompt, no helpers).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from latentspace.agents.agent import Agent
from latentspace.agents.results import PipelineResult, Turn
from latentspace.agents.turns import as_questions as _questions, decoding, read_and_write, with_notes
from latentspace.core.errors import LatentspaceError

if TYPE_CHECKING:  # the type only: no import at run time
    from latentspace.model.latent_model import LatentModel


def run_text_sequential(lm: LatentModel, agents: Sequence[Agent], questions: str | Sequence[str],
                        max_new_tokens: int = 64,
                        agent_tokens: int | None = None, chat: bool = True, seed: int = 0,
                        models: Sequence | None = None) -> PipelineResult:
    """Each agent decodes text that the next agent reads; the last agent's text is the answer.

    ``models``: one `LatentModel` per agent where they run on several (``lm`` is then unused).
    """
    if not agents:
        raise LatentspaceError("a pipeline needs at least one agent")
    questions = _questions(questions)
    agent_tokens = max_new_tokens if agent_tokens is None else agent_tokens
    started, turns, positions = time.perf_counter(), [], [0] * len(questions)
    notes = [""] * len(questions)
    result = None
    for k, agent in enumerate(agents):
        prompts = [with_notes(agent.prompt(q), n) for q, n in zip(questions, notes)]
        budget = max_new_tokens if k == len(agents) - 1 else agent_tokens
        own = lm if models is None else models[k]
        rows, result, used = read_and_write(own, prompts, chat, budget, seed)  # every agent re-reads from scratch
        positions = [a + b for a, b in zip(positions, used)]
        turns.append(Turn(agent.name, 0, [len(r) for r in rows], 0, result.texts, result.token_ids,
                          model=None if models is None else agent.model))
        notes = [f"{n}{agent.name}: {t.strip()}\n" for n, t in zip(notes, result.texts)]
    return PipelineResult(result.texts, result.token_ids, turns, "text", positions, time.perf_counter() - started,
                          decoding(max_new_tokens) | {"seed": seed, "agent_tokens": agent_tokens}, "text")


def run_single(lm: LatentModel, agent: Agent, questions: str | Sequence[str], max_new_tokens: int = 64,
               chat: bool = True, seed: int = 0) -> PipelineResult:
    """One model, the final agent's prompt only."""
    questions = _questions(questions)
    started = time.perf_counter()
    rows, result, positions = read_and_write(lm, [agent.prompt(q) for q in questions], chat, max_new_tokens, seed)
    turn = Turn(agent.name, 0, [len(r) for r in rows], 0, result.texts, result.token_ids)
    return PipelineResult(result.texts, result.token_ids, [turn], "none", positions,
                          time.perf_counter() - started, decoding(max_new_tokens) | {"seed": seed}, "single")


def run_text_hierarchical(lm: LatentModel, experts: Sequence[Agent], summariser: Agent, questions: str | Sequence[str],
                          shared: str = "Question: {question}", max_new_tokens: int = 64,
                          agent_tokens: int | None = None, chat: bool = True, seed: int = 0) -> PipelineResult:
    """Experts write independently (one batch; none reads another), the summariser reads them all."""
    if not experts:
        raise LatentspaceError("a hierarchical pipeline needs at least one expert")
    questions = _questions(questions)
    Agent("shared", shared)  # the same template check as an agent's role
    agent_tokens = max_new_tokens if agent_tokens is None else agent_tokens
    started, n = time.perf_counter(), len(experts)
    prompts = [f"{shared.format(question=q)}\n{e.prompt(q)}" for q in questions for e in experts]
    rows, written, used = read_and_write(lm, prompts, chat, agent_tokens, seed)
    positions = [sum(used[b * n:(b + 1) * n]) for b in range(len(questions))]
    turns = [Turn(e.name, 0, [len(rows[b * n + i]) for b in range(len(questions))], 0,
                  [written.texts[b * n + i] for b in range(len(questions))],
                  [written.token_ids[b * n + i] for b in range(len(questions))]) for i, e in enumerate(experts)]
    notes = ["".join(f"{e.name}: {written.texts[b * n + i].strip()}\n" for i, e in enumerate(experts))
             for b in range(len(questions))]
    final = [with_notes(f"{shared.format(question=q)}\n{summariser.prompt(q)}", notes[b]) for b, q in enumerate(questions)]
    rows, result, used = read_and_write(lm, final, chat, max_new_tokens, seed)
    positions = [a + b for a, b in zip(positions, used)]
    turns.append(Turn(summariser.name, 0, [len(r) for r in rows], 0, result.texts, result.token_ids))
    return PipelineResult(result.texts, result.token_ids, turns, "text", positions, time.perf_counter() - started,
                          decoding(max_new_tokens) | {"seed": seed, "agent_tokens": agent_tokens},
                          "text-hierarchical")
