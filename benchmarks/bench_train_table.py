"""The headline tables: every training recipe over seeds, beside the papers' numbers (issue 19).

Trains each (seed, recipe) of a profile (finished runs are reused from their folders, so an
interrupted table resumes and a new seed costs only its runs) and writes the table, the issue's
goals and — for symbolic ProsQA — the superposition analysis and the published-layout file check
into docs/results.md, one section per profile.

    .venv/bin/python benchmarks/bench_train_table.py --profile laptop-mnns
    .venv/bin/python benchmarks/bench_train_table.py --profile laptop-prosqa --seeds 0
    .venv/bin/python benchmarks/bench_train_table.py --profile english-small --recipes cot,coconut
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402
from results_md import replace_section  # noqa: E402  (benchmarks/ is on sys.path)

from latentspace.train.profiles import get_profile  # noqa: E402
from latentspace.train.studies.table import goals, latent_goals, markdown, run_folder, run_table  # noqa: E402

ROOT = Path(__file__).resolve().parent


def shown(path: Path) -> str:
    """``path`` relative to the repository when it lies inside it (the command as a reader types it)."""
    path = path.resolve()
    return str(path.relative_to(ROOT.parent)) if path.is_relative_to(ROOT.parent) else str(path)


def look_inside(run: Path, png: Path, n: int = 200) -> str:
    """A Coconut or CoT2 model's thoughts read through the lens: mass on frontier / passed / ahead / unreachable nodes."""
    from latentspace.train.studies.analysis import GROUPS, plot_frontier
    from latentspace.train.studies.inspect_run import inspect_run

    result = inspect_run(run, n)
    plot_frontier(result, png)
    rows = [f"| {i} | " + " | ".join(f"{row[g]:.3f}" for g in GROUPS) + " | "
            + f"{row['frontier'] / max(row['passed'] + row['ahead'], 1e-9):.1f}× |"
            for i, row in enumerate(result.per_thought, 1)]
    return "\n".join([
        f"Look inside {run.name} (the superposition analysis, `latentspace train inspect {shown(run)} --n {n}`): "
        f"lens probability of each continuous thought on graph nodes at the thought's depth (frontier), nearer the root (passed), "
        f"farther (ahead) and unreachable from the root; {result.items} test items. Goal: frontier ≥ 3× the other "
        f"reachable nodes (passed + ahead) at thoughts 1-2. Plot: `{shown(png)}`.", "",
        "| thought | " + " | ".join(GROUPS) + " | frontier ÷ other reachable |",
        "|---|" + "---:|" * (len(GROUPS) + 1), *rows, ""])


def file_check(run: Path, task: str, n: int = 500, seed: int = 12345) -> str:
    """A generated test set written in the published ProsQA JSON layout, read back through the loader
    and converted: it must score exactly as the same items converted in memory."""
    from latentspace.core import files, jsonsafe
    from latentspace.tasks import prosqa_sym
    from latentspace.train.studies.evaluate_run import evaluate_run

    spec = json.loads((run / "data" / "spec.json").read_text())
    hops = prosqa_sym.parse_hops(spec.get("hops"))
    path = run.parent / f"published-layout-test-{seed}.json"
    files.write_text(path, jsonsafe.dumps(prosqa_sym.to_published(prosqa_sym.english(n, seed, hops))))
    from_file = evaluate_run(run, str(path), seed=seed)
    in_memory = evaluate_run(run, task, n=n, seed=seed)
    same = [a["correct"] for a in from_file.rows] == [b["correct"] for b in in_memory.rows]
    return (f"Published-layout file ({n} generated items written as `idx_to_symbol/edges/root/target/neg_target` "
            f"JSON, read back with `latentspace train eval {shown(run)} --task FILE.json --seed {seed}`): "
            f"{100 * from_file.accuracy:.1f}% from the file, {100 * in_memory.accuracy:.1f}% in memory; "
            f"per-item answers {'identical' if same else 'DIFFERENT'}.\n")


def sampling(run: Path, ks=(1, 2, 4, 8, 16)) -> str:
    """CoT2's inference modes on one trained run: the deterministic softmax mix vs the mean embedding of
    K tokens sampled from it (multi-token sampling; K = 1 is sampled discrete CoT through the same model)."""
    from latentspace.train.studies.evaluate_run import evaluate_run

    rows = [("mix (deterministic)", evaluate_run(run))] + [(f"K = {k}", evaluate_run(run, options={"sample_k": k}))
                                                          for k in ks]
    return "\n".join([
        f"CoT2's inference on the same model (`latentspace train eval {shown(run)} --set sample_k=K`, test split, "
        "sampling seeded):", "", "| thought input | accuracy |", "|---|---:|",
        *(f"| {name} | {100 * r.accuracy:.1f}% |" for name, r in rows), ""])


