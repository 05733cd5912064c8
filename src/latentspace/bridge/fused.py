"""The fused read: the sharer reads context + question, the receiver only the question, and the
receiver answers from its own cache enriched by the sharer's (`CacheFuser`).

Each receiver slot takes the sharer's K/V at the last sharer token covering its characters
(`align`): that sharer token has read everything the receiver token has, and the context before it.
The receiver reads all of its prompt but the last token; the fuser changes those slots; the last
token is then read *through* the fused cache, so the first answer token already sees it (the
anchor's finding: enriching the question's slots alone carries the context).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch

from latentspace.bridge.align import align, token_spans
from latentspace.bridge.pairs import lead
from latentspace.core.errors import LatentspaceError
from latentspace.model import kv
from latentspace.model.text import left_pad


@dataclass
class Reads:
    """One batch read by both models (no gradients: both are frozen)."""

    sharer_kv: list  # per sharer layer (K, V) gathered at the receiver's slots [B, Hs, T, ds]
    state: object  # the receiver's LatentState over its prompts minus their last token
    last: torch.Tensor  # [B] each prompt's last receiver token


def slot_index(sharer_tok, receiver_tok, sharer_text: str, receiver_text: str) -> tuple[list[int], list[int], list[int]]:
    """(sharer ids, receiver ids, for each receiver id the sharer index it reads from), leads included."""
    if not sharer_text.endswith(receiver_text):
        raise LatentspaceError("the receiver's prompt must be the end of the sharer's (the sharer reads the context "
                               "before the same question)")
    s_ids, s_spans = token_spans(sharer_tok, sharer_text)
    r_ids, r_spans = token_spans(receiver_tok, receiver_text)
    offset = len(sharer_text) - len(receiver_text)
    covers = align(s_spans, [(a + offset, b + offset) for a, b in r_spans]).covers
    s_lead, r_lead = lead(sharer_tok), lead(receiver_tok)
    index = [min(i, len(s_lead) - 1) if s_lead else 0 for i in range(len(r_lead))]
    for j, hit in enumerate(covers):
        index.append(len(s_lead) + (hit[-1] if hit else 0))
    return s_lead + s_ids, r_lead + r_ids, index


def read_both(sharer, receiver, sharer_texts: list[str], receiver_texts: list[str]) -> Reads:
    rows = [slot_index(sharer.tokenizer, receiver.tokenizer, s, r) for s, r in zip(sharer_texts, receiver_texts)]
    if any(len(r) < 2 for _, r, _ in rows):
        raise LatentspaceError("a receiver prompt needs at least two tokens (one read before fusing, the last after)")
    s_ids, s_mask = left_pad([s for s, _, _ in rows], sharer.tokenizer.pad_token_id or 0)
    r_ids, r_mask = left_pad([r[:-1] for _, r, _ in rows], receiver.tokenizer.pad_token_id or 0)
    s_pad, r_pad = (mask.shape[1] - mask.sum(1) for mask in (s_mask, r_mask))  # each row's left padding
    s_state = sharer.encode(s_ids, attention_mask=s_mask)
    state = receiver.encode(r_ids, attention_mask=r_mask)
    # receiver slot (padded) -> sharer slot (padded); pad slots read slot 0 (masked for every query anyway)
    gather = torch.zeros(r_ids.shape, dtype=torch.long)
    for b, (_, _, index) in enumerate(rows):
        gather[b, int(r_pad[b]):] = torch.tensor(index[:-1]) + int(s_pad[b])
    return Reads(gathered(s_state.cache, gather), state, torch.tensor([r[-1] for _, r, _ in rows]))


def gathered(cache, gather: torch.Tensor) -> list:
    """Per sharer layer (K, V) at the slots ``gather`` names ``[B, T]`` (one per receiver slot)."""
    out = []
    for k, v in kv.to_tensors(cache):
        ix = gather.to(k.device)[:, None, :, None].expand(-1, k.shape[1], -1, k.shape[3])
        out.append((k.gather(2, ix), v.gather(2, ix)))
    return out


def read_on(sharer, memory, receiver, texts: list[str], receiver_lead: bool = True) -> tuple[Reads, list[int]]:
    """A hand-over between agents on two models: the sharer reads each text on top of its working
    ``memory`` (its agents' prompts and latent thoughts, consumed), the receiver reads the same text
    alone; each receiver slot takes the sharer's K/V at the last sharer token covering its characters.

    ``receiver_lead``: the receiver's special lead tokens (its <bos>) start its text; they read the
    first real slot of the sharer's memory (as in training, where they read the sharer's own lead).
    Returns the reads and, per row, the tokens both models read.
    """
    s_rows, r_rows, index = [], [], []
    r_lead = lead(receiver.tokenizer) if receiver_lead else []
    for text in texts:
        s_ids, s_spans = token_spans(sharer.tokenizer, text)
        r_ids, r_spans = token_spans(receiver.tokenizer, text)
        covers = align(s_spans, r_spans).covers
        s_rows.append(s_ids)
        r_rows.append(r_lead + r_ids)
        index.append([None] * len(r_lead) + [hit[-1] if hit else 0 for hit in covers])
    if any(len(r) < 2 for r in r_rows):
        raise LatentspaceError("a receiver prompt needs at least two tokens (one read before fusing, the last after)")
    s_ids, s_mask = left_pad(s_rows, sharer.tokenizer.pad_token_id or 0)
    held, first_real = memory.length, memory.attention_mask.argmax(1)
    s_state = sharer.feed(memory, s_ids, mask=s_mask)
    r_ids, r_mask = left_pad([r[:-1] for r in r_rows], receiver.tokenizer.pad_token_id or 0)
    state = receiver.encode(r_ids, attention_mask=r_mask)
    s_pad, r_pad = (mask.shape[1] - mask.sum(1) for mask in (s_mask, r_mask))
    gather = torch.zeros(r_ids.shape, dtype=torch.long)
    for b, row in enumerate(index):
        slots = [int(first_real[b]) if i is None else held + int(s_pad[b]) + i for i in row[:-1]]
        gather[b, int(r_pad[b]):] = torch.tensor(slots)
    reads = Reads(gathered(s_state.cache, gather), state, torch.tensor([r[-1] for r in r_rows]))
    return reads, [len(s) + len(r) for s, r in zip(s_rows, r_rows)]


def fused_cache(reads: Reads, fuser, temperature: float | None = None, gates=None):
    return kv.from_tensors(fuser(reads.sharer_kv, kv.to_tensors(reads.state.cache), temperature, gates))


def fused_state(receiver, reads: Reads, fuser, gates=None):
    """The receiver's state after its last prompt token, read through the fused cache (hard gates)."""
    with torch.no_grad():
        state = dataclasses.replace(reads.state, cache=fused_cache(reads, fuser, None, gates))
    return receiver.feed(state, reads.last[:, None])


