"""Agents on two models (issue 22): hand-overs by fuser, map or text, and the transcript says which."""

import json

import pytest
import torch

from latentspace.agents.baselines import run_single
from latentspace.agents.cross_model import Recorder
from latentspace.agents.pipelines import from_dict, run
from latentspace.bridge.fused import read_both
from latentspace.bridge.fuser import CacheFuser, fuser_shape
from latentspace.bridge.hidden_map import HiddenMap, LayerMap
from latentspace.errors import LatentspaceError
from latentspace.model import kv
from latentspace.model.latent_model import LatentModel

QUESTIONS = ["two plus two", "the sky is"]


@pytest.fixture(scope="module")
def models():
    """Two tiny models of different families (Llama d=64, GPT-2 d=64), as the CLI loads them."""
    return {"tiny": LatentModel.load("tiny", show_progress=False),
            "tiny-gpt2": LatentModel.load("tiny-gpt2", show_progress=False)}


def spec(reader_steps: int = 0, **extra) -> dict:
    return {"kind": "sequential", **extra, "agents": [
        {"name": "reader", "role": "Read this: {question}", "latent_steps": reader_steps, "model": "tiny"},
        {"name": "answerer", "role": "Answer: {question}", "model": "tiny-gpt2"}]}


def saved_fuser(models, path, gate: float, std: float = 1.0):
    a, b = models["tiny"], models["tiny-gpt2"]
    reads = read_both(a, b, ["x y z"], ["x y z"])
    fuser = CacheFuser(fuser_shape(reads.sharer_kv, kv.to_tensors(reads.state.cache), [(0, 0), (1, 1)], 16))
    with torch.no_grad():
        for p in fuser.parameters():  # a fuser that changes a lot when open
            torch.nn.init.normal_(p, std=std)
        fuser.gate_logits.fill_(gate)
    fuser.save(path / "fuser.safetensors", a.fingerprint, b.fingerprint)
    return path


def test_without_a_bridge_the_hand_over_is_the_text_pipeline(models):
    pipeline = from_dict(spec(0))
    assert pipeline.cross_model and pipeline.fallback
    latent = run(None, pipeline, QUESTIONS, "latent", max_new_tokens=4, agent_tokens=3, models=models)
    text = run(None, pipeline, QUESTIONS, "text", max_new_tokens=4, agent_tokens=3, models=models)
    reader, answerer = latent.turns
    assert (reader.model, answerer.model, reader.handover, answerer.handover) == ("tiny", "tiny-gpt2", None, "text")
    assert answerer.received_from == {"text from tiny": 0}
    assert reader.texts == text.turns[0].texts  # the reader wrote, at the hand-over
    assert latent.token_ids == text.token_ids  # with no thoughts, the text hand-over is the text pipeline
    assert latent.positions == text.positions


def test_a_closed_fuser_is_the_receiver_alone_and_an_open_one_carries_the_reader(models, tmp_path):
    for gate, name in ((-5.0, "closed"), (5.0, "open")):
        (tmp_path / name).mkdir()
        saved_fuser(models, tmp_path / name, gate)
    bridge = {"from": "tiny", "to": "tiny-gpt2"}
    closed = from_dict(spec(2, bridges=[{**bridge, "fuser": str(tmp_path / "closed")}], fallback="none"))
    opened = from_dict(spec(2, bridges=[{**bridge, "fuser": str(tmp_path / "open" / "fuser.safetensors")}]))
    alone = run_single(models["tiny-gpt2"], closed.agents[1], QUESTIONS, 6)
    shut = run(None, closed, QUESTIONS, "latent", max_new_tokens=6, models=models)
    assert shut.turns[1].handover == "fuser" and shut.turns[0].handover is None
    assert list(shut.turns[1].received_from) == ["fuser from tiny"]
    assert len(shut.turns[0].thoughts[0]) == 2
    assert shut.token_ids == alone.token_ids  # closed gates: exactly the receiver reading its prompt
    carried = run(None, opened, QUESTIONS, "latent", max_new_tokens=6, models=models)
    assert carried.token_ids != alone.token_ids


