"""Pairs data: JSONL and template specs, built-in concepts, file:line errors."""

import json

import pytest

from latentspace.errors import LatentspaceError
from latentspace.steer.pairs import concepts, expand_spec, load_pairs, read_pairs, render
from latentspace.steer.reading import read_pairs as read_activations


def test_jsonl_pairs_with_plain_and_chat_sides(tmp_path):
    f = tmp_path / "p.jsonl"
    rows = [{"positive": "I love it", "negative": "I hate it"},
            {"prompt": "Review:", "positive": " great", "negative": " awful"},
            {"positive": {"system": "Be happy.", "user": "Hi", "assistant": "I"},
             "negative": {"system": "Be sad.", "user": "Hi", "assistant": "I"}}]
    f.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n")
    pairs = read_pairs(f)
    assert len(pairs) == 3 and pairs[1].prompt == "Review:" and pairs[2].positive["system"] == "Be happy."


@pytest.mark.parametrize("content,message", [
    ('{"positive": "a", "negative": "b"}\n{"positive": "a"}\n', r"p.jsonl:2: expected"),
    ('{"positive": "a", "negative": "b"}\nnot json\n', r"p.jsonl:2: not JSON"),
    ('{"positive": "a", "negative": "b"}\n', "holds 1 pair"),
    ('{"positive": "a", "negative": ""}\n{"positive": "a", "negative": "b"}\n', r"p.jsonl:1: empty text"),
    ('{"positive": {"system": "x"}, "negative": "b"}\n{"positive": "a", "negative": "b"}\n', "needs a non-empty 'user'"),
])
def test_malformed_pairs_files_name_the_line(tmp_path, content, message):
    f = tmp_path / "p.jsonl"
    f.write_text(content)
    with pytest.raises(LatentspaceError, match=message):
        read_pairs(f)


def test_templates_cross_words_and_contexts():
    spec = {"template": "I feel {word} about {context}.", "positive": ["good", "glad"], "negative": ["bad", "sad"],
            "contexts": ["rain", "work"]}
    pairs = expand_spec(spec)
    assert len(pairs) == 4 and pairs[0].positive == "I feel good about rain." and pairs[0].negative == "I feel bad about rain."
    with pytest.raises(LatentspaceError, match="equal length"):
        expand_spec({**spec, "negative": ["bad"]})
    with pytest.raises(LatentspaceError, match=r"only use \{word\} and \{context\}"):
        expand_spec({**spec, "template": "{mood}"})


def test_builtin_concepts_load_and_render_on_a_model_without_chat_template(llama):
    names = concepts()
    assert {"sentiment", "formality", "english_french"} <= set(names)
    pairs = load_pairs("sentiment")
    assert len(pairs) == 50
    side = render(llama, pairs[0].positive)
    assert "Act as if you are extremely happy." in side.prefix and side.completion == "I"
    with pytest.raises(LatentspaceError, match="no concept or pairs file .sentimental.; built-in concepts: "):
        load_pairs("sentimental")


def test_completion_position_averages_only_the_completion(llama):
    pairs = load_pairs("sentiment")[:3]
    pos, neg = read_activations(llama, pairs, [0], "completion")
    last, _ = read_activations(llama, pairs, [0], "last")
    assert pos[0].shape == (3, 64)
    assert torch_allclose(pos[0], last[0])  # a one-token completion: its mean is its last token


def torch_allclose(a, b):
    import torch

    return torch.allclose(a, b, atol=1e-5)
