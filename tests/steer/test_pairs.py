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
    with pytest.raises(LatentspaceError, match=r"only use \{word\} and \{context\}"):
        expand_spec({**spec, "template": "a stray } brace {word}"})
    with pytest.raises(LatentspaceError, match="text or a chat turn"):
        expand_spec({**spec, "template": 3})


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
    import torch

    from latentspace.steer import Pair

    pairs = [Pair(" so happy today", " so sad today", prompt="Q: how are you? A:"),
             Pair(" glad", " gloomy", prompt="Q: mood? A:")]
    pos, _ = read_activations(llama, pairs, [1], "completion")
    for row, pair in enumerate(pairs):
        head = llama.tokenizer(pair.prompt)["input_ids"]
        tail = llama.tokenizer(pair.positive, add_special_tokens=False)["input_ids"]
        rec = llama.record(torch.tensor([head + tail]), [("resid_post", 1)])
        expected = rec["resid_post", 1][0, len(head):].float().mean(0)  # by hand: the completion's tokens
        assert torch.allclose(pos[1][row], expected, atol=1e-5)
        assert not torch.allclose(pos[1][row], rec["resid_post", 1][0].float().mean(0), atol=1e-3)


def test_probe_scorer_reads_texts_with_the_unsteered_model(llama, tmp_path):
    from latentspace.lens.probes import activations, fit_probe
    from latentspace.steer.scorers import get_scorer

    texts = [f"good {i} good" for i in range(8)] + [f"bad {i} bad" for i in range(8)]
    labels = ["pos"] * 8 + ["neg"] * 8
    x = activations(llama, texts, layers=[1], position="mean")[1]
    probe, _ = fit_probe(x, labels, "classification")
    path = probe.save(tmp_path / "judge.safetensors", llama.fingerprint, {"layer": 1, "position": "mean"})
    judge = get_scorer(llama, f"probe:{path}:pos")
    good, bad = judge(["good 3 good", "bad 3 bad"])
    assert 0 <= bad < 0.5 < good <= 1
    with pytest.raises(LatentspaceError, match="unknown scorer 'bleu'"):
        get_scorer(llama, "bleu")
