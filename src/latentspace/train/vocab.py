"""A word-level tokenizer built from a task's own vocabulary (for models trained from scratch).

Research-scale tasks (ProsQA, ProntoQA, multiplication) have a few dozen to a few hundred words;
a word-level vocabulary keeps sequences short and every token meaningful (a lens reading of a
thought then names graph nodes directly). Words are runs of letters/digits; every other visible
character and the newline are tokens of their own; ``###`` (the answer marker) is one token.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from tokenizers import Regex, Tokenizer, models, pre_tokenizers
from transformers import PreTrainedTokenizerFast

from latentspace.model.markers import MARKERS

PAD, EOS, UNK = "<pad>", "<eos>", "<unk>"
ANSWER_MARK = "###"
PIECES = r"\n|###|\w+|[^\s\w]"  # what one token is


def words(text: str) -> list[str]:
    """The tokens a text splits into (the same split the tokenizer makes)."""
    return re.findall(PIECES, text)


def word_tokenizer(texts: Iterable[str], extra: Iterable[str] = ()) -> PreTrainedTokenizerFast:
    """A tokenizer whose vocabulary is every word of ``texts`` plus the special tokens.

    Ids are stable for the same texts: specials first (pad 0, eos 1, unk 2, then the latent
    markers and ``###``), then words in sorted order.
    """
    specials = [PAD, EOS, UNK, *MARKERS]
    found = sorted(({w for text in texts for w in words(text)} | set(extra)) - set(specials) - {ANSWER_MARK})
    vocab = {token: i for i, token in enumerate([*specials, ANSWER_MARK, *found])}
    core = Tokenizer(models.WordLevel(vocab, unk_token=UNK))
    core.pre_tokenizer = pre_tokenizers.Split(Regex(PIECES), behavior="removed", invert=True)
    core.add_special_tokens([PAD, EOS, UNK, *MARKERS])
    return PreTrainedTokenizerFast(tokenizer_object=core, pad_token=PAD, eos_token=EOS, unk_token=UNK,
                                   bos_token=None, additional_special_tokens=list(MARKERS))


def symbol_tokenizer(texts: Iterable[str], extra: Iterable[str] = ()) -> PreTrainedTokenizerFast:
    """A tokenizer for symbolic tasks (mnns, prosqa-sym): every whitespace-separated symbol is one
    token ("-3", "[Q]", "n17"), newlines are only separators — the papers' one token per value.

    Ids are stable for the same texts, laid out like `word_tokenizer`'s.
    """
    specials = [PAD, EOS, UNK, *MARKERS]
    found = sorted(({w for text in texts for w in text.split()} | set(extra)) - set(specials) - {ANSWER_MARK})
    vocab = {token: i for i, token in enumerate([*specials, ANSWER_MARK, *found])}
    core = Tokenizer(models.WordLevel(vocab, unk_token=UNK))
    core.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    core.add_special_tokens([PAD, EOS, UNK, *MARKERS])
    return PreTrainedTokenizerFast(tokenizer_object=core, pad_token=PAD, eos_token=EOS, unk_token=UNK,
                                   bos_token=None, additional_special_tokens=list(MARKERS))
