"""`latentspace bridge fit|eval|transfer` on two tiny models of different families and widths."""

import json

from tests.cli.damage import rewrite_tensors
from tests.cli.test_cli import one_line_exit_2, run_here


def test_fit_eval_and_transfer_round_trip_and_refuse_another_pair(tmp_path, capsys, monkeypatch):
    def run(*args):
        return run_here(capsys, monkeypatch, *map(str, args))

    texts = tmp_path / "texts.txt"
    texts.write_text("\n".join(f"line {i}: the red fox runs past the old mill at {i} o'clock." for i in range(8)))
    bridge = tmp_path / "map.safetensors"
    fitted = run("bridge", "fit", "-s", "tiny", "-r", "tiny-gpt2", "--text-file", texts, "--method", "procrustes",
                 "--out", bridge, "--json")
    assert fitted.returncode == 0, fitted.stderr
    meta = json.loads(fitted.stdout)
    assert meta["method"] == "procrustes" and meta["texts"] == 8 and set(meta["heldout"]) == {"0:0", "1:1"}
    scored = run("bridge", "eval", bridge, "-s", "tiny", "-r", "tiny-gpt2", "--text-file", texts, "--json")
    assert scored.returncode == 0, scored.stderr
    assert set(json.loads(scored.stdout)["quality"]) == {"0:0", "1:1"}

    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text("\n".join(json.dumps({"positive": f"good {i}", "negative": f"bad {i}"}) for i in range(4)))
    vector = tmp_path / "v.safetensors"
    assert run("steer", "train", "--pairs", pairs, "-m", "tiny", "--layers", "1", "--out", vector).returncode == 0
    moved = tmp_path / "moved.safetensors"
    out = run("bridge", "transfer", bridge, vector, "--out", moved, "-s", "tiny", "-r", "tiny-gpt2", "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["receiver_blocks"] == [1] and moved.is_file()
    steered = run("generate", "hello", "-m", "tiny-gpt2", "--steer", moved, "--strength", "1", "--max-tokens", "2")
    assert steered.returncode == 0, steered.stderr  # the moved vector is the receiver's own

    # the map read against another pair names all four models; the vector must be the sharer's
    one_line_exit_2(run("bridge", "eval", bridge, "-s", "tiny-gpt2", "-r", "tiny", "--text-file", texts),
                    "fitted from [llama", "to [gpt2", "not from the loaded [gpt2")
    one_line_exit_2(run("bridge", "transfer", bridge, moved, "--out", tmp_path / "x.safetensors", "-s", "tiny",
                        "-r", "tiny-gpt2"), "steering vector")
    one_line_exit_2(run("bridge", "fit", "-s", "tiny", "-r", "tiny-gpt2", "--layers", "2:0", "--text-file", texts,
                        "--out", tmp_path / "y.safetensors"), "out of range")
    assert not (tmp_path / "x.safetensors").exists() and not (tmp_path / "y.safetensors").exists()


def test_a_map_into_the_receivers_inputs_and_damaged_vectors_and_maps(tmp_path, capsys, monkeypatch):
    """`--layers 0:-1` makes the map an agents pipeline hands over through (docs/agents.md); a vector
    or a map whose tensors have the wrong shape is one line, never a matmul error."""
    def run(*args):
        return run_here(capsys, monkeypatch, *map(str, args))

    texts = tmp_path / "texts.txt"
    texts.write_text("\n".join(f"line {i}: the red fox runs past the old mill at {i} o'clock." for i in range(8)))
    bridge = tmp_path / "map.safetensors"
    fitted = run("bridge", "fit", "-s", "tiny", "-r", "tiny-gpt2", "--text-file", texts, "--layers", "0:-1,1:1",
                 "--method", "affine", "--out", bridge, "--json")
    assert fitted.returncode == 0, fitted.stderr
    assert set(json.loads(fitted.stdout)["heldout"]) == {"0:-1", "1:1"}
    from latentspace import LatentModel
    from latentspace.bridge import HiddenMap

    a, b = LatentModel.load("tiny"), LatentModel.load("tiny-gpt2")
    assert (0, -1) in HiddenMap.load(bridge, a.fingerprint, b.fingerprint).layers
    one_line_exit_2(run("bridge", "fit", "-s", "tiny", "-r", "tiny-gpt2", "--layers", "0:-2", "--text-file", texts,
                        "--out", tmp_path / "y.safetensors"), "out of range", "-1 for its inputs")

    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text("\n".join(json.dumps({"positive": f"good {i}", "negative": f"bad {i}"}) for i in range(4)))
    vector = tmp_path / "v.safetensors"
    assert run("steer", "train", "--pairs", pairs, "-m", "tiny", "--layers", "0,1", "--out", vector).returncode == 0
    out = run("bridge", "transfer", bridge, vector, "--out", tmp_path / "moved.safetensors", "-s", "tiny", "-r",
              "tiny-gpt2", "--json")
    assert out.returncode == 0 and json.loads(out.stdout)["receiver_blocks"] == [1], out.stderr  # inputs: no block

    flat = tmp_path / "flat.safetensors"
    flat.write_bytes(vector.read_bytes())
    rewrite_tensors(flat, lambda t: t.update({"layer.1": t["layer.1"].repeat(2, 1)}))  # a 2-D direction [2, d]
    for command in (["bridge", "transfer", bridge, flat, "--out", tmp_path / "x.safetensors", "-s", "tiny", "-r",
                     "tiny-gpt2"], ["generate", "hi", "-m", "tiny", "--steer", flat, "-n", "1"]):
        one_line_exit_2(run(*command), "flat.safetensors", "layer.1 has shape [2, ")
    rewrite_tensors(bridge, lambda t: t.update({"1:1/weight": t["1:1/weight"][:-1].clone()}))
    one_line_exit_2(run("bridge", "transfer", bridge, vector, "--out", tmp_path / "x.safetensors", "-s", "tiny",
                        "-r", "tiny-gpt2"), "map.safetensors", "'1:1' has weight of shape")
    assert not (tmp_path / "x.safetensors").exists()


def test_train_a_fuser_resume_it_and_evaluate_it_on_other_facts(tmp_path, capsys, monkeypatch):
    def run(*args):
        return run_here(capsys, monkeypatch, *map(str, args))

    out = tmp_path / "fuser"
    base = ("bridge", "train", "-s", "tiny", "-r", "tiny-gpt2", "--examples", "8", "--steps", "4", "--batch-size", "4",
            "--hidden", "8", "--out", out, "--json")
    first = run(*base)
    assert first.returncode == 0, first.stderr
    summary = json.loads(first.stdout)
    assert summary["steps"] == 4 and summary["layers"] == 2 and (out / "fuser.safetensors").is_file()
    again = run(*base)  # finished: resumes at its end, the same losses
    assert again.returncode == 0 and json.loads(again.stdout)["loss_last"] == summary["loss_last"]
    scored = run("bridge", "eval", out, "-s", "tiny", "-r", "tiny-gpt2", "--n", "4", "--json")
    assert scored.returncode == 0, scored.stderr
    assert set(json.loads(scored.stdout)) >= {"fused_accuracy", "receiver_alone_accuracy", "gates_open"}
    one_line_exit_2(run("bridge", "eval", out, "-s", "tiny", "-r", "tiny-gpt2", "--seed", "0"), "trained on")
    one_line_exit_2(run("bridge", "eval", out, "-s", "tiny-gpt2", "-r", "tiny"), "not from the loaded")
