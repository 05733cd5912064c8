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

import torch

from latentspace.agents.agent import Agent
from latentspace.agents.sequential import PipelineResult, Turn, decoding, prompt_chunk
from latentspace.errors import LatentspaceError
from latentspace.model import kv
from latentspace.model.state import LatentState

DEFAULT_SHARED = "Question: {question}"


def _repeat_rows(state: LatentState, times: int) -> LatentState:
    """Each row ``times`` times in a row (row b -> rows b*times ... b*times+times-1)."""
    index = torch.arange(state.batch_size).repeat_interleave(times)
    dev = index.to(state.ids.device)
    state.consumed = True
    return LatentState(kv.select_batch(state.cache, index), state.ids[dev], state.attention_mask[dev],
                       state.next_position[dev], state.logits[dev],
                       None if state.hidden is None else state.hidden[dev])


def experts_in_parallel(lm, experts: Sequence[Agent], questions: list[str], shared: str, chat: bool
                        ) -> tuple[LatentState, int, list[Turn], int]:
    """(state of B*E rows, prefix length, expert turns, processed positions)."""
    ids, mask, rows = prompt_chunk(lm, [shared.format(question=q) for q in questions], chat, first=True)
    prefix = lm.encode(ids, attention_mask=mask)
    processed = sum(map(len, rows))
    n, p = len(experts), prefix.length
    state = _repeat_rows(prefix, n)
    texts = [e.prompt(q) for q in questions for e in experts]  # row b*n + e
    ids, mask, rows = prompt_chunk(lm, texts, chat, first=False)
    state = lm.feed(state, ids, mask=mask)
    steps = torch.tensor([e.latent_steps for e in experts]).repeat(len(questions))
    kinds = [experts[row % n].alignment for row in range(state.batch_size)]
    for s in range(int(steps.max())):
        active = steps > s  # experts with fewer thoughts get masked slots (they do not think on)
        aligned = {a: lm.align(state.hidden, a) for a in set(kinds)}
        vectors = torch.stack([aligned[a][row] for row, a in enumerate(kinds)])
        state = lm.step(state, vectors, rows=active)
    processed += sum(map(len, rows)) + int(steps.sum())
    turns = [Turn(e.name, p, [len(rows[b * n + i]) for b in range(len(questions))], e.latent_steps)
             for i, e in enumerate(experts)]
    return state, p, turns, processed


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
        state.logits[last], None if state.hidden is None else state.hidden[last],
    )


def run_hierarchical(lm, experts: Sequence[Agent], summariser: Agent, questions: str | Sequence[str],
                     shared: str = DEFAULT_SHARED, max_new_tokens: int = 64, chat: bool = True) -> PipelineResult:
    """Experts in parallel from ``shared`` (a template with ``{question}``), then ``summariser`` answers."""
    if not experts:
        raise LatentspaceError("a hierarchical pipeline needs at least one expert")
    questions = [questions] if isinstance(questions, str) else list(questions)
    if not questions or any(not q.strip() for q in questions):
        raise LatentspaceError("empty question")
    Agent("shared", shared)  # the same template check as an agent's role
    started = time.perf_counter()
    state, p, turns, processed = experts_in_parallel(lm, experts, questions, shared, chat)
    memory = gather(state, len(experts), p)
    received = memory.length
    ids, mask, rows = prompt_chunk(lm, [summariser.prompt(q) for q in questions], chat, first=False)
    memory = lm.feed(memory, ids, mask=mask)
    for _ in range(summariser.latent_steps):
        memory = lm.step(memory, lm.align(memory.hidden, summariser.alignment))
    result = lm.decode(memory, max_new_tokens=max_new_tokens)
    processed += sum(map(len, rows)) + summariser.latent_steps * len(questions) + result.n_tokens
    turns.append(Turn(summariser.name, received, [len(r) for r in rows], summariser.latent_steps,
                      result.texts, result.token_ids))
    return PipelineResult(result.texts, result.token_ids, turns, "full", processed, time.perf_counter() - started,
                          decoding(max_new_tokens), "latent-hierarchical")
