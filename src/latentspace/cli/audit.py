"""`latentspace audit`: is each latent thought needed, what does it encode, what does it cause?"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from latentspace.cli.common import JsonOpt, console, emit_json, err_console, literal, seed_option
from latentspace.core import files, jsonsafe
from latentspace.core.errors import LatentspaceError
from latentspace.core.limits import MAX_BATCH, MAX_NEW_TOKENS
from latentspace.names import AUDIT_TESTS, STRATEGIES

# the out-of-distribution variant `--ood auto` picks for a run's task (none: the test is skipped)
OOD_VARIANTS = {"prosqa-sym": "prosqa-sym-relabel"}


def audit(
    model: Annotated[str, typer.Option("--model", "-m", help="A trained run folder (train run RECIPE --out RUN), or "
                                                            "a registry model with --strategy.")],
    strategy: Annotated[str | None, typer.Option(help=f"A training-free strategy ({', '.join(STRATEGIES)}) to "
                                                      "audit on a registry model; a latent one has thoughts to audit.")] = None,
    steps: Annotated[int | None, typer.Option(min=1, max=64, help="Latent steps of --strategy (default: its own).")] = None,
    max_tokens: Annotated[int | None, typer.Option(min=1, max=MAX_NEW_TOKENS, help="Answer budget of --strategy in tokens "
                                                   "(default: its own; the audit answers each item dozens of times).")] = None,
    tests: Annotated[str, typer.Option(help=f"Comma list of {', '.join(AUDIT_TESTS)} "
                                            "(default: all).")] = "all",
    n: Annotated[int, typer.Option(min=1, max=100_000, help="Items to audit.")] = 200,
    task: Annotated[str | None, typer.Option(help="Items from a task or file in the run's layout "
                                                  "(default: the run's test split).")] = None,
    ood: Annotated[str, typer.Option(help="Shortcut check: 'auto' (prosqa-sym -> prosqa-sym-relabel), 'none', "
                                          "or a task of the run's layout.")] = "auto",
    lens: Annotated[Path | None, typer.Option(help="A tuned lens of the model (`lens train --out`): decodability "
                                                   "also reads every layer through it.")] = None,
    probe: Annotated[Path | None, typer.Option(help="A saved probe to read at every thought: one an audit saved "
                                                    "(DIR/probes/thought-T.safetensors) or `probe fit --out`.")] = None,
    strengths: Annotated[str, typer.Option(help="Steering test: comma list of strengths, in multiples of the "
                                                "thoughts' mean norm (each costs two passes per thought).")] = "0.5,1,2,4",
    batch_size: Annotated[int, typer.Option(min=1, max=MAX_BATCH, help="Items answered together (larger is faster on a "
                                                                 "CPU up to ~64 for a 135M model).")] = 64,
    seed: Annotated[int, seed_option("Seed of generated items, noise, shuffles and probe splits.")] = 0,
    out: Annotated[Path | None, typer.Option(help="Write report.json, report.md, PNG curves, index.html and the "
                                                  "probe test's step probes (probes/) here.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Audit a latent reasoner's thoughts: necessity, decodability, probes, interchange, steering, shortcuts.

    Each test gives a number per thought, split by answered-correctly vs not; a test that cannot
    run on this model or task is skipped with its reason and the others still run. With --out the
    report is saved after every test, and a rerun into the same folder keeps the finished ones.
    Bad input is said after the other tests ran, with exit 2: a --probe or --lens of another model, a
    test named in --tests that cannot run here (no intermediate values, no thoughts, no
    out-of-distribution variant), or — with --tests all — no test that can.

    Example: latentspace audit -m runs/table-mnns-laptop-mnns/s0/cot2 --n 200 --out runs/audit-cot2
    """
    from latentspace.audit import TESTS
    from latentspace.audit import audit as run_audit
    from latentspace.audit.pages import write_audit
    from latentspace.audit.saved_probe import save_probes
    from latentspace.train.studies.auditable import TrainedSubject
    from latentspace.train.studies.evaluate_run import run_items

    chosen = list(TESTS) if tests.strip().lower() == "all" else [t.strip() for t in tests.split(",") if t.strip()]
    bad = [t for t in chosen if t not in TESTS]
    if bad or not chosen:
        raise LatentspaceError(f"--tests: unknown test {bad[0] if bad else tests!r}; valid: {', '.join(TESTS)} or all")
    for flag, path in (("--probe", probe), ("--lens", lens)):
        if path is not None and not path.is_file():
            raise LatentspaceError(f"{flag}: no file {path}")
    levels = parse_strengths(strengths)
    run = Path(model)
    if strategy is None and (steps is not None or max_tokens is not None):
        raise LatentspaceError(f"{'--steps' if steps is not None else '--max-tokens'} sets a --strategy's thinking; a "
                               "trained run thinks and answers as it was trained")
    if strategy is None and not (run / "checkpoint" / "state.json").exists():
        raise LatentspaceError(f"{model} is not a trained run folder (no checkpoint/state.json); for a registry "
                               "model name a --strategy")
    if out is not None:  # before any work, and never inside what the audit reads
        from latentspace.tasks import is_task_file

        check_out(out, run if strategy is None else None, (lens, probe, task if task and is_task_file(task) else None))
    if strategy is None:
        subject = TrainedSubject(run, batch_size)
        items = run_items(run, task, n, seed)
        variant = ood_variant(run, ood)
        ood_items = (variant, run_items(run, variant, len(items), seed)) if variant and "ood" in chosen else None
    else:
        subject, items = strategy_subject(model, strategy, steps, task, n, seed, max_tokens, batch_size)
        ood_items = None
        if ood not in ("auto", "none"):
            from latentspace.tasks import get_task

            ood_items = (ood, get_task(ood).generate(len(items), seed=seed))
    if out is not None:  # made once every input has been read: bad input leaves nothing behind
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise LatentspaceError(f"--out: cannot make {out} ({err.strerror})") from None
        files.check_output(out / "report.json", "--out")
    done = earlier_report(out) if out is not None else None
    reader, refused = read_probe(probe, subject) if probe is not None else (None, None)
    tuned, lens_refused = read_lens(lens, subject) if lens is not None else (None, None)
    fitted: dict = {}
    with err_console.status("auditing") as status:
        report = run_audit(subject, items, chosen, ood_items, seed,
                           progress=lambda name: status.update(f"auditing: {name}"), done=done,
                           saved=(lambda r: files.write_text(out / "report.json", jsonsafe.dumps(r.to_dict(), indent=2)
                                                             + "\n", "audit report")) if out is not None else None,
                           reader=reader, fitted=fitted, lens=tuned, strengths=levels)
    if refused:
        report.skipped["saved probe"] = refused
    if lens_refused:
        report.skipped["tuned lens"] = lens_refused
    if out is not None:
        write_audit(report, out)
        if fitted and getattr(subject, "fingerprint", None):
            save_probes(fitted, out / "probes", subject.fingerprint, subject.name)
    try:
        show(report, out, json_out)
    finally:  # after the report: the other tests' results are not lost
        refusal = why_exit_2(report, chosen, named=tests.strip().lower() != "all")
        if refusal:
            raise LatentspaceError(refusal)


