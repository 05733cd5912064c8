"""Text decoding from a LatentState: greedy or sampled, stop strings, streaming, batched.

Our own loop (rather than `generate`) because it must start from any state — including one whose
last slots are continuous vectors, which `generate` cannot resume from.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

from latentspace.core.errors import LatentspaceError

if TYPE_CHECKING:
    from latentspace.model.latent_model import LatentModel
    from latentspace.model.state import LatentState


@dataclass
class DecodeResult:
    texts: list[str]
    token_ids: list[list[int]]  # generated ids per row, the EOS included when one was produced
    stop_reasons: list[str]  # "eos", "stop:<string>" or "length"

    @property
    def n_tokens(self) -> int:
        return sum(len(t) for t in self.token_ids)


def pick_next(logits: torch.Tensor, temperature: float, top_p: float, generator: torch.Generator | None):
    """Greedy when temperature == 0, else nucleus sampling."""
    if temperature == 0:
        return logits.argmax(-1)
    # in float64 (a temperature float32 rounds to 0 still divides) and shifted so the largest logit is 0:
    # a tiny temperature gives -inf, never inf (inf - inf was NaN), so sampling tends to greedy as it should
    shifted = logits.double() - logits.double().max(-1, keepdim=True).values
    probs = torch.softmax(shifted / temperature, dim=-1)
    if top_p < 1.0:
        sorted_p, order = probs.sort(dim=-1, descending=True)
        drop = sorted_p.cumsum(-1) - sorted_p > top_p  # keep the smallest set reaching top_p
        probs = probs.scatter(-1, order, sorted_p.masked_fill(drop, 0.0))
    return torch.multinomial(probs.cpu(), 1, generator=generator).squeeze(-1).to(logits.device)


def decode(
    lm: LatentModel,
    state: LatentState,
    max_new_tokens: int = 64,
    temperature: float = 0.0,
    top_p: float = 1.0,
    stop: Sequence[str] = (),
    on_text: Callable[[int, str], None] | None = None,
    seed: int | None = None,
    on_logits: Callable[[torch.Tensor, torch.Tensor], None] | None = None,
    min_new_tokens: int = 0,
    max_cache: int | None = None,
    shrink: Callable[[LatentModel, LatentState, int], LatentState] | None = None,
) -> DecodeResult:
    """Generate until EOS, a stop string or ``max_new_tokens``; EOS is barred before ``min_new_tokens``.

    ``on_text(row, piece)`` streams text; ``on_logits(logits, tokens)`` sees each step's next-token
    logits ``[B, V]`` and the tokens picked from them (for traces).

    Decode-time compression: with ``max_cache`` slots, whenever the cache grows past it,
    ``shrink(lm, state, max_cache)`` cuts it (the caller's choice: the model layer knows no press;
    `latentspace.memory.presses.after.decode_shrink()` is StreamingLLM's sinks + recent tokens, cut
    to three quarters of ``max_cache``), so long generations run in bounded memory.
    """
    if max_new_tokens < 0 or temperature < 0 or not 0 < top_p <= 1 or min_new_tokens < 0:
        raise LatentspaceError("need max_new_tokens >= 0, min_new_tokens >= 0, temperature >= 0 and 0 < top_p <= 1")
    if any(not s for s in stop):
        raise LatentspaceError("stop strings must not be empty")
    state.check_usable()
    if not torch.isfinite(state.logits).all():
        raise LatentspaceError("the state's next-token logits contain NaN/inf; refusing to decode")
    if max_cache is not None and max_cache < 8:
        raise LatentspaceError(f"max_cache must be at least 8 slots, got {max_cache}")
    if max_cache is not None and shrink is None:
        raise LatentspaceError("max_cache needs shrink=, what cuts the cache (e.g. "
                               "latentspace.memory.presses.after.decode_shrink())")
    generator = torch.Generator().manual_seed(seed) if seed is not None else None
    eos = eos_ids(lm)
    batch = state.batch_size
    generated: list[list[int]] = [[] for _ in range(batch)]
    reasons = ["length"] * batch
    texts = [""] * batch
    done = torch.zeros(batch, dtype=torch.bool)
    logits = state.logits
    barred = torch.tensor(sorted(eos), dtype=torch.long, device=state.logits.device)
    for step in range(max_new_tokens):
        allowed = logits
        if step < min_new_tokens and len(barred):  # as HF's min_new_tokens: no EOS yet
            allowed = logits.index_fill(-1, barred, float("-inf"))
        tokens = pick_next(allowed, temperature, top_p, generator)
        if on_logits:
            on_logits(logits, tokens)  # traces read the model's own distribution
        for row in range(batch):
            if done[row]:
                continue
            token = int(tokens[row])
            generated[row].append(token)
            if token in eos:
                done[row], reasons[row] = True, "eos"
            if stop or on_text:
                _update_text(lm, row, generated[row], texts, stop, reasons, done, on_text)
        if bool(done.all()) or step == max_new_tokens - 1:
            break
        if lm.max_positions and int(state.next_position.max()) + 1 > lm.max_positions:
            reasons = [r if done[i] else "context" for i, r in enumerate(reasons)]
            break
        pad = lm.tokenizer.pad_token_id
        feed = torch.where(done.to(tokens.device), torch.full_like(tokens, pad), tokens)
        state = lm.feed(state, feed[:, None], with_hidden=False)
        if max_cache is not None and state.length > max_cache:
            state = shrink(lm, state, max_cache)
        logits = state.logits
    state.consumed = True
    final = [_final_text(lm, ids, text, reason) for ids, text, reason in zip(generated, texts, reasons)]
    for row, text in enumerate(final):
        if on_text and len(text) > len(texts[row]) and text.startswith(texts[row]):
            on_text(row, text[len(texts[row]):])  # what was held back while it could start a stop string
    return DecodeResult(final, generated, reasons)


def eos_ids(lm: LatentModel) -> set[int]:
    ids = lm.model.generation_config.eos_token_id if lm.model.generation_config else None
    ids = ids if isinstance(ids, list) else [ids]
    return {i for i in [*ids, lm.tokenizer.eos_token_id] if i is not None}


def _update_text(lm: LatentModel, row, ids, texts, stop, reasons, done, on_text) -> None:
    text = lm.tokenizer.decode(ids, skip_special_tokens=True)
    if text.endswith("\ufffd"):
        return  # an incomplete multi-byte character: wait for the rest
    for s in stop:
        cut = text.find(s)
        if cut >= 0:
            text, done[row], reasons[row] = text[:cut], True, f"stop:{s}"
            break
    if on_text:
        # hold back an ending that may be the start of a stop string, so it is never streamed
        safe = text if done[row] else text[: len(text) - _partial_stop(text, stop)]
        if len(safe) > len(texts[row]):
            on_text(row, safe[len(texts[row]):])
            texts[row] = safe
    else:
        texts[row] = text


def _partial_stop(text: str, stop: Sequence[str]) -> int:
    """Length of the longest ending of ``text`` that is a proper prefix of a stop string."""
    return max((n for s in stop for n in range(1, len(s)) if text.endswith(s[:n])), default=0)


def _final_text(lm: LatentModel, ids: list[int], text: str, reason: str) -> str:
    return text if reason.startswith("stop:") else lm.tokenizer.decode(ids, skip_special_tokens=True)
