"""Token alignment between two tokenizers by character offsets.

Two models read the same text in different tokens. Each token covers a span of characters
(a fast tokenizer's ``offset_mapping``); a receiver token is aligned to every sharer token whose
span overlaps its own. Where both tokenizations end a token at the same character, the two hidden
states at those tokens summarise exactly the same prefix: those *shared ends* are the pairs a map
between hidden spaces is fitted on.
"""

from __future__ import annotations

from dataclasses import dataclass

from latentspace.core.errors import LatentspaceError

Span = tuple[int, int]


def token_spans(tokenizer, text: str) -> tuple[list[int], list[Span]]:
    """(ids, character spans) of ``text`` without special tokens; a token with no characters
    (a byte-fallback piece sharing a character with its neighbour) keeps its neighbour's span."""
    if not getattr(tokenizer, "is_fast", False):
        raise LatentspaceError(f"{type(tokenizer).__name__} gives no character offsets: token alignment needs a "
                               "fast (Rust) tokenizer")
    encoded = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    ids, spans = list(encoded["input_ids"]), [tuple(map(int, s)) for s in encoded["offset_mapping"]]
    if not ids:
        raise LatentspaceError("token alignment: the text has no tokens")
    return ids, [trim(text, s) for s in spans]


def trim(text: str, span: Span) -> Span:
    """The span without its leading whitespace (one tokenizer glues a space to the next word, another
    keeps it alone): tokens are compared by the characters they carry."""
    start, end = span
    while start < end - 1 and text[start].isspace():
        start += 1
    return start, end


@dataclass(frozen=True)
class Alignment:
    """The same text in two tokenizations: ``covers[j]`` = the sharer tokens overlapping receiver token j."""

    sharer: list[Span]
    receiver: list[Span]
    covers: list[list[int]]

    def shared_ends(self) -> list[tuple[int, int]]:
        """(sharer index, receiver index) of the tokens both tokenizations end at the same character."""
        last_sharer = {}
        for i, (_, end) in enumerate(self.sharer):
            last_sharer[end] = i  # several tokens may end at one character (byte pieces): the last reads it all
        last_receiver = {}
        for j, (_, end) in enumerate(self.receiver):
            last_receiver[end] = j
        return [(last_sharer[end], j) for end, j in sorted(last_receiver.items()) if end in last_sharer]


def align(sharer: list[Span], receiver: list[Span]) -> Alignment:
    """Overlap of character spans, in one pass over both (spans are in text order)."""
    covers, first = [], 0
    for start, end in receiver:
        while first < len(sharer) and sharer[first][1] <= start:
            first += 1  # sharer tokens wholly before this receiver token are never needed again
        hit, i = [], first
        while i < len(sharer) and sharer[i][0] < end:
            if sharer[i][1] > start:
                hit.append(i)
            i += 1
        covers.append(hit)
    return Alignment(sharer, receiver, covers)


def align_text(sharer_tokenizer, receiver_tokenizer, text: str) -> tuple[list[int], list[int], Alignment]:
    """(sharer ids, receiver ids, their alignment) of one text."""
    s_ids, s_spans = token_spans(sharer_tokenizer, text)
    r_ids, r_spans = token_spans(receiver_tokenizer, text)
    return s_ids, r_ids, align(s_spans, r_spans)