WRITTEN = ("report.json", "report.md", "index.html")  # and *.png, and probes/thought-T.safetensors


def check_out(out: Path, run: Path | None, inputs: tuple) -> None:
    """``--out``: a folder (or none yet), outside the run's checkpoint and data, whose files the
    audit writes are none of its --lens, --probe or --task files (a probe DIR/probes/... of an earlier
    audit into the same DIR would be rewritten)."""
    from latentspace.train.run_folder import run_inputs

    if out.exists() and not out.is_dir():
        raise LatentspaceError(f"--out: {out} exists and is not a folder")
    files.check_not_input(out, "--out", (*(run_inputs(run) if run else ()), *inputs))  # made later, parents too
    here = out.resolve()
    for flag, path in zip(("--lens", "--probe", "--task"), inputs):
        if path is None or not Path(path).is_file():
            continue
        source = Path(path).resolve()
        if source.parent == here / "probes" or (source.parent == here and (source.name in WRITTEN
                                                                           or source.suffix == ".png")):
            raise LatentspaceError(f"--out: the audit writes {path} (the {flag} file) in {out}; "
                                   "give another --out or copy the file elsewhere")


def why_exit_2(report, chosen: list[str], named: bool) -> str | None:
    """Bad input, said once the other tests ran: a --probe or --lens that cannot be used, a test named
    in --tests that could not run, or (with --tests all) no test that could."""
    for flag, name in (("--probe", "saved probe"), ("--lens", "tuned lens")):
        if name in report.skipped:
            return f"{flag}: {name} skipped: {report.skipped[name]}"
    skipped = [t for t in chosen if t in report.skipped] if named else ([] if report.results else chosen)
    if not skipped:
        return None
    more = f" (and {', '.join(skipped[1:])})" if len(skipped) > 1 else ""
    return f"--tests: {skipped[0]} skipped: {report.skipped[skipped[0]]}{more}"


