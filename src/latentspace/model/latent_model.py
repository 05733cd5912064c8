"""LatentModel: a Hugging Face causal LM with canonical sites, hooks and latent stepping.

It wraps the HF model (never reimplements or modifies it). The data flow every capability uses:

    state = lm.encode(["question"])            # prefill -> KV cache, last hidden, next logits
    state = lm.step(state, lm.align(state.hidden))   # append a continuous thought
    text = lm.decode(state, max_new_tokens=32).texts[0]
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from functools import cached_property

import torch

from latentspace.core.errors import LatentspaceError
from latentspace.core.files import check_text
from latentspace.core.saved import describe, fingerprint
from latentspace.model import kv
from latentspace.model.align import Aligner
from latentspace.model.decode import DecodeResult, decode
from latentspace.model.head import soft_cap
from latentspace.model.hooks import HookSession, Intervention, Positions, Recording, StopForward, check_vector
from latentspace.model.registry import DEFAULT_MODEL, load as load_spec
from latentspace.model.sites import SiteMap, resolve
from latentspace.model.state import LATENT_ID, LatentState, PRESSED_ID
from latentspace.model.text import chat as chat_text, left_pad

Prompts = str | Sequence[str]


class LatentModel:
    """A loaded model plus everything latentspace needs to work in its latent space."""

    def __init__(self, model: torch.nn.Module, tokenizer, name: str = "model") -> None:
        self.model, self.tokenizer, self.name = model.eval(), tokenizer, name
        self.sites: SiteMap = resolve(model)
        self._cache_arg = kv.cache_kwarg(model)
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token  # decoder-only convention: pad = EOS, masked anyway
        self.press = None  # applied to every `encode` without its own press (see `pressing`)
        self.checkpoint = None  # called before every forward step; raises to stop a run (see `interruptible`)

    @classmethod
    def load(cls, spec: str = DEFAULT_MODEL, device: str = "cpu", dtype: torch.dtype = torch.float32,
             show_progress: bool = True) -> LatentModel:
        """Load a registry name, local folder, .gguf file or (online only) hub id."""
        model, tok, name = load_spec(spec, dtype=dtype, show_progress=show_progress)
        return cls(model.to(device), tok, name)

    # -- sizes ----------------------------------------------------------------------------------
    @property
    def config(self):
        return self.model.config.get_text_config()

    @property
    def n_layers(self) -> int:
        return self.sites.n_layers

    @property
    def hidden_size(self) -> int:
        return self.sites.embed.weight.shape[-1]

    @property
    def vocab_size(self) -> int:
        return self.sites.unembed.weight.shape[0]

    @property
    def device(self) -> torch.device:
        return self.sites.embed.weight.device

    @property
    def dtype(self) -> torch.dtype:
        return self.sites.embed.weight.dtype

    @property
    def max_positions(self) -> int | None:
        """Longest sequence the model accepts (absolute-position models fail beyond it)."""
        return getattr(self.config, "max_position_embeddings", None) or getattr(self.config, "n_positions", None)

    @cached_property
    def fingerprint(self) -> dict:
        return fingerprint(self.model)

    @cached_property
    def input_embeddings(self) -> torch.Tensor:
        """``[V, d]``: exactly the vector the model adds for each token (Gemma's scale included)."""
        weight = self.sites.embed.weight.detach()
        scale = getattr(self.sites.embed, "embed_scale", None)
        return weight * scale.to(weight.dtype) if torch.is_tensor(scale) else weight * (scale or 1.0)

    @cached_property
    def aligner(self) -> Aligner:
        return Aligner(self.input_embeddings, self.sites.unembed.weight.detach())

    # -- text -----------------------------------------------------------------------------------
    def chat(self, user: str, system: str | None = None) -> str:
        """The prompt text of a one-turn chat, ending where the assistant starts speaking."""
        return chat_text(self.tokenizer, user, system)

    # Text becomes ids only in `token_ids` and `tokenize` (every command reads text through them), so
    # text that is not valid Unicode or longer than the context is refused here, before any pass.
    def token_ids(self, text: str, add_special_tokens: bool = False, held: int = 0) -> list[int]:
        """Token ids of one text (no padding), checked to fit the context after ``held`` slots."""
        if not isinstance(text, str):
            raise LatentspaceError(f"text must be a string, not {type(text).__name__}")
        check_text(text, "text")
        ids = self.tokenizer(text, add_special_tokens=add_special_tokens)["input_ids"]
        self.check_fits(len(ids), held)
        return ids

    def check_fits(self, n: int, held: int = 0) -> None:
        """Refuse ``n`` new tokens after ``held`` slots when they exceed the model's context."""
        limit = self.max_positions
        if limit and held + n > limit:
            after = f" after {held} held" if held else ""
            raise LatentspaceError(f"text is {n} tokens{after}; the model's context is {limit} positions")

    def tokenize(self, prompts: Prompts, chat: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """Left-padded ``(ids, attention_mask)``; refuses empty prompts and ones over the context."""
        prompts = [prompts] if isinstance(prompts, str) else list(prompts)
        if not prompts or any(not isinstance(p, str) or not p.strip() for p in prompts):
            raise LatentspaceError("empty prompt")
        texts = [self.chat(check_text(p, "prompt")) for p in prompts] if chat else prompts
        rows = [self.token_ids(t, add_special_tokens=not chat) for t in texts]
        return self.pad(rows)

    def pad(self, rows: Sequence[Sequence[int]]) -> tuple[torch.Tensor, torch.Tensor]:
        """Left-padded ``(ids, attention_mask)`` of token id rows."""
        ids, mask = left_pad(rows, self.tokenizer.pad_token_id)
        return ids.to(self.device), mask.to(self.device)

    def embed(self, ids: torch.Tensor) -> torch.Tensor:
        """Input embeddings of token ids, as the model computes them."""
        with torch.no_grad():
            return self.sites.embed(ids.to(self.device))

    # -- plain forward and hooks ----------------------------------------------------------------
    def forward(self, ids: torch.Tensor | None = None, attention_mask: torch.Tensor | None = None, *,
                inputs_embeds: torch.Tensor | None = None, position_ids: torch.Tensor | None = None,
                cache=None, logits_to_keep: int = 0, grad: bool = False):
        """The HF forward pass with position ids derived from the mask for left padding.

        No autograd graph unless ``grad`` (test-time optimisation of input vectors needs one).
        """
        if self.checkpoint is not None:  # a run inside `interruptible` stops here, between passes
            self.checkpoint()
        if attention_mask is not None and position_ids is None and cache is None:
            position_ids = positions_from_mask(attention_mask)
        kwargs = {self._cache_arg: cache} if cache is not None else {}
        with torch.enable_grad() if grad else torch.no_grad():
            return self.model(input_ids=ids, inputs_embeds=inputs_embeds, attention_mask=attention_mask,
                              position_ids=position_ids, use_cache=cache is not None,
                              logits_to_keep=logits_to_keep, **kwargs)

    def hooks(self, record: Sequence[tuple[str, int | None]] = (), positions: Positions = None,
              interventions: Sequence[Intervention] = (), stop_early: bool = False) -> HookSession:
        """Context manager: ``with lm.hooks(record=[("resid_post", 3)]) as rec: lm.forward(ids)``."""
        return HookSession(self.model, self.sites, record, positions, interventions, stop_early)

    def record(self, prompts: Prompts | torch.Tensor, sites: Sequence[tuple[str, int | None]],
               positions: Positions = None, chat: bool = False,
               attention_mask: torch.Tensor | None = None) -> Recording:
        """Run only as far as the last requested site and return the recording.

        ``prompts`` is text (tokenized with left padding) or ids, with their ``attention_mask``
        when they are padded.
        """
        ids, mask = self._as_ids(prompts, chat)
        mask = mask if attention_mask is None else attention_mask.to(self.device)
        with self.hooks(record=sites, positions=positions, stop_early=True) as rec:
            try:
                self.forward(ids, mask)
            except StopForward:
                pass
        return rec

    def _as_ids(self, prompts, chat: bool):
        if torch.is_tensor(prompts):
            ids = prompts.to(self.device)
            ids = ids[None] if ids.dim() == 1 else ids
            self.check_fits(ids.shape[-1])
            return ids, torch.ones_like(ids)
        return self.tokenize(prompts, chat)

    # -- latent stepping ------------------------------------------------------------------------
    def encode(self, prompts: Prompts | torch.Tensor, chat: bool = False,
               attention_mask: torch.Tensor | None = None, press=None,
               inputs_embeds: torch.Tensor | None = None) -> LatentState:
        """Prefill a batch of prompts (text, or ids left-padded with their ``attention_mask``).

        ``press`` (a `latentspace.memory.presses.Press`, default ``self.press``) compresses the
        cache this prefill writes; the returned logits and hidden state are those of the full read.
        ``inputs_embeds`` ``[B, n, d]`` (with ids) is what the model reads instead of the ids' embeddings
        — a prompt whose picture placeholders hold image tokens; the state keeps the ids.
        """
        ids, mask = self._as_ids(prompts, chat)
        mask = mask if attention_mask is None else attention_mask.to(self.device, mask.dtype)
        if inputs_embeds is not None and inputs_embeds.shape[:2] != ids.shape:
            raise LatentspaceError(f"inputs_embeds {tuple(inputs_embeds.shape)} do not match the prompt's ids "
                                   f"{tuple(ids.shape)}")
        empty = LatentState(kv.new_cache(), ids[:, :0], mask[:, :0], torch.zeros(len(ids), dtype=torch.long,
                            device=self.device), logits=None, hidden=None)
        embeds = None if inputs_embeds is None else inputs_embeds.to(self.device, self.input_embeddings.dtype)
        return self._advance(empty, ids=ids, embeds=embeds, mask=mask, press=self.press if press is None else press)

    @contextmanager
    def pressing(self, press) -> Iterator[LatentModel]:
        """Every `encode` inside compresses its cache with ``press`` (any strategy, any pipeline)."""
        before, self.press = self.press, press
        try:
            yield self
        finally:
            self.press = before

    @contextmanager
    def interruptible(self, check) -> Iterator[LatentModel]:
        """``check()`` runs before every forward pass inside (each prefill, latent step, decoded token,
        optimisation step, lens read); whatever it raises stops the run there (a server cancels a
        request whose client has gone this way)."""
        before, self.checkpoint = self.checkpoint, check
        try:
            yield self
        finally:
            self.checkpoint = before

    def step(self, state: LatentState, vectors: torch.Tensor, rows: torch.Tensor | None = None,
             mask: torch.Tensor | None = None) -> LatentState:
        """Append continuous input vectors: ``[d]``, ``[B, d]`` (one slot) or ``[B, n, d]``.

        ``rows`` (bool ``[B]``) steps only some rows of a batch: the others get masked slots, keep
        their position, logits and hidden state — as if they had not been stepped at all. This is
        how a batch keeps thinking after some of its questions have stopped. ``mask`` (``[B, n]``,
        0 = a pad) does the same per slot: rows appending different numbers of vectors (a mapped
        memory handed over from another model) left-pad them.
        """
        vectors = torch.as_tensor(vectors).to(self.device, self.dtype)
        vectors = vectors.expand(state.batch_size, -1) if vectors.dim() == 1 else vectors
        vectors = vectors[:, None] if vectors.dim() == 2 else vectors
        if vectors.dim() != 3 or vectors.shape[0] != state.batch_size:
            raise LatentspaceError(f"latent vectors of shape {tuple(vectors.shape)} for a batch of {state.batch_size}")
        if rows is not None and mask is not None:
            raise LatentspaceError("give rows or mask, not both")
        if rows is not None:
            rows = rows.to(self.device, torch.bool)
            # a masked slot is never attended to, but 0 x NaN is NaN: never let a bad vector in at all
            vectors = torch.where(rows[:, None, None], vectors, torch.zeros_like(vectors))
            mask = rows[:, None].expand(-1, vectors.shape[1]).to(state.attention_mask.dtype)
        elif mask is not None:
            mask = torch.as_tensor(mask).to(self.device, state.attention_mask.dtype)
            if mask.shape != vectors.shape[:2]:
                raise LatentspaceError(f"mask {tuple(mask.shape)} does not match {tuple(vectors.shape[:2])} vectors")
            vectors = torch.where(mask[..., None] > 0, vectors, torch.zeros_like(vectors))
        vectors = check_vector(vectors, self.hidden_size, "latent vector")
        return self._advance(state, embeds=vectors, mask=mask)

    def feed(self, state: LatentState, ids: torch.Tensor, with_hidden: bool = True,
             mask: torch.Tensor | None = None, press=None) -> LatentState:
        """Append tokens ``[B, n]`` (explicit steps); ``mask`` ``[B, n]`` marks pads (0) when rows
        append different numbers of tokens (left-pad each row's chunk). ``press`` compresses the
        slots this chunk adds (the ones already held stay as they are)."""
        ids = ids.to(self.device)
        ids = ids[:, None] if ids.dim() == 1 else ids
        if mask is not None:
            mask = mask.to(self.device, state.attention_mask.dtype)
            if mask.shape != ids.shape:
                raise LatentspaceError(f"mask {tuple(mask.shape)} does not match ids {tuple(ids.shape)}")
        return self._advance(state, ids=ids, mask=mask, with_hidden=with_hidden, press=press)

    def check_owner(self, state: LatentState) -> None:
        """Refuse a state (a memory) another model made: its keys mean nothing to this model."""
        owner = state.owner
        if owner is None or owner is self:
            return
        theirs = owner.fingerprint if isinstance(owner, LatentModel) else owner
        if theirs != self.fingerprint:
            raise LatentspaceError(f"this latent state was made by another model ({describe(theirs)}), "
                                   f"not by {describe(self.fingerprint)}")

    def _advance(self, state: LatentState, ids=None, embeds=None, mask=None, with_hidden: bool = True,
                 press=None) -> LatentState:
        state.check_usable()
        self.check_owner(state)
        new = ids if ids is not None else embeds
        batch, n = new.shape[:2]
        if ids is not None and ids.numel() and (ids.min() < 0 or ids.max() >= self.vocab_size):
            raise LatentspaceError(f"token id out of range: the vocabulary has {self.vocab_size} ids")
        if self.max_positions and int(state.next_position.max()) + n > self.max_positions:
            held = int(state.next_position.max())
            what = "text" if ids is not None else "latent input"
            raise LatentspaceError(f"{what} is {n} {'tokens' if ids is not None else 'slots'}"
                                   f"{f' after {held} held' if held else ''}; the model's context is "
                                   f"{self.max_positions} positions")
        if mask is None:
            mask = torch.ones(batch, n, dtype=state.attention_mask.dtype, device=self.device)
        positions = state.next_position[:, None] + (mask.cumsum(1) - 1).clamp_min(0)
        positions = positions.masked_fill(mask == 0, 1)  # pads get any valid position; they are masked
        full_mask = torch.cat([state.attention_mask, mask], dim=1)
        # decoding needs only logits: skip even the cheap final-norm hook then
        session = self.hooks(record=[("final_norm", None)], positions="last") if with_hidden else nullcontext()
        # a press hands the model its own hook object (kvpress's shape): this layer imports no press
        squeeze = nullcontext() if press is None else press.on_pass(self, state.cache, state.attention_mask, mask, ids,
                                                                    state.next_position + mask.sum(1))
        try:
            with session as rec:
                with squeeze:
                    out = self.forward(ids if embeds is None else None, full_mask, inputs_embeds=embeds,
                                       position_ids=positions, cache=state.cache, logits_to_keep=1)
            kept = squeeze.finish() if press is not None else None  # outside the recording: a press may run a probe
        finally:
            state.consumed = True  # the cache was extended in place, also if the pass was cut short
        if ids is None:
            pad = self.tokenizer.pad_token_id
            ids = torch.full((batch, n), LATENT_ID, device=self.device).masked_fill(mask == 0, pad)
        logits, hidden = out.logits[:, -1], rec["final_norm"][:, -1] if with_hidden else None
        idle = mask.sum(1) == 0  # rows that took no slot keep what they had
        if idle.any() and state.logits is not None:
            logits = torch.where(idle[:, None], state.logits, logits)
            if hidden is not None and state.hidden is not None:
                hidden = torch.where(idle[:, None], state.hidden, hidden)
        next_position = state.next_position + mask.sum(1)
        if kept is not None:  # the press cut this pass's slots: the rows keep their positions
            mask, kept_ids = kept
            ids = torch.full_like(mask, PRESSED_ID) if kept_ids is None else kept_ids
            ids = ids.to(self.device).masked_fill(mask == 0, self.tokenizer.pad_token_id)
            full_mask = torch.cat([state.attention_mask, mask.to(state.attention_mask.dtype)], dim=1)
        return LatentState(
            cache=kv.output_cache(out), ids=torch.cat([state.ids, ids], 1), attention_mask=full_mask,
            next_position=next_position, logits=logits, hidden=hidden, owner=self,
        )

    def decode(self, state: LatentState, max_new_tokens: int = 64, **options) -> DecodeResult:
        """Continue with text (greedy by default); consumes ``state``. See `model.decode.decode`."""
        self.check_owner(state)
        return decode(self, state, max_new_tokens=max_new_tokens, **options)

    def generate(self, prompt: str, max_new_tokens: int = 64, chat: bool = True, **options) -> str:
        """Plain text generation for one prompt."""
        return self.decode(self.encode(prompt, chat=chat), max_new_tokens, **options).texts[0]

    def head(self, hidden: torch.Tensor, normed: bool = False) -> torch.Tensor:
        """Logits the model's own head gives residual-stream vectors ``[..., d]``.

        The final norm is applied to each vector with its *own* statistics (never a cached scale
        from another layer — the logit-lens bug anchors.md warns about), then the LM head, then
        the final logit soft-capping of families that have it (Gemma 2/3). Gradients flow (the
        tuned lens trains through it); wrap in ``torch.no_grad()`` to read only.
        """
        h = hidden if normed else self.sites.final_norm(hidden.to(self.device, self.dtype))
        return soft_cap(self.sites.unembed(h), self.config)

    def align(self, hidden: torch.Tensor, method: str = "ridge", logits: torch.Tensor | None = None,
              temperature: float = 1.0) -> torch.Tensor:
        """Hidden state -> input-embedding space (see `model.align`)."""
        return self.aligner(hidden, method, logits, temperature)


def positions_from_mask(mask: torch.Tensor) -> torch.Tensor:
    """Position ids that skip left padding (what HF generate does)."""
    return (mask.long().cumsum(-1) - 1).masked_fill(mask == 0, 1)
