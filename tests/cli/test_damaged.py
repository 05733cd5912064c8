"""Every saved format, damaged, through every command that reads it: exit 0 or one line and exit 2
(issue 36). Property-based: hypothesis draws a damage from the format's catalogue (`tests/cli/damage.py`:
truncated, random bytes, a member deleted, each key dropped or retyped, a tensor of another shape, a
NaN...), applies it to a copy of a good input (`prepared`) and runs the reader on it.

The payload damages (the file cut, emptied, random, not what its header says) must be refused: a
command that accepts them has trusted a file it did not check. Other damages may be harmless to a
given reader (a key it never reads), so they may pass — never with a traceback.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.cli import damage
from tests.cli.test_cli import run_here
from tests.cli.test_hostile import run_in, strict_json

TINY = ["-m", "tiny"]
PLAN = ["--samples", "8", "--iterations", "1", "--horizon", "4"]
# (input key in `prepared`, a label, the reader's argv: {input} is the damaged copy, {out} a fresh folder,
#  other {key}s are good prepared inputs); `skip`: members of a folder input the reader never reads
READERS = [
    ("vector", "steer apply", ["steer", "apply", "{input}", "hello", *TINY, "-n", "2", "--raw", "--json"]),
    ("vector", "generate --steer", ["generate", "hello", *TINY, "-n", "2", "--steer", "{input}", "--json"]),
    ("vector", "bridge transfer", ["bridge", "transfer", "{bridge_map}", "{input}", "--out", "{out}/t.safetensors",
                                   "-s", "tiny", "-r", "tiny-gpt2", "--json"]),
    ("vector", "steer export-gguf", ["steer", "export-gguf", "{input}", "{out}/v.gguf", *TINY]),
    ("gguf", "steer import-gguf", ["steer", "import-gguf", "{input}", "{out}/v.safetensors", *TINY]),
    ("lens", "lens --tuned", ["lens", "hello world", *TINY, "--tuned", "{input}", "--json"]),
    ("probe", "steer train --from-probe", ["steer", "train", "--pairs", "{pairs}", *TINY, "--layers", "1",
                                           "--from-probe", "{input}", "--out", "{out}/v.safetensors", "--json"]),
    ("working_memory", "agents --memory", ["agents", "hi", *TINY, "-n", "1", "--agent-tokens", "1", "--raw",
                                           "--memory", "{input}", "--json"]),
    ("bridge_map", "bridge eval", ["bridge", "eval", "{input}", "-s", "tiny", "-r", "tiny-gpt2", "--texts", "2",
                                   "--tokens", "8", "--json"]),
    ("bridge_map", "bridge transfer", ["bridge", "transfer", "{input}", "{vector}", "--out", "{out}/t.safetensors",
                                       "-s", "tiny", "-r", "tiny-gpt2", "--json"]),
    ("fuser_run", "bridge eval", ["bridge", "eval", "{input}", "-s", "tiny", "-r", "tiny-gpt2", "--n", "2", "--json"]),
    ("fuser_run", "bridge train (resume)", ["bridge", "train", "-s", "tiny", "-r", "tiny-gpt2", "--examples", "4",
                                            "--steps", "2", "--batch-size", "2", "--hidden", "4", "--out", "{input}",
                                            "--json"]),
    ("world_data", "world train", ["world", "train", "--data", "{input}", "--out", "{out}/run", "--steps", "2",
                                   "--batch-size", "2", "--json"]),
    ("world_data", "world eval --data", ["world", "eval", "--model", "{world_run}", "--data", "{input}", "--episodes",
                                         "1", *PLAN, "--json"]),
    ("world_run", "world plan", ["world", "plan", "--model", "{input}", *PLAN, "--json"]),
    ("world_run", "world train (resume)", ["world", "train", "--data", "{world_data}", "--out", "{input}", "--steps", "2",
                                           "--batch-size", "2", "--json"]),
    ("store", "memory list", ["memory", "list", "--store", "{input}", "--json"]),
    ("store", "memory ask", ["memory", "ask", "where is the fox?", *TINY, "--store", "{input}", "-n", "2", "--json"]),
    ("mnns_run", "train eval", ["train", "eval", "{input}", "--n", "2", "--json"]),
    ("mnns_run", "audit", ["audit", "-m", "{input}", "--n", "4", "--tests", "necessity", "--json"]),
]
PAYLOAD = ("truncated to half", "cut to 8 bytes", "empty", "random bytes")


@pytest.fixture(scope="module")
def catalogues(prepared):
    return {key: damage.for_input(Path(prepared[key])) for key in {r[0] for r in READERS}}


def must_refuse(damaged: damage.Damage) -> bool:
    """A single file's payload damage (a folder member's is named with its member): nothing usable is left."""
    return damaged.name in PAYLOAD


def copy_input(source: Path, where: Path) -> Path:
    target = where / ("input" + source.suffix)
    (shutil.copytree if source.is_dir() else shutil.copy)(source, target)
    return target


def argv(template: list[str], prepared: dict, damaged_input: Path, out: Path) -> list[str]:
    values = {k: str(v) for k, v in prepared.items() if isinstance(v, Path)}
    return [part.format(input=damaged_input, out=out, **values) for part in template]


@pytest.mark.parametrize("key, label, template", READERS, ids=[f"{k}:{label}" for k, label, _ in READERS])
def test_a_damaged_saved_file_is_refused_in_one_line(key, label, template, prepared, catalogues, tmp_path, capsys,
                                                     monkeypatch):
    seen = []
    damages = catalogues[key]
    payload = [d for d in damages if d.name.split(": ")[-1] in PAYLOAD]

    @settings(max_examples=6, deadline=None, derandomize=True, database=None,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    @given(damaged=st.one_of(st.sampled_from(payload), st.sampled_from(damages)))
    def check(damaged):
        where = tmp_path / f"ex{len(seen)}"
        seen.append(damaged)
        (where / "out").mkdir(parents=True)
        target = copy_input(Path(prepared[key]), where)
        damaged.apply(target)
        args = argv(template, prepared, target, where / "out")
        result, said = run_in(where / "out", args, f"{label} on {key} [{damaged.name}]", capsys, monkeypatch,
                              one_line="exactly")
        if result.returncode == 0:
            assert not must_refuse(damaged), f"{said}: a damaged file was accepted"
            if "--json" in args:
                strict_json(result.stdout)

    check()


def test_an_input_ending_early_is_bad_input_not_an_abort(tmp_path, capsys, monkeypatch):
    """click reports an EOFError as Abort (exit 130, "aborted", as for Ctrl-C); a reader that hits the end
    of a file is bad input: exit 2, one line."""
    from latentspace.world import data

    def ends_early(*args, **kwargs):
        raise EOFError("No data left in file")

    monkeypatch.setattr(data.Trajectories, "load", ends_early)
    monkeypatch.chdir(tmp_path)
    result = run_here(capsys, monkeypatch, "world", "train", "--data", "x.npz", "--out", str(tmp_path / "run"))
    assert result.returncode == 2 and "end of input" in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


# an output path that is one of the command's inputs (or inside a run folder it reads): refused, input unchanged
OVERWRITES = [
    ("agents --save-memory", "working_memory", ["agents", "hi", *TINY, "-n", "1", "--agent-tokens", "1", "--raw",
                                                "--memory", "{input}", "--save-memory", "{input}"]),
    ("bridge transfer --out", "vector", ["bridge", "transfer", "{bridge_map}", "{input}", "--out", "{input}",
                                         "-s", "tiny", "-r", "tiny-gpt2"]),
    ("lens --png", "lens", ["lens", "hello", *TINY, "--tuned", "{input}", "--png", "{input}"]),
    ("steer eval --png", "vector", ["steer", "eval", "{input}", *TINY, "--strengths", "1", "-n", "2", "--png",
                                    "{input}"]),
    ("world train --out", "world_data", ["world", "train", "--data", "{input}", "--out", "{input}", "--steps", "1"]),
    ("world plan --png", "world_run", ["world", "plan", "--model", "{input}", *PLAN, "--png",
                                       "{input}/model.safetensors"]),
    ("world eval --report", "world_run", ["world", "eval", "--model", "{input}", "--data", "{world_data}",
                                          "--episodes", "1", *PLAN, "--report", "{world_data}"]),
]


@pytest.mark.parametrize("label, key, template", OVERWRITES, ids=[o[0] for o in OVERWRITES])
def test_an_output_that_is_an_input_is_refused_and_the_input_is_unchanged(label, key, template, prepared, tmp_path,
                                                                         capsys, monkeypatch):
    target = copy_input(Path(prepared[key]), tmp_path)
    shared = {k: Path(v) for k, v in prepared.items() if isinstance(v, Path) and Path(v).is_file()}
    before = {**damage_digest(target), **{str(p): p.read_bytes() for p in shared.values()}}
    monkeypatch.chdir(tmp_path)
    result = run_here(capsys, monkeypatch, *argv(template, prepared, target, tmp_path))
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1, (label, result.stderr)
    assert {**damage_digest(target), **{str(p): p.read_bytes() for p in shared.values()}} == before, label


def damage_digest(path: Path) -> dict:
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    return {str(p): p.read_bytes() for p in files}