def read_probe(path: Path, subject) -> tuple:
    """(probe, meta) loaded for the subject's model, or (None, why it cannot be read)."""
    from latentspace.lens.probes import LinearProbe

    try:
        return LinearProbe.load_with_meta(path, subject.fingerprint), None
    except LatentspaceError as err:
        return None, (str(err).splitlines() or ["unreadable"])[0]


def read_lens(path: Path, subject) -> tuple:
    """(tuned lens, None) loaded for the subject's model, or (None, why it cannot be used)."""
    from types import SimpleNamespace

    from latentspace.lens.tuned_lens import TunedLens

    model, sites = subject.network()
    weight = sites.embed.weight
    target = SimpleNamespace(fingerprint=subject.fingerprint, n_layers=sites.n_layers, hidden_size=weight.shape[-1],
                             device=weight.device, dtype=weight.dtype)
    try:
        return TunedLens.load(path, target), None
    except (LatentspaceError, RuntimeError) as err:  # RuntimeError: tensors of other shapes
        return None, (str(err).splitlines() or ["unreadable"])[0]


def show(report, out: Path | None, json_out: bool) -> None:
    if json_out:
        emit_json(report.to_dict())
        return
    from rich.markdown import Markdown

    console.print(Markdown(report.markdown()))
    if out is not None:
        console.print(f"[dim]report: {literal(out / 'index.html')}[/dim]")


def strategy_subject(model: str, strategy: str, steps: int | None, task: str | None, n: int, seed: int,
                     max_tokens: int | None = None, batch_size: int = 64):
    """A registry model thinking with ``strategy`` on ``task``'s items (checked before the model loads)."""
    from latentspace.audit.strategy_subject import StrategySubject
    from latentspace.strategies import get_strategy
    from latentspace.tasks import get_task, is_task_file

    reasoner = get_strategy(strategy, **({"max_latent_steps": steps} if steps else {}),
                            **({"max_new_tokens": max_tokens} if max_tokens else {}))
    if task is None:
        raise LatentspaceError("--task: name the task a --strategy is audited on (e.g. arithmetic)")
    if is_task_file(task):
        raise LatentspaceError("--task: a --strategy is audited on a built-in task (arithmetic, mnns, ...), not a file")
    spec = get_task(task)
    items = spec.generate(n, seed=seed)
    from latentspace.cli.common import load_model

    return StrategySubject(load_model(model, quiet=True), reasoner, spec, batch_size, seed=seed), items


def parse_strengths(text: str) -> tuple[float, ...]:
    """``--strengths``: finite, non-zero, at most 16 (each is two passes per thought)."""
    import math

    try:
        levels = tuple(float(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise LatentspaceError(f"--strengths: {text[:60]!r} is not a comma list of numbers") from None
    if not levels or len(levels) > 16 or any(not math.isfinite(s) or s == 0 or abs(s) > 1e3 for s in levels):
        raise LatentspaceError("--strengths: give 1 to 16 finite non-zero numbers of magnitude at most 1000 "
                               f"(got {text[:60]!r})")
    return levels


def earlier_report(out: Path):
    """The report an interrupted audit into ``out`` left (None when there is none or it is unreadable)."""
    import json

    from latentspace.audit.report import AuditReport

    path = out / "report.json"
    try:
        return AuditReport.from_dict(json.loads(path.read_text()))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def ood_variant(run: Path, ood: str) -> str | None:
    if ood == "none":
        return None
    if ood != "auto":
        return ood
    from latentspace.train.records import read_spec

    return OOD_VARIANTS.get(read_spec(run / "data" / "spec.json").task)
