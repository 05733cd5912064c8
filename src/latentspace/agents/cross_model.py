"""Agents on different models: a sequential pipeline whose hand-overs may cross backbones.

Consecutive agents on one model pass their KV working memory as in `run_sequential` (policy
``full``). Where the next agent runs on another model, that memory means nothing to its attention,
so the hand-over travels one of three ways, and the receiving agent's turn records which:

- ``fuser`` (a `bridge.fuser.CacheFuser` trained for the pair): the sharer reads the next agent's
  prompt on top of its working memory — every earlier prompt *and* latent thought; the receiver
  reads the same prompt with its slots' K/V fused with the sharer's at the aligned tokens, and the
  prompt's last token through the fused cache (`bridge.fused.read_on`).
- ``map`` (a `bridge.HiddenMap` with a pair ``(layer, -1)``: sharer block -> receiver inputs): the
  sharer's block-``layer`` states of its whole working memory, recorded as they were computed
  (latent thoughts included), are mapped into the receiver's input space and read as continuous
  inputs after a short header (`bridge.channel.channel_memory`).
- ``text`` (the fallback): the sharer's agents write (greedy, ``agent_tokens``) and the receiver
  reads what they wrote before its prompt, as in the text pipeline.

A hand-over between two models with no bridge and the text fallback disabled is refused when the
pipeline is loaded, before any model runs.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from latentspace.agents.agent import Agent
from latentspace.agents.results import PipelineResult, Turn
from latentspace.agents.thinking import think
from latentspace.agents.turns import as_questions, decoding, pad_rows, prompt_chunk, speak, with_notes
from latentspace.core.errors import LatentspaceError

if TYPE_CHECKING:  # the type only: no import at run time
    from latentspace.model.latent_model import LatentModel

BRIDGE_KINDS = ("fuser", "map")
RECORD_SITE = "resid_post"


@dataclass(frozen=True)
class Bridge:
    """How a hand-over from agents on ``source`` to an agent on ``target`` travels (model names as
    the pipeline writes them). ``path``: a fuser folder or its fuser.safetensors, or a map file;
    ``layer``: for a map, the sharer block whose states travel (the map must hold ``layer:-1``)."""

    source: str
    target: str
    kind: str
    path: Path
    layer: int | None = None

    def file(self) -> Path:
        path = self.path / "fuser.safetensors" if self.kind == "fuser" and self.path.is_dir() else self.path
        if not path.is_file():
            raise LatentspaceError(f"bridge {self.source} -> {self.target}: no {self.kind} file at {path}")
        return path

    def load(self, sharer, receiver):
        """The fuser, or the map's `LayerMap` for (layer, receiver inputs); refused for another model pair."""
        from latentspace.bridge.fuser import CacheFuser
        from latentspace.bridge.hidden_map import HiddenMap
        from latentspace.bridge.pairs import EMBED

        if self.kind == "fuser":
            return CacheFuser.load(self.file(), sharer.fingerprint, receiver.fingerprint)[0]
        bridge = HiddenMap.load(self.file(), sharer.fingerprint, receiver.fingerprint)
        if (self.layer, EMBED) not in bridge.layers:
            held = ", ".join(f"{s}:{r}" for s, r in bridge.pairs())
            raise LatentspaceError(f"bridge {self.source} -> {self.target}: {self.path.name} holds no map from sharer "
                                   f"block {self.layer} to the receiver's inputs ({self.layer}:{EMBED}); it holds "
                                   f"{held}")
        return bridge.layers[(self.layer, EMBED)]


def segments(keys: Sequence[str]) -> list[tuple[int, int]]:
    """(first, end) of each run of consecutive agents on one model."""
    out, first = [], 0
    for k in range(1, len(keys) + 1):
        if k == len(keys) or keys[k] != keys[first]:
            out.append((first, k))
            first = k
    return out