def thought_masses(run: Path, n: int = 400) -> tuple[list[float], list[float], list[float]]:
    """Each of a run's three MNNS thoughts read through the head (for CoT2 the softmax whose mix is fed
    back; for Coconut the lens of the fed-back state): per thought, the mass on the partial sums of every
    sign choice, the mass on the optimal choice's own partial sum, and the tokens above 5%."""
    import torch as t

    from latentspace.model.latent_model import LatentModel
    from latentspace.model.markers import LATENT, START_LATENT
    from latentspace.tasks import load_jsonl
    from latentspace.train.studies.best import model_folder
    from latentspace.train.recipes import get_recipe

    folder = model_folder(run)
    state_file = json.loads((folder / "state.json").read_text())
    recipe = get_recipe(state_file["recipe"], **state_file["options"])
    lm = LatentModel.load(str(folder), show_progress=False)
    latent, vocab = lm.tokenizer.convert_tokens_to_ids(LATENT), lm.tokenizer.get_vocab()
    items = load_jsonl(run / "data" / "test.jsonl")[:n]
    every, gold, values = [[0.0] * 3 for _ in range(3)]
    opening = [vocab[START_LATENT]] if recipe.curriculum().markers else []  # thoughts follow the start marker
    for item in items:
        state = lm.encode(t.tensor([lm.tokenizer.encode(item.question, add_special_tokens=False) + opening]))
        for step in range(3):
            probs = t.softmax(state.logits.float(), -1)[0]
            sums = {trace[step] for trace in item.meta["traces"]}  # every sign choice's partial sum
            every[step] += float(probs[[vocab[v] for v in sums]].sum()) / len(items)
            gold[step] += float(probs[vocab[item.steps[step]]]) / len(items)
            values[step] += int((probs > 0.05).sum()) / len(items)
            state = lm.step(state, recipe.thought_inputs(lm, state, latent))
    return every, gold, values


def partial_sum_mass(run: Path, n: int = 400) -> str:
    """Each CoT2 thought on MNNS read as a distribution: mass on the partial sums of every sign choice
    (the superposition CoT2 is trained to hold) and on the optimal choice's own partial sum."""
    every, gold, values = thought_masses(run, n)
    rows = [f"| {i + 1} | {2 ** (i + 1)} | {every[i]:.3f} | {gold[i]:.3f} | {values[i]:.1f} |" for i in range(3)]
    return "\n".join([f"What CoT2's thoughts hold ({n} test problems, seed-{run.parent.name[1:]} model): "
                      "each thought's softmax over tokens, the mix that is fed back.", "",
                      "| thought | sign prefixes | mass on their partial sums | mass on the optimal one's | "
                      "tokens above 5% |", "|---|---:|---:|---:|---:|", *rows, ""])


def coconut_thoughts(out: Path, rows: list[dict], n: int = 400) -> str:
    """Coconut's thoughts through the lens, seed by seed beside its accuracy: do the runs that work carry
    the partial sums in their thoughts, and the ones that fail not?"""
    lines = [f"What Coconut's thoughts point at ({n} test problems; each fed-back state read through the "
             "head): per thought, the mass on the partial sums of every sign choice / on the optimal choice's.", "",
             "| seed | test accuracy | thought 1 | thought 2 | thought 3 |", "|---:|---:|---|---|---|"]
    for row in sorted((r for r in rows if r["recipe"] == "coconut"), key=lambda r: r["seed"]):
        every, gold, _ = thought_masses(run_folder(out, row["seed"], "coconut"), n)
        cells = " | ".join(f"{every[i]:.2f} / {gold[i]:.2f}" for i in range(3))
        lines.append(f"| {row['seed']} | {100 * row['test_accuracy']:.1f}% | {cells} |")
    return "\n".join([*lines, ""])


HEADLINE = "laptop-mnns"  # the profile whose table the README's first training table shows
NAMES = {"nocot": "No-CoT", "cot": "CoT", "coconut": "Coconut", "cot2": "**CoT2**", "pause": "Pause", "codi": "CODI",
         "icot": "iCoT"}


