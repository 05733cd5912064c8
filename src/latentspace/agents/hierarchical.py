"""A hierarchical latent pipeline: experts think in parallel from one shared prefix, then a
summariser reads all of their memories at once and answers.

Parallel means one batch: every (question, expert) pair is a row branching from the same prefix
cache, so the experts run in the same forward passes and cannot see each other. The summariser's
memory is, per question, the prefix followed by each expert's slots side by side. Every expert's
keys keep the positions they were computed at (all start right after the prefix, as in parallel
context windows: re-rotating them would change what the experts computed); the summariser's own
slots continue after the furthest expert. Pads inside each expert's block stay masked.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch

from latentspace.agents.agent import Agent
from latentspace.agents.memory import repeat_rows, starting_memory
from latentspace.agents.results import PipelineResult, Turn
from latentspace.agents.thinking import think
from latentspace.agents.turns import as_questions, decoding, pad_rows, prompt_chunk, speak
from latentspace.core.errors import LatentspaceError
from latentspace.model import kv
from latentspace.model.state import LatentState
from latentspace.model.text import split_turn

if TYPE_CHECKING:  # the type only: no import at run time
    from latentspace.model.latent_model import LatentModel

DEFAULT_SHARED = "Question: {question}"


def experts_in_parallel(lm: LatentModel, experts: Sequence[Agent], questions: list[str], shared: str, chat: bool,
                        memory=None, agent_tokens: int = 64, seed: int = 0
                        ) -> tuple[LatentState, int, list[Turn], list[int]]:
    """(state of B*E rows, prefix length, expert turns, positions per question)."""
    start = starting_memory(lm, memory, len(questions))
    cuts = [[split_turn(lm, shared.format(question=q), e.prompt(q), chat) for e in experts] for q in questions]
    ids, mask, rows = pad_rows(lm, [c[0][0] for c in cuts], add_special_tokens=start is None and not chat)
    prefix = lm.encode(ids, attention_mask=mask) if start is None else lm.feed(start, ids, mask=mask)
    positions = [len(r) for r in rows]
    n, p = len(experts), prefix.length
    state = repeat_rows(prefix, n)
    ids, mask, rows = pad_rows(lm, [rest for c in cuts for _, rest in c], add_special_tokens=False)
    state = lm.feed(state, ids, mask=mask)  # row b*n + e: expert e on question b
    state, thoughts = think(lm, state, [experts[row % n] for row in range(state.batch_size)], seed)
    said = speak(lm, state, agent_tokens, seed) if any(e.speaks for e in experts) else None
    turns = []
    for i, e in enumerate(experts):
        mine = [b * n + i for b in range(len(questions))]
        turn = Turn(e.name, p, [len(rows[r]) for r in mine], e.latent_steps, thoughts=[thoughts[r] for r in mine],
                    received_from={"shared": p})
        if e.speaks:
            turn.texts, turn.token_ids = [said.texts[r] for r in mine], [said.token_ids[r] for r in mine]
        turns.append(turn)
        for b, r in enumerate(mine):
            positions[b] += len(rows[r]) + len(thoughts[r]) + (len(turn.token_ids[b]) if e.speaks else 0)
    return state, p, turns, positions


def gather(state: LatentState, n_experts: int, prefix_length: int) -> LatentState:
    """Per question: the prefix, then every expert's block side by side (masks and ids kept)."""
    b, p = state.batch_size // n_experts, prefix_length
    w = state.length - p

    def side_by_side(x: torch.Tensor) -> torch.Tensor:  # expert columns [B*E, W] -> [B, E*W]
        return x.reshape(b, n_experts * w)

    layers = []
    for k, v in kv.to_tensors(state.cache):
        heads, dim = k.shape[1], k.shape[3]

        def merge(t):
            block = t[:, :, p:].reshape(b, n_experts, heads, w, dim).permute(0, 2, 1, 3, 4)
            return torch.cat([t[::n_experts, :, :p], block.reshape(b, heads, n_experts * w, dim)], 2)

        layers.append((merge(k), merge(v)))
    first, last = slice(None, None, n_experts), slice(n_experts - 1, None, n_experts)
    state.consumed = True
    return LatentState(
        kv.from_tensors(layers),
        torch.cat([state.ids[first, :p], side_by_side(state.ids[:, p:])], 1),
        torch.cat([state.attention_mask[first, :p], side_by_side(state.attention_mask[:, p:])], 1),
        state.next_position.reshape(b, n_experts).max(1).values,  # continue after the furthest expert
        state.logits[last], None if state.hidden is None else state.hidden[last], owner=state.owner,
    )


def run_hierarchical(lm: LatentModel, experts: Sequence[Agent], summariser: Agent, questions: str | Sequence[str],
                     shared: str = DEFAULT_SHARED, max_new_tokens: int = 64, chat: bool = True, memory=None,
                     agent_tokens: int | None = None, seed: int = 0, keep_memory: bool = False) -> PipelineResult:
    """Experts in parallel from ``shared`` (a template with ``{question}``), then ``summariser`` answers.

    ``memory``: a `LatentState` the shared prefix is read on top of (see `run_sequential`).
    """
    if not experts:
        raise LatentspaceError("a hierarchical pipeline needs at least one expert")
    questions = as_questions(questions)
    Agent("shared", shared)  # the same template check as an agent's role
    agent_tokens = max_new_tokens if agent_tokens is None else agent_tokens
    started = time.perf_counter()
    state, p, turns, positions = experts_in_parallel(lm, experts, questions, shared, chat, memory, agent_tokens, seed)
    memory = gather(state, len(experts), p)
    received = memory.length
    ids, mask, rows = prompt_chunk(lm, [summariser.prompt(q) for q in questions], chat, first=False)
    memory = lm.feed(memory, ids, mask=mask)
    memory, thoughts = think(lm, memory, [summariser] * len(questions), seed)
    kept = memory.fork() if keep_memory else None
    result = lm.decode(memory, max_new_tokens=max_new_tokens, seed=seed)
    for b in range(len(questions)):
        positions[b] += len(rows[b]) + len(thoughts[b]) + len(result.token_ids[b])
    width = (received - p) // len(experts)
    turns.append(Turn(summariser.name, received, [len(r) for r in rows], summariser.latent_steps,
                      result.texts, result.token_ids, thoughts,
                      {"shared": p} | {e.name: width for e in experts}))
    return PipelineResult(result.texts, result.token_ids, turns, "full", positions, time.perf_counter() - started,
                          decoding(max_new_tokens) | {"seed": seed}, "latent-hierarchical", kept)