def check_bridges(keys: Sequence[str], bridges: dict, fallback: bool, where: str) -> None:
    """Every hand-over between two models has a bridge, or text may carry it."""
    parts = segments(keys)
    for (first, _), (nxt, _) in zip(parts, parts[1:]):
        pair = (keys[first], keys[nxt])
        if pair not in bridges and not fallback:
            raise LatentspaceError(f"{where}: the hand-over from {pair[0]} to {pair[1]} has no bridge and the text "
                                   "fallback is off (add a bridge from/to with a fuser or map, or fallback: text)")


class Recorder:
    """Block-``layer`` outputs of every slot a model adds to one working memory, in slot order."""

    def __init__(self, lm: LatentModel, layer: int | None) -> None:
        self.lm, self.layer, self.chunks = lm, layer, []

    def __call__(self, make):
        if self.layer is None:
            return make()
        with self.lm.hooks(record=[(RECORD_SITE, self.layer)]) as rec:
            value = make()
        if (RECORD_SITE, self.layer) in rec:
            self.chunks.append(rec[RECORD_SITE, self.layer])
        return value

    def states(self, state) -> torch.Tensor:
        got = torch.cat(self.chunks, 1) if self.chunks else None
        n = 0 if got is None else got.shape[1]
        # every pass on this model runs inside the recorder (prompts, hand-over reads, thoughts): more
        # outputs than slots is a strategy computing slots again; fewer, slots made where it did not look
        if n > state.length:
            raise LatentspaceError(f"a map hand-over maps the block-{self.layer} output of each slot of the working "
                                   f"memory once, but this segment's passes computed {n} outputs for its "
                                   f"{state.length} slots: one of its agents' strategies computes slots more than "
                                   "once (optimize rolls its thoughts out again as it searches); think with another "
                                   "strategy before a map, or hand over by fuser or text")
        if n < state.length:
            raise LatentspaceError(f"a map hand-over maps the block-{self.layer} output of each slot of the working "
                                   f"memory, but only {n} of its {state.length} slots were computed while recording")
        return got


def run_cross_model(models: dict, keys: Sequence[str], agents: Sequence[Agent], questions: str | Sequence[str],
                    bridges: dict | None = None, fallback: bool = True, max_new_tokens: int = 64,
                    agent_tokens: int | None = None, chat: bool = True, seed: int = 0) -> PipelineResult:
    """Run ``agents`` in order, agent k on ``models[keys[k]]``; the last one answers (greedy).

    ``bridges``: (source key, target key) -> `Bridge`; a hand-over with none goes as text if
    ``fallback``, and is refused otherwise.
    """
    if not agents or len(keys) != len(agents):
        raise LatentspaceError("a pipeline needs at least one agent, each with its model")
    bridges = bridges or {}
    check_bridges(keys, bridges, fallback, "pipeline")
    questions = as_questions(questions)
    agent_tokens = max_new_tokens if agent_tokens is None else agent_tokens
    parts = segments(keys)
    hops = [(keys[a], keys[c]) for (a, _), (c, _) in zip(parts, parts[1:])]
    loaded = {pair: bridges[pair].load(models[pair[0]], models[pair[1]]) for pair in set(hops) if pair in bridges}
    started, b = time.perf_counter(), len(questions)
    turns, positions = [], [0] * b
    state = states = None
    for n, (first, end) in enumerate(parts):
        lm = models[keys[first]]
        leaving = bridges.get(hops[n]) if n < len(hops) else None
        recorder = Recorder(lm, leaving.layer if leaving is not None and leaving.kind == "map" else None)
        for k in range(first, end):
            agent, texts = agents[k], [agents[k].prompt(q) for q in questions]
            handover, received = None, {} if state is None else {"memory": state.length}
            if k == first and n > 0:  # the agent before it ran on another model
                pair = hops[n - 1]
                handover = bridges[pair].kind if pair in bridges else "text"
                state, rows, received = arrive(handover, models[pair[0]], lm, loaded.get(pair), state, states,
                                               turns[parts[n - 1][0]:], texts, chat, recorder, agent_tokens, seed)
            else:
                state, rows = read_prompt(lm, state, texts, chat, recorder)
            state, thoughts = recorder(lambda: think(lm, state, [agent] * b, seed))
            turn = Turn(agent.name, sum(received.values()), rows, agent.latent_steps, thoughts=thoughts,
                        received_from=received, model=keys[k], handover=handover)
            turns.append(turn)
            if agent.speaks and k < len(agents) - 1:
                said = speak(lm, state, agent_tokens, seed)
                turn.texts, turn.token_ids = said.texts, said.token_ids
        states = recorder.states(state) if recorder.layer is not None else None
    result = models[keys[-1]].decode(state, max_new_tokens=max_new_tokens, seed=seed)
    turns[-1].texts, turns[-1].token_ids = result.texts, result.token_ids
    for turn in turns:  # every slot any agent read, thought or wrote (hand-over reads included in ``rows``)
        for row in range(b):
            positions[row] += turn.prompt_tokens[row] + len(turn.thoughts[row]) + len((turn.token_ids or [[]] * b)[row])
    return PipelineResult(result.texts, result.token_ids, turns, "full", positions, time.perf_counter() - started,
                          decoding(max_new_tokens) | {"seed": seed, "agent_tokens": agent_tokens}, "latent-cross-model")


