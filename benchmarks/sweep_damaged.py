"""The damaged-files sweep (issue 36): every damage of every saved format, through every command that
reads it, plus checkpoints torn by a kill at each file of a save or mixed by hand.

Per damaged-file case: the exit code; a traceback or an exception escaping `main()`; more than one
stderr line on exit 2; a payload damage (the file cut, emptied, random) accepted with exit 0; files
written outside the case's own output folder (the shared good inputs are hashed before and after).
Per torn-checkpoint case: a resume that goes on silently from a mix (goal 0) — a kill inside a save must
leave the previous checkpoint to resume from (the run then ends bit-identical to an uninterrupted one),
a hand-made mix must be refused.

The catalogue and the readers are the property test's (`tests/cli/damage.py`,
`tests/cli/test_damaged.py`), which draws a few of these cases per reader in CI; here all are run.

    .venv/bin/python benchmarks/sweep_damaged.py            # print the table
    .venv/bin/python benchmarks/sweep_damaged.py --write    # ... and its section of docs/results.md
    .venv/bin/python benchmarks/sweep_damaged.py --only world --limit 20
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import os
import shutil
import signal
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(Path(__file__).resolve().parent)]

from results_md import replace_section  # noqa: E402
from tests.cli import damage  # noqa: E402
from tests.cli.conftest import make_inputs  # noqa: E402
from tests.cli.test_damaged import PAYLOAD, READERS, argv, copy_input  # noqa: E402

CASE_SECONDS = 180
NOTE = ("Accepted (exit 0) are damages the reader never reads: a provenance key in a header (a world model's "
        'training settings for `world plan`), a member of a run folder the command does not open '
        "(`metrics.jsonl`, `checkpoint/` for `world plan`, the run's product file for a resume). Every "
        'checkpoint (world, bridge fuser, recipes) is staged and renamed into place as one unit, so a kill '
        "inside a save leaves the previous one, and carries a manifest of its files' SHA-256, so whole files "
        'of two different steps are refused.')
START, END = "<!-- sweep_damaged:start -->", "<!-- sweep_damaged:end -->"


@dataclass
class Case:
    format: str
    reader: str
    damage: str
    code: int | None = None
    traceback: bool = False
    lines: int = 0
    accepted_payload: bool = False
    outside: int = 0
    seconds: float = 0.0

    @property
    def failing(self) -> bool:
        return (self.code not in (0, 2) or self.traceback or (self.code == 2 and self.lines != 1)
                or self.accepted_payload or self.outside > 0)


class Timeout(BaseException):
    pass


def run_cli(args: list[str], cwd: Path) -> tuple[int | None, str, str]:
    from latentspace.cli.app import main

    out, err, here, old = io.StringIO(), io.StringIO(), os.getcwd(), sys.argv
    sys.argv = ["latentspace", *args]
    os.chdir(cwd)
    signal.signal(signal.SIGALRM, lambda *_: (_ for _ in ()).throw(Timeout()))
    signal.alarm(CASE_SECONDS)
    code = None
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main()
                code = 0
            except SystemExit as exit_:
                code = exit_.code or 0
            except Timeout:
                code = None
                print("timed out", file=sys.stderr)
            except Exception:  # noqa: BLE001 - an escape is what the sweep counts
                import traceback

                traceback.print_exc()
    finally:
        signal.alarm(0)
        sys.argv = old
        os.chdir(here)
    return code, out.getvalue(), err.getvalue()


def digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def damaged_file_cases(inputs: dict, work: Path, only: str | None, limit: int | None) -> list[Case]:
    cases = []
    shared = digest(work / "inputs")
    for key, label, template in READERS:
        if only and only not in f"{key} {label}":
            continue
        catalogue = damage.for_input(Path(inputs[key]))[:limit]
        print(f"{key} / {label}: {len(catalogue)} damages", flush=True)
        for i, damaged in enumerate(catalogue):
            where = work / "cases" / f"{key}-{label.replace(' ', '_')}-{i}"
            (where / "out").mkdir(parents=True)
            target = copy_input(Path(inputs[key]), where)
            damaged.apply(target)
            started = time.monotonic()
            code, stdout, stderr = run_cli(argv(template, inputs, target, where / "out"), where / "out")
            case = Case(key, label, damaged.name, code, "Traceback" in stdout + stderr,
                        len(stderr.strip().splitlines()), code == 0 and damaged.name in PAYLOAD,
                        seconds=time.monotonic() - started)
            outside = {k for k in set(digest(where)) if not k.startswith(("out", "input"))}
            now = digest(work / "inputs")
            case.outside = len(outside) + sum(now.get(k) != v for k, v in shared.items()) + len(set(now) - set(shared))
            shared = now  # one damage changing a shared input is counted once
            cases.append(case)
            if case.failing:
                print(f"  FAIL [{damaged.name}] exit {code}: {stderr.strip()[-300:]}", flush=True)
            shutil.rmtree(where, ignore_errors=True)
    return cases


# ---- torn checkpoints ------------------------------------------------------------------------------


@dataclass
class Torn:
    trainer: str
    how: str
    outcome: str  # "exact" (resumed, equal to uninterrupted) | "refused" | "silent" (resumed from a mix)


class Killed(BaseException):
    pass


def world_trainer():
    from latentspace.world import RoomsConfig, TrainConfig, build, make_trajectories, train_world

    data = make_trajectories(RoomsConfig(size=16), 6, 6, seed=0)
    config = TrainConfig(steps=6, batch_size=4, window=2, save_every=2)

    def run(out: Path, progress=None):
        model, history = train_world(build("jepa", 16, {"latent": 8, "width": 8, "hidden": 16}, seed=0), data, config,
                                     out=out, progress=(lambda s, n, h: progress(s)) if progress else None)
        return {k: v.clone() for k, v in model.state_dict().items()}, history

    return run


def fuser_trainer():
    from latentspace.bridge.fuser_train import FuserConfig, train_fuser
    from latentspace.model.latent_model import LatentModel
    from latentspace.model.tiny import make_tiny
    from tests.bridge.test_fuser import planted, word_gpt2

    sharer, receiver = LatentModel(*make_tiny("llama", seed=1), "bytes-llama"), word_gpt2()
    examples = [planted(d) for d in range(6)]
    config = FuserConfig(steps=6, batch_size=2, lr=1e-2, hidden=8, save_every=2)

    def run(out: Path, progress=None):
        fuser, losses = train_fuser(sharer, receiver, examples, config, out=out,
                                    progress=(lambda s, loss: progress(s)) if progress else None)
        return {k: v.clone() for k, v in fuser.state_dict().items()}, losses

    return run


def same(a, b) -> bool:
    import torch

    return a[1] == b[1] and a[0].keys() == b[0].keys() and all(torch.equal(a[0][k], b[0][k]) for k in a[0])


def torn_cases(work: Path) -> list[Torn]:
    import torch

    from latentspace.core import files
    from latentspace.core import step_checkpoint
    from latentspace.errors import LatentspaceError

    found = []
    for name, make in (("world train", world_trainer), ("bridge train", fuser_trainer)):
        run = make()
        whole = run(work / f"{name}-whole")
        # a kill at each write of the second save (weights, state.pt, progress.json, the renames)
        writes = [("weights", "latentspace.core.saved.atomic_write"), ("state.pt", "torch.save"),
                  ("progress.json", "latentspace.core.files.write_text"), ("the swap", "pathlib.Path.rename")]
        for label, target in writes:
            out = work / f"{name}-kill-{label}"
            module, _, attribute = target.rpartition(".")
            owner = {"latentspace.core.saved": __import__("latentspace.core.saved", fromlist=["x"]), "torch": torch,
                     "latentspace.core.files": files, "pathlib.Path": Path}[module]
            real, count = getattr(owner, attribute), {"n": 0, "armed": False}

            def dying(*args, _real=real, **kwargs):
                if count["armed"]:
                    raise Killed
                return _real(*args, **kwargs)

            def arm(step):
                count["armed"] = step == 4  # the save of step 4 dies at this write
                return None

            setattr(owner, attribute, dying)
            try:
                run(out, progress=arm)
            except Killed:
                pass
            finally:
                setattr(owner, attribute, real)
            try:
                found.append(Torn(name, f"killed at {label} of a save", "exact" if same(run(out), whole) else "silent"))
            except LatentspaceError:
                found.append(Torn(name, f"killed at {label} of a save", "refused"))
        # a hand-made mix: each member of a step-2 checkpoint copied over the step-6 one
        early = work / f"{name}-early"

        def stop(step):
            if step == 3:
                raise Killed

        with contextlib.suppress(Killed):
            run(early, progress=stop)
        for member in sorted(p.name for p in (early / step_checkpoint.FOLDER).iterdir()):
            mixed = work / f"{name}-mix-{member}"
            shutil.copytree(work / f"{name}-whole", mixed)
            shutil.copy(early / step_checkpoint.FOLDER / member, mixed / step_checkpoint.FOLDER / member)
            try:
                again = run(mixed)
                found.append(Torn(name, f"{member} of another step", "exact" if same(again, whole) else "silent"))
            except LatentspaceError:
                found.append(Torn(name, f"{member} of another step", "refused"))
    return found


def recipe_torn(work: Path) -> list[Torn]:
    """`train run` (cot2, smoke-mnns, 3 epochs): killed at each file of its second save, and each
    checkpoint member of the finished run copied over a run paused after epoch 0."""
    import torch
    from safetensors.torch import load_file

    from latentspace.errors import LatentspaceError
    from tests.train.test_damaged_runs import make_run

    def final(out: Path):  # the weights and the test score (the summary's timings differ run to run)
        import json

        summary = json.loads((out / "summary.json").read_text())
        return load_file(out / "checkpoint" / "model.safetensors"), (summary["test_accuracy"], summary["test_n"])

    def outcome(out: Path) -> str:
        try:
            make_run(out)
        except LatentspaceError:
            return "refused"
        (a, sa), (b, sb) = final(out), final(work / "train-whole")
        return "exact" if sa == sb and all(torch.equal(a[k], b[k]) for k in b) else "silent"

    make_run(work / "train-whole")
    found = []
    kills = [("optimizer.pt", torch, "save", lambda args: Path(args[1]).name == "optimizer.pt"),
             ("rng.pt", torch, "save", lambda args: Path(args[1]).name == "rng.pt"),
             ("the swap", Path, "rename", lambda args: Path(args[1]).name == "checkpoint")]
    for label, owner, attribute, matches in kills:
        out, real, seen = work / f"train-kill-{label}", getattr(owner, attribute), []

        def dying(*args, _real=real, _matches=matches, **kwargs):
            if _matches(args):
                seen.append(1)
                if len(seen) == 2:  # the second save (after epoch 1)
                    raise Killed
            return _real(*args, **kwargs)

        setattr(owner, attribute, dying)
        try:
            make_run(out)
        except Killed:
            pass
        finally:
            setattr(owner, attribute, real)
        found.append(Torn("train run", f"killed at {label} of a save", outcome(out)))
    paused = make_run(work / "train-paused", until_epoch=0)
    for member in sorted(p.name for p in (work / "train-whole" / "checkpoint").iterdir()):
        mixed = work / f"train-mix-{member}"
        shutil.copytree(paused, mixed)
        shutil.copy(work / "train-whole" / "checkpoint" / member, mixed / "checkpoint" / member)
        same = (work / "train-whole" / "checkpoint" / member).read_bytes() == (paused / "checkpoint" / member).read_bytes()
        how = f"{member} of another epoch" + (" (the same bytes: no mix)" if same else "")
        found.append(Torn("train run", how, outcome(mixed)))
    return found


# ---- report ----------------------------------------------------------------------------------------


def report(cases: list[Case], torn: list[Torn], seconds: float, command: str) -> str:
    by = defaultdict(list)
    for c in cases:
        by[c.format].append(c)
    lines = [START, "## Damaged saved files (issue 36)", "",
             f"Command: `{command}` ({time.strftime('%Y-%m-%d')}, tiny models, {seconds / 60:.0f} min). Every damage "
             "of `tests/cli/damage.py`'s catalogue (truncated, cut, empty, random bytes, a member deleted, each JSON "
             "or header key dropped or retyped, a tensor of another shape, a NaN, dataset arrays of the wrong shape) "
             "applied to a copy of a good file made by the project's own command, then every command that reads "
             "the format run on it in-process. A payload damage (cut, emptied, random) must be refused; other "
             "damages may be harmless to a reader that never reads the key (exit 0), never a traceback.", "",
             "| format | readers | cases | refused (exit 2) | accepted (exit 0) | tracebacks | payload accepted "
             "| over one line | written outside |", "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for fmt, rows in by.items():
        readers = ", ".join(sorted({r.reader for r in rows}))
        lines.append(f"| {fmt} | {readers} | {len(rows)} | {sum(r.code == 2 for r in rows)} | "
                     f"{sum(r.code == 0 for r in rows)} | {sum(r.traceback or r.code not in (0, 2) for r in rows)} | "
                     f"{sum(r.accepted_payload for r in rows)} | {sum(r.code == 2 and r.lines != 1 for r in rows)} | "
                     f"{sum(r.outside for r in rows)} |")
    total = Counter(t.outcome for t in torn)
    lines += ["", NOTE]
    lines += ["", f"- Damaged-file cases: **{len(cases)}**; tracebacks (goal 0): "
              f"**{sum(c.traceback or c.code not in (0, 2) for c in cases)}**; files written outside the requested "
              f"paths (goal 0): **{sum(c.outside for c in cases)}**; failing in all: **{sum(c.failing for c in cases)}**.",
              f"- Torn checkpoints: **{len(torn)}** cases; silent resumes of torn state (goal 0): "
              f"**{total['silent']}**; refused {total['refused']}; resumed exactly (bit-identical to an uninterrupted "
              f"run) {total['exact']}.", "", "| trainer | torn how | outcome |", "|---|---|---|"]
    lines += [f"| {t.trainer} | {t.how} | {t.outcome} |" for t in torn]
    lines.append(END)
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--write", action="store_true", help="write the section of docs/results.md")
    parser.add_argument("--only", help="readers whose format or name holds this text")
    parser.add_argument("--limit", type=int, help="damages per reader (default: all)")
    parser.add_argument("--no-torn", action="store_true", help="skip the torn-checkpoint cases")
    parser.add_argument("--accepted", action="store_true", help="also list the damages a reader accepted")
    args = parser.parse_args()
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "inputs").mkdir()
        inputs = make_inputs(work / "inputs")
        cases = damaged_file_cases(inputs, work, args.only, args.limit)
        torn = [] if args.no_torn else torn_cases(work) + recipe_torn(work)
    command = "python benchmarks/sweep_damaged.py --write"
    text = report(cases, torn, time.monotonic() - started, f".venv/bin/{command}")
    print(text)
    for c in cases:
        if c.failing or (args.accepted and c.code == 0):
            print(f"{'FAIL' if c.failing else 'accepted'} {c.format} / {c.reader} [{c.damage}] exit {c.code}")
    if args.write:
        replace_section(text, START, END)


if __name__ == "__main__":
    main()
