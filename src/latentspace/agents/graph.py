"""A graph pipeline: every agent names the agents it reads (``reads``); the one nobody reads answers.

Each agent's own slots (its role and its thoughts) form a *block*. An agent's working memory is
the shared prefix (if any) followed by the blocks of everything upstream of it — its readers'
readers included, each block once, in topological order, every key at the position it was computed
at; its own slots continue after the furthest one. So a chain is the sequential pipeline with the
``full`` policy (tested token for token) and "experts read nothing, a summariser reads them all" is
the hierarchical one — but any acyclic layout works: two critics of one plan, a planner read by
both a solver and a checker that the solver also reads, ...

Agents run one at a time here (the hierarchical kind batches its experts in one pass).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

from latentspace.agents.agent import Agent
from latentspace.agents.memory import starting_memory
from latentspace.agents.results import PipelineResult, Turn
from latentspace.agents.thinking import think
from latentspace.agents.turns import as_questions, decoding, pad_rows, read_and_write, speak, with_notes
from latentspace.core.errors import LatentspaceError
from latentspace.model import kv
from latentspace.model.state import LatentState
from latentspace.model.text import next_turn, split_turn

if TYPE_CHECKING:  # the type only: no import at run time
    from latentspace.model.latent_model import LatentModel


def topological(names: Sequence[str], reads: dict[str, list[str]], where: str = "pipeline") -> list[str]:
    """Names in an order where every agent comes after those it reads; cycles and strays refused."""
    for name in names:
        for source in reads.get(name, []):
            if source not in names:
                raise LatentspaceError(f"{where}: agent {name!r} reads {source!r}, which is not an agent")
    order, done, visiting = [], set(), []

    def visit(name: str) -> None:
        if name in done:
            return
        if name in visiting:
            cycle = visiting[visiting.index(name):] + [name]
            raise LatentspaceError(f"{where}: the agents read each other in a cycle: {' → '.join(cycle)}")
        visiting.append(name)
        for source in reads.get(name, []):
            visit(source)
        visiting.pop()
        done.add(name)
        order.append(name)

    for name in names:
        visit(name)
    read_by_someone = {s for sources in reads.values() for s in sources}
    finals = [n for n in names if n not in read_by_someone]
    if len(finals) != 1:
        raise LatentspaceError(f"{where}: exactly one agent must be read by no one (it answers); found "
                               f"{len(finals)}: {', '.join(finals)}")
    return order


def upstream(name: str, reads: dict[str, list[str]], order: list[str]) -> list[str]:
    """Every agent ``name`` reads, directly or through others, in ``order`` (each once)."""
    seen, todo = set(), list(reads.get(name, []))
    while todo:
        source = todo.pop()
        if source not in seen:
            seen.add(source)
            todo += reads.get(source, [])
    return [n for n in order if n in seen]


@dataclass
class Block:
    """Slots one agent computed (or the shared prefix), with the position after its last one."""

    cache: object
    ids: torch.Tensor
    mask: torch.Tensor
    end: torch.Tensor  # [B]

    @classmethod
    def cut(cls, state: LatentState, start: int) -> Block:
        return cls(kv.select(state.cache, torch.arange(start, state.length)), state.ids[:, start:],
                   state.attention_mask[:, start:], state.next_position.clone())


def memory_of(blocks: list[Block], owner) -> LatentState | None:
    """The blocks side by side as one state (None for nothing); new slots go after the furthest."""
    if not blocks:
        return None
    return LatentState(kv.concat([b.cache for b in blocks]), torch.cat([b.ids for b in blocks], 1),
                       torch.cat([b.mask for b in blocks], 1), torch.stack([b.end for b in blocks]).max(0).values,
                       logits=None, hidden=None, owner=owner)


def run_graph(lm: LatentModel, agents: Sequence[Agent], reads: dict[str, list[str]], questions: str | Sequence[str],
              shared: str = "", max_new_tokens: int = 64, chat: bool = True, memory=None,
              agent_tokens: int | None = None, seed: int = 0, keep_memory: bool = False) -> PipelineResult:
    """Run the graph on a batch of questions (``shared``: an optional prefix template all start from)."""
    by_name = {a.name: a for a in agents}
    order = topological(list(by_name), reads)
    questions = as_questions(questions)
    agent_tokens = max_new_tokens if agent_tokens is None else agent_tokens
    started, b = time.perf_counter(), len(questions)
    positions = [0] * b
    base, sources = [], {}
    start = starting_memory(lm, memory, b)
    if start is not None:
        base.append(Block.cut(start, 0))
        sources["memory"] = start.length
    if shared:
        Agent("shared", shared)  # the same template check as a role
        heads = [split_turn(lm, shared.format(question=q), "", chat)[0] for q in questions]
        ids, mask, rows = pad_rows(lm, heads, add_special_tokens=start is None and not chat)
        state = lm.encode(ids, attention_mask=mask) if start is None else lm.feed(start, ids, mask=mask)
        base = [Block.cut(state, 0)]  # memory and prefix as one block
        sources["shared"] = state.length - sources.get("memory", 0)
        positions = [len(r) for r in rows]
    blocks: dict[str, Block] = {}
    turns, result, kept = [], None, None
    for name in order:
        agent = by_name[name]
        above = upstream(name, reads, order)
        context = memory_of(base + [blocks[n] for n in above], lm)
        texts = [agent.prompt(q) for q in questions]
        if context is None:  # a first agent with nothing before it: a fresh chat
            ids, mask, rows = pad_rows(lm, [lm.chat(t) if chat else t for t in texts], add_special_tokens=not chat)
        elif not above and shared:  # reads only the prefix: ends the user turn it opened
            ids, mask, rows = pad_rows(lm, [split_turn(lm, shared.format(question=q), t, chat)[1]
                                            for q, t in zip(questions, texts)], add_special_tokens=False)
        else:
            ids, mask, rows = pad_rows(lm, [next_turn(lm, t) if chat else t for t in texts], add_special_tokens=False)
        received = 0 if context is None else context.length
        state = lm.encode(ids, attention_mask=mask) if context is None else lm.feed(context, ids, mask=mask)
        state, thoughts = think(lm, state, [agent] * b, seed)
        turn = Turn(name, received, [len(r) for r in rows], agent.latent_steps, thoughts=thoughts,
                    received_from=dict(sources) | {n: blocks[n].ids.shape[1] for n in above})
        for row, r in enumerate(rows):
            positions[row] += len(r) + len(thoughts[row])
        if name == order[-1]:
            kept = state.fork() if keep_memory else None
            result = lm.decode(state, max_new_tokens=max_new_tokens, seed=seed)
            turn.texts, turn.token_ids = result.texts, result.token_ids
        else:
            if agent.speaks:
                said = speak(lm, state, agent_tokens, seed)
                turn.texts, turn.token_ids = said.texts, said.token_ids
            blocks[name] = Block.cut(state, received)
        for row, t in enumerate(turn.token_ids or []):
            positions[row] += len(t)
        turns.append(turn)
    return PipelineResult(result.texts, result.token_ids, turns, "graph", positions, time.perf_counter() - started,
                          decoding(max_new_tokens) | {"seed": seed}, "latent-graph", kept)


def run_text_graph(lm: LatentModel, agents: Sequence[Agent], reads: dict[str, list[str]],
                   questions: str | Sequence[str],
                   shared: str = "", max_new_tokens: int = 64, agent_tokens: int | None = None, chat: bool = True,
                   seed: int = 0) -> PipelineResult:
    """The same graph in text: each agent reads what everything upstream of it wrote."""
    by_name = {a.name: a for a in agents}
    order = topological(list(by_name), reads)
    questions = as_questions(questions)
    agent_tokens = max_new_tokens if agent_tokens is None else agent_tokens
    started, positions, written, turns, result = time.perf_counter(), [0] * len(questions), {}, [], None
    for name in order:
        agent = by_name[name]
        above = upstream(name, reads, order)
        notes = ["".join(f"{n}: {written[n][row].strip()}\n" for n in above) for row in range(len(questions))]
        prompts = [with_notes(f"{shared.format(question=q)}\n{agent.prompt(q)}" if shared else agent.prompt(q), note)
                   for q, note in zip(questions, notes)]
        budget = max_new_tokens if name == order[-1] else agent_tokens
        rows, result, used = read_and_write(lm, prompts, chat, budget, seed)
        positions = [a + u for a, u in zip(positions, used)]
        written[name] = result.texts
        turns.append(Turn(name, 0, [len(r) for r in rows], 0, result.texts, result.token_ids))
    return PipelineResult(result.texts, result.token_ids, turns, "text", positions, time.perf_counter() - started,
                          decoding(max_new_tokens) | {"seed": seed, "agent_tokens": agent_tokens}, "text-graph")