def test_a_map_hand_over_carries_every_slot_the_reader_computed(models, tmp_path):
    a, b = models["tiny"], models["tiny-gpt2"]
    generator = torch.Generator().manual_seed(0)
    layer = LayerMap(torch.randn(a.hidden_size, b.hidden_size, generator=generator) * 0.1,
                     torch.zeros(a.hidden_size), 1.0, torch.zeros(b.hidden_size), 1.0)
    HiddenMap({(1, -1): layer}, a.fingerprint, b.fingerprint).save(tmp_path / "map.safetensors")
    pipeline = from_dict(spec(3, bridges=[{"from": "tiny", "to": "tiny-gpt2", "map": str(tmp_path / "map.safetensors"),
                                           "layer": 1}], fallback="none"))
    result = run(None, pipeline, QUESTIONS, "latent", max_new_tokens=3, models=models)
    reader, answerer = result.turns
    assert answerer.handover == "map"
    # the reader's longest prompt and its three thoughts, each a mapped input of the answerer
    assert answerer.received_from == {"map from tiny": max(reader.prompt_tokens) + 3}
    with pytest.raises(LatentspaceError, match="holds no map from sharer block 0"):
        run(None, from_dict(spec(3, bridges=[{"from": "tiny", "to": "tiny-gpt2", "map": str(tmp_path / "map.safetensors"),
                                              "layer": 0}])), QUESTIONS, models=models)



def test_a_fuser_then_a_map_hands_over_and_optimize_before_a_map_says_why(models, tmp_path):
    """A segment reached by a fuser leaves by a map: every slot the middle agent's model holds (its
    prompt read before the fusing, the fused last token, its thoughts) is mapped on. Only a strategy
    that computes slots again (optimize) is refused, and the message says so."""
    saved_fuser(models, tmp_path, 5.0)
    a, b = models["tiny"], models["tiny-gpt2"]
    generator = torch.Generator().manual_seed(0)
    for sharer, receiver, name in ((b, a, "b2a"), (a, b, "a2b")):
        layer = LayerMap(torch.randn(sharer.hidden_size, receiver.hidden_size, generator=generator) * 0.1,
                         torch.zeros(sharer.hidden_size), 1.0, torch.zeros(receiver.hidden_size), 1.0)
        HiddenMap({(1, -1): layer}, sharer.fingerprint, receiver.fingerprint).save(tmp_path / f"{name}.safetensors")
    three = {"kind": "sequential", "fallback": "none", "bridges": [
        {"from": "tiny", "to": "tiny-gpt2", "fuser": str(tmp_path)},
        {"from": "tiny-gpt2", "to": "tiny", "map": str(tmp_path / "b2a.safetensors"), "layer": 1}], "agents": [
        {"name": "reader", "role": "Read: {question}", "latent_steps": 2, "model": "tiny"},
        {"name": "middle", "role": "Think: {question}", "latent_steps": 2, "model": "tiny-gpt2"},
        {"name": "answerer", "role": "Answer: {question}", "model": "tiny"}]}
    result = run(None, from_dict(three), QUESTIONS, "latent", max_new_tokens=3, models=models)
    reader, middle, answerer = result.turns
    assert (middle.handover, answerer.handover) == ("fuser", "map")
    # the middle agent's prompt (its chat, read as the fuser's receiver) and its two thoughts, all mapped on
    assert answerer.received_from == {"map from tiny-gpt2": max(len(b.token_ids(b.chat(f"Think: {q}")))
                                                                for q in QUESTIONS) + 2}
    searching = spec(2, bridges=[{"from": "tiny", "to": "tiny-gpt2", "map": str(tmp_path / "a2b.safetensors"),
                                  "layer": 1}], fallback="none")
    searching["agents"][0]["strategy"] = "optimize"
    with pytest.raises(LatentspaceError, match="computes slots more than once"):
        run(None, from_dict(searching), QUESTIONS, "latent", max_new_tokens=3, models=models)


def test_the_recorder_holds_each_slot_as_a_full_read_computes_it(models):
    lm = models["tiny"]
    ids = torch.tensor([lm.token_ids("hello there, general")])
    recorder = Recorder(lm, 1)
    state = recorder(lambda: lm.encode(ids[:, :7]))
    state = recorder(lambda: lm.feed(state, ids[:, 7:]))
    full = lm.record(ids, [("resid_post", 1)])["resid_post", 1]
    torch.testing.assert_close(recorder.states(state), full, atol=1e-5, rtol=1e-5)
    with pytest.raises(LatentspaceError, match="slots were computed while recording"):
        recorder.states(lm.encode(torch.cat([ids, ids], 1)))  # a state it did not see being made