def read_prompt(lm: LatentModel, state, texts: list[str], chat: bool, recorder: Recorder, fresh_turn: bool = False):
    """The agent reads its prompt (a fresh chat, or the next turn of the memory); (state, tokens per row)."""
    if state is None or not fresh_turn:
        ids, mask, rows = prompt_chunk(lm, texts, chat, first=state is None)
    else:  # after mapped vectors: the prompt opens its own chat (the notes came before it)
        ids, mask, rows = pad_rows(lm, [lm.chat(t) if chat else "\n" + t for t in texts], add_special_tokens=False)
    state = recorder(lambda: lm.encode(ids, attention_mask=mask) if state is None else lm.feed(state, ids, mask=mask))
    return state, [len(r) for r in rows]


def arrive(handover: str, sharer, lm: LatentModel, bridge, memory, states, sent: list[Turn], texts: list[str],
           chat: bool,
           recorder: Recorder, agent_tokens: int, seed: int):
    """The first agent on ``lm`` receives what the agents on ``sharer`` (their ``sent`` turns) left:
    (its state after reading its prompt, tokens read per row, what it received for the transcript)."""
    if handover == "fuser":
        from latentspace.bridge.fused import fused_state, read_on

        held = memory.length
        rendered = [lm.chat(t) if chat else t for t in texts]
        # the receiver reads its prompt (all but the last token) before the fusing: recorded too, so a
        # segment reached by a fuser can leave by a map (the sharer's passes are not this model's)
        reads, rows = recorder(lambda: read_on(sharer, memory, lm, rendered, receiver_lead=not chat))
        state = recorder(lambda: fused_state(lm, reads, bridge))
        return state, rows, {f"fuser from {sent[0].model}": held}
    if handover == "map":
        from latentspace.bridge.channel import channel_memory

        with torch.no_grad():
            mapped = bridge(states.to(lm.dtype))
        notes = recorder(lambda: channel_memory(lm, mapped, memory.attention_mask))
        state, rows = read_prompt(lm, notes, texts, chat, recorder, fresh_turn=True)
        header = notes.length - mapped.shape[1]
        return state, [r + header for r in rows], {f"map from {sent[0].model}": int(memory.attention_mask.sum(1).max())}
    if not sent[-1].texts:  # the last agent on the sharer writes what it would say
        said = speak(sharer, memory, agent_tokens, seed)
        sent[-1].texts, sent[-1].token_ids = said.texts, said.token_ids
    notes = ["".join(f"{t.agent}: {t.texts[row].strip()}\n" for t in sent if t.texts) for row in range(len(texts))]
    state, rows = read_prompt(lm, None, [with_notes(t, note) for t, note in zip(texts, notes)], chat, recorder)
    return state, rows, {f"text from {sent[0].model}": 0}
