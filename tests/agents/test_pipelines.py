"""Pipelines as data: built-ins, file errors, every mode through one `run`, and the CLI."""

import json

import pytest

from latentspace.agents.pipelines import BUILTIN, from_dict, load_pipeline, run
from latentspace.errors import LatentspaceError
from tests.cli.damage import rewrite_tensors
from tests.steer.test_steer_cli import run as run_cli  # noqa: F401 (the in-process CLI fixture)


def test_builtins_load_and_every_mode_runs(llama):
    for name in BUILTIN:
        pipeline = load_pipeline(name)
        for mode in ("latent", "text", "single"):
            result = run(llama, pipeline, "two plus two", mode, max_new_tokens=3, agent_tokens=2, chat=False)
            assert len(result.token_ids[0]) <= 3 and result.decoding["max_new_tokens"] == 3
            assert result.mode.startswith(mode)


@pytest.mark.parametrize("spec,message", [
    ({"kind": "star"}, "unknown kind 'star'"),
    ({"agents": []}, "needs a non-empty 'agents' list"),
    ({"agents": [{"name": "a", "role": "{topic}"}]}, "agent 1: agent 'a': its role may only use"),
    ({"agents": [{"name": "a", "role": "x", "steps": 2}]}, "unknown agent field"),
    ({"agents": [{"name": "a", "role": "x"}, {"name": "a", "role": "y"}]}, "names must be unique"),
    ({"agents": [{"name": "a", "role": "x"}], "policy": "most"}, "unknown policy 'most'"),
    ({"kind": "hierarchical", "experts": [{"name": "a", "role": "x"}]}, "needs a 'summariser'"),
    ({"agents": [{"name": "a", "role": "x", "latent_steps": "many"}]}, "latent_steps must be an integer"),
])
def test_bad_specs_are_named(spec, message):
    with pytest.raises(LatentspaceError, match=message):
        from_dict(spec, "p.json")


def test_files_and_the_cli(tmp_path, run_cli):
    good = tmp_path / "two.yaml"
    good.write_text("kind: sequential\npolicy: last\nagents:\n  - {name: a, role: 'Think: {question}', latent_steps: 1}\n"
                    "  - {name: b, role: 'Answer: {question}'}\n")
    assert load_pipeline(good).policy == "last"
    out = run_cli("agents", "two plus two", "--pipeline", str(good), "--model", "tiny", "-n", "3", "--raw", "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert [t["agent"] for t in data["turns"]] == ["a", "b"] and data["mode"] == "latent" and data["policy"] == "last"
    assert data["turns"][1]["received_slots"] > 0
    out = run_cli("agents", "two plus two", "--pipeline", "hierarchical", "--mode", "text", "--model", "tiny",
                  "-n", "2", "--agent-tokens", "2", "--raw", "--show")
    assert out.returncode == 0, out.stderr
    assert "summariser" in out.stdout and "text-hierarchical" in out.stdout
    bad = tmp_path / "bad.json"
    bad.write_text('{"kind": "sequential", "agents": [')
    for args, message in [(["--pipeline", str(bad)], "bad.json: malformed pipeline file"),
                          (["--pipeline", "ring"], "no pipeline 'ring'"),
                          (["--mode", "telepathy"], "unknown mode 'telepathy'")]:
        out = run_cli("agents", "q", "--model", "tiny", *args)
        assert out.returncode == 2 and message in out.stderr, (args, out.stderr)
        assert len(out.stderr.strip().splitlines()) == 1


def test_the_cli_saves_a_memory_starts_from_it_and_refuses_another_models(tmp_path, run_cli):
    saved = tmp_path / "memory.safetensors"
    out = run_cli("agents", "two plus two", "--model", "tiny", "-n", "2", "--raw", "--save-memory", str(saved),
                  "--show")
    assert out.returncode == 0, out.stderr
    assert saved.exists() and "lens top-1" in out.stdout and "memory saved" in out.stdout
    out = run_cli("agents", "and then?", "--model", "tiny", "-n", "2", "--raw", "--memory", str(saved), "--json")
    assert out.returncode == 0, out.stderr
    first = json.loads(out.stdout)["turns"][0]
    assert first["received_from"]["memory"] == first["received_slots"] > 0
    assert len(first["thoughts"][0]) == 4 and first["thoughts"][0][0]["top"]  # lens readings in the JSON
    for args, message in [(["--model", "tiny-gpt2", "--memory", str(saved)], "was saved from [llama"),
                          (["--model", "tiny", "--memory", str(saved), "--mode", "text"], "use --mode latent"),
                          (["--model", "tiny", "--memory", str(tmp_path / "none.safetensors")], "no saved state")]:
        out = run_cli("agents", "q", *args)
        assert out.returncode == 2 and message in out.stderr, (args, out.stderr)
        assert len(out.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("change, message", [
    (lambda t: t.update({"kv.1.k": t["kv.1.k"][:, :, :-1].clone()}), "(cache kv.1.k has shape"),
    (lambda t: t.update({"kv.0.k": t["kv.0.k"][:, :1].clone(), "kv.0.v": t["kv.0.v"][:, :1].clone()}), "heads"),
    (lambda t: t.update({k: v[:, :, :-1].clone() for k, v in t.items() if k.startswith("kv.")}), "slots"),
    (lambda t: t.pop("kv.1.v"), "no 'kv.1.v'"),
    (lambda t: t.update({"kv.2.k": t["kv.0.k"].clone(), "kv.2.v": t["kv.0.v"].clone()}), "unexpected 'kv.2.k'"),
    (lambda t: t.update({"next_position": t["next_position"] * 0}), "next positions"),
    (lambda t: t.update({"logits": t["logits"][:, :-1].clone()}), "logits"),
])
def test_a_memory_whose_shapes_disagree_is_one_line(tmp_path, run_cli, change, message):
    from tests.cli.test_cli import one_line_exit_2

    saved = tmp_path / "memory.safetensors"
    assert run_cli("agents", "two plus two", "--model", "tiny", "-n", "1", "--raw", "--save-memory",
                   str(saved)).returncode == 0
    rewrite_tensors(saved, change)
    out = run_cli("agents", "and then?", "--model", "tiny", "-n", "1", "--raw", "--memory", str(saved))
    one_line_exit_2(out, "memory.safetensors", message)


def test_the_agents_example_runs_on_tiny():
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parents[2] / "examples" / "agents.py"
    out = subprocess.run([sys.executable, str(script), "--model", "tiny"], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "latent team:" in out.stdout and "follow-up:" in out.stdout and "single:" in out.stdout