def test_a_fuser_for_another_pair_is_refused_naming_the_models(models, tmp_path):
    saved_fuser(models, tmp_path, 1.0)
    backwards = {"kind": "sequential", "bridges": [{"from": "tiny-gpt2", "to": "tiny", "fuser": str(tmp_path)}],
                 "agents": [{"name": "a", "role": "{question}", "model": "tiny-gpt2"},
                            {"name": "b", "role": "{question}", "model": "tiny"}]}
    with pytest.raises(LatentspaceError, match="fitted from"):
        run(None, from_dict(backwards), QUESTIONS, models=models)


@pytest.mark.parametrize("change, message", [
    ({"fallback": "none"}, "has no bridge and the text fallback is off"),
    ({"fallback": "maybe"}, "fallback is one of text, none"),
    ({"bridges": [{"from": "tiny", "to": "tiny-gpt2", "fuser": "no/such/folder"}]}, "no fuser file"),
    ({"bridges": [{"from": "tiny", "to": "tiny-gpt2", "map": "m.safetensors"}]}, "needs layer"),
    ({"bridges": [{"from": "tiny", "to": "other", "fuser": "x"}]}, "two of the agents' models"),
    ({"bridges": [{"from": "tiny", "to": "tiny-gpt2", "fuser": "x", "map": "y"}]}, "exactly one of"),
    ({"bridges": "fuser"}, "'bridges' is a list"),
    ({"policy": "latent"}, "no policy other than full"),
])
def test_bad_cross_model_pipelines_are_refused_when_loaded(change, message):
    with pytest.raises(LatentspaceError, match=message):
        from_dict(spec(0, **change))


def test_every_agent_names_its_model_and_only_sequential_pipelines_cross(models):
    mixed = spec(0)
    del mixed["agents"][0]["model"]
    with pytest.raises(LatentspaceError, match="each names its model; missing for reader"):
        from_dict(mixed)
    graph = {"kind": "graph", "agents": [{"name": "a", "role": "{question}", "model": "tiny"},
                                         {"name": "b", "role": "{question}", "model": "tiny-gpt2", "reads": ["a"]}]}
    with pytest.raises(LatentspaceError, match="sequential pipelines, not graph"):
        from_dict(graph)
    with pytest.raises(LatentspaceError, match="belongs to one model"):
        run(None, from_dict(spec(0)), QUESTIONS, keep_memory=True, models=models)


def test_the_cli_runs_a_pipeline_across_models_and_says_how_it_handed_over(tmp_path, capsys, monkeypatch):
    from tests.cli.test_cli import one_line_exit_2, run_here

    path = tmp_path / "two.json"
    path.write_text(json.dumps(spec(1)))
    out = run_here(capsys, monkeypatch, "agents", "two plus two", "--pipeline", str(path), "-m", "tiny", "-n", "2",
                   "--agent-tokens", "2", "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert [(t["model"], t["handover"]) for t in data["turns"]] == [("tiny", None), ("tiny-gpt2", "text")]
    assert data["models"] == ["tiny", "tiny-gpt2"]
    shown = run_here(capsys, monkeypatch, "agents", "two plus two", "--pipeline", str(path), "-m", "tiny", "-n", "2",
                     "--agent-tokens", "2", "--show")
    assert shown.returncode == 0 and "(text)" in shown.stdout and "tiny-gpt2" in shown.stdout
    path.write_text(json.dumps(spec(1, fallback="none")))
    one_line_exit_2(run_here(capsys, monkeypatch, "agents", "two plus two", "--pipeline", str(path), "-m", "tiny"),
                    "no bridge and the text fallback is off")
    path.write_text(json.dumps(spec(1)))
    one_line_exit_2(run_here(capsys, monkeypatch, "agents", "two plus two", "--pipeline", str(path), "-m", "tiny",
                             "--save-memory", str(tmp_path / "m.safetensors")), "belongs to one model")
