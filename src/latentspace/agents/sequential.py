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
from latentspace.agents.memory import POLICIES, hand_over, starting_memory
from latentspace.memory.presses.after import compress_state
from latentspace.agents.thinking import think
from latentspace.errors import LatentspaceError
from latentspace.trace import Step


@dataclass
class Turn:
    """What one agent did: slots it received, prompt tokens it read, the thoughts it added (each
    with the lens reading of the distribution it came from) and what it wrote, per question."""

    agent: str
    received_slots: int
    prompt_tokens: list[int]  # per question (pads not counted)
    latent_steps: int  # its budget; ``thoughts`` holds the steps actually taken
    texts: list[str] | None = None  # what it wrote (text pipelines, the last agent, speaking agents)
    token_ids: list[list[int]] | None = None
    thoughts: list[list[Step]] | None = None  # per question
    received_from: dict[str, int] | None = None  # slots of the memory by the agent that made them


@dataclass
class PipelineResult:
    texts: list[str]
    token_ids: list[list[int]]
    turns: list[Turn] = field(default_factory=list)
    policy: str = "full"
    positions: list[int] = field(default_factory=list)  # per question: every slot any agent computed
    seconds: float = 0.0
    decoding: dict = field(default_factory=dict)  # the settings every decoding agent used
    mode: str = "latent"
    memory: object = field(default=None, repr=False)  # latent runs with keep_memory: what the answer was read from

    @property
    def processed_positions(self) -> int:
        """Every slot any agent computed, all questions (pads not counted)."""
        return sum(self.positions)

    @property
    def output_tokens(self) -> int:
        """Tokens written by every agent that wrote (the text pipeline's agents all do)."""
        return sum(len(t) for turn in self.turns for t in (turn.token_ids or []))

    def row_output_tokens(self, row: int) -> int:
        return sum(len(turn.token_ids[row]) for turn in self.turns if turn.token_ids)


MARK = "\u2063agent-turn\u2063"  # an invisible separator no role text contains


def next_turn(lm, text: str) -> str:
    """Chat text that closes the assistant turn in progress and opens a new one for ``text``.

    An agent reading on top of another's memory continues the same conversation: the previous
    agent's turn (its prompt and thoughts) is closed, the new role arrives as a user turn, and the
    assistant speaks next — no second system prompt mid-memory. Derived from the model's own
    template; a template that does not extend this way gets a fresh one-turn chat instead.
    """
    tok = lm.tokenizer
    if not getattr(tok, "chat_template", None):
        return text
    before = [{"role": "user", "content": "?"}, {"role": "assistant", "content": MARK}]
    try:
        closed = tok.apply_chat_template(before, tokenize=False)
        full = tok.apply_chat_template(before + [{"role": "user", "content": text}], tokenize=False,
                                       add_generation_prompt=True)
    except Exception:  # templates that refuse this conversation shape
        return lm.chat(text)
    if MARK not in closed or not full.startswith(closed):
        return lm.chat(text)
    return closed[closed.index(MARK) + len(MARK):] + full[len(closed):]


def prompt_chunk(lm, texts: list[str], chat: bool, first: bool) -> tuple[torch.Tensor, torch.Tensor, list[list[int]]]:
    """Left-padded ids of one prompt per row, the mask, and the unpadded rows.

    With ``chat`` the first chunk is a one-turn chat and later ones continue it (`next_turn`).
    """
    render = (lambda t: lm.chat(t) if first else next_turn(lm, t)) if chat else (lambda t: t)
    return pad_rows(lm, [render(t) for t in texts], add_special_tokens=first and not chat)


def split_turn(lm, head: str, tail: str, chat: bool) -> tuple[str, str]:
    """``head`` and ``tail`` as one user message, cut where ``tail`` starts: (opening, rest).

    The shared prefix of a hierarchical pipeline opens the user turn; each expert's chunk ends it
    with the expert's role and opens the assistant turn the expert thinks in — so every expert reads
    exactly the one-turn chat ``head + "\n" + tail`` (its text baseline reads the same).
    """
    if not chat:
        return head, tail  # raw chunks follow each other as they are, as in the sequential pipeline
    whole = lm.chat(f"{head}\n{MARK}")
    if MARK not in whole:
        return lm.chat(head), next_turn(lm, tail)  # a template that rewrites messages: two turns
    cut = whole.index(MARK)
    return whole[:cut], whole[cut:].replace(MARK, tail, 1)


def pad_rows(lm, texts: list[str], add_special_tokens: bool):
    """Tokenize rendered texts and left-pad them: (ids, mask, the unpadded rows)."""
    rows = [lm.token_ids(t, add_special_tokens=add_special_tokens) for t in texts]  # checked to fit the context
    if any(not r for r in rows):
        raise LatentspaceError("an agent's prompt is empty")
    ids, mask = lm.pad(rows)
    return ids, mask, rows


def as_questions(questions: str | Sequence[str]) -> list[str]:
    questions = [questions] if isinstance(questions, str) else list(questions)
    if not questions or any(not isinstance(q, str) or not q.strip() for q in questions):
        raise LatentspaceError("empty question")
    return questions


def speak(lm, state, agent_tokens: int, seed: int):
    """What an agent would say from ``state`` (a fork: the memory itself is passed on unchanged)."""
    return lm.decode(state.fork(), max_new_tokens=agent_tokens, seed=seed)


def run_sequential(lm, agents: Sequence[Agent], questions: str | Sequence[str], policy: str = "full",
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


def decoding(max_new_tokens: int) -> dict:
    """The one decoding setting every mode uses (greedy), recorded so comparisons can check it."""
    return {"temperature": 0.0, "top_p": 1.0, "max_new_tokens": max_new_tokens}
