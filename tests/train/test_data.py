"""Word-level tokenizer and tokenised training examples."""

import pytest

from latentspace import LatentspaceError
from latentspace.model.markers import END_LATENT, LATENT, START_LATENT, latent_markers
from latentspace.tasks import Item, get_task
from latentspace.train import encode_examples, split_items, word_tokenizer
from latentspace.train.vocab import words


def test_word_tokenizer_covers_a_task_and_round_trips_its_words():
    items = get_task("prosqa").generate(20, seed=0)
    texts = [t for item in items for t in (item.question, item.answer, *item.steps)]
    tok = word_tokenizer(texts)
    assert tok.pad_token_id == 0 and tok.eos_token_id == 1 and tok.unk_token_id == 2
    assert latent_markers(tok) is not None and tok.convert_tokens_to_ids(LATENT) > 2
    ids = tok.encode(items[0].question, add_special_tokens=False)
    assert tok.unk_token_id not in ids
    assert tok.convert_ids_to_tokens(ids) == words(items[0].question)
    assert tok.encode("Every wumpus is a zumpus.\n### Tom", add_special_tokens=False) == \
        tok.convert_tokens_to_ids(["Every", "wumpus", "is", "a", "zumpus", ".", "\n", "###", "Tom"])
    for marker in (START_LATENT, END_LATENT, LATENT):  # markers are single tokens, never split
        assert len(tok.encode(marker, add_special_tokens=False)) == 1
    assert word_tokenizer(texts).get_vocab() == tok.get_vocab()  # same texts, same ids
    odd = word_tokenizer(["a b ### c"])  # "###" in the data is still the one answer-mark token
    assert sorted(odd.get_vocab().values()) == list(range(len(odd)))


def test_examples_follow_coconuts_layout():
    item = Item("Is Tom a wumpus?", "Tom is a wumpus.", ["Tom is a zumpus.", "Every zumpus is a wumpus."])
    tok = word_tokenizer([item.question, item.answer, *item.steps])
    (ex,) = encode_examples(tok, [item], need_steps=True)
    joined = ex.question + [t for s in ex.steps for t in s] + ex.answer
    whole = tok.encode(f"{item.question}\n{item.steps[0]}\n{item.steps[1]}\n### {item.answer}", add_special_tokens=False)
    assert joined == whole + [tok.eos_token_id]
    with pytest.raises(LatentspaceError, match="item 0 has no steps"):
        encode_examples(tok, [Item("q?", "a")], need_steps=True)


def test_split_is_disjoint_and_seeded():
    items = get_task("prontoqa").generate(30, seed=0)
    train, valid, test = split_items(items, 5, 5, seed=1)
    assert (len(train), len(valid), len(test)) == (20, 5, 5)
    assert {i.question for i in train}.isdisjoint(i.question for i in valid + test)
    assert split_items(items, 5, 5, seed=1)[1] == valid and split_items(items, 5, 5, seed=2)[1] != valid
    with pytest.raises(LatentspaceError, match="cannot give"):
        split_items(items, 20, 10)
    with pytest.raises(LatentspaceError, match="must not be negative"):
        split_items(items, 5, -1)
