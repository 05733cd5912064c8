"""A sequential latent pipeline: each agent reads its role on top of the working memory it
receives, thinks in continuous vectors, and hands the memory on; only the last agent speaks.

Nothing is re-encoded between agents: the KV cache *is* the message. With zero latent steps and
the ``full`` policy the last agent reads exactly what one model reading all the prompts one after
the other would (tested token for token) — the hand-over never drops an agent's prompt.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from latentspace.agents.agent import Agent
from latentspace.agents.memory import POLICIES, hand_over, starting_memory
from latentspace.agents.results import PipelineResult, Turn
from latentspace.agents.thinking import think
from latentspace.agents.turns import as_questions, decoding, prompt_chunk, speak
from latentspace.core.errors import LatentspaceError
from latentspace.memory.presses.after import compress_state

if TYPE_CHECKING:  # the type only: no import at run time
    from latentspace.model.latent_model import LatentModel


def run_sequential(lm: LatentModel, agents: Sequence[Agent], questions: str | Sequence[str], policy: str = "full",
                   max_new_tokens: int = 64, chat: bool = True, memory=None, agent_tokens: int | None = None,
                   seed: int = 0, keep_memory: bool = False, press=None) -> PipelineResult:
    """Run ``agents`` in order on a batch of questions; the last agent decodes (greedy).

    ``press``: compress each hand-over with a key-only press (`memory.presses.after`): the next
    agent receives the policy's slots cut to the press's share (the transcript's per-source
    counts are then proportional estimates: heads keep different slots).
    ``memory``: a `LatentState` to start from (made by this model; one row shared by every
    question, or one per question) — the first agent reads its role on top of it. ``keep_memory``:
    the result keeps the final working memory (``result.memory``, e.g. to save and start from later).
    """
    if not agents:
        raise LatentspaceError("a pipeline needs at least one agent")
    if policy not in POLICIES:
        raise LatentspaceError(f"unknown transfer policy {policy!r}; valid: {', '.join(POLICIES)}")
    questions = as_questions(questions)
    agent_tokens = max_new_tokens if agent_tokens is None else agent_tokens
    started = time.perf_counter()
    state = starting_memory(lm, memory, len(questions))
    sources = {"memory": state.length} if state is not None else {}
    turns, positions = [], [0] * len(questions)
    for k, agent in enumerate(agents):
        ids, mask, rows = prompt_chunk(lm, [agent.prompt(q) for q in questions], chat, first=state is None)
        received = 0 if state is None else state.length
        turn_start = received
        state = lm.encode(ids, attention_mask=mask) if state is None else lm.feed(state, ids, mask=mask)
        state, thoughts = think(lm, state, [agent] * len(questions), seed)
        turn = Turn(agent.name, received, [len(r) for r in rows], agent.latent_steps, thoughts=thoughts,
                    received_from=dict(sources))
        for row, r in enumerate(rows):
            positions[row] += len(r) + len(thoughts[row])
        if agent.speaks and k < len(agents) - 1:
            said = speak(lm, state, agent_tokens, seed)
            turn.texts, turn.token_ids = said.texts, said.token_ids
            for row, t in enumerate(said.token_ids):
                positions[row] += len(t)
        turns.append(turn)
        sources[agent.name] = state.length - turn_start
        if k < len(agents) - 1:
            state = hand_over(state, policy, turn_start)
            sources = kept_sources(sources, state.length, policy, agent.name)
            if press is not None:
                before, state = state.length, compress_state(lm, state, press)
                sources = {n: round(c * state.length / before) for n, c in sources.items()}
    kept = state.fork() if keep_memory else None
    result = lm.decode(state, max_new_tokens=max_new_tokens, seed=seed)
    for row, t in enumerate(result.token_ids):
        positions[row] += len(t)
    turns[-1].texts, turns[-1].token_ids = result.texts, result.token_ids
    return PipelineResult(result.texts, result.token_ids, turns, policy, positions, time.perf_counter() - started,
                          decoding(max_new_tokens) | {"seed": seed}, "latent", kept)


def kept_sources(sources: dict[str, int], kept: int, policy: str, last: str) -> dict[str, int]:
    """Which agents' slots the next agent receives under ``policy`` (for the transcript)."""
    if policy == "full":
        return sources
    if policy == "last":
        return {last: sources[last]}
    return {"latent thoughts": kept}
