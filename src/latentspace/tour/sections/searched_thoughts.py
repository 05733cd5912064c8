"""Tour: search over the trained model's thoughts — sample N thought paths per question, then pick an answer —
and a few steps of RL on its sampled thoughts (`latentspace train eval RUN --samples N`, `latentspace train rl`)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from latentspace.tour.section import SectionResult

if TYPE_CHECKING:  # the type only: no import at run time
    from latentspace.model.latent_model import LatentModel

SAMPLER = "mts:8"  # eight tokens drawn from each thought's softmax, their embeddings averaged (CoT2's MTS)


def searched_thoughts(lm: LatentModel, out: Path) -> SectionResult:
    from latentspace.model.samplers import parse_sampler
    from latentspace.search import sample_paths, search_report
    from latentspace.tour.sections.trained_thoughts import tour_model
    from latentspace.train.studies.rl import RLConfig, train_rl
    from latentspace.train.studies.evaluate_run import load_run, run_items

    folder, _, _, _ = tour_model(lm, out)  # trained already when the tour ran an earlier section
    small = lm.name.startswith("tiny")
    loaded, sampler = load_run(folder), parse_sampler(SAMPLER)
    items = run_items(folder, None, 40 if small else 300, 0)
    paths = sample_paths(loaded, items, sampler, 16, seed=0)
    report = search_report(paths, (4, 16))
    rows = [{"selector": r["selector"] + (f"@{r['n']}" if r["selector"] != "greedy" else ""),
             "accuracy": f"{100 * r['accuracy']:.1f}%",
             "gain over greedy [95% CI]": "" if "gain" not in r else
             f"{100 * r['gain']:+.1f} [{100 * r['gain_interval'][0]:+.1f}, {100 * r['gain_interval'][1]:+.1f}]"}
            for r in report]
    iterations = 2 if small else 40
    rl = train_rl(folder, out / "mnns-cot2-rl", RLConfig(sampler=SAMPLER, iterations=iterations, lr=1e-5,
                                                         eval_every=iterations, eval_items=50))
    greedy = report[0]["accuracy"]
    best_pass = max(r["accuracy"] for r in report if r["selector"] == "pass")
    text = (f"Sampling each thought ({SAMPLER}: the mean embedding of 8 tokens drawn from its softmax) gives 16 "
            f"different thought paths per question. At least one of them is right on {100 * best_pass:.1f}% of "
            f"{len(items)} held-out problems (pass@16, an oracle's pick), against {100 * greedy:.1f}% for the one "
            "deterministic path; a majority vote does not recover that coverage. "
            f"{iterations} iterations of RL on the sampled thoughts (`latentspace train rl`, group-relative, clipped): "
            f"one sampled path scores {100 * rl['test_sampled_before']:.1f}% → {100 * rl['test_sampled_after']:.1f}%, "
            f"the deterministic one {100 * rl['test_before']:.1f}% → {100 * rl['test_after']:.1f}% "
            f"({rl['test_n']} test problems). A latent reward model (`latentspace train rm fit RUN`) adds best-of-N and "
            "beam search over thought steps (`--select rm,beam`); docs/results.md has the full table.")
    return SectionResult("Searching and reinforcing latent thoughts", text, rows,
                         data={"report": report, "rl": {k: rl[k] for k in ("test_before", "test_after",
                                                                           "test_sampled_before",
                                                                           "test_sampled_after")}})
