"""A sequential latent pipeline: each agent reads its role on top of the working memory it
receives, thinks in continuous vectors, and hands the memory on; only the last agent speaks.

Nothing is re-encoded between agents: the KV cache *is* the message. With zero latent steps and
the ``full`` policy the last agent reads exactly what one model reading all the prompts one after
the other would (tested token for token) — the hand-over never drops an agent's prompt.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch

from latentspace.agents.agent import Agent
from latentspace.agents.memory import POLICIES, hand_over
from latentspace.errors import LatentspaceError


@dataclass
class Turn:
    """What one agent did: slots it received (by policy), prompt tokens it read, thoughts it added."""

    agent: str
    received_slots: int
    prompt_tokens: list[int]  # per question (pads not counted)
    latent_steps: int
    texts: list[str] | None = None  # what it wrote (text pipelines and the last agent)
    token_ids: list[list[int]] | None = None


@dataclass
class PipelineResult:
    texts: list[str]
    token_ids: list[list[int]]
    turns: list[Turn] = field(default_factory=list)
    policy: str = "full"
    processed_positions: int = 0  # every slot any agent computed, all rows (pads not counted)
    seconds: float = 0.0
    decoding: dict = field(default_factory=dict)  # the settings every decoding agent used
    mode: str = "latent"

    @property
    def output_tokens(self) -> int:
        """Tokens written by every agent that wrote (the text pipeline's agents all do)."""
        return sum(len(t) for turn in self.turns for t in (turn.token_ids or []))


def prompt_chunk(lm, texts: list[str], chat: bool, first: bool) -> tuple[torch.Tensor, torch.Tensor, list[list[int]]]:
    """Left-padded ids of one prompt per row (chat-rendered), the mask, and the unpadded rows."""
    tok = lm.tokenizer
    rows = [tok(lm.chat(t) if chat else t, add_special_tokens=first and not chat)["input_ids"] for t in texts]
    if any(not r for r in rows):
        raise LatentspaceError("an agent's prompt is empty")
    width, pad = max(len(r) for r in rows), tok.pad_token_id
    ids = torch.tensor([[pad] * (width - len(r)) + r for r in rows], device=lm.device)
    mask = torch.tensor([[0] * (width - len(r)) + [1] * len(r) for r in rows], device=lm.device)
    return ids, mask, rows


def run_sequential(lm, agents: Sequence[Agent], questions: str | Sequence[str], policy: str = "full",
                   max_new_tokens: int = 64, chat: bool = True) -> PipelineResult:
    """Run ``agents`` in order on a batch of questions; the last agent decodes (greedy)."""
    if not agents:
        raise LatentspaceError("a pipeline needs at least one agent")
    if policy not in POLICIES:
        raise LatentspaceError(f"unknown transfer policy {policy!r}; valid: {', '.join(POLICIES)}")
    questions = [questions] if isinstance(questions, str) else list(questions)
    if not questions or any(not q.strip() for q in questions):
        raise LatentspaceError("empty question")
    started = time.perf_counter()
    state, turns, processed = None, [], 0
    for k, agent in enumerate(agents):
        ids, mask, rows = prompt_chunk(lm, [agent.prompt(q) for q in questions], chat, first=state is None)
        received = 0 if state is None else state.length
        turn_start = received
        state = lm.encode(ids, attention_mask=mask) if state is None else lm.feed(state, ids, mask=mask)
        for _ in range(agent.latent_steps):
            state = lm.step(state, lm.align(state.hidden, agent.alignment))
        processed += sum(len(r) for r in rows) + agent.latent_steps * len(questions)
        turns.append(Turn(agent.name, received, [len(r) for r in rows], agent.latent_steps))
        if k < len(agents) - 1:
            state = hand_over(state, policy, turn_start)
    result = lm.decode(state, max_new_tokens=max_new_tokens)
    processed += result.n_tokens
    turns[-1].texts, turns[-1].token_ids = result.texts, result.token_ids
    return PipelineResult(result.texts, result.token_ids, turns, policy, processed, time.perf_counter() - started,
                          decoding(max_new_tokens), "latent")


def decoding(max_new_tokens: int) -> dict:
    """The one decoding setting every mode uses (greedy), recorded so comparisons can check it."""
    return {"temperature": 0.0, "top_p": 1.0, "max_new_tokens": max_new_tokens}