def headline(rows: list[dict], seeds: list[int], profile) -> str:
    """The README's headline table, from the same rows as docs/results.md (never typed by hand)."""
    from latentspace.train.studies.table import PUBLISHED, accuracy, by_recipe

    published = PUBLISHED.get(profile.name, ({}, ""))[0]
    lines = [f"Seeds {', '.join(map(str, seeds))}, each run tested at its "
             f"{'last epoch' if profile.select == 'last' else 'best validation checkpoint'}"
             f"{' (lr decayed along a cosine)' if profile.lr_schedule == 'cosine' else ''}; the interval is a "
             "bootstrap over digit multisets and seeds (docs/results.md):", "",
             f"| recipe | test accuracy (mean of {len(seeds)} seeds) [95% CI] | per seed | published (CoT2 repo, d=32) "
             "| train min per run |", "|---|---:|---|---:|---:|"]
    for name, runs in by_recipe(rows).items():
        mean, lo, hi = (100 * v for v in accuracy(runs))  # the table's own mean and interval
        shown_mean = f"**{mean:.1f}%**" if name == "cot2" else f"{mean:.1f}%"
        per_seed = ", ".join(f"{100 * r['test_accuracy']:.1f}" for r in runs)
        source = f"{published[name]:.1f}%" if name in published else "·"
        minutes = sum(r["train_seconds"] for r in runs) / len(runs) / 60
        lines.append(f"| {NAMES.get(name, name)} | {shown_mean} [{lo:.1f}, {hi:.1f}] | {per_seed} | {source} | {minutes:.1f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="laptop-mnns")
    parser.add_argument("--recipes", default=None, help="comma list (default: the profile's)")
    parser.add_argument("--seeds", default=None, help="comma list (default: the profile's)")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--quick", action="store_true", help="do not touch docs/results.md")
    parser.add_argument("--schedule", default="two runs at a time, one thread each",
                        help="how the runs shared the machine (stated beside s per epoch)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                        help="runs trained at a time (default: one per core, one thread each)")
    args = parser.parse_args()
    if args.jobs < 1:
        parser.exit(2, "bench_train_table: --jobs must be at least 1\n")
    profile = get_profile(args.profile)
    recipes = args.recipes.split(",") if args.recipes else list(profile.recipes)
    seeds = [int(s) for s in args.seeds.split(",")] if args.seeds else list(profile.seeds)
    out = args.out or ROOT.parent / "runs" / f"table-{profile.task}-{args.profile}"
    rows = run_table(profile.task, profile, out, recipes, seeds, progress=False, jobs=args.jobs)
    hours = sum(r["train_seconds"] for r in rows) / 3600
    model = (f"fine-tuned {profile.model}" if profile.model else
             f"{profile.layers}-layer {profile.hidden}-d {profile.heads}-head {profile.family} from scratch")
    command = (f"`.venv/bin/python benchmarks/bench_train_table.py --profile {args.profile} --recipes "
               f"{','.join(recipes)} --seeds {','.join(map(str, seeds))}` (or `latentspace train table --profile "
               f"{args.profile}`)")
    text = "\n".join([
        f"## Training recipes, profile `{args.profile}` (issue 19)", "",
        f"Task `{profile.task}`{' hops ' + profile.hops if profile.hops else ''}, {profile.n_train} training / "
        f"{profile.n_test} test items, {model}, batch {profile.batch_size}, lr {profile.lr:g}; {profile.note}. "
        f"Seeds {', '.join(map(str, seeds))}: accuracy is the mean over seeds ± their standard deviation; how "
        f"the intervals are drawn and which checkpoint is tested is written under the table. Trained {hours:.2f} h in total on CPU "
        f"({platform.machine()}, {os.cpu_count()} cores; {args.schedule}, so s per epoch is "
        f"comparable within this table only), torch {torch.__version__}, {datetime.date.today().isoformat()}. "
        f"Command: {command}", "",
        markdown(rows, profile.name),
        latent_goals(rows, profile.name) or goals(rows), ""])
    first = seeds[0]
    if "cot2" in recipes:
        text += "\n" + sampling(run_folder(out, first, "cot2")) + "\n"
        if profile.task == "mnns":
            text += "\n" + partial_sum_mass(run_folder(out, first, "cot2")) + "\n"
    if "coconut" in recipes and profile.task == "mnns":
        text += "\n" + coconut_thoughts(out, rows) + "\n"
    if profile.task.startswith("prosqa-sym"):
        for recipe in [r for r in ("coconut", "cot2") if r in recipes]:
            png = out / f"frontier-{recipe}.png" if args.quick else ROOT.parent / "docs" / f"frontier_{args.profile}_{recipe}.png"
            text += "\n" + look_inside(run_folder(out, first, recipe), png) + "\n"
        text += "\n" + file_check(run_folder(out, first, recipes[-1]), profile.task)
    print(text)
    if not args.quick:
        start, end = f"<!-- bench_train_table:{args.profile}:start -->", f"<!-- bench_train_table:{args.profile}:end -->"
        replace_section(f"{start}\n{text}{end}", start, end)
        if args.profile == HEADLINE:
            start, end = f"<!-- headline:{HEADLINE}:start -->", f"<!-- headline:{HEADLINE}:end -->"
            replace_section(f"{start}\n{headline(rows, seeds, profile)}{end}", start, end, ROOT.parent / "README.md")


if __name__ == "__main__":
    main()