def answer_loss(receiver, reads: Reads, fuser, answers: list[list[int]], temperature: float) -> torch.Tensor:
    """Receiver next-token loss on the answers, teacher-forced, through the fused cache (soft gates)."""
    width = max(len(a) for a in answers)
    pad = receiver.tokenizer.pad_token_id or 0
    ids = torch.full((len(answers), width), pad, dtype=torch.long)
    target = torch.full((len(answers), width), -100, dtype=torch.long)
    mask = torch.zeros(len(answers), width, dtype=torch.long)
    for b, answer in enumerate(answers):
        row = [int(reads.last[b])] + answer[:-1]
        ids[b, :len(row)], target[b, :len(answer)], mask[b, :len(row)] = torch.tensor(row), torch.tensor(answer), 1
    state = reads.state
    positions = state.next_position[:, None] + torch.arange(width)[None]
    full = torch.cat([state.attention_mask, mask.to(state.attention_mask.dtype)], 1)
    out = receiver.forward(ids, full, position_ids=positions, cache=fused_cache(reads, fuser, temperature), grad=True)
    return torch.nn.functional.cross_entropy(out.logits.float().flatten(0, 1), target.flatten(), ignore_index=-100)


def fused_answers(sharer, receiver, fuser, sharer_texts: list[str], receiver_texts: list[str],
                  max_new_tokens: int = 8, batch_size: int = 16) -> list[tuple[str, int]]:
    """(the receiver's greedy answer through the fused cache, positions both models processed) per prompt."""
    out = []
    for first in range(0, len(sharer_texts), batch_size):
        s_texts, r_texts = sharer_texts[first:first + batch_size], receiver_texts[first:first + batch_size]
        reads = read_both(sharer, receiver, s_texts, r_texts)
        state = fused_state(receiver, reads, fuser)
        result = receiver.decode(state, max_new_tokens=max_new_tokens)
        read = [len(slot_index(sharer.tokenizer, receiver.tokenizer, s, r)[0]) + int(n) + 1
                for s, r, n in zip(s_texts, r_texts, reads.state.attention_mask.sum(1))]
        out += [(text, positions + len(ids)) for text, positions, ids in zip(result.texts, read, result.token_ids)]
    return out
